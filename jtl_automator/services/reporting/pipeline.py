"""A report run, defined once: read -> build -> workbook -> KPI history -> Google Sheet -> e-mail -> summary.

:func:`run_stages` says in which order the stages run and what a dry run skips; :class:`LocalStages` runs
them as plain calls (tests, benchmarks), ``tasks.reporting.TaskStages`` as Prefect tasks (the flow).

A dry run reads everything, builds the report and writes the workbook (a local file, what one wants to
look at before trusting the run), but keeps no figure in the KPI history, writes no Google Sheet and
sends no e-mail. The history is written before the sheet and the e-mail, so an unreachable Google or
mail server never loses the period's figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from jtl_automator.reports import ReportDefinition, report_definition
from jtl_automator.reports.data import ReportData, ReportParams
from jtl_automator.reports.excel import workbook_path, write_workbook
from jtl_automator.reports.model import Comparison, Report, plain
from jtl_automator.reports.periods import Period, last_complete_period, parse_period
from jtl_automator.services.reporting.reads import Sources, read_data
from jtl_automator.store import StateStore


class Stages(Protocol):
    """How each stage of one run is executed; :func:`run_stages` decides when."""

    def load(self) -> ReportData:
        """Every dataset the report needs."""
        ...

    def build(self, data: ReportData) -> Report:
        """The report (pure)."""
        ...

    def write_workbook(self, report: Report) -> Path:
        """The Excel workbook."""
        ...

    def record(self, report: Report) -> int:
        """The period's figures into the KPI history (replacing that period's); rows written."""
        ...

    def write_sheet(self, report: Report) -> str | None:
        """The report's tab in the configured Google spreadsheet: its id, or None without one."""
        ...

    def mail(self, report: Report, workbook: Path) -> dict[str, Any] | None:
        """The headline figures and the workbook to the report's recipients (None: no recipients)."""
        ...


@dataclass(frozen=True)
class RunOutcome:
    """What a run made: the report itself (for the artifacts) and its summary (for the CLI and logs)."""

    report: Report
    summary: dict[str, Any] = field(default_factory=dict)


def run_stages(stages: Stages, *, dry_run: bool) -> RunOutcome:
    """The run; a dry run writes the workbook only (see the module docstring)."""
    data = stages.load()
    report = stages.build(data)
    workbook = stages.write_workbook(report)
    result = summary(report, workbook, dry_run=dry_run)
    if not dry_run:
        result["history_rows"] = stages.record(report)
        result["sheet"] = stages.write_sheet(report)
        result["mail"] = stages.mail(report, workbook)
    return RunOutcome(report, result)


def _comparison(item: Comparison | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {"period": item.label, "value": plain(item.value), "missing": item.missing}


def summary(report: Report, workbook: Path | None, *, dry_run: bool) -> dict[str, Any]:
    """The run as JSON: the headline figures with comparisons, what is missing, the workbook, the tables."""
    return {
        "report": report.name,
        "title": report.title,
        "period": report.period.label,
        "dry_run": dry_run,
        "workbook": str(workbook) if workbook else None,
        "kpis": [
            {
                "key": k.key,
                "label": k.label,
                "unit": k.unit,
                "value": plain(k.value),
                "missing": k.missing,
                "previous": _comparison(k.previous),
                "change": plain(k.change(k.previous)),
                "change_in_points": k.change_in_points,
                "last_year": _comparison(k.last_year),
                "change_last_year": plain(k.change(k.last_year)),
                "status": k.rag,
            }
            for k in report.kpis
        ],
        "missing": report.missing(),
        "tables": {t.key: (None if t.missing else t.rows) for t in report.tables},
    }


def resolve_periods(
    definition: ReportDefinition, now: datetime, period: str | None = None, until: str | None = None
) -> list[Period]:
    """The periods of one invocation: ``period`` (default: the last complete one), or a range to ``until``."""
    from jtl_automator.reports.periods import period_range

    first = (
        parse_period(period, definition.period_kind)
        if period
        else last_complete_period(definition.period_kind, now)
    )
    if until is None:
        return [first]
    return period_range(first, parse_period(until, definition.period_kind))


@dataclass
class LocalStages:
    """Every stage as a plain call in this process (no Google Sheet, no e-mail: the flow's tasks do those)."""

    definition: ReportDefinition
    period: Period
    params: ReportParams
    sources: Sources
    output: Path
    as_of: datetime
    run_id: str = "local"

    def load(self) -> ReportData:
        """See :class:`Stages`."""
        return read_data(self.definition, self.period, self.params, self.sources, as_of=self.as_of)

    def build(self, data: ReportData) -> Report:
        """See :class:`Stages`."""
        return self.definition.build(data, self.params)

    def write_workbook(self, report: Report) -> Path:
        """See :class:`Stages`."""
        return write_workbook(report, self.output)

    def record(self, report: Report) -> int:
        """See :class:`Stages`."""
        return record_history(self.sources.store, report, self.run_id)

    def write_sheet(self, report: Report) -> str | None:
        """See :class:`Stages`."""
        return None

    def mail(self, report: Report, workbook: Path) -> dict[str, Any] | None:
        """See :class:`Stages`."""
        return None


def record_history(store: StateStore, report: Report, run_id: str | None) -> int:
    """The report's figures of its period into the KPI history (that period's rows replaced)."""
    period = report.period
    return store.replace_kpis(
        report.name, period.label, period.start, period.end, report.kpi_values(), run_id=run_id
    )


def run_report(
    name: str,
    sources: Sources,
    *,
    period: str | None = None,
    params: ReportParams | None = None,
    output_dir: str | Path = "reports",
    dry_run: bool = False,
    now: datetime | None = None,
    run_id: str = "local",
) -> RunOutcome:
    """One report for one period as the flow runs it, without Prefect, the Google Sheet or e-mail."""
    definition = report_definition(name)
    now = now or datetime.now(UTC)
    target = resolve_periods(definition, now, period)[0]
    params = params or ReportParams()
    started = time.perf_counter()
    stages = LocalStages(
        definition, target, params, sources, workbook_path(output_dir, name, target.label), now, run_id
    )
    outcome = run_stages(stages, dry_run=dry_run)
    outcome.summary["seconds"] = round(time.perf_counter() - started, 3)
    return outcome
