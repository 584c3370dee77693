"""Persona profiles: size, distinguishing features, main channels, typical journeys and a name.

Distinguishing features are ranked by Cohen's d of the persona against all other labelled
customers (pooled standard deviation; features constant in both groups are skipped, a feature
constant within each group but different between them gets ``|d| = D_CAP``).

Names (no language model) say what sets a persona apart in the log's own terms. Every feature
with ``|d| >= MIN_D`` (0.5) is a *trait*, said in words by the vocabulary of
:mod:`journeymine.personas.traits` (:func:`describe`, the lexicon :data:`NAME_RULES`): a higher
share of one of the log's activities, transitions or channels ("search -> view_item
customers", "kiosk-first"), value, time of day, visit frequency, fading or recent activity,
session shape, response; "Store-first buyers", "Promotion hunters" for the featurizer's role
features and known channels. A name is the persona's strongest trait; when that is only a
time of day, the strongest other trait leads and the time follows ("A_SUBMITTED ->
A_DECLINED customers, evenings"). Traits of the same family, or whose features correlate above
``REDUNDANT_R``, are not repeated.

Two personas with the same name are each extended by the trait that best tells them apart
(Cohen's d between the clashing personas, ``|d| >= MIN_PAIR_D``), never by a number. Pairs
that no feature tells apart (``|d| < MIN_PAIR_D`` everywhere) keep their names and are listed
in ``profiles.attrs["indistinct_pairs"]`` (see :func:`indistinct_pairs`). A persona with no
trait at all is called ``GENERIC_NAME`` ("Typical customers").

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
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.personas.traits import NAME_RULES, NameRule, Trait, describe
from journeymine.schema import ACTIVITY, CUSTOMER_ID, JOURNEY_ID, TIMESTAMP

__all__ = ["NAME_RULES", "NameRule", "Trait", "describe", "indistinct_pairs", "persona_profiles"]

logger = logging.getLogger(__name__)

#: Smallest |Cohen's d| for a trait of a persona against all other personas.
MIN_D = 0.5
#: Smallest |Cohen's d| that tells two personas apart (below it on every feature: indistinct).
MIN_PAIR_D = 0.2
#: Two traits whose features correlate more than this (over labelled customers) say the same.
REDUNDANT_R = 0.9
#: |d| is capped here; a feature constant within both groups but different between them gets it.
D_CAP = 50.0
GENERIC_NAME = "Typical customers"
_MAX_TRAITS = 12


def cohens_d(features: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Cohen's d of each persona (rows) against all other labelled customers, per feature."""
    lab = labels.to_numpy()
    X = features.to_numpy(dtype=np.float64)
    personas = sorted(int(p) for p in np.unique(lab) if p >= 0)
    rows = []
    for p in personas:
        a, b = X[lab == p], X[(lab >= 0) & (lab != p)]
        rows.append(_d(a, b))
    return pd.DataFrame(rows, index=pd.Index(personas, name="persona"), columns=features.columns)


