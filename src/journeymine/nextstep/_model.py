"""NextStepModel: what each customer does next, on which channel, when, and the outcome odds.

Trained on journey *prefixes*: every event of the training log with a next event (and, with
``end_of_case=True``, every case's last event, labelled :data:`END`) is one row whose features
(:mod:`journeymine.nextstep._prefix`) describe the customer's history up to that event and whose
targets are the next event's activity and channel, the seconds until it and, when an
``outcome`` is asked for, whether that activity happens within ``horizon``.

Each target has its own boosted model (:mod:`journeymine.nextstep._train`): gradient boosting
on prefix features beats count and LSTM models on the public next-activity benchmarks (Tax et
al. 2017; Teinemaa et al. 2019). The number of boosting rounds is chosen by early stopping on
held-out *cases* (``validation_size``) and the classifiers' probabilities are then calibrated by
temperature scaling on those cases; the next activity is blended with a count model
(:mod:`journeymine.nextstep._blend`). ``refit=True`` refits on every case with the chosen number
of rounds: it doubles the fit time for no consistent gain (Tax protocol: Helpdesk 0.7336 with
refit against 0.7411 without, BPI'12 W 0.8051 against 0.8017), hence off by default.

Scoring never calls scikit-learn (:mod:`journeymine.nextstep._scoring`): each fitted ensemble
is compiled into flat numpy arrays (:mod:`journeymine.nextstep._forest`), which is also all a
saved model holds.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from journeymine.exceptions import ConfigError, NotFittedError, UnknownActivityError, did_you_mean
from journeymine.nextstep import _scoring
from journeymine.nextstep._blend import fit_count_blend
from journeymine.nextstep._events import Events, to_events
from journeymine.nextstep._params import check_params
from journeymine.nextstep._persist import read_next_step_model, save_next_step_model
from journeymine.nextstep._prefix import PrefixSpec, prefix_features
from journeymine.nextstep._step import END, NextStep
from journeymine.nextstep._train import case_split, cross_fitted_evidence, fit_heads, targets
from journeymine.schema import CHANNEL, CUSTOMER_ID

__all__ = ["END", "NextStep", "NextStepModel", "load_next_step_model"]

logger = logging.getLogger(__name__)


@dataclass(kw_only=True, eq=False, repr=False)  # BaseEstimator's repr, identity eq/hash
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
        an interpolated count model over the last 1 to k <= 5 activities, k chosen by
        case-level cross-fitting on the training log (k = 1 is the first-order Markov model).
        ``"auto"`` learns ``w`` on held-out prefixes (log loss): those of the held-out cases
        and, below 30,000 of them, those of two more groups of training cases of the same
        size, each predicted by activity trees refitted without it (case-level cross-fitting:
        three times the evidence for two more activity fits), one ``w`` per context length
        (1, 2, 3-4, 5+ known activities), each shrunk to the global one, then uses the counts
        alone for a length where the blend was less accurate than them on those prefixes,
        and everywhere when fewer than 100 prefixes were held out (a tiny log: said in the
        log): so the model is not less accurate than the count model it contains but for
        noise (:mod:`journeymine.nextstep._blend`); 0.5 with ``validation_size=0``. A number
        fixes ``w`` for every length (1: the trees alone). Trees fitted on few cases, or on a
        log whose next step is a function of the activities alone, reconstruct exact long
        contexts worse than counts, while on the first events an attribute may decide what
        follows.
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
        count model is not used; 0: the counts alone).
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

    n_lags: int = 5
    end_of_case: bool = False
    outcome: str | None = None
    horizon: Any = "7D"
    attributes: Any = "auto"
    max_iter: int = 300
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    l2_regularization: float = 1.0
    min_samples_leaf: int = 20
    validation_size: float = 0.15
    refit: bool = False
    tree_weight: float | str = "auto"
    max_samples: int = 250_000
    n_jobs: int | None = 1
    random_state: int = 0

    # ---- parameters --------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_params(self)

    def _fitted(self) -> None:
        if not hasattr(self, "heads_"):
            raise NotFittedError(
                "this NextStepModel is not fitted yet; call fit(log) first, or load a saved model "
                "with journeymine.nextstep.load_next_step_model(path)."
            )

    # ---- training ----------------------------------------------------------------------------
    def fit(self, log: pd.DataFrame) -> NextStepModel:
        """Learn from every prefix of ``log`` (columns customer_id, timestamp, activity; channel
        and other attributes used when present)."""
        from threadpoolctl import threadpool_limits

        self._check_params()
        with threadpool_limits(limits=self.n_jobs, user_api="openmp"):
            return self._fit(log)

    def _check_log(self, ev: Events) -> None:
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

    def _fit(self, log: pd.DataFrame) -> NextStepModel:
        t0 = time.perf_counter()
        ev = to_events(log, purpose="NextStepModel.fit")
        self._check_log(ev)
        self.spec_ = PrefixSpec.learn(ev, n_lags=self.n_lags, attributes=self.attributes)
        self.channels_ = list(self.spec_.categorical.get(CHANNEL, []))
        self.log_end_ = float(ev.t.max())
        head_targets = targets(
            ev,
            self.spec_,
            channels=self.channels_,
            end_of_case=self.end_of_case,
            outcome=self.outcome,
            horizon=self.horizon,
            log_end=self.log_end_,
        )
        if len(head_targets["activity"][0]) == 0:
            raise ConfigError(
                "NextStepModel.fit: no customer has two events, so there is no next step to learn "
                "from; give a longer log (or fit with end_of_case=True for one-event cases)."
            )
        rng = np.random.default_rng(self.random_state)
        rows_all = np.unique(np.concatenate([r for r, _ in head_targets.values()]))
        if len(rows_all) > self.max_samples:
            keep = np.zeros(ev.n_events, dtype=bool)
            keep[rng.choice(rows_all, self.max_samples, replace=False)] = True
            head_targets = {k: (r[keep[r]], y[keep[r]]) for k, (r, y) in head_targets.items()}
            rows_all = np.flatnonzero(keep)
        X_all = prefix_features(ev, self.spec_, rows_all)
        where = np.full(ev.n_events, -1, dtype=np.int64)
        where[rows_all] = np.arange(len(rows_all))
        _, val_cases = (
            case_split(ev.n_cases, float(self.validation_size), int(self.random_state))
            if self.validation_size > 0 and ev.n_cases >= 20
            else (np.arange(ev.n_cases), np.array([], dtype=np.int64))
        )
        is_val = np.zeros(ev.n_cases, dtype=bool)
        is_val[val_cases] = True
        n_classes = len(self.spec_.activities) + (1 if self.end_of_case else 0)
        heads = fit_heads(
            ev,
            self.spec_,
            head_targets,
            X_all,
            where,
            is_val,
            params=self.get_params(),
            n_classes=n_classes,
        )
        self.heads_: dict[str, Any] = heads.heads
        self.temperatures_: dict[str, float] = heads.temperatures
        self.n_iter_: dict[str, int] = heads.n_iter
        act_rows, act_y = head_targets["activity"]
        evidence, crossfit_groups = heads.held_out, 0
        if isinstance(self.tree_weight, str):  # "auto": weights chosen on wider evidence
            evidence, crossfit_groups = cross_fitted_evidence(
                ev,
                head_targets["activity"],
                X_all,
                where,
                is_val,
                heads,
                spec=self.spec_,
                params=self.get_params(),
                n_classes=n_classes,
            )
        counts = fit_count_blend(
            X_all[where[act_rows], : self.spec_.n_lags],
            act_y,
            ev.case[act_rows],
            evidence,
            tree_weight=self.tree_weight,
            n_classes=n_classes,
            n_codes=len(self.spec_.activities) + 1,  # + "other" (unseen at scoring)
            order=self.spec_.n_lags,
            validate=self.validation_size > 0,
            random_state=int(self.random_state),
        )
        self.ngram_ = counts.ngram
        self.tree_weight_ = counts.weight
        self.tree_weights_ = counts.weights
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
            "metrics": {
                **heads.metrics,
                **counts.metrics,
                "activity_crossfit_groups": crossfit_groups,
            },
        }
        _scoring.prepare(self)
        logger.info("NextStepModel fitted in %.1f s", time.perf_counter() - t0)
        return self

    # ---- scoring -----------------------------------------------------------------------------
    def _columns(self) -> set[str]:
        return {*self.spec_.categorical, *self.spec_.numeric}

    def _proba(self, X: np.ndarray) -> np.ndarray:
        return _scoring.outputs(self, X, ("activity",))["activity"]

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
        return _scoring.frame(self, prefix_features(ev, self.spec_), index)

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
        ev, cid = _scoring.customer_events(
            self, events, customer_id, "NextStepModel.predict_customer"
        )
        best = _scoring.best(self, prefix_features(ev, self.spec_))
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
        out = _scoring.frame(self, prefix_features(ev, self.spec_, rows))
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
        return save_next_step_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NextStepModel:
        """Load a model written by :meth:`save` (checksums and type allowlist checked; see
        :func:`journeymine.nextstep.load_next_step_model`)."""
        return read_next_step_model(path, cls)


def load_next_step_model(path: str | os.PathLike[str]) -> NextStepModel:
    """A :class:`~journeymine.NextStepModel` back from the two files its ``save`` wrote, every
    check of the card and the file passed before anything is built; ready to score (its
    scoring tables are built here, not on the first prediction).

    Parameters
    ----------
    path : str or Path
        Where ``save`` wrote the skops file (the JSON card lies beside it, same name).

    Returns
    -------
    NextStepModel

    Raises
    ------
    ModelError
        A missing or unreadable file; the skops file is not the card's (SHA-256) or the card
        was edited (checksum); the card is of another kind of model, a newer format or another
        major version; a type outside the allowlist; forests that do not match the card.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import journeymine as jm
    >>> log = jm.datasets.make_journeys(n_customers=60, days=30, random_state=0).events
    >>> model = jm.NextStepModel(max_iter=10).fit(log)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = model.save(Path(folder) / "next.skops")  # and next.json, its card
    ...     again = jm.load_next_step_model(path)
    >>> again.predict(log).equals(model.predict(log))
    True
    """
    return NextStepModel.load(path)
