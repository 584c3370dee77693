"""Text columns as integer codes and the stable row order by (customer_id, timestamp), on
integers; exact duplicate rows found among the rows sharing a customer and a time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeymine.schema._columns import (
    CUSTOMER_ID,
    STRING_DTYPE,
    TIMESTAMP,
)


def _arrow_text(s: pd.Series) -> Any:
    """The pyarrow array (one chunk) behind an Arrow-backed text column, else None."""
    if not isinstance(s.array, pd.arrays.ArrowStringArray):
        return None
    import pyarrow as pa

    arr = pa.array(s.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _ranked_text_codes(s: pd.Series) -> tuple[np.ndarray, Any] | None:
    """Codes of an Arrow-backed text column ranked by value (code order = sorted order of the
    distinct values; -1 for null) and the sorted distinct values (pyarrow), by hashing in
    Arrow and sorting only the distinct values. None for other columns."""
    arr = _arrow_text(s)
    if arr is None:
        return None
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(arr)
    # UTF-8 byte order is code point order: the order of Python (and pandas) string sorts
    perm = pc.sort_indices(enc.dictionary).to_numpy()
    rank = np.empty(len(perm) + 1, dtype=np.int32 if len(perm) < 2**31 else np.int64)
    rank[perm] = np.arange(len(perm))
    rank[-1] = -1  # null (index -1 below) stays -1
    idx = enc.indices
    raw = (pc.fill_null(idx, -1) if idx.null_count else idx).to_numpy(zero_copy_only=False)
    return rank[raw], enc.dictionary.take(perm)


def _to_category(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        if pd.api.types.is_string_dtype(s.cat.categories.dtype):
            return s.cat.remove_unused_categories()
        return s.astype(object).where(s.isna(), s.astype(str)).astype("category")
    if not pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
        s = s.astype(object).where(s.isna(), s.astype(str))
    s = s.astype(STRING_DTYPE)
    ranked = _ranked_text_codes(s)
    if ranked is None:
        return s.astype("category")
    # as astype("category") (sorted categories), hashed once in Arrow
    codes, labels = ranked
    cats = pd.Index(pd.array(labels, dtype=STRING_DTYPE))
    out = pd.Categorical.from_codes(codes.astype(_small_int(len(cats))), categories=cats)
    return pd.Series(out, index=s.index, name=s.name)


def sort_events(log: pd.DataFrame) -> pd.DataFrame:
    """Sort by (customer_id, timestamp), keeping the input order among ties (stable).

    The index is kept (rows move with their labels), as ``log.iloc[order]`` would."""
    order = _Order.of(log)
    return log if order.order is None else log.iloc[order.order]


def _small_int(n: int) -> type[np.signedinteger]:
    """Smallest signed integer type for codes 0..n-1 and -1."""
    return np.int8 if n < 2**7 else np.int16 if n < 2**15 else np.int32 if n < 2**31 else np.int64


def _duplicated(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    """``frame.duplicated(subset=key)``; lists or dicts in a column are compared as text."""
    try:
        return frame.duplicated(subset=key, keep="first").to_numpy()
    except TypeError:  # lists or dicts in an extra column: compare them as text
        text = {c: frame[c].astype(str) for c in key if frame[c].dtype == object}
        return frame[key].assign(**text).duplicated(keep="first").to_numpy()


def _stable_argsort(key: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The stable order of the rows by (``key``, ``t``), where ``key`` (int64) is
    non-decreasing in (``key``, ``t``): an unstable sort of ``key`` (several times faster than
    numpy's merge sort on int64), then the runs of equal keys, rare in an event log, are ordered
    by (``t``, input position)."""
    order = np.argsort(key)
    ks = key[order]
    tie = ks[1:] == ks[:-1]
    if tie.any():
        mark = np.zeros(len(key), dtype=bool)
        mark[1:] = tie
        mark[:-1] |= tie
        pos = np.flatnonzero(mark)
        sub = order[pos]
        order[pos] = sub[np.lexsort((sub, t[sub], ks[pos]))]
    return order


