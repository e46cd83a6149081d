"""The JTL-Shop client against scripted answers: cursor paging, the Shop's four answer shapes, faults.

MockTransport plays a Shop that answers as jtl-shop-rest.md describes (``meta.cursor.next`` a string,
-1 on an empty page, 403 bare JSON strings, plain-text 404, HTML pages, 501 ``[]``), plus what any
server in front of it may do (429, 5xx, timeouts). The sandbox checks are in test_shop_against_sandbox.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import NotFound, PaginationLoopError, TransientError
from jtl_automator.clients.shop import (
    OrderState,
    ShopApiUnavailable,
    ShopAuthError,
    ShopClient,
    ShopMalformedObject,
    ShopOrder,
    ShopProduct,
    ShopReadOnly,
    ShopResponseError,
    SkippedShopRow,
    api_root,
)
from jtl_automator.clients.shop.models import parse_shop_datetime
from jtl_automator.clients.shop.paging import cursor_hint, iterate_cursor
from jtl_automator.resilience import RetryPolicy
from tests.clients.conftest import FakeClock, Recorder

KEY = "shop-key-Geheim-123"
BERLIN = ZoneInfo("Europe/Berlin")


def order(order_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "cartID": order_id + 1000,
        "customerID": 5,
        "orderNO": f"SHOP-{order_id}",
        "state": "1",
        "created": {"date": "2024-12-01 10:15:00.000000", "timezone_type": 3, "timezone": "Europe/Berlin"},
        "total": 17,
        "fetched": "N",
        "attributes": [],
        **extra,
    }


def page(rows: list[Any], *, current: int = 0, prev: int = 0, next_: Any = None) -> dict[str, Any]:
    last = rows[-1]["id"] if rows and isinstance(rows[-1], dict) and "id" in rows[-1] else None
    following = next_ if next_ is not None else (str(last) if rows else -1)
    return {
        "data": rows,
        "meta": {"cursor": {"current": current, "prev": prev, "next": following, "count": len(rows)}},
    }


def shop_json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def text(status: int, body: str, media: str) -> httpx.Response:
    return httpx.Response(status, content=body.encode(), headers={"Content-Type": media})


HTML = "<!DOCTYPE html><html><body>Seite nicht gefunden</body></html>"


class Orders:
    """A Shop with ``count`` orders (ids 1001…), paged as AbstractController::index pages them."""

    def __init__(
        self, count: int, *faults: httpx.Response | Exception, rows: list[Any] | None = None
    ) -> None:
        self.rows = rows if rows is not None else [order(1001 + i) for i in range(count)]
        self.faults = list(faults)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        params = request.url.params
        limit = max(1, int(params.get("limit", "10")))
        cursor = int(params.get("cursor", "0"))
        rows = [r for r in self.rows if not isinstance(r, dict) or cursor <= 0 or r["id"] > cursor][:limit]
        return shop_json(200, page(rows, current=cursor))


def shop_for(handler: Any, policy: RetryPolicy, *, page_size: int = 2) -> ShopClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return ShopClient(http, "https://shop.example/", SecretStr(KEY), retry=policy, page_size=page_size)


def cursors(server: Orders | Recorder) -> list[str | None]:
    return [r.url.params.get("cursor") for r in server.requests]


# --- paging ---------------------------------------------------------------------------------------------


def test_the_api_lives_under_api_v1_and_every_request_carries_the_key(policy: RetryPolicy) -> None:
    assert api_root("https://shop.example/") == "https://shop.example/api/v1"
    assert api_root("https://shop.example/sub/api/v1/") == "https://shop.example/sub/api/v1"
    server = Orders(1)
    list(shop_for(server, policy).iter_orders())
    sent = server.requests[0]
    assert sent.url.path == "/api/v1/order" and sent.headers["X-API-KEY"] == KEY
    assert sent.headers["Accept"] == "application/json"


@pytest.mark.parametrize(("count", "requests"), [(0, 1), (1, 1), (5, 3), (6, 4)])
def test_cursor_paging_follows_next_and_stops_as_the_reference_says(
    policy: RetryPolicy, count: int, requests: int
) -> None:
    server = Orders(count)
    pages = list(shop_for(server, policy).iter_orders(page_size=2))
    assert [o.id for p in pages for o in p.items] == [1001 + i for i in range(count)]
    # ceil(n / limit) requests, one more (an empty page, next -1) when n is a multiple of the limit
    assert len(server.requests) == requests
    sent = cursors(server)
    assert sent[0] is None  # the first page without a cursor
    assert sent[1:] == [str(1002 + 2 * i) for i in range(requests - 1)]  # cursor = the last next
    assert "-1" not in sent
    assert all(r.url.params["limit"] == "2" for r in server.requests)
    assert [p.cursor for p in pages] == [1002 + 2 * i for i in range(len(pages) - 1)] + (
        [1001 + count - 1] if pages else []
    )


def test_a_watermark_starts_after_it_and_the_cursor_moves_past_a_malformed_last_row(
    policy: RetryPolicy,
) -> None:
    rows = [order(1001), order(1002), order(1003, state="9"), order(1004)]
    server = Orders(0, rows=rows)
    pages = list(shop_for(server, policy).iter_orders(after_id=1001, page_size=2))
    assert cursors(server) == ["1001", "1003"]
    assert [[o.id for o in p.items] for p in pages] == [[1002], [1004]]
    assert pages[0].cursor == 1003  # the bad row is behind the watermark: it is not read again
    assert [str(s) for s in pages[0].skipped] == [
        "GET /order after 1001 (id 1003): state: Input should be '-1', '1', '2', '3', '4' or '5'"
    ]


def test_a_cursor_that_does_not_advance_or_cannot_be_read_stops_the_list(policy: RetryPolicy) -> None:
    stuck = Recorder(shop_json(200, page([order(1001), order(1002)], next_="1002")))
    with pytest.raises(PaginationLoopError, match="does not advance"):
        list(shop_for(stuck, policy).iter_orders())
    assert len(stuck.requests) == 2
    for broken, reason in (
        (page([order(1001), order(1002)], next_="abc"), "not a key"),
        ({"data": [order(1001)]}, "without meta.cursor.next"),
        (page([order(1001), order(1002)], next_=-1), "-1 on a page of 2"),
        ({"items": []}, "no 'data' envelope"),
    ):
        with pytest.raises(ShopResponseError, match=reason):
            list(shop_for(Recorder(shop_json(200, broken)), policy).iter_orders())


def test_next_may_arrive_as_an_int_too(policy: RetryPolicy) -> None:
    server = Recorder(
        shop_json(200, page([order(1001), order(1002)], next_=1002)),
        shop_json(200, page([], current=1002)),
    )
    assert [o.id for p in shop_for(server, policy).iter_orders() for o in p.items] == [1001, 1002]
    assert cursors(server) == [None, "1002"]


# --- the Shop's answer shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (shop_json(403, "Invalid api key"), ShopAuthError, "no X-API-KEY header"),
        (shop_json(403, "No permissions for this operation"), ShopAuthError, "does not know this API key"),
        (
            text(404, "The requested resource was not found", "text/plain; charset=utf-8"),
            NotFound,
            "not found",
        ),
        (text(404, HTML, "text/html; charset=utf-8"), ShopApiUnavailable, "SHOW_REST_API"),
        (text(200, HTML, "text/html; charset=utf-8"), ShopApiUnavailable, "the shop URL is wrong"),
        (shop_json(501, []), ShopReadOnly, "read-only"),
        (text(200, "hello", "text/plain"), ShopResponseError, "not JSON"),
        (
            httpx.Response(200, content=b"{oops", headers={"Content-Type": "application/json"}),
            ShopResponseError,
            "not valid JSON",
        ),
        (shop_json(200, {"data": "x"}), ShopResponseError, "not a list"),
    ],
    ids=["no-key", "key-refused", "404-text", "404-html", "200-html", "501", "text", "bad-json", "data"],
)
def test_each_answer_shape_becomes_its_typed_error_without_retries(
    policy: RetryPolicy, clock: FakeClock, answer: httpx.Response, error: type[Exception], words: str
) -> None:
    server = Recorder(answer)
    with pytest.raises(error, match=words) as raised:
        list(shop_for(server, policy).iter_orders())
    assert len(server.requests) == 1 and clock.sleeps == []
    assert KEY not in str(raised.value) and KEY not in repr(raised.value.__dict__)


def test_the_two_403s_say_which_and_how_to_fix(policy: RetryPolicy) -> None:
    with pytest.raises(ShopAuthError) as missing:
        shop_for(Recorder(shop_json(403, "Invalid api key")), policy).get_order(1)
    with pytest.raises(ShopAuthError) as refused:
        shop_for(Recorder(shop_json(403, "No permissions for this operation")), policy).get_order(1)
    assert (missing.value.cause, refused.value.cause) == ("missing_key", "key_refused")
    assert "JTL_SHOP_API_KEY" in str(missing.value) and "GET" in str(refused.value)
    assert missing.value.status == refused.value.status == 403


def test_a_write_would_get_the_read_only_error_not_a_retry(policy: RetryPolicy) -> None:
    server = Recorder(shop_json(501, []))
    shop = shop_for(server, policy)
    with pytest.raises(ShopReadOnly, match="PUT /api/v1/stock/1 -> 501"):
        shop.core.request("PUT", "/stock/1", json={"stock": 5})
    assert len(server.requests) == 1


def test_single_objects_and_their_malformed_cases(policy: RetryPolicy) -> None:
    good = Recorder(shop_json(200, {"data": order(1001)}))
    assert shop_for(good, policy).get_order(1001).order_no == "SHOP-1001"
    assert good.requests[0].url.path == "/api/v1/order/1001"
    bad = Recorder(shop_json(200, {"data": order(1001, created="yesterday")}))
    with pytest.raises(ShopMalformedObject, match="created: Value error, not a Shop date: 'yesterday'"):
        shop_for(bad, policy).get_order(1001)
    with pytest.raises(ShopResponseError, match="no 'data' object"):
        shop_for(Recorder(shop_json(200, {"data": []})), policy).get_order(1001)


# --- faults: the one retry policy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        shop_json(429, "slow down", {"Retry-After": "3"}),
        text(503, "<html>Service Unavailable</html>", "text/html"),
        text(500, "<b>Fatal error</b>", "text/html"),
        shop_json(502, {"status": 502}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("no answer"),
        httpx.RemoteProtocolError("dropped"),
    ],
    ids=["429", "503-html", "500-html", "502", "read-timeout", "connect-timeout", "dropped"],
)
def test_pages_are_retried_by_the_one_policy(
    policy: RetryPolicy, clock: FakeClock, fault: httpx.Response | Exception
) -> None:
    server = Orders(3, fault)
    found = [o.id for p in shop_for(server, policy).iter_orders() for o in p.items]
    assert found == [1001, 1002, 1003] and len(clock.sleeps) == 1
    assert server.requests[0].url == server.requests[1].url  # the same page asked again
    if isinstance(fault, httpx.Response) and fault.status_code == 429:
        assert clock.sleeps == [3.0]


def test_a_shop_that_keeps_failing_raises_after_the_budget(policy: RetryPolicy) -> None:
    server = Orders(0, *([text(503, HTML, "text/html")] * 20))
    with pytest.raises(TransientError, match="503"):
        list(shop_for(server, policy).iter_orders())
    assert len(server.requests) == policy.max_attempts


def test_a_key_revoked_mid_run_stops_with_the_pages_already_read_kept(policy: RetryPolicy) -> None:
    server = Orders(5)
    shop = shop_for(server, policy)
    seen: list[int] = []
    watermark = 0
    with pytest.raises(ShopAuthError) as raised:
        for number, got in enumerate(shop.iter_orders(page_size=2)):
            seen.extend(o.id for o in got.items)
            watermark = got.cursor
            if number == 0:
                server.faults.append(shop_json(403, "No permissions for this operation"))
    assert raised.value.cause == "key_refused" and len(server.requests) == 2  # not retried
    assert (seen, watermark) == ([1001, 1002], 1002)
    resumed = [o.id for p in shop.iter_orders(after_id=watermark) for o in p.items]
    assert resumed == [1003, 1004, 1005]


# --- malformed rows -------------------------------------------------------------------------------------


def test_malformed_rows_are_skipped_with_a_clear_reason_and_the_page_kept(policy: RetryPolicy) -> None:
    rows = [
        {"id": 1, "sku": "A", "stockQty": 17, "trackStock": "Y"},
        {"id": 2, "sku": "B", "stockQty": "viel", "trackStock": "Y"},
        "junk",
        {"id": 4, "sku": "D", "stockQty": 3.5, "trackStock": "X"},
        {"sku": "E"},
        {"id": 6, "sku": "00006", "stockQty": 0, "trackStock": "N", "created": "2024-13-45"},
        {"id": 7, "sku": "G", "stock": [{"productID": 7, "warehouseID": 2, "stock": "many"}]},
        {"id": 8, "sku": "H", "prices": [{"id": 1, "productID": 8, "customerGroupID": 1, "detail": [{}]}]},
        {"id": 9, "sku": "I", "stockQty": 2.25, "trackStock": "N"},
    ]
    server = Recorder(shop_json(200, page(rows, next_="9")))
    skipped: list[SkippedShopRow] = []
    got = list(shop_for(server, policy, page_size=20).iter_products(skipped=skipped))
    assert [(p.id, p.sku, p.stock_qty, p.track_stock) for p in got] == [
        (1, "A", 17.0, True),
        (9, "I", 2.25, False),
    ]
    where = "GET /product after 0"
    assert [str(s) for s in skipped] == [
        f"{where} (id 2): stockQty: Input should be a valid number, unable to parse string as a number",
        f"{where}: not an object but str",
        f"{where} (id 4): trackStock: Value error, expected 'Y' or 'N', got 'X'",
        f"{where}: id: Field required",
        f"{where} (id 6): created: Value error, month must be in 1..12",
        f"{where} (id 7): stock.0.stock: Input should be a valid number, unable to parse string as a number",
        f"{where} (id 8): prices.0.detail.0.netPrice: Field required",
    ]
    assert [s.row_id for s in skipped] == [2, None, 4, None, 6, 7, 8]


# --- models at the boundary ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"date": "2024-12-01 10:15:00.000000", "timezone_type": 3, "timezone": "Europe/Berlin"},
            datetime(2024, 12, 1, 10, 15, tzinfo=BERLIN),
        ),
        (
            {"date": "2024-07-01 10:15:00.250000", "timezone_type": 1, "timezone": "+02:00"},
            datetime(2024, 7, 1, 10, 15, 0, 250000, tzinfo=timezone(timedelta(hours=2))),
        ),
        (
            {"date": "2024-12-01 10:15:00.000000", "timezone_type": 2, "timezone": "CET"},
            datetime(2024, 12, 1, 9, 15, tzinfo=UTC),
        ),
        ("2024-12-01", datetime(2024, 12, 1, tzinfo=BERLIN)),
        ("2024-12-01 10:15:00", datetime(2024, 12, 1, 10, 15, tzinfo=BERLIN)),
        ("0000-00-00 00:00:00", None),
        ({"date": "-0001-11-30 00:00:00.000000", "timezone_type": 3, "timezone": "Europe/Berlin"}, None),
        (None, None),
        ("", None),
    ],
)
def test_both_date_shapes_become_aware_datetimes(value: Any, expected: datetime | None) -> None:
    parsed = parse_shop_datetime(value)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


def test_plain_dates_are_read_in_the_shops_time_zone_from_the_validation_context() -> None:
    row = {"id": 1, "created": "2024-12-01 10:15:00"}
    berlin = ShopProduct.model_validate(row).created
    london = ShopProduct.model_validate(row, context={"shop_timezone": "Europe/London"}).created
    assert berlin is not None and london is not None and london - berlin == timedelta(hours=1)


def test_orders_map_their_state_strings_and_whole_floats_read_as_floats() -> None:
    states = {s: ShopOrder.model_validate(order(1, state=s)).state for s in ("-1", "1", "2", "3", "4", "5")}
    assert states == {
        "-1": OrderState.CANCELLED,
        "1": OrderState.OPEN,
        "2": OrderState.IN_PROGRESS,
        "3": OrderState.PAID,
        "4": OrderState.SHIPPED,
        "5": OrderState.PARTLY_SHIPPED,
    }
    parsed = ShopOrder.model_validate(order(1, state=-1, total=17, fetched="Y"))
    assert parsed.is_cancelled and parsed.total == 17.0 and isinstance(parsed.total, float)
    assert parsed.fetched is True and parsed.created == datetime(2024, 12, 1, 10, 15, tzinfo=BERLIN)
    assert ShopOrder.model_validate(order(1, state=None)).state is None


def test_product_helpers_read_prices_stock_and_both_category_shapes() -> None:
    product = ShopProduct.model_validate(
        {
            "id": 7,
            "sku": "00007",
            "trackStock": "Y",
            "stock": [
                {"productID": 7, "warehouseID": 2, "stock": 4, "procured": 0, "procuredDate": None},
                {"productID": 7, "warehouseID": 3, "stock": 2.5},
            ],
            "prices": [
                {
                    "id": 1,
                    "productID": 7,
                    "customerGroupID": 1,
                    "customerID": 0,
                    "detail": [
                        {"id": 2, "priceID": 1, "amountFrom": 10, "netPrice": 8},
                        {"id": 1, "priceID": 1, "amountFrom": 0, "netPrice": 9.5},
                    ],
                },
                {
                    "id": 3,
                    "productID": 7,
                    "customerGroupID": 1,
                    "customerID": 44,
                    "detail": [
                        {"id": 3, "priceID": 3, "amountFrom": 0, "netPrice": 1},
                    ],
                },
            ],
            "categories": [{"id": 5, "productID": 7, "categoryID": 12}, {"id": 13, "name": "Full"}],
        }
    )
    assert product.sku == "00007" and product.stock_managed
    assert product.stock_in() == 6.5 and product.stock_in({2}) == 4.0
    group = product.price_for_group(1)
    assert group is not None and group.id == 1 and group.base_net_price == 9.5
    assert product.price_for_group(2) is None
    assert product.category_ids == [12, 13]


def test_one_customer_is_read_decrypted_through_the_list(policy: RetryPolicy) -> None:
    listed = Recorder(shop_json(200, page([{"id": 42, "surname": "Muster"}])))
    assert shop_for(listed, policy).get_customer(42).surname == "Muster"
    assert dict(listed.requests[0].url.params) == {"limit": "1", "cursor": "41"}
    bad = Recorder(shop_json(200, page([{"id": 42, "created": "never"}])))
    with pytest.raises(ShopMalformedObject, match=r"\(id 42\): created"):
        shop_for(bad, policy).get_customer(42)
    gone = Recorder(
        shop_json(200, page([{"id": 43, "surname": "Other"}])),
        text(404, "The requested resource was not found", "text/plain; charset=utf-8"),
    )
    with pytest.raises(NotFound):
        shop_for(gone, policy).get_customer(42)
    assert [r.url.path for r in gone.requests] == ["/api/v1/customer", "/api/v1/customer/42"]


# --- prefetching the next page ---------------------------------------------------------------------


def _cursor_pages(total: int, limit: int) -> tuple[list[int], Any]:
    """A fake ``fetch`` over rows 1..total: the cursors asked for are recorded."""
    asked: list[int] = []

    def fetch(cursor: int, size: int) -> Any:
        asked.append(cursor)
        rows = [{"id": i} for i in range(cursor + 1, min(total, cursor + size) + 1)]
        nxt: Any = str(rows[-1]["id"]) if rows else -1
        return {"data": rows, "meta": {"cursor": {"current": cursor, "next": nxt, "count": len(rows)}}}

    return asked, fetch


def test_prefetch_asks_for_the_next_page_before_the_caller_is_done_with_this_one() -> None:
    asked, fetch = _cursor_pages(10, 3)
    pages = iterate_cursor(fetch, 3, prefetch=True)
    rows, cursor = next(pages)
    assert [r["id"] for r in rows] == [1, 2, 3] and cursor == 3
    for _ in range(100):  # the next page is on its way while the caller holds this one
        if len(asked) == 2:
            break
        time.sleep(0.01)
    assert asked == [0, 3]
    assert [c for _, c in pages] == [6, 9, 10]
    assert asked == [0, 3, 6, 9]  # the same requests as without prefetch: none past the short last page
    plain_asked, plain = _cursor_pages(10, 3)
    assert [c for _, c in iterate_cursor(plain, 3)] == [3, 6, 9, 10] and plain_asked == asked


def test_prefetch_of_an_exact_multiple_reads_the_one_empty_page_and_stops() -> None:
    asked, fetch = _cursor_pages(6, 3)
    assert [c for _, c in iterate_cursor(fetch, 3, prefetch=True)] == [3, 6]
    assert asked == [0, 3, 6]  # ceil(6 / 3) + the empty page, as without prefetch


def test_cursor_hint_reads_next_and_count_from_the_answers_tail() -> None:
    body = {"data": [{"id": 1, "meta": {"x": 1}}, {"id": 2}], "meta": {"cursor": {"next": "2", "count": 2}}}
    assert cursor_hint(json.dumps(body).encode()) == (2, 2)
    assert cursor_hint(b'{"data": [], "meta": {"cursor": {"next": -1, "count": 0}}}\n') == (-1, 0)


def test_cursor_hint_gives_up_on_anything_but_a_trailing_meta() -> None:
    meta_first = {"meta": {"cursor": {"next": "2", "count": 2}}, "data": [{"id": 2}]}
    assert cursor_hint(json.dumps(meta_first).encode()) is None
    nested_last = {"data": [{"id": 2, "meta": {"cursor": {"next": "9", "count": 9}}}]}
    assert cursor_hint(json.dumps(nested_last).encode()) is None  # a row's own "meta", not the envelope's
    assert cursor_hint(b'{"data": [], "meta": {"cursor": {"next": "2"}}}') is None  # no count
    assert cursor_hint(b'{"data": [], "meta": {"cursor": {"next": true, "count": 2}}}') is None
    assert cursor_hint(b"<html>meta</html>") is None


def test_with_a_hint_the_next_page_is_asked_for_before_this_one_is_decoded() -> None:
    asked, fetch = _cursor_pages(10, 3)
    asked_when_decoded: dict[int, list[int]] = {}

    def raw(cursor: int, size: int) -> bytes:
        body = json.dumps(fetch(cursor, size)).encode()
        time.sleep(0.1)  # the answer's latency
        return body

    def decode(body: bytes) -> Any:
        page = json.loads(body)
        time.sleep(0.02)  # decoding a big page
        asked_when_decoded[page["meta"]["cursor"]["current"]] = list(asked)
        return page

    pages = iterate_cursor(raw, 3, prefetch=True, decode=decode, peek=cursor_hint)
    assert [c for _, c in pages] == [3, 6, 9, 10]
    assert asked == [0, 3, 6, 9]  # the same requests as without the hint, none past the short last page
    # each full page's successor was on its way before the page itself was decoded
    assert asked_when_decoded[0] == [0, 3] and asked_when_decoded[3] == [0, 3, 6]
    assert asked_when_decoded[6] == [0, 3, 6, 9]


def test_a_hint_reads_at_most_one_page_ahead_of_a_slow_caller() -> None:
    asked, fetch = _cursor_pages(30, 3)

    def raw(cursor: int, size: int) -> bytes:
        return json.dumps(fetch(cursor, size)).encode()

    pages = iterate_cursor(raw, 3, prefetch=True, decode=json.loads, peek=cursor_hint)
    next(pages)
    time.sleep(0.2)  # the caller holds page 1 for a while: only page 2 may be read meanwhile
    assert asked == [0, 3]
    pages.close()
