"""NextStepModel: what each customer does next, on which channel, when, and the outcome odds.

Trained on journey *prefixes*: every event of the training log with a next event (and, with
``end_of_case=True``, every case's last event, labelled :data:`END`) is one row whose features
(:mod:`journeymine.nextstep._prefix`) describe the customer's history up to that event and whose
targets are the next event's activity and channel, the seconds until it and, when an
``outcome`` is asked for, whether that activity happens within ``horizon``.

Each target has its own :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (regressor
with Poisson loss for the time, so the prediction is an expected value): gradient boosting on
prefix features beats count and LSTM models on the public next-activity benchmarks (Tax et al.
2017; Teinemaa et al. 2019). The number of boosting rounds is chosen by early stopping on
held-out *cases* (``validation_size``) and the classifiers' probabilities are then calibrated by
temperature scaling on those cases. ``refit=True`` refits on every case with the chosen number
of rounds: it doubles the fit time for no consistent gain (Tax protocol: Helpdesk 0.7336 with
refit against 0.7411 without, BPI'12 W 0.8051 against 0.8017), hence off by default.

Scoring never calls scikit-learn: each fitted ensemble is compiled into flat numpy arrays
(:mod:`journeymine.nextstep._forest`), which is also all a saved model holds.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from journeymine.exceptions import (
    ConfigError,
    EventLogError,
    NotFittedError,
    UnknownActivityError,
    did_you_mean,
)
from journeymine.nextstep._calibrate import apply_temperature, fit_temperature
from journeymine.nextstep._events import (
    Events,
    encode_codes,
    events_from_records,
    outcome_within,
    to_events,
)
from journeymine.nextstep._forest import Ensemble, Forest, compile_forest, finish
from journeymine.nextstep._ngram import (
    WEIGHT_BUCKETS,
    NGram,
    blend_by_bucket,
    context_bucket,
    fit_weights,
)
from journeymine.nextstep._prefix import PrefixSpec, activity_codes, prefix_features
from journeymine.schema import CHANNEL, CUSTOMER_ID

__all__ = ["END", "NextStep", "NextStepModel"]

logger = logging.getLogger(__name__)

#: The "activity" predicted when the model expects the case to end (``end_of_case=True``).
END = "[END]"


def _horizon_seconds(horizon: Any) -> float:
    try:
        td = pd.Timedelta(horizon)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"horizon must be a duration such as '7D', '12h' or a timedelta, got {horizon!r}."
        ) from exc
    if pd.isna(td) or td <= pd.Timedelta(0):
        raise ConfigError(f"horizon must be a positive duration such as '7D', got {horizon!r}.")
    return td.total_seconds()


def _case_split(n_cases: int, size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_cases)
    n_val = round(n_cases * size)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _take(arr: Any, idx: np.ndarray) -> Any:
    """``arr.take(idx)``; one row by slicing (a take on a pyarrow array costs tens of us)."""
    if len(idx) == 1:
        i = int(idx[0])
        return arr[i : i + 1]
    return arr.take(idx)


@dataclass(frozen=True)
class NextStep:
    """One customer's predicted next step (:meth:`NextStepModel.predict_customer`).

    Attributes
    ----------
    customer_id : str or None
        The customer (None when neither the events nor the call named one).
    activity : str
        The most likely next activity (or :data:`END`).
    probability : float
        Its calibrated probability.
    channel : str or None
        The most likely channel of the next event (None: the model has no channel).
    channel_probability : float or None
    seconds_to_next : float or None
        Expected seconds to the next event.
    p_outcome : float or None
        Probability of the model's ``outcome`` within its ``horizon`` (None without one).
    n_events : int
        Events scored.
    """

    customer_id: str | None
    activity: str
    probability: float
    channel: str | None
    channel_probability: float | None
    seconds_to_next: float | None
    p_outcome: float | None
    n_events: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready).

        Examples
        --------
        >>> from journeymine.nextstep import NextStep
        >>> step = NextStep("c-1", "purchase", 0.4, "app", 0.9, 3600.0, None, 12)
        >>> step.to_dict()["channel"]
        'app'
        """
        return asdict(self)


