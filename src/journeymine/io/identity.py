"""Identity stitching: re-key events of devices and cookies to the customers they belong to."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from journeymine import schema
from journeymine.exceptions import ConfigError, EventLogError, MissingColumnError, did_you_mean

__all__ = ["StitchReport", "stitch_identities"]

logger = logging.getLogger(__name__)
_MAX_EXAMPLES = 10


@dataclass(frozen=True)
class StitchReport:
    """What :func:`stitch_identities` did.

    Attributes
    ----------
    components : int
        Identity groups (connected components) among the events: customers after stitching.
    ids_merged : int
        Distinct ``customer_id`` values of the input that were replaced by another id.
    customers_merged : int
        Groups that join two or more known customers: a possible over-merge (e.g. a shared
        family tablet or a public computer). Inspect ``merged_examples``.
    events_rekeyed : int
        Events whose ``customer_id`` changed.
    merged_examples : tuple of tuple of str
        Up to 10 groups of known customers that were merged, smallest ids first.

    Examples
    --------
    >>> from journeymine.io import StitchReport
    >>> report = StitchReport(components=2, ids_merged=1, customers_merged=0, events_rekeyed=3)
    >>> print(report)  # doctest: +ELLIPSIS
    identity stitching: 2 customers after stitching; 1 ids merged into others; 3 events re-keyed...
    """

    components: int
    ids_merged: int
    customers_merged: int
    events_rekeyed: int
    merged_examples: tuple[tuple[str, ...], ...] = ()

    def __str__(self) -> str:
        return (
            f"identity stitching: {self.components} customers after stitching; "
            f"{self.ids_merged} ids merged into others; {self.events_rekeyed} events re-keyed; "
            f"{self.customers_merged} groups join several known customers (possible over-merge)"
        )


def _check(log: pd.DataFrame, id_map: pd.DataFrame | None, keys: Sequence[str]) -> list[str]:
    if isinstance(keys, str):
        keys = (keys,)
    keys = list(keys)
    if not keys:
        raise ConfigError("keys must name at least one identifier column, e.g. ('device_id',).")
    if schema.CUSTOMER_ID in keys:
        raise ConfigError("keys are the identifiers other than customer_id, e.g. ('device_id',).")
    schema.require_columns(log, [schema.CUSTOMER_ID, *keys], purpose="stitch_identities")
    if id_map is not None:
        if not isinstance(id_map, pd.DataFrame):
            raise ConfigError(f"id_map must be a DataFrame, got {type(id_map).__name__}.")
        if schema.CUSTOMER_ID not in id_map.columns or not any(k in id_map.columns for k in keys):
            available = [str(c) for c in id_map.columns]
            wanted = schema.CUSTOMER_ID if schema.CUSTOMER_ID not in id_map.columns else keys[0]
            raise MissingColumnError(
                f"id_map needs a {schema.CUSTOMER_ID!r} column and at least one of {keys}."
                f"{did_you_mean(wanted, available)} Available columns: {available}."
            )
    return keys


def _codes(values: list[pd.Series]) -> tuple[list[np.ndarray], np.ndarray]:
    """Factorize several Series together (sorted uniques); nulls get -1."""
    joined = pd.concat(values, ignore_index=True) if values else pd.Series([], dtype="str")
    codes, uniques = pd.factorize(joined, sort=True)
    out, start = [], 0
    for v in values:
        out.append(codes[start : start + len(v)])
        start += len(v)
    return out, np.asarray(uniques, dtype=object)


def stitch_identities(
    log: pd.DataFrame,
    id_map: pd.DataFrame | None = None,
    *,
    keys: Sequence[str] = ("device_id",),
) -> tuple[pd.DataFrame, StitchReport]:
    """Give every event of one person the same ``customer_id``.

    Identifiers are linked when they occur on the same event (a logged-in event with
    ``customer_id`` and ``device_id``) or in a row of ``id_map``. Linked identifiers form a
    group (connected component); every event of a group gets the group's smallest known
    ``customer_id``. A group without a known customer (only anonymous devices) gets the smallest
    ``customer_id`` its events had, which is usually the device id.

    An event's ``customer_id`` counts as a known customer unless it equals one of the event's
    own ``keys`` values (exports such as GA4 fill ``customer_id`` with the device id when the
    user is not logged in). Every ``customer_id`` of ``id_map`` is known.

    Parameters
    ----------
    log : DataFrame
        Events with ``customer_id`` and the ``keys`` columns (nulls allowed in the keys).
    id_map : DataFrame, optional
        Known links: a ``customer_id`` column and one or more of the ``keys`` columns.
    keys : sequence of str, default ("device_id",)
        Identifier columns that link events (device ids, cookie ids, hashed e-mails...).

    Returns
    -------
    log : DataFrame
        A new log with re-keyed ``customer_id``, sorted by (customer_id, timestamp) when it has
        a timestamp column; all other columns unchanged.
    report : StitchReport
        Counts of what was merged; also logged at INFO level.

    Raises
    ------
    MissingColumnError
        ``customer_id`` or a key column is absent from ``log`` or ``id_map``.
    ConfigError
        ``keys`` is empty or names ``customer_id``.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer_id": ["d1", "d1", "alice", "d2"],
    ...     "device_id": ["d1", "d1", "d1", "d2"],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03",
    ...                                  "2025-01-01"], utc=True),
    ... })
    >>> out, report = stitch_identities(log)
    >>> out["customer_id"].tolist()
    ['alice', 'alice', 'alice', 'd2']
    >>> report.events_rekeyed, report.components
    (2, 2)
    """
    keys = _check(log, id_map, keys)
    n = len(log)
    cust = log[schema.CUSTOMER_ID]
    if cust.isna().any():
        raise EventLogError(
            "customer_id has nulls. Fill them with the device id (or run jm.validate) first."
        )
    cust_text = cust.astype("str").reset_index(drop=True)
    key_text = [
        log[k].astype("str").where(log[k].notna().to_numpy(), None).reset_index(drop=True)
        for k in keys
    ]
    anonymous = np.zeros(n, dtype=bool)
    for kt in key_text:
        anonymous |= (kt == cust_text).fillna(False).to_numpy(dtype=bool)

    map_cust: list[pd.Series] = []
    map_keys: list[pd.Series | None] = [None] * len(keys)
    if id_map is not None:
        rows = id_map[id_map[schema.CUSTOMER_ID].notna()].reset_index(drop=True)
        map_cust = [rows[schema.CUSTOMER_ID].astype("str")]
        for i, k in enumerate(keys):
            if k in rows.columns:
                map_keys[i] = rows[k].astype("str").where(rows[k].notna().to_numpy(), None)

    # node numbering: known customers first, then each key's values
    known_rows = cust_text.where(~anonymous, None)
    (c_rows, *c_map), c_uniques = _codes([known_rows, *map_cust])
    n_cust = len(c_uniques)
    offset = n_cust
    key_nodes: list[np.ndarray] = []
    map_key_nodes: list[np.ndarray | None] = []
    for kt, mk in zip(key_text, map_keys, strict=True):
        parts = [kt] + ([mk] if mk is not None else [])
        codes, uniques = _codes(parts)
        key_nodes.append(np.where(codes[0] >= 0, codes[0] + offset, -1))
        map_key_nodes.append(None if mk is None else np.where(codes[1] >= 0, codes[1] + offset, -1))
        offset += len(uniques)
    n_nodes = offset

    # each row's primary node: its known customer, else its first non-null key
    primary = np.where(c_rows >= 0, c_rows, -1)
    for kn in key_nodes:
        primary = np.where(primary >= 0, primary, kn)
    src, dst = [], []
    for kn in key_nodes:
        ok = (kn >= 0) & (primary >= 0)
        src.append(primary[ok])
        dst.append(kn[ok])
    if c_map:
        for mk in map_key_nodes:
            if mk is None:
                continue
            ok = mk >= 0
            src.append(c_map[0][ok])
            dst.append(mk[ok])
    src_a = np.concatenate(src) if src else np.zeros(0, dtype=np.int64)
    dst_a = np.concatenate(dst) if dst else np.zeros(0, dtype=np.int64)
    graph = coo_matrix(
        (np.ones(len(src_a), dtype=np.int8), (src_a, dst_a)), shape=(n_nodes, n_nodes)
    ).tocsr()
    n_comp, labels = connected_components(graph, directed=False)

    # every row has a primary node: a known customer, or else a key equal to its customer_id
    row_comp = labels[primary]
    big = np.iinfo(np.int64).max
    best_cust = np.full(n_comp, big, dtype=np.int64)  # sorted codes: smallest code = smallest id
    np.minimum.at(best_cust, labels[:n_cust], np.arange(n_cust, dtype=np.int64))
    orig_codes, orig_uniques = pd.factorize(cust_text, sort=True)
    best_orig = np.full(n_comp, big, dtype=np.int64)
    np.minimum.at(best_orig, row_comp, orig_codes)
    rep = np.empty(n_comp, dtype=object)
    known = best_cust != big
    rep[known] = np.asarray(c_uniques, dtype=object)[best_cust[known]]
    anon = ~known & (best_orig != big)
    rep[anon] = np.asarray(orig_uniques, dtype=object)[best_orig[anon]]
    new_ids = rep[row_comp]
    changed = new_ids != cust_text.to_numpy(dtype=object)

    per_comp_customers = np.bincount(labels[:n_cust], minlength=n_comp)
    merged = np.flatnonzero(per_comp_customers > 1)
    event_comps = np.unique(row_comp)
    merged = merged[np.isin(merged, event_comps)]
    examples = []
    for k in merged[:_MAX_EXAMPLES]:
        examples.append(tuple(str(v) for v in c_uniques[labels[:n_cust] == k]))
    report = StitchReport(
        components=len(event_comps),
        ids_merged=int(pd.unique(cust_text[changed]).size),
        customers_merged=len(merged),
        events_rekeyed=int(changed.sum()),
        merged_examples=tuple(examples),
    )
    logger.info("%s", report)
    out = log.copy(deep=False)
    out[schema.CUSTOMER_ID] = pd.Series(new_ids, index=log.index, dtype="str")
    if schema.TIMESTAMP in out.columns:
        out = schema.sort_events(out)
    return out.reset_index(drop=True), report
