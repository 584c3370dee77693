"""Text columns as integer codes and the stable row order by (customer_id, timestamp), on
integers; exact duplicate rows found among the rows sharing a customer and a time."""

from __future__ import annotations

import contextlib
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


def _without_unused(s: pd.Series) -> pd.Series:
    """``s.cat.remove_unused_categories()`` by counting the codes (one pass) instead of
    pandas' ``np.unique`` (a sort of every code); the input when every category is used."""
    cats = s.cat.categories
    codes = s.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0] if s.hasnans else codes, minlength=len(cats)) > 0
    if used.all():
        return s
    keep = np.flatnonzero(used)
    remap = np.full(len(cats) + 1, -1, dtype=_small_int(len(keep)))
    remap[keep] = np.arange(len(keep))
    out = pd.Categorical.from_codes(remap[codes], categories=cats.take(keep), ordered=s.cat.ordered)
    return pd.Series(out, index=s.index, name=s.name)


def used_values(s: pd.Series) -> pd.Index:
    """The distinct non-null values of ``s``, as text: for a categorical column the
    categories its rows use, found by counting the codes (``s.dropna()`` and
    ``remove_unused_categories`` would copy the column and sort every code).

    Examples
    --------
    >>> s = pd.Series(["b", "a", None], dtype="category").iloc[1:]
    >>> sorted(used_values(s))
    ['a']
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
        cats = s.cat.categories
        used = np.bincount(codes[codes >= 0], minlength=len(cats)) > 0
        return pd.Index([str(v) for v in cats[used]], dtype=object)
    return pd.Index([str(v) for v in pd.unique(s.dropna())], dtype=object)


def isin_values(s: pd.Series, values: Any) -> np.ndarray:
    """Which rows of ``s`` hold one of ``values`` (compared as text; a null never does), as a
    boolean array. A categorical column is tested once per category and the answers
    gathered by the codes, instead of turning every row into text.

    Examples
    --------
    >>> s = pd.Series(["buy", "view", None, "buy"], dtype="category")
    >>> isin_values(s, {"buy"}).tolist()
    [True, False, False, True]
    """
    wanted = {str(v) for v in values}
    if isinstance(s.dtype, pd.CategoricalDtype):
        hit = np.fromiter((str(c) in wanted for c in s.cat.categories), bool)
        codes = s.cat.codes.to_numpy()
        return np.append(hit, False)[np.where(codes >= 0, codes, len(hit))]
    return (s.notna() & s.astype(str).isin(wanted)).to_numpy(dtype=bool)


def _to_category(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        if pd.api.types.is_string_dtype(s.cat.categories.dtype):
            return _without_unused(s)
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


def _tie_positions(tie: np.ndarray) -> np.ndarray:
    """Positions of the rows equal to a neighbour, from ``tie[i]`` = "row ``i + 1`` equals
    row ``i``"."""
    mark = np.zeros(len(tie) + 1, dtype=bool)
    mark[1:] = tie
    mark[:-1] |= tie
    return np.flatnonzero(mark)


