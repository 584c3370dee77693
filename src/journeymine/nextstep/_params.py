"""The checks of :class:`~journeymine.NextStepModel`'s parameters (one job: say what is wrong,
what is allowed, all at once)."""

from __future__ import annotations

from typing import Any

import numpy as np

from journeymine.exceptions import ConfigError
from journeymine.schema import check_duration

__all__ = ["check_params", "horizon_seconds"]


def horizon_seconds(horizon: Any) -> float:
    """The outcome horizon (``'7D'``, ``'12h'``, a timedelta) in seconds; :class:`ConfigError`
    when it is not a positive duration."""
    return float(
        check_duration(horizon, "horizon", examples="'7D', '12h' or a timedelta").total_seconds()
    )


def check_params(model: Any) -> None:
    """Raise one :class:`ConfigError` listing every parameter of ``model`` (a
    :class:`~journeymine.NextStepModel`) that is out of range."""

    def is_int(v: Any) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    def is_num(v: Any) -> bool:
        return isinstance(v, int | float | np.number) and not isinstance(v, bool)

    rules: list[tuple[str, bool, str]] = [
        ("n_lags", is_int(model.n_lags) and 1 <= model.n_lags <= 50, "an integer in [1, 50]"),
        ("end_of_case", isinstance(model.end_of_case, bool), "True or False"),
        ("max_iter", is_int(model.max_iter) and model.max_iter >= 1, "an integer >= 1"),
        (
            "learning_rate",
            is_num(model.learning_rate) and 0 < model.learning_rate <= 1,
            "a number in (0, 1]",
        ),
        (
            "max_leaf_nodes",
            is_int(model.max_leaf_nodes) and model.max_leaf_nodes >= 2,
            "an integer >= 2",
        ),
        (
            "l2_regularization",
            is_num(model.l2_regularization) and model.l2_regularization >= 0,
            "a number >= 0",
        ),
        (
            "min_samples_leaf",
            is_int(model.min_samples_leaf) and model.min_samples_leaf >= 1,
            "an integer >= 1",
        ),
        (
            "validation_size",
            is_num(model.validation_size) and 0 <= model.validation_size < 0.5,
            "a number in [0, 0.5)",
        ),
        ("refit", isinstance(model.refit, bool), "True or False"),
        (
            "tree_weight",
            (isinstance(model.tree_weight, str) and model.tree_weight == "auto")
            or (is_num(model.tree_weight) and 0 <= float(model.tree_weight) <= 1),
            "'auto' or a number in [0, 1]",
        ),
        (
            "max_samples",
            is_int(model.max_samples) and model.max_samples >= 100,
            "an integer >= 100",
        ),
        (
            "n_jobs",
            model.n_jobs is None or (is_int(model.n_jobs) and model.n_jobs >= 1),
            "None or an integer >= 1",
        ),
        (
            "random_state",
            is_int(model.random_state) and 0 <= model.random_state < 2**32,
            "an integer in [0, 2**32)",
        ),
        (
            "outcome",
            model.outcome is None or (isinstance(model.outcome, str) and bool(model.outcome)),
            "None or an activity name",
        ),
    ]
    bad = [
        f"{name} must be {allowed}, got {getattr(model, name)!r}"
        for name, ok, allowed in rules
        if not ok
    ]
    if bad:
        raise ConfigError("NextStepModel: " + "; ".join(bad) + ".")
    if model.outcome is not None:
        horizon_seconds(model.horizon)
