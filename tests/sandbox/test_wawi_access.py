"""Who may call the Wawi emulator, in both flavours: keys and scopes, app ids, the registration window,
the Cloud's client-credentials tokens, tenant header and rate limits.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from jtl_automator.sandbox import admin, wawi
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.wawi import (
    customers,
    guard,
    items,
    master_data,
    purchase_orders,
    sales_orders,
    stocks,
)
from jtl_automator.settings import WAWI_APP_SCOPES
from tests.sandbox.test_wawi_api import BASE, V1, build_wawi_data, make_app, registration_body
from tests.support import openapi

CLOUD = "/wawi/cloud/erp"
TOKEN_URL = "/wawi/cloud/oauth2/token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def state_with(**config: Any) -> SandboxState:
    state = SandboxState(data=build_wawi_data(items=30, orders=5), config=SandboxConfig(**config))
    state.runtime.wawi.clock = Clock()
    return state


def app_with_admin(state: SandboxState) -> Any:
    app = make_app(state)
    app.include_router(admin.build_router(state))
    return app


def onprem_headers(state: SandboxState, key: str | None = None, app_id: str | None = None) -> dict[str, str]:
    return {
        "Authorization": f"Wawi {key or state.config.wawi_api_key}",
        "X-AppID": app_id or state.config.wawi_app_id,
        "X-AppVersion": state.config.wawi_app_version,
    }


def cloud_headers(state: SandboxState, *, tenant_header: str = "X-Tenant-ID") -> dict[str, str]:
    token = wawi.issue_cloud_token(state)["access_token"]
    return {
        "Authorization": f"Bearer {token}",
        tenant_header: state.config.wawi_cloud_tenant_id,
        "X-AppID": state.config.wawi_app_id,
        "X-AppVersion": state.config.wawi_app_version,
    }


@pytest.fixture
def client() -> Iterator[tuple[TestClient, SandboxState]]:
    state = state_with()
    with TestClient(app_with_admin(state)) as test_client:
        yield test_client, state


def clock_of(state: SandboxState) -> Clock:
    clock = state.runtime.wawi.clock
    assert isinstance(clock, Clock)
    return clock


# ---- scopes


def test_every_served_operation_has_an_entry_in_the_scope_table() -> None:
    table = guard.scope_table()
    v1, v2 = APIRouter(), APIRouter()
    for resource in (items, stocks, sales_orders, customers, master_data):
        resource.routes.mount(v1)
    purchase_orders.routes.mount(v2)
    served = [
        (method, prefix + route.path)
        for router, prefix in ((v1, ""), (v2, "/v2"))
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    ]
    assert len(served) > 25
    for method, path in served:
        assert guard._operation(method, path) in table, f"{method} {path}"
    assert guard._api_path("/wawi/api/eazybusiness/v1/items/{item_id}", BASE, False) == "/items/{item_id}"
    assert guard._api_path("/wawi/api/eazybusiness/v2/purchase-orders", BASE, True) == "/v2/purchase-orders"
    assert guard._api_path("/purchase-orders", BASE, True) == "/v2/purchase-orders"
    assert guard._api_path("/items", CLOUD, False) == "/items"
    assert guard.required_scopes("GET", "/salesOrders/{order_id}") == ("salesorder.getsalesorder", "all.read")
    assert guard.required_scopes("PATCH", "/salesOrders/{x}") == ("salesorder.updatesalesorder",)
    assert guard.required_scopes("GET", "/info") == ()


@pytest.mark.slow
def test_a_key_without_the_scope_gets_403_and_all_read_covers_reads() -> None:
    state = state_with(wawi_app_scopes=("all.read",))
    with TestClient(make_app(state), headers=onprem_headers(state)) as api:
        for path in ("items", "salesOrders", "salesOrders/1", "salesOrders/1/lineitems", "warehouses"):
            assert api.get(f"{V1}/{path}").status_code == 200, path
        assert api.get(f"{BASE}/v2/purchase-orders").status_code == 200
        denied = api.patch(f"{V1}/salesOrders/1", json={"Comment": "x"})
        assert denied.status_code == 403
        body = denied.json()
        assert body["ErrorCode"] == "Forbidden"
        assert "salesorder.updatesalesorder" in body["ErrorMessage"]
        assert api.post(f"{V1}/items", json={"Name": "x", "Categories": []}).status_code == 403
        v2 = api.post(f"{BASE}/v2/purchase-orders", json={})
        assert (v2.status_code, v2.json()["errorCode"]) == (403, "Forbidden")  # v2 writes camelCase
        assert state.data.wawi.sales_orders[1].get("Comment") != "x"  # nothing happened


@pytest.mark.slow
def test_a_specific_read_scope_covers_its_endpoint_only() -> None:
    state = state_with(wawi_app_scopes=("item.queryitems", "salesorder.updatesalesorder"))
    with TestClient(make_app(state), headers=onprem_headers(state)) as api:
        assert api.get(f"{V1}/items").status_code == 200
        assert api.get(f"{V1}/items/1").status_code == 403  # item.getitem is another scope
        assert api.get(f"{V1}/salesOrders").status_code == 403
        assert api.patch(f"{V1}/salesOrders/1", json={"Comment": "ok"}).status_code == 201
        assert api.get(f"{V1}/info").status_code == 200  # needs no scope


@pytest.mark.slow
def test_scopes_are_checked_before_the_body_and_after_the_key() -> None:
    state = state_with(wawi_app_scopes=("all.read",))
    with TestClient(make_app(state)) as api:
        assert api.post(f"{V1}/items", content=b"{not json").status_code == 401
        forbidden = api.post(f"{V1}/items", content=b"{not json", headers=onprem_headers(state))
        assert forbidden.status_code == 403


# ---- registration: window, keys of their own, app id


@pytest.mark.slow
def test_a_closed_registration_window_is_403_until_a_user_opens_it(
    client: tuple[TestClient, SandboxState],
) -> None:
    api, state = client
    state.config.wawi_registration_window_open = False
    challenge = {"X-ChallengeCode": "window"}
    closed = api.post(f"{BASE}/authentication", json=registration_body(), headers=challenge)
    assert closed.status_code == 403
    assert closed.json()["ErrorCode"] == "Forbidden"
    assert "no application service" in closed.json()["ErrorMessage"]
    assert api.put("/_sandbox/wawi/registration-window", json={"open": True}).json() == {"open": True}
    assert api.post(f"{BASE}/authentication", json=registration_body(), headers=challenge).status_code == 201
    api.put("/_sandbox/wawi/registration-window", json={"open": False})
    assert (
        api.post(f"{BASE}/v1/authentication", json=registration_body(), headers=challenge).status_code == 403
    )
    assert api.put("/_sandbox/wawi/registration-window", json={"open": "yes"}).status_code == 400


def _register(api: TestClient, app_id: str, scopes: list[str]) -> str:
    challenge = {"X-ChallengeCode": app_id[-20:]}
    body = registration_body(AppId=app_id, MandatoryApiScopes=scopes, OptionalApiScopes=[])
    created = api.post(f"{BASE}/authentication", json=body, headers=challenge).json()
    poll = f"{BASE}/authentication/{created['RegistrationRequestId']}"
    api.get(poll, headers=challenge)  # auto-accepted after the first poll
    granted = api.get(poll, headers=challenge).json()
    assert granted["GrantedScopes"] == scopes
    key: str = granted["Token"]["ApiKey"]
    return key


@pytest.mark.slow
def test_each_registration_gets_its_own_key_with_exactly_its_scopes() -> None:
    state = state_with(wawi_registration_new_key=True)
    with TestClient(make_app(state)) as api:
        reader = _register(api, "acme/reader/v1", ["all.read"])
        writer = _register(api, "acme/writer/v1", ["all.read", "salesorder.updatesalesorder"])
        assert len({reader, writer, state.config.wawi_api_key}) == 3
        patch = {"Comment": "from the writer"}
        headers = onprem_headers(state, reader, "acme/reader/v1")
        assert api.get(f"{V1}/salesOrders", headers=headers).status_code == 200
        assert api.patch(f"{V1}/salesOrders/1", json=patch, headers=headers).status_code == 403
        headers = onprem_headers(state, writer, "acme/writer/v1")
        assert api.patch(f"{V1}/salesOrders/1", json=patch, headers=headers).status_code == 201


@pytest.mark.slow
def test_by_default_a_registration_hands_out_the_configured_key_unchanged(
    client: tuple[TestClient, SandboxState],
) -> None:
    api, state = client
    assert _register(api, "acme/reader/v1", ["all.read"]) == state.config.wawi_api_key
    headers = onprem_headers(state)
    assert api.patch(f"{V1}/salesOrders/1", json={"Comment": "x"}, headers=headers).status_code == 201


@pytest.mark.slow
def test_the_app_id_must_match_the_registration_when_checked() -> None:
    state = state_with(wawi_registration_new_key=True, wawi_check_app_id=True)
    with TestClient(make_app(state)) as api:
        key = _register(api, "acme/reader/v1", ["all.read"])
        assert api.get(f"{V1}/items", headers=onprem_headers(state, key, "acme/reader/v1")).status_code == 200
        wrong = api.get(f"{V1}/items", headers=onprem_headers(state, key, "acme/other/v1"))
        assert (wrong.status_code, wrong.content) == (401, b"")
        configured = onprem_headers(state)  # the configured key belongs to the configured app id
        assert api.get(f"{V1}/items", headers=configured).status_code == 200
        assert api.get(f"{V1}/items", headers={**configured, "X-AppID": "x/y"}).status_code == 401
    lenient = state_with()
    with TestClient(make_app(lenient)) as api:
        assert api.get(f"{V1}/items", headers=onprem_headers(lenient, app_id="x/y")).status_code == 200


def test_strictest_switches_every_wawi_knob_on() -> None:
    strict, lenient = SandboxConfig.strictest(), SandboxConfig()
    assert strict.wawi_app_scopes == WAWI_APP_SCOPES and lenient.wawi_app_scopes is None
    assert not strict.wawi_registration_window_open and lenient.wawi_registration_window_open
    assert strict.wawi_registration_new_key and not lenient.wawi_registration_new_key
    assert strict.wawi_check_app_id and not lenient.wawi_check_app_id


# ---- Cloud: token endpoint


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.mark.slow
def test_cloud_token_endpoint_grants_client_credentials_only(client: tuple[TestClient, SandboxState]) -> None:
    api, state = client
    config = state.config
    auth = _basic(config.wawi_cloud_client_id, config.wawi_cloud_client_secret)
    granted = api.post(TOKEN_URL, data={"grant_type": "client_credentials"}, headers=auth)
    assert granted.status_code == 200
    body = granted.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}  # no refresh token
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    wrong = api.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers=_basic(config.wawi_cloud_client_id, "no"),
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    other = api.post(TOKEN_URL, data={"grant_type": "refresh_token", "refresh_token": "x"}, headers=auth)
    assert (other.status_code, other.json()["error"]) == (400, "unsupported_grant_type")
    as_json = api.post(TOKEN_URL, json={"grant_type": "client_credentials"}, headers=auth)
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    headers = {**cloud_headers(state), "Authorization": f"Bearer {body['access_token']}"}
    assert api.get(f"{CLOUD}/items", headers=headers).status_code == 200


# ---- Cloud: requests


@pytest.mark.slow
def test_cloud_serves_the_same_api_without_the_version_segment(
    client: tuple[TestClient, SandboxState],
) -> None:
    api, state = client
    headers = cloud_headers(state)
    page = api.get(f"{CLOUD}/items", params={"pageSize": 7}, headers=headers).json()
    assert page["TotalItems"] == 30 and len(page["Items"]) == 7
    onprem = api.get(f"{V1}/items", params={"pageSize": 7}, headers=onprem_headers(state)).json()
    assert page == onprem
    assert api.get(f"{CLOUD}/v1/items", headers=headers).status_code == 404
    assert api.get(f"{CLOUD}/v2/purchase-orders", headers=headers).status_code == 200
    info = api.get(f"{CLOUD}/info", headers=headers).json()
    assert (info["Type"], info["Tenant"]) == ("Cloud", state.config.wawi_cloud_tenant_id)
    assert api.get(f"{V1}/info", headers=onprem_headers(state)).json()["Type"] == "OnPremise"
    assert api.post(f"{CLOUD}/authentication", json=registration_body()).status_code == 404


@pytest.mark.slow
@pytest.mark.parametrize("tenant_header", ["X-Tenant-ID", "tenant-id", "x-tenant-id"])
def test_cloud_accepts_either_tenant_header(
    client: tuple[TestClient, SandboxState], tenant_header: str
) -> None:
    api, state = client
    assert (
        api.get(f"{CLOUD}/warehouses", headers=cloud_headers(state, tenant_header=tenant_header)).status_code
        == 200
    )


@pytest.mark.slow
def test_cloud_auth_failures(client: tuple[TestClient, SandboxState]) -> None:
    api, state = client
    good = cloud_headers(state)
    no_tenant = {k: v for k, v in good.items() if k != "X-Tenant-ID"}
    missing = api.get(f"{CLOUD}/items", headers=no_tenant)
    assert missing.status_code == 412
    assert missing.json()["ErrorCode"] == "MissingTenant"
    for headers in (
        {**good, "X-Tenant-ID": "00000000-0000-4000-8000-000000000000"},  # a tenant the app is not in
        {**good, "Authorization": "Bearer not-a-jwt"},
        {k: v for k, v in good.items() if k != "Authorization"},
        {**good, "Authorization": f"Wawi {state.config.wawi_api_key}"},  # an on-prem key is no Cloud token
    ):
        denied = api.get(f"{CLOUD}/items", headers=headers)
        assert (denied.status_code, denied.content) == (401, b"")
    # ... and a Cloud token is no on-prem key.
    assert (
        api.get(
            f"{V1}/items", headers={**onprem_headers(state), "Authorization": good["Authorization"]}
        ).status_code
        == 401
    )
    wawi.expire_cloud_tokens(state)
    assert api.get(f"{CLOUD}/items", headers=good).status_code == 401


@pytest.mark.slow
def test_cloud_tokens_expire_after_their_ttl() -> None:
    state = state_with(wawi_cloud_token_ttl_seconds=60)
    with TestClient(make_app(state)) as api:
        headers = cloud_headers(state)
        assert api.get(f"{CLOUD}/items", headers=headers).status_code == 200
        clock_of(state).now += 60
        assert api.get(f"{CLOUD}/items", headers=headers).status_code == 401


@pytest.mark.slow
def test_cloud_scopes_and_app_id_are_those_of_the_configured_app() -> None:
    state = state_with(wawi_app_scopes=("all.read",), wawi_check_app_id=True)
    with TestClient(make_app(state)) as api:
        headers = cloud_headers(state)
        assert api.get(f"{CLOUD}/salesOrders", headers=headers).status_code == 200
        assert api.patch(f"{CLOUD}/salesOrders/1", json={"Comment": "x"}, headers=headers).status_code == 403
        assert api.get(f"{CLOUD}/salesOrders", headers={**headers, "X-AppID": "x/y"}).status_code == 401


# ---- Cloud: rate limits


@pytest.mark.slow
def test_every_cloud_response_carries_the_rate_limit_headers(client: tuple[TestClient, SandboxState]) -> None:
    api, state = client
    headers = cloud_headers(state)
    responses = [
        api.get(f"{CLOUD}/items", headers=headers),  # 200
        api.get(f"{CLOUD}/items/99999", headers=headers),  # 404
        api.get(f"{CLOUD}/items", params={"pageSize": 0}, headers=headers),  # 400
        api.get(f"{CLOUD}/items", headers={**headers, "Authorization": "Bearer x"}),  # 401
    ]
    for response in responses:
        assert response.headers["X-RateLimit-Limit"] == "600"
        assert response.headers["X-RateLimit-Interval-Length-Seconds"] == "60"
        assert int(response.headers["X-RateLimit-Remaining"]) < 600
        assert "Retry-After" not in response.headers
    assert "X-RateLimit-Limit" not in api.get(f"{V1}/items", headers=onprem_headers(state)).headers


@pytest.mark.slow
def test_past_the_limit_cloud_answers_429_without_retry_after_until_the_window_ends() -> None:
    state = state_with(wawi_cloud_rate_limit=3, wawi_cloud_rate_interval_seconds=45)
    with TestClient(make_app(state)) as api:
        headers = cloud_headers(state)
        remaining = [
            api.get(f"{CLOUD}/items", headers=headers).headers["X-RateLimit-Remaining"] for _ in range(3)
        ]
        assert remaining == ["2", "1", "0"]
        limited = api.get(f"{CLOUD}/items", headers=headers)
        assert limited.status_code == 429
        assert "Retry-After" not in limited.headers
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert limited.headers["X-RateLimit-Interval-Length-Seconds"] == "45"
        assert limited.json()["ErrorCode"] == "TooManyRequests"
        assert api.get(f"{CLOUD}/warehouses", headers=headers).status_code == 200  # limits are per endpoint
        clock_of(state).now += 44
        assert api.get(f"{CLOUD}/items", headers=headers).status_code == 429
        clock_of(state).now += 1
        fresh = api.get(f"{CLOUD}/items", headers=headers)
        assert (fresh.status_code, fresh.headers["X-RateLimit-Remaining"]) == (200, "2")


@pytest.mark.slow
def test_no_secret_in_the_wawi_runtime_repr(client: tuple[TestClient, SandboxState]) -> None:
    api, state = client
    token = cloud_headers(state)["Authorization"].removeprefix("Bearer ")
    state.config.wawi_registration_new_key = True
    key = _register(api, "acme/reader/v1", ["all.read"])
    text = repr(state.runtime.wawi) + repr(state.config)
    for secret in (token, key, state.config.wawi_api_key, state.config.wawi_cloud_client_secret):
        assert secret not in text


@pytest.mark.slow
def test_guard_error_bodies_are_wawi_error_responses() -> None:
    state = state_with(wawi_app_scopes=("all.read",), wawi_cloud_rate_limit=1)
    state.config.wawi_registration_window_open = False
    with TestClient(make_app(state)) as api:
        headers = cloud_headers(state)
        bodies = [
            api.patch(f"{V1}/salesOrders/1", json={}, headers=onprem_headers(state)).json(),  # 403 scope
            api.get(f"{CLOUD}/items", headers=headers).json(),
            api.get(f"{CLOUD}/items", headers=headers).json(),  # 429
            api.get(f"{CLOUD}/stocks", headers={**headers, "X-Tenant-ID": ""}).json(),  # 412
            api.post(
                f"{BASE}/authentication", json=registration_body(), headers={"X-ChallengeCode": "c"}
            ).json(),
        ]
    validator = openapi.validator("wawi", "ErrorResponse")
    for body in (bodies[0], *bodies[2:]):
        assert body["ErrorCode"]
        assert not openapi.problems(validator, {k: v for k, v in body.items() if k != "Stacktrace"}), body
