"""The Sheets emulator driven by the real gspread 6.2 + google-auth over real HTTP on loopback.

gspread's ``https://sheets.googleapis.com/`` URLs are rewritten to the sandbox by a requests adapter,
and google-auth fetches its token from ``/sheets/token`` because the service-account info says so.
"""

from __future__ import annotations

import copy
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import gspread
import httpx
import jwt
import pytest
import requests
import uvicorn
from fastapi import FastAPI
from google.oauth2 import service_account
from gspread.utils import Dimension, ValueInputOption, ValueRenderOption

from jtl_automator.sandbox import sheets
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData
from tests.support.clock import FakeClock

BOOK_ID = "1InboundControlSheetId000000000000000000000"
GOOGLE = "https://sheets.googleapis.com/"


class RewriteAdapter(requests.adapters.HTTPAdapter):
    """Sends gspread's Google URLs to the sandbox instead."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = request.url.replace(GOOGLE, self.target, 1)
        return super().send(request, *args, **kwargs)


class Sandbox:
    def __init__(self, state: SandboxState, base_url: str, clock: FakeClock) -> None:
        self.state = state
        self.base_url = base_url
        self.clock = clock

    def client(
        self, info: dict[str, Any], http_client: gspread.http_client.HTTPClientType = gspread.HTTPClient
    ) -> gspread.Client:
        gc = gspread.service_account_from_dict(info, http_client=http_client)
        gc.http_client.session.mount(GOOGLE, RewriteAdapter(f"{self.base_url}/sheets/"))
        return gc

    def requests_made(self) -> dict[str, int]:
        return dict(self.state.runtime.get(sheets.REQUESTS, {}))

    def tab(self, title: str) -> list[list[Any]]:
        book = self.state.data.spreadsheets[BOOK_ID]
        return next(ws for ws in book.worksheets if ws.title == title).values


def seeded_data() -> SandboxData:
    data = SandboxData()
    data.spreadsheets[BOOK_ID] = sheets.new_spreadsheet(
        "Inbound Control",
        {
            "Inbound Control": [
                ["SKU", "Units sent", "Status", "Note"],
                ["00123", 10, "", ""],
                ["SKU-2", 5, "", ""],
                ["", "", "", ""],
                ["SKU-4", 7],
            ],
            "Config": [["key", "value"], ["warehouse", "FULF04XX-12345-0001"]],
        },
        spreadsheet_id=BOOK_ID,
    )
    return data


@pytest.fixture(autouse=True)
def no_regional_access_boundary_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """google-auth >= 2.4x looks up the service account's allowed locations at iamcredentials.googleapis.com
    in a background thread after each token refresh; sandbox accounts do not exist there."""
    monkeypatch.setattr(
        service_account.Credentials, "_is_regional_access_boundary_lookup_required", lambda self: False
    )


@pytest.fixture(scope="module")
def service_account_base() -> dict[str, Any]:
    return sheets.make_service_account_info("http://placeholder")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    clock = FakeClock()
    state = SandboxState(data=seeded_data(), config=SandboxConfig(sheets_requests_per_minute=1000))
    state.runtime[sheets.CLOCK] = clock
    app = FastAPI()
    app.include_router(sheets.build_router(state))
    sock = socket.socket()
    # Without TCP_NODELAY (inherited by accepted connections) h11's separate header/body writes meet
    # delayed ACKs and every request takes ~40 ms on loopback.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield Sandbox(state, f"http://127.0.0.1:{port}", clock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def info(sandbox: Sandbox, service_account_base: dict[str, Any]) -> dict[str, Any]:
    return {**service_account_base, "token_uri": f"{sandbox.base_url}/sheets/token"}


@pytest.fixture
def gc(sandbox: Sandbox, info: dict[str, Any]) -> gspread.Client:
    return sandbox.client(info)


def test_service_account_info_is_usable_by_google_auth() -> None:
    info = sheets.make_service_account_info("http://127.0.0.1:9999/")
    assert info["token_uri"] == "http://127.0.0.1:9999/sheets/token"
    assert info["type"] == "service_account"
    assert info["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    other = sheets.make_service_account_info("http://127.0.0.1:9999")
    assert other["private_key"] != info["private_key"]
    assert other["private_key_id"] != info["private_key_id"]


@pytest.mark.slow
def test_open_worksheet_and_read_all_values(gc: gspread.Client, sandbox: Sandbox) -> None:
    book = gc.open_by_key(BOOK_ID)
    assert book.title == "Inbound Control"
    assert [ws.title for ws in book.worksheets()] == ["Inbound Control", "Config"]
    ws = book.worksheet("Inbound Control")
    assert (ws.row_count, ws.col_count, ws.id) == (1000, 26, 0)
    # Trailing empty cells and rows are trimmed; an empty row in the middle stays (padded by gspread).
    assert ws.get_all_values() == [
        ["SKU", "Units sent", "Status", "Note"],
        ["00123", "10", "", ""],
        ["SKU-2", "5", "", ""],
        ["", "", "", ""],
        ["SKU-4", "7", "", ""],
    ]
    raw = ws.get("A1:D5", pad_values=False)
    assert isinstance(raw, gspread.worksheet.ValueRange)
    assert raw.range == "'Inbound Control'!A1:D5"
    assert raw[3] == [] and raw[1] == ["00123", "10"]
    assert ws.get("B2:B3", value_render_option=ValueRenderOption.unformatted) == [[10], [5]]
    assert sandbox.requests_made()["spreadsheets.get"] >= 2


def test_batch_get_whole_and_open_ended_ranges(gc: gspread.Client) -> None:
    book = gc.open_by_key(BOOK_ID)
    ws = book.sheet1
    first, second = ws.batch_get(["A:A", "B2:C"])
    assert first.range == "'Inbound Control'!A1:A1000"
    assert first == [["SKU"], ["00123"], ["SKU-2"], [], ["SKU-4"]]
    assert second.range == "'Inbound Control'!B2:C1000"
    assert second == [["10"], ["5"], [], ["7"]]
    across = book.values_batch_get(["Config!A2", "'Inbound Control'!D1"])["valueRanges"]
    assert across == [
        {"range": "Config!A2", "majorDimension": "ROWS", "values": [["warehouse"]]},
        {"range": "'Inbound Control'!D1", "majorDimension": "ROWS", "values": [["Note"]]},
    ]
    columns = ws.get("A1:B2", major_dimension=Dimension.cols)
    assert columns == [["SKU", "00123"], ["Units sent", "10"]]


def test_raw_keeps_leading_zeros_and_user_entered_parses_numbers(
    gc: gspread.Client, sandbox: Sandbox
) -> None:
    ws = gc.open_by_key(BOOK_ID).sheet1
    result = ws.update([["00123", "=SUM(B2:B3)", "TRUE"]], "E2")
    assert result["updatedRange"] == "'Inbound Control'!E2:G2"
    assert result["updatedCells"] == 3
    ws.update(
        [["00123", "1.50", "true", "'00042", "12 pcs"]],
        "E3",
        value_input_option=ValueInputOption.user_entered,
    )
    assert ws.get("E2:I3") == [["00123", "=SUM(B2:B3)", "TRUE"], ["123", "1.5", "TRUE", "00042", "12 pcs"]]
    assert ws.get("E2:I3", value_render_option=ValueRenderOption.unformatted) == [
        ["00123", "=SUM(B2:B3)", "TRUE"],
        [123, 1.5, True, "00042", "12 pcs"],
    ]
    assert sandbox.tab("Inbound Control")[1][4] == "00123"


def test_batch_update_of_many_ranges_is_one_request(gc: gspread.Client, sandbox: Sandbox) -> None:
    ws = gc.open_by_key(BOOK_ID).sheet1
    before = sandbox.requests_made().get("values.batchUpdate", 0)
    response = ws.batch_update(
        [{"range": f"C{row}:D{row}", "values": [["MATCH", f"note {row}"]]} for row in range(2, 6)]
    )
    assert sandbox.requests_made()["values.batchUpdate"] == before + 1
    assert response["totalUpdatedCells"] == 8
    assert response["totalUpdatedSheets"] == 1
    assert [r["updatedRange"] for r in response["responses"]] == [
        f"'Inbound Control'!C{r}:D{r}" for r in range(2, 6)
    ]
    assert ws.get("C2:D5") == [
        ["MATCH", "note 2"],
        ["MATCH", "note 3"],
        ["MATCH", "note 4"],
        ["MATCH", "note 5"],
    ]


def test_values_batch_update_across_sheets(gc: gspread.Client, sandbox: Sandbox) -> None:
    book = gc.open_by_key(BOOK_ID)
    body = {
        "valueInputOption": "RAW",
        "data": [
            {"range": "Config!C1", "values": [["checked"]]},
            {"range": "'Inbound Control'!E1", "values": [[1]]},
        ],
    }
    response = book.values_batch_update(body)
    assert response["totalUpdatedSheets"] == 2
    assert sandbox.tab("Config")[0] == ["key", "value", "checked"]
    with pytest.raises(gspread.exceptions.APIError) as caught:
        book.values_batch_update({"data": body["data"]})
    assert caught.value.error["message"] == "'valueInputOption' is required but not specified"


def test_batch_update_is_atomic(gc: gspread.Client, sandbox: Sandbox) -> None:
    ws = gc.open_by_key(BOOK_ID).sheet1
    with pytest.raises(gspread.exceptions.APIError) as caught:
        ws.batch_update([{"range": "C2", "values": [["MATCH"]]}, {"range": "A1001", "values": [["x"]]}])
    assert caught.value.code == 400
    assert "exceeds grid limits" in caught.value.error["message"]
    assert sandbox.tab("Inbound Control")[1][2] == ""


def test_null_skips_a_cell_and_empty_string_clears_it(gc: gspread.Client, sandbox: Sandbox) -> None:
    ws = gc.open_by_key(BOOK_ID).sheet1
    ws.update([[None, ""]], "A2:B2")
    assert sandbox.tab("Inbound Control")[1][:2] == ["00123", ""]


def test_append_rows_goes_below_the_table(gc: gspread.Client, sandbox: Sandbox) -> None:
    ws = gc.open_by_key(BOOK_ID).sheet1
    result = ws.append_rows([["SKU-5", 3], ["00006", 1]])
    assert result["tableRange"] == "'Inbound Control'!A1:D5"
    assert result["updates"]["updatedRange"] == "'Inbound Control'!A6:B7"
    assert ws.col_values(1) == ["SKU", "00123", "SKU-2", "", "SKU-4", "SKU-5", "00006"]


@pytest.mark.slow
def test_append_grows_the_grid(gc: gspread.Client, sandbox: Sandbox) -> None:
    book = gc.open_by_key(BOOK_ID)
    ws = book.add_worksheet("Small", rows=2, cols=2)
    ws.append_rows([["a", "b", "c"], ["d"], ["e"]])
    small = book.worksheet("Small")
    assert (small.row_count, small.col_count) == (3, 3)
    assert small.get_all_values() == [["a", "b", "c"], ["d", "", ""], ["e", "", ""]]


def test_add_resize_and_rename_worksheets(gc: gspread.Client, sandbox: Sandbox) -> None:
    book = gc.open_by_key(BOOK_ID)
    report = book.add_worksheet("Report 2024", rows=10, cols=3)
    assert report.title == "Report 2024"
    report.update([["a", "b", "c"]], "A1")
    report.resize(rows=20, cols=2)
    reopened = book.worksheet("Report 2024")
    assert (reopened.row_count, reopened.col_count) == (20, 2)
    assert reopened.get_all_values() == [["a", "b"]]
    reopened.update_title("Report")
    assert [ws.title for ws in book.worksheets()] == ["Inbound Control", "Config", "Report"]
    with pytest.raises(gspread.exceptions.APIError) as caught:
        book.add_worksheet("report", rows=1, cols=1)
    assert caught.value.code == 400
    assert "already exists" in caught.value.error["message"]
    assert sandbox.requests_made()["spreadsheets.batchUpdate"] == 4


def test_writes_beyond_the_range_or_grid_are_rejected(gc: gspread.Client) -> None:
    book = gc.open_by_key(BOOK_ID)
    ws = book.add_worksheet("Tiny", rows=3, cols=2)
    with pytest.raises(gspread.exceptions.APIError) as caught:
        ws.update([["a"], ["b"], ["c"]], "A1:A2")
    assert "tried writing to row [3]" in caught.value.error["message"]
    with pytest.raises(gspread.exceptions.APIError) as caught:
        ws.update([["a", "b", "c"]], "A1")
    assert caught.value.error == {
        "code": 400,
        "message": "Range (Tiny!A1:C1) exceeds grid limits. Max rows: 3, max columns: 2",
        "status": "INVALID_ARGUMENT",
    }
    with pytest.raises(gspread.exceptions.APIError):
        ws.acell("A4")


@pytest.mark.slow
def test_clear_and_batch_clear(gc: gspread.Client, sandbox: Sandbox) -> None:
    ws = gc.open_by_key(BOOK_ID).sheet1
    ws.batch_clear(["B2:B3", "D1"])
    assert ws.col_values(2) == ["Units sent", "", "", "", "7"]
    assert ws.row_values(1) == ["SKU", "Units sent", "Status"]
    config = gc.open_by_key(BOOK_ID).worksheet("Config")
    config.batch_clear(["A2:B2"])
    assert config.get_all_values() == [["key", "value"]]
    ws.clear()
    assert ws.get_all_values() == [[]] or ws.get_all_values() == []


@pytest.mark.slow
def test_not_found_and_unparseable_ranges(gc: gspread.Client) -> None:
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gc.open_by_key("does-not-exist")
    book = gc.open_by_key(BOOK_ID)
    with pytest.raises(gspread.exceptions.WorksheetNotFound):
        book.worksheet("Missing")
    with pytest.raises(gspread.exceptions.APIError) as caught:
        gc.http_client.values_get(BOOK_ID, "'Missing'!A1:B2")
    assert caught.value.error == {
        "code": 400,
        "message": "Unable to parse range: 'Missing'!A1:B2",
        "status": "INVALID_ARGUMENT",
    }


def test_quota_burst_raises_429_and_recovers_after_the_window(gc: gspread.Client, sandbox: Sandbox) -> None:
    sandbox.state.config.sheets_requests_per_minute = 5  # both buckets
    ws = gc.open_by_key(BOOK_ID).sheet1  # 2 requests: open_by_key and sheet1 both read the metadata
    for _ in range(3):
        ws.acell("A1")
    with pytest.raises(gspread.exceptions.APIError) as caught:
        ws.acell("A1")
    assert caught.value.code == 429
    assert caught.value.error["status"] == "RESOURCE_EXHAUSTED"
    assert "Quota exceeded for quota metric 'Read requests'" in caught.value.error["message"]
    sandbox.clock.now += 30
    ws.update([["x"]], "Z1")  # writes have a bucket of their own
    sandbox.clock.now += 31  # the first five reads leave the rolling 60 s window
    assert ws.acell("A1").value == "SKU"
    assert sandbox.requests_made() == {"spreadsheets.get": 2, "values.get": 5, "values.update": 1}


@pytest.mark.slow
def test_reads_and_writes_have_separate_per_minute_buckets(gc: gspread.Client, sandbox: Sandbox) -> None:
    """Google counts read and write requests apart (60 each per minute and user by default)."""
    sandbox.state.config = SandboxConfig(
        sheets_read_requests_per_minute=3, sheets_write_requests_per_minute=2
    )
    ws = gc.open_by_key(BOOK_ID).sheet1  # 2 reads
    ws.acell("A1")  # the third read
    ws.update([["a"]], "Z1")
    ws.update([["b"]], "Z2")
    with pytest.raises(gspread.exceptions.APIError) as write_refused:
        ws.update([["c"]], "Z3")
    assert write_refused.value.code == 429
    assert "quota metric 'Write requests'" in write_refused.value.error["message"]
    with pytest.raises(gspread.exceptions.APIError) as read_refused:
        ws.acell("A1")
    assert "quota metric 'Read requests'" in read_refused.value.error["message"]
    sandbox.clock.now += 61
    ws.update([["c"]], "Z3")
    assert ws.acell("Z3").value == "c"


@pytest.mark.slow
def test_a_cell_over_fifty_thousand_characters_is_refused_and_nothing_written(
    gc: gspread.Client, sandbox: Sandbox
) -> None:
    ws = gc.open_by_key(BOOK_ID).sheet1
    before = copy.deepcopy(sandbox.state.data.spreadsheets[BOOK_ID].worksheets[0].values)
    with pytest.raises(gspread.exceptions.APIError) as caught:
        ws.batch_update([{"range": "E2", "values": [["ok"]]}, {"range": "F2", "values": [["x" * 50_001]]}])
    assert caught.value.error == {
        "code": 400,
        "message": "Your input contains more than the maximum of 50000 characters in a single cell.",
        "status": "INVALID_ARGUMENT",
    }
    assert sandbox.state.data.spreadsheets[BOOK_ID].worksheets[0].values == before  # not even E2
    ws.update([["x" * 50_000]], "F2")  # exactly the limit is fine
    with pytest.raises(gspread.exceptions.APIError, match="50000 characters"):
        ws.append_row(["y" * 50_001])


@pytest.mark.slow
def test_request_bodies_over_ten_mebibytes_are_refused_in_strict_mode(
    gc: gspread.Client, sandbox: Sandbox
) -> None:
    ws = gc.open_by_key(BOOK_ID).sheet1
    big = [["z" * 40_000] for _ in range(300)]  # about 12 MB of JSON
    ws.update(big, "H1:H300")  # lenient default: no limit
    sandbox.state.config = SandboxConfig.strictest(sheets_requests_per_minute=1000)
    with pytest.raises(gspread.exceptions.APIError) as caught:
        ws.update(big, "I1:I300")
    assert caught.value.error["message"] == "Request payload size exceeds the limit: 10485760 bytes."
    assert caught.value.code == 400
    assert ws.acell("I1").value is None


@pytest.mark.slow
def test_backoff_client_retries_429_until_the_window_frees(
    sandbox: Sandbox, info: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    gc = sandbox.client(info, http_client=gspread.BackOffHTTPClient)
    ws = gc.open_by_key(BOOK_ID).sheet1
    sandbox.state.config.sheets_requests_per_minute = 2
    waits: list[float] = []

    def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        sandbox.clock.now += seconds

    monkeypatch.setattr("gspread.http_client.time.sleep", fake_sleep)
    # The two metadata reads of open_by_key/sheet1 fill the window: the next read is refused until they
    # age out. gspread 6.2 backs off 2, 4, 8 ... s on 429; after 2 + 4 + 8 + 16 + 32 = 62 s it succeeds.
    assert ws.acell("A1").value == "SKU"
    assert waits == [2, 4, 8, 16, 32]
    assert sandbox.requests_made()["values.get"] == 6


@pytest.mark.slow
def test_requests_without_a_valid_token_are_401(sandbox: Sandbox) -> None:
    response = httpx.get(f"{sandbox.base_url}/sheets/v4/spreadsheets/{BOOK_ID}")
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    response = httpx.get(
        f"{sandbox.base_url}/sheets/v4/spreadsheets/{BOOK_ID}",
        headers={"Authorization": "Bearer ya29.forged"},
    )
    assert response.status_code == 401
    assert sheets.REQUESTS not in sandbox.state.runtime


@pytest.mark.slow
def test_token_endpoint_checks_grant_and_signature(sandbox: Sandbox, info: dict[str, Any]) -> None:
    url = f"{sandbox.base_url}/sheets/token"
    now = int(time.time())
    claims = {
        "iss": info["client_email"],
        "aud": "https://oauth2.googleapis.com/token",
        "iat": now,
        "exp": now + 3600,
    }
    claims["scope"] = "https://www.googleapis.com/auth/spreadsheets"
    good = jwt.encode(claims, info["private_key"], algorithm="RS256", headers={"kid": info["private_key_id"]})
    ok = httpx.post(url, data={"grant_type": sheets.JWT_BEARER, "assertion": good})
    assert ok.status_code == 200
    assert ok.json()["expires_in"] == 3600 and ok.json()["token_type"] == "Bearer"
    other_key = sheets.make_service_account_info(sandbox.base_url)["private_key"]
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": info["private_key_id"]})
    refused = httpx.post(url, data={"grant_type": sheets.JWT_BEARER, "assertion": forged})
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    wrong_grant = httpx.post(url, data={"grant_type": "client_credentials"})
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    garbage = httpx.post(url, data={"grant_type": sheets.JWT_BEARER, "assertion": "not-a-jwt"})
    assert garbage.json()["error"] == "invalid_grant"
    # The issued token opens the API.
    token = ok.json()["access_token"]
    meta = httpx.get(
        f"{sandbox.base_url}/sheets/v4/spreadsheets/{BOOK_ID}", headers={"Authorization": f"Bearer {token}"}
    )
    assert meta.status_code == 200
    assert meta.json()["sheets"][1]["properties"]["title"] == "Config"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'Inbound Control'!A1:C10", ("Inbound Control", 0, 10, 0, 3, False)),
        ("'Inbound Control'", ("Inbound Control", 0, None, 0, None, False)),
        ("Config", ("Config", 0, None, 0, None, False)),
        ("Config!B:C", ("Config", 0, None, 1, 3, False)),
        ("Config!B2:C", ("Config", 1, None, 1, 3, False)),
        ("Config!2:3", ("Config", 1, 3, 0, None, False)),
        ("Config!C3", ("Config", 2, 3, 2, 3, True)),
        ("Config!C3:A1", ("Config", 0, 3, 0, 3, False)),
        ("A1:B2", ("Inbound Control", 0, 2, 0, 2, False)),
        ("config!AA10", ("Config", 9, 10, 26, 27, True)),
        ("'It''s'!A1", ("It's", 0, 1, 0, 1, True)),
    ],
)
def test_parse_a1_ranges(text: str, expected: tuple[Any, ...]) -> None:
    book = sheets.new_spreadsheet("t", {"Inbound Control": [], "Config": [], "It's": []})
    grid = sheets.parse_range(book, text)
    assert (grid.sheet.title, grid.row0, grid.row1, grid.col0, grid.col1, grid.single_cell) == expected


@pytest.mark.parametrize(
    "text", ["Missing!A1", "'Config'A1", "Config!", "Config!A0", "Config!A1:B2:C3", "'Config", "Config!1A"]
)
def test_unparseable_ranges(text: str) -> None:
    book = sheets.new_spreadsheet("t", {"Config": []})
    with pytest.raises(sheets.SheetsError) as caught:
        sheets.parse_range(book, text)
    assert caught.value.message == f"Unable to parse range: {text}"


def test_quote_and_format_helpers() -> None:
    assert sheets.quote_sheet_name("Sheet1") == "Sheet1"
    assert sheets.quote_sheet_name("Inbound Control") == "'Inbound Control'"
    assert sheets.quote_sheet_name("A1") == "'A1'"
    assert sheets.quote_sheet_name("It's") == "'It''s'"
    assert [sheets.column_letters(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]
    assert [sheets.format_number(v) for v in (3, 3.0, 1.5, 0.1 + 0.2, 1e20)] == [
        "3",
        "3",
        "1.5",
        "0.3",
        "1E+20",
    ]


def test_sheets_limits_default_to_googles_and_strictest_adds_the_body_limit() -> None:
    lenient, strict = SandboxConfig(), SandboxConfig.strictest()
    assert (lenient.sheets_quota("read"), lenient.sheets_quota("write")) == (60, 60)
    assert lenient.sheets_max_cell_chars == strict.sheets_max_cell_chars == 50_000  # Google documents it
    assert lenient.sheets_max_request_bytes is None and strict.sheets_max_request_bytes == 10_485_760
    assert SandboxConfig.strictest(sheets_max_request_bytes=None).sheets_max_request_bytes is None
    both = SandboxConfig(sheets_read_requests_per_minute=5, sheets_requests_per_minute=7)
    assert (both.sheets_quota("read"), both.sheets_quota("write")) == (7, 7)
