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
``within``; with ``unsubscribe_cost: 0.3`` (uplift arbitration) it also subtracts the risk that
the touch makes the customer opt out of its channel (learned from the log's opt-outs after
touches, by channel and recent touches; :mod:`journeymine.actions.unsubscribe`) x that cost.
Holdouts (``holdout_activity``, default ``"holdout"``: a logged decision to send
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journeymine.actions.journey import (
    ARBITRATIONS,
    Cap,
    Consent,
    Journey,
    Rule,
    Suppression,
    _check_keys,
    _names,
    _rate,
    _seconds,
    journey_from_dict,
)
from journeymine.exceptions import ConfigError, DataQualityWarning, did_you_mean

__all__ = [
    "ARBITRATIONS",
    "MAX_POLICY_BYTES",
    "Cap",
    "Consent",
    "Journey",
    "Policy",
    "Rule",
    "Suppression",
    "journey_from_dict",
]

MAX_POLICY_BYTES = 1 << 20
"""Largest policy file :meth:`Policy.from_file` reads (1 MiB; real policies are a few KB)."""


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
    unsubscribe_cost: float = 0.0
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
                f"hold or never block):"
            )
            message = "\n".join([head, *(f"  - {f}" for f in found)])
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
        journeys = [
            journey_from_dict(j, f"policy.journeys[{i}]") for i, j in enumerate(d["journeys"])
        ]
        caps = []
        for k, c in enumerate(d.get("caps", [])):
            cw = f"policy.caps[{k}]"
            _check_keys(c, {"channel", "max", "per"}, {"channel", "max", "per"}, cw)
            if isinstance(c["max"], bool) or not isinstance(c["max"], int) or c["max"] < 0:
                raise ConfigError(f"{cw}.max must be a whole number >= 0, got {c['max']!r}.")
            caps.append(Cap(str(c["channel"]), int(c["max"]), _seconds(c["per"], f"{cw}.per")))
        used = {j.channel for j in journeys} | {c for j in journeys for c, _ in j.alternatives}
        known = used | {"*"}
        _check_channels_used([c.channel for c in caps], known, "cap on channel")
        consent = d.get("consent", [])
        if not isinstance(consent, Sequence) or isinstance(consent, str):
            raise ConfigError("policy.consent must be a list of {channel: ..., ...} entries.")
        consents = tuple(
            Consent.from_dict(c, f"policy.consent[{k}]") for k, c in enumerate(consent)
        )
        _check_channels_used([c.channel for c in consents], used, "consent entry for channel")
        fatigue = d.get("fatigue")
        fw, ff, uc = None, 1.0, 0.0
        if fatigue is not None:
            _check_keys(
                fatigue,
                {"within", "factor", "unsubscribe_cost"},
                {"within", "factor"},
                "policy.fatigue",
            )
            fw = _seconds(fatigue["within"], "policy.fatigue.within")
            ff = fatigue["factor"]
            if isinstance(ff, bool) or not isinstance(ff, int | float) or not 0 < ff <= 1:
                raise ConfigError(
                    f"policy.fatigue.factor must be in (0, 1] (the share of the expected response "
                    f"left per recent touch, e.g. 0.7), got {ff!r}."
                )
            uc = fatigue.get("unsubscribe_cost", 0.0)
            if isinstance(uc, bool) or not isinstance(uc, int | float) or not 0 <= uc < 1e9:
                raise ConfigError(
                    f"policy.fatigue.unsubscribe_cost must be a value >= 0 in the unit of the "
                    f"journeys' value (what a customer's consent on a channel is worth, e.g. "
                    f"0.3), got {uc!r}."
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
            unsubscribe_cost=float(uc),
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


def _check_channels_used(channels: Sequence[str], used: set[str], entry: str) -> None:
    """Refuse the first of ``channels`` (of a policy's ``entry``, e.g. "cap on channel") that
    no journey uses, naming the ``used`` ones."""
    for channel in channels:
        if channel not in used:
            raise ConfigError(
                f"{entry} {channel!r}: no journey uses it."
                f"{did_you_mean(channel, used)} Channels: {sorted(used)}."
            )


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
