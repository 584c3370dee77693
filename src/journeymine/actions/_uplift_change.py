"""The change test of :class:`~journeymine.actions.UpliftModel` (``change_alpha``,
``change_scope``): where a persona x journey cell's outcome rate changed over the daily batches,
the evidence from before the change stops counting (for the cell, its persona's row, or every
row when two personas change together)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CHANGE_SCOPES", "REGIME_SPAN", "drop_before_changes"]

#: What a change found by the test drops: the cell, the persona's row, or every row.
CHANGE_SCOPES = ("cell", "persona", "regime")
#: change_scope="regime": change points of two personas this many batches apart or closer
#: drop every row's evidence before the later one.
REGIME_SPAN = 7


def drop_before_changes(model: Any) -> None:
    """The change test of ``change_alpha``: per cell (persona x journey) and arm, the
    likelihood-ratio statistic of one change point in the Bernoulli rate of the batches'
    (discount-weighted) counts, maximised over the points between batches; where it
    passes the Bonferroni threshold, the batches before the point no longer count for that
    cell and arm. Acts on a fitted :class:`~journeymine.actions.UpliftModel`'s ``batches_``,
    ``counts_``, ``changes_`` (the changes found are appended) and ``regime_from_``."""
    from scipy.stats import chi2

    B, alpha = len(model.batches_), model.change_alpha
    if B < 2 or alpha is None:
        return
    w = float(model.discount) ** np.arange(B - 1, -1, -1.0)
    S = np.stack(model.batches_) * w[:, None, None, None]  # (B, P, J, 4)
    P, J = S.shape[1:3]
    threshold = chi2.isf(float(alpha) / (P * J * 2 * (B - 1)), df=1)
    found: list[tuple[int, int, int, int, float]] = []  # persona, journey, arm, tau, stat
    for n_col, y_col in ((0, 1), (2, 3)):
        n_cum = np.cumsum(S[..., n_col], axis=0)
        y_cum = np.cumsum(S[..., y_col], axis=0)
        n_all, y_all = n_cum[-1], y_cum[-1]
        n1, y1 = n_cum[:-1], y_cum[:-1]  # before each candidate point
        stat = 2 * (
            _bernoulli_loglik(y1, n1)
            + _bernoulli_loglik(y_all - y1, n_all - n1)
            - _bernoulli_loglik(y_all, n_all)[None]
        )
        best = stat.argmax(axis=0)  # (P, J): the last batch before the change
        changed = np.take_along_axis(stat, best[None], axis=0)[0] > threshold
        for p, jj in zip(*np.nonzero(changed), strict=True):
            tau = int(best[p, jj]) + 1
            found.append((int(p), int(jj), n_col, tau, float(stat[tau - 1, p, jj])))
    for p, jj, n_col, tau, statistic in found:
        cols = [n_col, n_col + 1]
        for b in range(tau):
            model.batches_[b][p, jj, cols] = 0.0
        model.counts_[p, jj, cols] = S[tau:, p, jj][:, cols].sum(0)
        model.changes_.append(
            {
                "update": B - 1,
                "persona": int(model.personas_[p]),
                "journey": model.journeys_[jj],
                "arm": "treated" if n_col == 0 else "holdout",
                "batches_dropped": tau,
                "statistic": statistic,
            }
        )
    if getattr(model, "change_scope", "cell") != "cell" and found:
        _drop_rows(model, found, w)


def _drop_rows(model: Any, found: list[tuple[int, int, int, int, float]], w: np.ndarray) -> None:
    """``change_scope`` beyond the cell: a persona row where the test found a change drops
    its evidence before the change point (its strongest one) in every journey and arm;
    ``"regime"``: when the change points of two personas are at most ``REGIME_SPAN``
    batches apart, every row (the pooled one too) drops its evidence before the later."""
    cut: dict[int, tuple[float, int]] = {}  # row -> (statistic, change point)
    for p, _, _, tau, statistic in found:
        if p > 0 and statistic > cut.get(p, (-1.0, 0))[0]:
            cut[p] = (statistic, tau)
    rows = {p: tau for p, (_, tau) in cut.items()}
    if model.change_scope == "regime":
        earlier: dict[int, int] = {}  # persona row -> its latest change point before now
        for c in model.changes_[: len(model.changes_) - len(found)]:
            if c["persona"] != -1:
                at = int(model._persona_index(np.array([c["persona"]]))[0])
                earlier[at] = max(earlier.get(at, 0), c["batches_dropped"])
        points = [*earlier.items(), *rows.items()]
        for p, tau in rows.items():
            near = [t for q, t in points if q != p and abs(t - tau) <= REGIME_SPAN]
            if near:
                model.regime_from_ = max(model.regime_from_, tau, *near)
        if model.regime_from_ > 0:
            P = len(model.personas_)
            rows = {p: max(rows.get(p, 0), model.regime_from_) for p in range(P)}
    for p, tau in rows.items():
        for b in range(tau):
            model.batches_[b][p] = 0.0
        model.counts_[p] = np.tensordot(w, np.stack([x[p] for x in model.batches_]), axes=1)


def _bernoulli_loglik(y: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Maximised log-likelihood of ``y`` successes in ``n`` (weighted) trials, 0 log 0 = 0."""
    n = np.maximum(n, 0.0)
    y = np.clip(y, 0.0, n)
    p = np.divide(y, n, out=np.zeros_like(n), where=n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(y > 0, y * np.log(np.where(p > 0, p, 1.0)), 0.0)
        b = np.where(n - y > 0, (n - y) * np.log(np.where(p < 1, 1 - p, 1.0)), 0.0)
    return a + b
