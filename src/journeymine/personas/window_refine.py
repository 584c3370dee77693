"""Window evidence refined by a classifier that learns from every window together.

The persona model's memberships of a customer in one window (the evidence of
:mod:`~journeymine.personas.window_hmm`) come from a Gaussian mixture: where a customer lies
between two personas, the mixture is often nearly certain of one of them, and a customer who
never changed is then reported as moving. The windows together know better: the hidden-state
model's labels use every window of a customer. :func:`refined_evidence` trains a gradient-boosted
classifier of the persona view's features on those labels, out of fold (the windows of one
customer are in one fold, so no customer's own label teaches its prediction; early stopping
on log-loss, so its probabilities are estimates, not scores), and smooths the windows again
with its probabilities.

On the generator's defaults (``make_journeys(3000, random_state=s)``, two 90-day windows,
10% of customers changing; fresh seeds 1101-1108, ``python -m benchmarks.tracking_evidence``)
a list of the customers most likely to have moved, 1.5 times the number of true changes,
holds 0.82 / 0.84 / 0.87 of them (min / median / max) against 0.74 / 0.78 / 0.84 with the
mixture's memberships alone; the report (move probability above 0.5) finds 0.83-0.89 of the
changes at 1.5-1.7 times their number, against 0.57-0.68 at 0.93-1.12. The move
probability's AUC barely moves (0.94-0.97 against 0.93-0.96); a classifier trained on the
true personas reaches 0.99, the bound of these features. On 240-day logs (seeds 451-458,
4,000 customers, 15% changing, ``benchmarks.persona_tracking --refine``) the labels report
1.13-1.23 times the true share of movers at recall 0.91-0.94, against 0.97-1.03 at 0.83-0.89;
the expected share of movers overshoots (1.15-1.25 against 1.00-1.05), which is why it is
off by default.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold

from journeymine.exceptions import ConfigError
from journeymine.personas.mining import PersonaMiner

__all__ = ["MIN_PER_PERSONA", "N_FOLDS", "check_refine", "refined_evidence"]

logger = logging.getLogger(__name__)

#: Folds of the out-of-fold predictions.
N_FOLDS = 5
#: Customer-windows the smallest persona needs for the classifier: four a fold, so that every
#: fold's training part holds some of it for early stopping's held-out part too.
MIN_PER_PERSONA = 4 * N_FOLDS


def check_refine(refine: object, smoothing: str, method: str = "mixture") -> bool:
    """Refuse a ``refine`` that is no bool, or ``True`` where there is nothing to refine
    (``smoothing="margin"``, or per-window density models); return whether ``method`` gives
    the one model over all windows.

    Examples
    --------
    >>> check_refine(True, "hmm")
    True
    >>> check_refine(True, "margin")
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: refine=True needs smoothing='hmm' ...
    """
    if not isinstance(refine, bool | np.bool_):
        raise ConfigError(f"refine must be True or False, got {refine!r}.")
    if refine and smoothing != "hmm":
        raise ConfigError(
            f"refine=True needs smoothing='hmm' (a second pass of the hidden-state model), got "
            f"smoothing={smoothing!r}; use smoothing='hmm' or refine=False."
        )
    if refine and method != "mixture":
        raise ConfigError(
            f"refine=True needs the mixture's one model over all windows, got "
            f"PersonaMiner(method={method!r}); use method='mixture' or refine=False."
        )
    return method == "mixture"


def refined_evidence(
    ref: PersonaMiner,
    feats: list[pd.DataFrame],
    labels: list[pd.Series],
    *,
    random_state: int = 0,
) -> list[pd.DataFrame] | None:
    """Each window's refined memberships: a classifier of ``ref``'s view trained on the
    smoothed ``labels`` of every window (out of fold, grouped by customer). ``None`` (logged)
    when there is too little to learn from: fewer than two personas, or a persona with fewer
    than :data:`MIN_PER_PERSONA` customer-windows.

    Parameters
    ----------
    ref : PersonaMiner
        The one mixture model over the windows (its view ``columns_`` and persona count).
    feats : list of DataFrame
        Each window's customer features.
    labels : list of Series
        Each window's labels given every window (``-1``: no evidence there).

    Returns
    -------
    list of DataFrame or None
        Per window, customers with a label x persona ids, rows summing to 1.

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> from journeymine.personas import track_personas
    >>> tr = track_personas(make_journeys(600, days=90, random_state=0).events)
    >>> ev = refined_evidence(tr.miners[0], [m.features_ for m in tr.miners],
    ...                       [m.labels_ for m in tr.miners])
    >>> bool(np.allclose(ev[0].sum(axis=1), 1.0)), len(ev) == len(tr.miners)
    (True, True)
    """
    cols = list(ref.columns_)
    rows = [lab.index[lab.to_numpy() >= 0] for lab in labels]
    y = np.concatenate([lab.loc[r].to_numpy() for lab, r in zip(labels, rows, strict=True)])
    k = max(int(ref.quality_["n_personas"]), int(y.max()) + 1 if len(y) else 0)
    counts = np.bincount(y, minlength=k) if len(y) else np.zeros(k, dtype=int)
    if k < 2 or int(counts.min()) < MIN_PER_PERSONA:
        logger.info(
            "persona tracking: window evidence not refined (%d personas, the smallest with %d "
            "customer-windows; the classifier needs %d)",
            k,
            int(counts.min()) if len(counts) else 0,
            MIN_PER_PERSONA,
        )
        return None
    X = np.concatenate(
        [f.loc[r, cols].to_numpy(dtype=np.float64) for f, r in zip(feats, rows, strict=True)]
    )
    ids = pd.Index(sorted(set().union(*(set(r) for r in rows))))
    groups = np.concatenate([ids.get_indexer(r) for r in rows])
    folds = list(GroupKFold(N_FOLDS).split(X, y, groups))
    thin = min(int(np.bincount(y[fit], minlength=k).min()) for fit, _ in folds)
    if thin < 2:  # early stopping holds out part of each persona
        logger.info(
            "persona tracking: window evidence not refined (a persona's customer-windows "
            "belong to too few customers to train on in every fold)"
        )
        return None
    P = np.zeros((len(y), k))
    for fit, held in folds:
        clf = HistGradientBoostingClassifier(
            max_iter=100, early_stopping=True, random_state=random_state
        )
        clf.fit(X[fit], y[fit])
        P[np.ix_(held, clf.classes_)] = clf.predict_proba(X[held])
    out: list[pd.DataFrame] = []
    start = 0
    for r in rows:
        out.append(
            pd.DataFrame(
                P[start : start + len(r)], index=r, columns=pd.RangeIndex(k, name="persona")
            )
        )
        start += len(r)
    logger.info(
        "persona tracking: window evidence refined by a classifier of the view trained on "
        "%d customer-windows' labels given every window (%d folds)",
        len(y),
        N_FOLDS,
    )
    return out
