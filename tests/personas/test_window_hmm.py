"""The hidden persona over time windows (journeymine.personas.window_hmm.smooth_windows)."""

from __future__ import annotations

import numpy as np
import pytest

from journeymine.exceptions import ConfigError
from journeymine.personas.window_hmm import smooth_windows


def _chain(n: int, windows: int, k: int, stay: float, right: float, seed: int):
    """Customers' true personas over windows (a Markov chain) and calibrated memberships:
    each window sees the true persona with probability ``right`` and a random other one
    otherwise (the relabelling noise), and its memberships are what that sighting says
    (``right`` on the persona seen, the rest spread evenly)."""
    rng = np.random.default_rng(seed)
    true = np.empty((windows, n), dtype=int)
    true[0] = rng.integers(0, k, n)
    for t in range(1, windows):
        moves = rng.random(n) > stay
        other = (true[t - 1] + rng.integers(1, k, n)) % k
        true[t] = np.where(moves, other, true[t - 1])
    wrong = (true + rng.integers(1, k, (windows, n))) % k
    seen_as = np.where(rng.random((windows, n)) < right, true, wrong)
    ev = np.full((windows, n, k), (1 - right) / (k - 1))
    ev[np.arange(windows)[:, None], np.arange(n)[None], seen_as] = right
    return true, ev


def test_learns_the_migration_and_the_share_of_movers() -> None:
    """On a simulated chain (4 personas, 85% stay, a fifth of the windows mislabelled) the
    learnt chance of staying is within 0.05 of the truth, the mean move probability within 15%
    of the true share of movers, and the smoothed labels are more often right than each
    window's own."""
    true, ev = _chain(4000, 3, 4, stay=0.85, right=0.8, seed=1)
    chain = smooth_windows(ev)
    assert np.abs(np.diag(chain.transition) - 0.85).max() < 0.05, chain.transition
    truly = (true[1:] != true[:-1]).mean()
    assert abs(chain.move.mean() - truly) <= 0.15 * truly, (chain.move.mean(), truly)
    smoothed = (chain.posterior.argmax(axis=2) == true).mean()
    raw = (ev.argmax(axis=2) == true).mean()
    assert smoothed > raw + 0.02, (smoothed, raw)
    # the posteriors are distributions
    np.testing.assert_allclose(chain.posterior.sum(axis=2), 1.0)
    assert ((chain.move >= 0) & (chain.move <= 1)).all()


def test_a_window_without_evidence_neither_moves_nor_blocks() -> None:
    """A customer without evidence in a window (no events, or too few) has no move
    probability for the pairs that window is in, and still gets a persona probability there
    from the windows around it."""
    true, ev = _chain(500, 3, 3, stay=0.9, right=0.8, seed=2)
    ev[1, :50] = 0.0
    chain = smooth_windows(ev)
    assert np.isnan(chain.move[:, :50]).all()
    assert not np.isnan(chain.move[:, 50:]).any()
    np.testing.assert_allclose(chain.posterior[1, :50].sum(axis=1), 1.0)
    stayed = (true[0, :50] == true[2, :50]) & (true[0, :50] == true[1, :50])
    guess = chain.posterior[1, :50].argmax(axis=1)
    assert (guess[stayed] == true[1, :50][stayed]).mean() > 0.7  # each window is 80% right


def test_bad_evidence_is_refused() -> None:
    with pytest.raises(ConfigError, match="windows x customers x personas"):
        smooth_windows(np.ones((3, 4)))


def test_move_since_first_is_the_posterior_over_every_path() -> None:
    """``move_since_first[t - 1]`` is the probability that the persona of window t differs
    from that of window 0 given every window: checked against the sum over all persona paths
    (3 personas, 4 windows, the chain's own learnt start and migration), and equal to ``move``
    for the first pair. A customer without evidence in window 0 or window t has none."""
    true, ev = _chain(300, 4, 3, stay=0.8, right=0.7, seed=3)
    ev[2, :20] = 0.0  # no evidence in window 2: no probability for 0 -> 2, still for 0 -> 3
    chain = smooth_windows(ev)
    np.testing.assert_allclose(chain.move_since_first[0], chain.move[0])
    seen = ev.sum(axis=2) > 0
    shares = ev[seen].mean(axis=0)
    like = np.where(seen[..., None], ev / shares, 1.0)
    paths = np.array(np.meshgrid(*[range(3)] * 4, indexing="ij")).reshape(4, -1).T
    for c in (0, 25, 299):
        weight = np.array(
            [
                chain.start[p[0]]
                * np.prod([chain.transition[p[t - 1], p[t]] for t in range(1, 4)])
                * np.prod([like[t, c, p[t]] for t in range(4)])
                for p in paths
            ]
        )
        weight /= weight.sum()
        for t in (1, 3):
            brute = weight[paths[:, t] != paths[:, 0]].sum()
            assert chain.move_since_first[t - 1, c] == pytest.approx(brute, abs=1e-9)
    assert np.isnan(chain.move_since_first[1, :20]).all()
    assert not np.isnan(chain.move_since_first[2, :20]).any()
    # calibrated like ``move``: the mean is close to the true share who differ from window 0
    truly = (true[3] != true[0]).mean()
    assert abs(chain.move_since_first[2].mean() - truly) <= 0.2 * truly
