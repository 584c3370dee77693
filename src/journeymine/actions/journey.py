"""The parts of an orchestration policy: eligibility rules, suppressions, caps, consent entries
and journeys, each checked from plain data (see :mod:`journeymine.actions.policy` for the format).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from journeymine.exceptions import ConfigError, did_you_mean
from journeymine.schema import check_duration

__all__ = ["ARBITRATIONS", "Cap", "Consent", "Journey", "Rule", "Suppression", "journey_from_dict"]

RULES = ("seen", "not_seen", "new_customer", "persona")
_RULE_KEYS = {
    "seen": {"rule", "activity", "within"},
    "not_seen": {"rule", "activity", "within"},
    "new_customer": {"rule", "within"},
    "persona": {"rule", "in"},
}


def duration_text(seconds: int) -> str:
    """A whole number of seconds in the largest unit that divides it, as the engine writes
    durations in rule descriptions and "why not" texts.

    Parameters
    ----------
    seconds : int
        The duration.

    Returns
    -------
    str
        ``"<n>d"``, ``"<n>h"``, ``"<n>min"`` or ``"<n>s"``.

    Examples
    --------
    >>> [duration_text(s) for s in (259_200, 129_600, 1_800, 90)]
    ['3d', '36h', '30min', '90s']
    """
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _seconds(value: Any, where: str) -> int:
    return int(check_duration(value, where, examples="'48h', '7D' or '30min'").total_seconds())


def _rate(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"{where} must be a response rate in [0, 1] (e.g. 0.05), got {value!r}.")
    return float(value)


def _cost(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise ConfigError(
            f"{where} must be a contact cost >= 0 in the unit of 'value' (e.g. 0.01), "
            f"got {value!r}."
        )
    return float(value)


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, Sequence)
        or not value
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise ConfigError(f"{where}: give an activity name or a list of names, got {value!r}.")
    return tuple(value)


def _check_keys(d: Any, allowed: set[str], required: set[str], where: str) -> None:
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(d).__name__}.")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}.{did_you_mean(unknown[0], allowed)} "
            f"Allowed: {sorted(allowed)}."
        )
    missing = sorted(required - set(d))
    if missing:
        raise ConfigError(f"{where}: missing key(s) {missing}.")


@dataclass(frozen=True)
class Rule:
    """One eligibility rule (see the module docstring).

    ``seen`` / ``not_seen`` an activity within a window, ``new_customer`` (first event at most
    a window ago), or a ``persona`` in a list.

    Examples
    --------
    >>> from journeymine.actions import Rule
    >>> rule = Rule.from_dict(
    ...     {"rule": "seen", "activity": "add_to_cart", "within": "24h"}, "eligible[0]"
    ... )
    >>> rule.kind, rule.activities, rule.within_s
    ('seen', ('add_to_cart',), 86400)
    >>> rule.describe()
    'add_to_cart in the last 1d'
    """

    kind: str
    activities: tuple[str, ...] = ()
    within_s: int = 0
    personas: tuple[int, ...] = ()

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Rule:
        kind = d.get("rule") if isinstance(d, Mapping) else None
        if kind not in RULES:
            raise ConfigError(
                f"{where}: unknown rule {kind!r}.{did_you_mean(str(kind), RULES)} "
                f"Allowed: {list(RULES)}."
            )
        _check_keys(d, _RULE_KEYS[kind], _RULE_KEYS[kind], where)
        if kind == "persona":
            ids = d["in"]
            if not isinstance(ids, Sequence) or isinstance(ids, str) or not ids:
                raise ConfigError(f"{where}: 'in' must be a list of persona ids, got {ids!r}.")
            return cls(kind, personas=tuple(int(i) for i in ids))
        acts = _names(d["activity"], f"{where}.activity") if "activity" in d else ()
        return cls(kind, acts, _seconds(d["within"], f"{where}.within"))

    def describe(self) -> str:
        """The rule in words (used in "why not" reasons)."""
        w = duration_text(self.within_s)
        acts = "/".join(self.activities)
        return {
            "seen": f"{acts} in the last {w}",
            "not_seen": f"no {acts} in the last {w}",
            "new_customer": f"first event at most {w} ago",
            "persona": f"persona in {list(self.personas)}",
        }[self.kind]


@dataclass(frozen=True)
class Suppression:
    """An event that blocks a journey for a while (optionally only about the same product).

    Examples
    --------
    A returned product stops the tips about it for 30 days (the shipped sample policy):

    >>> from journeymine.datasets import sample_policy
    >>> sample_policy().journey("post_purchase_tips").suppress
    (Suppression(activities=('return_product',), within_s=2592000, same_product=True),)
    """

    activities: tuple[str, ...]
    within_s: int
    same_product: bool = False


@dataclass(frozen=True)
class Cap:
    """At most ``max`` touches on ``channel`` (``"*"`` = all channels) per rolling ``per_s``.

    Examples
    --------
    The caps of the shipped sample policy (``per: 7D`` is 604800 s):

    >>> from journeymine.datasets import sample_policy
    >>> sample_policy().caps
    (Cap(channel='email', max=2, per_s=604800), Cap(channel='*', max=3, per_s=604800))
    """

    channel: str
    max: int
    per_s: int


@dataclass(frozen=True)
class Consent:
    """A reachability or consent signal a channel needs (see the module docstring).

    An opt-in activity not followed by an opt-out (``no_consent`` otherwise), an activity
    that makes the channel reachable (``requires``), or a customer attribute.

    Examples
    --------
    >>> from journeymine.actions import Consent
    >>> email = Consent.from_dict(
    ...     {"channel": "email", "opt_in": "email_opt_in", "opt_out": "email_opt_out"},
    ...     "consent[0]",
    ... )
    >>> email.reason, email.describe()
    ('no_consent', 'no email_opt_in after the last email_opt_out')
    >>> push = Consent.from_dict({"channel": "push", "requires": "app_install"}, "consent[1]")
    >>> push.reason, push.describe()
    ('unreachable', 'never seen app_install')
    """

    channel: str
    opt_in: tuple[str, ...] = ()
    opt_out: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    attribute: str | None = None
    reason: str = "no_consent"

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Consent:
        _check_keys(
            d,
            {"channel", "opt_in", "opt_out", "requires", "attribute", "reason"},
            {"channel"},
            where,
        )
        kinds = [k for k in ("requires", "attribute") if k in d]
        if ("opt_in" in d or "opt_out" in d) + len(kinds) != 1:
            raise ConfigError(
                f"{where}: give exactly one signal: opt_in/opt_out activities (consent), "
                f"'requires' (an activity that makes the channel reachable, e.g. app_install) or "
                f"'attribute' (a column of the customer attribute table, e.g. has_app); got "
                f"{sorted(set(d) - {'channel', 'reason'})}."
            )
        if "attribute" in d:
            if not isinstance(d["attribute"], str) or not d["attribute"]:
                raise ConfigError(
                    f"{where}.attribute must be a column name, got {d['attribute']!r}."
                )
            reason = d.get("reason", "unreachable")
            if reason not in ("unreachable", "no_consent"):
                raise ConfigError(
                    f"{where}.reason must be 'unreachable' or 'no_consent', got {reason!r}."
                )
            return cls(str(d["channel"]), attribute=d["attribute"], reason=reason)
        if "reason" in d:
            raise ConfigError(f"{where}: 'reason' goes with 'attribute' only.")
        if "requires" in d:
            return cls(
                str(d["channel"]),
                requires=_names(d["requires"], f"{where}.requires"),
                reason="unreachable",
            )
        return cls(
            str(d["channel"]),
            opt_in=_names(d["opt_in"], f"{where}.opt_in") if "opt_in" in d else (),
            opt_out=_names(d["opt_out"], f"{where}.opt_out") if "opt_out" in d else (),
        )

    def describe(self) -> str:
        if self.attribute is not None:
            return f"customer attribute {self.attribute!r} is not true"
        if self.requires:
            return f"never seen {'/'.join(self.requires)}"
        if self.opt_in:
            return (
                f"no {'/'.join(self.opt_in)} after the last {'/'.join(self.opt_out) or 'opt-out'}"
            )
        return f"{'/'.join(self.opt_out)} seen"


ARBITRATIONS = ("response", "uplift")


@dataclass(frozen=True)
class Journey:
    """A journey the policy may send: its touch, when it is allowed and what it is worth.

    Examples
    --------
    >>> from journeymine.actions import Policy
    >>> policy = Policy.from_dict({"journeys": [
    ...     {"name": "cart_abandonment", "channel": "email", "activity": "email_sent",
    ...      "eligible": [{"rule": "seen", "activity": "add_to_cart", "within": "24h"}],
    ...      "min_gap": "3D", "alternatives": {"push": "push_sent"}},
    ... ]})
    >>> cart = policy.journey("cart_abandonment")
    >>> cart.channel, cart.activity, cart.min_gap_s, cart.eligible[0].describe()
    ('email', 'email_sent', 259200, 'add_to_cart in the last 1d')
    >>> push = cart.on("push")  # the same journey sent on one of its alternatives
    >>> push.channel, push.activity
    ('push', 'push_sent')
    """

    name: str
    channel: str
    activity: str
    eligible: tuple[Rule, ...] = ()
    suppress: tuple[Suppression, ...] = ()
    product_from: str | None = None
    min_gap_s: int | None = None
    value: float = 1.0
    prior_rate: float | None = None
    cost: float = 0.0
    alternatives: tuple[tuple[str, str], ...] = ()
    skip_if_likely: bool = False

    def on(self, channel: str) -> Journey:
        """This journey sent on ``channel`` (its own, or one of its ``alternatives``)."""
        if channel == self.channel:
            return self
        for c, act in self.alternatives:
            if c == channel:
                return replace(self, channel=c, activity=act, alternatives=())
        raise ConfigError(
            f"journey {self.name!r} is not sent on {channel!r}; its channels are "
            f"{[self.channel, *(c for c, _ in self.alternatives)]}."
        )


def journey_from_dict(j: Any, where: str) -> Journey:
    """One journey of a policy from plain data, checked (``where`` names it in errors,
    e.g. ``policy.journeys[0]``).

    Examples
    --------
    >>> j = journey_from_dict({"name": "tips", "channel": "email", "activity": "email_sent",
    ...                        "min_gap": "5D"}, "policy.journeys[0]")
    >>> j.name, j.min_gap_s
    ('tips', 432000)
    """
    allowed = {
        "name",
        "channel",
        "activity",
        "eligible",
        "suppress",
        "product_from",
        "min_gap",
        "value",
        "prior_rate",
        "cost",
        "alternatives",
        "skip_if_likely",
    }
    _check_keys(j, allowed, {"name", "channel", "activity"}, where)
    where = f"journey {j['name']!r}"
    eligible = j.get("eligible", [])
    if not isinstance(eligible, Sequence) or isinstance(eligible, str):
        raise ConfigError(f"{where}.eligible must be a list of rules.")
    rules = tuple(Rule.from_dict(r, f"{where}.eligible[{k}]") for k, r in enumerate(eligible))
    sups = []
    for k, s in enumerate(j.get("suppress", [])):
        sw = f"{where}.suppress[{k}]"
        _check_keys(s, {"activity", "within", "same_product"}, {"activity", "within"}, sw)
        same = bool(s.get("same_product", False))
        if same and not j.get("product_from"):
            raise ConfigError(
                f"{sw}: same_product needs the journey's product_from (the activity "
                f"whose product the journey is about, e.g. 'purchase')."
            )
        sups.append(
            Suppression(
                _names(s["activity"], f"{sw}.activity"),
                _seconds(s["within"], f"{sw}.within"),
                same,
            )
        )
    value = j.get("value", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}.value must be a positive number, got {value!r}.")
    alts = j.get("alternatives", {})
    if not isinstance(alts, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in alts.items()
    ):
        raise ConfigError(
            f"{where}.alternatives must map other channels to their send activity, "
            f"e.g. {{email: email_sent}}; got {alts!r}."
        )
    if str(j["channel"]) in alts:
        raise ConfigError(
            f"{where}.alternatives names the journey's own channel {j['channel']!r}; "
            f"list only the other channels it may be sent on."
        )
    skip = j.get("skip_if_likely", False)
    if not isinstance(skip, bool):
        raise ConfigError(f"{where}.skip_if_likely must be true or false, got {skip!r}.")
    return Journey(
        name=str(j["name"]),
        channel=str(j["channel"]),
        activity=str(j["activity"]),
        eligible=rules,
        suppress=tuple(sups),
        product_from=j.get("product_from"),
        min_gap_s=_seconds(j["min_gap"], f"{where}.min_gap") if "min_gap" in j else None,
        value=float(value),
        prior_rate=_rate(j.get("prior_rate"), f"{where}.prior_rate"),
        cost=_cost(j.get("cost", 0.0), f"{where}.cost"),
        alternatives=tuple((str(c), str(a)) for c, a in alts.items()),
        skip_if_likely=skip,
    )
