"""Tasks of the report flow, and ``TaskStages``: one report run's stages as these tasks.

The sequence lives once in ``jtl_automator.services.reporting.pipeline.run_stages``; every task here is a
thin call into the service. Reading the failed flow runs is the one thing only the shell can do (the
Prefect API); the service gets them as a frame.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import (
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.notify.errors import NotifyError
from jtl_automator.notify.mail import AttachmentMailer
from jtl_automator.reports import ReportDefinition
from jtl_automator.reports.data import ReportData, ReportParams
from jtl_automator.reports.excel import write_workbook
from jtl_automator.reports.markdown import headline_markdown, table_description, table_rows, workbook_link
from jtl_automator.reports.model import Report
from jtl_automator.reports.periods import Period
from jtl_automator.reports.picture import data_uri
from jtl_automator.services.reporting import Sources, read_data, record_history
from jtl_automator.services.reporting.delivery import chart_pictures, mail_report, write_report_sheet
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from jtl_automator.store import StateStore
from tasks.cluster import report_section, stage_runner
from tasks.resources import as_is, correlated
from tasks.retry import retry_transient

if TYPE_CHECKING:
    from prefect_dask.task_runners import DaskTaskRunner

_RETRYING: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 30,
    "retry_condition_fn": retry_transient,
}
#: At most this many failed runs are listed (a day with more has a bigger problem than the list).
MAX_FAILED_RUNS = 200


@task(name="report-failed-runs", cache_policy=NO_CACHE)
def report_failed_runs(start: datetime, end: datetime) -> tuple[pd.DataFrame | None, str | None]:
    """Flow runs that ended FAILED or CRASHED in ``[start, end)``, from the Prefect API (or why not)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterId,
        FlowRunFilter,
        FlowRunFilterEndTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    try:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.FAILED, StateType.CRASHED])
                    ),
                    end_time=FlowRunFilterEndTime(after_=start, before_=end),
                ),
                limit=MAX_FAILED_RUNS,
            )
            ids = list({run.flow_id for run in runs})
            flows = {
                f.id: f.name for f in client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=ids)))
            }
    except Exception as exc:
        get_run_logger().warning("failed flow runs not read: %s", type(exc).__name__)
        return None, f"the Prefect API could not be read ({type(exc).__name__})"
    frame = pd.DataFrame(
        {
            "flow": pd.Series([flows.get(r.flow_id, str(r.flow_id)) for r in runs], dtype="string"),
            "run": pd.Series([r.name for r in runs], dtype="string"),
            "state": pd.Series([r.state_type.value if r.state_type else "" for r in runs], dtype="string"),
            "started": pd.Series(
                pd.to_datetime(pd.Series([r.start_time for r in runs], dtype=object), utc=True),
                dtype="datetime64[us, UTC]",
            ),
            "ended": pd.Series(
                pd.to_datetime(pd.Series([r.end_time for r in runs], dtype=object), utc=True),
                dtype="datetime64[us, UTC]",
            ),
            "message": pd.Series(
                [(r.state.message or "")[:300] if r.state else "" for r in runs], dtype="string"
            ),
        }
    )
    return frame, None


@task(name="report-read", **_RETRYING)
def report_read(
    definition: ReportDefinition, period: Period, params: ReportParams, sources: Sources, as_of: datetime
) -> ReportData:
    """Every dataset the report needs (a source that fails is missing, with the reason)."""
    with correlated():
        data = read_data(definition, period, params, sources, as_of=as_of)
    if data.missing:
        get_run_logger().info("missing: %s", data.missing)
    return data


@task(name="report-build", cache_policy=NO_CACHE)
def report_build(definition: ReportDefinition, data: ReportData, params: ReportParams) -> Report:
    """The report from its data (pure)."""
    return definition.build(data, params)


