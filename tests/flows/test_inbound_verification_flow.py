"""The inbound verification flow end to end: real Prefect, real HTTP to the sandbox, real files."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import ArtifactSort

from flows.inbound_verification import inbound_verification
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import INBOUND_CONTROL_SPREADSHEET_ID
from jtl_automator.sandbox.workbooks import save_as_xlsx
from jtl_automator.settings import get_settings
from jtl_automator.sheets.base import HeaderNotFound, WorksheetNotFound
from jtl_automator.store import StateStore
from tests.flows.conftest import FlowSandbox, run_concurrently, save_smtp_block

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

SHEET = INBOUND_CONTROL_SPREADSHEET_ID
TAB = "Wareneingang"
ALL = {"MATCH", "MISMATCH", "PENDING", "UNKNOWN_SKU", "INBOUND_NOT_FOUND", "INVALID_ROW"}


def grid(sandbox: FlowSandbox) -> list[list[object]]:
    return sandbox.state.data.spreadsheets[SHEET].worksheets[0].values  # type: ignore[no-any-return]


def statuses(values: list[list[object]]) -> list[str]:
    return [str(r[3]) for r in values[3:] if len(r) > 3 and r[3] not in (None, "")]


def test_google_sheet_every_status_one_batched_write(flow_sandbox: FlowSandbox) -> None:
    before = [list(r) for r in grid(flow_sandbox)]
    summary = inbound_verification(sheet=SHEET, worksheet=TAB)
    assert summary["mode"] == "inbound"
    assert {s for s, n in summary["counts"].items() if n} == ALL
    assert flow_sandbox.sheets_requests("values.batchUpdate") == 1  # one write for every row
    after = grid(flow_sandbox)
    assert set(statuses(after)) == ALL
    # Everything but Status (D) and Note (E) is untouched: titles, SKUs, units, other columns.
    for old, new in zip(before, after, strict=True):
        assert old[:3] == new[:3] and old[5:] == new[5:]
    blank = [i for i, r in enumerate(before) if i > 2 and not any(str(c).strip() for c in r)]
    assert blank and all(after[i] == before[i] for i in blank)  # blank rows stay blank


def test_xlsx_round_trip_history_and_idempotent_rerun(flow_sandbox: FlowSandbox) -> None:
    path = save_as_xlsx(flow_sandbox.state.data.spreadsheets[SHEET], flow_sandbox.tmp / "control.xlsx")
    first = inbound_verification(sheet=str(path), worksheet=TAB)
    sheet = openpyxl.load_workbook(path)[TAB]
    written = [[c.value for c in row] for row in sheet.iter_rows()]
    assert set(statuses(written)) == ALL
    source = flow_sandbox.state.data.spreadsheets[SHEET].worksheets[0].values
    text = lambda v: "" if v is None else str(v)  # noqa: E731
    # SKU, units and inbound cells come back exactly as they were (text stays text: '00123' keeps zeros).
    assert [[text(c) for c in r[:3]] for r in written] == [[text(c) for c in r[:3]] for r in source]
    second = inbound_verification(sheet=str(path), worksheet=TAB)
    assert second["counts"] == first["counts"]
    again = [[c.value for c in row] for row in openpyxl.load_workbook(path)[TAB].iter_rows()]
    # Same statuses; notes of rows still missing now say since when.
    assert statuses(again) == statuses(written)
    mismatch_notes = [str(r[4]) for r in again[3:] if r[3] == "MISMATCH"]
    assert mismatch_notes and all("since" in n for n in mismatch_notes)
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    history = store.inbound_history(str(path), [])
    assert history == {}
    with store.session() as s:
        from sqlalchemy import func, select

        from jtl_automator.store.models import InboundCheck

        runs = s.execute(select(func.count(func.distinct(InboundCheck.run_id)))).scalar_one()
    assert runs == 2


def test_dry_run_writes_nothing(flow_sandbox: FlowSandbox) -> None:
    before = [list(r) for r in grid(flow_sandbox)]
    summary = inbound_verification(sheet=SHEET, worksheet=TAB, dry_run=True)
    assert summary["dry_run"] and summary["cells_written"] == 0 and summary["rows"] > 0
    assert grid(flow_sandbox) == before
    assert flow_sandbox.sheets_requests("values.batchUpdate") == 0


def test_missing_worksheet_or_header_fails_naming_it_and_writes_nothing(flow_sandbox: FlowSandbox) -> None:
    with pytest.raises(WorksheetNotFound, match="Lager"):
        inbound_verification(sheet=SHEET, worksheet="Lager")
    grid(flow_sandbox)[2][1] = "Stück"  # someone renamed the Units header
    with pytest.raises(HeaderNotFound, match="Units"):
        inbound_verification(sheet=SHEET, worksheet=TAB)
    assert flow_sandbox.sheets_requests("values.batchUpdate") == 0


FFN_FAULTS = {
    # Tokens dying every 7th request while 8 of 15 pages are on the wire: retries meet the next expiry.
    "expired-tokens-mid-run": {
        "fault": "expire_tokens",
        "route": "/api/v1/merchant",
        "every": 7,
        "page_size": 10,
    },
    # Every third request: a token cannot outlive 8 parallel reads, so this one reads page by page.
    "expired-tokens-every-third-request": {
        "fault": "expire_tokens",
        "route": "/api/v1/merchant",
        "every": 3,
        "in_flight": 1,
    },
    "ffn-429": {"fault": "rate_limit", "route": "/api/v1/merchant", "limit": 2, "window_seconds": 1},
    "ffn-5xx": {"fault": "error", "route": "/api/v1/merchant", "every": 2, "statuses": (500, 502, 503)},
    "ffn-dropped-connections": {"fault": "drop", "route": "/api/v1/merchant", "every": 3},
}


@pytest.mark.parametrize("rule", list(FFN_FAULTS.values()), ids=list(FFN_FAULTS))
def test_ffn_faults_mid_run_do_not_change_the_outcome(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch, rule: dict[str, object]
) -> None:
    from jtl_automator.sandbox.faults import FaultProfile, FaultRule

    rule = dict(rule)
    # 150 products -> 8 pages of 20: faults land mid-read
    monkeypatch.setenv("JTL_FFN_PAGE_SIZE", str(rule.pop("page_size", 20)))
    monkeypatch.setenv("JTL_FFN_MAX_IN_FLIGHT", str(rule.pop("in_flight", 8)))
    get_settings.cache_clear()
    clean = inbound_verification(sheet=SHEET, worksheet=TAB, dry_run=True)
    flow_sandbox.set_faults(FaultProfile(name="test", rules=(FaultRule(**rule),)))  # type: ignore[arg-type]
    summary = inbound_verification(sheet=SHEET, worksheet=TAB)
    assert summary["counts"] == clean["counts"]
    assert flow_sandbox.state.runtime["faults"][str(rule["fault"])] > 0, "the fault never fired"
    assert set(statuses(grid(flow_sandbox))) == ALL


def test_sheets_429_and_5xx_are_retried(flow_sandbox: FlowSandbox) -> None:
    from jtl_automator.sandbox.faults import FaultProfile, FaultRule

    flow_sandbox.set_faults(
        FaultProfile(
            name="sheets-trouble",
            rules=(
                FaultRule(fault="error", route="/sheets/v4", every=2, statuses=(503,)),
                FaultRule(fault="rate_limit", route="/sheets/v4", limit=2, window_seconds=1),
            ),
        )
    )
    summary = inbound_verification(sheet=SHEET, worksheet=TAB)
    faults = flow_sandbox.state.runtime["faults"]
    assert faults["error"] > 0 and faults["rate_limit"] > 0
    assert {s for s, n in summary["counts"].items() if n} == ALL
    assert set(statuses(grid(flow_sandbox))) == ALL


def test_edits_during_the_run_are_rechecked_before_the_write(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone edits the sheet between our read and our write: a row inserted above others shifts them,
    a units cell is corrected, a row is added at the end, another column is edited."""
    from jtl_automator.services import inbound_verification as svc

    clean = inbound_verification(sheet=SHEET, worksheet=TAB, dry_run=True)
    original = svc.write_results
    before = [list(r) for r in grid(flow_sandbox)]
    expected: dict[str, str] = {}

    def edit_then_write(*args: object, **kwargs: object) -> object:
        results = args[2]
        expected.update({f"{r.sku}|{r.inbound_ref}": r.status for r in results.itertuples()})  # type: ignore[attr-defined]
        rows = grid(flow_sandbox)
        rows[3][5] = "Neuer Lieferant GmbH"  # column F, edited by a colleague
        rows[4][1] = "999"  # a units cell corrected meanwhile: its status would be stale
        rows.insert(4, ["EINGEFÜGT-1", "3", "ANL-2026-0004", "", ""])  # everything below moves down
        rows.append(["NEU-1", "3", "ANL-2026-0004", "", "", "", "", "xy"])  # a row added at the end
        book = flow_sandbox.state.data.spreadsheets[SHEET].worksheets[0]
        book.row_count += 2
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(svc, "write_results", edit_then_write)
    summary = inbound_verification(sheet=SHEET, worksheet=TAB)
    rows = grid(flow_sandbox)
    assert rows[3][5] == "Neuer Lieferant GmbH" and rows[5][1] == "999"
    assert not str(rows[5][3])  # the edited row: not written, reported
    assert rows[4][:3] == ["EINGEFÜGT-1", "3", "ANL-2026-0004"] and not str(rows[4][3])
    assert rows[-1][:3] == ["NEU-1", "3", "ANL-2026-0004"] and not str(rows[-1][3])
    landed = {
        f"{str(r[0]).strip()}|{str(r[2]).strip()}": str(r[3])
        for i, r in enumerate(rows)
        if i > 2 and len(r) > 3 and str(r[3]) and i != 5
    }
    assert landed and all(expected[key] == status for key, status in landed.items())
    assert summary["rows_not_written"] == 1 and summary["rows_moved"] > 0
    assert summary["rows_added_during_run"] == 2
    assert summary["counts"] == clean["counts"]
    assert len(before) + 2 == len(rows)


