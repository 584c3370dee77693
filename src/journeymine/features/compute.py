"""The one entry to the aggregates of a log: :func:`compute_aggregates` (numpy or DuckDB)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError, EmptyLogError
from journeymine.features.encode import Vocab, aggregate_log, canonical_log, require_session_id
from journeymine.features.reference import duckdb_aggregates
from journeymine.features.spec import FeatureSpec
from journeymine.schema import TIMESTAMP

__all__ = ["compute_aggregates", "fmt_us"]


def compute_aggregates(
    log: pd.DataFrame,
    spec: FeatureSpec,
    *,
    engine: Literal["numpy", "duckdb"] = "numpy",
    threads: int | None = None,
) -> tuple[pd.Index, np.ndarray]:
    """Per-customer integer aggregates of ``log`` under ``spec``.

    Parameters
    ----------
    log : DataFrame
        A canonical event log (any row order).
    spec : FeatureSpec
        From :meth:`CustomerFeaturizer.fit`.
    engine : {"numpy", "duckdb"}, default "numpy"
        ``"numpy"``: vectorised numpy (sorts, ``bincount``, ``reduceat``), the fast path, also
        used by live assignment. ``"duckdb"``: the same definitions as one SQL query (window
        functions), kept as the readable reference (a warehouse port starts from it) and
        checked equal to the numpy engine, bit for bit, in the tests.
    threads : int, optional
        DuckDB threads (default: all cores); only for ``engine="duckdb"``.

    Returns
    -------
    customers : Index
        Sorted customer ids with at least one event in the window.
    aggregates : ndarray of int64, shape (len(customers), len(spec.aggregate_names))

    Raises
    ------
    EmptyLogError
        No event falls inside the window.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"customer_id": ["b", "a", "a"], "activity": ["x", "x", "y"],
    ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:00",
    ...                                  "2025-01-01 10:05"], utc=True)})
    >>> from journeymine.personas import CustomerFeaturizer
    >>> spec = CustomerFeaturizer().fit(log).spec_
    >>> ids, agg = compute_aggregates(log, spec)
    >>> list(ids), agg[:, spec.aggregate_names.index("n_events")].tolist()
    (['a', 'b'], [2, 1])
    >>> bool((compute_aggregates(log, spec, engine="duckdb")[1] == agg).all())
    True
    """
    if engine not in ("numpy", "duckdb"):
        raise ConfigError(f"engine must be 'numpy' or 'duckdb', got {engine!r}.")
    log = canonical_log(log, what="compute_aggregates")
    if engine == "numpy":
        customers, agg, _, _ = aggregate_log(
            log, Vocab.of(spec), what="compute_aggregates", unknown_names=False
        )
        present = agg[:, 0] > 0  # n_events: customers without an event in the window get no row
        if not present.all():
            customers, agg = customers[present], agg[present]
    else:
        require_session_id(log, spec, what="compute_aggregates")
        customers, agg = duckdb_aggregates(log, spec, threads)
    if len(customers) == 0:
        raise EmptyLogError(
            f"no events inside the window [{fmt_us(spec.start_us)}, {fmt_us(spec.end_us)}) "
            f"(the log spans {log[TIMESTAMP].min()} to {log[TIMESTAMP].max()}). Widen the "
            f"window or pass another log."
        )
    return customers, agg


def fmt_us(us: int | None) -> str:
    return "-inf" if us is None else str(pd.Timestamp(us, unit="us", tz="UTC"))