def row_order(codes: np.ndarray, n_codes: int, t: np.ndarray) -> np.ndarray | None:
    """Stable order of rows by (``codes``, ``t``), or None when they are already in it.

    ``codes`` are non-negative integers below ``n_codes`` (e.g. customers ranked by id), ``t``
    int64 times. One int64 key ``code * span + (t - min t)`` sorted once; when it would not fit
    in 63 bits the time is coarsened by a shift and the rows of equal keys are ordered exactly.
    """
    if len(t) < 2:
        return None
    same = codes[1:] == codes[:-1]
    if bool(np.all((codes[1:] > codes[:-1]) | (same & (t[1:] >= t[:-1])))):
        return None
    del same
    tmin = int(t.min())
    span = int(t.max()) - tmin + 1
    shift = 0
    while max(n_codes, 1) * (((span - 1) >> shift) + 1) >= 2**63:
        shift += 1
    key = t.view(np.uint64) - np.uint64(tmin % 2**64)  # exact even when span >= 2**63
    key >>= np.uint64(shift)
    key = key.view(np.int64)
    key += codes.astype(np.int64) * (((span - 1) >> shift) + 1)
    return _stable_argsort(key, t)


class _Order:
    """The stable order of a log's rows by (customer_id, timestamp), computed on integers.

    Customers are ranked by hashing the ids once (Arrow ``dictionary_encode`` for Arrow-backed
    text, else ``pandas.factorize``) and sorting only the distinct ids; the rows are then sorted
    on one int64 key ``rank * span + (time - first time)`` (time coarsened when that would not
    fit in 63 bits, ties then ordered exactly). ``order`` is None when the rows are already in
    order; ``ranks`` and ``t`` (int64 microseconds) are per row, in input order.
    """

    def __init__(
        self, order: np.ndarray | None, ranks: np.ndarray, t: np.ndarray, labels: Any
    ) -> None:
        self.order, self.ranks, self.t, self.labels = order, ranks, t, labels

    @classmethod
    def of(cls, log: pd.DataFrame) -> _Order:
        cust = log[CUSTOMER_ID]
        ranked = _ranked_text_codes(cust) if len(log) else None
        if ranked is not None:
            ranks, labels = ranked
        else:
            values = cust.to_numpy(dtype=object) if len(log) else np.array([], dtype=object)
            ranks, _ = pd.factorize(values, sort=True)
            labels = None
        if len(ranks) and ranks.min() < 0:  # null ids (-1) first, as in a lexsort
            ranks = ranks + 1
        n_cust = int(ranks.max()) + 1 if len(ranks) else 0
        t = log[TIMESTAMP].to_numpy(dtype="datetime64[us]").view(np.int64)
        return cls(row_order(ranks, n_cust, t), ranks, t, labels)

    def duplicated(self, log: pd.DataFrame) -> np.ndarray:
        """``log.duplicated(keep="first")`` over every column, exactly, comparing only the rows
        that share their (customer, time) with another row."""
        r, t = (
            (self.ranks, self.t)
            if self.order is None
            else (self.ranks[self.order], self.t[self.order])
        )
        dup = np.zeros(len(t), dtype=bool)
        tie = (t[1:] == t[:-1]) & (r[1:] == r[:-1])
        if not tie.any():
            return dup
        mark = np.zeros(len(t), dtype=bool)
        mark[1:] = tie
        mark[:-1] |= tie
        pos = np.flatnonzero(mark)
        cand = np.sort(pos if self.order is None else self.order[pos])  # input order
        dup[cand[_duplicated(log.iloc[cand], list(log.columns))]] = True
        return dup

    def without(self, drop: np.ndarray) -> _Order:
        """The order of the rows left after dropping the rows where ``drop`` is true."""
        keep = ~drop
        order = self.order
        if order is not None:
            new = np.cumsum(keep) - 1
            order = new[order[keep[order]]]
        return _Order(order, self.ranks[keep], self.t[keep], self.labels)

    def apply(self, log: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``log`` in this order, index reset (``log.iloc[order]``, faster: text
        columns are taken in Arrow, customer ids rebuilt from the sorted distinct ids)."""
        if self.order is None:
            return log.reset_index(drop=True)
        order = self.order
        cols: dict[Any, Any] = {}
        for name in log.columns:
            s = log[name]
            if name == CUSTOMER_ID and self.labels is not None:
                # ranks in this order are non-decreasing: a sequential gather
                import pyarrow as pa

                taken = self.labels.take(pa.array(self.ranks[order]))
                cols[name] = pd.array(taken, dtype=s.dtype)
            elif isinstance(s.dtype, pd.CategoricalDtype):
                codes = s.cat.codes.to_numpy()[order]
                cols[name] = pd.Categorical.from_codes(codes, dtype=s.dtype)
            elif (arr := _arrow_text(s)) is not None:
                cols[name] = pd.array(arr.take(order), dtype=s.dtype)
            else:
                cols[name] = s.take(order).reset_index(drop=True)
        out = pd.DataFrame(cols, index=pd.RangeIndex(len(order)))
        out.attrs = log.attrs
        return out
