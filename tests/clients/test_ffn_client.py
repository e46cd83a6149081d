"""FFN client resources against MockTransport: query parameters, models, idempotent outbound creation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from jtl_automator.clients.errors import NotFound, TransientError, ValidationFailed
from jtl_automator.clients.ffn import FfnClient
from jtl_automator.clients.ffn.client import odata_quote
from jtl_automator.clients.ffn.models import OutboundCreate, Product
from jtl_automator.resilience import RetryPolicy
from tests.clients.conftest import FakeClock, Recorder, json_response

BASE = "https://ffn.example.test/api"


class StaticTokens:
    def __init__(self) -> None:
        self.invalidated: list[str] = []
        self.n = 0

    def access_token(self) -> str:
        return f"tok-{self.n}"

    def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        self.n += 1


def client_for(handler: Any, policy: RetryPolicy, tokens: StaticTokens | None = None) -> FfnClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return FfnClient(http, tokens or StaticTokens(), BASE, retry=policy)


def products(n: int) -> list[dict[str, Any]]:
    return [
        {"jfsku": f"MERC{i:07d}", "merchantSku": f"SKU-{i}", "name": f"P{i}", "newApiField": i}
        for i in range(n)
    ]


def paged(handler_data: list[dict[str, Any]]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        top = int(request.url.params["$top"])
        skip = int(request.url.params["$skip"])
        items = handler_data[skip : skip + top]
        return httpx.Response(
            200, json={"items": items, "_page": {"limit": top, "offset": skip}, "count": len(handler_data)}
        )

    return handler


def test_products_list_pages_lazily_into_models(policy: RetryPolicy) -> None:
    rec = Recorder(paged(products(25)))
    ffn = client_for(rec, policy)
    got = list(ffn.products.list(top=10, filter="name eq 'x'"))
    assert [p.jfsku for p in got] == [f"MERC{i:07d}" for i in range(25)]
    assert got[0].model_extra == {"newApiField": 0}  # unknown API fields survive
    assert len(rec.requests) == 3
    first = rec.requests[0]
    assert first.url.path == "/api/v1/merchant/products"
    assert first.url.params["$filter"] == "name eq 'x'"
    assert first.headers["Authorization"] == "Bearer tok-0"
    assert ffn.stats.requests == 3


def test_iter_pages_yields_raw_dicts(policy: RetryPolicy) -> None:
    ffn = client_for(Recorder(paged(products(5))), policy)
    pages = list(ffn.products.iter_pages(top=2))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert isinstance(pages[0][0], dict) and pages[0][0]["merchantSku"] == "SKU-0"


def test_get_404_is_not_found(policy: RetryPolicy) -> None:
    body = {"errorCode": {"code": "Products_ProductNotFound", "description": "no"}, "errorMessages": []}
    ffn = client_for(Recorder(json_response(404, body)), policy)
    with pytest.raises(NotFound, match="GET /api/v1/merchant/products/NOPE -> 404 Products_ProductNotFound"):
        ffn.products.get("NOPE")


def test_401_invalidates_the_token_and_retries_once(policy: RetryPolicy) -> None:
    tokens = StaticTokens()
    rec = Recorder(json_response(401), json_response(200, {"userId": "46209"}))
    ffn = client_for(rec, policy, tokens)
    assert ffn.users.current().user_id == "46209"
    assert tokens.invalidated == ["tok-0"]
    assert rec.requests[1].headers["Authorization"] == "Bearer tok-1"


def test_product_create_validates_our_payload(policy: RetryPolicy) -> None:
    rec = Recorder(lambda r: httpx.Response(201, json={"jfsku": "MERC0000NEW", **json.loads(r.content)}))
    ffn = client_for(rec, policy)
    created = ffn.products.create({"merchant_sku": "00123", "name": "Widget", "identifier": {"ean": "400"}})
    assert created.jfsku == "MERC0000NEW" and created.merchant_sku == "00123"
    assert json.loads(rec.requests[0].content) == {
        "merchantSku": "00123",
        "name": "Widget",
        "identifier": {"ean": "400"},
    }
    with pytest.raises(ValidationError):
        ffn.products.create({"merchant_sku": "1", "name": "x", "nmae_typo": 1})
    assert len(rec.requests) == 1


def test_a_collection_answering_with_a_bare_array_is_read_too(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(200, [{"jfsku": "A", "stockLevel": 3}, {"jfsku": "B", "stockLevel": 0}]))
    ffn = client_for(rec, policy)
    assert [(s.jfsku, s.stock_level) for s in ffn.stocks.list()] == [("A", 3), ("B", 0)]
    assert rec.requests[0].url.path == "/api/v1/merchant/stocks"


def outbound_payload(number: str = "SO-1001") -> OutboundCreate:
    return OutboundCreate.model_validate(
        {
            "merchantOutboundNumber": number,
            "warehouseId": "FULF04XX-12345-0001",
            "shippingType": "Standard",
            "shippingAddress": {
                "lastname": "Muster",
                "street": "Hauptstr. 1",
                "city": "Berlin",
                "country": "DE",
                "zip": "10115",
            },
            "items": [
                {"outboundItemId": "1", "jfsku": "MERC0000001", "quantity": 2, "price": 12.5, "vat": 19}
            ],
        }
    )


class OutboundServer:
    """POST /outbounds that can fail *after* creating (lost response) or before; GET with $filter."""

    def __init__(self, post_failures: list[str]) -> None:
        self.post_failures = post_failures  # "lost" = created then 503, "down" = 503 without creating
        self.outbounds: dict[str, dict[str, Any]] = {}
        self.posts = 0
        self.lookups: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            body = json.loads(request.content)
            failure = self.post_failures.pop(0) if self.post_failures else None
            number = body["merchantOutboundNumber"]
            if number in self.outbounds:
                return httpx.Response(400, json={"errorCode": {"code": "Shared_DuplicateKey"}})
            if failure != "down":
                self.outbounds[number] = {
                    "outboundId": f"OUT{len(self.outbounds)}",
                    **body,
                    "status": "Pending",
                }
            if failure == "timeout-lost":
                raise httpx.ReadTimeout("no answer")
            if failure:
                return httpx.Response(503)
            return httpx.Response(201, json=self.outbounds[number])
        flt = request.url.params["$filter"]
        self.lookups.append(flt)
        number = flt.split("eq ", 1)[1].strip("'")
        items = [self.outbounds[number]] if number in self.outbounds else []
        return httpx.Response(200, json={"items": items, "count": len(items)})


@pytest.mark.parametrize("failure", ["lost", "timeout-lost"])
def test_outbound_create_after_lost_response_returns_the_existing_outbound(
    policy: RetryPolicy, failure: str
) -> None:
    server = OutboundServer([failure])
    ffn = client_for(server, policy)
    outbound = ffn.outbounds.create(outbound_payload())
    assert outbound.merchant_outbound_number == "SO-1001"
    assert server.posts == 1  # never sent twice
    assert server.lookups == ["merchantOutboundNumber eq 'SO-1001'"]
    assert len(server.outbounds) == 1


def test_outbound_create_resends_when_the_first_post_created_nothing(policy: RetryPolicy) -> None:
    server = OutboundServer(["down", "down"])
    ffn = client_for(server, policy)
    outbound = ffn.outbounds.create(outbound_payload())
    assert outbound.status == "Pending"
    assert server.posts == 3
    assert len(server.outbounds) == 1


def test_outbound_create_gives_up_within_the_budget(clock: FakeClock) -> None:
    policy = RetryPolicy(max_attempts=3, sleep=clock.sleep, clock=clock, jitter=lambda: 1.0)
    server = OutboundServer(["down"] * 10)
    with pytest.raises(TransientError):
        client_for(server, policy).outbounds.create(outbound_payload())
    assert server.posts == 3 and server.outbounds == {}


def test_outbound_create_with_check_existing_skips_the_post(policy: RetryPolicy) -> None:
    server = OutboundServer([])
    ffn = client_for(server, policy)
    ffn.outbounds.create(outbound_payload())
    again = ffn.outbounds.create(outbound_payload(), check_existing=True)
    assert again.outbound_id == "OUT0" and server.posts == 1


def test_outbound_duplicate_on_first_post_is_a_validation_error(policy: RetryPolicy) -> None:
    server = OutboundServer([])
    ffn = client_for(server, policy)
    ffn.outbounds.create(outbound_payload())
    with pytest.raises(ValidationFailed, match="Shared_DuplicateKey"):
        ffn.outbounds.create(outbound_payload())


def test_outbound_write_model_rules() -> None:
    body = outbound_payload().to_api()
    with pytest.raises(ValidationError, match="exactly one of shippingType and shippingMethodId"):
        OutboundCreate.model_validate({**body, "shippingMethodId": "FULF0A0001"})
    with pytest.raises(ValidationError, match="exactly one of shippingType and shippingMethodId"):
        OutboundCreate.model_validate({k: v for k, v in body.items() if k != "shippingType"})
    with pytest.raises(ValidationError, match="one of lastname or company"):
        OutboundCreate.model_validate(
            {**body, "shippingAddress": {"street": "s", "city": "c", "country": "DE"}}
        )
    with pytest.raises(ValidationError, match="unique"):
        OutboundCreate.model_validate({**body, "items": body["items"] * 2})
    for field, value in (("warehouseId", "FULF-1"), ("currency", "eur")):
        with pytest.raises(ValidationError, match=field):
            OutboundCreate.model_validate({**body, field: value})


def test_odata_quote_escapes_quotes() -> None:
    assert odata_quote("O'Brien") == "'O''Brien'"


def test_outbound_updates_and_shipping_notifications(policy: RetryPolicy) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/updates"):
            page = int(request.url.params.get("page", "1"))
            data = [{"outboundId": f"O{page}"}]
            return httpx.Response(200, json={"data": data, "moreDataAvailable": page < 3})
        return httpx.Response(
            200,
            json=[
                {
                    "outboundShippingNotificationId": "N1",
                    "packages": [
                        {
                            "freightOption": "Parcel",
                            "identifier": [{"value": "0034", "identifierType": "TrackingId"}],
                        }
                    ],
                }
            ],
        )

    ffn = client_for(handler, policy)
    window = (datetime(2024, 10, 1, tzinfo=UTC), datetime(2024, 10, 2, tzinfo=UTC))
    assert [o.outbound_id for o in ffn.outbounds.updates(*window)] == ["O1", "O2", "O3"]
    notes = ffn.outbounds.shipping_notifications("O1")
    assert notes[0].packages[0].identifier[0]["value"] == "0034"


def test_model_construction_is_the_cost_iter_pages_avoids() -> None:
    """Both paths must agree on content; the benchmark measures the time difference."""
    raw = products(3)
    assert [Product.model_validate(p).merchant_sku for p in raw] == [p["merchantSku"] for p in raw]


def test_outbound_create_waits_at_least_the_initial_delay_before_looking(clock: FakeClock) -> None:
    policy = RetryPolicy(sleep=clock.sleep, clock=clock, jitter=lambda: 0.0)  # backoff alone: no wait
    server = OutboundServer(["lost"])
    outbound = client_for(server, policy).outbounds.create(outbound_payload())
    assert outbound.merchant_outbound_number == "SO-1001"
    assert clock.sleeps == [policy.initial_delay]


class LateServer(OutboundServer):
    """The first POST answers 503 but its outbound appears only after our first lookup (a slow write)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and not self.lookups:
            response = super().__call__(request)  # not there yet ...
            body = {**outbound_payload().to_api(), "outboundId": "OUT0", "status": "Pending"}
            self.outbounds["SO-1001"] = body  # ... then the slow first POST lands
            return response
        return super().__call__(request)


