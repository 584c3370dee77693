"""The risk that a touch makes a customer withdraw consent, learned from the log.

Every touch on a channel with an opt-out activity in ``policy.consent`` is a trial; it
*unsubscribed* the customer when an opt-out of that channel follows within
``policy.response_window``. The risk depends on the channel and on how many touches the customer
got in the fatigue window (``policy.fatigue.within``) before it: a main-effects (log-linear)
model, risk = channel rate x multiplier of the recent-touch count, fitted by alternating the two
margins (iterative proportional fitting). Every cell gets one pseudo-touch at the overall rate
(so an empty cell borrows it, and a log without opt-outs gives no risk at all); the multiplier
is kept non-decreasing in the count, and counts above the largest one seen share its
multiplier. Evidence from another log (e.g. a pilot) adds with ``prior=``.

Arbitration with ``fatigue: {..., unsubscribe_cost: c}`` subtracts risk x ``c`` (the value a
customer's consent is worth, in the unit of the journeys' ``value``) from each journey's
expected value: a journey that earns less than the consent it puts at risk is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from journeymine.actions._index import EventIndex
from journeymine.actions.policy import Policy
from journeymine.exceptions import ConfigError, NotFittedError

__all__ = ["UnsubscribeRisk", "unsubscribe_penalty"]

_ITERATIONS = 50


def _recent(index: EventIndex, policy: Policy, codes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Touches of the policy per point in the fatigue window before ``t``."""
    if policy.fatigue_within_s is None:
        return np.zeros(len(codes), dtype=np.int64)
    mask = index.is_activity(policy.touch_activities)
    return index.count_masked(("fatigue",), mask, codes, t, policy.fatigue_within_s)


