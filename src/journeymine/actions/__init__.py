"""Next best action: an orchestration policy as data, per-persona response rates, a decision
engine that explains every losing option, and a backtest that replays a historical log.
:class:`EventIndex` answers the as-of questions of the gates (how many events of these
activities in a window before each decision point, the latest one), for many points at once.

>>> from journeymine.actions import Policy, ResponseModel, next_best_action, backtest
"""

from journeymine.actions._index import EventIndex
from journeymine.actions.backtest import Backtest, backtest
from journeymine.actions.engine import Decisions, next_best_action
from journeymine.actions.feature_uplift import FeatureUplift
from journeymine.actions.ope import evaluate_policy
from journeymine.actions.policy import Cap, Consent, Journey, Policy, Rule, Suppression
from journeymine.actions.response import ResponseModel
from journeymine.actions.unsubscribe import UnsubscribeRisk
from journeymine.actions.uplift import UpliftModel
from journeymine.actions.uplift_choice import choice_certainty

__all__ = [
    "Backtest",
    "Cap",
    "Consent",
    "Decisions",
    "EventIndex",
    "FeatureUplift",
    "Journey",
    "Policy",
    "ResponseModel",
    "Rule",
    "Suppression",
    "UnsubscribeRisk",
    "UpliftModel",
    "backtest",
    "choice_certainty",
    "evaluate_policy",
    "next_best_action",
]