def report_build_on_cluster(
    runner: DaskTaskRunner, definition: ReportDefinition, data: ReportData, params: ReportParams
) -> Report:
    """The same report as ``report_build``, its sections built apart on the Dask cluster (one task each).

    The data travels to the cluster once (scattered) and every section task reads it there.
    """
    assert definition.build_from_parts is not None
    begin = time.perf_counter()
    like = Report(definition.name, definition.title, data.period, datetime.now(UTC))
    shared = runner.client.scatter(data, hash=False)  # type: ignore[no-untyped-call]
    submitted = [
        runner.submit(
            report_section, parameters={"section": s, "data": shared, "params": params, "like": like}
        )
        for s in definition.sections
    ]
    report = definition.build_from_parts(data, params, [future.result() for future in submitted])
    get_run_logger().info(
        "%s: %d section(s) on the Dask cluster in %.2f s",
        definition.name,
        len(submitted),
        time.perf_counter() - begin,
    )
    return report


@task(name="report-write-workbook", cache_policy=NO_CACHE)
def report_write_workbook(report: Report, path: Path, storage_block: str | None) -> Path:
    """The Excel workbook; with a file system block, also there as ``<report>/<period>.xlsx``."""
    written = write_workbook(report, path)
    if storage_block:
        from prefect.blocks.core import Block
        from prefect.filesystems import WritableFileSystem

        storage = Block.load(storage_block)
        if not isinstance(storage, WritableFileSystem):
            raise TypeError(f"block {storage_block!r} is no file system a workbook can be written to")
        storage.write_path(f"{report.name}/{report.period}.xlsx", written.read_bytes())  # type: ignore[unused-coroutine]
        get_run_logger().info("workbook also written to the %r block", storage_block)
    return written


@task(name="report-record-history", cache_policy=NO_CACHE)
def report_record_history(sources: Sources, report: Report, run_id: str) -> int:
    """The period's figures into the KPI history (that period's rows replaced)."""
    return record_history(sources.store, report, run_id)


@task(name="report-write-sheet", **_RETRYING)
def report_write_sheet(sheet: GoogleSheetsBackend, report: Report) -> str:
    """The report's tab in the Google spreadsheet, replaced whole and formatted (three requests)."""
    requests = write_report_sheet(sheet, report)
    get_run_logger().info("wrote the %r tab in %d request(s)", report.title, requests)
    return sheet.spreadsheet_id


@task(name="report-mail", cache_policy=NO_CACHE)
def report_mail(
    sources: Sources,
    mailer: AttachmentMailer,
    recipients: list[str],
    report: Report,
    workbook: Path,
    run_id: str,
) -> dict[str, Any]:
    """The headline figures and the workbook to the recipients, once per version of the figures.

    The figures are kept and the workbook written by now, so a mail server that refuses or stays away
    is reported in the result (by error type: the message may name addresses) instead of failing the run;
    the next run with the same figures sends it then.
    """
    try:
        with correlated():
            outcome = mail_report(sources.store, mailer, recipients, report, workbook, run_id=run_id)
    except NotifyError as exc:
        get_run_logger().warning("the report e-mail was not sent: %s", type(exc).__name__)
        return {"sent": False, "error": type(exc).__name__}
    get_run_logger().info("report e-mail: %s", "sent" if outcome["sent"] else outcome.get("reason"))
    return outcome


@task(name="report-publish-artifacts", cache_policy=NO_CACHE)
def report_publish_artifacts(report: Report, summary: dict[str, Any], rows: int) -> None:
    """The headline figures (markdown), every table (capped), the charts as pictures, the workbook's link."""
    key = f"report-{report.name}"
    workbook, sheet = summary.get("workbook"), summary.get("sheet")
    create_markdown_artifact(
        key=key,
        markdown=headline_markdown(report, workbook=workbook, sheet=sheet),
        description=f"{report.title} {report.period}" + (" (dry run)" if summary.get("dry_run") else ""),
    )
    for table in report.tables:
        create_table_artifact(
            key=f"{key}-{table.key.replace('_', '-')}",
            table=table_rows(table, rows)
            or [{"": f"missing: {table.missing}" if table.missing else "no rows"}],
            description=table_description(table, rows),
        )
    for chart_key, title, png in chart_pictures(report):
        create_image_artifact(
            image_url=data_uri(png),
            key=f"{key}-{chart_key.replace('_', '-')}",
            description=f"{title} ({report.period})",
        )
    if workbook:
        create_link_artifact(
            key=f"{key}-workbook",
            link=workbook_link(workbook),
            link_text=Path(workbook).name,
            description=f"The {report.title} workbook of {report.period}",
        )


