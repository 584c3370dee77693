"""Training the boosted heads (one job: prefixes and targets in, compiled forests out).

Each target has its own :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (regressor
with Poisson loss for the time, so the prediction is an expected value). The number of boosting
rounds is chosen by early stopping on held-out *cases* and the classifiers' probabilities are
then calibrated by temperature scaling on those cases (:mod:`journeymine.nextstep._calibrate`).
Each fitted ensemble is compiled into flat numpy arrays (:mod:`journeymine.nextstep._forest`).

The held-out cases are also the evidence on which the trees are weighed against the count model
(:mod:`journeymine.nextstep._blend`); :func:`cross_fitted_evidence` widens that evidence with
groups of training cases predicted by activity trees refitted without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from journeymine.exceptions import ConfigError
from journeymine.nextstep._blend import MIN_HELD_OUT
from journeymine.nextstep._calibrate import apply_temperature, fit_temperature
from journeymine.nextstep._events import Events, encode_codes, outcome_within
from journeymine.nextstep._forest import compile_forest
from journeymine.nextstep._params import horizon_seconds
from journeymine.nextstep._prefix import PrefixSpec, activity_codes
from journeymine.schema import CHANNEL

__all__ = [
    "CROSSFIT_GROUPS",
    "CROSSFIT_ROWS",
    "HeadFit",
    "case_split",
    "cross_fitted_evidence",
    "fit_heads",
    "targets",
]

#: Groups of training cases (each the size of the held-out set) added to the evidence of the
#: trees-versus-counts weights by :func:`cross_fitted_evidence`: three times the held-out
#: evidence for two more fits of the activity trees.
CROSSFIT_GROUPS = 2
#: No group is added once the evidence holds this many prefixes (large logs: the held-out cases
#: alone tell the trees from the counts, and the fit time stays that of one model).
CROSSFIT_ROWS = 30_000

Target = tuple[np.ndarray, np.ndarray]  # (prefix-end rows, target per row)


def case_split(n_cases: int, size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training cases, held-out cases): a seeded random ``size`` share of the cases held out."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_cases)
    n_val = round(n_cases * size)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def targets(
    ev: Events,
    spec: PrefixSpec,
    *,
    channels: list[str],
    end_of_case: bool,
    outcome: str | None,
    horizon: Any,
    log_end: float,
) -> dict[str, Target]:
    """Per head: (prefix-end rows, target) of every training prefix: the next activity (code;
    the end of the case as code ``len(spec.activities)`` with ``end_of_case``), the next channel,
    the seconds to the next event and, with ``outcome``, whether it happens within ``horizon``
    (prefixes whose horizon runs past ``log_end`` without it are left out)."""
    n = ev.n_events
    idx = np.arange(n)
    has_next = np.ones(n, dtype=bool)
    has_next[ev.last] = False
    codes = activity_codes(ev, spec)
    nxt = np.minimum(idx + 1, n - 1)
    out: dict[str, Target] = {}
    y_act = np.where(has_next, codes[nxt], len(spec.activities) if end_of_case else -1)
    ok = y_act >= 0
    out["activity"] = (idx[ok], y_act[ok])
    if channels:
        ch = encode_codes(ev.columns[CHANNEL], channels)
        y_ch = np.where(has_next, ch[nxt], -1)
        ok = y_ch >= 0
        out["channel"] = (idx[ok], y_ch[ok])
    gap = ev.t[nxt] - ev.t
    out["time"] = (idx[has_next], np.maximum(gap[has_next], 0.0))
    if outcome is not None:
        within, known = outcome_within(ev, outcome, horizon_seconds(horizon), log_end)
        out["outcome"] = (idx[known], within[known].astype(np.int64))
    return out


def _hgb(params: dict[str, Any], spec: PrefixSpec, kind: str, max_iter: int, early: bool) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    common = dict(
        learning_rate=float(params["learning_rate"]),
        max_iter=int(max_iter),
        max_leaf_nodes=int(params["max_leaf_nodes"]),
        l2_regularization=float(params["l2_regularization"]),
        min_samples_leaf=int(params["min_samples_leaf"]),
        categorical_features=spec.categorical_mask,
        early_stopping=early,
        n_iter_no_change=15,
        random_state=int(params["random_state"]),
    )
    if kind == "regressor":
        return HistGradientBoostingRegressor(loss="poisson", **common)
    return HistGradientBoostingClassifier(**common)


@dataclass
class HeadFit:
    """What :func:`fit_heads` learnt."""

    heads: dict[str, Any] = field(default_factory=dict)  # Forest, or an int: a constant head
    temperatures: dict[str, float] = field(default_factory=dict)
    n_iter: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    # the activity trees' calibrated probabilities on held-out prefixes: (mask over the activity
    # target's rows, (rows, n_classes) probabilities); None when nothing was held out
    held_out: tuple[np.ndarray, np.ndarray] | None = None


def fit_heads(
    ev: Events,
    spec: PrefixSpec,
    head_targets: dict[str, Target],
    X_all: np.ndarray,
    where: np.ndarray,
    is_val: np.ndarray,
    *,
    params: dict[str, Any],
    n_classes: int,
) -> HeadFit:
    """One boosted model per head, early-stopped and calibrated on the held-out cases
    (``is_val``, per case), refitted on every case with ``params["refit"]``.

    ``X_all[where[row]]`` are the features of the prefix ending at event ``row``.
    """
    fit = HeadFit()
    for head, (rows, y) in head_targets.items():
        if len(rows) == 0:
            continue
        X = X_all[where[rows]]
        # a feature missing in every row of a head (e.g. delta2 when no prefix has three
        # events) cannot be binned; as a constant it is never split on: scoring unchanged
        X[:, np.isnan(X[~is_val[ev.case[rows]]]).all(axis=0)] = 0.0
        v = is_val[ev.case[rows]]
        kind = "regressor" if head == "time" else "classifier"
        labels = np.unique(y[~v])
        if kind == "classifier" and len(labels) < 2:
            if head == "activity":
                raise ConfigError(
                    "NextStepModel.fit: every next activity in the log is the same; there is "
                    "nothing to predict."
                )
            fit.heads[head] = int(labels[0]) if len(labels) else 0  # constant head
            fit.temperatures[head] = 1.0
            fit.n_iter[head] = 0
            continue
        val_ok = v & np.isin(y, labels) if kind == "classifier" else v
        early = bool(val_ok.sum() >= 20)
        est = _hgb(params, spec, kind, params["max_iter"], early)
        if early:
            est.fit(X[~v], y[~v], X_val=X[val_ok], y_val=y[val_ok])
        else:
            est.fit(X[~v], y[~v])
        n_iter = int(est.n_iter_)
        temp = 1.0
        if kind == "classifier" and early:
            p = est.predict_proba(X[val_ok])
            col = np.searchsorted(est.classes_, y[val_ok])
            temp = fit_temperature(p, col)
            pred = est.classes_[p.argmax(axis=1)]
            fit.metrics[f"{head}_validation_accuracy"] = float(np.mean(pred == y[val_ok]))
            if head == "activity":  # the trees' calibrated probabilities, for the blend
                full = np.zeros((int(val_ok.sum()), n_classes))
                full[:, est.classes_] = apply_temperature(p, temp)
                fit.held_out = (val_ok, full)
        if params["refit"] and v.any():
            est = _hgb(params, spec, kind, n_iter, False).fit(X, y)
        fit.heads[head] = compile_forest(est)
        fit.temperatures[head] = float(temp)
        fit.n_iter[head] = n_iter
    return fit


def cross_fitted_evidence(
    ev: Events,
    target: Target,
    X_all: np.ndarray,
    where: np.ndarray,
    is_val: np.ndarray,
    fit: HeadFit,
    *,
    spec: PrefixSpec,
    params: dict[str, Any],
    n_classes: int,
    n_groups: int = CROSSFIT_GROUPS,
    max_rows: int = CROSSFIT_ROWS,
) -> tuple[tuple[np.ndarray, np.ndarray] | None, int]:
    """The activity trees' calibrated probabilities on held-out prefixes, widened by case-level
    cross-fitting: the evidence on which the blend weights are chosen.

    :func:`fit_heads` gives the probabilities on the held-out cases, the very cases that chose
    the trees' number of rounds and their temperature; on a few hundred cases that evidence is
    noisy and leans to the trees. Here the other training cases are split (seeded) into groups
    of the held-out set's size, and for at most ``n_groups`` of them the activity trees are
    refitted without the group (on as many cases as the model's trees, with the rounds and the
    temperature chosen on the held-out cases, so the group chose nothing) and predict it. Each
    evidence row is thus predicted by trees that never saw its case. Nothing is added once the
    evidence holds ``max_rows`` prefixes, nor without held-out evidence or with fewer than
    :data:`~journeymine.nextstep._blend.MIN_HELD_OUT` held-out prefixes (a tiny log, whose
    next activity is the count model's: :func:`~journeymine.nextstep._blend.fit_count_blend`).

    Parameters
    ----------
    ev : Events
    target : (rows, y)
        The activity head's prefix-end rows and next activity (:func:`targets`).
    X_all, where : ndarray
        ``X_all[where[row]]`` are the features of the prefix ending at event ``row``.
    is_val : ndarray of bool, shape (n_cases,)
        The held-out cases.
    fit : HeadFit
        What :func:`fit_heads` learnt (its rounds, temperature and ``held_out``).
    spec, params, n_classes
        The prefix spec, the estimator's parameters, the number of activity classes.
    n_groups, max_rows : int
        At most this many groups; none once the evidence holds ``max_rows`` prefixes.

    Returns
    -------
    (evidence, groups)
        ``(mask over the target's rows, (rows, n_classes) probabilities)`` as
        :attr:`HeadFit.held_out` (None when there is none), and how many groups were added.
    """
    held_out = fit.held_out  # set only with activity trees early-stopped on held-out cases
    if held_out is None or n_groups < 1 or not MIN_HELD_OUT <= held_out[0].sum() < max_rows:
        return held_out, 0  # under MIN_HELD_OUT held-out prefixes: the counts alone anyway
    rows, y = target
    mask, proba = held_out
    n_val = int(is_val.sum())
    train_cases = np.flatnonzero(~is_val)
    rng = np.random.default_rng(int(params["random_state"]) + 1)
    groups = np.array_split(rng.permutation(train_cases), max(1, round(len(train_cases) / n_val)))
    X = X_all[where[rows]]
    case = ev.case[rows]
    full = np.zeros((len(rows), n_classes))
    full[mask] = proba
    evidence = mask.copy()
    added = 0
    for g in groups[:n_groups]:
        if int(evidence.sum()) >= max_rows:
            break
        in_g = np.zeros(len(is_val), dtype=bool)
        in_g[g] = True
        v = in_g[case]
        labels = np.unique(y[~v])
        ok = v & np.isin(y, labels)
        if ok.sum() == 0 or len(labels) < 2:
            continue
        Xg = X.copy()
        Xg[:, np.isnan(Xg[~v]).all(axis=0)] = 0.0  # as fit_heads: constant, never split on
        est = _hgb(params, spec, "classifier", fit.n_iter["activity"], False).fit(Xg[~v], y[~v])
        p = apply_temperature(est.predict_proba(Xg[ok]), fit.temperatures["activity"])
        full[np.flatnonzero(ok)[:, None], est.classes_[None, :]] = p
        evidence |= ok
        added += 1
    return (evidence, full[evidence]), added
