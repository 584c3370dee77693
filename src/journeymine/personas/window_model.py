"""The mixture's persona tracking: one persona model labels every time window.

:func:`~journeymine.personas.track_personas` with ``method="mixture"`` either fits one model on
every window's customers together (:func:`pooled_model`) or takes a fitted miner
(``reference=``, checked by :func:`check_reference`); :func:`label_windows` then labels each
window with it, the persona treated as a hidden state over the windows
(:mod:`~journeymine.personas.window_hmm`) or, with ``smoothing="margin"``, moving a customer
already labelled in the previous window only when the new persona's probability beats the old
one's by ``move_margin``. :func:`unstable_pair` finds two
personas the windows cannot tell apart for the same customers (a split of one persona by
noise, or one persona that looks different early and late), so that :func:`merge_unstable`
merges the two (:func:`~journeymine.personas.persona_merge.merge_personas`).
"""

from __future__ import annotations

import copy
import itertools
import logging
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import clone

from journeymine.exceptions import ConfigError, NotFittedError
from journeymine.personas.features import CustomerFeaturizer
from journeymine.personas.miner_inputs import lower_min_events
from journeymine.personas.mining import PersonaMiner
from journeymine.personas.persona_merge import merge_personas
from journeymine.personas.window_hmm import smooth_windows
from journeymine.personas.window_refine import refined_evidence
from journeymine.personas.windows import DAY_US, timestamp_of

__all__ = [
    "WindowMoves",
    "check_placed",
    "check_reference",
    "label_windows",
    "merge_unstable",
    "pooled_model",
    "refine_windows",
    "unstable_pair",
]

logger = logging.getLogger(__name__)


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


class WindowMoves(NamedTuple):
    """Per later window (in order), each customer's probability of having changed persona."""

    #: since the previous window
    previous: list[pd.Series]
    #: since the first window
    first: list[pd.Series]


def label_windows(
    ref: PersonaMiner, feats: list[pd.DataFrame], move_margin: float, smoothing: str = "hmm"
) -> tuple[list[PersonaMiner], WindowMoves | None]:
    """Each window labelled by the one model ``ref``: one view of ``ref`` per window, carrying
    that window's ``labels_``, ``probabilities_``, ``label_reasons_``, ``features_`` and
    ``quality_``; and, with ``smoothing="hmm"``, per pair of consecutive windows the
    probability that each customer's persona changed.

    ``smoothing="hmm"``: the persona is a hidden state over the windows
    (:func:`~journeymine.personas.window_hmm.smooth_windows`, migration learnt from the log);
    a customer's label and probability in a window are given every window. ``"margin"``: a
    customer labelled in the previous window moves only when the new persona's probability
    beats the old one's by ``move_margin``.
    """
    raw = [ref.membership(X, by_evidence=True) for X in feats]
    labels = [lab for lab, _, _ in raw]
    probs = [prob for _, prob, _ in raw]
    moves: WindowMoves | None = None
    if smoothing == "hmm" and len(feats) > 1:
        moves = _smooth(raw, labels, probs)
    elif move_margin > 0:
        for w in range(1, len(raw)):
            _hold(labels[w - 1], labels[w], probs[w], raw[w][2], move_margin)
    return [
        _window_view(ref, X, lab, prob, post)
        for X, lab, prob, (_, _, post) in zip(feats, labels, probs, raw, strict=True)
    ], moves


def refine_windows(
    ref: PersonaMiner, feats: list[pd.DataFrame], miners: list[PersonaMiner], random_state: int
) -> tuple[list[PersonaMiner], WindowMoves | None]:
    """The windows labelled by :func:`label_windows` (``smoothing="hmm"``) smoothed again with
    refined evidence (:func:`~journeymine.personas.window_refine.refined_evidence`): new
    views and move probabilities, or the views unchanged and ``None`` when there is too little
    to refine from. Each view's ``window_membership_`` stays the persona model's own."""
    ev = refined_evidence(ref, feats, [m.labels_ for m in miners], random_state=random_state)
    if ev is None:
        return miners, None
    raw: list[tuple[pd.Series, pd.Series, pd.DataFrame]] = []
    for m, e in zip(miners, ev, strict=True):
        post = e.reindex(index=m.labels_.index, columns=m.window_membership_.columns).fillna(0.0)
        raw.append((m.labels_.copy(), m.probabilities_.copy(), post))
    labels = [lab for lab, _, _ in raw]
    probs = [prob for _, prob, _ in raw]
    moves = _smooth(raw, labels, probs)
    return [
        _window_view(ref, X, lab, prob, m.window_membership_)
        for X, lab, prob, m in zip(feats, labels, probs, miners, strict=True)
    ], moves