def _d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cohen's d (pooled standard deviation) of rows ``a`` against rows ``b``, per column;
    0 where the pooled deviation is 0 or ``b`` is empty."""
    if len(b) == 0 or len(a) == 0:
        return np.zeros(a.shape[1])
    va = a.var(0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1])
    vb = b.var(0, ddof=1) if len(b) > 1 else np.zeros(a.shape[1])
    pooled = np.sqrt(((len(a) - 1) * va + (len(b) - 1) * vb) / max(len(a) + len(b) - 2, 1))
    diff = a.mean(0) - b.mean(0)
    d = np.zeros(a.shape[1])
    np.divide(diff, pooled, out=d, where=pooled > 1e-12)
    # constant within both groups but different between them: as far apart as can be
    total = (pooled <= 1e-12) & (np.abs(diff) > 1e-12)
    d[total] = np.sign(diff[total]) * D_CAP
    return np.clip(d, -D_CAP, D_CAP)


def _ranked(d: pd.Series, min_d: float) -> list[Trait]:
    """Traits of one persona with |d| >= ``min_d``, best score first (ties: feature order)."""
    out = []
    for k, (col, v) in enumerate(d.items()):
        if abs(v) >= min_d:
            t = describe(str(col), float(v))
            if t is not None:
                out.append((-t.score, k, t))
    out.sort(key=lambda x: (x[0], x[1]))
    return [t for _, _, t in out]


class _Redundancy:
    """Correlation between features over the labelled customers (computed on demand)."""

    def __init__(self, num: pd.DataFrame) -> None:
        self.num = num
        self.cache: dict[str, np.ndarray] = {}

    def _z(self, col: str) -> np.ndarray:
        if col not in self.cache:
            x = self.num[col].to_numpy(dtype=np.float64)
            sd = x.std()
            self.cache[col] = (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)
        return self.cache[col]

    def same(self, a: str, b: str) -> bool:
        return abs(float(np.mean(self._z(a) * self._z(b)))) > REDUNDANT_R


def _pick(
    candidates: list[Trait], chosen: list[Trait], red: _Redundancy, limit: int
) -> list[Trait]:
    """Add candidates to ``chosen`` (in order) unless their family is there or their feature
    correlates with a chosen one, up to ``limit`` traits."""
    out = list(chosen)
    for t in candidates:
        if len(out) >= limit:
            break
        if any(t.family == c.family or t.head == c.head for c in out):
            continue
        if any(red.same(t.feature, c.feature) for c in out):
            continue
        out.append(t)
    return out


def _compose(traits: list[Trait]) -> str:
    if not traits:
        return GENERIC_NAME
    tails = []
    for t in traits[1:]:
        if t.tail not in tails:
            tails.append(t.tail)
    return ", ".join([traits[0].head, *tails])


def _names(
    X: np.ndarray,
    lab: np.ndarray,
    columns: pd.Index,
    d: pd.DataFrame,
    red: _Redundancy,
) -> tuple[dict[int, str], dict[int, list[Trait]]]:
    """Names from each persona's strongest trait; equal names are extended by the trait that
    best tells the clashing personas apart (their pairwise d), until they differ or nothing
    tells them apart."""
    traits: dict[int, list[Trait]] = {}
    for p in d.index:
        own = _ranked(d.loc[p], MIN_D) or _ranked(d.loc[p], MIN_PAIR_D)
        first = _pick(own, [], red, 1)
        if first and first[0].family == "time":
            # time of day alone says little (the "Daytime shoppers"): lead with the
            # strongest other trait and keep the time as a qualifier
            other = _pick([t for t in own if t.family != "time"], [], red, 1)
            if other and abs(other[0].d) >= MIN_D:
                first = _pick(first, other, red, 2)
        traits[int(p)] = first
    stuck: set[frozenset[int]] = set()
    for _ in range(_MAX_TRAITS):
        names = {p: _compose(t) for p, t in traits.items()}
        groups: dict[str, list[int]] = {}
        for p, n in names.items():
            groups.setdefault(n, []).append(p)
        clashes = [ps for ps in groups.values() if len(ps) > 1 and frozenset(ps) not in stuck]
        if not clashes:
            break
        for ps in clashes:
            changed = False
            for p in ps:
                others = np.isin(lab, [q for q in ps if q != p])
                pair = pd.Series(_d(X[lab == p], X[others]), index=columns)
                longer = _pick(_ranked(pair, MIN_PAIR_D), traits[p], red, len(traits[p]) + 1)
                if len(longer) > len(traits[p]):
                    traits[p] = longer
                    changed = True
            if not changed:
                stuck.add(frozenset(ps))
    return {p: _compose(t) for p, t in traits.items()}, traits


def indistinct_pairs(
    features: pd.DataFrame, labels: pd.Series, *, min_d: float = MIN_PAIR_D
) -> pd.DataFrame:
    """Pairs of personas that no feature tells apart: |Cohen's d| between the two below
    ``min_d`` on every numeric feature.

    Returns
    -------
    DataFrame
        ``persona_a``, ``persona_b``, ``max_abs_d`` (the largest |d| between them) and
        ``feature`` (where it is reached); empty when every pair differs somewhere.

    Examples
    --------
    >>> feats = pd.DataFrame({"x": [0.0, 1.0, 0.0, 1.0, 5.0, 6.0]},
    ...                      index=pd.Index(list("abcdef"), name="customer_id"))
    >>> indistinct_pairs(feats, pd.Series([0, 0, 1, 1, 2, 2], index=feats.index))
       persona_a  persona_b  max_abs_d feature
    0          0          1        0.0       x
    """
    num = features.loc[labels.index].select_dtypes("number")
    X = num.to_numpy(dtype=np.float64)
    lab = labels.to_numpy()
    personas = sorted(int(p) for p in np.unique(lab) if p >= 0)
    rows = []
    for i, a in enumerate(personas):
        for b in personas[i + 1 :]:
            pair = np.abs(_d(X[lab == a], X[lab == b])) if X.shape[1] else np.zeros(0)
            top = int(np.argmax(pair)) if len(pair) else -1
            best = float(pair[top]) if top >= 0 else 0.0
            if best < min_d:
                rows.append(
                    {
                        "persona_a": a,
                        "persona_b": b,
                        "max_abs_d": round(best, 3),
                        "feature": str(num.columns[top]) if top >= 0 else "",
                    }
                )
    return pd.DataFrame(rows, columns=["persona_a", "persona_b", "max_abs_d", "feature"])


def _typical_paths(log: pd.DataFrame, labels: pd.Series, n_paths: int, steps: int) -> dict:
    """Top ``n_paths`` session beginnings (first ``steps`` activities) per persona."""
    from journeymine.journeys import variants

    lab = labels[labels >= 0]
    ev = log[[CUSTOMER_ID, TIMESTAMP, ACTIVITY]].copy()
    if JOURNEY_ID in log.columns:  # outbound touches and responses are not the customer's path
        ev = ev[log[JOURNEY_ID].isna().to_numpy()]
    # each customer's persona, looked up once per customer (not once per event)
    codes, ids = pd.factorize(ev[CUSTOMER_ID])
    per_customer = lab.reindex(ids).to_numpy(dtype=np.float64)
    persona_all = np.where(codes >= 0, per_customer[codes], np.nan)
    keep = ~np.isnan(persona_all)
    ev = ev[keep]
    persona = pd.Series(persona_all[keep].astype(np.int64), index=ev.index)
    if len(ev) == 0:
        return {}
    from journeymine.io.sessions import session_numbers

    ev = ev.assign(session_id=session_numbers(ev, session_gap="30min"))
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

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> from journeymine.personas import PersonaMiner
    >>> log = make_journeys(800, days=120, random_state=0).events
    >>> miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(log)
    >>> prof = persona_profiles(miner.features_, miner.labels_, log=log)
    >>> prof.columns.tolist()
    ['name', 'size', 'share', 'top_features', 'main_channels', 'typical_paths']
    >>> prof["name"].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['Promotion hunters', 'App loyalists', 'Review researchers', 'Store-first buyers',
     'Support-heavy callers', 'Fading customers']
    >>> int(prof["size"].sum()) == int((miner.labels_ >= 0).sum())  # noise (-1) left out
    True
    >>> feature, d, mean, others_mean = prof.loc[0, "top_features"][0]
    >>> feature, d > 0, mean > others_mean
    ('activity_share:view_promotions', True, True)
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
    names, _ = _names(num.to_numpy(dtype=np.float64), lab, num.columns, d, _Redundancy(num))
    pairs = indistinct_pairs(num, labels)
    pairs.insert(2, "name_a", [names[int(a)] for a in pairs["persona_a"]])
    pairs.insert(3, "name_b", [names[int(b)] for b in pairs["persona_b"]])
    for r in pairs.itertuples(index=False):
        logger.info(
            "personas %d (%s) and %d (%s) cannot be told apart: |Cohen's d| < %.1f on every "
            "feature (largest %.2f, %s)",
            r.persona_a,
            r.name_a,
            r.persona_b,
            r.name_b,
            MIN_PAIR_D,
            r.max_abs_d,
            r.feature,
        )
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
    out = pd.DataFrame(rows).set_index("persona")
    # a list of plain records (not a DataFrame): attrs are compared and copied by pandas
    out.attrs["indistinct_pairs"] = pairs.to_dict("records")
    return out
