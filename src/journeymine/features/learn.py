"""What fitting the featurizer learns from a log: the most frequent in-session transitions and
the response priors, with the numpy aggregates' definitions or the DuckDB reference (equal,
tested)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from journeymine.features.aggregates import learn_stats
from journeymine.features.encode import CHUNK_EVENTS, Vocab, customer_slices, encode_log
from journeymine.features.spec import FeatureSpec

__all__ = ["learn", "learn_numpy", "priors"]


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
