"""The FFN OAuth2 server: code grant, single-use rotating refresh tokens, expiry, scopes, error shapes.

The strict knobs (revocation on refresh, refresh-token expiry) are tested alone and through strictest().
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox import oauth
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig

REDIRECT = "http://127.0.0.1:8765/callback"  # SandboxConfig.ffn_redirect_uri
CURRENT_USER = "/api/v1/users/current"


def basic(client_id: str = "sandbox-client", secret: str = "sandbox-client-secret") -> dict[str, str]:  # noqa: S107
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def token_request(client: TestClient, form: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    return client.post("/oauth2/token", data=form, headers=basic() if headers is None else headers)


def authorize(client: TestClient, **params: str) -> str:
    query = {"response_type": "code", "client_id": "sandbox-client", "redirect_uri": REDIRECT, "state": "xyz"}
    query.update(params)
    response = client.get("/oauth2/authorize", params=query, follow_redirects=False)
    assert response.status_code == 302
    return str(response.headers["location"])


def code_from(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_authorization_code_flow_issues_a_bearer_jwt(client: TestClient, state: SandboxState) -> None:
    location = authorize(client, scope="ffn.merchant.read ffn.merchant.write")
    assert location.startswith(REDIRECT + "?")
    assert parse_qs(urlsplit(location).query)["state"] == ["xyz"]

    response = token_request(
        client, {"grant_type": "authorization_code", "code": code_from(location), "redirect_uri": REDIRECT}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "access_token", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    assert body["refresh_token"].startswith("def502")

    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "sandbox-client"
    assert claims["sub"] == state.data.ffn.user_id
    assert claims["scopes"] == ["ffn.merchant.read", "ffn.merchant.write"]
    assert claims["exp"] - claims["iat"] == 1800
    assert claims["nbf"] == claims["iat"]
    assert claims["jti"]

    me = client.get(CURRENT_USER, headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["userId"] == state.data.ffn.merchant_id


@pytest.mark.slow
def test_authorization_codes_are_single_use_and_bound_to_the_redirect_uri(client: TestClient) -> None:
    code = code_from(authorize(client))
    wrong = token_request(
        client, {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://evil.example/cb"}
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    # The failed attempt consumed the code.
    again = token_request(
        client, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"

    code = code_from(authorize(client))
    first = token_request(
        client, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    )
    assert first.status_code == 200
    second = token_request(
        client, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    )
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


def test_authorize_rejects_unknown_clients_and_bad_requests(client: TestClient) -> None:
    def get(**params: str) -> Any:
        query = {"response_type": "code", "client_id": "sandbox-client", "redirect_uri": REDIRECT}
        query.update(params)
        return client.get("/oauth2/authorize", params=query, follow_redirects=False)

    unknown = get(client_id="nope")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")
    assert "location" not in unknown.headers
    missing = client.get("/oauth2/authorize", params={"response_type": "code"}, follow_redirects=False)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    # League answers a response type it has no grant for with a page, not a redirect.
    token_type = get(response_type="token")
    assert (token_type.status_code, token_type.json()["error"]) == (400, "unsupported_grant_type")
    assert "location" not in token_type.headers
    location = authorize(client, scope="ffn.merchant.read ffn.admin")
    assert location.startswith(REDIRECT + "?")
    assert parse_qs(urlsplit(location).query)["error"] == ["invalid_scope"]


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://evil.example/callback",
        "http://127.0.0.1:8765/callback/../../elsewhere",
        "http://127.0.0.1:8765/callback?next=http://evil.example",
        "http://127.0.0.1:8766/callback",
        "https://127.0.0.1:8765/callback",
        "http://localhost:8765/callback",
    ],
)
@pytest.mark.slow
def test_authorize_never_redirects_to_an_unregistered_uri(client: TestClient, redirect_uri: str) -> None:
    for params in ({}, {"scope": "ffn.admin"}, {"response_type": "token"}):
        query = {
            "response_type": "code",
            "client_id": "sandbox-client",
            "redirect_uri": redirect_uri,
            "state": "s",
            **params,
        }
        response = client.get("/oauth2/authorize", params=query, follow_redirects=False)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert "location" not in response.headers


def test_authorize_without_redirect_uri_uses_the_registered_one(client: TestClient) -> None:
    response = client.get(
        "/oauth2/authorize",
        params={"response_type": "code", "client_id": "sandbox-client", "state": "s1"},
        follow_redirects=False,
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    token = token_request(
        client, {"grant_type": "authorization_code", "code": code_from(location), "redirect_uri": REDIRECT}
    )
    assert token.status_code == 200


def test_the_registered_redirect_uri_is_configurable(ffn_kit: Any) -> None:
    state = ffn_kit.make_state(ffn_redirect_uri="https://ops.example/jtl/callback")
    with TestClient(ffn_kit.make_app(state)) as client:
        assert authorize(client, redirect_uri="https://ops.example/jtl/callback").startswith(
            "https://ops.example/jtl/callback?code="
        )
        default = client.get(
            "/oauth2/authorize",
            params={"response_type": "code", "client_id": "sandbox-client", "redirect_uri": REDIRECT},
            follow_redirects=False,
        )
        assert default.status_code == 401


def test_refresh_tokens_rotate_and_are_single_use(client: TestClient, state: SandboxState) -> None:
    initial = state.config.ffn_initial_refresh_token
    first = token_request(client, {"grant_type": "refresh_token", "refresh_token": initial})
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != initial

    reused = token_request(client, {"grant_type": "refresh_token", "refresh_token": initial})
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert reused.json()["error_description"]

    second = token_request(client, {"grant_type": "refresh_token", "refresh_token": rotated})
    assert second.status_code == 200
    assert second.json()["refresh_token"] not in (initial, rotated)
    # Every issued access token works until it expires.
    for response in (first, second):
        assert client.get(CURRENT_USER, headers=bearer(response.json()["access_token"])).status_code == 200

    unknown = token_request(client, {"grant_type": "refresh_token", "refresh_token": "def502unknown"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_grant"


def test_refresh_keeps_the_scopes_of_the_original_grant(client: TestClient) -> None:
    code = code_from(authorize(client, scope="ffn.merchant.read"))
    tokens = token_request(
        client, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    ).json()
    refreshed = token_request(
        client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    claims = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert claims["scopes"] == ["ffn.merchant.read"]


@pytest.mark.parametrize(
    "grant_type",
    ["client_credentials", "password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"],
)
@pytest.mark.slow
def test_unsupported_grant_types_are_400_per_rfc_6749(client: TestClient, grant_type: str) -> None:
    response = token_request(client, {"grant_type": grant_type, "scope": "ffn.merchant.read"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def refresh(client: TestClient, refresh_token: str) -> Any:
    return token_request(client, {"grant_type": "refresh_token", "refresh_token": refresh_token})


@pytest.mark.parametrize("strict", [False, True])
def test_refresh_revokes_the_access_token_issued_with_the_spent_refresh_token(
    ffn_kit: Any, strict: bool
) -> None:
    config = {"ffn_revoke_access_token_on_refresh": True} if strict else {}
    state = ffn_kit.make_state(**config)
    with TestClient(ffn_kit.make_app(state)) as client:
        first = refresh(client, state.config.ffn_initial_refresh_token).json()
        other = oauth.issue_token_pair(state)  # another grant: not touched by the refresh below
        second = refresh(client, first["refresh_token"]).json()
        old = client.get(CURRENT_USER, headers=bearer(first["access_token"]))
        assert old.status_code == (401 if strict else 200)
        if strict:
            assert old.content == b""
        assert client.get(CURRENT_USER, headers=bearer(second["access_token"])).status_code == 200
        assert client.get(CURRENT_USER, headers=bearer(other["access_token"])).status_code == 200


def test_refresh_tokens_expire_when_configured(ffn_kit: Any) -> None:
    day = 24 * 3600
    state = ffn_kit.make_state(ffn_refresh_token_ttl_seconds=30 * day)
    now = [1_700_000_000.0]
    oauth.runtime(state).clock = lambda: now[0]
    with TestClient(ffn_kit.make_app(state)) as client:
        now[0] += 29 * day  # the configured initial token counts from the sandbox's start
        tokens = refresh(client, state.config.ffn_initial_refresh_token).json()
        now[0] += 30 * day - 1
        tokens = refresh(client, tokens["refresh_token"]).json()  # still valid one second before the end
        now[0] += 30 * day
        expired = refresh(client, tokens["refresh_token"])
        assert expired.status_code == 400
        assert expired.json() == {
            "error": "invalid_grant",
            "error_description": "The refresh token is invalid.",
            "hint": "Token has expired",
        }
        assert refresh(client, tokens["refresh_token"]).json()["hint"] == "Token has been revoked"


def test_refresh_tokens_do_not_expire_by_default(ffn_kit: Any) -> None:
    state = ffn_kit.make_state()
    now = [1_700_000_000.0]
    oauth.runtime(state).clock = lambda: now[0]
    with TestClient(ffn_kit.make_app(state)) as client:
        now[0] += 400 * 24 * 3600
        assert refresh(client, state.config.ffn_initial_refresh_token).status_code == 200


def test_strictest_turns_on_revocation_and_a_30_day_refresh_token_lifetime() -> None:
    strict = SandboxConfig.strictest()
    assert strict.ffn_revoke_access_token_on_refresh
    assert strict.ffn_refresh_token_ttl_seconds == 30 * 24 * 3600
    assert SandboxConfig.strictest(ffn_refresh_token_ttl_seconds=60).ffn_refresh_token_ttl_seconds == 60
    lenient = SandboxConfig()
    assert not lenient.ffn_revoke_access_token_on_refresh and lenient.ffn_refresh_token_ttl_seconds is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic(secret="wrong"),
        basic(client_id="other"),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer something"},
    ],
)
@pytest.mark.slow
def test_token_endpoint_requires_basic_client_auth(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": "def502x"}, headers=headers
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "Client authentication failed"}


def test_token_endpoint_requires_a_form_body(client: TestClient, state: SandboxState) -> None:
    response = client.post(
        "/oauth2/token",
        json={"grant_type": "refresh_token", "refresh_token": state.config.ffn_initial_refresh_token},
        headers=basic(),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert token_request(client, {"grant_type": ""}).json()["error"] == "invalid_request"


def test_access_tokens_expire_after_the_configured_ttl(ffn_kit: Any) -> None:
    state = ffn_kit.make_state(access_token_ttl_seconds=1)
    now = [1_700_000_000.0]
    oauth.runtime(state).clock = lambda: now[0]
    with TestClient(ffn_kit.make_app(state)) as client:
        tokens = token_request(
            client, {"grant_type": "refresh_token", "refresh_token": state.config.ffn_initial_refresh_token}
        ).json()
        assert tokens["expires_in"] == 1
        assert client.get(CURRENT_USER, headers=bearer(tokens["access_token"])).status_code == 200
        now[0] += 1
        expired = client.get(CURRENT_USER, headers=bearer(tokens["access_token"]))
        assert expired.status_code == 401
        assert expired.content == b""
        # The refresh token outlives the access token.
        fresh = token_request(
            client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        assert client.get(CURRENT_USER, headers=bearer(fresh.json()["access_token"])).status_code == 200


def test_expire_all_access_tokens_invalidates_issued_tokens_only(
    client: TestClient, state: SandboxState
) -> None:
    old = oauth.issue_token_pair(state)
    oauth.expire_all_access_tokens(state)
    assert client.get(CURRENT_USER, headers=bearer(old["access_token"])).status_code == 401
    new = token_request(client, {"grant_type": "refresh_token", "refresh_token": old["refresh_token"]})
    assert client.get(CURRENT_USER, headers=bearer(new.json()["access_token"])).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ", "Bearer not-a-jwt", "Basic abc", "Token abc"],
)
def test_missing_or_invalid_bearer_is_401_with_an_empty_body(client: TestClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/api/v1/merchant/products", headers=headers)
    assert response.status_code == 401
    assert response.content == b""


def test_token_signed_by_another_server_is_rejected(client: TestClient, state: SandboxState) -> None:
    genuine = jwt.decode(oauth.issue_token_pair(state)["access_token"], options={"verify_signature": False})
    forged = jwt.encode(genuine, "x" * 32, algorithm="HS256")
    assert client.get(CURRENT_USER, headers=bearer(forged)).status_code == 401


def test_missing_write_scope_is_403_with_the_jtl_envelope(
    client: TestClient, read_only_auth: dict[str, str], ffn_kit: Any
) -> None:
    assert client.get("/api/v1/merchant/products", headers=read_only_auth).status_code == 200
    response = client.post("/api/v1/merchant/outbounds", headers=read_only_auth, json=ffn_kit.outbound_body())
    assert response.status_code == 403
    body = response.json()
    assert body["errorCode"]["code"] == "Shared_OperationForbidden"
    assert "ffn.merchant.write" in body["errorMessages"][0]["message"]


def test_secrets_stay_out_of_reprs(state: SandboxState) -> None:
    tokens = oauth.issue_token_pair(state)
    text = repr(oauth.runtime(state))
    for secret in (tokens["access_token"], tokens["refresh_token"], state.config.ffn_initial_refresh_token):
        assert secret not in text
