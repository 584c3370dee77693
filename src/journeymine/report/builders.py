"""The report builders, one module per report (kept as an import path for one release):
:mod:`~journeymine.report.build_journeys`, :mod:`~journeymine.report.build_personas`,
:mod:`~journeymine.report.build_changes` and :mod:`~journeymine.report.build_actions`. Import
the builders from :mod:`journeymine.report`."""

from journeymine.report.build_actions import actions_report
from journeymine.report.build_changes import change_report
from journeymine.report.build_journeys import journey_report
from journeymine.report.build_personas import persona_report

__all__ = ["actions_report", "change_report", "journey_report", "persona_report"]
