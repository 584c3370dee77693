"""What fitting the featurizer learns from a log: the most frequent in-session transitions and
the response priors, with the numpy aggregates' definitions or the DuckDB reference (equal,
tested)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from journeymine.features.aggregates import learn_stats
from journeymine.features.encode import (
    CHUNK_EVENTS,
    Vocab,
    customer_slices,
    encode_log,
    timestamps_us,
)
from journeymine.features.spec import FeatureSpec

__all__ = [
    "TOUCHES_BY_NAME",
    "infer_touch_activities",
    "journey_activity_codes",
    "learn",
    "learn_numpy",
    "priors",
]


#: Share of its (customer, journey) pairs a journey activity must open to be a touch.
MIN_FIRST_SHARE = 0.1
#: The reason :func:`infer_touch_activities` gives when the touches come from their names.
TOUCHES_BY_NAME = "activities whose name ends in 'sent'"


def learn(
    log: pd.DataFrame,
    spec: FeatureSpec,
    n_transitions: int,
    *,
    engine: Literal["numpy", "duckdb"] = "numpy",
    threads: int | None = None,
) -> tuple[tuple[tuple[str, str], ...], float, tuple[float, ...]]:
    """The ``n_transitions`` most frequent in-session transitions (ties by activity order),
    the overall response rate and the rate per journey of ``spec.journeys``.

    Parameters
    ----------
    log : DataFrame
        Canonical log, already cut to the featurizer's window.
    spec : FeatureSpec
        The spec learnt so far (vocabulary, roles, session rule, response window).
    n_transitions : int
        How many transitions to keep.
    engine : {"numpy", "duckdb"}, default "numpy"
        The numpy definitions or the DuckDB reference (equal results).
    threads : int, optional
        DuckDB threads (``engine="duckdb"`` only).

    Returns
    -------
    transitions : tuple of (str, str)
    response_prior : float
    journey_response_prior : tuple of float

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> from journeymine.features import FeatureSpec
    >>> from journeymine.features.learn import learn
    >>> log = jm.validate(pd.DataFrame({"customer_id": ["a"] * 4, "activity": ["view", "cart"] * 2,
    ...     "timestamp": pd.date_range("2025-01-01 10:00", periods=4, freq="min", tz="UTC")}))
    >>> learn(log, FeatureSpec(activities=("cart", "view"), channels=(), as_of_us=0), 1)
    ((('view', 'cart'),), 0.0, ())
    """
    if engine == "numpy":
        return learn_numpy(log, spec, int(n_transitions))
    from journeymine.features.reference import duckdb_learn

    transitions, rows = duckdb_learn(log, spec, int(n_transitions), threads)
    prior, jprior = priors(len(spec.journeys), rows)
    return transitions, prior, jprior


def priors(n_journeys: int, touches: list[tuple[int, int, int]]) -> tuple[float, tuple[float, ...]]:
    """Overall and per-journey response rates from (journey code, touches, responded) rows
    (journey code -1 = a touch outside the vocabulary: counted in the overall rate only)."""
    n_all = sum(n for _, n, _ in touches)
    r_all = sum(r for _, _, r in touches)
    prior = float(r_all / n_all) if n_all else 0.0
    by_j = {int(j): (n, r) for j, n, r in touches}
    jprior = tuple(
        float(by_j[k][1] / by_j[k][0]) if k in by_j and by_j[k][0] else prior
        for k in range(n_journeys)
    )
    return prior, jprior


def learn_numpy(
    log: pd.DataFrame, spec: FeatureSpec, n_transitions: int, chunk_events: int = CHUNK_EVENTS
) -> tuple[tuple[tuple[str, str], ...], float, tuple[float, ...]]:
    """:func:`learn` with the numpy aggregates' definitions (equal to the
    DuckDB queries, tested): the ``n_transitions`` most frequent in-session pairs (ties by
    activity order) and the response priors."""
    vocab = Vocab.of(spec)
    counts = np.zeros((len(spec.activities),) * 2, dtype=np.int64)
    journeys: list[np.ndarray] = []
    responded: list[np.ndarray] = []
    for frame in customer_slices(log, chunk_events):
        _, ev, _, _ = encode_log(frame, vocab, what="CustomerFeaturizer.fit", unknown_names=False)
        c, j, r = learn_stats(ev, spec, vocab.plan)
        counts += c
        journeys.append(j)
        responded.append(r)
    prev, nxt = np.nonzero(counts)
    n = counts[prev, nxt]
    top = np.lexsort((nxt, prev, -n))[:n_transitions]
    transitions = tuple((spec.activities[prev[i]], spec.activities[nxt[i]]) for i in top)
    jv = np.concatenate(journeys) if journeys else np.zeros(0, dtype=np.int64)
    resp = np.concatenate(responded) if responded else np.zeros(0, dtype=bool)
    rows = []
    for code in np.unique(jv):
        sel = jv == code
        rows.append((int(code), int(sel.sum()), int(resp[sel].sum())))
    prior, jprior = priors(len(spec.journeys), rows)
    return transitions, prior, jprior


def journey_activity_codes(
    log: pd.DataFrame, share: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The events' activity codes, the activity labels, events per activity and which
    activities are *journey activities*: more than ``share`` of their events carry a
    ``journey_id`` (touches and the reactions to them; none without that column).

    Examples
    --------
    >>> log = pd.DataFrame({"activity": ["click", "click", "buy"],
    ...                     "journey_id": ["j1", None, None]})
    >>> codes, labels, n, journey = journey_activity_codes(log, share=0.4)
    >>> labels[journey].tolist(), n.tolist()
    (['click'], [2, 1])
    """
    from journeymine.schema import ACTIVITY, JOURNEY_ID

    codes, uniques = pd.factorize(log[ACTIVITY], sort=False)
    labels = np.asarray([str(a) for a in uniques], dtype=object)
    n_events = np.bincount(codes, minlength=len(labels))
    if JOURNEY_ID not in log.columns:
        return codes, labels, n_events, np.zeros(len(labels), dtype=bool)
    tagged = log[JOURNEY_ID].notna().to_numpy()
    n_tagged = np.bincount(codes[tagged], minlength=len(labels))
    return codes, labels, n_events, n_tagged > share * n_events