def _smooth(
    raw: list[tuple[pd.Series, pd.Series, pd.DataFrame]],
    labels: list[pd.Series],
    probs: list[pd.Series],
) -> WindowMoves:
    """Labels and probabilities given every window (in place), and the move probabilities."""
    ids = pd.Index(sorted(set().union(*(lab.index for lab in labels))))
    k = raw[0][2].shape[1]
    evidence = np.zeros((len(raw), len(ids), k))
    for w, (lab, _, post) in enumerate(raw):
        rows = ids.get_indexer(lab.index)
        placed = lab.to_numpy() >= 0  # noise and too few events: no evidence
        evidence[w, rows[placed]] = post.to_numpy()[placed]
    chain = smooth_windows(evidence)
    logger.info(
        "persona tracking: migration between windows learnt in %d EM iterations; chance of "
        "keeping one's persona %s",
        chain.iterations,
        ", ".join(f"{p}: {chain.transition[p, p]:.2f}" for p in range(k)),
    )
    for w, lab in enumerate(labels):
        rows = ids.get_indexer(lab.index)
        placed = lab.to_numpy() >= 0
        g = chain.posterior[w, rows[placed]]
        lab.iloc[np.flatnonzero(placed)] = g.argmax(axis=1)
        probs[w].iloc[np.flatnonzero(placed)] = g.max(axis=1)
    return WindowMoves(
        *(
            [pd.Series(m[t], index=ids, name="move_probability").dropna() for t in range(len(m))]
            for m in (chain.move, chain.move_since_first)
        )
    )


def _hold(
    prev: pd.Series, lab: pd.Series, prob: pd.Series, post: pd.DataFrame, move_margin: float
) -> None:
    """Hysteresis (in place): a customer labelled in ``prev`` keeps that persona unless the
    new one's probability beats it by ``move_margin``."""
    common = lab.index.intersection(prev.index)
    p_old = prev.loc[common].to_numpy()
    p_new = lab.loc[common].to_numpy()
    P = post.loc[common].to_numpy()
    rows = np.flatnonzero((p_old >= 0) & (p_new >= 0) & (p_old != p_new))
    if not len(rows):
        return
    gain = P[rows, p_new[rows]] - P[rows, p_old[rows]]
    stay = rows[gain < move_margin]
    if len(stay):
        keep_ids = common[stay]
        lab.loc[keep_ids] = p_old[stay]
        prob.loc[keep_ids] = P[stay, p_old[stay]]


def _window_view(
    ref: PersonaMiner, X: pd.DataFrame, lab: pd.Series, prob: pd.Series, post: pd.DataFrame
) -> PersonaMiner:
    """A shallow copy of ``ref`` carrying one window's labels, probabilities and quality, and
    ``window_membership_``: the memberships that window's events alone give (the evidence
    before the windows are tied together)."""
    view = copy.copy(ref)
    view.window_membership_ = post
    n_ev = ref._n_events(X)
    eligible = n_ev >= ref.min_events_
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
    return view


def check_placed(
    window: PersonaMiner, k: int, span: tuple[int, int], min_events: int, n_windows: int
) -> None:
    """Refuse window ``k`` (its view, :func:`label_windows`) when no customer got a persona
    in it, saying why and what to change.

    Raises
    ------
    ConfigError
        How many of the window's customers have fewer than ``min_events`` events there, and
        the fix: a lower ``min_events``, or (with more than two windows) longer windows.
    """
    if (window.labels_ >= 0).any():
        return
    few = int((window.label_reasons_ == "too few events").sum())
    days = round((span[1] - span[0]) / DAY_US)
    longer = f", or use fewer, longer windows (e.g. windows='{2 * days}D')" if n_windows > 2 else ""
    raise ConfigError(
        f"window {k} [{timestamp_of(span[0])}, {timestamp_of(span[1])}): no customer has a "
        f"persona in it ({len(window.labels_):,} customers: {few:,} with fewer than "
        f"min_events={min_events} events in the window, the others outliers). Lower min_events "
        f"(e.g. min_events={lower_min_events(min_events)} for short cases)"
        f"{longer}."
    )


def merge_unstable(
    ref: PersonaMiner,
    feats: list[pd.DataFrame],
    *,
    split_odds: float | None,
    move_margin: float,
    smoothing: str,
    floor: int = 2,
) -> tuple[PersonaMiner, list[PersonaMiner], WindowMoves | None]:
    """The windows labelled by ``ref`` (:func:`label_windows`); while two of its personas keep
    their customers between windows no better than one persona split at random
    (:func:`unstable_pair` with ``split_odds``; None: never), the two merged into one persona
    (:func:`~journeymine.personas.persona_merge.merge_personas`: the model keeps both shapes,
    where a refit with one persona fewer would let EM merge another pair), down to ``floor``
    personas and never below two. Returns the model, the window views and the move
    probabilities."""
    miners, moves = label_windows(ref, feats, move_margin, smoothing)
    while split_odds is not None and int(ref.quality_["n_personas"]) > max(floor, 2):
        pair = unstable_pair([m.labels_ for m in miners], float(split_odds))
        if pair is None:
            break
        k = int(ref.quality_["n_personas"])
        logger.info(
            "persona tracking: personas %d and %d keep their customers between windows no "
            "better than one persona split at random (odds ratio %.2f, 95%% upper bound "
            "%.2f < split_odds=%s): merged, %d personas",
            pair[0],
            pair[1],
            pair[2],
            pair[3],
            split_odds,
            k - 1,
        )
        ref = merge_personas(ref, pair[0], pair[1])
        miners, moves = label_windows(ref, feats, move_margin, smoothing)
    return ref, miners, moves


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
