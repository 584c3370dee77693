"""Persona profiles: size, distinguishing features, main channels, typical journeys and a name.

Distinguishing features are ranked by Cohen's d of the persona against all other labelled
customers (pooled standard deviation; features constant in both groups are skipped). The
readable name comes from rules over the strongest distinguishing features (no language
model): each rule maps a feature that is clearly higher (d >= 0.5) or lower (d <= -0.5) than in
other personas to a phrase, e.g. ``organic_channel_share:store`` high -> "Store-first buyers",
``promotion_share`` high -> "Promotion hunters", support contacts high and returns high ->
"Support-heavy returners". Names are made unique by prefixing the next distinguishing phrase.

Examples
--------
>>> import pandas as pd
>>> feats = pd.DataFrame({"organic_channel_share:app": [0.9, 0.8, 0.9, 0.1, 0.2, 0.1],
...                       "promotion_share": [0.0, 0.1, 0.0, 0.4, 0.5, 0.45]},
...                      index=pd.Index(list("abcdef"), name="customer_id"))
>>> labels = pd.Series([0, 0, 0, 1, 1, 1], index=feats.index)
>>> persona_profiles(feats, labels)["name"].tolist()
['App loyalists', 'Promotion hunters']
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.schema import ACTIVITY, CUSTOMER_ID, JOURNEY_ID, TIMESTAMP

__all__ = ["NAME_RULES", "NameRule", "persona_profiles"]

logger = logging.getLogger(__name__)

MIN_D = 0.5


@dataclass(frozen=True)
class NameRule:
    """A naming rule: when ``feature`` (exact name, or ``prefix*``) has Cohen's d beyond
    ``MIN_D`` in ``direction`` (+1 high, -1 low), the persona is described by ``adjective``
    (used as a prefix) and ``noun`` (the head of the name); ``family`` groups rules that say
    the same thing so that a name does not repeat itself."""

    feature: str
    direction: int
    adjective: str
    noun: str
    family: str

    def matches(self, name: str) -> bool:
        if self.feature.endswith("*"):
            return name.startswith(self.feature[:-1])
        return name == self.feature


#: Rules in no particular order; the persona's strongest matching features pick them.
NAME_RULES: tuple[NameRule, ...] = (
    NameRule("organic_channel_share:store", 1, "Store-first", "buyers", "store"),
    NameRule("organic_channel_share:app", 1, "App", "loyalists", "app"),
    NameRule("organic_channel_share:web", 1, "Web", "browsers", "web"),
    NameRule("organic_channel_share:call_centre", 1, "Support-heavy", "callers", "support"),
    NameRule("support_per_session", 1, "Support-heavy", "service seekers", "support"),
    NameRule("returns_per_purchase", 1, "Returning", "returners", "returns"),
    NameRule("promotion_share", 1, "Deal-seeking", "promotion hunters", "promotion"),
    NameRule("research_share", 1, "Long", "researchers", "research"),
    NameRule("session_minutes_log", 1, "Long-session", "researchers", "research"),
    NameRule("organic_recency_share", 1, "Fading", "customers", "fading"),
    NameRule("organic_centre", -1, "Fading", "customers", "fading"),
    NameRule("sessions_per_week", -1, "Occasional", "visitors", "frequency"),
    NameRule("sessions_per_week", 1, "Frequent", "visitors", "frequency"),
    NameRule("order_value_log", 1, "Big-ticket", "spenders", "value"),
    NameRule("conversion_rate", 1, "Decisive", "buyers", "conversion"),
    NameRule("hour_share:20-24", 1, "Evening", "shoppers", "time"),
    NameRule("hour_share:12-16", 1, "Daytime", "shoppers", "time"),
    NameRule("hour_share:08-12", 1, "Morning", "shoppers", "time"),
    NameRule("response_rate", 1, "Campaign-responsive", "responders", "response"),
)
# head nouns that read well after another family's adjective ("Support-heavy returners")
_BEHAVIOUR_NOUNS = {"returns", "research", "promotion"}
_CAPITAL_PHRASES = {
    "promotion hunters": "Promotion hunters",
    "researchers": "Long researchers",
}


def cohens_d(features: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Cohen's d of each persona (rows) against all other labelled customers, per feature."""
    lab = labels.to_numpy()
    X = features.to_numpy(dtype=np.float64)
    personas = sorted(int(p) for p in np.unique(lab) if p >= 0)
    rows = []
    for p in personas:
        a, b = X[lab == p], X[(lab >= 0) & (lab != p)]
        if len(b) == 0:
            rows.append(np.zeros(X.shape[1]))
            continue
        va = a.var(0, ddof=1) if len(a) > 1 else np.zeros(X.shape[1])
        vb = b.var(0, ddof=1) if len(b) > 1 else np.zeros(X.shape[1])
        pooled = np.sqrt(((len(a) - 1) * va + (len(b) - 1) * vb) / max(len(a) + len(b) - 2, 1))
        diff = a.mean(0) - b.mean(0)
        d = np.zeros(X.shape[1])
        np.divide(diff, pooled, out=d, where=pooled > 1e-12)
        rows.append(d)
    return pd.DataFrame(rows, index=pd.Index(personas, name="persona"), columns=features.columns)


