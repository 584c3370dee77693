"""The rates a service decides with: the kinds it may serve (:data:`RESPONSE_KINDS`), loaded
from their file by the kind the file declares (:func:`load_responses`), and checked against the
persona model whose probabilities (or persona ids) they are read with (:func:`check_personas`,
:func:`served_personas`).

:class:`~journeymine.service.decider.LiveDecider` decides with them; the app loads them once
(``create_app(responses_path=...)``) and checks them again whenever the persona model is
reloaded.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from journeymine.actions.feature_uplift import FeatureUplift
from journeymine.actions.response import ResponseModel
from journeymine.actions.uplift import UpliftModel
from journeymine.assignment import UNASSIGNED
from journeymine.exceptions import ConfigError, ModelError

__all__ = [
    "RESPONSE_KINDS",
    "Responses",
    "check_personas",
    "load_responses",
    "served_personas",
]

#: What a service may serve as its rates: the kind written in the file -> the class.
RESPONSE_KINDS: dict[str, str] = {
    "journeymine.response_rates": "ResponseModel (JSON; jm nba --responses-out)",
    "journeymine.UpliftModel": "UpliftModel (.skops + .json card; jm nba --uplift-out)",
    "journeymine.FeatureUplift": (
        "FeatureUplift (.skops + .json card; jm nba --features ... --uplift-out)"
    ),
}

#: The rates a live decision reads.
Responses = ResponseModel | UpliftModel | FeatureUplift


def load_responses(path: str | os.PathLike[str]) -> Responses:
    """The rates saved at ``path``, loaded by the kind the file declares: response rates
    (:meth:`ResponseModel.save <journeymine.actions.ResponseModel.save>`, JSON), an
    :class:`~journeymine.actions.UpliftModel` or a :class:`~journeymine.actions.FeatureUplift`
    (the ``.skops`` file, or its ``.json`` card, with every check of their ``load``; never
    pickle).

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    ResponseModel, UpliftModel or FeatureUplift

    Raises
    ------
    ConfigError
        No such file, or a file of none of these kinds (the message names them).
    ModelError
        A model file refused by its ``load`` (an edited card, a skops file that is not the
        card's, a type outside the trusted list...).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from journeymine.actions import Policy, ResponseModel, UpliftModel
    >>> policy = Policy.from_dict({"journeys": [{"name": "promo", "channel": "email",
    ...     "activity": "email_sent", "prior_rate": 0.2}]})
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rates = ResponseModel().fit(None, None, policy).save(folder / "rates.json")
    >>> type(load_responses(rates)).__name__
    'ResponseModel'
    >>> uplift = UpliftModel().fit(None, None, policy).save(folder / "uplift.skops")
    >>> type(load_responses(uplift)).__name__
    'UpliftModel'
    """
    import json
    from pathlib import Path

    p = Path(path)
    kinds = "; ".join(RESPONSE_KINDS.values())
    if not p.is_file():
        raise ConfigError(f"no response-rates file {p}: give one of these kinds: {kinds}.")
    card = p if p.suffix.lower() == ".json" else p.with_suffix(".json")
    kind = None
    try:
        doc = json.loads(card.read_text(encoding="utf-8")) if card.is_file() else None
    except (OSError, UnicodeDecodeError, ValueError):
        doc = None
    if isinstance(doc, dict):
        kind = doc.get("format") if card == p else None
        kind = kind or doc.get("kind")
    if kind == "journeymine.response_rates" and card == p:
        return ResponseModel.load(p)
    if kind == "journeymine.UpliftModel":
        return UpliftModel.load(p.with_suffix(".skops"))
    if kind == "journeymine.FeatureUplift":
        return FeatureUplift.load(p.with_suffix(".skops"))
    if card != p and not card.is_file():
        raise ModelError(
            f"{p} has no card {card.name} beside it: a saved UpliftModel or FeatureUplift is "
            f"the .skops file plus its .json card, saved together."
        )
    raise ConfigError(
        f"{p} is not a file of rates a service serves (kind {kind!r}); give one of these "
        f"kinds: {kinds}."
    )


def check_personas(responses: Responses, personas: Any) -> tuple[int, ...]:
    """``personas`` (a persona model's ids, e.g. its ``classes_``) as a tuple; with a
    FeatureUplift a ``ConfigError`` when they are not its persona ids (``persona_ids_``): the
    model's probabilities would weigh the wrong cells.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.actions import FeatureUplift, Policy
    >>> policy = Policy.from_dict({"journeys": [{"name": "promo", "channel": "email",
    ...     "activity": "email_sent", "prior_rate": 0.2}], "arbitration": "uplift"})
    >>> soft = pd.DataFrame({0: [1.0, 0.0], 1: [0.0, 1.0]}, index=["a", "b"])
    >>> fu = FeatureUplift().fit(None, soft, pd.DataFrame({"f": [0.0, 1.0]}, soft.index), policy)
    >>> check_personas(fu, [0, 1])
    (0, 1)
    >>> check_personas(fu, [0, 1, 2])
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: the persona model's personas [0, 1, 2] are not the ...
    """
    got = tuple(int(p) for p in personas)
    if not isinstance(responses, FeatureUplift):
        return got
    own = responses.persona_ids_
    if sorted(got) != own or len(set(got)) != len(got):
        raise ConfigError(
            f"the persona model's personas {sorted(got)} are not the FeatureUplift's {own}: "
            f"its probabilities would weigh the wrong cells. Fit the FeatureUplift with "
            f"memberships of this persona model's personas (e.g. its predict_proba), or serve "
            f"the persona model it was fitted with."
        )
    return got


def served_personas(responses: Responses) -> set[int]:
    """The persona ids of the rates (with -1, unassigned): a persona a caller gives must be
    one of them or of the persona model's."""
    table = responses.base_.table_ if isinstance(responses, FeatureUplift) else responses.table_
    return {UNASSIGNED, *map(int, np.asarray(table["persona"], dtype=np.int64))}
