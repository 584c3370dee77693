"""The persona view: which features the clustering sees, grouped in families of equal weight.

A persona must mean something on a log journeymine has never seen, so the default view is
built from *families* of features whose columns come from the log itself (its activities, its
channels, its most frequent transitions), not from a list of activity names:

==================  ==========================================================  =========
family              features (see :class:`~journeymine.personas.CustomerFeaturizer`)  kind
==================  ==========================================================  =========
activity mix        ``activity_share:*`` (every session activity of the log)    mix
transitions         ``transition_share:*`` (the log's most frequent pairs)      mix
channel mix         ``organic_channel_share:*`` (self-initiated sessions)       mix
time of day         ``hour_share:*``                                            mix
frequency           ``organic_sessions_per_week``, ``active_day_share``         scalar
trend               ``organic_recency_share``, ``organic_centre``               scalar
value               ``order_value_log``                                         scalar
session shape       ``events_per_session``, ``session_minutes_log``,            scalar
                    ``bounce_share``
conversion          ``conversion_rate``, ``browse_to_buy``, ``cart_abandonment``,  scalar
                    ``returns_per_purchase``
==================  ==========================================================  =========

Weighting (:class:`FamilyScaler`): a *mix* family is a composition; its shares are square-rooted
(so Euclidean distance is the Hellinger distance between two customers' mixes), centred, and
divided by the square root of the family's total variance. A *scalar* family is standardised
column by column, clipped to +-5 and divided by the square root of its column count. Every
family therefore carries a total variance of 1: six hour-of-day shares weigh as much as one
order value, and no family decides the clustering alone.

Columns that do not vary (a log with one channel, no ``value``, no purchase role) are left out
and their family is reported in the log (``logging`` at INFO), never silently. Activities that
are mostly reactions to outbound touches (more than half of their events carry a
``journey_id``, e.g. ``email_click``) are left out of the activity mix and transitions when the
view is learned from a log: they measure how often a customer was contacted, not how they behave.

Examples
--------
>>> import numpy as np, pandas as pd
>>> X = pd.DataFrame({"activity_share:a": [0.1, 0.9, 0.5], "activity_share:b": [0.9, 0.1, 0.5],
...                   "order_value_log": [1.0, 2.0, 3.0]})
>>> fs = FamilyScaler().fit(X)
>>> fs.families_
{'activity mix': ['activity_share:a', 'activity_share:b'], 'value': ['order_value_log']}
>>> Z = fs.transform(X)
>>> np.allclose(Z.var(axis=0).reshape(-1)[-1], 1.0)
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError, did_you_mean
from journeymine.features.learn import journey_activity_codes
from journeymine.schema import CUSTOMER_ID, JOURNEY_ID, TIMESTAMP

__all__ = [
    "DEFAULT_PERSONA_FEATURES",
    "FAMILY_PERSONA_FEATURES",
    "PERSONA_FAMILIES",
    "FamilyScaler",
    "checked_reliability",
    "evidence_weights",
    "halves_reliability",
    "log_reliability",
    "reaction_activities",
    "select_features",
    "session_halves",
    "split_half_reliability",
    "view_columns",
]

logger = logging.getLogger(__name__)

#: family -> (kind, feature names or ``prefix*`` patterns)
PERSONA_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "activity mix": ("mix", ("activity_share:*",)),
    "transitions": ("mix", ("transition_share:*",)),
    "channel mix": ("mix", ("organic_channel_share:*",)),
    "time of day": ("mix", ("hour_share:*",)),
    "frequency": ("scalar", ("organic_sessions_per_week", "active_day_share")),
    "trend": ("scalar", ("organic_recency_share", "organic_centre")),
    "value": ("scalar", ("order_value_log",)),
    "session shape": ("scalar", ("events_per_session", "session_minutes_log", "bounce_share")),
    "conversion": (
        "scalar",
        ("conversion_rate", "browse_to_buy", "cart_abandonment", "returns_per_purchase"),
    ),
}
#: The view of ``method="density"`` (HDBSCAN): names or ``prefix*`` patterns. Its role
#: features (promotion, research, support, returns) depend on the featurizer's role options.
DEFAULT_PERSONA_FEATURES: tuple[str, ...] = (
    "organic_channel_share:*",
    "hour_share:*",
    "promotion_share",
    "research_share",
    "support_per_session",
    "returns_per_purchase",
    "session_minutes_log",
    "events_per_session",
    "order_value_log",
    "sessions_per_week",
    "organic_recency_share",
    "organic_centre",
    "conversion_rate",
)
#: The view of ``method="mixture"``: every family of :data:`PERSONA_FAMILIES`.
FAMILY_PERSONA_FEATURES: tuple[str, ...] = tuple(
    p for _, patterns in PERSONA_FAMILIES.values() for p in patterns
)
CLIP = 5.0
_TINY = 1e-12


def select_features(
    columns: Sequence[str], features: Literal["default", "all"] | Sequence[str]
) -> list[str]:
    """Resolve a feature selection (names or ``prefix*`` patterns) against ``columns``.

    Examples
    --------
    >>> select_features(["a:x", "a:y", "b"], ["a:*"])
    ['a:x', 'a:y']
    """
    cols = [str(c) for c in columns]
    if isinstance(features, str):
        if features == "all":
            return cols
        if features != "default":
            raise ConfigError(
                f"features={features!r} is not allowed; use 'default', 'all' or a list of "
                f"feature names / 'prefix*' patterns."
            )
        wanted: Sequence[str] = DEFAULT_PERSONA_FEATURES
        strict = False
    else:
        wanted = list(features)
        strict = True
    out: list[str] = []
    for w in wanted:
        if w.endswith("*"):
            hit = [c for c in cols if c.startswith(w[:-1])]
        else:
            hit = [w] if w in cols else []
        if not hit and strict:
            raise ConfigError(
                f"feature {w!r} is not among the features.{did_you_mean(w, cols)} "
                f"Available: {cols}."
            )
        out += [c for c in hit if c not in out]
    if not out:
        raise ConfigError(f"no feature selected by {features!r}; available: {cols}.")
    return out


def reaction_activities(log: pd.DataFrame, share: float = 0.5) -> frozenset[str]:
    """Activities of which more than ``share`` of the events carry a ``journey_id`` (reactions
    to outbound touches, such as an email click); empty without a ``journey_id`` column.

    Examples
    --------
    >>> log = pd.DataFrame({"activity": ["click", "click", "buy"],
    ...                     "journey_id": ["j1", None, None]})
    >>> sorted(reaction_activities(log, share=0.4))
    ['click']
    """
    if JOURNEY_ID not in log.columns or len(log) == 0:
        return frozenset()
    _, labels, _, journey = journey_activity_codes(log, share)
    return frozenset(labels[journey].tolist())


def session_halves(
    log: pd.DataFrame, session_gap_us: int, max_customers: int = 20_000, random_state: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each customer's sessions (a new session after a gap longer than ``session_gap_us``)
    dealt alternately into two halves of the log, for at most ``max_customers`` customers
    drawn at random (``random_state``): the first, third... session in one, the others in the
    second. Two halves of one customer measure the same behaviour on half the events each.

    Examples
    --------
    >>> log = pd.DataFrame({"customer_id": ["a"] * 3,
    ...     "timestamp": pd.to_datetime([0, 1, 7200], unit="s", utc=True)})
    >>> a, b = session_halves(log, session_gap_us=3_600_000_000)
    >>> len(a), len(b)
    (2, 1)
    """
    codes, uniques = pd.factorize(log[CUSTOMER_ID], sort=False)
    if len(uniques) > max_customers:
        rng = np.random.default_rng(random_state)
        chosen = np.zeros(len(uniques), dtype=bool)
        chosen[rng.choice(len(uniques), size=max_customers, replace=False)] = True
        keep = chosen[codes]
        log, codes = log[keep], codes[keep]
    t = log[TIMESTAMP].to_numpy(dtype="datetime64[us]").view(np.int64)
    order = np.lexsort((t, codes))
    if (np.diff(order) != 1).any():  # sessions need each customer's events in time order
        log, codes, t = log.iloc[order], codes[order], t[order]
    new_customer = np.ones(len(log), dtype=bool)
    new_customer[1:] = codes[1:] != codes[:-1]
    new_session = new_customer.copy()
    new_session[1:] |= np.diff(t) > session_gap_us
    session = np.cumsum(new_session)
    first = np.maximum.accumulate(np.where(new_customer, session, 0))
    half = (session - first) % 2 == 1
    return log[~half], log[half]


