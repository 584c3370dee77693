"""How sure an :class:`~journeymine.actions.UpliftModel` is of each persona's best journey.

A pilot measures every persona x journey cell on a sample; when two journeys' uplift intervals
overlap, the policy's choice between them is a coin toss that more evidence would settle.
:func:`choice_certainty` draws from the model's Beta posteriors and counts, per persona, how
often the journey with the best expected net value (uplift x value - cost, or sending nothing)
is also the best in the draw: the probability that the choice is right. A low probability
says the pilot was too short or the persona too small to rank its journeys, before any
customer is sent the wrong one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeymine.actions.policy import Policy
from journeymine.exceptions import ConfigError

if TYPE_CHECKING:
    from journeymine.actions.uplift import UpliftModel

__all__ = ["NOTHING", "UNSURE_BELOW", "choice_certainty"]

#: The name of the choice to send nothing (every journey's expected net value below 0).
NOTHING = "(nothing)"

#: Below this probability of being the best, the CLI and the actions report say that the log
#: cannot rank a persona's journeys yet.
UNSURE_BELOW = 0.8


def choice_certainty(
    model: UpliftModel,
    policy: Policy | None = None,
    *,
    n_draws: int = 4000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Per persona, the best journey by expected net value and the probability that it is.

    Net value of a touch: uplift x the journey's ``value`` - its ``cost`` (the policy's uplift
    arbitration, before fatigue and consent risk); sending nothing is worth 0. Every journey
    counts as eligible: the probability is that of the persona's ranking, not of one
    customer's choice among the journeys open to them.

    Parameters
    ----------
    model : UpliftModel
        A fitted model.
    policy : Policy, optional
        Whose journeys' ``value`` and ``cost`` count (the model's journeys, in its order);
        default the policy the model was fitted with. A loaded model does not keep it: pass
        the policy it decides for.
    n_draws : int, default 4000
        Posterior draws (at least 100; the probabilities' standard error is at most
        ``0.5 / sqrt(n_draws)``).
    random_state : int or None, default 0

    Returns
    -------
    DataFrame
        One row per persona of the model (``-1``: all customers pooled; ``-2``: the customers
        soft memberships leave unplaced): ``best`` (a journey, or ``"(nothing)"``),
        ``expected_net``, ``probability_best``, ``runner_up``, ``probability_runner_up``,
        and the touches and holdouts behind the best journey's estimate.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.actions import Policy, UpliftModel
    >>> pol = Policy.from_dict({"journeys": [
    ...     {"name": "offer", "channel": "email", "activity": "email_sent", "value": 10},
    ...     {"name": "tips", "channel": "email", "activity": "tips_sent", "value": 10}]})
    >>> rows = []
    >>> for i in range(300):  # offer: 30% vs 10% held out; tips: 12% vs 10%
    ...     for j, (act, rate) in enumerate([("email_sent", .3), ("tips_sent", .12),
    ...                                      ("holdout", .1), ("holdout", .1)]):
    ...         cid, name = f"c{i}_{j}", ["offer", "tips"][j % 2]
    ...         rows.append((cid, "2025-01-01 09:00", act, name))
    ...         if i < rate * 300:
    ...             rows.append((cid, "2025-01-01 12:00", "purchase", None))
    >>> log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])
    >>> model = UpliftModel().fit(log, pd.Series(0, index=log["customer_id"].unique()), pol)
    >>> sure = choice_certainty(model, random_state=0).set_index("persona")
    >>> sure.loc[0, "best"], sure.loc[0, "runner_up"], bool(sure.loc[0, "probability_best"] > 0.99)
    ('offer', 'tips', True)
    """
    if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 100:
        raise ConfigError(
            f"n_draws must be an integer >= 100 (posterior draws per persona), got {n_draws!r}."
        )
    model._fitted()
    policy = policy if policy is not None else getattr(model, "policy_", None)
    if policy is None:
        raise ConfigError(
            "this UpliftModel was loaded from a file, which keeps no journey values or costs: "
            "pass the policy it decides for, choice_certainty(model, policy)."
        )
    if not isinstance(policy, Policy):
        raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
    if [j.name for j in policy.journeys] != list(model.journeys_):
        raise ConfigError(
            f"the policy's journeys {[j.name for j in policy.journeys]} are not the model's "
            f"{list(model.journeys_)}: pass the policy the model was fitted with."
        )
    a_t, b_t, a_c, b_c = model._posteriors()
    journeys = policy.journeys
    value = np.array([j.value for j in journeys], dtype=np.float64)
    cost = np.array([j.cost for j in journeys], dtype=np.float64)
    rng = np.random.default_rng(random_state)
    shape = (int(n_draws), *a_t.shape)
    uplift = rng.beta(a_t, b_t, size=shape) - rng.beta(a_c, b_c, size=shape)
    zeros = np.zeros((*shape[:2], 1))
    drawn = np.concatenate([uplift * value - cost, zeros], axis=2)  # (draw, persona, choice)
    # the posterior means the model decides with (UpliftModel.rates)
    expected = np.concatenate([model._mean * value - cost, np.zeros((len(a_t), 1))], axis=1)
    order = np.argsort(-expected, axis=1, kind="stable")
    best, runner = order[:, 0], order[:, 1]
    winner = drawn.argmax(axis=2)
    names = np.array([*model.journeys_, NOTHING], dtype=object)
    rows = np.arange(len(best))
    # touches and holdouts per choice; sending nothing has none
    counts = np.concatenate([model.counts_, np.zeros((len(a_t), 1, 4))], axis=1)
    return pd.DataFrame(
        {
            "persona": model.personas_,
            "best": names[best],
            "expected_net": expected[rows, best],
            "probability_best": (winner == best[None, :]).mean(axis=0),
            "runner_up": names[runner],
            "probability_runner_up": (winner == runner[None, :]).mean(axis=0),
            "touches": counts[rows, best, 0].round().astype(np.int64),
            "holdouts": counts[rows, best, 2].round().astype(np.int64),
        }
    )
