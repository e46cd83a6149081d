"""Wawi client (both flavours) and app registration against MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError, Conflict, LicenseError, RateLimited, RegistrationError
from jtl_automator.clients.wawi import (
    AppRegistration,
    CloudTokens,
    WawiClient,
    WawiCloudAuth,
    WawiKeyAuth,
    register_app,
    wawi_auth,
)
from jtl_automator.resilience import RetryPolicy
from jtl_automator.settings import Settings
from tests.clients.conftest import FakeClock, Recorder, json_response

BASE = "http://127.0.0.1:5883/api/eazybusiness"
KEY = "6f1c2d3e-aaaa-4000-8000-secretwawikey"


def wawi_for(handler: Any, policy: RetryPolicy) -> WawiClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return WawiClient(http, BASE, SecretStr(KEY), "myco/app/v1", "1.2.3", retry=policy, page_size=2)


def paged_orders(n: int) -> Any:
    orders = [
        {"Id": i, "Number": f"AU{i}", "Shipmentaddress": {"City": "Berlin"}, "IsCancelled": False}
        for i in range(1, n + 1)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        number, size = int(request.url.params["pageNumber"]), int(request.url.params["pageSize"])
        pages = max(1, -(-n // size))
        return httpx.Response(
            200,
            json={
                "TotalItems": n,
                "PageNumber": number,
                "PageSize": size,
                "TotalPages": pages,
                "HasNextPage": number < pages,
                "NextPageNumber": number + 1 if number < pages else pages,
                "Items": orders[(number - 1) * size : number * size],
            },
        )

    return handler


def test_sales_orders_list_sends_auth_headers_filters_and_pages(policy: RetryPolicy) -> None:
    rec = Recorder(paged_orders(5))
    wawi = wawi_for(rec, policy)
    since = datetime(2025, 3, 1, tzinfo=UTC)
    orders = list(wawi.sales_orders.list(created_since=since, is_cancelled=False))
    assert [o.number for o in orders] == ["AU1", "AU2", "AU3", "AU4", "AU5"]
    assert orders[0].shipment_address is not None and orders[0].shipment_address.city == "Berlin"
    assert len(rec.requests) == 3
    req = rec.requests[0]
    assert req.url.path == "/api/eazybusiness/v1/salesOrders"
    assert req.url.params["createdSince"] == since.isoformat()
    assert req.url.params["isCancelled"] == "false"
    assert req.headers["Authorization"] == f"Wawi {KEY}"
    assert req.headers["X-AppID"] == "myco/app/v1" and req.headers["X-AppVersion"] == "1.2.3"


def test_wawi_401_is_not_retried(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(401))
    with pytest.raises(AuthError):
        wawi_for(rec, policy).items.get(1)
    assert len(rec.requests) == 1


def test_wawi_402_is_a_license_error(policy: RetryPolicy) -> None:
    with pytest.raises(LicenseError, match="402"):
        wawi_for(Recorder(json_response(402)), policy).info()


def test_406_is_a_conflict(policy: RetryPolicy) -> None:
    body = {"ErrorCode": "NotAcceptable", "ErrorMessage": "The sales order cannot be changed"}
    rec = Recorder(json_response(406, body))
    with pytest.raises(Conflict, match="cannot be changed"):
        wawi_for(rec, policy).sales_orders.update(7, {"Comment": "x"})
    assert json.loads(rec.requests[0].content) == {"Comment": "x"}


def test_item_update_sends_pascal_case_and_api_spellings(policy: RetryPolicy) -> None:
    rec = Recorder(lambda r: httpx.Response(201, json={"Id": 3, **json.loads(r.content)}))
    item = wawi_for(rec, policy).items.update(3, {"sku": "00123", "weights": {"item_weight": 1.5}})
    assert json.loads(rec.requests[0].content) == {"SKU": "00123", "Weights": {"ItemWeigth": 1.5}}
    assert item is not None and item.sku == "00123" and item.weights and item.weights.item_weight == 1.5
    assert rec.requests[0].method == "PATCH"


def test_stock_adjust_and_suppliers_array(policy: RetryPolicy) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/suppliers"):
            return httpx.Response(200, json=[{"Id": 1, "Name": "ACME", "LanguageISO": "DE"}])
        return httpx.Response(201, json={**json.loads(request.content), "QuantityTotal": 9})

    wawi = wawi_for(handler, policy)
    stock = wawi.stocks.adjust({"warehouse_id": 1, "item_id": 2, "quantity": -3, "comment": "count"})
    assert stock is not None and stock.quantity_total == 9
    assert wawi.suppliers.list()[0].language_iso == "DE"


def test_purchase_orders_are_camel_case_v2(policy: RetryPolicy) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": 1, **json.loads(request.content)})
        return httpx.Response(
            200,
            json={
                "items": [{"id": 1, "supplierId": 4}],
                "pageNumber": 1,
                "hasNextPage": False,
                "nextPageNumber": None,
                "totalPages": 1,
            },
        )

    rec = Recorder(handler)
    wawi = wawi_for(rec, policy)
    po = wawi.purchase_orders.create({"supplier_id": 4, "line_items": [{"item_id": 9, "quantity": 10}]})
    assert json.loads(rec.requests[0].content) == {
        "supplierId": 4,
        "lineItems": [{"itemId": 9, "quantity": 10.0}],
    }
    assert po.line_items[0].item_id == 9
    assert [p.supplier_id for p in wawi.purchase_orders.list(supplier_id=4)] == [4]
    assert rec.requests[1].url.path == "/api/eazybusiness/v2/purchase-orders"
    assert rec.requests[1].url.params["supplierId"] == "4"


REGISTRATION = AppRegistration(
    app_id="myco/app/v1",
    display_name="jtl-automator",
    description="Pipelines",
    version="1.0.0",
    provider_name="Me",
    provider_website="https://example.com",
    mandatory_api_scopes=["all.read"],
    app_icon="iVBORw0KGgo=",
)


def registration_server(statuses: list[int | str]) -> Recorder:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-ChallengeCode"] == "challenge-1"
        if request.method == "POST":
            assert json.loads(request.content)["AppId"] == "myco/app/v1"
            return httpx.Response(
                201, json={"AppId": "myco/app/v1", "RegistrationRequestId": "REG-1", "Status": 0}
            )
        status = statuses.pop(0)
        if status == "gone":
            return httpx.Response(410)
        info = {"AppId": "myco/app/v1", "RegistrationRequestId": "REG-1", "Status": status}
        if status == 2:
            return httpx.Response(
                200, json={"RequestStatusInfo": info, "Token": {"ApiKey": KEY}, "GrantedScopes": ["all.read"]}
            )
        return httpx.Response(200, json={"RequestStatusInfo": info})

    return Recorder(handler)


def test_registration_polls_until_accepted(clock: FakeClock) -> None:
    rec = registration_server([0, 0, 2])
    result = register_app(rec.client(), BASE, REGISTRATION, "challenge-1", sleep=clock.sleep, clock=clock)
    assert result.api_key.get_secret_value() == KEY
    assert result.granted_scopes == ("all.read",)
    assert clock.sleeps == [5, 5]
    assert KEY not in repr(result)
    assert [r.url.path for r in rec.requests][-1] == "/api/eazybusiness/authentication/REG-1"


@pytest.mark.parametrize(
    ("statuses", "match"),
    [([0, 1], "rejected"), (["gone"], "only once"), ([0] * 500, "not approved within")],
)
def test_registration_failures(clock: FakeClock, statuses: list[int | str], match: str) -> None:
    rec = registration_server(statuses)
    with pytest.raises(RegistrationError, match=match):
        register_app(
            rec.client(), BASE, REGISTRATION, "challenge-1", timeout=60, sleep=clock.sleep, clock=clock
        )


def test_registration_without_open_listener_explains_what_to_do(clock: FakeClock) -> None:
    rec = Recorder(json_response(403))
    with pytest.raises(RegistrationError, match="App-Registrierung"):
        register_app(rec.client(), BASE, REGISTRATION, "challenge-1", sleep=clock.sleep, clock=clock)


def test_sales_order_patch_is_retried_only_when_the_caller_says_it_is_idempotent(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    from jtl_automator.clients.errors import TransientError

    answered = json_response(201, {"Id": 7, "Comment": "on hold: stock"})
    rec = Recorder(json_response(503), httpx.ReadTimeout("slow"), answered)
    order = wawi_for(rec, policy).sales_orders.update(7, {"comment": "on hold: stock"}, idempotent=True)
    assert order is not None and order.id == 7
    assert [r.method for r in rec.requests] == ["PATCH"] * 3
    assert clock.sleeps == [0.5, 1.0]

    plain = Recorder(json_response(503), answered)
    with pytest.raises(TransientError, match="503"):
        wawi_for(plain, policy).sales_orders.update(7, {"comment": "x"})
    assert len(plain.requests) == 1


# ---- Cloud flavour: client-credentials token, tenant, paths without /v1, rate limits

CLOUD = "https://api.jtl-cloud.test/erp"
CLOUD_TOKEN_URL = "https://auth.jtl-cloud.test/oauth2/token"
CLOUD_SECRET = "cloud-secret-do-not-leak"
TENANT = "3f6c1e52-5a0b-4c1e-9d7a-5a4d0c1e0b7f"


class CloudServer:
    """A token endpoint and an API behind one MockTransport; ``api`` answers the API requests."""

    def __init__(self, *api: httpx.Response | Exception, token_answers: list[Any] | None = None) -> None:
        self.api = Recorder(*(api or (json_response(200, {"Version": "1.0"}),)))
        self.token_answers = token_answers or []
        self.token_requests: list[httpx.Request] = []
        self.issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == CLOUD_TOKEN_URL:
            self.token_requests.append(request)
            if self.token_answers:
                answer = self.token_answers.pop(0)
                if isinstance(answer, Exception):
                    raise answer
                return answer  # type: ignore[no-any-return]
            self.issued += 1
            return httpx.Response(
                200, json={"access_token": f"jwt-{self.issued}", "token_type": "Bearer", "expires_in": 3600}
            )
        return self.api(request)


def cloud_client(server: CloudServer, policy: RetryPolicy, now: Any = None) -> WawiClient:
    http = httpx.Client(transport=httpx.MockTransport(server))
    kwargs = {"now": now} if now is not None else {}
    tokens = CloudTokens(http, CLOUD_TOKEN_URL, "cloud-app", SecretStr(CLOUD_SECRET), retry=policy, **kwargs)
    auth = WawiCloudAuth(tokens, TENANT, "myco/app/v1", "1.2.3")
    return WawiClient(http, CLOUD, retry=policy, page_size=2, auth=auth)


def test_cloud_sends_bearer_tenant_and_app_headers_on_paths_without_v1(policy: RetryPolicy) -> None:
    server = CloudServer(paged_orders(3))
    wawi = cloud_client(server, policy)
    assert [o.number for o in wawi.sales_orders.list()] == ["AU1", "AU2", "AU3"]
    token_request = server.token_requests[0]
    assert token_request.method == "POST"
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_request.content == b"grant_type=client_credentials"
    request = server.api.requests[0]
    assert request.url.path == "/erp/salesOrders"
    assert request.headers["Authorization"] == "Bearer jwt-1"
    assert request.headers["X-Tenant-ID"] == TENANT and request.headers["tenant-id"] == TENANT
    assert request.headers["X-AppID"] == "myco/app/v1" and request.headers["X-AppVersion"] == "1.2.3"
    assert len(server.token_requests) == 1  # one token for all pages


def test_cloud_and_onprem_share_the_resource_paths(policy: RetryPolicy) -> None:
    server = CloudServer(json_response(200, {"id": 5}))
    cloud = cloud_client(server, policy)
    onprem_rec = Recorder(json_response(200, {"id": 5}))
    onprem = WawiClient(onprem_rec.client(), BASE, SecretStr(KEY), "myco/app/v1", "1.2.3", retry=policy)
    for client in (cloud, onprem):
        client.info()
        client.on_hold_reasons()
        client.purchase_orders.get(5)
    assert [r.url.path for r in server.api.requests] == [
        "/erp/info",
        "/erp/onHoldReasons",
        "/erp/v2/purchase-orders/5",
    ]
    assert [r.url.path for r in onprem_rec.requests] == [
        "/api/eazybusiness/v1/info",
        "/api/eazybusiness/v1/onHoldReasons",
        "/api/eazybusiness/v2/purchase-orders/5",
    ]
    assert "tenant-id" not in onprem_rec.requests[0].headers


def test_cloud_token_is_reused_until_five_minutes_before_expiry(policy: RetryPolicy) -> None:
    moment = [datetime(2025, 1, 1, 12, 0, tzinfo=UTC)]
    server = CloudServer()
    wawi = cloud_client(server, policy, now=lambda: moment[0])
    wawi.info()
    moment[0] += timedelta(minutes=54)
    wawi.info()
    assert server.issued == 1
    moment[0] += timedelta(minutes=1, seconds=1)  # 55 min: inside the 5-minute margin
    wawi.info()
    assert server.issued == 2
    assert [r.headers["Authorization"] for r in server.api.requests] == ["Bearer jwt-1"] * 2 + [
        "Bearer jwt-2"
    ]


def test_cloud_401_fetches_a_new_token_and_retries_once(policy: RetryPolicy) -> None:
    server = CloudServer(json_response(401), json_response(200, {"Version": "1"}))
    wawi = cloud_client(server, policy)
    assert wawi.info() == {"Version": "1"}
    assert [r.headers["Authorization"] for r in server.api.requests] == ["Bearer jwt-1", "Bearer jwt-2"]

    again = CloudServer(json_response(401))
    with pytest.raises(AuthError, match="401"):
        cloud_client(again, policy).info()
    # every fresh token refused too: six fresh credentials at most, then the flow must stop
    assert len(again.api.requests) == 7 and again.issued == 7


def test_cloud_token_endpoint_errors_are_auth_errors_without_the_secret(policy: RetryPolicy) -> None:
    refused = json_response(
        401, {"error": "invalid_client", "error_description": "Client authentication failed"}
    )
    server = CloudServer(token_answers=[refused])
    with pytest.raises(AuthError, match="invalid_client") as caught:
        cloud_client(server, policy).info()
    assert CLOUD_SECRET not in str(caught.value) and "Basic" not in str(caught.value)
    assert server.api.requests == []


@pytest.mark.parametrize(
    "transient",
    [
        json_response(503),
        json_response(429, {"error": "slow_down"}, {"Retry-After": "2"}),
        httpx.ConnectTimeout("token endpoint timed out"),
    ],
)
def test_cloud_token_endpoint_429_5xx_and_timeouts_are_retried(
    policy: RetryPolicy, clock: FakeClock, transient: Any
) -> None:
    server = CloudServer(token_answers=[transient])
    assert cloud_client(server, policy).info() == {"Version": "1.0"}
    assert len(server.token_requests) == 2
    assert clock.sleeps  # it waited before the second attempt


def test_cloud_429_without_retry_after_waits_for_the_rate_limit_window(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    limited = json_response(
        429,
        {"ErrorCode": "TooManyRequests", "ErrorMessage": "Too Many Requests"},
        {
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Interval-Length-Seconds": "45",
        },
    )
    server = CloudServer(limited, json_response(200, {"Version": "1"}))
    assert cloud_client(server, policy).info() == {"Version": "1"}
    assert clock.sleeps == [45.0]

    always = CloudServer(limited)
    with pytest.raises(RateLimited) as caught:
        cloud_client(always, policy).info()
    assert caught.value.status == 429 and caught.value.retry_after == 45.0


def test_cloud_5xx_and_timeouts_on_reads_are_retried(policy: RetryPolicy) -> None:
    server = CloudServer(json_response(503), httpx.ReadTimeout("slow"), json_response(200, {"Version": "1"}))
    assert cloud_client(server, policy).info() == {"Version": "1"}
    assert len(server.api.requests) == 3


def test_wawi_auth_from_settings_per_flavour() -> None:
    http = httpx.Client()
    onprem = wawi_auth(Settings.from_values(wawi_api_key=SecretStr(KEY)), http)
    assert isinstance(onprem, WawiKeyAuth) and onprem.v1_prefix == "/v1"
    with pytest.raises(ValueError, match="JTL_WAWI_API_KEY"):
        wawi_auth(Settings.from_values(), http)
    cloud_settings = Settings.from_values(
        wawi_flavour="cloud",
        wawi_client_id="cloud-app",
        wawi_client_secret=SecretStr(CLOUD_SECRET),
        wawi_tenant_id=TENANT,
    )
    cloud = wawi_auth(cloud_settings, http)
    assert isinstance(cloud, WawiCloudAuth) and cloud.v1_prefix == ""
    assert cloud.tokens.token_url == "https://auth.jtl-cloud.com/oauth2/token"
    assert cloud_settings.wawi_base_url == "https://api.jtl-cloud.com/erp"
    assert CLOUD_SECRET not in repr(cloud) + repr(cloud.tokens)
    with pytest.raises(ValueError, match="JTL_WAWI_CLIENT_SECRET, JTL_WAWI_TENANT_ID"):
        wawi_auth(Settings.from_values(wawi_flavour="cloud", wawi_client_id="x"), http)
    client = WawiClient.from_settings(cloud_settings, http=http)
    assert client.core.base_url == "https://api.jtl-cloud.com/erp" and client.auth.v1_prefix == ""


def test_a_client_needs_a_key_or_an_auth_strategy() -> None:
    with pytest.raises(ValueError, match="API key"):
        WawiClient(httpx.Client(), BASE)


def test_manufacturers_and_item_properties(policy: RetryPolicy) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/manufacturers"):
            return httpx.Response(200, json=[{"Id": 3, "Name": "ACME"}, "junk"])
        if request.url.path.endswith("/items/7/properties"):
            return httpx.Response(
                200, json={"ItemId": 7, "Properties": [{"PropertyId": 1, "PropertyValueId": 9}]}
            )
        return httpx.Response(200, json=[{"PropertyId": 2, "PropertyValueId": 5}])

    rec = Recorder(handler)
    wawi = wawi_for(rec, policy)
    assert [(m.id, m.name) for m in wawi.manufacturers()] == [(3, "ACME")]
    assert [(p.property_id, p.property_value_id) for p in wawi.items.properties(7)] == [(1, 9)]
    assert [(p.property_id, p.property_value_id) for p in wawi.items.properties(8)] == [(2, 5)]  # bare array
    assert [r.url.path for r in rec.requests] == [
        "/api/eazybusiness/v1/manufacturers",
        "/api/eazybusiness/v1/items/7/properties",
        "/api/eazybusiness/v1/items/8/properties",
    ]