def infer_touch_activities(
    log: pd.DataFrame, activities: tuple[str, ...] | None = None, *, share: float = 0.5
) -> tuple[tuple[str, ...], str]:
    """The log's outbound touches (sent messages) and how they were found.

    By name when the log has activities whose name ends in ``sent`` (``email_sent``); else
    from the order of the journey events: among the activities of which more than ``share`` of
    the events carry a ``journey_id``, the touches are those that open at least
    ``MIN_FIRST_SHARE`` (a tenth) of the (customer, journey) pairs they occur in. A reaction
    (``coupon_redeemed``, ``email_click``) follows its touch, so it opens a pair only when the
    touch fell outside the log; two touches of one journey on different channels each open
    their share. With fewer than two journey activities nothing can be told apart and no
    activity is a touch.

    Parameters
    ----------
    log : DataFrame
        Canonical event log.
    activities : tuple of str, optional
        The activities to choose from (default: the log's).
    share : float, default 0.5
        Share of an activity's events with a ``journey_id`` that makes it a journey activity.

    Returns
    -------
    (tuple of str, str)
        The touch activities (sorted) and the rule that found them, for the log line.

    Examples
    --------
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-04",
    ...                                  "2024-01-02", "2024-01-05"], utc=True),
    ...     "activity": ["campaign_mailed", "coupon_redeemed", "basket", "campaign_mailed",
    ...                  "coupon_redeemed"],
    ...     "journey_id": ["C1", "C1", None, "C2", "C2"]})
    >>> infer_touch_activities(log)
    (('campaign_mailed',), 'the journey activities that open their journeys')
    """
    from journeymine.schema import ACTIVITY, CUSTOMER_ID, JOURNEY_ID

    names = activities
    if names is None:
        col = log[ACTIVITY]
        values = col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else col.unique()
        names = tuple(str(a) for a in values)
    by_name = tuple(sorted(a for a in set(names) if a.lower().endswith("sent")))
    if by_name or JOURNEY_ID not in log.columns or len(log) == 0:
        return by_name, TOUCHES_BY_NAME
    codes, labels, n_events, journey_act = journey_activity_codes(log, share)
    tagged = log[JOURNEY_ID].notna().to_numpy()
    journey_act &= np.isin(labels, list(set(names)))
    if int(journey_act.sum()) < 2:
        return (), "no activity ends in 'sent' and fewer than two activities carry a journey_id"
    if bool(journey_act[n_events > 0].all()):
        # journey_id on (nearly) every activity tags the whole journey, as a case id would:
        # the first steps of each case are no outbound touches
        return (), "no activity ends in 'sent' and every activity carries a journey_id"
    keep = np.flatnonzero(tagged & journey_act[codes])
    cust = pd.factorize(log[CUSTOMER_ID].to_numpy()[keep])[0]
    journey = pd.factorize(log[JOURNEY_ID].to_numpy()[keep])[0]
    t = timestamps_us(log)[keep]
    act = codes[keep]
    order = np.lexsort((t, journey, cust))
    pair = (cust.astype(np.int64) * (int(journey.max()) + 1) + journey)[order]
    act = act[order]
    opens = np.r_[True, pair[1:] != pair[:-1]]
    n_open = np.bincount(act[opens], minlength=len(labels))
    triples = np.unique(pair * len(labels) + act)
    n_pairs = np.bincount(triples % len(labels), minlength=len(labels))
    touch = journey_act & (n_open >= MIN_FIRST_SHARE * np.maximum(n_pairs, 1))
    touches = tuple(sorted(str(a) for a in labels[touch]))
    if not touches or bool(touch[journey_act].all()):
        return (), "no activity ends in 'sent' and no journey activity follows another"
    return touches, "the journey activities that open their journeys"
