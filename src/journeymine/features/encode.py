"""A canonical event log DataFrame as integer-coded arrays for the numpy aggregates (no DuckDB).

- :class:`Vocab`: the lookups of a :class:`~journeymine.personas.features.FeatureSpec`, built once.
- :func:`canonical_log`: boundary check of a log DataFrame (validated when dtypes are not
  canonical).
- :func:`encode_log`: a canonical log -> :class:`~journeymine.features.aggregates.Encoded`,
  plus the names outside the vocabulary per customer.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.exceptions import EventLogError
from journeymine.features.aggregates import AggPlan, Encoded, cents
from journeymine.features.spec import FeatureSpec

__all__ = [
    "CHUNK_EVENTS",
    "MAX_ABS_VALUE",
    "Vocab",
    "aggregate_log",
    "canonical_log",
    "coded_customer_slices",
    "customer_slices",
    "encode_log",
    "require_session_id",
    "timestamps_us",
]

#: Largest absolute value: its cents must fit in int64 with room for sums.
MAX_ABS_VALUE = 1e13


@dataclass(frozen=True)
class Vocab:
    """Lookups of a spec, built once per model (the single-customer path uses plain dicts)."""

    spec: FeatureSpec
    activity: dict[str, int]
    channel: dict[str, int]
    journey: dict[str, int]
    plan: AggPlan

    @classmethod
    def of(cls, spec: FeatureSpec) -> Vocab:
        return cls(
            spec,
            {a: i for i, a in enumerate(spec.activities)},
            {c: i for i, c in enumerate(spec.channels)},
            {j: i for i, j in enumerate(spec.journeys)},
            AggPlan(spec),
        )


def canonical_log(log: Any, *, what: str) -> pd.DataFrame:
    """A non-empty canonical log through the one gate, :func:`journeymine.schema.canonical_log`
    (validated, without sorting, when dtypes are not canonical); ``what`` names the caller.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.features import canonical_log
    >>> empty = pd.DataFrame({"customer_id": [], "timestamp": [], "activity": []})
    >>> canonical_log(empty, what="my_report")
    Traceback (most recent call last):
    ...
    journeymine.exceptions.EmptyLogError: the event log is empty (0 rows). Check the file, ...
    """
    return schema.canonical_log(log)


def _codes(values: pd.Series, vocab: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vocabulary codes (``len(vocab)`` for names outside it or null), raw codes (-1 for null)
    and the raw names."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw = values.cat.codes.to_numpy()
        names = np.asarray(values.cat.categories.astype(str), dtype=object)
    else:
        raw, uniques = pd.factorize(values, use_na_sentinel=True)
        names = np.asarray(pd.Index(uniques).astype(str), dtype=object)
    lookup = pd.Index(list(vocab), dtype=object).get_indexer(pd.Index(names, dtype=object))
    # one extra entry for null (raw code -1 indexes the last element)
    lookup = np.append(np.where(lookup < 0, len(vocab), lookup), len(vocab)).astype(np.int32)
    return lookup[raw], raw.astype(np.int64, copy=False), names


def _unknown_by_customer(
    cust: np.ndarray, raw: np.ndarray, codes: np.ndarray, names: np.ndarray, n_vocab: int, n: int
) -> list[tuple[str, ...]]:
    """Sorted names outside the vocabulary, per customer code."""
    out: list[tuple[str, ...]] = [()] * n
    mask = (codes == n_vocab) & (raw >= 0)
    if not mask.any():
        return out
    pairs = np.unique(np.column_stack([cust[mask], raw[mask]]), axis=0)
    for c in np.unique(pairs[:, 0]):
        out[int(c)] = tuple(sorted(str(names[r]) for r in pairs[pairs[:, 0] == c, 1]))
    return out


def timestamps_us(log: pd.DataFrame) -> np.ndarray:
    """The timestamp column as int64 microseconds since 1970-01-01 UTC.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.features import timestamps_us
    >>> log = pd.DataFrame({"timestamp": pd.to_datetime(["2025-01-01 00:00:01"], utc=True)})
    >>> timestamps_us(log) - 1_735_689_600_000_000
    array([1000000])
    """
    ts = log[schema.TIMESTAMP]
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        if ts.dtype.unit == "us":
            return np.asarray(ts.array.asi8)  # UTC epoch microseconds, whatever the zone
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.to_numpy(dtype="datetime64[us]").view(np.int64)


def require_session_id(log: pd.DataFrame, spec: FeatureSpec, *, what: str) -> None:
    """A spec that builds sessions from ``session_id`` needs that column in the log.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.features import FeatureSpec, require_session_id
    >>> spec = FeatureSpec(activities=("view",), channels=(), as_of_us=0, use_session_id=True)
    >>> require_session_id(pd.DataFrame({"activity": ["view"]}), spec, what="fit")
    Traceback (most recent call last):
    ...
    journeymine.exceptions.EventLogError: fit: these features build sessions from session_id ...
    """
    if spec.use_session_id and schema.SESSION_ID not in log.columns:
        raise EventLogError(
            f"{what}: these features build sessions from session_id (fitted on a log with one) "
            f"but the log has no 'session_id' column. Add it (jm.sessionize(log) makes one "
            f"from inactivity gaps) or refit with CustomerFeaturizer(use_session_id=False)."
        )


def encode_log(
    log: pd.DataFrame,
    vocab: Vocab,
    *,
    what: str,
    unknown_names: bool = True,
    customer_codes: tuple[np.ndarray, pd.Index] | None = None,
) -> tuple[pd.Index, Encoded, list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Encode a canonical log against ``vocab.spec``.

    ``unknown_names=False`` skips listing the names outside the vocabulary (empty lists).
    ``customer_codes`` = (code of every row, sorted customer ids) when already known (a slice
    of :func:`customer_slices`).

    Returns the sorted customer ids (code order), the encoded events (input order) and, per
    customer code, the activity and channel names outside the vocabulary.
    """
    spec = vocab.spec
    if customer_codes is None:
        cust, customers = pd.factorize(log[schema.CUSTOMER_ID], sort=True)
    else:
        cust, customers = customer_codes
    n = len(customers)
    cust = cust.astype(np.int64)
    act, act_raw, act_names = _codes(log[schema.ACTIVITY], spec.activities)
    none: list[tuple[str, ...]] = [()] * n
    unknown_act = (
        _unknown_by_customer(cust, act_raw, act, act_names, len(spec.activities), n)
        if unknown_names
        else none
    )
    if schema.CHANNEL in log.columns:
        ch, ch_raw, ch_names = _codes(log[schema.CHANNEL], spec.channels)
        unknown_ch = (
            _unknown_by_customer(cust, ch_raw, ch, ch_names, len(spec.channels), n)
            if unknown_names
            else none
        )
    else:
        ch = np.full(len(log), len(spec.channels), dtype=np.int32)
        unknown_ch = [()] * n
    if schema.JOURNEY_ID in log.columns:
        _, jraw, jnames = _codes(log[schema.JOURNEY_ID], ())
        jl = pd.Index(list(spec.journeys), dtype=object).get_indexer(pd.Index(jnames, dtype=object))
        jv = np.append(jl, -1).astype(np.int64)[jraw]  # raw -1 (null) -> -1
    else:
        jraw = np.full(len(log), -1, dtype=np.int64)
        jv = np.full(len(log), -1, dtype=np.int64)
    if schema.VALUE in log.columns:
        v = log[schema.VALUE].to_numpy(dtype=np.float64, na_value=np.nan)
        big = np.isfinite(v) & (np.abs(v) > MAX_ABS_VALUE)
        if big.any():
            raise EventLogError(
                f"{what}: {int(big.sum())} values are out of range (|value| <= "
                f"{MAX_ABS_VALUE:g}), e.g. {v[big][0]!r} at row {int(np.flatnonzero(big)[0])}."
            )
    else:
        v = np.full(len(log), np.nan)
    if spec.use_session_id:
        require_session_id(log, spec, what=what)
        sid = pd.factorize(log[schema.SESSION_ID], use_na_sentinel=True)[0].astype(np.int64)
    else:
        sid = np.full(len(log), -1, dtype=np.int64)
    ev = Encoded(
        cust=cust,
        n_customers=n,
        t=timestamps_us(log),
        act=act,
        ch=ch,
        jraw=jraw.astype(np.int64),
        jv=np.asarray(jv, dtype=np.int64),
        cents=cents(v),
        valued=np.isfinite(v),
        sid=sid,
    )
    return pd.Index(customers, name=schema.CUSTOMER_ID, dtype="str"), ev, unknown_act, unknown_ch


