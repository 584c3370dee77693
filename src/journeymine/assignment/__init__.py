"""Persona assignment for live customers: a model trained on journey prefixes, a fast
single-customer path, batch scoring, persistence, an HTTP service and Spark scoring.

- :class:`PersonaModel`: calibrated classifier of persona labels (e.g. ``PersonaMiner.labels_``)
  trained on journey prefixes; ``fit``, ``predict``, ``predict_proba``, ``save``, ``card_``
- :func:`load_model`: load a saved model (checksum, versions, schema, features, type allowlist)
- :func:`assign`: one customer's events (list of dicts or DataFrame) -> :class:`Assignment`
- :func:`assign_many`: every customer of a log at once (equal to ``assign`` per customer)
- :func:`parse_customer` / :func:`assign_parsed`: :func:`assign` in two halves (check and
  encode one customer's events, then score many parsed customers in one pass), and
  :func:`parse_time`, the timestamp reader of :func:`assign`: the seams the HTTP service uses
- :func:`assign_aggregates` / :func:`persona_probabilities`: the persona, or every persona's
  probability, of customers given by their integer aggregates (the live service's folds);
  :func:`assign_probabilities`: the persona those probabilities give;
  :func:`score_parsed`: :func:`assign_parsed` with those probabilities, from one pass
- :func:`reliability_table`: expected calibration error and the reliability table of the card
- :mod:`journeymine.assignment.service`: FastAPI service (``create_app``, ``serve``; needs the
  ``serve`` extra)
- :mod:`journeymine.assignment.spark`: ``assign_spark`` on a Spark DataFrame (``spark`` extra)

Importing this package loads neither DuckDB, plotly nor pm4py (training calls DuckDB lazily).
"""

from journeymine.assignment._assign import (
    Assignment,
    ParsedCustomer,
    assign,
    assign_aggregates,
    assign_many,
    assign_parsed,
    assign_probabilities,
    parse_customer,
    persona_probabilities,
    score_parsed,
)
from journeymine.assignment._inputs import parse_time
from journeymine.assignment._metrics import reliability_table
from journeymine.assignment._model import UNASSIGNED, PersonaModel, load_model
from journeymine.assignment._persist import TRUSTED_TYPES

__all__ = [
    "TRUSTED_TYPES",
    "UNASSIGNED",
    "Assignment",
    "ParsedCustomer",
    "PersonaModel",
    "assign",
    "assign_aggregates",
    "assign_many",
    "assign_parsed",
    "assign_probabilities",
    "load_model",
    "parse_customer",
    "parse_time",
    "persona_probabilities",
    "reliability_table",
    "score_parsed",
]
