"""The evidence an uplift model learns from, read from a log: the touches and holdouts of a
policy's journeys with their outcomes within the response window (:func:`uplift_points`,
:func:`outcome_after`), and soft persona memberships checked (:func:`check_memberships`).
Shared by :class:`~journeymine.actions.UpliftModel` and
:class:`~journeymine.actions.FeatureUplift`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeymine.actions._index import EventIndex
from journeymine.actions.policy import Policy
from journeymine.actions.response import touch_rows
from journeymine.exceptions import ConfigError

__all__ = ["check_memberships", "outcome_after", "uplift_points"]


def outcome_after(index: EventIndex, policy: Policy, rows: np.ndarray) -> np.ndarray:
    """For each row: an event of ``policy.outcome_activities`` by the same customer in
    ``(t, t + response_window]``?"""
    t = index.t[rows]
    w = policy.response_window_s
    return index.count(policy.outcome_activities, index.code[rows], t + w + 1, w) > 0


def uplift_points(
    log: pd.DataFrame, policy: Policy
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """The touches and holdouts of the policy's journeys in ``log``: customer ids, journey
    index, holdout flag and outcome (within the response window).

    The points come in one order whatever the log's row order: by customer id, time (to the
    second), journey index, touches before holdouts. Everything fitted from them (the counts of
    an UpliftModel, the folds and logistic regressions of a FeatureUplift) is then a function
    of the log's content: a log read in file order, shuffled or sorted gives the same model.
    Points equal in all four are equal in every value returned.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.actions import Policy
    >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
    ...     "activity": "email_sent"}], "response_window": "24h"})
    >>> log = pd.DataFrame({"customer_id": ["b", "a", "a", "b"],
    ...     "timestamp": ["2025-01-01 09:00", "2025-01-02 09:00", "2025-01-01 09:00",
    ...                   "2025-01-01 10:00"],
    ...     "activity": ["holdout", "email_sent", "email_sent", "purchase"],
    ...     "journey_id": ["offer", "offer", "offer", None]})
    >>> cust, j, held, y = uplift_points(log, policy)
    >>> list(cust), j.tolist(), held.tolist(), y.tolist()
    (['a', 'a', 'b'], [0, 0, 0], [False, False, True], [False, False, True])
    """
    names = [j.name for j in policy.journeys]
    index = EventIndex(log, product_column=None)
    treated = touch_rows(index, policy)
    held = index.is_activity((policy.holdout_activity,))
    named = np.zeros(len(held), dtype=bool)
    for name in names:
        named |= index.is_journey(name)
    rows = np.flatnonzero(treated | (held & named))
    if not len(rows):
        return np.array([], dtype=object), np.array([], dtype=np.int64), held[rows], held[rows]
    j = pd.Index(names).get_indexer(index.journey_name(rows))
    # the canonical order (customer codes follow the sorted ids), not the log's row order
    order = np.lexsort((held[rows], j, index.t[rows], index.code[rows]))
    rows, j = rows[order], j[order]
    y = outcome_after(index, policy, rows)
    cust = index.customers[index.code[rows]]
    return cust, j, held[rows], y


def check_memberships(memberships: pd.DataFrame) -> list[int]:
    """The persona ids of a membership table, checked (integer ids, values in [0, 1], rows
    summing to at most 1); a ``ConfigError`` says what is wrong and how to fix it.

    Examples
    --------
    >>> import pandas as pd
    >>> check_memberships(pd.DataFrame({0: [0.2], 3: [0.8]}, index=["a"]))
    [0, 3]
    """
    try:
        cols = [int(c) for c in memberships.columns]
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"memberships must have one column per persona id (integers), got columns "
            f"{list(memberships.columns)[:5]}; pass e.g. the posterior of "
            f"PersonaMiner.membership()."
        ) from exc
    if any(c < 0 for c in cols) or len(set(cols)) != len(cols):
        raise ConfigError(
            f"membership columns must be distinct persona ids >= 0, got {cols}; leave the "
            f"customers without a persona at weight 0 (they get the pooled estimate)."
        )
    M = memberships.to_numpy(dtype=np.float64, na_value=0.0)
    if len(M) and (
        not np.isfinite(M).all() or M.min() < 0 or M.max() > 1 or (M.sum(1) > 1 + 1e-6).any()
    ):
        raise ConfigError(
            "memberships must be probabilities: values in [0, 1] with each customer's row "
            "summing to at most 1 (normalise the rows, or pass hard persona ids)."
        )
    return cols
