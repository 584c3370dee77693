"""Behaviour features per customer: :class:`CustomerFeaturizer`, a scikit-learn transformer.

``fit(log)`` learns a :class:`~journeymine.features.FeatureSpec` (the vocabulary of activities,
channels and journeys, the most frequent in-session transitions, the window and ``as_of``);
``transform(log)`` returns one row of features per customer (index ``customer_id``, sorted).
The work is done by the feature core, :mod:`journeymine.features`, in two exact steps: integer
*aggregates* (:func:`~journeymine.features.compute_aggregates`, whose definitions the package
documents) then *features* (:func:`~journeymine.features.features_from_aggregates`), shared
with live assignment so that every path gives the same features, bit for bit.

``FeatureSpec``, ``compute_aggregates``, ``features_from_aggregates`` and ``OTHER`` are
re-exported here (their public home is :mod:`journeymine.features`).

Examples
--------
>>> from journeymine.datasets import make_journeys
>>> log = make_journeys(n_customers=200, days=60, random_state=0).events
>>> fz = CustomerFeaturizer().fit(log)
>>> X = fz.transform(log)
>>> X.shape[0] == log["customer_id"].nunique(), bool(X.notna().all().all())
(True, True)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from journeymine.exceptions import ConfigError, EmptyLogError, UnknownActivityError, did_you_mean
from journeymine.exceptions import NotFittedError as _JmNotFitted
from journeymine.features import (
    OTHER,
    FeatureSpec,
    canonical_log,
    compute_aggregates,
    features_from_aggregates,
    learn,
    pooled_rates,
    timestamps_us,
)
from journeymine.features.compute import fmt_us
from journeymine.features.learn import TOUCHES_BY_NAME, infer_touch_activities
from journeymine.schema import (
    ACTIVITY,
    CHANNEL,
    CUSTOMER_ID,
    JOURNEY_ID,
    SESSION_ID,
    VALUE,
    check_duration,
    isin_values,
    to_micros,
    used_values,
)

__all__ = [
    "OTHER",
    "CustomerFeaturizer",
    "FeatureSpec",
    "compute_aggregates",
    "features_from_aggregates",
]

logger = logging.getLogger(__name__)

_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def _to_td_us(value: Any, name: str) -> int:
    td = check_duration(value, name, examples="'30min', '48h' or '90D'")
    return int(td // pd.Timedelta(microseconds=1))


def _names(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    try:
        out = tuple(value)
    except TypeError as exc:
        raise ConfigError(f"{name} must be a list of activity names, got {value!r}.") from exc
    if not all(isinstance(v, str) for v in out):
        raise ConfigError(f"{name} must hold activity names (str), got {value!r}.")
    return out


def _present(
    names: tuple[str, ...], activities: tuple[str, ...], role: str, *, explicit: bool
) -> tuple[str, ...]:
    """Role activities present in the log. A name the caller gave explicitly that is absent but
    close to a present one is a typo (:class:`UnknownActivityError`); other absent names only
    give zero features (logged)."""
    out = []
    for n in names:
        if n in activities:
            out.append(n)
            continue
        hint = did_you_mean(n, activities)
        if explicit and hint:
            raise UnknownActivityError(
                f"{role}: activity {n!r} is not in the log.{hint} Available activities: "
                f"{list(activities)}."
            )
        logger.info("%s: activity %r is not in the log; its features are 0", role, n)
    return tuple(out)


def value_roles(log: pd.DataFrame, exclude: Sequence[str] = ()) -> dict[str, tuple[str, ...]]:
    """Purchase and return activities read from the ``value`` column: the activities most of
    whose events carry a positive value (purchases: order lines, receipts) and those most of
    whose events carry a negative one (returns, refunds); ``exclude`` (e.g. outbound touches)
    never counts. Empty without a ``value`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"activity": ["DAIRY", "DAIRY", "REFUND", "visit"],
    ...                     "value": [2.5, 3.0, -4.0, None]})
    >>> value_roles(log)
    {'purchase_activities': ('DAIRY',), 'return_activities': ('REFUND',)}
    """
    if VALUE not in log.columns or not len(log):
        return {"purchase_activities": (), "return_activities": ()}
    v = log[VALUE].to_numpy(dtype=np.float64, na_value=np.nan)
    codes, names = pd.factorize(log[ACTIVITY], sort=True)
    n = np.bincount(codes, minlength=len(names))
    share = pd.DataFrame(
        {
            "pos": np.bincount(codes, weights=v > 0, minlength=len(names)) / np.maximum(n, 1),
            "neg": np.bincount(codes, weights=v < 0, minlength=len(names)) / np.maximum(n, 1),
        },
        index=pd.Index([str(a) for a in names]),
    )
    share = share.drop(index=[a for a in exclude if a in share.index])
    return {
        "purchase_activities": tuple(str(a) for a in share.index[share["pos"] > 0.5]),
        "return_activities": tuple(str(a) for a in share.index[share["neg"] > 0.5]),
    }


_ROLE_DEFAULTS: dict[str, tuple[str, ...]] = {
    "purchase_activities": ("purchase",),
    "cart_activities": ("add_to_cart",),
    "browse_activities": ("view_product",),
    "return_activities": ("return_product",),
    "support_activities": ("contact_support", "track_order"),
    "promotion_activities": ("view_promotions",),
    "research_activities": ("read_reviews",),
}


_ROLES = (
    "purchase_activities",
    "cart_activities",
    "browse_activities",
    "return_activities",
    "support_activities",
    "promotion_activities",
    "research_activities",
)


def _check_fitted(estimator: BaseEstimator, attribute: str) -> None:
    """Raise journeymine's NotFittedError, naming the estimator, unless it has ``attribute``
    (:func:`~sklearn.utils.validation.check_is_fitted`); the personas' estimators share it."""
    try:
        check_is_fitted(estimator, attribute)
    except Exception as exc:
        raise _JmNotFitted(
            f"this {type(estimator).__name__} is not fitted yet; call fit(log) first."
        ) from exc


def _resolve_roles(
    params: Any, win: pd.DataFrame, activities: tuple[str, ...], touch: tuple[str, ...]
) -> dict[str, Any]:
    """Each role's activities in this log: the names given (``params``' role attributes)
    that are present; a default purchase or return name absent from the log is replaced by
    the activities its values point to (:func:`value_roles`), said in the log."""
    inferred: dict[str, tuple[str, ...]] | None = None  # read from the values when needed
    roles: dict[str, Any] = {}  # role -> activities (Any: spread into FeatureSpec)
    for role in _ROLES:
        names = _names(getattr(params, role), role)
        default = names == _ROLE_DEFAULTS[role]
        absent = default and not set(names) & set(activities)
        if absent and inferred is None and role in ("purchase_activities", "return_activities"):
            inferred = value_roles(win, exclude=touch)
        found = (inferred or {}).get(role, ()) if absent else ()
        if not found:
            roles[role] = _present(names, activities, role, explicit=not default)
            continue
        roles[role] = found
        shown = list(found) if len(found) <= 8 else [*found[:8], f"({len(found)} in all)"]
        logger.info(
            "%s inferred from the value column (most of their events carry a %s value): %s; "
            "pass %s=[...] to choose them",
            role,
            "positive" if role == "purchase_activities" else "negative",
            shown,
            role,
        )
    return roles


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)  # BaseEstimator's repr, identity eq/hash
class CustomerFeaturizer(TransformerMixin, BaseEstimator):
    """Behaviour features per customer: activity/channel mix, recency/frequency/value, session
    shape, time-of-day/week habits, transitions, response to outbound touches, returns, support.

    Parameters
    ----------
    start, end : str or Timestamp, optional
        Use only events with ``start <= timestamp < end``.
    window : str or Timedelta, optional
        Window length, e.g. ``"90D"``: with ``end`` (or alone) the window ends at ``end`` (or at
        the last event of the fitted log, inclusive); with ``start`` it starts there. Giving
        ``start``, ``end`` and ``window`` together is an error.
    session_gap : str or Timedelta, default "30min"
        Inactivity that starts a new session when the log has no ``session_id`` (or
        ``use_session_id=False``).
    use_session_id : bool or "auto", default "auto"
        Use the log's ``session_id`` column for sessions ("auto": when it is present at fit).
    response_window : str or Timedelta, default "48h"
        A touch is answered by a response of the same journey within this time.
    touch_activities : list of str, optional
        Outbound touches (sent messages). Default: activities of the log whose name ends in
        ``"sent"``; when there is none, the activities that open the customers' journeys
        (:func:`~journeymine.features.learn.infer_touch_activities`), said in the log.
    purchase_activities, cart_activities, browse_activities, return_activities,
    support_activities, promotion_activities, research_activities : list of str
        Activities playing these roles (support: customer-service contacts such as support
        requests and order tracking; promotion: looking at offers; research: reading reviews).
        Names absent from the log give zero features; a name given explicitly that is close
        to a present one raises :class:`UnknownActivityError`.
    n_transitions : int, default 16
        How many of the most frequent in-session transitions ``a -> b`` become features.
    prior_strength : float, default 2.0
        Response rates and the mean order value are shrunk towards the fitted log's by this
        many pseudo-touches / pseudo-purchases (so customers without touches or purchases are
        not a spike at 0).
    engine : {"numpy", "duckdb"}, default "numpy"
        How :meth:`transform` computes the aggregates (see :func:`compute_aggregates`; equal
        results, numpy is several times faster).
    threads : int, optional
        DuckDB threads (default: all cores): ``fit`` (transitions, response rates) and
        ``engine="duckdb"``.

    Attributes
    ----------
    spec_ : FeatureSpec
        Vocabulary, window, ``as_of`` and roles; JSON-serialisable.
    feature_names_in_ : ndarray of str
        Columns of the fitted log.
    n_customers_ : int
        Customers in the fitted log's window.

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> log = make_journeys(n_customers=200, days=60, random_state=0).events
    >>> fz = CustomerFeaturizer(window="30D").fit(log)
    >>> X = fz.transform(log)
    >>> list(X.columns) == list(fz.get_feature_names_out())
    True
    >>> X.index.is_monotonic_increasing
    True
    """

    start: str | pd.Timestamp | None = None
    end: str | pd.Timestamp | None = None
    window: str | pd.Timedelta | None = None
    session_gap: str | pd.Timedelta = "30min"
    use_session_id: bool | Literal["auto"] = "auto"
    response_window: str | pd.Timedelta = "48h"
    touch_activities: Sequence[str] | None = None
    purchase_activities: Sequence[str] = ("purchase",)
    cart_activities: Sequence[str] = ("add_to_cart",)
    browse_activities: Sequence[str] = ("view_product",)
    return_activities: Sequence[str] = ("return_product",)
    support_activities: Sequence[str] = ("contact_support", "track_order")
    promotion_activities: Sequence[str] = ("view_promotions",)
    research_activities: Sequence[str] = ("read_reviews",)
    n_transitions: int = 16
    prior_strength: float = 2.0
    engine: Literal["numpy", "duckdb"] = "numpy"
    threads: int | None = None

    # -- fit ----------------------------------------------------------------------------------
    def _window_us(self, t: np.ndarray) -> tuple[int | None, int | None, int, np.ndarray]:
        """The window ``[start, end)`` in microseconds (None: open on that side), ``as_of`` and
        which of the event times ``t`` fall inside it; raises when none does."""
        start = to_micros(self.start, "start")
        end = to_micros(self.end, "end")
        if self.window is not None:
            w = _to_td_us(self.window, "window")
            if start is not None and end is not None:
                raise ConfigError(
                    "give at most two of start, end and window (all three were given)."
                )
            if start is not None:
                end = start + w
            else:
                if end is None:
                    end = int(t.max()) + 1
                start = end - w
        if start is not None and end is not None and start >= end:
            raise ConfigError(f"start ({fmt_us(start)}) must be before end ({fmt_us(end)}).")
        inside = np.ones(len(t), dtype=bool)
        if start is not None:
            inside &= t >= start
        if end is not None:
            inside &= t < end
        if not inside.any():
            raise EmptyLogError(
                f"no events inside the window [{fmt_us(start)}, {fmt_us(end)}); the log "
                f"spans {fmt_us(int(t.min()))} to {fmt_us(int(t.max()))}."
            )
        as_of = end if end is not None else int(t[inside].max())
        return start, end, as_of, inside

    def fit(self, log: pd.DataFrame, y: Any = None) -> CustomerFeaturizer:
        """Learn the vocabulary, roles, top transitions, response priors, pooled conversion
        rates (``spec_.rate_priors``), window and ``as_of``.

        Parameters
        ----------
        log : DataFrame
            Canonical event log.
        y : ignored

        Returns
        -------
        self
        """
        self._fit(log)
        return self

    def fit_transform(self, log: pd.DataFrame, y: Any = None, **fit_params: Any) -> pd.DataFrame:
        """:meth:`fit` then :meth:`transform` on the same log, computing its aggregates once.

        Parameters
        ----------
        log, y
            As :meth:`fit`.

        Returns
        -------
        DataFrame
            As :meth:`transform`.
        """
        return self._frame(*self._fit(log))

    def _frame(self, customers: Any, agg: np.ndarray) -> pd.DataFrame:
        X = features_from_aggregates(agg, self.spec_)
        # X is new: the frame takes it without a copy (pandas copies an array by default)
        return pd.DataFrame(X, index=customers, columns=list(self.spec_.feature_names), copy=False)

    def _fit(self, log: pd.DataFrame) -> tuple[Any, np.ndarray]:
        """Fit (see :meth:`fit`); returns the fitted log's customers and aggregates."""
        if self.engine not in ("numpy", "duckdb"):
            raise ConfigError(f"engine must be 'numpy' or 'duckdb', got {self.engine!r}.")
        log = canonical_log(log, what="CustomerFeaturizer.fit")
        if not isinstance(self.n_transitions, int | np.integer) or self.n_transitions < 0:
            raise ConfigError(f"n_transitions must be an integer >= 0, got {self.n_transitions!r}.")
        if not float(self.prior_strength) >= 0:
            raise ConfigError(f"prior_strength must be >= 0, got {self.prior_strength!r}.")
        if self.use_session_id not in (True, False, "auto"):
            raise ConfigError(
                f"use_session_id must be True, False or 'auto', got {self.use_session_id!r}."
            )
        gap = _to_td_us(self.session_gap, "session_gap")
        rw = _to_td_us(self.response_window, "response_window")
        t = timestamps_us(log)
        start, end, as_of, inside = self._window_us(t)
        win = log if inside.all() else log.iloc[np.flatnonzero(inside)]

        def vocab(column: str) -> tuple[str, ...]:
            return tuple(sorted(used_values(win[column]))) if column in win.columns else ()

        activities = vocab(ACTIVITY)
        channels = vocab(CHANNEL)
        journeys = vocab(JOURNEY_ID)
        if self.touch_activities is None:
            touch, how = infer_touch_activities(win, activities)
            if touch and how != TOUCHES_BY_NAME:
                logger.info(
                    "CustomerFeaturizer: no activity name ends in 'sent'; touches are %s: %s "
                    "(pass touch_activities=[...] to choose them)",
                    how,
                    list(touch),
                )
        else:
            touch = _present(
                _names(self.touch_activities, "touch_activities"),
                activities,
                "touch_activities",
                explicit=True,
            )
        roles = _resolve_roles(self, win, activities, touch)
        use_sid = bool(
            SESSION_ID in log.columns if self.use_session_id == "auto" else self.use_session_id
        )
        if use_sid and SESSION_ID not in log.columns:
            raise ConfigError(
                "use_session_id=True but the log has no 'session_id' column; add one with "
                "jm.sessionize(log) or use use_session_id=False (inactivity gap)."
            )
        base = FeatureSpec(
            activities=activities,
            channels=channels,
            journeys=journeys,
            as_of_us=as_of,
            touch_activities=touch,
            transitions=(),
            start_us=start,
            end_us=end,
            session_gap_us=gap,
            use_session_id=use_sid,
            response_window_us=rw,
            prior_strength=float(self.prior_strength),
            **roles,
        )
        transitions, prior, jprior = self._learn(win, base)
        valued = (
            win[VALUE].to_numpy(dtype=np.float64, na_value=np.nan)[
                isin_values(win[ACTIVITY], roles["purchase_activities"])
            ]
            if VALUE in win.columns
            else np.array([])
        )
        valued = valued[np.isfinite(valued)]
        value_prior = float(np.mean(valued)) if len(valued) else 0.0
        self.spec_ = dataclasses.replace(
            base,
            transitions=transitions,
            response_prior=prior,
            order_value_prior=value_prior,
            journey_response_prior=jprior,
        )
        self.feature_names_in_ = np.asarray([str(c) for c in log.columns], dtype=object)
        self.n_customers_ = int(win[CUSTOMER_ID].nunique())
        # the rates a thinly measured customer is shrunk towards: the log's pooled ones (they
        # change no aggregate, so the aggregates serve fit_transform too)
        customers, agg = compute_aggregates(
            log, self.spec_, engine=self.engine, threads=self.threads
        )
        self.spec_ = dataclasses.replace(self.spec_, rate_priors=pooled_rates(agg, self.spec_))
        return customers, agg

    def _learn(
        self, log: pd.DataFrame, spec: FeatureSpec
    ) -> tuple[tuple[tuple[str, str], ...], float, tuple[float, ...]]:
        """Top in-session transitions and response rates of the fitted log."""
        return learn(log, spec, int(self.n_transitions), engine=self.engine, threads=self.threads)

    # -- transform ----------------------------------------------------------------------------
    def _spec(self) -> FeatureSpec:
        _check_fitted(self, "spec_")
        return self.spec_

    def aggregate(self, log: pd.DataFrame) -> pd.DataFrame:
        """Integer aggregates per customer (index customer_id, sorted; columns
        ``spec_.aggregate_names``). See the module docstring for exact definitions."""
        spec = self._spec()
        customers, agg = compute_aggregates(log, spec, engine=self.engine, threads=self.threads)
        return pd.DataFrame(agg, index=customers, columns=list(spec.aggregate_names))

    def transform(self, log: pd.DataFrame) -> pd.DataFrame:
        """Features per customer with at least one event in the window.

        Parameters
        ----------
        log : DataFrame
            Canonical event log (any row order; customers need not be those seen at fit).

        Returns
        -------
        DataFrame
            Index ``customer_id`` (sorted), columns :meth:`get_feature_names_out`, float64,
            no NaN.
        """
        spec = self._spec()
        return self._frame(*compute_aggregates(log, spec, engine=self.engine, threads=self.threads))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the features :meth:`transform` returns."""
        return np.asarray(self._spec().feature_names, dtype=object)

    def set_output(self, *, transform: Any = None) -> CustomerFeaturizer:
        """Output is always a DataFrame; accepted for scikit-learn compatibility."""
        return self