def _phrases(d: pd.Series) -> list[NameRule]:
    """Matching rules of one persona, strongest |d| first, one per family."""
    hits: list[tuple[float, int, NameRule]] = []
    for k, rule in enumerate(NAME_RULES):
        cols = [c for c in d.index if rule.matches(str(c))]
        for c in cols:
            v = float(d[c]) * rule.direction
            if v >= MIN_D:
                hits.append((v, k, rule))
    hits.sort(key=lambda t: (-t[0], t[1]))
    out: list[NameRule] = []
    seen: set[str] = set()
    for _, _, rule in hits:
        if rule.family not in seen:
            seen.add(rule.family)
            out.append(rule)
    return out


def _name(rules: list[NameRule], k: int) -> str:
    """Name from the first ``k`` phrases: the strongest gives the head, a behaviour family
    among the next ones may replace the noun, further ones become prefixes."""
    if not rules:
        return "Typical customers"
    head = rules[0]
    noun = head.noun
    adjective = head.adjective
    rest = rules[1:]
    if rest and rest[0].family in _BEHAVIOUR_NOUNS and head.family not in _BEHAVIOUR_NOUNS:
        noun = rest[0].noun
        rest = rest[1:]
        text = f"{adjective} {noun}"
    elif head.family in _BEHAVIOUR_NOUNS and head.noun in _CAPITAL_PHRASES:
        text = _CAPITAL_PHRASES[head.noun]
    else:
        text = f"{adjective} {noun}"
    for extra in rest[: max(k - 1, 0)]:
        text = f"{extra.adjective} {text[0].lower()}{text[1:]}"
    return text


def _unique_names(per_persona: dict[int, list[NameRule]], sizes: dict[int, int]) -> dict[int, str]:
    depth = dict.fromkeys(per_persona, 1)
    for _ in range(8):
        names = {p: _name(r, depth[p]) for p, r in per_persona.items()}
        groups: dict[str, list[int]] = {}
        for p, n in names.items():
            groups.setdefault(n, []).append(p)
        clashes = [ps for ps in groups.values() if len(ps) > 1]
        if not clashes:
            return names
        for ps in clashes:
            for p in ps:
                depth[p] += 1
    # still equal (no phrase left to tell them apart): number them by size
    names = {p: _name(r, depth[p]) for p, r in per_persona.items()}
    groups = {}
    for p, n in names.items():
        groups.setdefault(n, []).append(p)
    for n, ps in groups.items():
        if len(ps) > 1:
            for i, p in enumerate(sorted(ps, key=lambda q: (-sizes[q], q)), start=1):
                names[p] = f"{n} {i}"
    return names


def _typical_paths(log: pd.DataFrame, labels: pd.Series, n_paths: int, steps: int) -> dict:
    """Top ``n_paths`` session beginnings (first ``steps`` activities) per persona."""
    from journeymine.journeys import variants

    lab = labels[labels >= 0]
    ev = log[[CUSTOMER_ID, TIMESTAMP, ACTIVITY]].copy()
    if JOURNEY_ID in log.columns:  # outbound touches and responses are not the customer's path
        ev = ev[log[JOURNEY_ID].isna().to_numpy()]
    persona = ev[CUSTOMER_ID].map(lab)
    ev = ev[persona.notna().to_numpy()]
    persona = persona[persona.notna()].astype(np.int64)
    if len(ev) == 0:
        return {}
    from journeymine.io import sessionize

    ev = sessionize(ev, gap="30min")
    out: dict[int, list[str]] = {}
    for p in sorted(lab.unique()):
        part = ev[(persona == p).to_numpy()]
        if len(part) == 0:
            out[int(p)] = []
            continue
        v = variants(part, case="session_id", max_steps=steps, top_k=n_paths)
        out[int(p)] = [f"{t} ({s:.0%})" for t, s in zip(v["variant"], v["share"], strict=True)]
    return out