def split_half_reliability(
    log: pd.DataFrame,
    featurize: Callable[[pd.DataFrame], pd.DataFrame],
    columns: Iterable[str],
    *,
    session_gap_us: int,
    max_customers: int = 20_000,
    min_customers: int = 50,
    random_state: int = 0,
) -> pd.Series | None:
    """How much of each feature a customer's own behaviour reproduces: the split-half
    reliability of classical test theory.

    Each customer's sessions (a new session after a gap longer than ``session_gap_us``) are
    dealt alternately into two halves; the features are computed on each half and, for every
    column, correlated across the customers present in both halves. The Spearman-Brown
    formula ``2r / (1 + r)`` turns the half-length correlation into the reliability of the
    whole history, clipped to ``[0, 1]``. A rate over a handful of events (e.g. returns per
    purchase when customers buy twice) scores near 0: what differs between customers there is
    chance, not behaviour, and a clustering that follows it splits personas at random.

    Parameters
    ----------
    log : DataFrame
        Canonical event log, sorted by customer and time.
    featurize : callable
        Features of a log (one row per customer), e.g. a fitted featurizer's ``transform``.
    columns : iterable of str
        Columns to rate.
    session_gap_us : int
        Session gap in microseconds.
    max_customers : int, default 20000
        Customers sampled (at random) to bound the cost on large logs.
    min_customers : int, default 50
        Fewest customers with sessions in both halves; below it, ``None`` (not measurable).
    random_state : int, default 0

    Returns
    -------
    Series or None
        Reliability per column (index = column), or ``None`` when too few customers have two
        sessions.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> log = pd.DataFrame({
    ...     "customer_id": np.repeat(np.arange(n), 4),
    ...     "timestamp": pd.to_datetime(np.tile([0, 1, 2, 3], n) * 86_400, unit="s", utc=True),
    ...     "trait": np.repeat(rng.normal(size=n), 4) + rng.normal(0, 0.3, 4 * n),
    ...     "noise": rng.normal(size=4 * n)})
    >>> f = lambda lg: lg.groupby("customer_id")[["trait", "noise"]].mean()
    >>> r = split_half_reliability(log, f, ["trait", "noise"], session_gap_us=3_600_000_000)
    >>> bool(r["trait"] > 0.9), bool(r["noise"] < 0.2)
    (True, True)
    """
    cols = [str(c) for c in columns]
    if len(log) == 0 or not cols:
        return None
    first, second = session_halves(log, session_gap_us, max_customers, random_state)
    if len(first) == 0 or len(second) == 0:
        return None
    return halves_reliability(featurize(first), featurize(second), cols, min_customers)


