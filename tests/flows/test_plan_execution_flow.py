"""The plan-execution flow end to end: real Prefect, real HTTP to the sandbox, SQLite, a real SMTP server."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import ArtifactSort

from flows.plan_execution import plan_execution
from jtl_automator.plans import (
    LineStatus,
    NewLine,
    PlanScope,
    PlanStatus,
    PlanStore,
    rebalance_line,
    supplier_line,
)
from jtl_automator.sandbox.smtp import SmtpTestServer
from jtl_automator.services.plan_execution import PlanExecutionParams
from jtl_automator.store import StateStore
from tests.flows.conftest import FlowSandbox, save_smtp_block

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server


def test_dry_run_then_execute_then_a_rerun_that_does_nothing(flow_sandbox: FlowSandbox) -> None:
    data = flow_sandbox.state.data
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    plans = PlanStore(store)
    warehouse = sorted(data.ffn.warehouses)[0]
    skus = sorted(p["merchantSku"] for p in data.ffn.products.values())[:2]
    opened = plans.create_or_get("restock", PlanScope(warehouses=(warehouse,), supplier="L10001"), "2026-W48")
    plans.add_lines(opened.plan.id, [NewLine(sku=s, warehouse=warehouse, quantity=4) for s in skus])
    plans.approve(opened.plan.id, "buyer")
    number = f"PO-{opened.plan.id}-L10001"

    with SmtpTestServer() as smtp:
        save_smtp_block("plan-mail", smtp, sender="einkauf@example.invalid")

        preview = plan_execution(dry_run=True, email_block="plan-mail")
        assert preview["counts"] == {"would_execute": 2} and not smtp.state.messages
        assert plans.get(opened.plan.id).status is PlanStatus.APPROVED

        done = plan_execution(email_block="plan-mail")
        assert done["counts"] == {"executed": 2} and done["purchase_orders"] == [number]
        again = plan_execution(email_block="plan-mail")
        assert again["counts"] == {} and len(smtp.state.messages) == 1

    numbers = Counter(i["merchantInboundNumber"] for i in data.ffn.inbounds.values())
    assert numbers[number] == 1
    final = plans.get(opened.plan.id)
    assert final.status is PlanStatus.DONE
    assert {line.status for line in final.lines} == {LineStatus.EXECUTED}
    store.dispose()

    async def artifacts() -> list[tuple[str, Any]]:
        async with get_client() as client:
            return [
                (a.key, a.data) for a in await client.read_artifacts(sort=ArtifactSort.CREATED_DESC) if a.key
            ]

    found = anyio.run(artifacts)
    assert {"plan-execution-summary", "plan-execution-lines"} <= {key for key, _ in found}
    summaries = [str(data) for key, data in found if key == "plan-execution-summary"]
    assert any(number in text for text in summaries)  # the run that executed it says so


def _approved_plan(flow_sandbox: FlowSandbox, plans: PlanStore, period: str) -> tuple[int, str, list[str]]:
    data = flow_sandbox.state.data
    warehouse = sorted(data.ffn.warehouses)[0]
    skus = sorted(p["merchantSku"] for p in data.ffn.products.values())[:2]
    opened = plans.create_or_get("restock", PlanScope(warehouses=(warehouse,), supplier="L10001"), period)
    plans.add_lines(opened.plan.id, [NewLine(sku=s, warehouse=warehouse, quantity=4) for s in skus])
    plans.approve(opened.plan.id, "buyer")
    return opened.plan.id, warehouse, skus


async def _summaries() -> list[str]:
    async with get_client() as client:
        return [
            str(a.data)
            for a in await client.read_artifacts(sort=ArtifactSort.CREATED_DESC)
            if a.key == "plan-execution-summary"
        ]


def test_the_inbound_control_sheet_of_the_block_is_filled_once(flow_sandbox: FlowSandbox) -> None:
    from blocks import InboundControlSheet
    from jtl_automator.sandbox.data import Spreadsheet, Worksheet
    from jtl_automator.services.plan_execution import PlanExecutionParams

    header = ["SKU", "Units", "Inbound", "Warehouse", "Status", "Note"]
    tab = Worksheet("Wareneingang", 0, [["Anlieferungen"], header], row_count=50)
    flow_sandbox.state.data.spreadsheets["ic-flow"] = Spreadsheet("ic-flow", "Inbound Control", [tab])
    InboundControlSheet(sheet="ic-flow", worksheet="Wareneingang").save("ic-flow", overwrite=True)
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    plans = PlanStore(store)
    plan_id, warehouse, skus = _approved_plan(flow_sandbox, plans, "2026-W48")
    number = f"PO-{plan_id}-L10001"
    blocks: dict[str, Any] = {
        "inbound_sheet_block": "ic-flow",
        "params": PlanExecutionParams(send_email=False),
    }

    preview = plan_execution(dry_run=True, **blocks)
    assert preview["inbound_control"]["summary"] == (
        "Inbound Control (dry run): 2 rows would be appended (0 already there)"
    )
    assert len(tab.values) == 2 and flow_sandbox.sheets_requests("values.append") == 0

    done = plan_execution(**blocks)
    assert done["inbound_control"]["summary"] == "Inbound Control: 2 rows appended (0 already there)"
    assert [row[:4] for row in tab.values[2:]] == [[s, 4, number, warehouse] for s in skus]
    again = plan_execution(**blocks)
    assert again["counts"] == {} and again["inbound_control"]["appended"] == 0
    assert len(tab.values) == 4 and flow_sandbox.sheets_requests("values.append") == 1
    records = [
        ((line.execution and line.execution.extra) or {}).get("inbound_control")
        for line in plans.get(plan_id).lines
    ]
    assert [(r or {}).get("sheet") for r in records] == ["ic-flow", "ic-flow"]
    store.dispose()
    assert any("Inbound Control: 2 rows appended (0 already there)" in text for text in anyio.run(_summaries))


def test_a_sheet_without_the_header_fails_the_run_but_the_plan_stays_executed(
    flow_sandbox: FlowSandbox,
) -> None:
    import openpyxl

    from jtl_automator.services.plan_execution import InboundControlNotFilled, PlanExecutionParams

    path = flow_sandbox.tmp / "inbound.xlsx"
    book = openpyxl.Workbook()
    assert book.active is not None
    book.active.append(["Artikel", "Menge", "Lieferung"])
    book.save(path)
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    plans = PlanStore(store)
    plan_id, _, _ = _approved_plan(flow_sandbox, plans, "2026-W49")

    with pytest.raises(InboundControlNotFilled, match=rf"fill-inbound-control {plan_id} --sheet {path}"):
        plan_execution(inbound_sheet=str(path), params=PlanExecutionParams(send_email=False))

    assert plans.get(plan_id).status is PlanStatus.DONE
    store.dispose()
    assert any("Inbound Control not filled: worksheet 'Sheet'" in text for text in anyio.run(_summaries))


def test_movement_plans_run_through_the_same_flow(flow_sandbox: FlowSandbox) -> None:
    """A rebalance becomes an outbound plus its inbound, a return to a supplier without address an export."""
    data = flow_sandbox.state.data
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    plans = PlanStore(store)
    w1, w2 = sorted(data.ffn.warehouses)[:2]
    stocked = sorted(
        s["merchantSku"]
        for s in data.ffn.stocks.values()
        for row in s["warehouses"]
        if row["warehouseId"] == w1 and row["stockLevel"] - row.get("stockLevelReserved", 0) >= 10
    )[:2]
    moved = plans.create_or_get("rebalance", PlanScope(warehouses=(w1, w2)), "2026-W50")
    plans.add_lines(moved.plan.id, [rebalance_line(stocked[0], w1, w2, 2)])
    plans.approve(moved.plan.id, "ops")
    supplier = data.wawi.suppliers[2]
    supplier["Street"] = ""
    back = plans.create_or_get("supplier_return", PlanScope(warehouses=(w1,), supplier="L10002"), "2026-W50")
    plans.add_lines(back.plan.id, [supplier_line(stocked[1], w1, 1)])
    plans.approve(back.plan.id, "ops")
    params = PlanExecutionParams(send_email=False, export_dir=str(flow_sandbox.tmp / "exports"))

    preview = plan_execution(dry_run=True, params=params)
    assert preview["counts"] == {"would_execute": 1, "would_export": 1}
    done = plan_execution(params=params)
    assert done["counts"] == {"executed": 1, "exported": 1}
    number = f"TR-{moved.plan.id}-{w1}-{w2}"
    outbounds = [o for o in data.ffn.outbounds.values() if o["merchantOutboundNumber"] == number]
    inbounds = [i for i in data.ffn.inbounds.values() if i["merchantInboundNumber"] == number]
    assert len(outbounds) == 1 and len(inbounds) == 1 and inbounds[0]["warehouseId"] == w2
    assert (flow_sandbox.tmp / "exports" / f"RT-{back.plan.id}-L10002-{w1}.xlsx").exists()
    assert plan_execution(params=params)["counts"] == {}
    assert (
        plans.get(moved.plan.id).status is PlanStatus.DONE
        and plans.get(back.plan.id).status is PlanStatus.DONE
    )
    store.dispose()

    async def summaries() -> list[str]:
        async with get_client() as client:
            return [
                str(a.data)
                for a in await client.read_artifacts(sort=ArtifactSort.CREATED_DESC)
                if a.key == "plan-execution-summary"
            ]

    assert any(f"rebalance {number}: outbound" in text for text in anyio.run(summaries))
