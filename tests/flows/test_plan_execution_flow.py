"""The plan-execution flow end to end: real Prefect, real HTTP to the sandbox, SQLite, a real SMTP server."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest
from prefect.client.orchestration import get_client

from flows.plan_execution import plan_execution
from jtl_automator.plans import LineStatus, NewLine, PlanScope, PlanStatus, PlanStore
from jtl_automator.store import StateStore
from tests.flows.conftest import FlowSandbox, save_smtp_block
from tests.notify.smtp_server import SmtpTestServer

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
            return [(a.key, a.data) for a in await client.read_artifacts() if a.key]

    found = anyio.run(artifacts)
    assert {"plan-execution-summary", "plan-execution-lines"} <= {key for key, _ in found}
    summaries = [str(data) for key, data in found if key == "plan-execution-summary"]
    assert any(number in text for text in summaries)  # the run that executed it says so
