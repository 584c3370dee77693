"""Do these personas mean something? A validity check on the user's own log.

:func:`persona_validity` asks whether personas predict what customers do *after* a cutoff time,
compared with a plain recency/frequency/value (RFV) baseline and with the two together:

1. **Customers** are those with at least one event before ``cutoff``. Only those events build
   the baseline features (:data:`RFV_FEATURES`): days since the last event, number of events,
   number of distinct active days (UTC), sum of ``value`` (when the log has values) and days
   since the first event.
2. **The outcome** comes from the events in ``[cutoff, cutoff + horizon)`` (see ``outcome`` in
   :func:`persona_validity`): a purchase-like activity, churn, the response to a journey, a
   callable or a boolean Series given directly.
3. **Three logistic regressions** (scikit-learn, L2 with ``C=1``) are scored by stratified
   K-fold cross-validation on the same folds: ``"personas"`` (one-hot persona, ``-1`` = no
   persona as its own category, or the soft memberships as they are), ``"rfv"`` (log1p of the
   counts and days, signed log1p of the value, standardized inside each training fold) and
   ``"personas+rfv"``. In ``"personas+rfv"`` the persona columns get a weight from
   :data:`PERSONA_WEIGHTS` chosen on each training fold by an inner 3-fold cross-validation
   (log loss, one-standard-error rule towards smaller weights; a smaller weight is a stronger
   penalty on the persona columns alone). Personas that carry nothing beyond the baseline get
   weight 0, so they cannot make it worse by adding noise; with equal weights for everything,
   seven random personas next to a weak baseline cost about 0.01 AUC, often "significantly".
   The AUC of a feature set is the mean of the AUCs within each held-out fold: one AUC over
   the pooled out-of-fold predictions is biased downwards for labels without signal (each
   fold is scored by rates learned from the other folds, whose outcomes are exactly what the
   fold's own are not), which put random personas at 0.47-0.49.
4. **Confidence intervals** are percentile intervals over ``n_bootstrap`` resamples of the
   customers of each fold (the held-out predictions are resampled, the models are not
   refitted, so the intervals leave out the variation of the fits). The same resamples serve
   the three feature sets, so the *added AUC* (``personas+rfv`` minus ``rfv``) gets a paired
   interval: when its lower bound is above 0, the personas add to RFV. Read the intervals as
   the least uncertainty there is: with 40 random labelings of 2,356 generator customers, the
   personas' 95% interval covered 0.5 for 32 and 33 of them (two outcomes), about 80%; the
   added AUC's interval covered 0 for all 40 (random personas get weight 0 in most folds).
5. **Your own attributes** (``attributes=``, e.g. demographics): two more feature sets on the
   same folds, ``"attributes"`` and ``"personas+attributes"`` (the persona columns weighted as
   next to RFV), scored on the customers that have attributes; the paired gain answers "do the
   personas tell me more than what I already know about my customers?".
6. **Stability** (with ``miner=``, the fitted :class:`~journeymine.personas.PersonaMiner` that
   made the labels): ``clone(miner)`` is refitted on bootstrap samples of ``miner.features_``
   and each refit's labels are compared with the miner's own labels of the same customers by
   the adjusted Rand index (noise ``-1`` counted as its own label).

Personas mined from the whole log have seen the outcome window; for an honest check, mine them
on the events before the cutoff (``log[log["timestamp"] < cutoff]``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError, JourneymineError, NotFittedError
from journeymine.features import canonical_log, timestamps_us
from journeymine.personas._outcomes import format_time, outcome_labels, outcome_window
from journeymine.personas._validity_cv import (
    PERSONA_WEIGHTS,
    fold_mean_auc,
    out_of_fold_scores,
    percentile_interval,
)
from journeymine.personas._validity_inputs import (
    RFV_FEATURES,
    attribute_design,
    persona_design,
    rfv_baseline,
)
from journeymine.personas._validity_result import FEATURE_SETS, PersonaValidity
from journeymine.schema import CUSTOMER_ID

__all__ = [
    "FEATURE_SETS",
    "MIN_CLASS",
    "PERSONA_WEIGHTS",
    "RFV_FEATURES",
    "PersonaValidity",
    "persona_validity",
]

logger = logging.getLogger(__name__)

#: Fewest positive and fewest negative customers the outcome must have.
MIN_CLASS = 10


# -- inputs ---------------------------------------------------------------------------------------
def _int_param(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def _stability(
    miner: Any, runs: int, random_state: int
) -> tuple[float | None, tuple[float, ...], str | None]:
    """Mean ARI of refits of ``clone(miner)`` on bootstrap samples of its features."""
    from sklearn.base import clone
    from sklearn.metrics import adjusted_rand_score

    from journeymine.personas.mining import PersonaMiner

    if not isinstance(miner, PersonaMiner):
        raise ConfigError(
            f"miner must be the fitted PersonaMiner that made the labels, got "
            f"{type(miner).__name__}."
        )
    if not hasattr(miner, "labels_") or not hasattr(miner, "features_"):
        raise NotFittedError("miner is not fitted yet; pass the PersonaMiner after fit(log).")
    feats = miner.features_
    # the refits see feature frames (no sessions): they weigh the columns as the miner did
    scaler: Any = getattr(miner, "scaler_", None)
    reliabilities: dict[str, Any] = {}
    if getattr(scaler, "reliability", None) is not None and hasattr(scaler, "weights_"):
        reliabilities["reliability_weighting"] = scaler.weights_.to_dict()
    original = miner.labels_.reindex(feats.index).fillna(-1).to_numpy(dtype=np.int64)
    rng = np.random.default_rng(random_state)
    aris: list[float] = []
    for k in range(runs):
        idx = rng.choice(len(feats), size=len(feats), replace=True)
        sample = feats.iloc[idx]
        # repeated customers need distinct ids: the miner refuses a repeated index
        sample = sample.set_axis(
            pd.Index([f"{c}#{i}" for i, c in enumerate(sample.index)], name=feats.index.name)
        )
        try:
            refit = clone(miner).set_params(n_bootstrap=0, **reliabilities)
            refit = refit.fit(sample)
        except JourneymineError as exc:
            return None, tuple(aris), f"stability not measured: refit {k + 1} failed ({exc})"
        got = refit.labels_.reindex(sample.index).to_numpy(dtype=np.int64)
        aris.append(float(adjusted_rand_score(original[idx], got)))
    return float(np.mean(aris)), tuple(aris), None


def _names(miner: Any) -> dict[int, str]:
    """Persona id -> name of a fitted miner (empty without one)."""
    profiles = getattr(miner, "profiles_", None)
    if profiles is None or "name" not in profiles:
        return {}
    return {int(p): str(n) for p, n in profiles["name"].items()}


def _check_classes(n_pos: int, n_neg: int, cv: int, words: str, among: str = "") -> None:
    """:class:`ConfigError` when either class is too small for a cross-validated AUC."""
    if min(n_pos, n_neg) < max(MIN_CLASS, cv):
        few = "positive" if n_pos < n_neg else "negative"
        raise ConfigError(
            f"the outcome ({words}) has {n_pos:,} positive and {n_neg:,} negative customers"
            f"{among} of {n_pos + n_neg:,}; at least {max(MIN_CLASS, cv)} of each are needed "
            f"for a cross-validated AUC (too few {few}). Use a longer horizon, an earlier "
            f"cutoff, a more common outcome, or a larger log."
        )


# -- the check ----------------------------------------------------------------------------------
def persona_validity(
    log: pd.DataFrame,
    labels: pd.Series | pd.DataFrame,
    *,
    outcome: str | Callable[[pd.DataFrame, pd.Index], pd.Series] | pd.Series,
    cutoff: Any,
    horizon: Any = None,
    cv: int = 5,
    n_bootstrap: int = 200,
    random_state: int = 0,
    outcome_activities: Sequence[str] | None = None,
    touch_activities: Sequence[str] | None = None,
    response_activities: Sequence[str] | None = None,
    response_window: Any = "48h",
    miner: Any = None,
    stability_runs: int = 3,
    attributes: pd.DataFrame | None = None,
) -> PersonaValidity:
    """Do these personas predict what customers do next, better than recency/frequency/value?

    Parameters
    ----------
    log : DataFrame
        Canonical event log (``customer_id``, ``timestamp``, ``activity``; optional ``value``,
        ``journey_id``); checked by the same gate as the rest of the persona code.
    labels : Series or DataFrame
        Persona per customer_id (e.g. ``PersonaMiner().fit(log).labels_``; ``-1`` = no persona,
        kept as its own category), or soft memberships (customers x personas, values >= 0).
        Every customer with an event before ``cutoff`` must have one.
    outcome : str, callable or Series
        What to predict, from the events in ``[cutoff, cutoff + horizon)``:

        - ``"purchase"``: any event whose activity is in ``outcome_activities`` (default: the
          activity named ``purchase``, if the log has one);
        - ``"activity:NAME"``: any event with activity ``NAME``;
        - ``"churn"``: no event at all (outbound touches count as events; filter the log first
          to count only what customers do);
        - ``"response:JOURNEY"``: a touch of that ``journey_id`` followed within
          ``response_window`` by a response, i.e. an event of the same customer and journey
          whose activity is not a touch (the rule of ``CustomerFeaturizer`` and
          ``ResponseModel``) or is one of ``response_activities``. Only the customers the
          journey touched in the window are scored: a customer never sent the journey cannot
          respond to it;
        - a callable ``f(log_after, customers) -> bool Series`` (index customer_id), given the
          events of the window and the customers;
        - a boolean Series indexed by customer_id.
    cutoff : str or Timestamp
        Splits the log: events before it build the baseline, events from it on the outcome.
        Naive times are UTC. Must lie inside the log.
    horizon : str or Timedelta, optional
        Length of the outcome window, e.g. ``"30D"``. Default: up to the end of the log.
    cv : int, default 5
        Stratified folds (shuffled with ``random_state``).
    n_bootstrap : int, default 200
        Resamples of the customers for the 95% intervals (0: no intervals, NaN).
    random_state : int, default 0
    outcome_activities : list of str, optional
        The purchase-like activities of ``outcome="purchase"``.
    touch_activities : list of str, optional
        Outbound touch activities for ``outcome="response:..."``. Default as in
        ``CustomerFeaturizer``: the log's activities whose name ends in ``sent``, else those
        that open the customers' journeys.
    response_activities : list of str, optional
        What counts as a response for ``outcome="response:..."`` (e.g. clicks, when opens alone
        do not count, as ``Policy.response_activities``). Default: any event of the journey
        that is not a touch.
    response_window : str or Timedelta, default "48h"
        How long after a touch a response counts.
    miner : PersonaMiner, optional
        The fitted miner that made ``labels``: refitted on ``stability_runs`` bootstrap samples
        of ``miner.features_`` to measure stability (mean ARI with its own labels, noise as a
        label). Without it :attr:`PersonaValidity.stability_ari` is None.
    stability_runs : int, default 3
        Refits of the miner.
    attributes : DataFrame, optional
        Customer attributes to compare the personas with (e.g. demographics), one row per
        customer_id (the index, or a ``customer_id`` column): numeric columns as they are,
        any other column as categories (a missing value is its own category). Adds the
        feature sets ``"attributes"`` and ``"personas+attributes"`` (the persona columns
        weighted as next to RFV) and :attr:`PersonaValidity.added_to_attributes`. Only the
        customers with attributes are scored then, by every feature set (said in
        ``notes``), so that all compare on the same customers.

    Returns
    -------
    PersonaValidity
        AUC per feature set with intervals, the AUC the personas add to the baseline, the
        outcome rate per persona, stability, and :meth:`PersonaValidity.summary`.

    Raises
    ------
    ConfigError
        The cutoff is outside the log; the labels do not cover the customers (the message
        counts the missing ones); the outcome is unknown, names an activity or journey not in
        the log, or has fewer than :data:`MIN_CLASS` positive or negative customers; a bad
        ``cv``, ``n_bootstrap``, ``horizon`` or ``response_window``.
    EventLogError, MissingColumnError, EmptyLogError
        The log is not an event log (same messages as everywhere in journeymine).

    Examples
    --------
    >>> import journeymine as jm
    >>> data = jm.datasets.make_journeys(n_customers=600, days=90, random_state=0)
    >>> log = data.events
    >>> before = log[log["timestamp"] < "2025-03-02"]
    >>> miner = jm.PersonaMiner(n_bootstrap=0, random_state=0).fit(before)
    >>> v = jm.persona_validity(log, miner.labels_, outcome="purchase", cutoff="2025-03-02",
    ...                         n_bootstrap=50)
    >>> v.auc["feature_set"].tolist()
    ['personas', 'rfv', 'personas+rfv']
    >>> bool(0.0 <= v.auc["auc"].min() and v.auc["auc"].max() <= 1.0)
    True
    >>> print(v.summary())  # doctest: +ELLIPSIS
    Outcome: activity 'purchase' [2025-03-02 00:00:00, ...
    Personas predict it with AUC ...
    """
    cv = _int_param("cv", cv, 2)
    n_bootstrap = _int_param("n_bootstrap", n_bootstrap, 0)
    random_state = _int_param("random_state", random_state, 0)
    log = canonical_log(log, what="persona_validity")
    t = timestamps_us(log)
    window = outcome_window(t, cutoff, horizon)
    c = window[0]
    before_mask = t < c
    before = log[before_mask]
    customers = pd.Index(sorted(before[CUSTOMER_ID].astype(str).unique()), name=CUSTOMER_ID)
    notes: list[str] = []

    # outcome first (it may narrow the customers), then labels of the scored customers
    y_s, words = outcome_labels(
        outcome,
        log,
        t,
        customers,
        window,
        outcome_activities=outcome_activities,
        touch_activities=touch_activities,
        response_activities=response_activities,
        response_window=response_window,
    )
    scored = y_s.index
    n_pos = int(y_s.sum())
    n_neg = len(y_s) - n_pos
    _check_classes(n_pos, n_neg, cv, words)
    X_p, hard, kind = persona_design(labels, customers)
    A = a_scale = None
    if attributes is not None:
        A, a_scale, a_names = attribute_design(attributes, scored)
        if len(A) < len(scored):
            notes.append(
                f"scored on the {len(A):,} of {len(scored):,} customers that have attributes"
            )
        scored = A.index
        y_s = y_s.loc[scored]
        n_pos = int(y_s.sum())
        n_neg = len(y_s) - n_pos
        _check_classes(n_pos, n_neg, cv, words, " with attributes")
    X_p = X_p.loc[scored]
    rfv = rfv_baseline(before, t[before_mask], customers, c).loc[scored]
    if "monetary" not in rfv.columns:
        notes.append("no value in the log before the cutoff: the baseline has no monetary term")
    R = rfv.to_numpy(dtype=np.float64).copy()
    R = np.sign(R) * np.log1p(np.abs(R))  # log1p of counts and days; signed for value
    y = y_s.to_numpy(dtype=bool)

    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    folds = list(skf.split(np.zeros(len(y)), y))
    P = X_p.to_numpy(dtype=np.float64)
    designs = {
        "personas": (P, np.zeros(P.shape[1], dtype=bool)),
        "rfv": (R, np.ones(R.shape[1], dtype=bool)),
        "personas+rfv": (
            np.hstack([P, R]),
            np.r_[np.zeros(P.shape[1], dtype=bool), np.ones(R.shape[1], dtype=bool)],
        ),
    }
    if A is not None and a_scale is not None:
        M = A.to_numpy(dtype=np.float64)
        designs["attributes"] = (M, a_scale)
        designs["personas+attributes"] = (
            np.hstack([P, M]),
            np.r_[np.zeros(P.shape[1], dtype=bool), a_scale],
        )
    block_of = {
        "personas+rfv": np.r_[np.ones(P.shape[1], dtype=bool), np.zeros(R.shape[1], dtype=bool)],
    }
    if A is not None:
        block_of["personas+attributes"] = np.r_[
            np.ones(P.shape[1], dtype=bool), np.zeros(A.shape[1], dtype=bool)
        ]
    pred: dict[str, np.ndarray] = {}
    weights: list[float] = []
    attribute_weights: list[float] = []
    for name, (X, sc) in designs.items():
        pred[name], w = out_of_fold_scores(X, y, folds, sc, block_of.get(name), random_state)
        if name == "personas+rfv":
            weights += w
        elif name == "personas+attributes":
            attribute_weights += w
    tests = [test for _, test in folds]
    point = {name: fold_mean_auc(y, p, tests) for name, p in pred.items()}

    # resample the customers of each fold (the folds stay as they are), the same resamples
    # for the three feature sets: paired intervals
    rng = np.random.default_rng(random_state)
    sets = list(designs)
    boots = np.full((n_bootstrap, len(sets)), np.nan)
    for b in range(n_bootstrap):
        resampled = [rng.choice(test, size=len(test), replace=True) for test in tests]
        for k, name in enumerate(sets):
            boots[b, k] = fold_mean_auc(y, pred[name], resampled)
    rows = []
    for k, name in enumerate(sets):
        lo, hi = percentile_interval(boots[:, k])
        rows.append((name, point[name], lo, hi))
    auc = pd.DataFrame(rows, columns=["feature_set", "auc", "ci_low", "ci_high"])

    def gain(combined: str, alone: str) -> tuple[float, tuple[float, float]]:
        """What the personas add to ``alone``, with its paired interval."""
        diff = boots[:, sets.index(combined)] - boots[:, sets.index(alone)]
        return point[combined] - point[alone], percentile_interval(diff)

    added, added_ci = gain("personas+rfv", "rfv")
    to_attributes = gain("personas+attributes", "attributes") if A is not None else None

    overall = n_pos / len(y)
    if hard is not None:
        lab = hard.loc[scored]
        g = pd.DataFrame({"persona": lab.to_numpy(), "y": y}).groupby("persona", sort=True)["y"]
        by = pd.DataFrame({"size": g.size(), "n_positive": g.sum()}).reset_index()
        by["size"] = by["size"].astype(np.int64)
        by["n_positive"] = by["n_positive"].astype(np.int64)
    else:
        assert isinstance(labels, pd.DataFrame)
        W = X_p.to_numpy(dtype=np.float64)
        by = pd.DataFrame(
            {
                "persona": list(labels.columns),
                "size": W.sum(0),
                "n_positive": (W * y[:, None]).sum(0),
            }
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        by["outcome_rate"] = by["n_positive"] / by["size"]
    by["lift"] = by["outcome_rate"] / overall

    stability: float | None = None
    runs: tuple[float, ...] = ()
    if miner is not None:
        stability_runs = _int_param("stability_runs", stability_runs, 1)
        stability, runs, why = _stability(miner, stability_runs, random_state)
        if why:
            notes.append(why)
    else:
        notes.append("stability not measured: no miner given")
    if by["size"].gt(0).sum() < 2:
        notes.append("a single persona among the scored customers: the personas cannot rank them")

    params = {
        "cutoff": format_time(c),
        "window_end": format_time(window[1]),
        "cv": cv,
        "n_bootstrap": n_bootstrap,
        "random_state": random_state,
        "labels": kind,
        "rfv_features": list(rfv.columns),
        "persona_weights": weights,
    }
    if A is not None:
        params["attributes"] = a_names
        params["attribute_persona_weights"] = attribute_weights
    result = PersonaValidity(
        auc=auc,
        added_auc=float(added),
        added_auc_ci=added_ci,
        by_persona=by,
        stability_ari=stability,
        n_customers=len(y),
        n_positive=n_pos,
        outcome=words,
        stability_runs=runs,
        notes=tuple(notes),
        params=params,
        added_to_attributes=None if to_attributes is None else float(to_attributes[0]),
        added_to_attributes_ci=None if to_attributes is None else to_attributes[1],
        persona_names=_names(miner),
    )
    logger.info("persona_validity: %s", result.summary().replace("\n", " "))
    return result
