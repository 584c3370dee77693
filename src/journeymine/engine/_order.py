"""The stable row order by (code, time), from value sorts of packed integers.

``ndarray.sort`` of uint64 values is SIMD-accelerated and several times cheaper than
``argsort``. Packing the code, the time and the row number into one uint64 makes a value
sort give the order: the row number rides in the low bits and keeps equal keys in input
order. When the time does not fit beside the code and the row number, it is coarsened, and
only the rows that share a code and a coarse time (events of one customer seconds apart) are
ordered again by their exact time.
"""

from __future__ import annotations

import numpy as np

from journeymine.schema import row_order

__all__ = ["stable_order", "tie_positions"]


def _in_order(codes: np.ndarray, t: np.ndarray) -> bool:
    """Rows ordered by (``codes``, ``t``)? The first rows are looked at first, so a shuffled
    log is told apart without a pass over every row."""
    for stop in (min(len(t), 4096), len(t)):
        c, s = codes[:stop], t[:stop]
        if not bool(np.all((c[1:] > c[:-1]) | ((c[1:] == c[:-1]) & (s[1:] >= s[:-1])))):
            return False
    return True


def tie_positions(tie: np.ndarray) -> np.ndarray:
    """Positions of the rows equal to a neighbour, from ``tie[i]`` = "row ``i + 1`` equals row
    ``i``" (``n - 1`` booleans over ``n`` sorted rows).

    Examples
    --------
    >>> import numpy as np
    >>> tie_positions(np.array([False, True, True, False])).tolist()
    [1, 2, 3]
    """
    mark = np.zeros(len(tie) + 1, dtype=bool)
    mark[1:] = tie
    mark[:-1] |= tie
    return np.flatnonzero(mark)


def _bits(n: int) -> int:
    """Bits that hold 0..n-1 (at least 1)."""
    return max(1, (max(n, 1) - 1).bit_length())


#: Rows per block when the packed key is built and its ties found: the temporaries of a block
#: stay small and are reused, instead of a fresh array per step for all rows (on a large log,
#: the first touch of fresh memory costs more than the arithmetic).
_BLOCK = 1 << 20


def _packed_order(codes: np.ndarray, t: np.ndarray, tmin: int, span: int, room: int) -> np.ndarray:
    """The stable order by (``codes``, ``t``) from one value sort of
    ``code | (t - tmin) >> shift | row`` packed in 64 bits (``room`` bits for the time,
    coarsened by ``shift`` when ``span``, the largest ``t - tmin``, needs more); rows that
    share a code and a coarse time are then ordered by the exact time, by a second packed sort
    of just those rows (a lexsort when that one does not fit). The key is built, sorted and
    turned into the order in one array (the order is a view of it)."""
    n = len(t)
    r_bits = _bits(n)
    shift = max(0, span.bit_length() - room)
    origin = np.uint64(tmin % 2**64)  # exact even for a span >= 2**63
    packed = np.empty(n, dtype=np.uint64)
    for s in range(0, n, _BLOCK):
        e = min(s + _BLOCK, n)
        block = packed[s:e]
        np.subtract(t[s:e].view(np.uint64), origin, out=block)
        block >>= np.uint64(shift)
        block <<= np.uint64(r_bits)
        high = codes[s:e].astype(np.uint64)
        high <<= np.uint64(room + r_bits)
        block |= high
        block |= np.arange(s, e, dtype=np.uint64)
    packed.sort()
    rows = np.uint64((1 << r_bits) - 1)
    if shift == 0:
        packed &= rows  # the key was exact; equal keys are in row order
        return packed.view(np.int64)
    # neighbours with equal (code, coarse time): their keys differ in the row bits only
    tie = np.empty(max(n - 1, 0), dtype=bool)
    for s in range(0, n - 1, _BLOCK):
        e = min(s + _BLOCK, n - 1)
        diff = np.bitwise_xor(packed[s + 1 : e + 1], packed[s:e])
        np.less_equal(diff, rows, out=tie[s:e])
    pos = tie_positions(tie) if tie.any() else None
    high_pos = packed[pos] >> np.uint64(r_bits) if pos is not None else None
    packed &= rows
    order = packed.view(np.int64)
    if pos is None or high_pos is None:
        return order
    sub = order[pos]  # runs of equal (code, coarse time), each in row order
    runs = np.zeros(len(pos), dtype=np.uint64)
    runs[1:] = np.cumsum(high_pos[1:] != high_pos[:-1])
    s_bits = _bits(len(pos))
    fine = t[sub].view(np.uint64) - origin
    if _bits(int(runs[-1]) + 1) + shift + s_bits <= 64:
        key = runs << np.uint64(shift + s_bits)
        key |= (fine & np.uint64((1 << shift) - 1)) << np.uint64(s_bits)
        key |= np.arange(len(pos), dtype=np.uint64)
        key.sort()
        order[pos] = sub[(key & np.uint64((1 << s_bits) - 1)).astype(np.int64)]
    else:
        order[pos] = sub[np.lexsort((sub, fine, runs))]
    return order


def stable_order(codes: np.ndarray, n_codes: int, t: np.ndarray) -> np.ndarray | None:
    """Stable order of the rows by (``codes``, ``t``), or None when they are already in it.

    ``codes`` are non-negative integers below ``n_codes`` (e.g. customers ranked by id), ``t``
    int64 times. Equal to :func:`journeymine.schema.row_order`. The code, the time (coarsened
    when it does not fit) and the row number are packed in one uint64 and the values sorted
    (several times cheaper than an argsort); rows that share a code and a coarse time are then
    ordered exactly. With too many codes and rows to leave the time 16 bits, one argsort of
    the int64 key ``code * span + (t - min t)`` instead, ties found on the sorted key values.

    Examples
    --------
    Customer 0's events at times 9 and 1, customer 1's two events both at time 5 (a tie, kept
    in input order: row 0 before row 2):

    >>> import numpy as np
    >>> codes, times = np.array([1, 0, 1, 0]), np.array([5, 9, 5, 1])
    >>> stable_order(codes, 2, times).tolist()
    [3, 1, 0, 2]
    >>> stable_order(np.sort(codes), 2, np.array([1, 9, 5, 5])) is None  # already in order
    True
    """
    n = len(t)
    if n < 2 or _in_order(codes, t):
        return None
    tmin, tmax = int(t.min()), int(t.max())
    room = 64 - _bits(n) - _bits(n_codes)
    if room >= 16:
        return _packed_order(codes, t, tmin, tmax - tmin, room)
    span = tmax - tmin + 1
    if max(n_codes, 1) * span >= 2**63:
        return row_order(codes, n_codes, t)  # coarsened key, ties ordered exactly there
    key = codes.astype(np.int64)
    key *= span
    key += t
    key -= tmin
    order = np.argsort(key)
    ks = np.sort(key)
    tie = ks[1:] == ks[:-1]
    del ks
    if not tie.any():
        return order
    # rows of a repeated key: their positions in the order, re-sorted by (key, input position)
    pos = tie_positions(tie)
    sub = order[pos]
    order[pos] = sub[np.lexsort((sub, key[sub]))]
    return order
