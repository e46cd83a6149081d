"""The Wawi client's returns: every page (there is no date filter), the period picked by the client, typed.

Against MockTransport for the faults (429, 5xx, timeouts, an expired Cloud token, malformed rows) and
against the sandbox's generated world, lenient and strict (newest first, unlisted filters refused, 404
for a return without lines), over ASGI.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError, TransientError
from jtl_automator.clients.wawi.client import SkippedRow, WawiClient
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import asgi_transport
from tests.clients.conftest import FakeClock, Recorder, json_response
from tests.clients.test_wawi_client import CloudServer, cloud_client, wawi_for

START, END = datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)


def header(return_id: int, day: int, **extra: Any) -> dict[str, Any]:
    return {
        "Id": return_id,
        "Number": f"RE{return_id}",
        "ReturnDate": f"2026-11-{day:02d}T10:00:00+00:00",
        "SalesOrderId": 100 + return_id,
        "StateId": 1,
        **extra,
    }


def line(line_id: int, return_id: int, sku: str = "S1", quantity: Any = 1.0, **extra: Any) -> dict[str, Any]:
    return {
        "Id": line_id,
        "ReturnId": return_id,
        "SKU": sku,
        "Quantity": quantity,
        "ReturnReasonId": 1,
        "SalesOrderId": 100 + return_id,
        **extra,
    }


def envelope(rows: list[Any], number: int, size: int, total: int) -> dict[str, Any]:
    pages = max(1, -(-total // size))
    return {
        "TotalItems": total,
        "PageNumber": number,
        "PageSize": size,
        "TotalPages": pages,
        "HasPreviousPage": number > 1,
        "HasNextPage": number < pages,
        "NextPageNumber": number + 1 if number < pages else pages,
        "PreviousPageNumber": number - 1 if number > 1 else 1,
        "Items": rows,
    }


class Server:
    """Returns and their lines, paged as Wawi pages them; ``faults`` answers first, in order."""

    def __init__(
        self, returns: list[Any], lines: dict[int, Any], *faults: httpx.Response | Exception
    ) -> None:
        self.returns, self.lines, self.faults = returns, lines, list(faults)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        path = request.url.path.removeprefix("/api/eazybusiness/v1").removeprefix("/erp")
        if path == "/returns":
            number, size = int(request.url.params["pageNumber"]), int(request.url.params["pageSize"])
            rows = self.returns[(number - 1) * size : number * size]
            return httpx.Response(200, json=envelope(rows, number, size, len(self.returns)))
        return_id = int(path.split("/")[2])
        if return_id not in self.lines:
            return json_response(404, {"ErrorCode": "NotFound", "ErrorMessage": "No fields could be found."})
        return httpx.Response(200, json=self.lines[return_id])


def standard() -> Server:
    returns = [header(1, 8), header(2, 9), header(3, 12), header(4, 16), header(5, 15)]
    lines = {2: [line(1, 2, "S1", 2.0)], 3: [line(2, 3, "S2"), line(3, 3, "S1")], 5: [line(4, 5, "S3", 1)]}
    return Server(returns, lines)


def test_every_page_is_read_and_the_period_picked_by_the_client(policy: RetryPolicy) -> None:
    server = standard()
    wawi = wawi_for(server, policy)  # pageSize 2
    found = list(wawi.returns.dated(START, END))
    assert [(r.id, [(ln.sku, ln.quantity) for ln in lines]) for r, lines in found] == [
        (2, [("S1", 2.0)]),
        (3, [("S2", 1.0), ("S1", 1.0)]),
        (5, [("S3", 1.0)]),
    ]
    assert found[0][0].return_date == datetime(2026, 11, 9, 10, tzinfo=UTC)
    paths = [(r.url.path.removeprefix("/api/eazybusiness/v1"), dict(r.url.params)) for r in server.requests]
    pages = [p for p in paths if p[0] == "/returns"]
    assert [q["pageNumber"] for _, q in pages] == ["1", "2", "3"]  # ceil(5 / 2): every page, no date filter
    assert all(set(q) == {"pageNumber", "pageSize"} for _, q in pages)
    assert sorted(p for p, _ in paths if p != "/returns") == [f"/returns/{i}/lineitems" for i in (2, 3, 5)]


def test_a_return_without_lines_is_none_and_an_offset_less_date_counts_as_utc(policy: RetryPolicy) -> None:
    server = Server([header(1, 10, ReturnDate="2026-11-15T23:30:00")], {})
    found = list(wawi_for(server, policy).returns.dated(START, END))
    assert [(r.id, r.return_date.tzinfo is not None, lines) for r, lines in found] == [(1, False, [])]


@pytest.mark.parametrize(
    "fault",
    [
        json_response(429, None, {"Retry-After": "3"}),
        json_response(503),
        json_response(500, {"ErrorCode": "InternalServerError"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("no answer"),
    ],
    ids=["429", "503", "500", "read-timeout", "connect-timeout"],
)
def test_pages_and_line_reads_are_retried_by_the_one_policy(
    policy: RetryPolicy, clock: FakeClock, fault: httpx.Response | Exception
) -> None:
    server = standard()
    server.faults = [fault]
    found = list(wawi_for(server, policy).returns.dated(START, END))
    assert [r.id for r, _ in found] == [2, 3, 5] and len(clock.sleeps) == 1
    assert server.requests[0].url == server.requests[1].url  # the same page asked again
    lines = standard()
    wawi = wawi_for(lines, policy)
    lines.faults = [fault]
    assert [ln.sku for ln in wawi.returns.line_items(3)] == ["S2", "S1"]
    assert len(lines.requests) == 2


def test_a_server_that_keeps_failing_raises_after_the_budget(policy: RetryPolicy) -> None:
    server = Server([], {}, *([json_response(502)] * 20))
    with pytest.raises(TransientError, match="502"):
        list(wawi_for(server, policy).returns.dated(START, END))
    assert len(server.requests) == policy.max_attempts


def test_an_expired_cloud_token_is_fetched_anew_once_and_a_revoked_one_stops(policy: RetryPolicy) -> None:
    page = envelope([header(2, 9)], 1, 2, 1)
    expired = CloudServer(json_response(401), httpx.Response(200, json=page), httpx.Response(200, json=[]))
    found = list(cloud_client(expired, policy).returns.dated(START, END))
    assert [r.id for r, _ in found] == [2]
    assert [r.headers["Authorization"] for r in expired.api.requests] == [
        "Bearer jwt-1",
        "Bearer jwt-2",
        "Bearer jwt-2",
    ]
    assert expired.api.requests[0].url.path == "/erp/returns"
    revoked = CloudServer(json_response(401))
    with pytest.raises(AuthError):
        list(cloud_client(revoked, policy).returns.dated(START, END))


def test_malformed_rows_are_skipped_with_a_clear_reason(policy: RetryPolicy) -> None:
    returns = [
        header(1, 10),
        {"Id": 2, "Number": "RE2"},  # no ReturnDate
        "junk",
        header(4, 10, ReturnDate="last tuesday"),
        header(5, 11),
    ]
    lines = {
        1: [
            line(1, 1, "S1", 2),
            line(2, 1, "S2", 0),
            line(3, 1, "", 1),
            line(4, 1, "S4", "abc"),
            {"Id": 5, "ReturnId": 1, "Quantity": 1},
            line(6, 1, "S6", float("nan")) | {"Quantity": "NaN"},
            42,
        ],
        5: [line(7, 5, "S7", 1)],
    }
    skipped: list[SkippedRow] = []
    found = list(wawi_for(Server(returns, lines), policy).returns.dated(START, END, skipped=skipped))
    assert [(r.id, [ln.id for ln in got]) for r, got in found] == [(1, [1]), (5, [7])]
    assert [str(s) for s in skipped] == [
        "GET /returns page 1, row 2 (Id 2): ReturnDate: Field required",
        "GET /returns/1/lineitems, row 2 (Id 2): Quantity: Input should be greater than 0",
        "GET /returns/1/lineitems, row 3 (Id 3): SKU: String should have at least 1 character",
        "GET /returns/1/lineitems, row 4 (Id 4): Quantity: Input should be a valid number, unable to parse "
        "string as a number",
        "GET /returns/1/lineitems, row 5 (Id 5): SKU: Field required",
        "GET /returns/1/lineitems, row 6 (Id 6): Quantity: Input should be a finite number",
        "GET /returns/1/lineitems, row 7: not an object but int",
        "GET /returns page 2, row 1: not an object but str",
        "GET /returns page 2, row 2 (Id 4): ReturnDate: Input should be a valid datetime or date, invalid "
        "character in year",
    ]


def test_return_reasons_are_named_per_language(policy: RetryPolicy) -> None:
    reasons = [
        {
            "Id": 1,
            "Translations": [
                {"LanguageIso": "EN", "Name": "Wrong size"},
                {"LanguageIso": "DE", "Name": "Größe"},
            ],
        },
        {"Id": 2, "Translations": []},
        {"Translations": []},
    ]
    skipped: list[SkippedRow] = []
    got = wawi_for(Recorder(httpx.Response(200, json=reasons)), policy).return_reasons(skipped=skipped)
    assert [(r.id, r.label(), r.label("en")) for r in got] == [
        (1, "Größe", "Wrong size"),
        (2, "reason 2", "reason 2"),
    ]
    assert [s.reason for s in skipped] == ["Id: Field required"]


# --- against the sandbox's generated world ------------------------------------------------------------


@pytest.fixture(params=["lenient", "strict"])
def sandboxed(request: pytest.FixtureRequest, policy: RetryPolicy) -> Iterator[tuple[WawiClient, Any]]:
    config = SandboxConfig.strictest() if request.param == "strict" else SandboxConfig()
    app = create_app(generate(seed=42, skus=60, orders=200, customers=20), config)
    state = app.state.sandbox
    asgi = asgi_transport(app)
    with httpx.Client(transport=asgi, timeout=30) as http:
        key = SecretStr(config.wawi_api_key)
        yield WawiClient(http, "http://sandbox/wawi/api/eazybusiness", key, retry=policy, page_size=3), state
    asgi.close()  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_generated_returns_are_read_whole_in_both_sandbox_modes(
    sandboxed: tuple[WawiClient, Any],
) -> None:
    wawi, state = sandboxed
    stored = state.data.wawi
    everything = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    skipped: list[SkippedRow] = []
    found = {r.id: lines for r, lines in wawi.returns.dated(*everything, skipped=skipped)}
    assert skipped == [] and set(found) == set(stored.returns)
    for return_id, lines in found.items():
        assert [(ln.sku, ln.quantity) for ln in lines] == [
            (row["SKU"], row["Quantity"]) for row in stored.return_line_items[return_id]
        ]
    latest = max(datetime.fromisoformat(r["ReturnDate"]) for r in stored.returns.values())
    window = list(wawi.returns.dated(latest, everything[1]))
    assert [r.return_date for r, _ in window] == [latest]
    assert {r.label("EN") for r in wawi.return_reasons()} >= {"Wrong size", "Item defective"}
