"""Continuous decisioning from a stream: :func:`stream_decisions` keeps each customer's state
with Spark Structured Streaming (``applyInPandasWithState`` keyed by ``customer_id``) and emits,
per customer and micro-batch, the persona and the next best action (``pip install
journeymine[spark]``).

The state of a customer is what the live service keeps, bounded: the persona model's
aggregates folded event by event (:class:`~journeymine.service.aggregates.LiveAggregates`, O(1)
per event, equal to ``numpy_aggregates`` bit for bit) and the recent events the policy's gates
read: every event within the policy's longest window before the customer's latest event, plus
the first event (``new_customer`` rules), the latest event of each activity the policy asks
about "ever" (consent ``requires``/``opt_in``/``opt_out``, ``product_from``) and the latest
event with a channel. Persona and probability are scored by
:func:`~journeymine.service.live.score_aggregates` and the action decided by
:class:`~journeymine.service.live.LiveDecider`, the code of the service's
``POST /v1/next-best-action``: the stream's decision equals ``assign`` and
``next_best_action`` on the whole log at the same time (``tests/service/test_streaming.py``).

Events of a customer are folded in time order (ties: order of arrival). An event older than the
latest one already folded (a *late* event, across micro-batches) still counts for the gates when
it is within the kept window, but the aggregates cannot take it without the whole history: it
is left out of them and counted in ``late_events``. Order late data upstream (e.g. a watermark
and a delay) when the persona must include it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from journeymine.actions.policy import Policy
from journeymine.assignment import PersonaModel, load_model, persona_probabilities
from journeymine.exceptions import ConfigError
from journeymine.scale.spark import TIME_US, events_in_micros
from journeymine.schema import (
    ACTIVITY,
    CHANNEL,
    CUSTOMER_ID,
    JOURNEY_ID,
    TIMESTAMP,
    VALUE,
    canonical_log,
)
from journeymine.service.aggregates import LiveAggregates
from journeymine.service.live import (
    LiveDecider,
    _aligned_memberships,
    score_aggregates,
    time_us,
)
from journeymine.service.rates import Responses

__all__ = ["OUTPUT_SCHEMA", "STATE_SCHEMA", "policy_window_s", "stream_decisions"]

#: Spark schema of the result (DDL): one row per customer with new events in a micro-batch.
OUTPUT_SCHEMA = (
    f"{CUSTOMER_ID} string, events long, late_events long, kept_events long, "
    "last_event_us long, persona long, persona_name string, probability double, at string, "
    "action string, channel string, product string, expected_response double, why_not string"
)
#: Spark schema of the per-customer state (DDL): the state as JSON.
STATE_SCHEMA = "state string"
_US = 1_000_000
_FORMAT = 1
# executor-side cache: saved model bytes and card -> loaded model
_MODELS: dict[str, PersonaModel] = {}


def policy_window_s(policy: Policy) -> int:
    """The longest window (seconds) any gate of ``policy`` counts events in: eligibility rules,
    suppressions, minimum gaps, caps and fatigue (0 without a policy's windows).

    Examples
    --------
    >>> policy = Policy.from_dict({"journeys": [{"name": "promo", "channel": "email",
    ...     "activity": "email_sent", "prior_rate": 0.2}],
    ...     "caps": [{"channel": "email", "max": 2, "per": "7D"}]})
    >>> policy_window_s(policy)
    604800
    """
    spans = [0]
    for j in policy.journeys:
        spans += [r.within_s for r in j.eligible if r.kind in ("seen", "not_seen")]
        spans += [s.within_s for s in j.suppress]
        if j.min_gap_s is not None:
            spans.append(j.min_gap_s)
    spans += [c.per_s for c in policy.caps]
    if policy.fatigue_within_s is not None:
        spans.append(policy.fatigue_within_s)
    return int(max(spans))


def _ever_activities(policy: Policy) -> frozenset[str]:
    """Activities the gates ask about without a window (the latest one ever counts)."""
    acts: set[str] = set()
    for c in policy.consent:
        acts.update(c.requires, c.opt_in, c.opt_out)
    for j in policy.journeys:
        if j.product_from is not None:
            acts.add(j.product_from)
    return frozenset(acts)


def _keep(events: list[list[Any]], window_s: int | None, ever: frozenset[str]) -> list[list[Any]]:
    """The events the gates can still read (``[t_us, activity, channel, journey, product]``
    in time order): all within ``window_s`` of the latest, the first, the latest of each
    ``ever`` activity and the latest with a channel (all when ``window_s`` is None)."""
    if window_s is None or not events:
        return events
    cutoff = events[-1][0] // _US - window_s
    n_old = 0
    while n_old < len(events) and events[n_old][0] // _US < cutoff:
        n_old += 1
    if n_old == 0:
        return events
    keep = {0}
    latest: dict[str, int] = {}
    last_channel = -1
    for i in range(n_old):
        if events[i][1] in ever:
            latest[events[i][1]] = i
        if events[i][2] is not None:
            last_channel = i
    keep.update(latest.values())
    if last_channel >= 0:
        keep.add(last_channel)
    return [events[i] for i in sorted(keep)] + events[n_old:]


class _Job:
    """What every executor needs: the model (re-loaded from its bytes once per process), the
    decider and the retention; built lazily on the executor."""

    def __init__(
        self,
        model_bytes: bytes,
        card: str,
        policy: Policy | None,
        responses: Responses | None,
        at_us: int | None,
        product_column: str,
    ) -> None:
        self.model_bytes, self.card = model_bytes, card
        self.policy, self.responses = policy, responses
        self.at_us = at_us
        self.product_column = product_column
        self._model: PersonaModel | None = None
        self._decider: LiveDecider | None = None
        self.window_s = None if policy is None else policy_window_s(policy)
        self.ever = frozenset() if policy is None else _ever_activities(policy)

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_model"] = d["_decider"] = None
        return d

    @property
    def model(self) -> PersonaModel:
        if self._model is None:
            key = hashlib.sha256(self.model_bytes + self.card.encode()).hexdigest()
            got = _MODELS.get(key)
            if got is None:  # the public loader, with every check, once per process
                with tempfile.TemporaryDirectory(prefix="jm-model-") as tmp:
                    path = Path(tmp) / "model.skops"
                    path.write_bytes(self.model_bytes)
                    path.with_suffix(".json").write_text(self.card)
                    got = load_model(path)
                _MODELS[key] = got
            self._model = got
        return self._model

    @property
    def decider(self) -> LiveDecider | None:
        if self._decider is None and self.policy is not None and self.responses is not None:
            self._decider = LiveDecider(self.policy, self.responses, personas=self.model.classes_)
        return self._decider

    def update(self, customer_id: str, pdf: pd.DataFrame, saved: str | None) -> tuple[dict, str]:
        """Fold the customer's new events into the saved state; the output row and the new
        state."""
        model = self.model
        if saved is None:
            agg = LiveAggregates(model.vocab_)
            kept: list[list[Any]] = []
            n_events = n_late = 0
        else:
            d = json.loads(saved)
            agg = LiveAggregates.from_json(model.vocab_, d["agg"])
            kept = [list(e) for e in d["kept"]]
            n_events, n_late = int(d["events"]), int(d["late"])
        t_us = pdf[TIME_US].to_numpy()
        if pd.isna(t_us).any():
            from journeymine.exceptions import EventLogError

            raise EventLogError(
                f"{int(pd.isna(t_us).sum())} events of customer {customer_id!r} have a null or "
                f"unparseable timestamp; clean the timestamp column before streaming."
            )
        order = np.argsort(t_us.astype(np.int64), kind="stable")  # ties: order of arrival
        cols = {c: pdf[c].to_numpy(dtype=object) for c in pdf.columns if c != TIME_US}
        new: list[list[Any]] = []
        for i in order:
            t = int(t_us[i])
            event = {c: _plain(v[i]) for c, v in cols.items()}
            if agg.n and t < agg.last:
                n_late += 1
            else:
                agg.add(event, t)
            new.append(
                [
                    t,
                    str(event[ACTIVITY]),
                    _text(event.get(CHANNEL)),
                    _text(event.get(JOURNEY_ID)),
                    event.get(self.product_column),
                ]
            )
        n_events += len(new)
        merged = sorted(kept + new, key=lambda e: e[0])  # stable: kept (older) first on ties
        kept = _keep(merged, self.window_s, self.ever)
        proba = persona_probabilities(model, agg.row()[None, :])[0]  # scored once
        persona, name, probability = score_aggregates(agg, model, probabilities=proba)
        out: dict[str, Any] = {
            CUSTOMER_ID: customer_id,
            "events": n_events,
            "late_events": n_late,
            "kept_events": len(kept),
            "last_event_us": int(merged[-1][0]),
            "persona": persona,
            "persona_name": name,
            "probability": probability,
            "at": None,
            "action": None,
            "channel": None,
            "product": None,
            "expected_response": None,
            "why_not": None,
        }
        decider = self.decider
        if decider is not None:
            at_us = self.at_us if self.at_us is not None else time.time_ns() // 1000
            events = [
                {
                    ACTIVITY: e[1],
                    CHANNEL: e[2],
                    JOURNEY_ID: e[3],
                    decider.policy.product_column: e[4],
                }
                for e in kept
            ]
            memberships = None
            if decider.per_customer:  # a FeatureUplift: the model's probabilities
                memberships = _aligned_memberships(decider, model, proba)
            got = decider.decide(
                customer_id,
                [e[0] for e in kept],
                events,
                [],
                persona=persona,
                at_us=at_us,
                memberships=memberships,
            )
            out.update(
                at=got["at"],
                action=got["action"],
                channel=got["channel"],
                product=got["product"],
                expected_response=got["expected_response"],
                why_not=json.dumps(got["why_not"]),
            )
        state = json.dumps(
            {
                "format": _FORMAT,
                "agg": agg.to_json(),
                "kept": kept,
                "events": n_events,
                "late": n_late,
            },
            separators=(",", ":"),
        )
        return out, state


def _plain(value: Any) -> Any:
    """A pandas/numpy cell as a plain Python value (None for missing)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _probe(dtypes: dict[str, str]) -> pd.DataFrame:
    """One made-up row with the stream's columns and types, for the schema gate."""
    row: dict[str, Any] = {}
    for name, t in dtypes.items():
        if t.startswith("timestamp"):
            row[name] = pd.Timestamp("2025-01-01T00:00:00Z")
        elif t == "date":
            row[name] = _dt.date(2025, 1, 1)
        elif t == "boolean":
            row[name] = True
        elif t in ("tinyint", "smallint", "int", "bigint"):
            row[name] = 1_735_689_600
        elif t in ("float", "double") or t.startswith("decimal"):
            row[name] = 1.5
        elif t == "string" and name == TIMESTAMP:
            row[name] = "2025-01-01T00:00:00Z"
        elif t == "string":
            row[name] = "x"
        else:
            row[name] = None
    return pd.DataFrame({k: [v] for k, v in row.items()})


def stream_decisions(
    events: Any,
    model: PersonaModel,
    policy: Policy | None = None,
    responses: Responses | None = None,
    *,
    at: Any = None,
    timeout: Any = None,
) -> Any:
    """Persona and next best action of every customer of a stream of events, per micro-batch.

    Parameters
    ----------
    events : pyspark.sql.DataFrame
        A streaming (or batch) DataFrame of events with canonical column names:
        ``customer_id``, ``timestamp`` (timestamp, or ISO 8601 text), ``activity``; optional
        ``channel``, ``journey_id``, ``value`` and the policy's product column. Other columns
        are ignored. Checked first by the schema gate (:func:`journeymine.schema.canonical_log`
        on a row of the stream's types): a missing column or a wrong timestamp type fails here
        with the local path's error.
    model : PersonaModel
        A fitted or loaded model with gap-based sessions (sent to the executors as its skops
        bytes and card, re-loaded there with every check).
    policy : Policy, optional
        With ``responses``: the next best action is decided too.
    responses : ResponseModel, UpliftModel or FeatureUplift, optional
        Fitted for ``policy``'s journeys.
    at : int, str or datetime, optional
        Decision time of every decision: microseconds UTC (int) or anything ``pandas.Timestamp``
        reads (a replay); default the executor's clock when the micro-batch runs (live). It
        must not be before the customer's latest event (the kept events are counted back from
        that one).
    timeout : str, float or timedelta, optional
        A processing-time timeout (seconds, or anything ``pandas.Timedelta`` reads, e.g.
        ``"30D"``): a customer without events for that long is forgotten (their state removed,
        no row emitted). Default: no timeout.

    Returns
    -------
    pyspark.sql.DataFrame
        :data:`OUTPUT_SCHEMA`, output mode ``update``: per micro-batch one row per customer
        with new events: events seen, late events, events kept, persona, name, probability and,
        with a policy, the decision (``at``, ``action``, ``channel``, ``product``,
        ``expected_response``, ``why_not`` as JSON), equal to ``assign`` and
        ``next_best_action`` on the customer's whole history at ``at``.

    Examples
    --------
    >>> import journeymine as jm
    >>> from pyspark.sql import SparkSession  # doctest: +SKIP
    >>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
    >>> stream = (spark.readStream.schema("customer_id string, timestamp timestamp, "
    ...           "activity string, channel string").json("events/"))  # doctest: +SKIP
    >>> model = jm.load_model("personas.skops")  # doctest: +SKIP
    >>> policy = jm.actions.Policy.from_file("policy.yaml")  # doctest: +SKIP
    >>> rates = jm.actions.ResponseModel.load("rates.json")  # doctest: +SKIP
    >>> query = (stream_decisions(stream, model, policy, rates).writeStream
    ...          .outputMode("update").format("console").start())  # doctest: +SKIP
    """
    if not isinstance(model, PersonaModel):
        raise ConfigError(f"model must be a fitted PersonaModel, got {type(model).__name__}.")
    model._fitted()
    if not LiveAggregates.supports(model.vocab_):
        raise ConfigError(
            "the model builds sessions from session_id, which the stream's incremental "
            "aggregates do not fold; fit it with gap-based sessions for streaming."
        )
    if (policy is None) != (responses is None):
        raise ConfigError("give both policy and responses (or neither, for personas only).")
    decider = (
        None if policy is None else LiveDecider(policy, responses, personas=model.classes_)  # type: ignore[arg-type]
    )
    dtypes = dict(events.dtypes)
    canonical_log(_probe(dtypes))  # the schema gate: missing columns, timestamp type
    timeout_ms = None
    if timeout is not None:
        try:
            span = (
                pd.Timedelta(seconds=float(timeout))
                if isinstance(timeout, int | float) and not isinstance(timeout, bool)
                else pd.Timedelta(timeout)
            )
        except (TypeError, ValueError):
            span = pd.NaT
        if span is pd.NaT or not span > pd.Timedelta(0):
            raise ConfigError(
                f"timeout must be a positive duration (seconds or e.g. '30D'), got {timeout!r}."
            )
        timeout_ms = max(1, int(span / pd.Timedelta(milliseconds=1)))
    at_us = None if at is None else time_us(at)
    from pyspark.sql.streaming.state import GroupStateTimeout

    product_column = decider.policy.product_column if decider is not None else "product"
    optional = [c for c in (CHANNEL, JOURNEY_ID, VALUE, product_column) if c in dtypes]
    df = events_in_micros(events, optional)
    with tempfile.TemporaryDirectory(prefix="jm-model-") as tmp:  # the saved model travels
        path = model.save(Path(tmp) / "model.skops")
        data, card = path.read_bytes(), path.with_suffix(".json").read_text()
    job = _Job(data, card, policy, responses, at_us, product_column)
    bc = events.sparkSession.sparkContext.broadcast(job)

    def step(key: tuple[Any, ...], pdfs: Iterator[pd.DataFrame], state: Any) -> Iterator[Any]:
        if state.hasTimedOut:
            state.remove()
            return
        frames = [p for p in pdfs if len(p)]
        if not frames:
            return
        pdf = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        saved = state.get[0] if state.exists else None
        row, new_state = bc.value.update(str(key[0]), pdf, saved)
        state.update((new_state,))
        if timeout_ms is not None:
            state.setTimeoutDuration(timeout_ms)
        yield pd.DataFrame({k: [v] for k, v in row.items()})

    return df.groupBy(CUSTOMER_ID).applyInPandasWithState(
        step,
        outputStructType=OUTPUT_SCHEMA,
        stateStructType=STATE_SCHEMA,
        outputMode="update",
        timeoutConf=(
            GroupStateTimeout.ProcessingTimeTimeout
            if timeout_ms is not None
            else GroupStateTimeout.NoTimeout
        ),
    )
