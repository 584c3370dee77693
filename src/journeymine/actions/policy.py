"""An orchestration policy as data: journeys with eligibility rules, suppressions, a minimum gap
between two sends of one journey, and per-channel frequency caps.

A policy is plain data (a dict, YAML or JSON file) checked once by :meth:`Policy.from_dict`:
every problem names the journey, the field, what is allowed and how to fix it. Durations are
pandas strings such as ``"48h"``, ``"7D"``, ``"30min"``; the engine works to the second.

Rules (all of a journey's ``eligible`` rules must hold, on the events *before* the decision):

====================================================== =========================================
``{"rule": "seen", "activity": A, "within": W}``       an event of activity ``A`` (a name or a
                                                       list) in the last ``W``
``{"rule": "not_seen", "activity": A, "within": W}``   no such event in the last ``W``
``{"rule": "new_customer", "within": W}``              the customer's first event is at most
                                                       ``W`` old
``{"rule": "persona", "in": [ids]}``                   the customer's persona is one of these
====================================================== =========================================

Suppressions (``suppress``): ``{"activity": A, "within": W, "same_product": bool}`` blocks the
journey when such an event happened in the last ``W``; with ``same_product`` only when it is about
the journey's product (the product of the latest ``product_from`` event, e.g. the purchase the
tips are about): a returned product stops the tips about it.

Reachability and consent (``consent``, applied before every other gate): a journey on a channel
is sent only when every entry for that channel holds. ``{"channel": "email", "opt_in":
"email_opt_in", "opt_out": "email_opt_out"}``: the latest opt-in event is later than the latest
opt-out (without ``opt_in``: no opt-out yet), else ``no_consent``; ``{"channel": "push",
"requires": "app_install"}``: such an event ever happened, else ``unreachable``; ``{"channel":
"push", "attribute": "has_app"}``: the customer attribute table given to the engine says so
(missing customers fail), else ``unreachable`` (``"reason": "no_consent"`` for an opt-in flag).

Next step (``next_step``, with ``NextStepModel.predict`` output passed to the engine):
``channels: {app: push, web: email}`` sends a journey on the channel the customer is predicted
to use next, where the journey lists it in ``alternatives: {email: email_sent}`` and it passes
that channel's gates (else on the journey's own channel); ``skip_outcome_above: 0.6`` blocks
the journeys marked ``skip_if_likely: true`` (e.g. a cart reminder) for customers whose
predicted outcome probability (``p_outcome``) is at least 0.6 (why not: ``outcome_likely``).

Arbitration (``arbitration``): ``"response"`` (default) ranks journeys by expected response x
value; ``"uplift"`` by expected *incremental* response x value minus the journey's ``cost``,
sending nothing when no journey earns more than it costs (an
:class:`~journeymine.actions.UpliftModel` gives the uplift). ``fatigue: {"within": "7D",
"factor": 0.7}`` multiplies the expected (uplift or) response by ``factor`` per touch in the last
``within``. Holdouts (``holdout_activity``, default ``"holdout"``: a logged decision to send
nothing, with the journey it held back) and ``outcome_activities`` (default ``purchase``) are
what an UpliftModel compares.

Cold start: ``prior_rate`` (policy-wide, or per journey, which wins) is the response rate
assumed for a journey before its touches are logged. A :class:`ResponseModel` fitted on a log
with no touch of a journey uses it (and shrinks the logged rate towards it once there are
some), so a team that starts with journeymine gets decisions (through every gate) from day one.

Examples
--------
>>> policy = Policy.from_dict({
...     "journeys": [
...         {"name": "cart_abandonment", "channel": "email", "activity": "email_sent",
...          "eligible": [{"rule": "seen", "activity": "add_to_cart", "within": "24h"},
...                       {"rule": "not_seen", "activity": "purchase", "within": "24h"}],
...          "min_gap": "3D"},
...         {"name": "post_purchase_tips", "channel": "email", "activity": "email_sent",
...          "eligible": [{"rule": "seen", "activity": "purchase", "within": "14D"}],
...          "product_from": "purchase",
...          "suppress": [{"activity": "return_product", "within": "30D",
...                        "same_product": True}]},
...     ],
...     "caps": [{"channel": "email", "max": 2, "per": "7D"}],
... })
>>> [j.name for j in policy.journeys], policy.caps[0].max
(['cart_abandonment', 'post_purchase_tips'], 2)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from journeymine.exceptions import ConfigError, DataQualityWarning, did_you_mean
from journeymine.schema import check_duration

__all__ = ["MAX_POLICY_BYTES", "Cap", "Consent", "Journey", "Policy", "Rule", "Suppression"]

MAX_POLICY_BYTES = 1 << 20
"""Largest policy file :meth:`Policy.from_file` reads (1 MiB; real policies are a few KB)."""

RULES = ("seen", "not_seen", "new_customer", "persona")
_RULE_KEYS = {
    "seen": {"rule", "activity", "within"},
    "not_seen": {"rule", "activity", "within"},
    "new_customer": {"rule", "within"},
    "persona": {"rule", "in"},
}


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
    """One eligibility rule (see the module docstring)."""

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
        w = _human(self.within_s)
        acts = "/".join(self.activities)
        return {
            "seen": f"{acts} in the last {w}",
            "not_seen": f"no {acts} in the last {w}",
            "new_customer": f"first event at most {w} ago",
            "persona": f"persona in {list(self.personas)}",
        }[self.kind]


@dataclass(frozen=True)
class Suppression:
    """An event that blocks a journey for a while (optionally only about the same product)."""

    activities: tuple[str, ...]
    within_s: int
    same_product: bool = False


@dataclass(frozen=True)
class Cap:
    """At most ``max`` touches on ``channel`` (``"*"`` = all channels) per rolling ``per_s``."""

    channel: str
    max: int
    per_s: int


@dataclass(frozen=True)
class Consent:
    """A reachability or consent signal a channel needs (see the module docstring)."""

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
    """A journey the policy may send: its touch, when it is allowed and what it is worth."""

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


@dataclass(frozen=True)
class Policy:
    """Journeys, caps, and how responses are recognised.

    A touch got a response when the same customer has an event with the same ``journey_id``
    within ``response_window`` after it: any non-touch event, or, with
    ``response_activities``, only those activities (e.g. clicks, when opens alone do not count).
    Build it with :meth:`from_dict`, :meth:`from_file` (YAML or JSON) or directly.
    """

    journeys: tuple[Journey, ...]
    caps: tuple[Cap, ...] = ()
    response_window_s: int = 48 * 3600
    response_activities: tuple[str, ...] | None = None
    min_expected_response: float = 0.0
    product_column: str = "product"
    prior_rate: float | None = None
    consent: tuple[Consent, ...] = ()
    arbitration: str = "response"
    fatigue_within_s: int | None = None
    fatigue_factor: float = 1.0
    holdout_activity: str = "holdout"
    outcome_activities: tuple[str, ...] = ("purchase",)
    next_step_channels: tuple[tuple[str, str], ...] = ()
    skip_outcome_above: float | None = None
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.journeys:
            raise ConfigError("a policy needs at least one journey.")
        names = [j.name for j in self.journeys]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"journey names must be unique; repeated: {dup}.")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})
        if self.arbitration not in ARBITRATIONS:
            raise ConfigError(
                f"arbitration must be one of {list(ARBITRATIONS)}, got {self.arbitration!r}."
                f"{did_you_mean(str(self.arbitration), ARBITRATIONS)}"
            )

    @property
    def attributes_needed(self) -> tuple[str, ...]:
        """Columns of the customer attribute table the consent gates read."""
        return tuple(dict.fromkeys(c.attribute for c in self.consent if c.attribute))

    def prior_of(self, journey: Journey) -> float | None:
        """The prior response rate of ``journey``: its own ``prior_rate``, else the policy's."""
        return journey.prior_rate if journey.prior_rate is not None else self.prior_rate

    @property
    def touch_activities(self) -> tuple[str, ...]:
        """The activities the journeys send (what counts as a touch), alternatives included."""
        return tuple(
            dict.fromkeys(
                a for j in self.journeys for a in (j.activity, *(x for _, x in j.alternatives))
            )
        )

    @property
    def channel_of(self) -> dict[str, str]:
        """Send activity -> its channel, for every journey and alternative."""
        out = {}
        for j in self.journeys:
            out[j.activity] = j.channel
            out.update({a: c for c, a in j.alternatives})
        return out

    def journey(self, name: str) -> Journey:
        if name not in self._index:
            raise ConfigError(
                f"unknown journey {name!r}.{did_you_mean(name, self._index)} "
                f"Known: {list(self._index)}."
            )
        return self.journeys[self._index[name]]

    def check_against(self, log: Any, *, strict: bool = False) -> list[str]:
        """Find the parts of this policy that can never fire on ``log``.

        A rule, suppression, ``product_from`` or ``response_activities`` naming an activity the
        log never has (usually a typo: the rule then silently always fails or never blocks),
        and a journey whose send activity never occurs (nothing to learn its response from;
        not reported for a journey with a ``prior_rate``: a cold start, nothing sent yet).

        Parameters
        ----------
        log : DataFrame or iterable of str
            A canonical event log (its ``activity`` column is used), or the activity names.
        strict : bool, default False
            Raise :class:`ConfigError` instead of warning.

        Returns
        -------
        list of str
            One sentence per finding (empty when the policy and the log fit). With findings and
            ``strict=False``, one :class:`DataQualityWarning` lists them all.

        Examples
        --------
        >>> p = Policy.from_dict({"journeys": [{"name": "x", "channel": "email",
        ...     "activity": "email_sent",
        ...     "eligible": [{"rule": "seen", "activity": "purchse", "within": "7D"}]}]})
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     found = p.check_against(["email_sent", "purchase"])
        >>> print(found[0].replace(", not", ",\\nnot"))
        journey 'x' eligible[0] (seen) names activity 'purchse',
        not in the log. Did you mean 'purchase'?
        """
        import pandas as pd

        if isinstance(log, pd.DataFrame):
            if "activity" not in log.columns:
                raise ConfigError("the log has no 'activity' column to check the policy against.")
            known = set(log["activity"].dropna().astype(str).unique())
        else:
            known = {str(a) for a in log}
        found: list[str] = []

        def check(acts: Sequence[str] | None, where: str) -> None:
            for a in acts or ():
                if a not in known:
                    found.append(
                        f"{where} names activity {a!r}, not in the log.{did_you_mean(a, known)}"
                    )

        for j in self.journeys:
            w = f"journey {j.name!r}"
            if j.activity not in known and self.prior_of(j) is None:
                found.append(
                    f"{w} sends activity {j.activity!r}, which never occurs in the log."
                    f"{did_you_mean(j.activity, known)}"
                )
            for k, r in enumerate(j.eligible):
                check(r.activities, f"{w} eligible[{k}] ({r.kind})")
            for k, s in enumerate(j.suppress):
                check(s.activities, f"{w} suppress[{k}]")
            check((j.product_from,) if j.product_from else (), f"{w} product_from")
        check(self.response_activities, "policy.response_activities")
        for k, c in enumerate(self.consent):
            check(c.opt_in + c.requires, f"policy.consent[{k}] ({c.channel})")
        if found:
            head = (
                f"the policy does not fit the log ({len(found)} finding(s); such rules never "
                f"hold or never block): "
            )
            message = head + " ".join(f"- {f}" for f in found)
            if strict:
                raise ConfigError(message)
            import warnings

            warnings.warn(message, DataQualityWarning, stacklevel=2)
        return found

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Policy:
        """Build and check a policy from plain data (see the module docstring)."""
        _check_keys(
            d,
            {
                "journeys",
                "caps",
                "response_window",
                "response_activities",
                "min_expected_response",
                "product_column",
                "prior_rate",
                "consent",
                "arbitration",
                "fatigue",
                "holdout_activity",
                "outcome_activities",
                "next_step",
            },
            {"journeys"},
            "policy",
        )
        if not isinstance(d["journeys"], Sequence) or isinstance(d["journeys"], str):
            raise ConfigError("policy.journeys must be a list of journeys.")
        journeys = []
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
        for i, j in enumerate(d["journeys"]):
            where = f"policy.journeys[{i}]"
            _check_keys(j, allowed, {"name", "channel", "activity"}, where)
            where = f"journey {j['name']!r}"
            eligible = j.get("eligible", [])
            if not isinstance(eligible, Sequence) or isinstance(eligible, str):
                raise ConfigError(f"{where}.eligible must be a list of rules.")
            rules = tuple(
                Rule.from_dict(r, f"{where}.eligible[{k}]") for k, r in enumerate(eligible)
            )
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
            journeys.append(
                Journey(
                    name=str(j["name"]),
                    channel=str(j["channel"]),
                    activity=str(j["activity"]),
                    eligible=rules,
                    suppress=tuple(sups),
                    product_from=j.get("product_from"),
                    min_gap_s=_seconds(j["min_gap"], f"{where}.min_gap")
                    if "min_gap" in j
                    else None,
                    value=float(value),
                    prior_rate=_rate(j.get("prior_rate"), f"{where}.prior_rate"),
                    cost=_cost(j.get("cost", 0.0), f"{where}.cost"),
                    alternatives=tuple((str(c), str(a)) for c, a in alts.items()),
                    skip_if_likely=skip,
                )
            )
        caps = []
        for k, c in enumerate(d.get("caps", [])):
            cw = f"policy.caps[{k}]"
            _check_keys(c, {"channel", "max", "per"}, {"channel", "max", "per"}, cw)
            if isinstance(c["max"], bool) or not isinstance(c["max"], int) or c["max"] < 0:
                raise ConfigError(f"{cw}.max must be a whole number >= 0, got {c['max']!r}.")
            caps.append(Cap(str(c["channel"]), int(c["max"]), _seconds(c["per"], f"{cw}.per")))
        used = {j.channel for j in journeys} | {c for j in journeys for c, _ in j.alternatives}
        known = used | {"*"}
        for c in caps:
            if c.channel not in known:
                raise ConfigError(
                    f"cap on channel {c.channel!r}: no journey uses it."
                    f"{did_you_mean(c.channel, known)} Channels: {sorted(known)}."
                )
        consent = d.get("consent", [])
        if not isinstance(consent, Sequence) or isinstance(consent, str):
            raise ConfigError("policy.consent must be a list of {channel: ..., ...} entries.")
        consents = tuple(
            Consent.from_dict(c, f"policy.consent[{k}]") for k, c in enumerate(consent)
        )
        for c in consents:
            if c.channel not in used:
                raise ConfigError(
                    f"consent entry for channel {c.channel!r}: no journey uses it."
                    f"{did_you_mean(c.channel, used)} Channels: {sorted(used)}."
                )
        fatigue = d.get("fatigue")
        fw, ff = None, 1.0
        if fatigue is not None:
            _check_keys(fatigue, {"within", "factor"}, {"within", "factor"}, "policy.fatigue")
            fw = _seconds(fatigue["within"], "policy.fatigue.within")
            ff = fatigue["factor"]
            if isinstance(ff, bool) or not isinstance(ff, int | float) or not 0 < ff <= 1:
                raise ConfigError(
                    f"policy.fatigue.factor must be in (0, 1] (the share of the expected response "
                    f"left per recent touch, e.g. 0.7), got {ff!r}."
                )
        nxt = d.get("next_step", {})
        _check_keys(nxt, {"channels", "skip_outcome_above"}, set(), "policy.next_step")
        nmap = nxt.get("channels", {})
        if not isinstance(nmap, Mapping) or not all(
            isinstance(k, str) and v in used for k, v in nmap.items()
        ):
            raise ConfigError(
                f"policy.next_step.channels must map a predicted next channel (as in the log, "
                f"e.g. app) to a channel the journeys send on ({sorted(used)}), e.g. "
                f"{{app: push, web: email}}; got {nmap!r}."
            )
        skip_above = nxt.get("skip_outcome_above")
        if skip_above is not None and (
            isinstance(skip_above, bool)
            or not isinstance(skip_above, int | float)
            or not 0 < skip_above <= 1
        ):
            raise ConfigError(
                f"policy.next_step.skip_outcome_above must be a probability in (0, 1] (skip "
                f"journeys marked skip_if_likely when the predicted outcome probability is at "
                f"least this), got {skip_above!r}."
            )
        mer = d.get("min_expected_response", 0.0)
        if isinstance(mer, bool) or not isinstance(mer, int | float) or not 0 <= mer <= 1:
            raise ConfigError(f"policy.min_expected_response must be in [0, 1], got {mer!r}.")
        return cls(
            journeys=tuple(journeys),
            caps=tuple(caps),
            response_window_s=_seconds(d.get("response_window", "48h"), "policy.response_window"),
            response_activities=_names(d["response_activities"], "policy.response_activities")
            if "response_activities" in d
            else None,
            min_expected_response=float(mer),
            product_column=str(d.get("product_column", "product")),
            prior_rate=_rate(d.get("prior_rate"), "policy.prior_rate"),
            consent=consents,
            arbitration=str(d.get("arbitration", "response")),
            fatigue_within_s=fw,
            fatigue_factor=float(ff),
            holdout_activity=str(d.get("holdout_activity", "holdout")),
            outcome_activities=_names(
                d.get("outcome_activities", ["purchase"]), "policy.outcome_activities"
            ),
            next_step_channels=tuple((str(k), str(v)) for k, v in nmap.items()),
            skip_outcome_above=None if skip_above is None else float(skip_above),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Read a policy from a YAML (``.yaml``/``.yml``) or JSON file."""
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"no policy file {path}.")
        size = path.stat().st_size
        if size > MAX_POLICY_BYTES:
            raise ConfigError(
                f"{path}: the policy file is {size:,} bytes, more than the "
                f"{MAX_POLICY_BYTES:,} a policy may have; is it the right file? Policies are "
                f"a few KB of journeys, rules and caps."
            )
        text = path.read_text()
        if path.suffix.lower() in (".yaml", ".yml"):
            data = _load_yaml(text, path)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"{path}: a policy file ends in .yaml, .yml or .json.")
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: the policy must be a mapping with a 'journeys' list.")
        return cls.from_dict(data)


def _load_yaml(text: str, path: Path) -> Any:
    """``yaml.safe_load`` without anchors and aliases (``&a``/``*a``/``<<: *a``).

    Aliases let a 1 KB file expand into gigabytes ("billion laughs"); a policy never needs
    them, so the first anchor or alias is refused before anything is expanded.
    """
    import yaml

    class _NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise ConfigError(
                    f"{path}, line {line}: YAML anchors and aliases (&name, *name, <<: *name) "
                    f"are not allowed in a policy file; write the repeated part out in full."
                )
            return super().compose_node(parent, index)

    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _human(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
