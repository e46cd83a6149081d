"""The heavy stages on a Dask cluster through prefect-dask's task runner equal the one-machine runs.

A local cluster of two worker processes (loopback) stands in for a real one; the part tasks run there and
report to the session's Prefect test server like any task.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import openpyxl
import pandas as pd
import pytest
from distributed import LocalCluster
from pandas.testing import assert_frame_equal
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect_dask.task_runners import DaskTaskRunner

from benchmarks import replenishment_5m
from flows.inbound_verification import inbound_verification
from flows.replenishment import replenishment
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, INBOUND_CONTROL_SPREADSHEET_ID
from jtl_automator.sandbox.workbooks import save_as_xlsx
from jtl_automator.services.replenishment import ReplenishmentInputs, ReplenishmentRunParams, compute_lines
from jtl_automator.settings import get_settings
from jtl_automator.transforms.replenishment import DemandParams
from tasks.cluster import ClusterUnavailable, stage_runner
from tasks.replenishment import replenishment_compute_on_cluster
from tasks.reporting import report_build_on_cluster
from tests.flows.conftest import FlowSandbox
from tests.support.dask_cluster import local_cluster
from tests.support.reports import assert_reports_equal

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

AS_OF = (DEFAULT_BASE_DATE + timedelta(days=1)).date()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster() as running:
        yield running


def _task_names(flow_run_id: UUID) -> list[str]:
    async def read() -> list[str]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            return [r.name for r in runs if r.state is not None and r.state.is_completed()]

    return anyio.run(read)


def test_replenishment_lines_through_the_flows_dask_task_runner(cluster: LocalCluster) -> None:
    """The flow's own task runner is a DaskTaskRunner: the compute stage goes to it, part by part."""
    frames = replenishment_5m.build_frames(lines=40_000, skus=2_000, days=90, seed=21)
    inputs = ReplenishmentInputs(
        DemandParams(start=frames["window"][0], end=frames["window"][1]),
        frames["lines"],
        frames["stockouts"],
        frames["stock"],
        frames["on_order"],
        frames["suppliers"],
    )
    params = ReplenishmentRunParams()

    @flow(name="heavy-stage-on-dask")
    def heavy() -> pd.DataFrame:
        with stage_runner(None) as runner:  # no address: the flow's own runner is used
            assert isinstance(runner, DaskTaskRunner)
            return replenishment_compute_on_cluster(runner, inputs, params)

    state = heavy.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))(
        return_state=True
    )
    on_cluster = state.result()
    assert_frame_equal(on_cluster, compute_lines(inputs, params), check_exact=True)
    names = _task_names(state.state_details.flow_run_id)
    assert len([n for n in names if n.startswith("replenishment-compute-part")]) == 2  # a part per worker


def test_report_sections_through_the_flows_dask_task_runner(cluster: LocalCluster, tmp_path: Path) -> None:
    """The weekly report's sections as task runs on the cluster: the very report one build makes."""
    from jtl_automator.reports import parse_period, report_definition
    from jtl_automator.reports.data import ReportParams
    from jtl_automator.services.reporting import Sources, read_data
    from jtl_automator.store import StateStore
    from tests.reports.test_reports_generated import generate, items_frame, seed, stock_frame

    world = generate(2026)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    seed(store, world)
    definition, params = report_definition("weekly"), ReportParams(top_n=20)
    data = read_data(
        definition,
        parse_period("2026-W46"),
        params,
        Sources(store),
        as_of=datetime(2026, 11, 23, 6, tzinfo=UTC),
    )
    store.dispose()
    data.frames.update(stock=stock_frame(world), items=items_frame(world))
    data.missing.pop("stock", None)
    data.missing.pop("items", None)

    @flow(name="report-sections-on-dask")
    def build() -> Any:
        with stage_runner(None) as runner:
            assert runner is not None
            return report_build_on_cluster(runner, definition, data, params)

    state = build.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))(
        return_state=True
    )
    assert_reports_equal(state.result(), definition.build(data, params))
    names = _task_names(state.state_details.flow_run_id)
    assert sorted(n for n in names if n.startswith("report-section-")) == sorted(
        f"report-section-{section.__name__}" for section in definition.sections
    )


