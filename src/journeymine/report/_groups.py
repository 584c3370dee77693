"""Which group each customer is in, for the journey report's funnel and process maps per group:
their persona (``personas=``, named by ``persona_names=``) or the value of a ``segment=`` column
on their first event.

Examples
--------
>>> import pandas as pd
>>> log = pd.DataFrame({
...     "customer_id": ["a", "a", "b", "c"],
...     "timestamp": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-01", "2024-01-03"]),
...     "tier": ["gold", "silver", None, "gold"],
... })
>>> labels, group = customer_groups(log, None, None, "tier")
>>> group, labels.to_dict()
('tier', {'a': 'silver', 'b': '(none)', 'c': 'gold'})
>>> personas = pd.Series({"a": 0, "b": -1, "c": 0})
>>> labels, group = customer_groups(log, personas, {0: "browsers"}, None)
>>> group, labels.to_dict()
('persona', {'a': '0: browsers', 'b': 'no persona', 'c': '0: browsers'})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError, did_you_mean
from journeymine.report._common import NO_PERSONA_NAME, persona_label
from journeymine.schema import CUSTOMER_ID, TIMESTAMP

__all__ = ["customer_groups"]

logger = logging.getLogger(__name__)


def customer_groups(
    log: pd.DataFrame,
    personas: pd.Series | Mapping[str, Any] | None,
    persona_names: Mapping[Any, str] | None,
    segment: str | None,
) -> tuple[pd.Series | None, str]:
    """The group of every customer of ``log`` (index customer_id as text; ``None`` when
    neither ``personas`` nor ``segment`` is given) and what the groups are: ``"persona"`` or
    the ``segment`` column. A :class:`~journeymine.exceptions.ConfigError` when both are given.
    """
    if segment is not None and personas is not None:
        raise ConfigError(
            "give personas= or segment=, not both: the report segments customers one way."
        )
    if segment is not None:
        return _segment_labels(log, segment), str(segment)
    if personas is not None:
        return _persona_labels(log, personas, persona_names), "persona"
    return None, "persona"


def _persona_labels(
    log: pd.DataFrame,
    personas: pd.Series | Mapping[str, Any],
    names: Mapping[Any, str] | None,
) -> pd.Series:
    """Readable persona label of every customer of the log ("no persona" for -1 / missing)."""
    raw = personas if isinstance(personas, pd.Series) else pd.Series(dict(personas))
    if not isinstance(raw, pd.Series):
        raise ConfigError("personas must be a Series or mapping customer_id -> persona label.")
    raw = raw.copy()
    raw.index = raw.index.astype(str)
    customers = pd.Index(log[CUSTOMER_ID].unique()).astype(str)
    missing = int((~customers.isin(raw.index)).sum())
    if missing == len(customers):
        raise ConfigError(
            "personas= labels none of the log's customers: its index must be customer_id "
            "(e.g. PersonaMiner().fit(log).labels_)."
        )
    if missing:
        logger.info("%d customers have no persona label; shown as %r", missing, NO_PERSONA_NAME)
    lab = raw.astype(object).reindex(customers)  # object: ids stay 3, not 3.0, beside gaps

    def name(v: Any) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return NO_PERSONA_NAME
        return persona_label(v, names or {})

    return pd.Series([name(v) for v in lab], index=customers, name="persona")


def _segment_labels(log: pd.DataFrame, segment: str) -> pd.Series:
    """Each customer's value of column ``segment`` on their first event (as text)."""
    if (
        not isinstance(segment, str)
        or segment not in log.columns
        or segment in (CUSTOMER_ID, TIMESTAMP)
    ):
        usable = [c for c in log.columns if c not in (CUSTOMER_ID, TIMESTAMP)]
        raise ConfigError(
            f"segment={segment!r} is not a column of the log."
            f"{did_you_mean(str(segment), usable)} Columns: {usable}."
        )
    first = (
        log[[CUSTOMER_ID, TIMESTAMP, segment]]
        .sort_values([CUSTOMER_ID, TIMESTAMP], kind="stable")
        .drop_duplicates(CUSTOMER_ID)
        .set_index(CUSTOMER_ID)[segment]
    )
    labels = first.astype(object).where(first.notna(), "(none)").astype(str)
    labels.index = labels.index.astype(str)
    return labels.rename(segment)
