"""The feature core: per-customer features in two exact steps, integer *aggregates*, then
*features*, shared by :mod:`journeymine.personas` (batch featurization, mining) and
:mod:`journeymine.assignment` (live scoring).

- :mod:`~journeymine.features.spec`: :class:`FeatureSpec`, what a featurizer learned, with the
  names of the aggregates and features it implies;
- :mod:`~journeymine.features.encode`: a canonical log as integer-coded arrays (:class:`Vocab`,
  :func:`encode_log`, slices of whole customers);
- :mod:`~journeymine.features.aggregates`: the aggregates in plain numpy, one customer or many;
- :mod:`~journeymine.features.reference`: the same aggregates as one DuckDB query (the readable
  reference);
- :mod:`~journeymine.features.compute`: :func:`compute_aggregates`, either engine;
- :mod:`~journeymine.features.learn`: what fitting learns (top transitions, response priors);
- :mod:`~journeymine.features.derive`: :func:`features_from_aggregates`, the one numpy step;
- :mod:`~journeymine.features.live`: the as-of shift and :func:`score_rows`, the features a
  live model scores.

:class:`~journeymine.personas.CustomerFeaturizer` (in :mod:`journeymine.personas`) learns the
spec from a log. Importing this package loads neither DuckDB nor any clustering code.

The work is split in two so that a single-customer path (live assignment, plain numpy) can
reproduce the batch result bit for bit:

(a) :func:`compute_aggregates` computes per-customer **integer** counts and sums (``int64``),
    listed below and in ``spec.aggregate_names``, with vectorised numpy (the default engine,
    also used by live assignment) or as one DuckDB SQL query (the readable reference; the two
    are checked equal bit for bit);
(b) :func:`features_from_aggregates` turns those integers into features (shares, logs, rates)
    with plain numpy. It is shared by every path, so equal aggregates give equal features.

Aggregate definitions
---------------------
Input handling (identical for every implementation):

- Only events with ``start_us <= t < end_us`` count (``spec.start_us``/``spec.end_us``; ``None``
  means unbounded). ``t`` is the timestamp as integer microseconds since 1970-01-01 UTC.
- A customer's events are ordered by ``(t, position in the input)``: ties keep input order.
- Activities, channels and journeys are mapped to the vocabulary in ``spec``; names outside it
  count as ``__other__``. A missing ``channel`` column counts every event as channel
  ``__other__``; a null ``journey_id`` means "no journey".
- *Touches* are events whose activity is in ``spec.touch_activities`` (outbound messages such as
  ``email_sent``). All other events are *session events*.
- *Responses* are session events with a non-null ``journey_id``.
- *Sessions* are built from session events only. If ``spec.use_session_id``, a session is the
  set of a customer's events sharing a ``session_id`` (an event with a null ``session_id`` is a
  session of its own). Otherwise a new session starts at a customer's first session event and
  whenever the time since the previous session event is **greater than** ``spec.session_gap_us``.
  Sessions are ordered by their first event (in the event order above).
- ``cents(v) = floor(v * 100 + 0.5)`` in IEEE double precision, then cast to int64.
- ``hour(t) = ((t mod D) + D) mod D // H`` and ``weekday(t) = (floor(t / D) + 3) mod 7``
  (Monday = 0), with ``D`` a day and ``H`` an hour in microseconds (UTC).

Aggregates, in the order of ``spec.aggregate_names``:

=============================== ===============================================================
``n_events``                    events in the window
``act:<a>``, ``act:__other__``  events per activity
``ch:<c>``, ``ch:__other__``    events per channel
``sch:<c>``, ``sch:__other__``  session events per channel
``n_touches``                   touches
``n_responded``                 touches followed by a response of the same customer and the
                                same ``journey_id`` with ``t_touch <= t_response <= t_touch +
                                spec.response_window_us`` (a touch counts once)
``touch:<j>``, ``resp:<j>``     the same two counts per journey in ``spec.journeys``
``n_session_events``            session events
``n_sessions``                  sessions
``n_single_event_sessions``     sessions with exactly one event
``session_us``                  sum over sessions of (last ``t`` - first ``t``)
``sessions_browse``             sessions with an event in ``spec.browse_activities``
``sessions_browse_purchase``    ... that also have an event in ``spec.purchase_activities``
``sessions_cart``               sessions with an event in ``spec.cart_activities``
``sessions_cart_no_purchase``   ... without any purchase event
``sessions_purchase``           sessions with a purchase event
``n_organic_sessions``          sessions without a response event (self-initiated, not
                                triggered by a touch)
``osch:<c>``, ``osch:__other__`` organic sessions per session channel (channel of the last
                                event, as for switches)
``last_organic_us``             last ``t`` of an event in an organic session (0 when none)
``organic_t_rel_s``             sum over organic sessions of ``floor((t0 - first_us) / 10**6)``
                                with ``t0`` the session's first ``t``
``session_channel_switches``    consecutive sessions whose channels differ; the channel of a
                                session is the channel of its last event
``n_transitions``               pairs of consecutive events inside one session
``tr:<a>><b>``                  such pairs ``a -> b``, for each pair in ``spec.transitions``
``hour:<hh>``                   session events per UTC hour 00..23
``wday:<d>``                    session events per weekday 0..6 (Monday = 0)
``n_active_days``               distinct UTC days (``floor(t / D)``) with a session event
``value_cents``                 sum of ``cents(value)`` over events in
                                ``spec.purchase_activities`` with a non-null, non-NaN value
``n_valued_purchases``          the number of those events
``first_us``, ``last_us``       first and last ``t`` (any event)
``last_session_us``             last ``t`` of a session event (0 when there is none)
``session_t_rel_s``             sum over session events of ``floor((t - first_us) / 10**6)``
                                (whole seconds since the customer's first event)
=============================== ===============================================================

Only customers with at least one event in the window get a row.

Examples
--------
The batch path (:func:`compute_aggregates`), the same steps by hand (encode, numpy aggregates)
and the live path (:func:`score_rows` on a :func:`live_spec`) share the aggregates and the one
feature step:

>>> import numpy as np
>>> from journeymine.datasets import make_journeys
>>> from journeymine.personas import CustomerFeaturizer
>>> log = make_journeys(n_customers=100, days=30, random_state=0).events
>>> spec = CustomerFeaturizer().fit(log).spec_
>>> ids, agg = compute_aggregates(log, spec)
>>> vocab = Vocab.of(spec)
>>> ids2, events, _, _ = encode_log(log, vocab, what="example")
>>> isinstance(events, Encoded), isinstance(vocab.plan, AggPlan)  # integer codes, spec lookups
(True, True)
>>> bool((numpy_aggregates(events, spec, plan=vocab.plan) == agg).all())
True
>>> transitions, _, _ = learn_stats(events, spec, vocab.plan)  # what fitting counts
>>> transitions.shape == (len(spec.activities), len(spec.activities))
True
>>> X = features_from_aggregates(agg, spec)
>>> X.shape == (len(ids), len(spec.feature_names)), bool(np.isfinite(X).all())
(True, True)
>>> live = live_spec(spec)
>>> score_rows(compute_aggregates(log, live)[1], live).shape[1] == X.shape[1]
True

Large logs go in slices of whole customers (:func:`aggregate_log`, :func:`score_log`); the
live aggregates are shifted to each customer's last event (:func:`as_of_last_event`):

>>> ids3, agg3, _, _ = aggregate_log(log, vocab, what="example", chunk_events=500)
>>> bool((agg3 == agg).all())
True
>>> _, X_live, n_events, _, _ = score_log(log, Vocab.of(live), what="example")
>>> X_live.shape == (len(ids), X.shape[1]), int(n_events.sum()) == len(log)
(True, True)
>>> as_of_last_event(compute_aggregates(log, live)[1], live).shape == agg.shape
True
"""

