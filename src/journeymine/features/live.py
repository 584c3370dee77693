"""Features for live scoring: no window, and ``as_of`` = each customer's last event.

A live customer's score must depend only on the events sent, never on the wall clock, so the
assignment model (training, :func:`~journeymine.assignment.assign`, ``assign_many``, Spark and
the service) computes its features with :func:`live_spec` and :func:`score_rows`: the
absolute-time aggregates are shifted so that the last event is time 0 (the *as-of shift*),
then :func:`~journeymine.features.derive.features_from_aggregates` runs with ``as_of_us = 0``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from journeymine.features.aggregates import numpy_aggregates
from journeymine.features.derive import features_from_aggregates
from journeymine.features.encode import (
    CHUNK_EVENTS,
    Vocab,
    canonical_log,
    coded_customer_slices,
    encode_log,
)
from journeymine.features.spec import FeatureSpec
from journeymine.schema import CUSTOMER_ID

__all__ = ["TIME_AGGREGATES", "as_of_last_event", "live_spec", "score_log", "score_rows"]

#: Aggregates holding absolute times; they are shifted so that ``as_of`` = the last event.
TIME_AGGREGATES = ("first_us", "last_us", "last_session_us", "last_organic_us")


def live_spec(spec: FeatureSpec) -> FeatureSpec:
    """The featurizer's spec without a window and with ``as_of_us = 0`` (see
    :func:`as_of_last_event`).

    Examples
    --------
    >>> spec = FeatureSpec(activities=("view",), channels=(), as_of_us=5, start_us=1)
    >>> live = live_spec(spec)
    >>> live.as_of_us, live.start_us, live.end_us
    (0, None, None)
    """
    return dataclasses.replace(spec, start_us=None, end_us=None, as_of_us=0)


def as_of_last_event(agg: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Shift the absolute-time aggregates so that features with ``spec.as_of_us == 0`` are the
    features as of each customer's last event (exact: all values are integers < 2**53).

    Parameters
    ----------
    agg : ndarray of int64, shape (n, len(spec.aggregate_names))
    spec : FeatureSpec

    Returns
    -------
    ndarray of int64
        A shifted copy; ``agg`` is unchanged.
    """
    names = spec.aggregate_names
    out = agg.copy()
    last = agg[:, names.index("last_us")].copy()
    for name in TIME_AGGREGATES:
        if name in names:
            out[:, names.index(name)] -= last
    return out


def score_rows(agg: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """The features a live model scores: each row's aggregates as of its last event.

    The one step from aggregates to scoring features, shared by training on prefixes,
    :func:`~journeymine.assignment.assign`, ``assign_many`` and the service.

    Parameters
    ----------
    agg : ndarray of int64, shape (n, len(spec.aggregate_names))
        Aggregates (:func:`~journeymine.features.aggregates.numpy_aggregates` or the DuckDB
        reference).
    spec : FeatureSpec
        A :func:`live_spec` (``as_of_us = 0``, no window).

    Returns
    -------
    ndarray of float64, shape (n, len(spec.feature_names))

    Examples
    --------
    >>> spec = live_spec(FeatureSpec(activities=("view",), channels=("web",), as_of_us=0))
    >>> agg = np.zeros((2, len(spec.aggregate_names)), dtype=np.int64)
    >>> score_rows(agg, spec).shape == (2, len(spec.feature_names))
    True
    """
    return features_from_aggregates(as_of_last_event(agg, spec), spec)


def score_log(
    log: pd.DataFrame, vocab: Vocab, *, what: str, chunk_events: int = 0
) -> tuple[pd.Index, np.ndarray, np.ndarray, list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Scoring features of every customer of a log, in numpy (:func:`score_rows` per slice).

    Parameters
    ----------
    log : DataFrame
        Canonical event log (any row order); every event counts.
    vocab : Vocab
        ``Vocab.of(live_spec(...))``, the model's lookups.
    what : str
        The caller, named in errors.
    chunk_events : int, optional
        Events per slice of whole customers (default :data:`CHUNK_EVENTS`).

    Returns
    -------
    customers : Index
        Sorted customer ids.
    X : ndarray of float64
        Features, one row per customer.
    n_events : ndarray of int64
        Events per customer.
    unknown_activities, unknown_channels : list of tuple of str
        Names outside the vocabulary, per customer.
    """
    log = canonical_log(log, what=what)
    spec = vocab.spec
    parts = []
    # slices of whole customers, features computed per slice: the arrays stay small enough
    # to be reused from the heap (a single pass over 200k customers is ~30 % slower here)
    for frame, codes in coded_customer_slices(log, chunk_events or CHUNK_EVENTS):
        customers, ev, unk_a, unk_c = encode_log(frame, vocab, what=what, customer_codes=codes)
        agg = numpy_aggregates(ev, spec, plan=vocab.plan)
        parts.append((customers, score_rows(agg, spec), agg[:, 0].copy(), unk_a, unk_c))
    if len(parts) == 1:
        return parts[0]
    return (
        pd.Index(np.concatenate([p[0].to_numpy() for p in parts]), name=CUSTOMER_ID, dtype="str"),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        [u for p in parts for u in p[3]],
        [u for p in parts for u in p[4]],
    )
