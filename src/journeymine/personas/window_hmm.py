"""A customer's personas over time windows as a slowly changing hidden state.

Each window labels a customer from that window's events alone, so a customer seen on a few
dozen events is sometimes put in a neighbouring persona, and comparing the labels of two
windows reports that noise as migration. :func:`smooth_windows` treats the persona as a hidden
Markov chain over the windows instead: each window's persona memberships are the evidence
(the emission), a migration matrix says how likely each persona is to become each other one
between two windows, and both the matrix and the starting shares are learnt from the log by
expectation-maximisation (Baum-Welch). The forward-backward pass then gives, per customer and
window, the probability of each persona given *all* the windows, and per pair of consecutive
windows the probability that the customer's persona changed. A move is reported when the
evidence of the later window outweighs the learnt chance of moving; the mean move probability
is the expected share of customers who changed, with no threshold in it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from journeymine.exceptions import ConfigError

__all__ = ["WindowChain", "smooth_windows"]

#: EM stops when no cell of the migration matrix changes by more than this.
_TOL = 1e-6
_MAX_ITER = 200


class WindowChain(NamedTuple):
    """What :func:`smooth_windows` learnt and inferred."""

    #: windows x customers x personas: probability of each persona given every window
    posterior: np.ndarray
    #: (windows - 1) x customers: probability that the persona differs between windows t, t+1
    move: np.ndarray
    #: personas x personas: the learnt migration matrix (rows: from, summing to 1)
    transition: np.ndarray
    #: EM iterations run
    iterations: int
    #: (windows - 1) x customers: probability that the persona in window t + 1 differs from
    #: the one in window 0 (the same as ``move`` for t = 0)
    move_since_first: np.ndarray
    #: personas: the learnt persona shares in a customer's first window with evidence
    start: np.ndarray


def smooth_windows(evidence: np.ndarray) -> WindowChain:
    """Persona probabilities per window given all windows, and move probabilities, from each
    window's own memberships.

    Parameters
    ----------
    evidence : ndarray, windows x customers x personas
        Each window's persona memberships of each customer (rows summing to 1), or a row of
        zeros where the window has no evidence on the customer (no events there, or too few).

    Returns
    -------
    WindowChain
        ``move`` is NaN for a customer without evidence in either window of a pair.

    Examples
    --------
    Two windows, two personas: 200 customers seen clearly in persona 0 twice, 200 in persona
    1 twice, 20 who move from 0 to 1, and one whose second window leans to 1 only weakly. The
    stayers stay; a clear move is likely (not certain: a customer of persona 1 whose first
    window looked like 0 explains it too); the weak one probably stayed. The mean move
    probability is the expected share of movers.

    >>> a, b = [0.99, 0.01], [0.01, 0.99]
    >>> ev = np.array([[a, a]] * 200 + [[b, b]] * 200 + [[a, b]] * 20 + [[a, [0.3, 0.7]]])
    >>> chain = smooth_windows(ev.transpose(1, 0, 2))
    >>> chain.move[0, [0, 200, 400, 420]].round(2).tolist()
    [0.0, 0.0, 0.81, 0.17]
    >>> round(float(chain.move.mean()), 3)
    0.04
    """
    ev = np.asarray(evidence, dtype=np.float64)
    if ev.ndim != 3 or ev.shape[2] < 1:
        raise ConfigError(
            f"evidence must be a windows x customers x personas array of memberships, got shape "
            f"{ev.shape}."
        )
    n_win, n, k = ev.shape
    seen = ev.sum(axis=2) > 0  # windows x customers
    shares = ev[seen].mean(axis=0) if seen.any() else np.full(k, 1.0 / k)
    shares = np.clip(shares, 1e-12, None) / np.clip(shares, 1e-12, None).sum()
    # the memberships include the persona shares; the likelihood is what the window adds
    like = np.where(seen[..., None], ev / shares, 1.0)
    like /= like.max(axis=2, keepdims=True)
    start = shares.copy()
    trans = np.full((k, k), 0.1 / max(k - 1, 1))
    np.fill_diagonal(trans, 0.9 if k > 1 else 1.0)
    pairs = seen[:-1] & seen[1:]  # both windows of a pair have evidence
    it = 0
    for it in range(1, _MAX_ITER + 1):  # noqa: B007 (the count is returned)
        alpha, beta, scale = _forward_backward(like, start, trans)
        gamma = alpha * beta
        gamma /= gamma.sum(axis=2, keepdims=True)
        counts = np.ones((k, k))  # one pseudo-count per cell: no move is ever impossible
        for t in range(n_win - 1):
            if not pairs[t].any():
                continue
            counts += _pair_posterior(alpha, beta, scale, like, trans, t, pairs[t]).sum(axis=0)
        new = counts / counts.sum(axis=1, keepdims=True)
        first = seen.argmax(axis=0)
        new_start = gamma[first, np.arange(n)][seen.any(axis=0)].mean(axis=0) if n else start
        done = np.abs(new - trans).max() < _TOL
        trans, start = new, np.clip(new_start, 1e-12, None) / np.clip(new_start, 1e-12, None).sum()
        if done:
            break
    alpha, beta, scale = _forward_backward(like, start, trans)
    gamma = alpha * beta
    gamma /= gamma.sum(axis=2, keepdims=True)
    move = np.full((max(n_win - 1, 0), n), np.nan)
    for t in range(n_win - 1):
        xi = _pair_posterior(alpha, beta, scale, like, trans, t, pairs[t])
        move[t, pairs[t]] = 1.0 - np.einsum("nkk->n", xi)
    since = _since_first(alpha, beta, scale, like, trans, seen)
    return WindowChain(gamma, np.clip(move, 0.0, 1.0), trans, it, np.clip(since, 0.0, 1.0), start)


def _since_first(
    alpha: np.ndarray,
    beta: np.ndarray,
    scale: np.ndarray,
    like: np.ndarray,
    trans: np.ndarray,
    seen: np.ndarray,
) -> np.ndarray:
    """(windows - 1) x customers: the probability that the persona in window t differs from
    the one in window 0, given every window; NaN without evidence in either.

    The forward pass run from each persona of window 0 in turn (``V[:, i, j]``, scaled like
    ``alpha``, so that ``sum_i alpha[0, :, i] * V[:, i, j] = alpha[t, :, j]``) gives the joint
    probability of (persona in window 0, persona in window t) with the backward message.
    """
    n_win, n, k = like.shape
    out = np.full((max(n_win - 1, 0), n), np.nan)
    V = np.broadcast_to(np.eye(k), (n, k, k))
    for t in range(1, n_win):
        V = (V @ trans) * like[t][:, None, :] / scale[t][:, None, None]
        joint = alpha[0][:, :, None] * V * beta[t][:, None, :]
        joint /= joint.sum(axis=(1, 2), keepdims=True)
        both = seen[0] & seen[t]
        out[t - 1, both] = 1.0 - np.einsum("nkk->n", joint[both])
    return out


def _forward_backward(
    like: np.ndarray, start: np.ndarray, trans: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scaled forward (alpha) and backward (beta) messages and the scales."""
    n_win, n, k = like.shape
    alpha = np.empty((n_win, n, k))
    scale = np.empty((n_win, n))
    a = start[None] * like[0]
    scale[0] = a.sum(axis=1)
    alpha[0] = a / scale[0][:, None]
    for t in range(1, n_win):
        a = (alpha[t - 1] @ trans) * like[t]
        scale[t] = a.sum(axis=1)
        alpha[t] = a / scale[t][:, None]
    beta = np.ones((n_win, n, k))
    for t in range(n_win - 2, -1, -1):
        beta[t] = ((like[t + 1] * beta[t + 1]) @ trans.T) / scale[t + 1][:, None]
    return alpha, beta, scale


def _pair_posterior(
    alpha: np.ndarray,
    beta: np.ndarray,
    scale: np.ndarray,
    like: np.ndarray,
    trans: np.ndarray,
    t: int,
    rows: np.ndarray,
) -> np.ndarray:
    """Customers ``rows`` x personas x personas: the probability of each (persona in window
    ``t``, persona in window ``t + 1``) given every window."""
    xi = (
        alpha[t, rows][:, :, None]
        * trans[None]
        * (like[t + 1, rows] * beta[t + 1, rows])[:, None, :]
        / scale[t + 1, rows][:, None, None]
    )
    return xi / xi.sum(axis=(1, 2), keepdims=True)