def persona_profiles(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    log: pd.DataFrame | None = None,
    top_k: int = 5,
    n_paths: int = 3,
    path_steps: int = 3,
) -> pd.DataFrame:
    """Describe each persona: size, distinguishing features, main channels, journeys, name.

    Parameters
    ----------
    features : DataFrame
        Features per customer (index customer_id), e.g. ``miner.features_``.
    labels : Series of int
        Persona per customer (same index; ``-1`` = no persona, excluded).
    log : DataFrame, optional
        Event log of these customers; adds ``typical_paths`` (most common session
        beginnings of ``path_steps`` activities, outbound touches and responses excluded).
    top_k : int, default 5
        Distinguishing features listed per persona.
    n_paths, path_steps : int
        Paths listed per persona and their length.

    Returns
    -------
    DataFrame
        One row per persona (index ``persona``): ``name``, ``size``, ``share`` (of labelled
        customers), ``top_features`` (list of ``(feature, d, persona mean, others mean)``),
        ``main_channels`` (list of ``(channel, share)`` of session events, when channel
        features exist) and ``typical_paths`` (when ``log`` is given).

    Raises
    ------
    ConfigError
        Labels do not match the features, or no customer has a persona.
    """
    if not isinstance(features, pd.DataFrame) or not isinstance(labels, pd.Series):
        raise ConfigError("persona_profiles expects features (DataFrame) and labels (Series).")
    for name, v in (("top_k", top_k), ("n_paths", n_paths), ("path_steps", path_steps)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ConfigError(f"{name} must be a positive integer, got {v!r}.")
    missing = labels.index.difference(features.index)
    if len(missing):
        raise ConfigError(
            f"{len(missing)} labelled customers have no features, e.g. {list(missing[:3])}. "
            f"Pass features and labels of the same customers."
        )
    feats = features.loc[labels.index]
    num = feats.select_dtypes("number")
    if (labels >= 0).sum() == 0:
        raise ConfigError("no customer has a persona (all labels are -1); nothing to profile.")
    d = cohens_d(num, labels)
    lab = labels.to_numpy()
    n_lab = int((lab >= 0).sum())
    sizes = {int(p): int((lab == p).sum()) for p in d.index}
    rules = {int(p): _phrases(d.loc[p]) for p in d.index}
    names = _unique_names(rules, sizes)
    ch_cols = [c for c in num.columns if str(c).startswith("session_channel_share:")]
    paths = _typical_paths(log, labels, n_paths, path_steps) if log is not None else None
    rows: list[dict[str, Any]] = []
    for p in d.index:
        mask = lab == p
        others = (lab >= 0) & ~mask
        row_d = d.loc[p]
        top = row_d.abs().sort_values(ascending=False, kind="stable").index[:top_k]
        tops = [
            (
                str(c),
                round(float(row_d[c]), 3),
                float(num[c].to_numpy()[mask].mean()),
                float(num[c].to_numpy()[others].mean()) if others.any() else float("nan"),
            )
            for c in top
        ]
        row: dict[str, Any] = {
            "persona": int(p),
            "name": names[int(p)],
            "size": sizes[int(p)],
            "share": sizes[int(p)] / n_lab,
            "top_features": tops,
        }
        if ch_cols:
            means = num.loc[mask, ch_cols].mean().sort_values(ascending=False, kind="stable")
            row["main_channels"] = [
                (c.split(":", 1)[1], round(float(v), 3)) for c, v in means.items() if v >= 0.1
            ][:3]
        if paths is not None:
            row["typical_paths"] = paths.get(int(p), [])
        rows.append(row)
    return pd.DataFrame(rows).set_index("persona")