#: Events per slice of whole customers when a large log is aggregated (small enough for the CPU
#: caches and for the temporaries to be reused from the heap).
CHUNK_EVENTS = 250_000


def aggregate_log(
    log: pd.DataFrame,
    vocab: Vocab,
    *,
    what: str,
    chunk_events: int = 0,
    unknown_names: bool = True,
) -> tuple[pd.Index, np.ndarray, list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Numpy aggregates of a canonical log, in slices of whole customers for large logs.

    Returns the sorted customer ids, their aggregates (a row of zeros for a customer without
    an event in the window) and the names outside the vocabulary per customer. Every
    customer's row is the same whatever the slicing.
    """
    from journeymine.features.aggregates import numpy_aggregates

    chunk = chunk_events or CHUNK_EVENTS

    def part(
        frame: pd.DataFrame, codes: tuple[np.ndarray, pd.Index] | None
    ) -> tuple[pd.Index, np.ndarray, list[Any], list[Any]]:
        customers, ev, unk_a, unk_c = encode_log(
            frame, vocab, what=what, unknown_names=unknown_names, customer_codes=codes
        )
        return customers, numpy_aggregates(ev, vocab.spec, plan=vocab.plan), unk_a, unk_c

    slices = coded_customer_slices(log, chunk)
    if len(slices) == 1:
        return part(*slices[0])
    parts = [part(frame, codes) for frame, codes in slices]
    return (
        pd.Index(
            np.concatenate([p[0].to_numpy() for p in parts]), name=schema.CUSTOMER_ID, dtype="str"
        ),
        np.concatenate([p[1] for p in parts]),
        [u for p in parts for u in p[2]],
        [u for p in parts for u in p[3]],
    )


def customer_slices(log: pd.DataFrame, chunk_events: int = CHUNK_EVENTS) -> list[pd.DataFrame]:
    """The log in slices of whole customers (customer order) of about ``chunk_events`` events;
    the log itself when it is small.

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> from journeymine.features import customer_slices
    >>> log = jm.validate(pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 10:05", "2025-01-01 10:07"],
    ...     "activity": ["visit", "buy", "visit"]}))
    >>> [part["customer_id"].tolist() for part in customer_slices(log, chunk_events=2)]
    [['a', 'a'], ['b']]
    """
    return [frame for frame, _ in coded_customer_slices(log, chunk_events)]


def coded_customer_slices(
    log: pd.DataFrame, chunk_events: int = CHUNK_EVENTS
) -> list[tuple[pd.DataFrame, tuple[np.ndarray, pd.Index] | None]]:
    """:func:`customer_slices` with each slice's customer codes (0-based within the slice) and
    sorted ids, from one factorization of the whole log (None for a log in one piece).

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> from journeymine.features import coded_customer_slices
    >>> events = pd.DataFrame({"customer_id": ["x", "y", "y"], "activity": ["visit"] * 3,
    ...     "timestamp": ["2025-02-01 08:00", "2025-02-01 09:00", "2025-02-02 09:00"]})
    >>> parts = coded_customer_slices(jm.validate(events), chunk_events=1)
    >>> [(codes.tolist(), list(names)) for _, (codes, names) in parts]
    [([0], ['x']), ([0, 0], ['y'])]
    """
    if len(log) <= chunk_events:
        return [(log, None)]
    codes, uniques = pd.factorize(log[schema.CUSTOMER_ID], sort=True)
    if len(codes) > 1 and (np.diff(codes) < 0).any():
        order = np.argsort(codes, kind="stable")
        log, codes = log.iloc[order], codes[order]
    starts = np.unique(
        np.searchsorted(codes, codes[np.arange(0, len(codes), chunk_events)], side="left")
    )
    bounds = [*starts.tolist(), len(codes)]
    out: list[tuple[pd.DataFrame, tuple[np.ndarray, pd.Index] | None]] = []
    for a, b in itertools.pairwise(bounds):
        lo, hi = int(codes[a]), int(codes[b - 1]) + 1
        out.append((log.iloc[a:b], (codes[a:b] - lo, pd.Index(uniques[lo:hi]))))
    return out
