"""The replenishment flow end to end: real Prefect, real HTTP to the sandbox, a real SQLite plan store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import ArtifactSort

from flows.replenishment import replenishment
from jtl_automator.plans import PlanStore
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE
from jtl_automator.sandbox.sheets import new_spreadsheet
from jtl_automator.sandbox.smtp import SmtpTestServer
from jtl_automator.services.replenishment.output import APPROVAL_HEADER
from jtl_automator.settings import get_settings
from jtl_automator.store import StateStore
from tests.flows.conftest import FlowSandbox, save_smtp_block

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

AS_OF = (DEFAULT_BASE_DATE + timedelta(days=1)).date()  # the generated orders lie just before


def test_dry_run_then_run_then_rerun_with_artifacts(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JTL_WAWI_RATE_PER_SECOND", "500")
    monkeypatch.setenv("JTL_FFN_RATE_PER_SECOND", "500")
    get_settings.cache_clear()
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    plans = PlanStore(store)

    dry = replenishment(dry_run=True, as_of=AS_OF, output=str(flow_sandbox.tmp / "dry.xlsx"))
    assert dry["dry_run"] and dry["statuses"].get("order", 0) > 0 and dry["plans"] == []
    assert (flow_sandbox.tmp / "dry.xlsx").is_file() and plans.list_plans() == []

    done = replenishment(as_of=AS_OF, output=str(flow_sandbox.tmp / "run.xlsx"))
    made = plans.list_plans(kind="restock")
    assert len(made) == len(done["plans"]) > 0 and {p.period for p in made} == {done["period"]}
    again = replenishment(as_of=AS_OF, output=str(flow_sandbox.tmp / "again.xlsx"))
    assert [p["plan_id"] for p in again["plans"]] == [p["plan_id"] for p in done["plans"]]
    assert len(plans.list_plans(kind="restock")) == len(made)  # the rerun updated the drafts

    async def artifacts() -> dict[str, Any]:
        async with get_client() as client:
            newest_last = reversed(await client.read_artifacts(sort=ArtifactSort.CREATED_DESC))
            return {a.key: a.data for a in newest_last if a.key}

    # The same tabs into a Google Sheet (the sandbox's, through gspread and the service-account key the
    # fixture configured), and approvals ticked there come back into the plans.
    book = new_spreadsheet("Bestellvorschlag", {"Sheet1": []})
    with flow_sandbox.state.data.lock:
        flow_sandbox.state.data.spreadsheets[book.spreadsheet_id] = book
    sheeted = replenishment(
        as_of=AS_OF, output=str(flow_sandbox.tmp / "sheet.xlsx"), bestellvorschlag_sheet=book.spreadsheet_id
    )
    titles = [w.title for w in flow_sandbox.state.data.spreadsheets[book.spreadsheet_id].worksheets]
    assert sheeted["plans"] and len(titles) > 1 and "Sheet1" in titles
    supplier_tabs = [
        w
        for w in flow_sandbox.state.data.spreadsheets[book.spreadsheet_id].worksheets
        if w.values and APPROVAL_HEADER in [str(v) for v in w.values[0]]
    ]
    assert supplier_tabs, titles

    # The workbook to purchasing through a saved SmtpServer block: once for this version of the proposal.
    with SmtpTestServer() as smtp:
        save_smtp_block("purchasing-mail", smtp, sender="disposition@example.invalid")
        mailed = replenishment(
            as_of=AS_OF,
            output=str(flow_sandbox.tmp / "mail.xlsx"),
            purchasing_email="einkauf@example.invalid",
            email_block="purchasing-mail",
        )
        assert mailed["mail"]["sent"] is True and len(smtp.state.messages) == 1
        again = replenishment(
            as_of=AS_OF,
            output=str(flow_sandbox.tmp / "mail-again.xlsx"),
            purchasing_email="einkauf@example.invalid",
            email_block="purchasing-mail",
        )
        assert again["mail"]["sent"] is False and len(smtp.state.messages) == 1

    found = anyio.run(artifacts)
    assert {"replenishment-summary", "replenishment-lines"} <= set(found)
    assert "Replenishment" in str(found["replenishment-summary"])
    store.dispose()
