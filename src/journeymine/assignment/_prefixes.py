"""Prefix sampling: the training and evaluation rows of a :class:`PersonaModel` are journey
*prefixes* (a customer's history cut after its first ``k`` events), and their features."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeymine.features import FeatureSpec, compute_aggregates, score_rows
from journeymine.schema import CANONICAL_COLUMNS, CUSTOMER_ID

__all__ = ["EVAL_CUTS", "evaluation_rows", "prefix_features", "training_rows", "validation_split"]

#: Events seen at which held-out customers are scored for the card (with the model's cuts).
EVAL_CUTS = (3, 5, 10)


def training_rows(
    labelled: np.ndarray, n_c: np.ndarray, cuts: tuple[int, ...], use_full: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Training rows (customer code, prefix length), sorted: the first ``k`` events of each
    labelled customer with more than ``k`` for every cut, and the whole history when
    ``use_full``."""
    cs, ls = [], []
    for k in cuts:
        sel = labelled[n_c[labelled] > k]
        cs.append(sel)
        ls.append(np.full(len(sel), k))
    if use_full:
        cs.append(labelled)
        ls.append(n_c[labelled])
    c = np.concatenate(cs).astype(np.int64)
    ln = np.concatenate(ls).astype(np.int64)
    o = np.lexsort((ln, c))
    return c[o], ln[o]


def validation_split(
    labelled: np.ndarray,
    lab: np.ndarray,
    classes: np.ndarray,
    n_customers: int,
    validation_size: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Held-out customers: ``validation_size`` of each persona's labelled customers, drawn
    with ``rng`` (a boolean mask over customer codes)."""
    val = np.zeros(n_customers, dtype=bool)
    if validation_size:
        for c in classes:
            members = labelled[lab[labelled] == c]
            k = round(len(members) * float(validation_size))
            val[rng.choice(members, size=k, replace=False)] = True
    return val


def evaluation_rows(
    val_c: np.ndarray, n_c: np.ndarray, eval_cuts: tuple[int, ...]
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Rows scored for the card: every held-out customer after its first ``k`` events (when it
    has ``k``) for each cut, then with all its events. Returns the customer codes, prefix
    lengths and levels (the cut, 0 for all events), one array per cut."""
    ev_c, ev_len, ev_level = [], [], []
    for k in eval_cuts:
        cs = val_c[n_c[val_c] >= k]
        ev_c.append(cs)
        ev_len.append(np.full(len(cs), k))
        ev_level.append(np.full(len(cs), k))
    ev_c.append(val_c)
    ev_len.append(n_c[val_c])
    ev_level.append(np.zeros(len(val_c), dtype=np.int64))  # 0 = all events
    return ev_c, ev_len, ev_level


def prefix_features(
    log: pd.DataFrame,
    order: np.ndarray,
    cust: np.ndarray,
    n_c: np.ndarray,
    rows_c: np.ndarray,
    rows_len: np.ndarray,
    spec: FeatureSpec,
) -> tuple[np.ndarray, np.ndarray]:
    """Features of each distinct (customer, prefix length), with the numpy aggregates."""
    width = int(n_c.max()) + 1
    key = np.unique(rows_c * width + rows_len)
    rc, rl = key // width, key % width
    start = np.concatenate([[0], np.cumsum(n_c)[:-1]])
    total = int(rl.sum())
    offsets = np.repeat(np.cumsum(rl) - rl, rl)
    idx = order[np.repeat(start[rc], rl) + np.arange(total) - offsets]
    row_id = np.repeat(np.arange(len(key)), rl)
    keep = [c for c in log.columns if c in CANONICAL_COLUMNS and c != CUSTOMER_ID]
    frame = log[keep].iloc[idx].reset_index(drop=True)
    ids = pd.array(np.char.zfill(row_id.astype(str), 12), dtype="str")
    frame.insert(0, CUSTOMER_ID, ids)
    got, agg = compute_aggregates(frame, spec)
    if len(got) != len(key):
        raise RuntimeError("internal error: prefix rows lost in the aggregates")
    X = score_rows(agg, spec)
    return X, key
