"""Expected response per persona x journey, learned from logged touches and responses.

A *touch* is an event whose activity is one of the policy's touch activities and whose
``journey_id`` names a journey; it *got a response* when the same customer has a non-touch event
(or one of ``policy.response_activities``) with the same ``journey_id`` within the response
window after it. Rates are shrunk towards the journey's overall rate by ``prior_strength``
pseudo-touches, so a persona with few touches of a journey does not get an extreme estimate.

Cold start: a journey with a ``prior_rate`` in the policy (its own or the policy's) has its
overall rate shrunk towards that prior by the same ``prior_strength`` pseudo-touches; with no
logged touch at all, its rate *is* the prior. A log without any touch of the policy's journeys
is refused unless every journey has a prior. :attr:`ResponseModel.sources_` says, per journey,
where its rate comes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from journeymine.actions._index import EventIndex
from journeymine.actions.policy import Policy
from journeymine.compat import positional_deprecated
from journeymine.exceptions import ConfigError, NotFittedError
from journeymine.io.atomic import write_text

__all__ = ["ResponseModel", "responded", "touch_rows"]

_FORMAT = "journeymine.response_rates"
_VERSION = 1


def touch_rows(index: EventIndex, policy: Policy) -> np.ndarray:
    """Mask of the logged touches of the policy's journeys (touch activity + journey_id)."""
    names = [j.name for j in policy.journeys]
    touch = index.is_activity(policy.touch_activities)
    named = np.zeros(len(touch), dtype=bool)
    for name in names:
        named |= index.is_journey(name)
    return touch & named


def responded(index: EventIndex, policy: Policy, rows: np.ndarray) -> np.ndarray:
    """For each touch row (sorted): a non-touch event of the same customer and journey at most
    ``policy.response_window_s`` later?"""
    if policy.response_activities is None:
        response = ~index.is_activity(policy.touch_activities) & index.has_journey()
    else:
        response = index.is_activity(policy.response_activities) & index.has_journey()
    got = np.zeros(len(rows), dtype=bool)
    for j in policy.journeys:
        sel = rows[index.is_journey(j.name)[rows]]
        if len(sel) == 0:
            continue
        mask = response & index.is_journey(j.name)
        limit = index.t[sel] + policy.response_window_s + 1  # events before this count
        when, _ = index.last_masked(("response", j.name), mask, index.code[sel], limit)
        got[np.searchsorted(rows, sel)] = when >= index.t[sel]
    return got


