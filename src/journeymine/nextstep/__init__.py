"""Next-step prediction: what each customer does next, on which channel, when, and how likely an
outcome is (:class:`NextStepModel`), with honest evaluation protocols
(:func:`evaluate_next_step`) and safe persistence (:func:`load_next_step_model`)."""

from journeymine.nextstep._evaluate import NextStepEvaluation, evaluate_next_step
from journeymine.nextstep._model import END, NextStep, NextStepModel, load_next_step_model

__all__ = [
    "END",
    "NextStep",
    "NextStepEvaluation",
    "NextStepModel",
    "evaluate_next_step",
    "load_next_step_model",
]