def test_a_sheet_with_only_its_header_is_a_normal_run(flow_sandbox: FlowSandbox) -> None:
    """Issue 9: an empty FFN answer crashed the booked-items frame."""
    book = flow_sandbox.state.data.spreadsheets[SHEET].worksheets[0]
    del book.values[3:]
    summary = inbound_verification(sheet=SHEET, worksheet=TAB)
    assert summary["rows"] == 0 and summary["cells_written"] == 0
    assert sum(summary["counts"].values()) == 0


def test_artifacts_are_published(flow_sandbox: FlowSandbox) -> None:
    inbound_verification(sheet=SHEET, worksheet=TAB)

    async def keys() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts(sort=ArtifactSort.CREATED_DESC) if a.key}

    import anyio

    found = anyio.run(keys)
    assert {"inbound-verification-summary", "inbound-verification-exceptions"} <= found


def test_two_runs_at_once_write_consistent_results(flow_sandbox: FlowSandbox) -> None:
    results = run_concurrently(lambda: inbound_verification(sheet=SHEET, worksheet=TAB), timeout=120)
    assert results[0]["counts"] == results[1]["counts"]
    assert set(statuses(grid(flow_sandbox))) == ALL


def test_stock_mode(flow_sandbox: FlowSandbox) -> None:
    summary = inbound_verification(sheet=SHEET, worksheet=TAB, mode="stock")
    assert summary["mode"] == "stock" and summary["rows"] > 0
    assert "MATCH" in summary["counts"]