@positional_deprecated(("prior_strength",))
@dataclass(kw_only=True, eq=False, repr=False)  # BaseEstimator's repr, identity eq/hash
class ResponseModel(BaseEstimator):
    """Response rates per persona x journey (shrunk proportions).

    Parameters
    ----------
    prior_strength : float, default 20
        Pseudo-touches at the journey's overall rate added to every persona's counts.

    Attributes
    ----------
    table_ : DataFrame
        One row per (persona, journey): ``touches``, ``responses``, ``rate`` (shrunk).
        Persona ``-1`` holds the overall rate of each journey, used for customers without a
        persona.
    sources_ : dict
        Journey -> ``"log"`` (learned from its touches), ``"log+prior"`` (touches shrunk
        towards the policy's ``prior_rate``) or ``"prior"`` (no touch: the prior alone).

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.actions import Policy, ResponseModel
    >>> data = jm.datasets.make_journeys(n_customers=300, days=60, random_state=0)
    >>> policy = Policy.from_dict({"journeys": [
    ...     {"name": "flash_sale", "channel": "push", "activity": "push_sent"}]})
    >>> personas = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> m = ResponseModel().fit(data.events, personas, policy)
    >>> bool(m.table_["rate"].between(0, 1).all())
    True
    """

    prior_strength: float = 20.0

    def fit(self, log: pd.DataFrame, personas: pd.Series, policy: Policy) -> ResponseModel:
        """Count the logged touches of the policy's journeys and their responses.

        Parameters
        ----------
        log : DataFrame
            Canonical event log with ``journey_id``.
        personas : Series
            customer_id -> persona id (``-1`` = none); customers missing here count as -1.
        policy : Policy
        """
        if not isinstance(policy, Policy):
            raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
        if isinstance(self.prior_strength, bool) or not float(self.prior_strength) >= 0:
            raise ConfigError(f"prior_strength must be >= 0, got {self.prior_strength!r}.")
        names = [j.name for j in policy.journeys]
        priors = {j.name: policy.prior_of(j) for j in policy.journeys}
        if log is None or (isinstance(log, pd.DataFrame) and log.empty):
            tagged = np.zeros(0, dtype=bool)
        else:
            index = EventIndex(log, product_column=None)
            tagged = touch_rows(index, policy)
        if not tagged.any():
            missing = [n for n, p in priors.items() if p is None]
            if missing:
                raise ConfigError(
                    f"no touch of the policy's journeys in the log: no event has an activity in "
                    f"{list(policy.touch_activities)} and a journey_id in {names}. Check the "
                    f"policy's 'activity' names and the log's journey_id column; or, for a "
                    f"cold start (nothing sent yet), give the policy a prior_rate (e.g. "
                    f"prior_rate: 0.05, or per journey) for {missing}."
                )
            frame = pd.DataFrame(
                {
                    "persona": np.zeros(0, np.int64),
                    "journey": np.zeros(0, object),
                    "responded": np.zeros(0, bool),
                }
            )
        else:
            rows = np.flatnonzero(tagged)
            got = responded(index, policy, rows)
            pmap = pd.Series(personas).astype("int64")
            cust = index.customers[index.code[rows]]
            persona = pmap.reindex(cust).fillna(-1).astype(np.int64).to_numpy()
            frame = pd.DataFrame(
                {"persona": persona, "journey": index.journey_name(rows), "responded": got}
            )
        overall = frame.groupby("journey")["responded"].agg(["size", "sum"])
        by = frame[frame["persona"] >= 0].groupby(["persona", "journey"])["responded"]
        counts = by.agg(["size", "sum"])
        k = float(self.prior_strength)
        n_all = overall["size"].reindex(names).fillna(0).astype(float)
        r_all = overall["sum"].reindex(names).fillna(0).astype(float)
        p0 = pd.Series(0.0, index=names)
        sources = {}
        for j in names:
            n, r, prior = n_all[j], r_all[j], priors[j]
            if prior is None:
                p0[j] = r / n if n else 0.0
                sources[j] = "log"
            elif n == 0:
                p0[j], sources[j] = prior, "prior"
            else:
                p0[j] = (r + k * prior) / (n + k) if n + k > 0 else prior
                sources[j] = "log+prior"
        table = []
        for (p, j), (n, r) in counts.iterrows():
            table.append((int(p), j, int(n), int(r), (r + k * p0[j]) / (n + k)))
        for j in names:
            table.append((-1, j, int(n_all[j]), int(r_all[j]), float(p0[j])))
        self.table_ = pd.DataFrame(
            table, columns=["persona", "journey", "touches", "responses", "rate"]
        ).sort_values(["persona", "journey"], ignore_index=True)
        self.journeys_ = names
        self.sources_ = sources
        return self

    @property
    def cold_start(self) -> bool:
        """Every journey's rate is a prior from the policy (no touch was logged)."""
        self._fitted()
        sources = getattr(self, "sources_", {})
        return bool(sources) and all(s == "prior" for s in sources.values())

    def save(self, path: str | Path) -> Path:
        """Write the fitted rates as JSON (plain data: nothing executable is stored)."""
        self._fitted()
        path = Path(path)
        doc = {
            "format": _FORMAT,
            "version": _VERSION,
            "prior_strength": float(self.prior_strength),
            "journeys": list(self.journeys_),
            "sources": dict(getattr(self, "sources_", {})),
            "table": self.table_.to_dict(orient="records"),
        }
        write_text(path, json.dumps(doc, indent=1))  # atomic
        return path

    @classmethod
    def load(cls, path: str | Path) -> ResponseModel:
        """Read rates written by :meth:`save`; a file of another kind is refused by name."""
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"no response-rates file {path}; write one with ResponseModel.save.")
        try:
            doc = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not JSON written by ResponseModel.save: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ConfigError(
                f"{path} is not a journeymine response-rates file (format "
                f"{doc.get('format') if isinstance(doc, dict) else None!r}, expected {_FORMAT!r})."
            )
        if int(doc.get("version", 0)) > _VERSION:
            raise ConfigError(
                f"{path} has format version {doc['version']}, newer than this journeymine "
                f"reads ({_VERSION}); upgrade journeymine."
            )
        table = pd.DataFrame(doc["table"])
        expected = ["persona", "journey", "touches", "responses", "rate"]
        if list(table.columns) != expected or not table["rate"].between(0, 1).all():
            raise ConfigError(
                f"{path}: the table must have columns {expected} with rates in [0, 1]."
            )
        model = cls(prior_strength=float(doc["prior_strength"]))
        model.table_ = table.astype({"persona": "int64", "touches": "int64", "responses": "int64"})
        model.journeys_ = [str(j) for j in doc["journeys"]]
        sources = doc.get("sources") or {j: "log" for j in model.journeys_}
        if not isinstance(sources, dict) or not set(sources.values()) <= {
            "log",
            "prior",
            "log+prior",
        }:
            raise ConfigError(f"{path}: 'sources' must map journeys to log, prior or log+prior.")
        model.sources_ = {str(j): str(s) for j, s in sources.items()}
        return model

    def _fitted(self) -> None:
        if not hasattr(self, "table_"):
            raise NotFittedError("this ResponseModel is not fitted yet; call fit() first.")

    def rates(self, personas: np.ndarray) -> np.ndarray:
        """Expected response of each journey (columns, in the policy's order) for each persona
        id (rows); unknown personas get the journey's overall rate."""
        self._fitted()
        wide = self.table_.pivot(index="persona", columns="journey", values="rate")
        wide = wide.reindex(columns=self.journeys_)
        overall = wide.loc[-1] if -1 in wide.index else pd.Series(0.0, index=self.journeys_)
        wide = wide.fillna(overall)
        out = wide.reindex(np.asarray(personas, dtype=np.int64))
        return out.fillna(overall).to_numpy(dtype=np.float64)