def _workbook(path: Path) -> dict[str, pd.DataFrame]:
    return pd.read_excel(path, sheet_name=None)


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The result but the workbook path and what was read (a warm item cache reads less)."""
    return {k: v for k, v in result.items() if k not in ("workbook", "read")}


def test_replenishment_flow_on_the_cluster_equals_one_machine(
    flow_sandbox: FlowSandbox, cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JTL_WAWI_RATE_PER_SECOND", "500")
    monkeypatch.setenv("JTL_FFN_RATE_PER_SECOND", "500")
    get_settings.cache_clear()
    here = replenishment(dry_run=True, as_of=AS_OF, output=str(flow_sandbox.tmp / "here.xlsx"))
    state = replenishment(
        dry_run=True,
        as_of=AS_OF,
        output=str(flow_sandbox.tmp / "cluster.xlsx"),
        dask_address=cluster.scheduler_address,
        return_state=True,
    )
    there = state.result()
    assert here["statuses"].get("order", 0) > 0 and here["table"]
    assert _comparable(there) == _comparable(here)
    ours, theirs = _workbook(flow_sandbox.tmp / "here.xlsx"), _workbook(flow_sandbox.tmp / "cluster.xlsx")
    assert list(theirs) == list(ours) and len(ours) > 1
    for tab, frame in ours.items():
        assert_frame_equal(theirs[tab], frame, check_exact=True)
    assert any(
        n.startswith("replenishment-compute-part") for n in _task_names(state.state_details.flow_run_id)
    )

    # The address from JTL_DASK_ADDRESS instead of the parameter: the same again.
    monkeypatch.setenv("JTL_DASK_ADDRESS", cluster.scheduler_address)
    get_settings.cache_clear()
    by_setting = replenishment(dry_run=True, as_of=AS_OF, output=str(flow_sandbox.tmp / "setting.xlsx"))
    assert _comparable(by_setting) == _comparable(here)


def test_inbound_verification_on_the_cluster_writes_what_one_machine_writes(
    flow_sandbox: FlowSandbox, cluster: LocalCluster
) -> None:
    source = flow_sandbox.state.data.spreadsheets[INBOUND_CONTROL_SPREADSHEET_ID]
    here = save_as_xlsx(source, flow_sandbox.tmp / "here.xlsx")
    there = save_as_xlsx(source, flow_sandbox.tmp / "there.xlsx")
    one = inbound_verification(sheet=str(here), worksheet="Wareneingang")
    state = inbound_verification(
        sheet=str(there), worksheet="Wareneingang", dask_address=cluster.scheduler_address, return_state=True
    )
    two = state.result()
    assert two["counts"] == one["counts"] and two["rows"] == one["rows"] > 0
    assert any(n.startswith("inbound-reconcile-part") for n in _task_names(state.state_details.flow_run_id))

    def status_and_note(path: Path) -> list[list[object]]:
        rows = openpyxl.load_workbook(path)["Wareneingang"].iter_rows(values_only=True)
        return [list(r[3:5]) for r in rows]

    assert status_and_note(there) == status_and_note(here)
    assert {r[0] for r in status_and_note(here)} >= {"MATCH", "MISMATCH", "UNKNOWN_SKU", "INVALID_ROW"}


def test_an_unreachable_scheduler_fails_the_run_in_one_line(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JTL_DASK_CONNECT_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()
    with pytest.raises(
        ClusterUnavailable, match=r"the Dask scheduler at tcp://127\.0\.0\.1:9 did not answer"
    ):
        replenishment(
            dry_run=True,
            as_of=AS_OF,
            output=str(flow_sandbox.tmp / "x.xlsx"),
            dask_address="tcp://127.0.0.1:9",
        )
    assert not (flow_sandbox.tmp / "x.xlsx").exists()  # nothing written: the run stopped before the workbook