def halves_reliability(
    a: pd.DataFrame, b: pd.DataFrame, columns: Iterable[str], min_customers: int = 50
) -> pd.Series | None:
    """:func:`split_half_reliability` from the features ``a`` and ``b`` of the two session
    halves (:func:`session_halves`): each column correlated across the customers in both,
    Spearman-Brown corrected; ``None`` with fewer than ``min_customers`` of them.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}, index=list("pqrs"))
    >>> halves_reliability(a, a + 0.1, ["x"], min_customers=3).round(2).to_dict()
    {'x': 1.0}
    """
    cols = [str(c) for c in columns]
    both = a.index.intersection(b.index)
    if len(both) < min_customers:
        return None
    A = a.reindex(index=both, columns=cols).to_numpy(dtype=np.float64)
    B = b.reindex(index=both, columns=cols).to_numpy(dtype=np.float64)
    A, B = A - np.nanmean(A, 0), B - np.nanmean(B, 0)
    den = np.sqrt(np.nansum(A**2, 0) * np.nansum(B**2, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > _TINY, np.nansum(A * B, 0) / den, 0.0)
        sb = np.where(r > 0, 2 * r / (1 + r), 0.0)
    return pd.Series(np.clip(sb, 0.0, 1.0), index=cols, name="reliability")


def log_reliability(
    halves: tuple[pd.DataFrame, pd.DataFrame] | None, columns: Iterable[str]
) -> pd.Series | None:
    """:func:`halves_reliability` of the features of a log's two session ``halves`` (``None``
    when no customer has two sessions), with the log lines a user reads: when it cannot be
    measured (every column then weighs fully), and which columns weigh (almost) nothing."""
    cols = [str(c) for c in columns]
    rel = halves_reliability(*halves, cols) if halves is not None and cols else None
    if rel is None:
        logger.info(
            "persona view: reliability weighting skipped (fewer than 50 customers with two "
            "sessions); every column weighs fully"
        )
        return None
    low = sorted(rel.index[rel < 0.1])
    if low:
        logger.info(
            "persona view: %d column(s) weigh (almost) nothing because a customer's own "
            "sessions do not reproduce them (split-half reliability < 0.1): %s",
            len(low),
            low,
        )
    return rel


def _unit_float(v: Any) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(f) and 0.0 <= f <= 1.0)