def test_checked_at_column_is_filled_when_present(flow_sandbox: FlowSandbox) -> None:
    rows = grid(flow_sandbox)
    rows[2][7] = "Checked"  # the team renamed column H to the run timestamp column
    started = datetime.now(UTC)
    inbound_verification(sheet=SHEET, worksheet=TAB)
    stamps = [str(r[7]) for r in grid(flow_sandbox)[3:] if len(r) > 7 and str(r[3])]
    assert stamps and all(datetime.fromisoformat(s) >= started.replace(microsecond=0) for s in stamps)


def test_path_with_unknown_extension_is_treated_as_spreadsheet_id(
    flow_sandbox: FlowSandbox, tmp_path: Path
) -> None:
    from jtl_automator.sheets.gsheets import SpreadsheetNotFound

    with pytest.raises(SpreadsheetNotFound):
        inbound_verification(sheet="no-such-spreadsheet", worksheet=TAB)


def test_mismatches_notify_once_per_run_by_email_and_webhook(flow_sandbox: FlowSandbox) -> None:
    import http.server
    import json

    from pydantic import SecretStr

    from blocks import WebhookEndpoint
    from jtl_automator.sandbox.smtp import SmtpTestServer

    hooks: list[dict[str, object]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hooks.append({"key": self.headers["Idempotency-Key"], "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with SmtpTestServer() as smtp:
        save_smtp_block("mail", smtp, sender="ops@example.invalid")
        WebhookEndpoint(
            url=f"http://127.0.0.1:{receiver.server_address[1]}/hook", auth="hmac", secret=SecretStr("k")
        ).save("hook", overwrite=True)
        for _ in range(2):
            inbound_verification(
                sheet=SHEET,
                worksheet=TAB,
                email_block="mail",
                email_to=["team@example.invalid"],
                webhook_block="hook",
            )
        messages = smtp.state.messages
    receiver.shutdown()
    assert len(messages) == 2 and len(hooks) == 2  # one of each per run
    assert hooks[0]["key"] != hooks[1]["key"]
    assert hooks[0]["body"]["event"] == "inbound_verification.mismatches"  # type: ignore[index]
    assert b"need a look" in messages[0].data


def test_sheet_settings_block_supplies_sheet_tab_and_columns(flow_sandbox: FlowSandbox) -> None:
    from blocks import InboundControlSheet

    rows = grid(flow_sandbox)
    rows[2][3], rows[2][4] = "Ergebnis", "Hinweis"  # the team's German headers for status and note
    InboundControlSheet(sheet=SHEET, worksheet=TAB, status_column="Ergebnis", note_column="Hinweis").save(
        "inbound-control", overwrite=True
    )
    summary = inbound_verification(sheet_block="inbound-control")
    assert summary["rows"] > 0 and set(statuses(grid(flow_sandbox))) == ALL
    with pytest.raises(ValueError, match="sheet settings block"):
        inbound_verification()


@pytest.mark.parametrize("flow_sandbox", [SandboxConfig.strictest()], ids=["strictest"], indirect=True)
def test_the_flow_passes_under_the_strictest_sandbox_with_googles_quotas(flow_sandbox: FlowSandbox) -> None:
    """Google's 60 reads and 60 writes a minute, 10 MiB bodies: two runs, no self-made 429."""
    for _ in range(2):
        summary = inbound_verification(sheet=SHEET, worksheet=TAB)
        assert {s for s, n in summary["counts"].items() if n} == ALL
    assert flow_sandbox.state.runtime.requests["by_status"].get("429", 0) == 0
    assert flow_sandbox.sheets_requests("values.batchUpdate") == 2