def test_outbound_duplicate_key_after_a_retry_returns_the_existing_outbound(policy: RetryPolicy) -> None:
    server = LateServer(["down"])
    outbound = client_for(server, policy).outbounds.create(outbound_payload())
    assert outbound.outbound_id == "OUT0"
    assert server.posts == 2  # the re-send met Shared_DuplicateKey and looked again
    assert len(server.lookups) == 2 and len(server.outbounds) == 1


def test_outbound_lookup_failure_is_raised_without_another_post(policy: RetryPolicy) -> None:
    server = OutboundServer(["down"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(500)
        return server(request)

    with pytest.raises(TransientError, match=r"GET .*outbounds.*500.*gave up after 6 attempt"):
        client_for(handler, policy).outbounds.create(outbound_payload())
    assert server.posts == 1


def test_stock_updates_follow_next_chunk_urls_and_changes_pass_date_and_filter(policy: RetryPolicy) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if request.url.path.endswith("/stocks/updates"):
            page = int(request.url.params.get("page", "1"))
            more = page < 2
            body = {
                "data": [{"stockChangeId": {"stockVersion": page}}],
                "moreDataAvailable": more,
                "nextChunkUrl": f"{BASE}/v1/merchant/stocks/updates?page={page + 1}&fromDate=x&toDate=y",
            }
            return httpx.Response(200, json=body)
        skip = int(request.url.params["$skip"])
        if request.url.path.endswith("/stocks"):
            return httpx.Response(200, json={"items": [{"jfsku": "MERC0000001"}], "_page": {}, "count": 1})
        items = [{"changeType": "Delivery", "n": skip + i} for i in range(2)] if skip < 4 else []
        return httpx.Response(200, json={"items": items, "_page": {}, "count": 4})

    ffn = client_for(handler, policy)
    window = (datetime(2024, 10, 1, tzinfo=UTC), datetime(2024, 10, 2, tzinfo=UTC))
    versions = [c["stockChangeId"]["stockVersion"] for c in ffn.stocks.updates(*window)]
    assert versions == [1, 2]
    assert seen[0].params["fromDate"] == "2024-10-01T00:00:00+00:00" and seen[1].params["page"] == "2"
    seen.clear()
    when = datetime(2024, 10, 1, 12, tzinfo=UTC)
    changes = list(ffn.stocks.changes(date=when, filter="changeType eq 'Delivery'"))
    assert [c["n"] for c in changes] == [0, 1, 2, 3]
    assert seen[0].path.endswith("/v1/merchant/stocks/changes")
    assert seen[0].params["date"] == when.isoformat()
    assert seen[0].params["$filter"] == "changeType eq 'Delivery'"
    seen.clear()
    assert [s.jfsku for s in ffn.stocks.as_of(when)] == ["MERC0000001"]
    assert seen[0].path.endswith("/v1/merchant/stocks") and seen[0].params["date"] == when.isoformat()