def tied_positions(ranks: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Positions of the rows that share their (customer, time) with a neighbour, in rows
    ordered by (customer, time): the only rows that can repeat another row, so the only ones
    :func:`validate` compares column by column to find duplicate events.

    ``ranks`` are the customer codes and ``t`` the int64 times of the ordered rows.

    Examples
    --------
    >>> import numpy as np
    >>> tied_positions(np.array([0, 0, 1, 1, 1]), np.array([5, 7, 2, 2, 9])).tolist()
    [2, 3]
    """
    return _tie_positions((t[1:] == t[:-1]) & (ranks[1:] == ranks[:-1]))


def _stable_argsort(
    key: np.ndarray, t: np.ndarray, exact: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The stable order of the rows by (``key``, ``t``), where ``key`` (int64) is
    non-decreasing in (``key``, ``t``): an unstable sort of ``key`` (several times faster than
    numpy's merge sort on int64), then the runs of equal keys, rare in an event log, are ordered
    by (``t``, input position).

    Also returns the positions, in sorted order, of the rows whose (key, ``t``) equals their
    neighbour's (sorted ascending; None when there are none). Equal keys always mean the same
    customer; ``exact`` says that they also mean the same time (the key was not coarsened)."""
    order = np.argsort(key)
    ks = key[order]
    tie = ks[1:] == ks[:-1]
    del ks
    if not tie.any():
        return order, None
    pos = _tie_positions(tie)
    sub = order[pos]
    ksub = key[sub]
    sub = sub[np.lexsort((sub, t[sub], ksub))]
    order[pos] = sub
    if exact:
        return order, pos
    # a coarsened key: the rows of one run share the customer, not always the time
    ksub.sort()
    tsub = t[sub]
    same = (pos[1:] == pos[:-1] + 1) & (ksub[1:] == ksub[:-1]) & (tsub[1:] == tsub[:-1])
    if not same.any():
        return order, None
    keep = np.zeros(len(pos), dtype=bool)
    keep[1:] = same
    keep[:-1] |= same
    return order, pos[keep]


def _in_order(codes: np.ndarray, t: np.ndarray) -> bool:
    """Rows already ordered by (``codes``, ``t``)? The first rows are looked at first: a
    shuffled log is told apart without a pass over every row."""
    for stop in (min(len(t), 4096), len(t)):
        c, s = codes[:stop], t[:stop]
        same = c[1:] == c[:-1]
        if not bool(np.all((c[1:] > c[:-1]) | (same & (s[1:] >= s[:-1])))):
            return False
    return True


def _time_key(codes: np.ndarray, n_codes: int, t: np.ndarray) -> tuple[np.ndarray, bool]:
    """The int64 key ``code * span + (t - min t)`` (time coarsened by a shift when it would
    not fit in 63 bits) and whether it is exact (no shift)."""
    tmin = int(t.min())
    span = int(t.max()) - tmin + 1
    shift = 0
    while max(n_codes, 1) * (((span - 1) >> shift) + 1) >= 2**63:
        shift += 1
    key = t.view(np.uint64) - np.uint64(tmin % 2**64)  # exact even when span >= 2**63
    key >>= np.uint64(shift)
    key = key.view(np.int64)
    key += codes.astype(np.int64) * (((span - 1) >> shift) + 1)
    return key, shift == 0


def _order_and_ties(
    codes: np.ndarray, n_codes: int, t: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """:func:`row_order` and the sorted positions of rows sharing (code, time) with a
    neighbour (None when the rows are in order: the caller finds them without a gather)."""
    if len(t) < 2 or _in_order(codes, t):
        return None, None
    key, exact = _time_key(codes, n_codes, t)
    return _stable_argsort(key, t, exact)


def row_order(codes: np.ndarray, n_codes: int, t: np.ndarray) -> np.ndarray | None:
    """Stable order of rows by (``codes``, ``t``), or None when they are already in it.

    ``codes`` are non-negative integers below ``n_codes`` (e.g. customers ranked by id), ``t``
    int64 times. One int64 key ``code * span + (t - min t)`` sorted once; when it would not fit
    in 63 bits the time is coarsened by a shift and the rows of equal keys are ordered exactly.

    Examples
    --------
    >>> import numpy as np
    >>> row_order(np.array([1, 0, 1, 0]), 2, np.array([5, 9, 5, 1])).tolist()
    [3, 1, 0, 2]
    >>> row_order(np.array([0, 1]), 2, np.array([7, 3])) is None
    True
    """
    return _order_and_ties(codes, n_codes, t)[0]


_CODES_ATTR = "_journeymine_codes"


def remember_codes(s: pd.Series, codes: np.ndarray, labels: Any) -> None:
    """Keep the codes of an Arrow-backed text column on its array (the one the user's frame
    holds), for :func:`cached_codes`: ``labels.take(codes)`` is the column (``labels`` a
    pyarrow array of distinct values). Any change to the column replaces the immutable Arrow
    data behind it, and the codes are then ignored."""
    arr = s.array
    data = getattr(arr, "_pa_array", None)
    if data is None or not isinstance(arr, pd.arrays.ArrowStringArray):
        return
    with contextlib.suppress(AttributeError):  # an array that takes no attributes: no cache
        setattr(arr, _CODES_ATTR, (data, codes, labels))


def cached_codes(s: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """The codes :func:`remember_codes` kept for this very column, made dense in order of
    the labels (every label present), and the labels as a pandas text Index; None when there
    are none or the column changed since."""
    arr = s.array
    kept = getattr(arr, _CODES_ATTR, None)
    if kept is None or getattr(arr, "_pa_array", None) is not kept[0]:
        return None
    _, codes, labels = kept
    if len(codes) != len(s):
        return None
    used = np.bincount(codes, minlength=len(labels)) > 0
    if not used.all():
        present = np.flatnonzero(used)
        remap = np.full(len(labels), -1, dtype=np.int64)
        remap[present] = np.arange(len(present))
        codes, labels = remap[codes], labels.take(present)
    return codes, pd.Index(pd.array(labels, dtype=s.dtype))


class _Order:
    """The stable order of a log's rows by (customer_id, timestamp), computed on integers.

    Customers are ranked by hashing the ids once (Arrow ``dictionary_encode`` for Arrow-backed
    text, else ``pandas.factorize``) and sorting only the distinct ids; the rows are then sorted
    on one int64 key ``rank * span + (time - first time)`` (time coarsened when that would not
    fit in 63 bits, ties then ordered exactly). ``order`` is None when the rows are already in
    order; ``ranks`` and ``t`` (int64 microseconds) are per row, in input order; ``ties`` are
    the positions, in sorted order, of rows sharing (customer, time) with a neighbour (None
    when there are none or the rows were in order).
    """

    def __init__(
        self,
        order: np.ndarray | None,
        ranks: np.ndarray,
        t: np.ndarray,
        labels: Any,
        ties: np.ndarray | None = None,
    ) -> None:
        self.order, self.ranks, self.t, self.labels = order, ranks, t, labels
        self.ties = ties

    @classmethod
    def of(cls, log: pd.DataFrame, ranked: tuple[np.ndarray, Any] | None = None) -> _Order:
        """The order of ``log``; ``ranked`` (codes ranked by id, sorted distinct ids) when the
        customer ids were already ranked by :func:`_ranked_text_codes`."""
        cust = log[CUSTOMER_ID]
        if ranked is None and len(log):
            ranked = _ranked_text_codes(cust)
        if ranked is not None:
            ranks, labels = ranked
        else:
            values = cust.to_numpy(dtype=object) if len(log) else np.array([], dtype=object)
            ranks, _ = pd.factorize(values, sort=True)
            labels = None
        if len(ranks) and ranks.min() < 0:  # null ids (-1) first, as in a lexsort
            ranks = ranks + 1
            labels = None  # ranks no longer index the labels
        n_cust = int(ranks.max()) + 1 if len(ranks) else 0
        t = log[TIMESTAMP].to_numpy(dtype="datetime64[us]").view(np.int64)
        order, ties = _order_and_ties(ranks, n_cust, t)
        return cls(order, ranks, t, labels, ties)

    def duplicated(self, log: pd.DataFrame) -> np.ndarray:
        """``log.duplicated(keep="first")`` over every column, exactly, comparing only the rows
        that share their (customer, time) with another row."""
        dup = np.zeros(len(self.t), dtype=bool)
        if self.order is None:
            cand = tied_positions(self.ranks, self.t)
            if not len(cand):
                return dup
        elif self.ties is None:
            return dup
        else:
            cand = np.sort(self.order[self.ties])  # input order
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
        columns are taken in Arrow, customer ids rebuilt from the sorted distinct ids, whose
        codes stay on the new column for :func:`cached_codes`)."""
        if self.order is None:
            out = log.reset_index(drop=True)
            if self.labels is not None and CUSTOMER_ID in out.columns:
                remember_codes(out[CUSTOMER_ID], self.ranks, self.labels)
            return out
        order = self.order
        cols: dict[Any, Any] = {}
        sorted_ranks = None
        for name in log.columns:
            s = log[name]
            if name == CUSTOMER_ID and self.labels is not None:
                # ranks in this order are non-decreasing: a sequential gather
                import pyarrow as pa

                sorted_ranks = self.ranks[order]
                taken = self.labels.take(pa.array(sorted_ranks))
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
        if sorted_ranks is not None:
            remember_codes(out[CUSTOMER_ID], sorted_ranks, self.labels)
        return out