def checked_reliability(
    given: Mapping[str, Any], columns: Iterable[str], *, what: str = "reliability"
) -> pd.Series:
    """Reliabilities given by a caller (column -> number in [0, 1]) as a Series, refused with
    a clear error when a value is not a number in [0, 1] or no key is a view column.

    Examples
    --------
    >>> checked_reliability({"a": 0.5}, ["a", "b"]).to_dict()
    {'a': 0.5}
    """
    cols = [str(c) for c in columns]
    rel = pd.Series({str(c): v for c, v in given.items()}, dtype=object)
    bad = [c for c, v in rel.items() if not _unit_float(v)]
    if bad:
        raise ConfigError(
            f"{what} must map feature columns to numbers within [0, 1]; {bad[:5]} are not. "
            f"Use split_half_reliability(...) or pass True."
        )
    unknown = sorted(set(rel.index) - set(cols))
    if unknown and len(unknown) == len(rel):
        raise ConfigError(
            f"{what} names none of the persona view's columns (e.g. {unknown[:3]}); the view "
            f"has {cols[:5]}..."
        )
    return rel.astype(np.float64)


def evidence_weights(n_events: np.ndarray, scaler: FamilyScaler) -> tuple[np.ndarray, float] | None:
    """How well each customer's behaviour is measured, from its event count: the reliability
    of a mean over ``n`` events, ``n / (n + n0)``, and ``n0``. ``n0`` comes from the view's
    split-half reliability ``R`` (the mean over families, measured at the median customer's
    count ``m``): ``n0 = m (1 - R) / R``. ``None`` when the scaler has no reliabilities.

    Examples
    --------
    >>> X = pd.DataFrame({"order_value_log": [1.0, 2.0, 3.0, 4.0],
    ...                   "events_per_session": [2.0, 1.0, 4.0, 3.0]})
    >>> rel = {"order_value_log": 0.5, "events_per_session": 0.5}
    >>> fs = FamilyScaler(reliability=rel).fit(X)
    >>> w, n0 = evidence_weights(np.array([10, 10, 20, 40]), fs)
    >>> n0, w.round(2).tolist()
    (15.0, [0.4, 0.4, 0.57, 0.73])
    """
    w = getattr(scaler, "weights_", None)
    if w is None or scaler.reliability is None:
        return None
    fam_rel = [float(w[cols].mean()) for cols in scaler.families_.values()]
    R = float(np.clip(np.mean(fam_rel), 0.05, 0.95))
    n = np.asarray(n_events, dtype=np.float64)
    n0 = float(np.median(n)) * (1.0 - R) / R
    logger.info(
        "persona fit: customers weigh by how well their behaviour is measured, n / (n + %.0f) "
        "for n events (view reliability %.2f at the median of %d events)",
        n0,
        R,
        int(np.median(n)),
    )
    return n / (n + n0), n0


def _mentions(column: str, activities: frozenset[str]) -> bool:
    if ":" not in column or not activities:
        return False
    return bool(set(column.split(":", 1)[1].split(">")) & activities)


