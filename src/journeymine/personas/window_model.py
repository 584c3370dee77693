"""The mixture's persona tracking: one persona model labels every time window.

:func:`~journeymine.personas.track_personas` with ``method="mixture"`` either fits one model on
every window's customers together (:func:`pooled_model`) or takes a fitted miner
(``reference=``, checked by :func:`check_reference`); :func:`label_windows` then labels each
window with it, moving a customer already labelled in the previous window only when the new
persona's probability beats the old one's by ``move_margin``. :func:`unstable_pair` finds two
personas the windows cannot tell apart for the same customers (a split of one persona by
noise), so that the pooled model is refitted with one persona fewer.
"""

from __future__ import annotations

import copy
import itertools
import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from journeymine.exceptions import ConfigError, NotFittedError
from journeymine.personas.features import CustomerFeaturizer
from journeymine.personas.mining import PersonaMiner

__all__ = [
    "WINDOW_LADDER_DAYS",
    "auto_window",
    "check_reference",
    "label_windows",
    "pooled_model",
    "timestamp_of",
    "unstable_pair",
]

#: Window lengths ``windows="auto"`` chooses from, in days.
WINDOW_LADDER_DAYS = (7, 14, 30, 60, 90, 120, 180, 365)

logger = logging.getLogger(__name__)


def timestamp_of(us: int) -> pd.Timestamp:
    """Microseconds since the epoch as a UTC timestamp."""
    return pd.Timestamp(us, unit="us", tz="UTC")


def check_reference(reference: Any) -> CustomerFeaturizer:
    """The featurizer of ``reference``; :class:`ConfigError` unless it is a mixture
    PersonaMiner fitted on an event log."""
    if not isinstance(reference, PersonaMiner) or reference.method != "mixture":
        raise ConfigError(
            f"reference must be a PersonaMiner(method='mixture') fitted on an event log, got "
            f"{type(reference).__name__}"
            + (f"(method={reference.method!r})" if isinstance(reference, PersonaMiner) else "")
            + "."
        )
    if getattr(reference, "mixture_", None) is None:
        raise NotFittedError(
            "reference is not fitted yet; pass the PersonaMiner after fit(log), e.g. "
            "track_personas(log, reference=PersonaMiner().fit(log))."
        )
    fz = getattr(reference, "featurizer_", None)
    if not isinstance(fz, CustomerFeaturizer):
        raise ConfigError(
            "reference was fitted on a feature table, not an event log: the windows' features "
            "need its featurizer. Fit it on the log (PersonaMiner().fit(log))."
        )
    return fz


def pooled_model(
    template: PersonaMiner, feats: list[pd.DataFrame], spans: list[tuple[int, int]]
) -> PersonaMiner:
    """The mixture's tracking without a reference: one persona model fitted on every window's
    customers together, so a persona means the same thing in every window and its id cannot
    drift."""
    pooled = pd.concat(feats, ignore_index=True)
    try:
        ref = clone(template).fit(pooled)
    except ConfigError as exc:
        (a0, b0), (a1, b1) = (tuple(map(timestamp_of, span)) for span in (spans[0], spans[-1]))
        raise ConfigError(
            f"window 0 [{a0}, {b0}) to window {len(spans) - 1} [{a1}, {b1}) (one persona "
            f"model over all windows): {exc}"
        ) from exc
    logger.info(
        "persona tracking: one mixture of %d personas fitted on %d customer-windows",
        ref.quality_["n_personas"],
        len(pooled),
    )
    return ref


def label_windows(
    ref: PersonaMiner, feats: list[pd.DataFrame], move_margin: float
) -> list[PersonaMiner]:
    """Each window labelled by the one model ``ref``, with hysteresis for customers already
    labelled in the previous window: one view of ``ref`` per window, carrying that window's
    ``labels_``, ``probabilities_``, ``label_reasons_``, ``features_`` and ``quality_``."""
    out: list[PersonaMiner] = []
    prev: pd.Series | None = None
    for X in feats:
        lab, prob, post = ref.membership(X, by_evidence=True)
        if prev is not None and move_margin > 0:
            common = lab.index.intersection(prev.index)
            p_old = prev.loc[common].to_numpy()
            p_new = lab.loc[common].to_numpy()
            P = post.loc[common]
            old_ok = (p_old >= 0) & (p_new >= 0) & (p_old != p_new)
            rows = np.flatnonzero(old_ok)
            gain = (
                P.to_numpy()[rows, p_new[rows]] - P.to_numpy()[rows, p_old[rows]]
                if len(rows)
                else np.zeros(0)
            )
            stay = rows[gain < move_margin]
            if len(stay):
                keep_ids = common[stay]
                lab.loc[keep_ids] = p_old[stay]
                prob.loc[keep_ids] = P.to_numpy()[stay, p_old[stay]]
        view = copy.copy(ref)
        n_ev = ref._n_events(X)
        eligible = n_ev >= ref.min_events
        reasons = np.where(lab >= 0, "persona", np.where(eligible, "noise", "too few events"))
        view.labels_ = lab
        view.probabilities_ = prob
        view.label_reasons_ = pd.Series(reasons, index=X.index, name="reason").astype("str")
        view.features_ = X
        el = lab.to_numpy()[eligible]
        view.quality_ = {
            **ref.quality_,
            "n_customers": len(X),
            "n_eligible": int(eligible.sum()),
            "n_personas": len(np.unique(el[el >= 0])),
            "noise_share": float((el < 0).mean()) if len(el) else 0.0,
        }
        out.append(view)
        prev = lab
    return out


