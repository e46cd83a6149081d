"""The reports (issue 13) as plain functions: read the datasets, build, render, keep the figures."""

from jtl_automator.services.reporting.pipeline import (
    LocalStages,
    RunOutcome,
    Stages,
    record_history,
    resolve_periods,
    run_report,
    run_stages,
    summary,
)
from jtl_automator.services.reporting.reads import Sources, read_data

__all__ = [
    "LocalStages",
    "RunOutcome",
    "Sources",
    "Stages",
    "read_data",
    "record_history",
    "resolve_periods",
    "run_report",
    "run_stages",
    "summary",
]
