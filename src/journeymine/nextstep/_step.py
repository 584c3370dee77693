"""One customer's predicted next step (one job: the answer of
:meth:`~journeymine.NextStepModel.predict_customer`) and the :data:`END` marker."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["END", "NextStep"]

#: The "activity" predicted when the model expects the case to end (``end_of_case=True``).
END = "[END]"


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
