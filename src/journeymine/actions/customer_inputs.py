"""The per-customer inputs of a decision, as arrays aligned on the customers decided for: the
consent attributes a policy's gates read (:func:`attribute_arrays`) and the next-step options
(:func:`next_step_arrays`) from a prediction table, each checked with a clear error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeymine.actions.policy import Policy
from journeymine.exceptions import ConfigError
from journeymine.schema import CUSTOMER_ID

__all__ = ["attribute_arrays", "by_customer", "next_step_arrays"]


def attribute_arrays(policy: Policy, attributes: Any, ids: Any) -> dict[str, np.ndarray] | None:
    """The attribute table's consent columns as bool arrays per customer of ``ids`` (missing
    customers and nulls: False)."""
    need = policy.attributes_needed
    if not need:
        return None
    if attributes is None:
        raise ConfigError(
            f"the policy's consent gates read customer attributes {list(need)}: pass "
            f"attributes= (a DataFrame indexed by customer_id with these boolean columns)."
        )
    if not isinstance(attributes, pd.DataFrame):
        raise ConfigError(
            f"attributes must be a DataFrame indexed by customer_id, got "
            f"{type(attributes).__name__}."
        )
    if CUSTOMER_ID in attributes.columns:
        attributes = attributes.set_index(CUSTOMER_ID)
    missing = [c for c in need if c not in attributes.columns]
    if missing:
        raise ConfigError(
            f"the attribute table has no column {missing[0]!r} that the policy's consent gates "
            f"read; its columns: {list(attributes.columns)}."
        )
    if not attributes.index.is_unique:
        raise ConfigError("the attribute table has repeated customer_ids; keep one row each.")
    table = attributes.copy()
    table.index = table.index.astype(str)
    return {
        c: table[c]
        .reindex(pd.Index(np.asarray(ids, dtype=object)).astype(str))
        .fillna(False)
        .astype(bool)
        .to_numpy()
        for c in need
    }


def by_customer(frame: Any, ids: Any, name: str, expected: str) -> pd.DataFrame:
    """``frame``, a DataFrame indexed by customer_id, with one row per customer of ``ids`` (ids
    compared as text; missing customers: NaN); a ``ConfigError`` naming ``name`` and what was
    ``expected`` for anything else.

    Examples
    --------
    >>> import pandas as pd
    >>> by_customer(pd.DataFrame({"x": [1.0]}, index=[7]), ["7", "8"], "x", "a frame").x.tolist()
    [1.0, nan]
    """
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{name} must be {expected}, got {type(frame).__name__}.")
    out = frame.copy()
    out.index = out.index.astype(str)
    return out.reindex(pd.Index(np.asarray(ids, dtype=object)).astype(str))


def next_step_arrays(
    policy: Policy, next_step: Any, ids: Any
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """From ``NextStepModel.predict`` output: per customer of ``ids``, is the outcome likely
    (``p_outcome >= policy.skip_outcome_above``) and the predicted next channel; None where
    the policy does not use them.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.datasets import sim_policy
    >>> pred = pd.DataFrame({"channel": ["app", "web"], "p_outcome": [0.9, 0.1]},
    ...                     index=["a", "b"])
    >>> likely, channel = next_step_arrays(
    ...     sim_policy(next_step_channels=True, skip_outcome_above=0.5), pred, ["b", "a"])
    >>> likely.tolist(), channel.tolist()
    ([False, True], ['web', 'app'])
    """
    uses = policy.skip_outcome_above is not None or bool(policy.next_step_channels)
    if next_step is None:
        return None, None
    if not uses:
        raise ConfigError(
            "next_step= was given but the policy has no next_step options; add e.g. next_step: "
            "{channels: {app: push, web: email}, skip_outcome_above: 0.6} to the policy."
        )
    frame = by_customer(
        next_step,
        ids,
        "next_step",
        "NextStepModel.predict(log) output (a DataFrame indexed by customer_id)",
    )
    likely = None
    if policy.skip_outcome_above is not None:
        if "p_outcome" not in frame.columns:
            raise ConfigError(
                "the policy skips likely outcomes (next_step.skip_outcome_above) but next_step "
                "has no p_outcome column: fit the model with NextStepModel(outcome='purchase', "
                "horizon='7D')."
            )
        p = frame["p_outcome"].to_numpy(dtype=np.float64, na_value=np.nan)
        likely = np.nan_to_num(p, nan=0.0) >= policy.skip_outcome_above
    channel = None
    if policy.next_step_channels:
        if "channel" not in frame.columns:
            raise ConfigError(
                "the policy sends on the predicted next channel (next_step.channels) but "
                "next_step has no channel column: fit the NextStepModel on a log with channels."
            )
        channel = frame["channel"].astype(object).to_numpy()
    return likely, channel
