"""Scoring a fitted :class:`~journeymine.NextStepModel` (one job: features in, answers out).

Never calls scikit-learn: every head's compiled forest is walked by
:class:`~journeymine.nextstep._forest.Ensemble`, the classifiers' raw scores are calibrated and
the next activity is blended with the count model. :func:`best` is the one computation behind
``predict`` and ``predict_customer``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import EventLogError
from journeymine.nextstep._blend import blend_by_bucket, context_bucket
from journeymine.nextstep._events import Events, events_from_records, to_events
from journeymine.nextstep._forest import Ensemble, Forest, finish
from journeymine.schema import CUSTOMER_ID

__all__ = ["best", "customer_events", "frame", "outputs", "prepare"]


def _take(arr: Any, idx: np.ndarray) -> Any:
    """``arr.take(idx)``; one row by slicing (a take on a pyarrow array costs tens of us)."""
    if len(idx) == 1:
        i = int(idx[0])
        return arr[i : i + 1]
    return arr.take(idx)


def _ensemble(model: Any) -> Ensemble:
    """Every head's forest, walked together (built once per fitted model)."""
    ens = model.__dict__.get("_ensemble_")
    if ens is None or ens.heads is not model.heads_:
        forests = {k: f for k, f in model.heads_.items() if isinstance(f, Forest)}
        ens = Ensemble(forests)
        ens.heads = model.heads_
        model.__dict__["_ensemble_"] = ens
    return ens


def prepare(model: Any) -> None:
    """Build the scoring tables of a fitted ``model`` now (the forests walked together and the
    one-row path), so that the first prediction does not pay for them (about a second on a
    1M-event model): called at the end of ``fit`` and by the loader."""
    ens = _ensemble(model)
    if len(ens.roots):
        ens.row_scorer()


def outputs(model: Any, X: np.ndarray, heads: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Calibrated probabilities (classifiers; columns: class codes) or expected values."""
    raw = _ensemble(model).raw(X, only=heads)
    out: dict[str, np.ndarray] = {}
    sizes = {"activity": model.n_classes_, "channel": len(model.channels_), "outcome": 2}
    for head in heads:
        h = model.heads_.get(head)
        if h is None:
            continue
        if head == "time":
            out[head] = np.zeros(len(X)) if isinstance(h, int) else finish(h.kind, raw[head])
            continue
        p = np.zeros((len(X), sizes[head]))
        if isinstance(h, int):
            p[:, h] = 1.0
        else:
            p[:, h.classes] = finish(h.kind, raw[head], model.temperatures_[head])
        ngram = model.__dict__.get("ngram_")
        if head == "activity" and ngram is not None:
            lags = X[:, : model.spec_.n_lags]
            p = blend_by_bucket(p, ngram.proba(lags), model.tree_weights_, context_bucket(lags))
        out[head] = p
    return out


def _label_array(model: Any, attr: str) -> Any:
    """The labels of ``attr`` (classes_ or channels_) as the array a DataFrame column of them
    gets (dtype inferred as pandas does), built once per label list."""
    labels = getattr(model, attr)
    cache = model.__dict__.setdefault("_label_arrays_", {})
    hit = cache.get(attr)
    if hit is None or hit[0] is not labels or hit[1] != labels:
        arr = pd.Series(np.asarray(labels, dtype=object)).array
        hit = cache[attr] = (labels, list(labels), arr)
    return hit[2]


def best(model: Any, X: np.ndarray) -> dict[str, Any]:
    """The columns of ``predict`` (label columns as codes ``*_code``), one entry per row of
    ``X``."""
    res = outputs(model, X, ("activity", "channel", "time", "outcome"))
    p = res["activity"]
    top = p.argmax(axis=1)
    cols: dict[str, Any] = {"activity_code": top, "probability": p[np.arange(len(p)), top]}
    if model.channels_ and "channel" in res:
        pc = res["channel"]
        bc = pc.argmax(axis=1)
        cols["channel_code"] = bc
        cols["channel_probability"] = pc[np.arange(len(pc)), bc]
    if "time" in res:
        cols["seconds_to_next"] = res["time"]
    if model.outcome is not None and "outcome" in res:
        cols["p_outcome"] = res["outcome"][:, 1]
    return cols


def frame(model: Any, X: np.ndarray, index: Any = None) -> pd.DataFrame:
    """:func:`best` as the DataFrame of ``predict`` (labels, not codes)."""
    cols: dict[str, Any] = {}
    for name, v in best(model, X).items():
        if name == "activity_code":
            cols["activity"] = _take(_label_array(model, "classes_"), v)
        elif name == "channel_code":
            cols["channel"] = _take(_label_array(model, "channels_"), v)
        else:
            cols[name] = v
    return pd.DataFrame(cols, index=index)


def customer_events(model: Any, events: Any, customer_id: Any, purpose: str) -> tuple[Events, Any]:
    """ONE customer's events (a DataFrame, a list of dicts or a dict of columns) encoded, and
    the customer's id (None when neither the events nor ``customer_id`` name one)."""
    keep = {*model.spec_.categorical, *model.spec_.numeric}
    if not isinstance(events, pd.DataFrame):
        ev = events_from_records(
            events,
            numeric=model.spec_.numeric,
            categorical=list(model.spec_.categorical),
            customer_id=customer_id,
            purpose=purpose,
        )
        return ev, ev.case_ids[0]
    data = events
    if CUSTOMER_ID not in data.columns:
        data = data.assign(**{CUSTOMER_ID: "" if customer_id is None else customer_id})
    ev = to_events(data, purpose=purpose, keep=keep)
    if ev.n_cases != 1:
        raise EventLogError(
            f"{purpose} scores one customer; the DataFrame has {ev.n_cases} "
            f"({list(ev.case_ids[:5])}); use predict(log) for many."
        )
    named = None if CUSTOMER_ID not in events.columns else ev.case_ids[0]
    if customer_id is not None and named is not None and str(customer_id) != named:
        raise EventLogError(
            f"{purpose}: customer_id={customer_id!r} but the events are of {named!r}."
        )
    return ev, (named if named is not None else customer_id)
