"""Figures and self-contained HTML reports for analysts.

Every figure comes as a pair: ``*_data()`` computes a tidy DataFrame (headless, testable) and
``*_figure()`` draws it with plotly. :func:`write_html` writes one self-contained file (plotly.js
embedded once, no network request); :func:`journey_report`, :func:`persona_report`,
:func:`change_report` and :func:`actions_report` build complete reports with a computed summary
(one module per report; their findings come from pure functions: :func:`journey_findings`,
:func:`persona_findings`, :func:`change_findings`, :func:`actions_findings`).
Shared reports respect a minimum group size ``k`` (default 10): paths, variants, Sankey links and
table rows supported by fewer than ``k`` customers are removed and the report says how many were
hidden.
:func:`save_figure` exports any figure to PNG/SVG/PDF for slides.

Examples
--------
>>> import journeymine as jm
>>> from journeymine import report
>>> log = jm.validate(jm.datasets.make_journeys(n_customers=200, days=60, random_state=0).events)
>>> fig = report.process_map_figure(report.process_map_data(log, top_k=12))
>>> fig.layout.height > 0
True
"""

from journeymine.report.actions import (
    backtest_data,
    backtest_figure,
    response_rates_data,
    response_rates_figure,
)
from journeymine.report.build_actions import actions_findings, actions_report
from journeymine.report.build_changes import (
    ChangeReportData,
    change_findings,
    change_report,
    change_report_data,
)
from journeymine.report.build_journeys import (
    JourneyReportData,
    journey_findings,
    journey_report,
    journey_report_data,
)
from journeymine.report.build_personas import (
    PersonaReportData,
    persona_findings,
    persona_report,
    persona_report_data,
)
from journeymine.report.change import (
    change_incidents_data,
    change_timeline_data,
    change_timeline_figure,
    describe_change,
)
from journeymine.report.channels import channel_switch_data, channel_switch_figure
from journeymine.report.export import save_figure
from journeymine.report.html import Section, write_html
from journeymine.report.journeys import (
    funnel_data,
    funnel_figure,
    paths_data,
    paths_figure,
    variants_data,
    variants_figure,
)
from journeymine.report.model_card import model_card_data, model_card_figure
from journeymine.report.next_steps import persona_next_steps_data, persona_next_steps_findings
from journeymine.report.personas import (
    persona_migration_data,
    persona_migration_figure,
    persona_profile_data,
    persona_profile_figure,
    persona_sizes_data,
    persona_sizes_figure,
)
from journeymine.report.process_map import process_map_data, process_map_figure
from journeymine.report.validity import persona_validity_findings, persona_validity_tables

__all__ = [
    "ChangeReportData",
    "JourneyReportData",
    "PersonaReportData",
    "Section",
    "actions_findings",
    "actions_report",
    "backtest_data",
    "backtest_figure",
    "change_findings",
    "change_incidents_data",
    "change_report",
    "change_report_data",
    "change_timeline_data",
    "change_timeline_figure",
    "channel_switch_data",
    "channel_switch_figure",
    "describe_change",
    "funnel_data",
    "funnel_figure",
    "journey_findings",
    "journey_report",
    "journey_report_data",
    "model_card_data",
    "model_card_figure",
    "paths_data",
    "paths_figure",
    "persona_findings",
    "persona_migration_data",
    "persona_migration_figure",
    "persona_next_steps_data",
    "persona_next_steps_findings",
    "persona_profile_data",
    "persona_profile_figure",
    "persona_report",
    "persona_report_data",
    "persona_sizes_data",
    "persona_sizes_figure",
    "persona_validity_findings",
    "persona_validity_tables",
    "process_map_data",
    "process_map_figure",
    "response_rates_data",
    "response_rates_figure",
    "save_figure",
    "variants_data",
    "variants_figure",
    "write_html",
]