@dataclass(kw_only=True, eq=False, repr=False)  # BaseEstimator's repr, identity eq/hash
class UnsubscribeRisk(BaseEstimator):
    """Probability that a touch on a channel is followed by an opt-out of that channel, by
    channel and by the number of the customer's touches in the fatigue window before it.

    Attributes
    ----------
    channels_ : list of str
        Channels with an opt-out activity in the policy's consent entries.
    touches_, opt_outs_ : ndarray, shape (channels, counts)
        Touches and opt-outs that followed, per channel and recent-touch count (the last
        column: that count or more).
    rate_ : ndarray, shape (channels,)
        Risk of a touch with no recent touch.
    multiplier_ : ndarray, shape (counts,)
        Risk after ``r`` recent touches over the risk after none (non-decreasing).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.actions import Policy
    >>> from journeymine.actions.unsubscribe import UnsubscribeRisk
    >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
    ...     "activity": "email_sent"}], "consent": [{"channel": "email",
    ...     "opt_out": "email_opt_out"}], "fatigue": {"within": "7D", "factor": 0.8},
    ...     "response_window": "24h"})
    >>> rows = [(f"c{i}", "2025-01-01 09:00", "email_sent") for i in range(100)]
    >>> rows += [(f"c{i}", "2025-01-01 10:00", "email_opt_out") for i in range(5)]
    >>> log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity"])
    >>> risk = UnsubscribeRisk().fit(log, policy)
    >>> risk.channels_, int(risk.opt_outs_.sum()), round(float(risk.rate_[0]), 3)
    (['email'], 5, 0.05)
    >>> risk.table()[["channel", "recent_touches", "touches", "opt_outs"]]
      channel  recent_touches  touches  opt_outs
    0   email               0      100         5
    """

    def fit(
        self, log: object, policy: Policy, *, prior: UnsubscribeRisk | None = None
    ) -> UnsubscribeRisk:
        """Count the touches and the opt-outs that followed them in ``log`` (a canonical log,
        or an :class:`EventIndex` of one), plus the counts of ``prior`` (a model fitted on
        another log with the same policy, e.g. a pilot's), and estimate the risks."""
        if not isinstance(policy, Policy):
            raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
        index = log if isinstance(log, EventIndex) else EventIndex(log, product_column=None)
        self.policy_ = policy
        opt_out: dict[str, tuple[str, ...]] = {}
        for c in policy.consent:
            if c.opt_out:
                opt_out[c.channel] = opt_out.get(c.channel, ()) + tuple(c.opt_out)
        self.channels_ = sorted(opt_out)
        touch = index.is_activity(policy.touch_activities)
        rows = np.flatnonzero(touch)
        codes, t = index.code[rows], index.t[rows]
        recent = _recent(index, policy, codes, t)
        top = int(recent.max(initial=0))
        C = len(self.channels_)
        self.touches_ = np.zeros((C, top + 1))
        self.opt_outs_ = np.zeros((C, top + 1))
        w = policy.response_window_s
        for k, ch in enumerate(self.channels_):
            on = index.on_channel(ch, policy.channel_of)[rows]
            out = index.count(opt_out[ch], codes[on], t[on] + w + 1, w) > 0
            np.add.at(self.touches_[k], recent[on], 1.0)
            np.add.at(self.opt_outs_[k], recent[on], out.astype(np.float64))
        if prior is not None:
            if not isinstance(prior, UnsubscribeRisk) or not hasattr(prior, "rate_"):
                raise ConfigError("prior must be a fitted UnsubscribeRisk.")
            if prior.channels_ != self.channels_:
                raise ConfigError(
                    f"prior was fitted for the channels {prior.channels_}, this policy's are "
                    f"{self.channels_}; fit it with the same policy."
                )
            width = max(self.touches_.shape[1], prior.touches_.shape[1])
            pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])))  # noqa: E731
            self.touches_ = pad(self.touches_) + pad(prior.touches_)
            self.opt_outs_ = pad(self.opt_outs_) + pad(prior.opt_outs_)
        self._estimate()
        return self

    def _estimate(self) -> None:
        total, outs = self.touches_.sum(), self.opt_outs_.sum()
        mult = np.ones(self.touches_.shape[1])
        if outs <= 0:  # no opt-out seen: no evidence of any risk
            self.rate_, self.multiplier_ = np.zeros(len(self.touches_)), mult
            return
        n, u = self.touches_ + 1.0, self.opt_outs_ + outs / total  # a pseudo-touch per cell
        rate = u.sum(1) / n.sum(1)
        for _ in range(_ITERATIONS):
            mult = u.sum(0) / np.maximum((n * rate[:, None]).sum(0), 1e-12)
            mult = np.maximum.accumulate(mult / mult[0])
            rate = u.sum(1) / np.maximum((n * mult[None, :]).sum(1), 1e-12)
        self.rate_, self.multiplier_ = rate, mult

    def _check_fitted(self) -> None:
        if not hasattr(self, "rate_"):
            raise NotFittedError("this UnsubscribeRisk is not fitted yet; call fit() first.")

    def table(self) -> pd.DataFrame:
        """What was learnt, one row per channel and number of recent touches (the last: that
        many or more): ``touches`` and the ``opt_outs`` that followed them, and the model's
        ``risk`` (channel rate x recent-touch multiplier, at most 1).

        Returns
        -------
        DataFrame
            ``channel, recent_touches, touches, opt_outs, risk``; empty when the policy's
            consent entries name no opt-out activity.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        """
        self._check_fitted()
        counts = np.arange(self.touches_.shape[1])
        return pd.DataFrame(
            {
                "channel": np.repeat(self.channels_, len(counts)).astype(object),
                "recent_touches": np.tile(counts, len(self.channels_)),
                "touches": self.touches_.ravel().astype(np.int64),
                "opt_outs": self.opt_outs_.ravel().astype(np.int64),
                "risk": np.minimum(1.0, np.outer(self.rate_, self.multiplier_)).ravel(),
            }
        )

    def risk(self, index: EventIndex, codes: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Risk per point (rows) of a touch of each of the policy's journeys (columns), on its
        own channel; 0 for channels without an opt-out."""
        self._check_fitted()
        recent = _recent(index, self.policy_, codes, t)
        m = self.multiplier_[np.minimum(recent, len(self.multiplier_) - 1)]
        out = np.zeros((len(codes), len(self.policy_.journeys)))
        for k, j in enumerate(self.policy_.journeys):
            if j.channel in self.channels_:
                out[:, k] = np.minimum(1.0, self.rate_[self.channels_.index(j.channel)] * m)
        return out


def unsubscribe_penalty(
    index: EventIndex,
    policy: Policy,
    codes: np.ndarray,
    t: np.ndarray,
    prior: UnsubscribeRisk | None = None,
) -> np.ndarray | None:
    """The expected loss of consent of each journey per point (risk x
    ``policy.unsubscribe_cost``), learned from the log behind ``index`` (plus ``prior``'s
    evidence); None when the policy puts no value on consent."""
    if policy.unsubscribe_cost <= 0:
        return None
    risk = UnsubscribeRisk().fit(index, policy, prior=prior)
    return risk.risk(index, codes, t) * policy.unsubscribe_cost