from journeymine.features.aggregates import AggPlan, Encoded, cents, learn_stats, numpy_aggregates
from journeymine.features.compute import compute_aggregates
from journeymine.features.derive import features_from_aggregates, pooled_rates
from journeymine.features.encode import (
    CHUNK_EVENTS,
    MAX_ABS_VALUE,
    Vocab,
    aggregate_log,
    canonical_log,
    coded_customer_slices,
    customer_slices,
    encode_log,
    require_session_id,
    timestamps_us,
)
from journeymine.features.learn import learn
from journeymine.features.live import (
    TIME_AGGREGATES,
    as_of_last_event,
    live_spec,
    score_log,
    score_rows,
)
from journeymine.features.spec import (
    HOUR_BUCKETS,
    OTHER,
    SPEC_VERSION,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SECOND,
    FeatureSpec,
)

__all__ = [
    "CHUNK_EVENTS",
    "HOUR_BUCKETS",
    "MAX_ABS_VALUE",
    "OTHER",
    "SPEC_VERSION",
    "TIME_AGGREGATES",
    "US_PER_DAY",
    "US_PER_HOUR",
    "US_PER_SECOND",
    "AggPlan",
    "Encoded",
    "FeatureSpec",
    "Vocab",
    "aggregate_log",
    "as_of_last_event",
    "canonical_log",
    "cents",
    "coded_customer_slices",
    "compute_aggregates",
    "customer_slices",
    "encode_log",
    "features_from_aggregates",
    "learn",
    "learn_stats",
    "live_spec",
    "numpy_aggregates",
    "pooled_rates",
    "require_session_id",
    "score_log",
    "score_rows",
    "timestamps_us",
]