@dataclass
class TaskStages:
    """The stages of one report run as Prefect tasks (see ``svc.Stages``)."""

    definition: ReportDefinition
    period: Period
    params: ReportParams
    sources: Sources
    output: Path
    as_of: datetime
    run_id: str
    sheet: GoogleSheetsBackend | None = None
    mailer: AttachmentMailer | None = None
    recipients: tuple[str, ...] = ()
    storage_block: str | None = None
    cluster: str | None = None  # a Dask scheduler address for the build's sections (tasks/cluster.py)

    def load(self) -> ReportData:
        """See ``svc.Stages``."""
        return report_read(self.definition, self.period, self.params, as_is(self.sources), self.as_of)

    def build(self, data: ReportData) -> Report:
        """See ``svc.Stages``; a report built by sections builds them on a Dask cluster when one is set."""
        if self.definition.sections and self.definition.build_from_parts is not None:
            with stage_runner(self.cluster) as runner:
                if runner is not None:
                    return report_build_on_cluster(runner, self.definition, data, self.params)
        return report_build(self.definition, as_is(data), self.params)

    def write_workbook(self, report: Report) -> Path:
        """See ``svc.Stages``."""
        return report_write_workbook(as_is(report), self.output, self.storage_block)

    def record(self, report: Report) -> int:
        """See ``svc.Stages``."""
        return report_record_history(as_is(self.sources), as_is(report), self.run_id)

    def write_sheet(self, report: Report) -> str | None:
        """See ``svc.Stages``."""
        if self.sheet is None:
            return None
        return report_write_sheet(as_is(self.sheet), as_is(report))

    def mail(self, report: Report, workbook: Path) -> dict[str, Any] | None:
        """See ``svc.Stages``."""
        if self.mailer is None or not self.recipients:
            return None
        return report_mail(
            as_is(self.sources),
            as_is(self.mailer),
            list(self.recipients),
            as_is(report),
            workbook,
            self.run_id,
        )


@dataclass(frozen=True)
class Delivery:
    """Where one run's report goes: flow parameters over the ReportDelivery block over ``JTL_REPORTS_*``."""

    output_dir: str
    spreadsheet_id: str | None = None
    recipients: tuple[str, ...] = ()
    email_block: str | None = None
    sheets_block: str | None = None
    storage_block: str | None = None


def resolve_delivery(block_name: str | None, **overrides: Any) -> Delivery:
    """The block (or the environment's ``JTL_REPORTS_*``), with the flow's parameters that are set."""
    from blocks import ReportDelivery
    from tasks.resources import load_block

    block = load_block(ReportDelivery, block_name) if block_name else ReportDelivery.from_settings()
    values = block.model_dump(
        include={"output_dir", "spreadsheet_id", "recipients", "email_block", "sheets_block", "storage_block"}
    )
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["recipients"] = tuple(ReportDelivery(recipients=values["recipients"]).recipients)
    return Delivery(**values)


@contextmanager
def report_clients(
    definition: ReportDefinition, store: StateStore, ffn_block: str | None, wawi_block: str | None
) -> Iterator[tuple[FfnClient | None, WawiClient | None, dict[str, str]]]:
    """FFN and Wawi clients where the report reads them; credentials that cannot be built are a reason."""
    from jtl_automator.reports import data as d
    from tasks.resources import ffn_client, wawi_client

    reasons: dict[str, str] = {}
    with ExitStack() as stack:
        ffn = wawi = None
        if d.STOCK in definition.needs:
            try:
                ffn = stack.enter_context(ffn_client(store, ffn_block))
            except ValueError as exc:
                reasons["ffn"] = f"FFN credentials are not configured ({str(exc).splitlines()[0]})"
        if definition.needs & {d.ITEMS, d.RETURNS}:
            try:
                wawi = stack.enter_context(wawi_client(wawi_block))
            except ValueError as exc:
                reasons["wawi"] = f"Wawi credentials are not configured ({str(exc).splitlines()[0]})"
        yield ffn, wawi, reasons