class NextStepModel(BaseEstimator):
    """Predict each customer's next step from their journey so far.

    Parameters
    ----------
    n_lags : int, default 5
        How many of the last activities enter as categorical features.
    end_of_case : bool, default False
        Also learn that a case ends after its last event, so that :data:`END` can be predicted.
        For process logs whose cases really end; leave it off for customers, whose journeys go on.
    outcome : str, optional
        An activity (e.g. ``"purchase"``): also predict the probability that it happens within
        ``horizon`` of the customer's last event (column ``p_outcome``).
    horizon : str or timedelta, default "7D"
        The outcome's horizon. Training prefixes closer than ``horizon`` to the end of the log
        and without the outcome yet are left out (their label is not known).
    attributes : "auto", list of str or None, default "auto"
        Event columns used as features besides activity and time: ``"auto"`` = every column
        but the identifiers (channel first); text/categorical columns as categories, numbers
        as numbers.
    max_iter, learning_rate, max_leaf_nodes, l2_regularization, min_samples_leaf
        Boosting parameters of every head
        (:class:`~sklearn.ensemble.HistGradientBoostingClassifier`); ``max_iter`` is an upper
        bound, early stopping picks the number of rounds.
    validation_size : float, default 0.15
        Share of cases held out for early stopping and calibration (0: no early stopping,
        ``max_iter`` rounds, no calibration).
    refit : bool, default False
        Refit on every case (validation cases included) with the chosen number of rounds.
    tree_weight : "auto" or float in [0, 1], default "auto"
        The next-activity probabilities are ``w * trees + (1 - w) * counts``, where *counts* is
        an interpolated count model over the last 1-5 activities
        (:mod:`journeymine.nextstep._ngram`). ``"auto"`` learns ``w`` on the held-out cases
        (log loss; 0.5 when the log has too few cases to hold any out), one ``w`` per
        context length (1, 2, 3-4, 5+ known activities), each shrunk to the global one by
        :data:`~journeymine.nextstep._ngram.PRIOR_ROWS` pseudo-rows; a number fixes it for
        every length (1: the trees alone). Trees fitted on few cases, or on a log whose next
        step is a function of the activities alone, reconstruct exact long contexts worse than
        counts, while on the first events an attribute may decide what follows.
    max_samples : int, default 250_000
        At most this many training prefixes (a seeded random sample beyond): bounds the fit
        time on large logs (1M events: a few minutes).
    n_jobs : int or None, default 1
        OpenMP threads of the boosting fit (None: all cores). One by default: on the shared
        2-core benchmark machine two threads made the fit 5 times *slower* (OpenMP threads
        spin-waiting on cores other jobs hold). Scoring never uses threads.
    random_state : int, default 0

    Attributes
    ----------
    classes_ : list of str
        Activities the model can predict (and :data:`END`), the columns of :meth:`predict_proba`.
    channels_ : list of str
        Channels it can predict (empty when the log had none).
    temperatures_ : dict
        Calibration temperature per head.
    tree_weight_ : float
        Weight of the trees in the next-activity blend learnt on all held-out prefixes (1: the
        count model is not used).
    tree_weights_ : list of float
        The weight used for each context-length bucket
        (:data:`~journeymine.nextstep._ngram.WEIGHT_BUCKETS`: 1, 2, 3-4, 5+ known activities).
    n_iter_ : dict
        Boosting rounds per head.
    card_ : dict
        Model card: parameters, vocabulary, training summary (written by :meth:`save`).

    Examples
    --------
    >>> import journeymine as jm
    >>> log = jm.datasets.make_journeys(n_customers=60, days=30, random_state=0).events
    >>> model = jm.NextStepModel(max_iter=10).fit(log)
    >>> pred = model.predict(log)
    >>> list(pred.columns)
    ['activity', 'probability', 'channel', 'channel_probability', 'seconds_to_next']
    >>> bool(pred["probability"].between(0, 1).all()), len(pred) == log["customer_id"].nunique()
    (True, True)
    """

    def __init__(
        self,
        *,
        n_lags: int = 5,
        end_of_case: bool = False,
        outcome: str | None = None,
        horizon: Any = "7D",
        attributes: Any = "auto",
        max_iter: int = 300,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        l2_regularization: float = 1.0,
        min_samples_leaf: int = 20,
        validation_size: float = 0.15,
        refit: bool = False,
        tree_weight: float | str = "auto",
        max_samples: int = 250_000,
        n_jobs: int | None = 1,
        random_state: int = 0,
    ) -> None:
        self.n_lags = n_lags
        self.end_of_case = end_of_case
        self.outcome = outcome
        self.horizon = horizon
        self.attributes = attributes
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.min_samples_leaf = min_samples_leaf
        self.validation_size = validation_size
        self.refit = refit
        self.tree_weight = tree_weight
        self.max_samples = max_samples
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ---- parameters --------------------------------------------------------------------------
    def _check_params(self) -> None:
        def is_int(v: Any) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        def is_num(v: Any) -> bool:
            return isinstance(v, int | float | np.number) and not isinstance(v, bool)

        rules: list[tuple[str, bool, str]] = [
            ("n_lags", is_int(self.n_lags) and 1 <= self.n_lags <= 50, "an integer in [1, 50]"),
            ("end_of_case", isinstance(self.end_of_case, bool), "True or False"),
            ("max_iter", is_int(self.max_iter) and self.max_iter >= 1, "an integer >= 1"),
            (
                "learning_rate",
                is_num(self.learning_rate) and 0 < self.learning_rate <= 1,
                "a number in (0, 1]",
            ),
            (
                "max_leaf_nodes",
                is_int(self.max_leaf_nodes) and self.max_leaf_nodes >= 2,
                "an integer >= 2",
            ),
            (
                "l2_regularization",
                is_num(self.l2_regularization) and self.l2_regularization >= 0,
                "a number >= 0",
            ),
            (
                "min_samples_leaf",
                is_int(self.min_samples_leaf) and self.min_samples_leaf >= 1,
                "an integer >= 1",
            ),
            (
                "validation_size",
                is_num(self.validation_size) and 0 <= self.validation_size < 0.5,
                "a number in [0, 0.5)",
            ),
            ("refit", isinstance(self.refit, bool), "True or False"),
            (
                "tree_weight",
                (isinstance(self.tree_weight, str) and self.tree_weight == "auto")
                or (is_num(self.tree_weight) and 0 <= float(self.tree_weight) <= 1),
                "'auto' or a number in [0, 1]",
            ),
            (
                "max_samples",
                is_int(self.max_samples) and self.max_samples >= 100,
                "an integer >= 100",
            ),
            (
                "n_jobs",
                self.n_jobs is None or (is_int(self.n_jobs) and self.n_jobs >= 1),
                "None or an integer >= 1",
            ),
            (
                "random_state",
                is_int(self.random_state) and 0 <= self.random_state < 2**32,
                "an integer in [0, 2**32)",
            ),
            (
                "outcome",
                self.outcome is None or (isinstance(self.outcome, str) and bool(self.outcome)),
                "None or an activity name",
            ),
        ]
        bad = [
            f"{name} must be {allowed}, got {getattr(self, name)!r}"
            for name, ok, allowed in rules
            if not ok
        ]
        if bad:
            raise ConfigError("NextStepModel: " + "; ".join(bad) + ".")
        if self.outcome is not None:
            _horizon_seconds(self.horizon)

    def _fitted(self) -> None:
        if not hasattr(self, "heads_"):
            raise NotFittedError(
                "this NextStepModel is not fitted yet; call fit(log) first, or load a saved model "
                "with journeymine.nextstep.load_next_step_model(path)."
            )

    # ---- training ----------------------------------------------------------------------------
    def _hgb(self, kind: str, max_iter: int, early: bool) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        common = dict(
            learning_rate=float(self.learning_rate),
            max_iter=int(max_iter),
            max_leaf_nodes=int(self.max_leaf_nodes),
            l2_regularization=float(self.l2_regularization),
            min_samples_leaf=int(self.min_samples_leaf),
            categorical_features=self.spec_.categorical_mask,
            early_stopping=early,
            n_iter_no_change=15,
            random_state=int(self.random_state),
        )
        if kind == "regressor":
            return HistGradientBoostingRegressor(loss="poisson", **common)
        return HistGradientBoostingClassifier(**common)

    def _targets(self, ev: Events) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per head: (prefix-end rows, target) of every training prefix."""
        n = ev.n_events
        idx = np.arange(n)
        has_next = np.ones(n, dtype=bool)
        has_next[ev.last] = False
        codes = activity_codes(ev, self.spec_)
        nxt = np.minimum(idx + 1, n - 1)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        y_act = np.where(
            has_next, codes[nxt], len(self.spec_.activities) if self.end_of_case else -1
        )
        ok = y_act >= 0
        out["activity"] = (idx[ok], y_act[ok])
        if self.channels_:
            ch = encode_codes(ev.columns[CHANNEL], self.channels_)
            y_ch = np.where(has_next, ch[nxt], -1)
            ok = y_ch >= 0
            out["channel"] = (idx[ok], y_ch[ok])
        gap = ev.t[nxt] - ev.t
        out["time"] = (idx[has_next], np.maximum(gap[has_next], 0.0))
        if self.outcome is not None:
            within, known = outcome_within(
                ev, self.outcome, _horizon_seconds(self.horizon), self.log_end_
            )
            out["outcome"] = (idx[known], within[known].astype(np.int64))
        return out

    def fit(self, log: pd.DataFrame) -> NextStepModel:
        """Learn from every prefix of ``log`` (columns customer_id, timestamp, activity; channel
        and other attributes used when present)."""
        from threadpoolctl import threadpool_limits

        self._check_params()
        with threadpool_limits(limits=self.n_jobs, user_api="openmp"):
            return self._fit(log)

    def _fit(self, log: pd.DataFrame) -> NextStepModel:
        t0 = time.perf_counter()
        ev = to_events(log, purpose="NextStepModel.fit")
        if self.end_of_case and (ev.activity == END).any():
            raise ConfigError(
                f"the log has an activity named {END!r}, the marker NextStepModel uses for the end "
                f"of a case; rename that activity or fit with end_of_case=False."
            )
        if self.outcome is not None and not (ev.activity == self.outcome).any():
            present = sorted(set(ev.activity))
            raise UnknownActivityError(
                f"outcome {self.outcome!r} never occurs in the log."
                f"{did_you_mean(self.outcome, present)} "
                f"Activities: {present[:20]}{' ...' if len(present) > 20 else ''}."
            )
        self.spec_ = PrefixSpec.learn(ev, n_lags=self.n_lags, attributes=self.attributes)
        self.channels_ = list(self.spec_.categorical.get(CHANNEL, []))
        self.log_end_ = float(ev.t.max())
        targets = self._targets(ev)
        if len(targets["activity"][0]) == 0:
            raise ConfigError(
                "NextStepModel.fit: no customer has two events, so there is no next step to learn "
                "from; give a longer log (or fit with end_of_case=True for one-event cases)."
            )
        rng = np.random.default_rng(self.random_state)
        rows_all = np.unique(np.concatenate([r for r, _ in targets.values()]))
        if len(rows_all) > self.max_samples:
            keep = np.zeros(ev.n_events, dtype=bool)
            keep[rng.choice(rows_all, self.max_samples, replace=False)] = True
            targets = {k: (r[keep[r]], y[keep[r]]) for k, (r, y) in targets.items()}
            rows_all = np.flatnonzero(keep)
        X_all = prefix_features(ev, self.spec_, rows_all)
        where = np.full(ev.n_events, -1, dtype=np.int64)
        where[rows_all] = np.arange(len(rows_all))
        _, val_cases = (
            _case_split(ev.n_cases, float(self.validation_size), int(self.random_state))
            if self.validation_size > 0 and ev.n_cases >= 20
            else (np.arange(ev.n_cases), np.array([], dtype=np.int64))
        )
        is_val = np.zeros(ev.n_cases, dtype=bool)
        is_val[val_cases] = True

        self.heads_: dict[str, Any] = {}
        held_out: tuple[np.ndarray, np.ndarray] | None = None
        self.temperatures_: dict[str, float] = {}
        self.n_iter_: dict[str, int] = {}
        metrics: dict[str, Any] = {}
        n_classes = len(self.spec_.activities) + (1 if self.end_of_case else 0)
        for head, (rows, y) in targets.items():
            if len(rows) == 0:
                continue
            X = X_all[where[rows]]
            # a feature missing in every row of a head (e.g. delta2 when no prefix has three
            # events) cannot be binned; as a constant it is never split on: scoring unchanged
            X[:, np.isnan(X[~is_val[ev.case[rows]]]).all(axis=0)] = 0.0
            v = is_val[ev.case[rows]]
            kind = "regressor" if head == "time" else "classifier"
            labels = np.unique(y[~v])
            if kind == "classifier" and len(labels) < 2:
                if head == "activity":
                    raise ConfigError(
                        "NextStepModel.fit: every next activity in the log is the same; there is "
                        "nothing to predict."
                    )
                self.heads_[head] = int(labels[0]) if len(labels) else 0  # constant head
                self.temperatures_[head] = 1.0
                self.n_iter_[head] = 0
                continue
            val_ok = v & np.isin(y, labels) if kind == "classifier" else v
            early = bool(val_ok.sum() >= 20)
            est = self._hgb(kind, self.max_iter, early)
            if early:
                est.fit(X[~v], y[~v], X_val=X[val_ok], y_val=y[val_ok])
            else:
                est.fit(X[~v], y[~v])
            n_iter = int(est.n_iter_)
            temp = 1.0
            if kind == "classifier" and early:
                p = est.predict_proba(X[val_ok])
                col = np.searchsorted(est.classes_, y[val_ok])
                temp = fit_temperature(p, col)
                pred = est.classes_[p.argmax(axis=1)]
                metrics[f"{head}_validation_accuracy"] = float(np.mean(pred == y[val_ok]))
                if head == "activity":  # the trees' calibrated probabilities, for the blend
                    full = np.zeros((int(val_ok.sum()), n_classes))
                    full[:, est.classes_] = apply_temperature(p, temp)
                    held_out = (val_ok, full)
            if self.refit and v.any():
                est = self._hgb(kind, n_iter, False).fit(X, y)
            self.heads_[head] = compile_forest(est)
            self.temperatures_[head] = float(temp)
            self.n_iter_[head] = n_iter
        self._fit_counts(
            ev,
            targets["activity"],
            X_all[where[targets["activity"][0]]],
            is_val,
            held_out,
            n_classes,
            metrics,
        )
        self.classes_ = list(self.spec_.activities) + ([END] if self.end_of_case else [])
        self.n_classes_ = n_classes
        self.feature_names_ = self.spec_.feature_names
        self.n_features_in_ = len(self.feature_names_)
        self.card_ = {
            "kind": "journeymine.NextStepModel",
            "params": self.get_params(),
            "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "training": {
                "events": int(ev.n_events),
                "customers": int(ev.n_cases),
                "prefixes": len(rows_all),
                "validation_customers": len(val_cases),
                "fit_seconds": round(time.perf_counter() - t0, 3),
            },
            "metrics": metrics,
        }
        logger.info("NextStepModel fitted in %.1f s", time.perf_counter() - t0)
        return self

    def _fit_counts(
        self,
        ev: Events,
        target: tuple[np.ndarray, np.ndarray],
        X: np.ndarray,
        is_val: np.ndarray,
        held_out: tuple[np.ndarray, np.ndarray] | None,
        n_classes: int,
        metrics: dict[str, Any],
    ) -> None:
        """The n-gram count model of the next activity and its weight against the trees."""
        rows, y = target
        lags = X[:, : self.spec_.n_lags]
        n_codes = len(self.spec_.activities) + 1  # + "other" (unseen at scoring)
        order = self.spec_.n_lags
        self.ngram_: NGram | None = None
        # a fixed weight, or "auto" with too few cases to hold any out (or validation_size=0):
        # nothing says which is better, equal weights
        weight = 0.5 if isinstance(self.tree_weight, str) else float(self.tree_weight)
        weights = [weight] * len(WEIGHT_BUCKETS)
        if isinstance(self.tree_weight, str) and held_out is not None:  # "auto": learnt
            val_ok, p_trees = held_out
            train = ~is_val[ev.case[rows]]
            counts = NGram.fit(
                lags[train], y[train], n_classes=n_classes, n_codes=n_codes, order=order
            )
            p_counts = counts.proba(lags[val_ok])
            buckets = context_bucket(lags[val_ok])
            weight, weights = fit_weights(p_trees, p_counts, y[val_ok], buckets)
            metrics["activity_validation_prefixes_by_bucket"] = np.bincount(
                buckets, minlength=len(WEIGHT_BUCKETS)
            ).tolist()
            metrics["activity_validation_accuracy_counts"] = float(
                np.mean(p_counts.argmax(axis=1) == y[val_ok])
            )
            metrics["activity_validation_accuracy_blend"] = float(
                np.mean(
                    blend_by_bucket(p_trees, p_counts, weights, buckets).argmax(axis=1) == y[val_ok]
                )
            )
        self.tree_weight_ = weight
        self.tree_weights_ = [float(w) for w in weights]
        if min(weights) < 1.0:  # counted on every training prefix, held-out cases included
            self.ngram_ = NGram.fit(lags, y, n_classes=n_classes, n_codes=n_codes, order=order)

    # ---- scoring -----------------------------------------------------------------------------
    def _columns(self) -> set[str]:
        return {*self.spec_.categorical, *self.spec_.numeric}

    def _ensemble(self) -> Ensemble:
        """Every head's forest, walked together (built once)."""
        ens = self.__dict__.get("_ensemble_")
        if ens is None or ens.heads is not self.heads_:
            forests = {k: f for k, f in self.heads_.items() if isinstance(f, Forest)}
            ens = Ensemble(forests)
            ens.heads = self.heads_
            self.__dict__["_ensemble_"] = ens
        return ens

    def _outputs(self, X: np.ndarray, heads: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Calibrated probabilities (classifiers; columns: class codes) or expected values."""
        raw = self._ensemble().raw(X, only=heads)
        out: dict[str, np.ndarray] = {}
        sizes = {"activity": self.n_classes_, "channel": len(self.channels_), "outcome": 2}
        for head in heads:
            h = self.heads_.get(head)
            if h is None:
                continue
            if head == "time":
                out[head] = np.zeros(len(X)) if isinstance(h, int) else finish(h.kind, raw[head])
                continue
            p = np.zeros((len(X), sizes[head]))
            if isinstance(h, int):
                p[:, h] = 1.0
            else:
                p[:, h.classes] = finish(h.kind, raw[head], self.temperatures_[head])
            ngram = self.__dict__.get("ngram_")
            if head == "activity" and ngram is not None:
                lags = X[:, : self.spec_.n_lags]
                p = blend_by_bucket(p, ngram.proba(lags), self.tree_weights_, context_bucket(lags))
            out[head] = p
        return out

    def _proba(self, X: np.ndarray) -> np.ndarray:
        return self._outputs(X, ("activity",))["activity"]

    def _label_array(self, attr: str) -> Any:
        """The labels of ``attr`` (classes_ or channels_) as the array a DataFrame column of
        them gets (dtype inferred as pandas does), built once per label list."""
        labels = getattr(self, attr)
        cache = self.__dict__.setdefault("_label_arrays_", {})
        hit = cache.get(attr)
        if hit is None or hit[0] is not labels or hit[1] != labels:
            arr = pd.Series(np.asarray(labels, dtype=object)).array
            hit = cache[attr] = (labels, list(labels), arr)
        return hit[2]

    def _best(self, X: np.ndarray) -> dict[str, Any]:
        """The columns of :meth:`predict` (label columns as codes ``*_code``), one entry per
        row of ``X``: the one computation behind :meth:`predict` and :meth:`predict_customer`."""
        res = self._outputs(X, ("activity", "channel", "time", "outcome"))
        p = res["activity"]
        best = p.argmax(axis=1)
        cols: dict[str, Any] = {"activity_code": best, "probability": p[np.arange(len(p)), best]}
        if self.channels_ and "channel" in res:
            pc = res["channel"]
            bc = pc.argmax(axis=1)
            cols["channel_code"] = bc
            cols["channel_probability"] = pc[np.arange(len(pc)), bc]
        if "time" in res:
            cols["seconds_to_next"] = res["time"]
        if self.outcome is not None and "outcome" in res:
            cols["p_outcome"] = res["outcome"][:, 1]
        return cols

    def _frame(self, ev: Events, X: np.ndarray, index: Any = None) -> pd.DataFrame:
        best = self._best(X)
        cols: dict[str, Any] = {}
        for name, v in best.items():
            if name == "activity_code":
                cols["activity"] = _take(self._label_array("classes_"), v)
            elif name == "channel_code":
                cols["channel"] = _take(self._label_array("channels_"), v)
            else:
                cols[name] = v
        return pd.DataFrame(cols, index=index)

    def predict(self, log: pd.DataFrame) -> pd.DataFrame:
        """The next step of every customer of ``log``, after their last event.

        Returns
        -------
        DataFrame
            Indexed by ``customer_id`` (order of first appearance), columns ``activity`` (the
            most likely next activity, or :data:`END`), ``probability``, ``channel`` and
            ``channel_probability`` (when the training log had channels), ``seconds_to_next``
            (expected seconds to the next event) and ``p_outcome`` (when fitted with
            ``outcome=``: probability of the outcome within ``horizon``).
        """
        self._fitted()
        ev = to_events(log, purpose="NextStepModel.predict", keep=self._columns())
        index = pd.Index(ev.case_ids, name=CUSTOMER_ID)
        return self._frame(ev, prefix_features(ev, self.spec_), index)

    def predict_customer(self, events: Any, *, customer_id: Any = None) -> NextStep:
        """The next step of ONE customer, from their events: the live-scoring path.

        The same numbers as ``predict(log)`` gives for that customer's events as a DataFrame
        (tested equal, not approximately), without building a DataFrame in or out: a few times
        faster for one customer (the figures are in the README).

        Parameters
        ----------
        events : list of dict, dict of sequences or DataFrame
            The customer's events: each with ``timestamp`` (ISO 8601 string such as
            ``"2025-03-01T10:15:00Z"``, ``datetime``, ``pandas.Timestamp`` or
            ``numpy.datetime64``; naive times are UTC) and ``activity``, plus any attribute the
            model was trained with (``channel``, ``product``, ``value``...; a missing key is a
            missing value, unknown keys are ignored); any order. A dict of columns maps each
            key to a list or array with one entry per event.
        customer_id : optional
            The customer, when the events do not carry ``customer_id`` (they must agree).

        Returns
        -------
        NextStep
            ``activity``, ``probability``, ``channel`` and ``channel_probability`` (None when
            the training log had no channel), ``seconds_to_next``, ``p_outcome`` (None without
            ``outcome=``); :meth:`NextStep.to_dict` for JSON.

        Raises
        ------
        EmptyLogError
            No events.
        EventLogError
            A missing timestamp or activity, an unreadable timestamp, a non-numeric value of a
            numeric attribute, events of several customers (every problem listed).

        Examples
        --------
        >>> import journeymine as jm
        >>> log = jm.datasets.make_journeys(n_customers=60, days=30, random_state=0).events
        >>> model = jm.NextStepModel(max_iter=10).fit(log)
        >>> events = [
        ...     {"timestamp": "2025-02-01T19:00:00Z", "activity": "visit", "channel": "app"},
        ...     {"timestamp": "2025-02-01T19:02:00Z", "activity": "view_product", "channel": "app"},
        ... ]
        >>> step = model.predict_customer(events, customer_id="c-1")
        >>> step.customer_id, step.activity in model.classes_, step.channel in model.channels_
        ('c-1', True, True)
        >>> import pandas as pd
        >>> row = model.predict(pd.DataFrame(events).assign(customer_id="c-1")).iloc[0]
        >>> bool(row["probability"] == step.probability)
        True
        """
        self._fitted()
        purpose = "NextStepModel.predict_customer"
        if isinstance(events, pd.DataFrame):
            frame = events
            if CUSTOMER_ID not in frame.columns:
                frame = frame.assign(**{CUSTOMER_ID: "" if customer_id is None else customer_id})
            ev = to_events(frame, purpose=purpose, keep=self._columns())
            if ev.n_cases != 1:
                raise EventLogError(
                    f"{purpose} scores one customer; the DataFrame has {ev.n_cases} "
                    f"({list(ev.case_ids[:5])}); use predict(log) for many."
                )
            named = None if CUSTOMER_ID not in events.columns else ev.case_ids[0]
            if customer_id is not None and named is not None and str(customer_id) != named:
                raise EventLogError(
                    f"{purpose}: customer_id={customer_id!r} but the events are of {named!r}."
                )
            cid = named if named is not None else customer_id
        else:
            ev = events_from_records(
                events,
                numeric=self.spec_.numeric,
                categorical=list(self.spec_.categorical),
                customer_id=customer_id,
                purpose=purpose,
            )
            cid = ev.case_ids[0]
        best = self._best(prefix_features(ev, self.spec_))
        channel = best.get("channel_code")
        return NextStep(
            customer_id=None if cid is None else str(cid),
            activity=self.classes_[int(best["activity_code"][0])],
            probability=float(best["probability"][0]),
            channel=None if channel is None else self.channels_[int(channel[0])],
            channel_probability=(
                float(best["channel_probability"][0]) if channel is not None else None
            ),
            seconds_to_next=(
                float(best["seconds_to_next"][0]) if "seconds_to_next" in best else None
            ),
            p_outcome=float(best["p_outcome"][0]) if "p_outcome" in best else None,
            n_events=ev.n_events,
        )

    def predict_proba(self, log: pd.DataFrame) -> pd.DataFrame:
        """Next-activity distribution of every customer (rows: ``customer_id``; columns:
        :attr:`classes_`; rows sum to 1)."""
        self._fitted()
        ev = to_events(log, purpose="NextStepModel.predict_proba", keep=self._columns())
        p = self._proba(prefix_features(ev, self.spec_))
        return pd.DataFrame(
            p, index=pd.Index(ev.case_ids, name=CUSTOMER_ID), columns=pd.Index(self.classes_)
        )

    def predict_prefixes(self, log: pd.DataFrame) -> pd.DataFrame:
        """The prediction after every event of ``log`` (what the model said at each moment):
        columns ``customer_id``, ``position`` (1-based prefix length), ``timestamp`` of the
        event, then the columns of :meth:`predict`."""
        self._fitted()
        ev = to_events(log, purpose="NextStepModel.predict_prefixes")
        rows = np.arange(ev.n_events)
        out = self._frame(ev, prefix_features(ev, self.spec_, rows))
        out.insert(0, "timestamp", pd.to_datetime(ev.t * 1e6, unit="us", utc=True))
        out.insert(0, "position", rows - ev.starts[ev.case] + 1)
        out.insert(0, CUSTOMER_ID, ev.case_ids[ev.case])
        return out

    def proba_at(self, ev: Events, rows: np.ndarray) -> np.ndarray:
        """Next-activity probabilities (columns :attr:`classes_`) after the events ``rows`` of an
        encoded log (used by :func:`journeymine.evaluate_next_step`)."""
        self._fitted()
        return self._proba(prefix_features(ev, self.spec_, rows))

    def score(self, log: pd.DataFrame) -> float:
        """Accuracy of the next activity over every prefix of ``log`` that has a next event
        (and, with ``end_of_case=True``, the cases' ends)."""
        self._fitted()
        ev = to_events(log, purpose="NextStepModel.score")
        n = ev.n_events
        has_next = np.ones(n, dtype=bool)
        has_next[ev.last] = False
        rows = np.arange(n) if self.end_of_case else np.flatnonzero(has_next)
        if len(rows) == 0:
            raise ConfigError(
                "NextStepModel.score: no customer of the log has two events, so there is no next "
                "step to score."
            )
        nxt = np.minimum(rows + 1, n - 1)
        truth = np.where(has_next[rows], ev.activity[nxt], END)
        pred = np.asarray(self.classes_, dtype=object)[self.proba_at(ev, rows).argmax(axis=1)]
        return float(np.mean(pred == truth))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``path`` (skops) and its JSON card ``path.with_suffix('.json')``."""
        from journeymine.nextstep._persist import save_next_step_model

        return save_next_step_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NextStepModel:
        """Load a model written by :meth:`save` (checksums and type allowlist checked; see
        :func:`journeymine.nextstep.load_next_step_model`)."""
        from journeymine.nextstep._persist import load_next_step_model

        return load_next_step_model(path)