def view_columns(
    columns: Iterable[str],
    families: Mapping[str, tuple[str, tuple[str, ...]]] | None = None,
    exclude_activities: frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """Columns of each family present in ``columns`` (families with none are left out).

    Examples
    --------
    >>> view_columns(["activity_share:a", "transition_share:a>b", "log_events"])
    {'activity mix': ['activity_share:a'], 'transitions': ['transition_share:a>b']}
    """
    cols = [str(c) for c in columns]
    out: dict[str, list[str]] = {}
    for fam, (_, patterns) in (families or PERSONA_FAMILIES).items():
        hit: list[str] = []
        for p in patterns:
            sel = [c for c in cols if c.startswith(p[:-1])] if p.endswith("*") else [p]
            hit += [c for c in sel if c in cols and c not in hit]
        if fam in ("activity mix", "transitions"):
            hit = [c for c in hit if not _mentions(c, exclude_activities)]
        if hit:
            out[fam] = hit
    return out


class FamilyScaler:
    """Scale feature families to equal total variance (see the module docstring).

    Parameters
    ----------
    families : mapping, optional
        family -> (kind ``"mix"`` or ``"scalar"``, patterns); default :data:`PERSONA_FAMILIES`.
    exclude_activities : frozenset of str
        Activities left out of the activity mix and transitions.
    reliability : mapping, optional
        Column -> reliability in ``[0, 1]`` (:func:`split_half_reliability`). Each column's
        variance is multiplied by its reliability, so a family carries a total variance equal
        to its (variance-weighted) reliability instead of 1: noise weighs nothing. Columns not
        in the mapping count as fully reliable.

    Attributes
    ----------
    families_ : dict
        family -> the varying columns used.
    dropped_ : dict
        family -> reason, for families with no varying column.
    columns_ : list of str
        The columns of :meth:`transform`'s output, in order.
    """

    def __init__(
        self,
        families: Mapping[str, tuple[str, tuple[str, ...]]] | None = None,
        exclude_activities: frozenset[str] = frozenset(),
        reliability: Mapping[str, float] | None = None,
    ) -> None:
        self.families = families
        self.exclude_activities = exclude_activities
        self.reliability = reliability

    def fit(self, X: pd.DataFrame) -> FamilyScaler:
        """Learn each family's columns, centre and scale from features ``X``."""
        fams = dict(self.families or PERSONA_FAMILIES)
        for name, spec in fams.items():
            if not (isinstance(spec, tuple) and len(spec) == 2 and spec[0] in ("mix", "scalar")):
                raise ConfigError(
                    f"family {name!r} must be (kind, patterns) with kind 'mix' or 'scalar', "
                    f"got {spec!r}."
                )
        present = view_columns(X.columns, fams, self.exclude_activities)
        self.families_: dict[str, list[str]] = {}
        self.dropped_: dict[str, str] = {}
        cols: list[str] = []
        sqrt: list[bool] = []
        centre: list[float] = []
        scale: list[float] = []
        clip: list[bool] = []
        for fam, (kind, _) in fams.items():
            if fam not in present:
                self.dropped_[fam] = "no such feature in the features"
                continue
            M = X[present[fam]].to_numpy(dtype=np.float64)
            if kind == "mix":
                M = np.sqrt(np.clip(M, 0.0, None))
            sd = M.std(axis=0)
            keep = sd > _TINY
            if not keep.any():
                flat = not np.any(X[present[fam]].to_numpy(dtype=np.float64))
                self.dropped_[fam] = (
                    "every customer has 0 (e.g. no value column, or no activity in that role)"
                    if flat
                    else "no variation between customers"
                )
                continue
            names = [c for c, k in zip(present[fam], keep, strict=True) if k]
            M, sd = M[:, keep], sd[keep]
            mu = M.mean(axis=0)
            if kind == "mix":
                total = float(np.sqrt((sd**2).sum()))
                s = np.full(len(names), total)
            else:
                s = sd * np.sqrt(len(names))
            self.families_[fam] = names
            cols += names
            sqrt += [kind == "mix"] * len(names)
            clip += [kind == "scalar"] * len(names)
            centre += mu.tolist()
            scale += s.tolist()
        if len(cols) < 2:
            raise ConfigError(
                f"fewer than 2 varying persona features ({cols}); every customer looks the "
                f"same. Use features='all' or a longer time window."
            )
        for fam, why in self.dropped_.items():
            logger.info("persona view: family %r left out (%s)", fam, why)
        self.columns_ = cols
        self._sqrt = np.asarray(sqrt)
        self._clip = np.asarray(clip)
        self._centre = np.asarray(centre)
        self._scale = np.asarray(scale)
        rel = {} if self.reliability is None else dict(self.reliability)
        self._weight = np.sqrt(np.clip([float(rel.get(c, 1.0)) for c in cols], 0.0, 1.0))
        self.weights_ = pd.Series(self._weight**2, index=cols, name="reliability")
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The weighted view of features ``X`` (rows = customers)."""
        missing = [c for c in getattr(self, "columns_", []) if c not in X.columns]
        if not hasattr(self, "columns_"):
            raise ConfigError("this FamilyScaler is not fitted; call fit(features) first.")
        if missing:
            raise ConfigError(f"features lack columns {missing} of the persona view.")
        M = X[self.columns_].to_numpy(dtype=np.float64)
        M = np.where(self._sqrt, np.sqrt(np.clip(M, 0.0, None)), M)
        Z = (M - self._centre) / self._scale
        # a scalar column standardised then divided by sqrt(k): clip at +-CLIP in standard units
        n_scalar = {
            fam: len(c) for fam, c in self.families_.items() if fam not in self._mix_families()
        }
        lim = np.concatenate(
            [
                np.full(len(c), CLIP / np.sqrt(n_scalar[fam]) if fam in n_scalar else np.inf)
                for fam, c in self.families_.items()
            ]
        )
        return np.clip(Z, -lim, lim) * getattr(self, "_weight", 1.0)

    def fit_transform(self, X: pd.DataFrame) -> np.ndarray:
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(X).transform(X)

    def _mix_families(self) -> set[str]:
        fams = dict(self.families or PERSONA_FAMILIES)
        return {f for f, (kind, _) in fams.items() if kind == "mix"}

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # for skops/sklearn printing
        return {
            "families": self.families,
            "exclude_activities": self.exclude_activities,
            "reliability": self.reliability,
        }
