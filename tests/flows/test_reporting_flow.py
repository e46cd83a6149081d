"""The report flow end to end: real Prefect, the sandbox's FFN, Wawi and Sheets over HTTP, SQLite, SMTP."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import openpyxl
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import ArtifactSort

from flows.order_processing import order_processing
from flows.reporting import report
from jtl_automator.reports.periods import berlin_day
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, INVOICE_METHOD_ID
from jtl_automator.sandbox.sheets import new_spreadsheet
from jtl_automator.sandbox.smtp import SmtpTestServer
from jtl_automator.services.order_processing import OrderProcessingParams
from jtl_automator.store import StateStore
from jtl_automator.transforms import ValidationParams
from tests.flows.conftest import FlowSandbox, save_smtp_block

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

WEEK = "2026-W46"  # the generated orders lie in the ten days before 2026-11-16


def _process_orders() -> None:
    params = OrderProcessingParams(
        validation=ValidationParams(invoice_payment_method_ids=frozenset({INVOICE_METHOD_ID}))
    )
    done = order_processing(since=DEFAULT_BASE_DATE - timedelta(days=11), params=params)
    assert done["counts"]["created"] > 0


async def _artifacts() -> dict[str, Any]:
    async with get_client() as client:
        return {
            a.key: a
            for a in reversed(await client.read_artifacts(sort=ArtifactSort.CREATED_DESC))
            if a.key and a.key.startswith("report-")
        }


def test_weekly_report_to_workbook_sheet_mail_history_and_artifacts(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    _process_orders()
    book = new_spreadsheet("Reports", {"Notes": [["keep me"]]})
    with flow_sandbox.state.data.lock:
        flow_sandbox.state.data.spreadsheets[book.spreadsheet_id] = book
    out = flow_sandbox.tmp / "reports"
    with SmtpTestServer() as smtp:
        save_smtp_block("report-mail", smtp, sender="reports@example.invalid")
        dry = report(name="weekly", period=WEEK, dry_run=True, output_dir=str(out))
        assert dry["dry_run"] and (out / "weekly" / f"{WEEK}.xlsx").is_file()
        store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
        assert store.kpi_history("weekly") == []  # a dry run keeps nothing

        kwargs: dict[str, Any] = {
            "name": "weekly",
            "period": WEEK,
            "output_dir": str(out),
            "spreadsheet": book.spreadsheet_id,
            "recipients": ["team@example.invalid", "lead@example.invalid"],
            "email_block": "report-mail",
        }
        done = report(**kwargs)
        again = report(**kwargs)
        assert done["mail"]["sent"] is True and again["mail"]["sent"] is False  # same figures: once
        assert len(smtp.state.messages) == 1
        received = smtp.state.messages[0]
        assert sorted(received.rcpt_to) == ["lead@example.invalid", "team@example.invalid"]
        message = email.message_from_bytes(received.data.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert message["Subject"] == "Weekly KPIs 2026-W46"
        body = message.get_body(preferencelist=("plain",))
        assert body is not None and "Revenue net" in body.get_content()
        assert [a.get_filename() for a in message.iter_attachments()] == [f"weekly-{WEEK}.xlsx"]

    value = {k["key"]: k for k in done["kpis"]}
    assert value["orders"]["value"] > 0 and value["revenue_net"]["value"] > 0
    assert value["stock_value"]["value"] > 0  # FFN stock at Wawi purchase prices, read over HTTP
    # Wawi's returns were read (over HTTP), but no outbound order processing made has shipped yet: the
    # rate has nothing to divide by and says so
    assert value["return_rate"]["value"] is None
    assert (
        value["return_rate"]["missing"]
        == "no order was shipped in this period: nothing to set the returns against"
    )
    history = store.kpi_history("weekly")
    assert {r.period for r in history} == {WEEK} and len(history) == done["history_rows"]
    store.dispose()

    titles = [w.title for w in flow_sandbox.state.data.spreadsheets[book.spreadsheet_id].worksheets]
    assert titles == ["Weekly KPIs", "Notes"]  # the report's tab first; a person's tab kept
    tab = flow_sandbox.state.data.spreadsheets[book.spreadsheet_id].worksheets[0].values
    assert tab[0][0] == "Weekly KPIs 2026-W46" and tab[3][:2] == ["Figure", "Value"]
    assert tab[4][0] == "Revenue net" and tab[4][1] == pytest.approx(value["revenue_net"]["value"])

    workbook = openpyxl.load_workbook(done["workbook"])
    assert workbook["Summary"]["B5"].value == pytest.approx(value["revenue_net"]["value"])
    found = anyio.run(_artifacts)
    for key in (
        "report-weekly",
        "report-weekly-sales-by-day",
        "report-weekly-top-revenue",
        "report-weekly-workbook",
    ):
        assert key in found, sorted(found)
    assert found["report-weekly-revenue-and-orders"].type == "image"
    assert "Revenue net" in str(found["report-weekly"].data)


@flow(name="always-fails")
def _always_fails() -> None:
    raise RuntimeError("boom")


def test_daily_report_lists_the_failed_runs_of_its_day_and_a_backfill_covers_a_range(
    flow_sandbox: FlowSandbox,
) -> None:
    with pytest.raises(RuntimeError):
        _always_fails()
    today = berlin_day(datetime.now(UTC)).isoformat()
    out = flow_sandbox.tmp / "reports"
    daily = report(name="daily", period=today, output_dir=str(out))
    runs = daily["tables"]["failed_runs"]
    assert runs is not None and runs >= 1
    failed = next(k for k in daily["kpis"] if k["key"] == "failed_runs")
    assert failed["value"] >= 1
    book = openpyxl.load_workbook(daily["workbook"])
    assert "always-fails" in [c.value for c in book["Failed flow runs"]["A"]]

    from prefect.filesystems import LocalFileSystem

    LocalFileSystem(basepath=str(flow_sandbox.tmp / "files")).save("report-files", overwrite=True)
    backfill = report(
        name="daily",
        period="2026-11-10",
        until="2026-11-12",
        output_dir=str(out),
        storage_block="local-file-system/report-files",
    )
    assert backfill["periods"] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    assert all((out / "daily" / f"{p}.xlsx").is_file() for p in backfill["periods"])
    stored = flow_sandbox.tmp / "files" / "daily" / "2026-11-12.xlsx"  # also in the storage block
    assert stored.read_bytes() == (out / "daily" / "2026-11-12.xlsx").read_bytes()
    held = next(k for k in backfill["runs"][0]["kpis"] if k["key"] == "held_orders")
    assert held["value"] is None and held["missing"].startswith("a snapshot of the moment the report runs")
