"""GoogleSheetsBackend: the real gspread library against the sandbox Sheets API over loopback HTTP."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from jtl_automator.resilience import RetryPolicy, TransientFailure
from jtl_automator.sheets import (
    CellUpdate,
    GoogleSheetsBackend,
    HeaderNotFound,
    SheetApiError,
    SheetAuthError,
    SheetRateLimited,
    SheetUnavailable,
    SpreadsheetNotFound,
    WorksheetNotFound,
)
from jtl_automator.sheets.gsheets import GOOGLE_SHEETS_ROOT

TAB = "Inbound Control"
ROWS: list[list[Any]] = [
    ["Wareneingang KW 12 – Lager Süd"],
    ["Stand: 2024-05-01", "", "Bearbeiter: Jörg"],
    [],
    ["SKU", "Units", "Status", "Note"],
    ["00123", "12", "", ""],
    ["ÄÖÜ-1", 5, "", ""],
    [],
    ["SKU-3", 2.5, "", ""],
]


def policy(clock, **overrides) -> RetryPolicy:
    """The default Sheets policy with the fake clock and no jitter (each delay is its cap)."""
    settings: dict[str, Any] = {
        "max_attempts": 8,
        "initial_delay": 1.0,
        "max_delay": 64.0,
        "budget_seconds": 300.0,
    }
    settings.update(overrides)
    return RetryPolicy(**settings, sleep=clock.sleep, clock=clock, jitter=lambda: 1.0, wall_clock=clock)


@pytest.fixture
def book(sheets_sandbox):
    return sheets_sandbox.add_spreadsheet({TAB: [list(r) for r in ROWS], "Other": [["x"]]})


@pytest.fixture
def backend(sheets_sandbox, book):
    return GoogleSheetsBackend(
        book,
        sheets_sandbox.service_account,
        api_url=sheets_sandbox.api_url,
        retry=policy(sheets_sandbox.clock),
    )


@pytest.mark.slow
def test_read_frame_with_title_rows_above_the_header(sheets_sandbox, backend):
    assert backend.worksheet_names() == [TAB, "Other"]
    frame = backend.read_frame(TAB, header_names=["SKU", "Units"])
    assert frame.header_row == 4
    assert frame.columns == {"SKU": "A", "Units": "B", "Status": "C", "Note": "D"}
    assert list(frame.data.index) == [5, 6, 8]
    assert frame.data["SKU"].tolist() == ["00123", "ÄÖÜ-1", "SKU-3"]
    assert frame.data["Units"].tolist() == ["12", "5", "2.5"]  # numbers come back as text, 5 not 5.0
    assert sheets_sandbox.requests()["values.get"] == 1


@pytest.mark.slow
def test_ten_thousand_status_cells_are_one_batch_update(sheets_sandbox, book, backend):
    rows = [["SKU", "Units", "Status"]] + [[f"{i:05d}", str(i % 7)] for i in range(10_000)]
    sheets_sandbox.state.data.spreadsheets[book].worksheets[0].values = rows
    sheets_sandbox.state.data.spreadsheets[book].worksheets[0].row_count = 10_001
    frame = backend.read_frame(TAB, header_names=["SKU", "Status"])
    assert len(frame.data) == 10_000
    sheets_sandbox.reset_counters()

    statuses = ["MATCH" if i % 3 else "MISMATCH" for i in range(10_000)]
    updates = frame.column_cells("Status", dict(zip(frame.data.index, statuses, strict=True)))
    assert backend.write_cells(TAB, updates) == 10_000

    assert sheets_sandbox.requests() == {"values.batchUpdate": 1}
    stored = sheets_sandbox.values(book, TAB)
    assert [row[2] for row in stored[1:]] == statuses
    assert stored[1][0] == "00000"


def test_raw_writes_keep_leading_zeros_and_types(sheets_sandbox, book, backend):
    frame = backend.read_frame(TAB, header_names=["SKU"])
    backend.write_cells(
        TAB,
        [
            frame.cell(5, "Note", "00123"),
            frame.cell(6, "Note", "=SUM(A1:A2)"),
            frame.cell(8, "Note", "TRUE"),
            frame.cell(5, "Status", 42),
            frame.cell(6, "Status", 1.5),
        ],
    )
    stored = sheets_sandbox.values(book, TAB)
    assert stored[4][3] == "00123"
    assert stored[5][3] == "=SUM(A1:A2)"
    assert stored[7][3] == "TRUE"  # RAW: text, not the boolean USER_ENTERED would make of it
    assert stored[4][2] == 42 and stored[5][2] == 1.5
    again = backend.read_frame(TAB, header_names=["SKU"])
    assert again.data.loc[5, "Note"] == "00123"
    assert again.data.loc[5, "Status"] == "42"


@pytest.mark.slow
def test_write_column_range_and_writes_past_the_grid(sheets_sandbox, book, backend):
    backend.write_column_range(TAB, "C", 5, ["MATCH", "PENDING"])
    assert [r[2] for r in sheets_sandbox.values(book, TAB)[4:6]] == ["MATCH", "PENDING"]
    sheets_sandbox.reset_counters()
    backend.write_cells(TAB, [CellUpdate(1500, "AB", "far away")])  # new tab is 1000 x 26
    assert sheets_sandbox.values(book, TAB)[1499][27] == "far away"
    assert sheets_sandbox.requests() == {"spreadsheets.batchUpdate": 1, "values.batchUpdate": 1}


@pytest.mark.slow
def test_many_separate_ranges_are_chunked(sheets_sandbox, book):
    backend = GoogleSheetsBackend(
        book, sheets_sandbox.service_account, api_url=sheets_sandbox.api_url, max_ranges_per_request=2
    )
    backend.worksheet_names()
    sheets_sandbox.reset_counters()
    written = backend.write_cells(TAB, [CellUpdate(row, "C", f"r{row}") for row in (5, 6, 8, 10, 12, 14)])
    assert written == 6
    assert sheets_sandbox.requests() == {"values.batchUpdate": 3}  # ranges C5:C6, C8, C10, C12, C14
    stored = sheets_sandbox.values(book, TAB)
    assert [stored[r - 1][2] for r in (5, 6, 8, 10, 12, 14)] == ["r5", "r6", "r8", "r10", "r12", "r14"]


def test_append_rows(sheets_sandbox, book, backend):
    first = backend.append_rows(TAB, [["00777", "3", "NEW"], ["SKU-9", 1]])
    assert first == 9
    stored = sheets_sandbox.values(book, TAB)
    assert stored[8][:3] == ["00777", "3", "NEW"] and stored[9][:2] == ["SKU-9", 1]
    frame = backend.read_frame(TAB, header_names=["SKU"])
    assert frame.data.loc[9, "SKU"] == "00777"


@pytest.mark.slow
def test_missing_worksheet_header_and_spreadsheet(sheets_sandbox, book, backend):
    with pytest.raises(WorksheetNotFound) as caught:
        backend.read_frame("Inbound")
    assert "'Inbound'" in str(caught.value) and "'Inbound Control'" in str(caught.value)
    with pytest.raises(WorksheetNotFound):
        backend.write_cells("Nope", [CellUpdate(1, "A", "x")])
    with pytest.raises(HeaderNotFound) as missing:
        backend.read_frame(TAB, header_names=["SKU", "Menge"])
    assert missing.value.missing == ("Menge",) and missing.value.worksheet == TAB
    assert backend.read_frame("inbound control", header_row=4).columns["SKU"] == "A"  # Google ignores case
    other = GoogleSheetsBackend("no-such-id", sheets_sandbox.service_account, api_url=sheets_sandbox.api_url)
    with pytest.raises(SpreadsheetNotFound, match="404"):
        other.read_frame(TAB)


@pytest.mark.slow
def test_quota_burst_is_absorbed_by_backoff(sheets_sandbox, book, backend, caplog):
    sheets_sandbox.state.config.sheets_requests_per_minute = 3  # per bucket: reads and writes apart
    clock = sheets_sandbox.clock
    caplog.set_level(logging.WARNING, "jtl_automator.sheets.google")
    for i in range(6):  # metadata + 6 reads (7 reads) and 6 writes, 3 of each allowed per minute
        frame = backend.read_frame(TAB, header_names=["SKU"])
        backend.write_cells(TAB, [frame.cell(5, "Status", f"run {i}")])
    assert sheets_sandbox.values(book, TAB)[4][2] == "run 5"
    assert backend.stats.rate_limited > 0
    assert backend.stats.rate_limited == backend.stats.retries
    assert clock.sleeps and all(d <= 64 for d in clock.sleeps)
    assert clock.now - 1_000.0 >= 60 * 2  # the 7 reads: the read window really had to pass twice
    assert "reason=429" in caplog.text


@pytest.mark.slow
def test_quota_exhausted_beyond_budget_raises_rate_limited(sheets_sandbox, book):
    sheets_sandbox.state.config.sheets_requests_per_minute = 1
    tight = GoogleSheetsBackend(
        book,
        sheets_sandbox.service_account,
        api_url=sheets_sandbox.api_url,
        retry=policy(sheets_sandbox.clock, max_attempts=3),
    )
    with pytest.raises(SheetRateLimited, match=r"429.*Quota exceeded") as caught:
        tight.read_frame(TAB)
    assert caught.value.status == 429
    assert isinstance(caught.value, TransientFailure)  # a task retry may still get through
    assert sheets_sandbox.clock.sleeps == [1.0, 2.0]


@pytest.fixture
def faults(sheets_sandbox):
    """Installs a fault profile on the sandbox (the full app's fault middleware) and removes it after."""
    try:
        from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
    except ImportError as exc:
        pytest.skip(f"sandbox fault injection not importable: {exc}")
    if not sheets_sandbox.full_app:
        pytest.skip("sandbox app without fault middleware (create_app/serve_in_thread not importable)")
    state = sheets_sandbox.state

    def install(*rules: dict) -> dict[str, int]:
        set_profile(state, FaultProfile(name="test", rules=tuple(FaultRule(**r) for r in rules)))
        counters: dict[str, int] = state.runtime["faults"]
        return counters

    yield install
    set_profile(state, "none")


VALUES_GET = r"^/sheets/v4/spreadsheets/[^/]+/values/"
BATCH_UPDATE = r"^/sheets/v4/spreadsheets/[^/]+/values:batchUpdate$"
APPEND = r"^/sheets/v4/spreadsheets/[^/]+/values/.*:append$"


def test_5xx_is_retried_for_reads_and_batch_updates(sheets_sandbox, book, backend, faults):
    counters = faults(
        {"fault": "error", "route": VALUES_GET, "methods": ["GET"], "every": 2, "statuses": [503]},
        {"fault": "error", "route": BATCH_UPDATE, "every": 2, "statuses": [500]},
    )
    for status in ("MATCH", "MISMATCH"):  # the 2nd read and the 2nd write each meet one 5xx
        frame = backend.read_frame(TAB, header_names=["SKU"])
        backend.write_cells(TAB, [frame.cell(5, "Status", status)])
    assert counters["error"] == 2
    assert backend.stats.by_status[503] == 1 and backend.stats.by_status[500] == 1
    assert backend.stats.retries == 2
    assert sheets_sandbox.clock.sleeps == [1.0, 1.0]
    assert sheets_sandbox.values(book, TAB)[4][2] == "MISMATCH"


def test_dropped_batch_update_is_resent_safely(sheets_sandbox, book, backend, faults):
    backend.worksheet_names()
    counters = faults({"fault": "drop", "route": BATCH_UPDATE, "every": 1, "after_response": True})
    with pytest.raises(SheetUnavailable, match="ChunkedEncodingError"):
        backend.write_cells(TAB, [CellUpdate(5, "C", "MATCH")])
    assert counters["drop"] == 8  # every attempt applied, every response lost: retried to the limit
    faults({"fault": "drop", "route": BATCH_UPDATE, "every": 2, "after_response": True})
    backend.write_cells(TAB, [CellUpdate(5, "C", "A")])
    backend.write_cells(TAB, [CellUpdate(5, "C", "B")])  # response lost once, the repeat is harmless
    assert sheets_sandbox.values(book, TAB)[4][2] == "B"
    assert backend.stats.transport_errors == 9


def test_append_is_not_repeated_after_a_5xx(sheets_sandbox, book, backend, faults):
    backend.worksheet_names()
    counters = faults({"fault": "error", "route": APPEND, "statuses": [503]})
    with pytest.raises(SheetUnavailable, match="503") as caught:
        backend.append_rows(TAB, [["dup?"]])
    assert caught.value.status == 503
    assert counters["error"] == 1 and sheets_sandbox.clock.sleeps == []
    assert len(sheets_sandbox.values(book, TAB)) == len(ROWS)


class RetryAfterAdapter(HTTPAdapter):
    """Answers the first matching request with a 429 carrying Retry-After (the sandbox quota sends none)."""

    def __init__(self, inner: HTTPAdapter, marker: str, retry_after: str) -> None:
        super().__init__()
        self.inner, self.marker, self.retry_after, self.sent = inner, marker, retry_after, 0

    def send(self, request, *args, **kwargs):
        if self.marker in (request.url or "") and not self.sent:
            self.sent += 1
            response = requests.Response()
            response.status_code = 429
            response.headers.update({"Content-Type": "application/json", "Retry-After": self.retry_after})
            error = {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}
            response._content = json.dumps({"error": error}).encode()
            response.url, response.request = request.url, request
            return response
        return self.inner.send(request, *args, **kwargs)


@pytest.mark.slow
def test_retry_after_is_honoured(sheets_sandbox, book, backend):
    inner = backend.session.get_adapter(GOOGLE_SHEETS_ROOT + "/")
    backend.session.mount(GOOGLE_SHEETS_ROOT + "/", RetryAfterAdapter(inner, "values:batchUpdate", "7"))
    backend.write_cells(TAB, [CellUpdate(5, "C", "MATCH")])
    assert sheets_sandbox.clock.sleeps == [7.0]
    assert sheets_sandbox.values(book, TAB)[4][2] == "MATCH"


@pytest.mark.slow
def test_credentials_never_leak(sheets_sandbox, book):
    info = dict(sheets_sandbox.service_account)
    key_body = info["private_key"].splitlines()[1]
    good = GoogleSheetsBackend(book, info, api_url=sheets_sandbox.api_url)
    assert key_body not in repr(good) and info["private_key_id"] not in repr(good)

    broken = dict(info, token_uri=sheets_sandbox.base_url + "/sheets/no-such-token-endpoint")
    backend = GoogleSheetsBackend(book, broken, api_url=sheets_sandbox.api_url)
    with pytest.raises(SheetAuthError) as caught:
        backend.read_frame(TAB)
    assert info["client_email"] in str(caught.value)
    assert key_body not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None

    with pytest.raises(SheetAuthError) as bad_key:
        GoogleSheetsBackend(book, dict(info, private_key="not a key"))
    assert "not a key" not in str(bad_key.value)


class TimeoutOnceAdapter(HTTPAdapter):
    """Raises a read timeout on the first request to ``marker``, then passes through."""

    def __init__(self, inner: HTTPAdapter, marker: str) -> None:
        super().__init__()
        self.inner, self.marker, self.fired = inner, marker, False

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if not self.fired and self.marker in (request.url or ""):
            self.fired = True
            raise requests.exceptions.ReadTimeout("read timed out (test)")
        return self.inner.send(request, *args, **kwargs)


@pytest.mark.slow
def test_timeouts_are_retried_for_reads_and_batch_updates(sheets_sandbox, book, backend):
    inner = backend.session.get_adapter(GOOGLE_SHEETS_ROOT + "/")
    for marker in ("/values/", "values:batchUpdate"):
        adapter = TimeoutOnceAdapter(inner, marker)
        backend.session.mount(GOOGLE_SHEETS_ROOT + "/", adapter)
        if marker == "/values/":
            assert backend.read_frame(TAB, header_names=["SKU"]).data["SKU"].tolist()[0] == "00123"
        else:
            backend.write_cells(TAB, [CellUpdate(5, "C", "MATCH")])
        assert adapter.fired
    assert sheets_sandbox.values(book, TAB)[4][2] == "MATCH"


def test_expired_google_token_is_refreshed(sheets_sandbox, book, backend):
    backend.read_frame(TAB, header_names=["SKU"])  # a token is issued and cached by google-auth
    token_requests = sheets_sandbox.state.runtime.get("sheets_tokens", {}).copy()
    sheets_sandbox.state.runtime["sheets_tokens"] = {}  # the server forgets (expires) every token
    backend.write_cells(TAB, [CellUpdate(5, "C", "PENDING")])  # 401 -> refresh -> same request again
    assert sheets_sandbox.values(book, TAB)[4][2] == "PENDING"
    assert set(sheets_sandbox.state.runtime["sheets_tokens"]) - set(token_requests)  # a new token was issued


def test_5xx_beyond_the_budget_is_a_transient_sheet_error(sheets_sandbox, book, faults):
    tight = GoogleSheetsBackend(
        book,
        sheets_sandbox.service_account,
        api_url=sheets_sandbox.api_url,
        retry=policy(sheets_sandbox.clock, max_attempts=3),
    )
    tight.worksheet_names()
    counters = faults({"fault": "error", "route": VALUES_GET, "methods": ["GET"], "statuses": [503]})
    with pytest.raises(SheetUnavailable, match="503") as caught:
        tight.read_frame(TAB)
    assert isinstance(caught.value, SheetApiError) and isinstance(caught.value, TransientFailure)
    assert counters["error"] == 3 and sheets_sandbox.clock.sleeps == [1.0, 2.0]


# -- column reads, column-wise writes, request and cell limits --------------------------------------


def _locate_sku(top):
    """Header = the row holding 'SKU'; read columns A and B below it."""
    found = [i for i, row in enumerate(top) if row and row[0] == "SKU"]
    if not found:
        raise HeaderNotFound(["SKU"], TAB)
    return found[0], ["A", "B"]


@pytest.mark.slow
def test_read_table_reads_the_top_then_only_the_wanted_columns(sheets_sandbox, book, backend):
    backend.worksheet_names()
    sheets_sandbox.reset_counters()
    block = backend.read_table(TAB, _locate_sku)
    assert block.header_row == 4
    assert block.header == ("SKU", "Units", "Status", "Note")
    assert block.column("A") == ["00123", "ÄÖÜ-1", "", "SKU-3"]
    assert block.column("B") == ["12", "5", "", "2.5"]
    assert sheets_sandbox.requests() == {"values.get": 1, "values.batchGet": 1}


def test_a_header_below_the_scanned_rows_is_found_in_one_more_read(sheets_sandbox, backend):
    from jtl_automator.sheets.gsheets import HEADER_SCAN_ROWS

    rows = [[f"note {i}"] for i in range(HEADER_SCAN_ROWS + 5)] + [["SKU", "Units"], ["A-1", "3"]]
    deep = sheets_sandbox.add_spreadsheet({TAB: rows})
    backend = GoogleSheetsBackend(deep, sheets_sandbox.service_account, api_url=sheets_sandbox.api_url)
    block = backend.read_table(TAB, _locate_sku)
    assert block.header_row == HEADER_SCAN_ROWS + 6 and block.column("A") == ["A-1"]
    assert sheets_sandbox.requests()["values.get"] == 2  # the top rows, then the whole tab


def test_read_columns_and_rows(sheets_sandbox, book, backend):
    columns = backend.read_columns(TAB, ["a", "C"], 1)
    assert columns["A"][:5] == ["Wareneingang KW 12 – Lager Süd", "Stand: 2024-05-01", "", "SKU", "00123"]
    assert columns["C"] == ["", "Bearbeiter: Jörg", "", "Status"]  # trailing blanks cut, as Google does
    assert backend.read_rows(TAB, 4, 4) == [["SKU", "Units", "Status", "Note"]]
    assert backend.read_rows(TAB, 2000, 2001) == []  # past the grid: nothing, not an error


def test_batch_get_5xx_is_retried(sheets_sandbox, book, backend, faults):
    counters = faults(
        {
            "fault": "error",
            "route": r"^/sheets/v4/spreadsheets/[^/]+/values:batchGet$",
            "every": 2,
            "statuses": [503],
        }
    )
    backend.read_columns(TAB, ["A"], 5)
    assert backend.read_columns(TAB, ["A"], 5)["A"][0] == "00123"
    assert counters["error"] == 1 and backend.stats.retries == 1


@pytest.mark.slow
def test_write_columns_splits_bodies_at_the_request_size_limit(sheets_sandbox, book):
    from jtl_automator.sheets.a1 import ColumnValues

    limit = 2**16
    sheets_sandbox.state.config.sheets_max_request_bytes = limit  # the sandbox refuses anything larger
    try:
        backend = GoogleSheetsBackend(
            book, sheets_sandbox.service_account, api_url=sheets_sandbox.api_url, max_request_bytes=limit
        )
        rows = list(range(5, 3005))
        notes = [f"received {i} of {i + 1} (difference -1) ä" for i in rows]
        backend.worksheet_names()
        sheets_sandbox.reset_counters()
        written = backend.write_columns(
            TAB, [ColumnValues("C", rows, ["MISMATCH"] * len(rows)), ColumnValues("D", rows, notes)]
        )
    finally:
        sheets_sandbox.state.config.sheets_max_request_bytes = None
    assert written == 6000
    requests_made = sheets_sandbox.requests()
    assert requests_made["values.batchUpdate"] > 2 and set(requests_made) == {
        "values.batchUpdate",
        "spreadsheets.batchUpdate",  # the grid grows past its 1,000 rows first
    }
    stored = sheets_sandbox.values(book, TAB)
    assert [r[3] for r in stored[4:3004]] == notes and stored[3003][2] == "MISMATCH"


@pytest.mark.slow
def test_a_cell_over_googles_limit_is_truncated_not_refused(sheets_sandbox, book, backend, caplog):
    caplog.set_level(logging.WARNING, "jtl_automator.sheets.google")
    backend.write_cells(TAB, [CellUpdate(5, "D", "x" * 60_000), CellUpdate(6, "D", "short")])
    stored = sheets_sandbox.values(book, TAB)
    assert len(stored[4][3]) == 50_000 and stored[4][3].endswith("(truncated)")
    assert stored[5][3] == "short"
    assert "1 cell(s) longer than 50000 characters truncated" in caplog.text