def unstable_pair(labels: list[pd.Series], max_odds: float) -> tuple[int, int, float, float] | None:
    """The pair of personas whose customers the windows re-identify worst, if it is confidently
    weak: ``(a, b, odds ratio, its 95% upper bound)`` or ``None``.

    Over customers labelled ``a`` or ``b`` in two consecutive windows (summed over the window
    pairs), the 2x2 table of earlier x later label gives the odds ratio of keeping one's
    persona, ``(n_aa n_bb) / (n_ab n_ba)`` (0.5 added to each cell). Two real personas keep
    their customers, even with migration between them (a tenth of each side moving both ways
    still gives an odds ratio near 80); one persona split at random gives about 1: the later
    label does not depend on the earlier one. A pair is returned when the upper bound of the
    ratio's 95% interval (Woolf) is below ``max_odds``, so a thin table never merges anything.

    Examples
    --------
    >>> w0 = pd.Series([0] * 50 + [1] * 50 + [2] * 50)
    >>> w1 = pd.Series([0] * 48 + [1] * 2 + [1, 2] * 25 + [2, 1] * 25)
    >>> unstable_pair([w0, w1], max_odds=4.0)[:2]
    (1, 2)
    >>> unstable_pair([w0, w0], max_odds=4.0) is None
    True
    """
    flows: dict[tuple[int, int], int] = {}  # (earlier, later) persona -> customers
    for early, late in itertools.pairwise(labels):
        common = early.index.intersection(late.index)
        pair = pd.DataFrame({"e": early.loc[common], "l": late.loc[common]}).dropna()
        pair = pair[(pair["e"] >= 0) & (pair["l"] >= 0)].astype(int)
        for (x, y), n in pair.value_counts().items():
            flows[(x, y)] = flows.get((x, y), 0) + int(n)
    personas = sorted({p for xy in flows for p in xy})
    worst: tuple[int, int, float, float] | None = None
    for i, a in enumerate(personas):
        for b in personas[i + 1 :]:
            c = (
                np.array(
                    [
                        [flows.get((a, a), 0), flows.get((a, b), 0)],
                        [flows.get((b, a), 0), flows.get((b, b), 0)],
                    ],
                    dtype=float,
                )
                + 0.5
            )
            log_or = float(np.log(c[0, 0] * c[1, 1] / (c[0, 1] * c[1, 0])))
            upper = float(np.exp(log_or + 1.96 * np.sqrt((1.0 / c).sum())))
            if upper < max_odds and (worst is None or upper < worst[3]):
                worst = (int(a), int(b), float(np.exp(log_or)), upper)
    return worst


def auto_window(n_events: np.ndarray, span_days: float, min_events: int) -> tuple[str, str]:
    """The window length of ``track_personas(windows="auto")`` and why, from the log: the
    shortest of :data:`WINDOW_LADDER_DAYS` in which the median customer, at their average pace
    over the log (``n_events`` per customer over ``span_days``), has twice ``min_events``
    events, but no longer than half the log (two windows at least).

    Examples
    --------
    >>> auto_window(np.array([40, 50, 60]), 180.0, 10)[0]
    '90D'
    >>> auto_window(np.array([40, 50, 60]), 90.0, 10)[0]  # two windows at least
    '30D'
    """
    span = max(float(span_days), 1.0)
    pace = float(np.median(n_events)) / span if len(n_events) else 0.0
    need = 2 * int(min_events) / pace if pace > 0 else float("inf")
    fits = [d for d in WINDOW_LADDER_DAYS if d <= span / 2] or [WINDOW_LADDER_DAYS[0]]
    days = next((d for d in fits if d >= need), fits[-1])
    why = (
        f"the median customer has {pace:.2f} events a day over the log's {span:.0f} days, so "
        f"{2 * int(min_events)} events (twice min_events) take {need:.0f} days"
    )
    if days < need:
        why += f"; {days} days is the longest that leaves two windows, so windows are thin"
    return f"{days}D", why
