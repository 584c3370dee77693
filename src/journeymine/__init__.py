"""journeymine: journey analytics and persona mining for multichannel customer event logs.

Importing the package does nothing but define names; submodules load on first use.

Examples
--------
>>> import journeymine as jm
>>> data = jm.datasets.make_journeys(n_customers=50, days=30, random_state=0)
>>> log = jm.validate(data.events)
>>> jm.summarize(log)["customers"] <= 50
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # schema
    "validate": "journeymine.schema",
    "summarize": "journeymine.schema",
    # io
    "read_events": "journeymine.io",
    "read_xes": "journeymine.io",
    "write_events": "journeymine.io",
    "sessionize": "journeymine.io",
    "stitch_identities": "journeymine.io",
    "PRESETS": "journeymine.io",
    # exceptions
    "JourneymineError": "journeymine.exceptions",
    "EventLogError": "journeymine.exceptions",
    "EmptyLogError": "journeymine.exceptions",
    "MissingColumnError": "journeymine.exceptions",
    "UnknownActivityError": "journeymine.exceptions",
    "ConfigError": "journeymine.exceptions",
    "ModelError": "journeymine.exceptions",
    "NotFittedError": "journeymine.exceptions",
    "DataQualityWarning": "journeymine.exceptions",
    "RowsDroppedWarning": "journeymine.exceptions",
    # journeys (statistics) and the encoded log they share
    "dfg": "journeymine.journeys",
    "variants": "journeymine.journeys",
    "funnel": "journeymine.journeys",
    "paths": "journeymine.journeys",
    "channel_switches": "journeymine.journeys",
    "durations": "journeymine.journeys",
    "bottlenecks": "journeymine.journeys",
    "start_activities": "journeymine.journeys",
    "end_activities": "journeymine.journeys",
    "encode": "journeymine.engine",
    # conformance, change detection, process discovery (pm4py, loaded on first call)
    "check_conformance": "journeymine.journeys.conformance",
    "compare_periods": "journeymine.journeys.change",
    "compare_segments": "journeymine.journeys.change",
    "detect_changes": "journeymine.journeys.change",
    "discover_process": "journeymine._pm4py",
    # reports (figures, self-contained HTML)
    "journey_report": "journeymine.report",
    "persona_report": "journeymine.report",
    "change_report": "journeymine.report",
    "actions_report": "journeymine.report",
    "save_figure": "journeymine.report",
    # personas
    "CustomerFeaturizer": "journeymine.personas",
    "PersonaMiner": "journeymine.personas",
    "persona_profiles": "journeymine.personas",
    "persona_validity": "journeymine.personas",
    "PersonaValidity": "journeymine.personas",
    "track_personas": "journeymine.personas",
    # persona assignment for live customers
    "PersonaModel": "journeymine.assignment",
    "load_model": "journeymine.assignment",
    "assign": "journeymine.assignment",
    "assign_many": "journeymine.assignment",
    # next best action
    "Policy": "journeymine.actions",
    "ResponseModel": "journeymine.actions",
    "next_best_action": "journeymine.actions",
    "backtest": "journeymine.actions",
    # next step of each customer
    "NextStepModel": "journeymine.nextstep",
    "NextStep": "journeymine.nextstep",
    "END": "journeymine.nextstep",
    "evaluate_next_step": "journeymine.nextstep",
    "load_next_step_model": "journeymine.nextstep",
}
_SUBMODULES = {
    "datasets",
    "io",
    "schema",
    "exceptions",
    "journeys",
    "engine",
    "report",
    "personas",
    "assignment",
    "actions",
    "nextstep",
}

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from journeymine import (
        actions,
        assignment,
        datasets,
        engine,
        exceptions,
        io,
        journeys,
        nextstep,
        personas,
        report,
        schema,
    )
    from journeymine._pm4py import discover_process
    from journeymine.actions import Policy, ResponseModel, next_best_action
    from journeymine.actions.backtest import backtest as backtest
    from journeymine.assignment import PersonaModel, assign, assign_many, load_model
    from journeymine.engine import encode
    from journeymine.exceptions import (
        ConfigError,
        DataQualityWarning,
        EmptyLogError,
        EventLogError,
        JourneymineError,
        MissingColumnError,
        ModelError,
        NotFittedError,
        RowsDroppedWarning,
        UnknownActivityError,
    )
    from journeymine.io import (
        PRESETS,
        read_events,
        read_xes,
        sessionize,
        stitch_identities,
        write_events,
    )
    from journeymine.journeys import (
        bottlenecks,
        channel_switches,
        dfg,
        durations,
        end_activities,
        funnel,
        paths,
        start_activities,
        variants,
    )
    from journeymine.journeys.change import compare_periods, compare_segments, detect_changes
    from journeymine.journeys.conformance import check_conformance
    from journeymine.nextstep import (
        END,
        NextStep,
        NextStepModel,
        evaluate_next_step,
        load_next_step_model,
    )
    from journeymine.personas import (
        CustomerFeaturizer,
        PersonaMiner,
        PersonaValidity,
        persona_profiles,
        persona_validity,
        track_personas,
    )
    from journeymine.report import (
        actions_report,
        change_report,
        journey_report,
        persona_report,
        save_figure,
    )
    from journeymine.schema import summarize, validate


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"journeymine.{name}")
    else:
        raise AttributeError(f"module 'journeymine' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
