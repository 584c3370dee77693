"""Off-policy evaluation: what a candidate policy would earn, from a log of another one.

The log holds, per decision, the action taken (a journey or nothing), the probability with which
the logging decider took it (``propensity``) and the observed ``reward``. For a deterministic
candidate (its action per logged decision):

- IPS: ``mean(1[a = pi] r / p)``;
- self-normalised IPS: ``sum(w r) / sum(w)`` with ``w = 1[a = pi] / p``;
- doubly robust: ``mean(q(x, pi) + w (r - q(x, a)))`` with a reward model ``q`` (default: the
  mean reward per persona x action in the log, cross-fitted on two halves).

95% intervals are normal approximations from the per-decision terms (the delta method for
SNIPS), as in Open Bandit Pipeline's estimators.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError

__all__ = ["evaluate_policy"]

NONE = "(none)"


def _labels(x: Any) -> np.ndarray:
    return np.array(
        [
            NONE if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            for v in np.asarray(x, dtype=object)
        ],
        dtype=object,
    )


def _reward_model(
    log: pd.DataFrame, a: np.ndarray, keys: list[str], rng: np.random.Generator, actions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-fitted mean reward per (keys..., action): q at the logged and at given actions."""
    n = len(log)
    fold = rng.integers(0, 2, n)
    q_a, q_pi = np.zeros(n), np.zeros(n)
    frame = log[keys].copy() if keys else pd.DataFrame(index=log.index)
    frame["_a"] = a
    frame["_r"] = log["reward"].to_numpy(dtype=float)
    for f in (0, 1):
        train = frame[fold != f]
        by = train.groupby([*keys, "_a"])["_r"].mean()
        overall = train.groupby("_a")["_r"].mean()
        test = frame[fold == f]
        for col, acts in (("q_a", a), ("q_pi", actions)):
            acts_f = acts[fold == f]
            idx = pd.MultiIndex.from_arrays([*(test[k] for k in keys), acts_f]) if keys else acts_f
            est = by.reindex(idx).to_numpy()
            fb = overall.reindex(acts_f).to_numpy()
            est = np.where(np.isnan(est), fb, est)
            est = np.where(np.isnan(est), train["_r"].mean(), est)
            (q_a if col == "q_a" else q_pi)[fold == f] = est
    return q_a, q_pi


def evaluate_policy(
    log: pd.DataFrame,
    policy: Any,
    *,
    by: list[str] | None = ("persona",),  # type: ignore[assignment]
    alpha: float = 0.05,
    random_state: int = 0,
) -> pd.DataFrame:
    """Estimate a candidate policy's mean reward per decision from a logged policy's decisions.

    The log must hold the probability with which the logging decider chose each action (an
    exploring :class:`~journeymine.actions.PolicyDecider` records it); the doubly robust
    estimate adds a reward model cross-fitted on two halves of the log.

    Parameters
    ----------
    log : DataFrame
        One row per decision with ``action`` (journey or None), ``propensity`` (of that action
        under the logging decider, in (0, 1]) and ``reward``; e.g.
        ``jm.datasets.simulate(...).decisions``.
    policy : array-like
        The candidate's action (journey or None) for each row of ``log``.
    by : list of str, optional
        Columns of ``log`` the doubly robust reward model conditions on (default ``persona``).
    alpha : float, default 0.05
        1 - confidence of the intervals.

    Returns
    -------
    DataFrame
        Index ``ips``, ``snips``, ``dr`` and ``logged`` (the logging policy's mean reward);
        columns ``estimate``, ``se``, ``lo``, ``hi``, ``matches`` (decisions where the
        candidate agrees with the log).

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"action": ["a", None, "a", None], "propensity": 0.5,
    ...                     "reward": [1.0, 0.0, 1.0, 1.0], "persona": 0})
    >>> float(evaluate_policy(log, ["a", "a", "a", "a"]).loc["ips", "estimate"])
    1.0
    """
    from scipy.stats import norm

    if not isinstance(log, pd.DataFrame):
        raise ConfigError(f"log must be a DataFrame of decisions, got {type(log).__name__}.")
    missing = [c for c in ("action", "propensity", "reward") if c not in log.columns]
    if missing:
        raise ConfigError(
            f"the log has no {missing[0]!r} column; off-policy evaluation needs action, "
            f"propensity and reward per decision (jm.datasets.simulate(...).decisions has them)."
        )
    pi = _labels(policy)
    if len(pi) != len(log):
        raise ConfigError(
            f"policy gives {len(pi)} actions for {len(log)} logged decisions; give one per row."
        )
    p = log["propensity"].to_numpy(dtype=float)
    if not np.all((p > 0) & (p <= 1)):
        raise ConfigError(
            "propensities must be in (0, 1]; a zero propensity means the logging decider could "
            "never take that action, and the log cannot evaluate a policy that takes it."
        )
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha!r}.")
    keys = [k for k in (by or ()) if k in log.columns]
    a = _labels(log["action"])
    r = log["reward"].to_numpy(dtype=float)
    match = a == pi
    w = match / p
    n = len(r)
    z = norm.ppf(1 - alpha / 2)
    out = {}
    t = w * r
    out["ips"] = (t.mean(), t.std(ddof=1) / np.sqrt(n))
    sw = w.sum()
    sn = (w * r).sum() / sw if sw > 0 else np.nan
    infl = w * (r - sn) / max(w.mean(), 1e-12)
    out["snips"] = (sn, infl.std(ddof=1) / np.sqrt(n))
    q_a, q_pi = _reward_model(log, a, keys, np.random.default_rng(random_state), pi)
    d = q_pi + w * (r - q_a)
    out["dr"] = (d.mean(), d.std(ddof=1) / np.sqrt(n))
    out["logged"] = (r.mean(), r.std(ddof=1) / np.sqrt(n))
    rows = {
        k: {"estimate": m, "se": s, "lo": m - z * s, "hi": m + z * s, "matches": int(match.sum())}
        for k, (m, s) in out.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")
