"""Honest next-activity evaluation (one job: split, score, compare with count baselines).

Two protocols:

- ``"tax"``: Tax, Verenich, La Rosa and Dumas (CAiSE 2017), as in their published evaluation
  code: cases in file order (order of first appearance in the log given), the first 2/3 train,
  the last 1/3 test; every prefix of a test case of length >= 2 that still has a next event is
  scored, the target being the next activity (the end of a case is never a target, and a model
  that predicts the end there is wrong); accuracy pooled over all scored prefixes.
- ``"kfold"``: case-level k-fold cross-validation (shuffled, seeded), the same prefixes scored
  in each held-out fold; accuracy pooled over the folds (and per fold).

On the same split, the same prefixes, three reference numbers:

- ``markov``: first-order Markov model (the most frequent successor of the last activity in
  training, the end of case included: it may predict the end, which counts as wrong);
- ``markov_no_end``: the same, never predicting the end;
- ``backoff``: a count model over the last ``k <= 5`` activities that backs off to shorter
  suffixes when the longer one was not seen in training (never predicting the end);
- ``ceiling``: the activity-only ceiling: the accuracy of the best function of the complete
  activity prefix, fitted on the test prefixes themselves (for every distinct activity prefix,
  its most frequent next activity among the test prefixes). No activity-only model can beat it
  on that split; beating it needs time or attributes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.nextstep._events import Events, to_events

__all__ = ["NextStepEvaluation", "evaluate_next_step"]

_END = object()  # end-of-case marker of the count baselines (never equal to an activity)
_MAX_K = 5


@dataclass
class NextStepEvaluation:
    """What :func:`evaluate_next_step` measured.

    Attributes
    ----------
    protocol : str
    accuracy : float
        The model's pooled accuracy.
    baselines : dict
        Pooled accuracy of ``markov``, ``markov_no_end``, ``backoff`` and the activity-only
        ``ceiling`` on the same prefixes.
    splits : DataFrame
        One row per split (one for ``"tax"``, one per fold for ``"kfold"``): prefixes scored,
        train/test cases, the model's and the baselines' accuracy.

    Examples
    --------
    Returned by :func:`evaluate_next_step`; ``summary()`` puts the contenders side by side:

    >>> import pandas as pd
    >>> from journeymine.nextstep import NextStepEvaluation
    >>> splits = pd.DataFrame({"prefixes": [10]})
    >>> ev = NextStepEvaluation("tax", 0.8, {"markov": 0.7}, splits)
    >>> ev.summary().round(2)
               accuracy  model_minus
    contender
    model           0.8          0.0
    markov          0.7          0.1
    """

    protocol: str
    accuracy: float
    baselines: dict[str, float]
    splits: pd.DataFrame
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def n_prefixes(self) -> int:
        return int(self.splits["prefixes"].sum())

    def summary(self) -> pd.DataFrame:
        """One row per contender: pooled accuracy and its difference to the model."""
        rows = {"model": self.accuracy, **self.baselines}
        out = pd.DataFrame({"accuracy": pd.Series(rows)})
        out["model_minus"] = self.accuracy - out["accuracy"]
        out.index.name = "contender"
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "accuracy": self.accuracy,
            "baselines": dict(self.baselines),
            "prefixes": self.n_prefixes,
            "splits": self.splits.to_dict(orient="records"),
        }

    def __repr__(self) -> str:
        b = ", ".join(f"{k} {v:.4f}" for k, v in self.baselines.items())
        return (
            f"NextStepEvaluation({self.protocol}: accuracy {self.accuracy:.4f} on "
            f"{self.n_prefixes} prefixes; {b})"
        )


def _sequences(ev: Events) -> list[list[str]]:
    return [list(ev.activity[ev.starts[c] : ev.starts[c + 1]]) for c in range(ev.n_cases)]


class _Counts:
    """Count baselines fitted on training sequences."""

    def __init__(self, seqs: list[list[str]]) -> None:
        self.first: dict[Any, Counter] = defaultdict(Counter)
        self.suffix: dict[tuple, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for s in seqs:
            full = [*s, _END]
            for i in range(1, len(full)):
                self.first[full[i - 1]][full[i]] += 1
                if full[i] is not _END:
                    overall[full[i]] += 1
                    for k in range(1, min(_MAX_K, i) + 1):
                        self.suffix[tuple(full[i - k : i])][full[i]] += 1
        self.fallback = overall.most_common(1)[0][0] if overall else None
        self._memo: dict[Any, Any] = {}

    @staticmethod
    def _best(c: Counter, *, end: bool) -> Any:
        # most frequent; ties by first seen (Counter keeps insertion order)
        items = [(a, n) for a, n in c.items() if end or a is not _END]
        return max(items, key=lambda kv: kv[1])[0] if items else None

    def markov(self, last: str, *, end: bool) -> Any:
        key = (last, end)
        if key not in self._memo:
            best = self._best(self.first[last], end=end) if last in self.first else None
            self._memo[key] = self.fallback if best is None else best
        return self._memo[key]

    def backoff(self, prefix: list[str]) -> Any:
        for k in range(min(_MAX_K, len(prefix)), 0, -1):
            c = self.suffix.get(tuple(prefix[-k:]))
            if c:
                return self._best(c, end=False)
        return self.fallback


def _ceiling(test_seqs: list[list[str]], min_len: int) -> tuple[int, int]:
    groups: dict[tuple, Counter] = defaultdict(Counter)
    for s in test_seqs:
        for k in range(min_len, len(s)):
            groups[tuple(s[:k])][s[k]] += 1
    hits = sum(max(c.values()) for c in groups.values())
    return hits, sum(sum(c.values()) for c in groups.values())


def _score_split(
    model_factory: Callable[[], Any],
    log: pd.DataFrame,
    ev: Events,
    seqs: list[list[str]],
    train: np.ndarray,
    test: np.ndarray,
    min_len: int,
) -> dict[str, Any]:
    from journeymine.nextstep._model import NextStepModel

    train_ev = ev.take_cases(train)
    test_ev = ev.take_cases(test)
    model = model_factory()
    if not isinstance(model, NextStepModel):
        raise ConfigError(
            f"model_factory must return a NextStepModel (e.g. lambda: jm.NextStepModel()), got "
            f"{type(model).__name__}."
        )
    model.fit(_frame(train_ev))
    pos = np.arange(test_ev.n_events) - test_ev.starts[test_ev.case]
    has_next = np.ones(test_ev.n_events, dtype=bool)
    has_next[test_ev.last] = False
    rows = np.flatnonzero(has_next & (pos + 1 >= min_len))
    truth = test_ev.activity[rows + 1]
    if len(rows) == 0:
        raise ConfigError(
            f"no test prefix of length >= {min_len} has a next event; the log's cases are too "
            f"short for this protocol (lower min_prefix_length)."
        )
    classes = np.asarray(model.classes_, dtype=object)
    pred = classes[model.proba_at(test_ev, rows).argmax(axis=1)]
    counts = _Counts([seqs[c] for c in train])
    markov_end = np.empty(len(rows), dtype=object)
    markov_no = np.empty(len(rows), dtype=object)
    backoff = np.empty(len(rows), dtype=object)
    for i, r in enumerate(rows):
        c = test[test_ev.case[r]]
        p = int(pos[r])
        prefix = seqs[c][: p + 1]
        markov_end[i] = counts.markov(prefix[-1], end=True)
        markov_no[i] = counts.markov(prefix[-1], end=False)
        backoff[i] = counts.backoff(prefix)
    hits, total = _ceiling([seqs[c] for c in test], min_len)
    assert total == len(rows)

    def acc(p: np.ndarray) -> int:
        return int(sum(a is not _END and a == b for a, b in zip(p, truth, strict=True)))

    return {
        "train_cases": len(train),
        "test_cases": len(test),
        "prefixes": len(rows),
        "model_hits": int(np.sum(pred == truth)),
        "markov_hits": acc(markov_end),
        "markov_no_end_hits": acc(markov_no),
        "backoff_hits": acc(backoff),
        "ceiling_hits": hits,
    }


def _frame(ev: Events) -> pd.DataFrame:
    """Events back as a log frame (cases in their order, events sorted)."""
    out = pd.DataFrame(
        {
            "customer_id": ev.case_ids[ev.case],
            "timestamp": pd.to_datetime(np.round(ev.t * 1e6).astype(np.int64), unit="us", utc=True),
            "activity": ev.activity,
        }
    )
    for k, v in ev.columns.items():
        out[k] = v.to_numpy()
    return out


def evaluate_next_step(
    model_factory: Callable[[], Any],
    log: pd.DataFrame,
    *,
    protocol: str = "tax",
    n_splits: int = 5,
    train_share: float | None = None,
    min_prefix_length: int = 2,
    random_state: int = 0,
) -> NextStepEvaluation:
    """Next-activity accuracy of a model under a published protocol, next to count baselines.

    Parameters
    ----------
    model_factory : callable
        Returns a fresh, unfitted :class:`~journeymine.NextStepModel` (called once per split),
        e.g. ``lambda: jm.NextStepModel(random_state=0)``.
    log : DataFrame
        Columns customer_id (the case), timestamp, activity (+ attributes). For ``"tax"`` the
        order of the cases is their order of first appearance in ``log``: pass the file as read
        (``pd.read_csv``), not a log re-sorted by customer id.
    protocol : {"tax", "kfold"}
    n_splits : int, default 5
        Folds of ``"kfold"``.
    train_share : float, optional
        Share of cases (the first ones) that train under ``"tax"``; default: 2/3 rounded as in
        Tax et al.'s code (``2 * round(n_cases / 3)`` cases).
    min_prefix_length : int, default 2
        Shortest scored prefix (Tax et al.: 2).
    random_state : int, default 0
        Fold shuffling of ``"kfold"``.

    Returns
    -------
    NextStepEvaluation

    Raises
    ------
    ConfigError
        An unknown protocol, a model factory that is not callable or returns something else
        than a NextStepModel, bad ``n_splits``/``train_share``/``min_prefix_length``, too few
        cases for the protocol.

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> rows = [
    ...     (f"case{c}", pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(hours=10 * c + k), a)
    ...     for c in range(40)
    ...     for k, a in enumerate(["register", "check", "approve" if c % 3 else "reject", "close"])
    ... ]
    >>> log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity"])
    >>> result = jm.evaluate_next_step(lambda: jm.NextStepModel(max_iter=20), log)
    >>> result.protocol, result.n_prefixes  # 2 prefixes of length >= 2 in each of 14 test cases
    ('tax', 28)
    >>> sorted(result.baselines)
    ['backoff', 'ceiling', 'markov', 'markov_no_end']
    >>> bool(result.accuracy >= result.baselines["markov_no_end"])
    True
    """
    if protocol not in ("tax", "kfold"):
        raise ConfigError(f"protocol must be 'tax' or 'kfold', got {protocol!r}.")
    if not callable(model_factory):
        raise ConfigError(
            "model_factory must be a callable returning a fresh model, e.g. "
            f"lambda: jm.NextStepModel(); got {type(model_factory).__name__}."
        )
    if (
        isinstance(min_prefix_length, bool)
        or not isinstance(min_prefix_length, int)
        or (min_prefix_length < 1)
    ):
        raise ConfigError(f"min_prefix_length must be an integer >= 1, got {min_prefix_length!r}.")
    ev = to_events(log, purpose="evaluate_next_step")
    seqs = _sequences(ev)
    n = ev.n_cases
    if protocol == "tax":
        if train_share is None:
            cut = 2 * round(n / 3)
        elif isinstance(train_share, float | int) and 0 < train_share < 1:
            cut = round(n * train_share)
        else:
            raise ConfigError(f"train_share must be in (0, 1), got {train_share!r}.")
        if cut < 2 or n - cut < 1:
            raise ConfigError(f"the log has {n} cases; the tax protocol needs at least 3.")
        splits = [(np.arange(cut), np.arange(cut, n))]
    else:
        if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 2:
            raise ConfigError(f"n_splits must be an integer >= 2, got {n_splits!r}.")
        if n < n_splits:
            raise ConfigError(f"the log has {n} cases, fewer than n_splits={n_splits}.")
        perm = np.random.default_rng(random_state).permutation(n)
        folds = np.array_split(perm, n_splits)
        splits = [
            (np.sort(np.concatenate([f for j, f in enumerate(folds) if j != i])), np.sort(folds[i]))
            for i in range(n_splits)
        ]
    rows = [
        _score_split(model_factory, log, ev, seqs, tr, te, min_prefix_length) for tr, te in splits
    ]
    table = pd.DataFrame(rows)
    total = table["prefixes"].sum()
    names = {
        "markov": "markov_hits",
        "markov_no_end": "markov_no_end_hits",
        "backoff": "backoff_hits",
        "ceiling": "ceiling_hits",
    }
    for name, col in {"model": "model_hits", **names}.items():
        table[name] = table[col] / table["prefixes"]
    return NextStepEvaluation(
        protocol=protocol,
        accuracy=float(table["model_hits"].sum() / total),
        baselines={k: float(table[c].sum() / total) for k, c in names.items()},
        splits=table[["train_cases", "test_cases", "prefixes", "model", *names]],
    )
