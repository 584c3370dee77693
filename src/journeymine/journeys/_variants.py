"""Journey variants: distinct activity sequences and how many cases follow each."""

from __future__ import annotations

import itertools
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from journeymine.engine import LogInput, as_encoded
from journeymine.journeys._common import check_int
from journeymine.schema import CUSTOMER_ID

__all__ = ["SEPARATOR", "case_sequences", "group_sequences", "variants"]

logger = logging.getLogger(__name__)

SEPARATOR = " > "
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: Steps of the variants' text from which it is joined on a second thread (below, a thread
#: costs more than it saves).
_THREADED_TOKENS = 1_000_000
_HASH_SEEDS = (20250101, 20250102, 20250103)


def positions_in_case(bounds: np.ndarray) -> np.ndarray:
    """Position of every event inside its case (0, 1, ...), from the case start offsets."""
    n = int(bounds[-1])
    lens = np.diff(bounds)
    dtype = np.int32 if n == 0 or int(lens.max()) < 2**31 else np.int64
    step = np.ones(n, dtype=dtype)
    if n:
        step[bounds[1:-1]] = 1 - lens[:-1]  # back to 0 at every case start
        step[0] = 0
    return np.cumsum(step, dtype=dtype, out=step)  # in place: one array, not two


def case_sequences(
    activity_codes: np.ndarray,
    bounds: np.ndarray,
    *,
    max_steps: int | None = None,
    from_end: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Activity codes of every case concatenated, and case start offsets (plus the end),
    optionally cut to the first (or last) ``max_steps`` events of each case."""
    if max_steps is None:
        return activity_codes, bounds
    lens = np.diff(bounds)
    pos = positions_in_case(bounds)
    keep = pos >= np.repeat(lens - max_steps, lens) if from_end else pos < max_steps
    new_lens = np.minimum(lens, max_steps)
    return activity_codes[keep], np.concatenate(([0], np.cumsum(new_lens))).astype(np.int64)


#: Largest (longest case x symbols) table of precomputed hash terms; above it, the terms are
#: gathered from the powers and the symbol values separately.
_TERM_TABLE = 1 << 22


def _hash_groups(
    codes: np.ndarray, bounds: np.ndarray, n_symbols: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Group sequences by a polynomial hash (mod 2**64, random base and symbol values), then
    verify every sequence against its group's representative. None on a collision."""
    starts, lens = bounds[:-1], np.diff(bounds)
    rng = np.random.default_rng(seed)
    base = int(rng.integers(1 << 62, dtype=np.uint64)) | 1
    symbols = rng.integers(1 << 63, size=max(n_symbols, 1), dtype=np.uint64)
    max_len = int(lens.max())
    powers = np.array([pow(base, i, 1 << 64) for i in range(max_len)], dtype=np.uint64)
    pos = positions_in_case(bounds)
    if max_len * len(symbols) <= _TERM_TABLE:
        # every (position, symbol) term precomputed: one gather from a small table per event
        table = np.multiply.outer(powers, symbols).ravel()  # wraps modulo 2**64 on purpose
        # the positions become the table cells in place (they are not needed again)
        cell: np.ndarray = pos if len(table) < 2**31 else pos.astype(np.int64)
        np.multiply(cell, len(symbols), out=cell)
        np.add(cell, codes, out=cell)
        terms = table[cell]
        del cell
    else:
        terms = powers[pos]
        np.multiply(terms, symbols[codes], out=terms)  # wraps modulo 2**64 on purpose
    h = np.add.reduceat(terms, starts)
    del terms
    h ^= lens.astype(np.uint64) * _GOLDEN
    _, first, inverse, counts = np.unique(
        h, return_index=True, return_inverse=True, return_counts=True
    )
    rep = first[inverse]  # representative case of each case's group
    # only the cases that are not their group's representative need comparing with it
    others = np.flatnonzero(rep != np.arange(len(rep)))
    if len(others):
        mine, theirs = starts[others], starts[rep[others]]
        n = lens[others]
        if not np.array_equal(lens[rep[others]], n):
            return None
        offsets = np.cumsum(n) - n
        step = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(offsets, n)
        if not np.array_equal(codes[np.repeat(theirs, n) + step], codes[np.repeat(mine, n) + step]):
            return None
    return inverse.astype(np.int64), first.astype(np.int64), counts.astype(np.int64)


def group_sequences(
    codes: np.ndarray, bounds: np.ndarray, n_symbols: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group equal sequences exactly.

    Returns, per case, its group number; per group, the first case holding it and the number of
    cases. Hashing is verified element by element, so the grouping is exact; after repeated
    collisions (never seen in practice) it falls back to comparing tuples.
    """
    if len(bounds) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    for seed in _HASH_SEEDS:
        out = _hash_groups(codes, bounds, n_symbols, seed)
        if out is not None:
            return out
        logger.info("variant hash collision with seed %d; retrying", seed)
    keys = [tuple(codes[s:e]) for s, e in itertools.pairwise(bounds)]
    inverse, uniques = pd.factorize(pd.Series(keys, dtype=object), sort=False)
    _, first = np.unique(inverse, return_index=True)
    return (
        inverse.astype(np.int64),
        first.astype(np.int64),
        np.bincount(inverse, minlength=len(uniques)).astype(np.int64),
    )


def _tokens(
    codes: np.ndarray, bounds: np.ndarray, cases: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The activity codes of the sequences of ``cases`` one after the other, their start
    offsets (plus the end) and their lengths."""
    starts = bounds[:-1][cases]
    lens = (bounds[1:] - bounds[:-1])[cases]
    offsets = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
    itype = np.int32 if len(codes) < 2**31 else np.int64  # half the memory below 2**31 events
    idx = np.repeat((starts - offsets[:-1]).astype(itype), lens)
    idx += np.arange(offsets[-1], dtype=itype)
    return codes[idx], offsets, lens


def join_sequences(
    codes: np.ndarray,
    bounds: np.ndarray,
    cases: np.ndarray,
    labels: pd.Index,
    tokens: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[object, np.ndarray]:
    """Arrow array of the sequences of ``cases`` as text (labels joined by " > ") and their
    lengths (``tokens``: :func:`_tokens` of the same cases, when already made)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    seq, offsets, lens = _tokens(codes, bounds, cases) if tokens is None else tokens
    tokens_text = pa.array(np.asarray(labels, dtype=object), type=pa.string()).take(pa.array(seq))
    if offsets[-1] < 2**31 - 1:
        lists = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), tokens_text)
    else:
        lists = pa.LargeListArray.from_arrays(pa.array(offsets), tokens_text)
    return pc.binary_join(lists, SEPARATOR), lens


def _text_order(
    tokens: tuple[np.ndarray, np.ndarray, np.ndarray], counts: np.ndarray, labels: pd.Index
) -> np.ndarray | None:
    """The order of the variants by (cases descending, text ascending), from one byte per
    step (its label's rank, plus 1) instead of the text; None when that can differ from the
    text's order: 255 labels or more, or a label that begins another (with no label a prefix
    of another, two texts first differ inside two different labels, or one text is the start
    of the other, so the bytes order them as their text does)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = [str(v) for v in labels]
    by_text = sorted(range(len(text)), key=text.__getitem__)
    if len(text) >= 255 or any(text[b].startswith(text[a]) for a, b in itertools.pairwise(by_text)):
        return None
    byte = np.empty(max(len(text), 1), dtype=np.uint8)
    byte[by_text] = np.arange(1, len(text) + 1)
    seq, offsets, _ = tokens
    if offsets[-1] >= 2**31:
        return None
    keys = pa.Array.from_buffers(
        pa.binary(),
        len(offsets) - 1,
        [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(byte[seq])],
    )
    order = pc.sort_indices(keys).to_numpy()
    return order[np.argsort(-counts[order], kind="stable")]


def variants(
    log: LogInput,
    *,
    case: str = CUSTOMER_ID,
    max_steps: int | None = None,
    from_end: bool = False,
    top_k: int | None = None,
) -> pd.DataFrame:
    """Distinct journeys (activity sequences) and how many cases follow each.

    Real customer journeys are almost all unique; cut them to the first (or last) ``max_steps``
    steps to see the common beginnings (or endings).

    Parameters
    ----------
    log : DataFrame, path or EncodedLog
        Event log (need not be sorted; ties in time keep input order).
    case : str, default "customer_id"
        Case column.
    max_steps : int, optional
        Keep only the first ``max_steps`` events of each case (the last ones with
        ``from_end=True``) before grouping.
    from_end : bool, default False
        Cut from the end instead of the start.
    top_k : int, optional
        Return only the ``top_k`` most common variants.

    Returns
    -------
    DataFrame
        ``variant`` (activities joined by " > "), ``length`` (steps), ``cases``, ``share``
        (of all cases), sorted by cases descending, then variant.

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "b", "b", "c", "c", "c"],
    ...     "timestamp": pd.to_datetime([1, 2, 1, 2, 3, 5, 6, 7], unit="D", utc=True),
    ...     "activity": ["view", "buy", "search", "view", "buy", "search", "view", "cart"]})

    Every journey is unique, but two of the three end the same way and two start the same way:

    >>> jm.variants(log)
                    variant  length  cases     share
    0   search > view > buy       3      1  0.333333
    1  search > view > cart       3      1  0.333333
    2            view > buy       2      1  0.333333
    >>> jm.variants(log, max_steps=2, from_end=True)
           variant  length  cases     share
    0   view > buy       2      2  0.666667
    1  view > cart       2      1  0.333333
    >>> jm.variants(log, max_steps=1)
      variant  length  cases     share
    0  search       1      2  0.666667
    1    view       1      1  0.333333
    """
    check_int(max_steps, "max_steps", allow_none=True)
    check_int(top_k, "top_k", allow_none=True)
    if not isinstance(from_end, bool | np.bool_):
        from journeymine.exceptions import ConfigError

        raise ConfigError(f"from_end={from_end!r} is not allowed; pass True or False.")
    enc = as_encoded(log, case=case)
    codes, bounds = case_sequences(
        enc.activity_codes, enc.case_bounds, max_steps=max_steps, from_end=bool(from_end)
    )
    _, first, counts = group_sequences(codes, bounds, len(enc.activities))
    n_cases = len(bounds) - 1
    chosen = np.arange(len(counts))
    if top_k is not None and top_k < len(counts):
        kth = np.partition(counts, len(counts) - top_k)[len(counts) - top_k]
        chosen = np.flatnonzero(counts >= kth)  # ties at the cut are ranked by text below
    import pyarrow as pa

    tokens = _tokens(codes, bounds, first[chosen])
    if len(tokens[0]) >= _THREADED_TOKENS:
        with ThreadPoolExecutor(1) as pool:
            # the text on a second thread while the order is found from one byte per step
            joined = pool.submit(
                join_sequences, codes, bounds, first[chosen], enc.activities, tokens
            )
            order = _text_order(tokens, counts[chosen], enc.activities)
            text, lens = joined.result()
    else:
        order = _text_order(tokens, counts[chosen], enc.activities)
        text, lens = join_sequences(codes, bounds, first[chosen], enc.activities, tokens)
    table = pa.table({"variant": text, "length": lens.astype(np.int64), "cases": counts[chosen]})
    if order is None:
        table = table.sort_by([("cases", "descending"), ("variant", "ascending")])
    else:
        table = table.take(pa.array(order))
    if top_k is not None:
        table = table.slice(0, top_k)
    out = table.to_pandas()
    out["share"] = out["cases"] / n_cases
    logger.debug("%d variants over %d cases", len(counts), n_cases)
    return out
