"""Paths no route serves answer in the emulated API's own error body, not the web framework's.

FFN answers with its ``ErrorResponse`` envelope (404 for an unknown path, 405 with ``Allow`` for a known
path and a wrong method); Wawi with its v1 ``ErrorResponse`` (v2: the camelCase variant). The sandbox's
own hooks and the Sheets/OAuth emulation keep FastAPI's default bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox import oauth
from jtl_automator.sandbox.app import create_app
from tests.support import openapi

FFN = "/api/v1/merchant"


@pytest.fixture
def app_client(ffn_kit: Any) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(ffn_kit.build_data())
    tokens = oauth.issue_token_pair(app.state.sandbox)
    with TestClient(app, base_url="http://sandbox.test") as client:
        yield client, {"Authorization": f"Bearer {tokens['access_token']}"}


def assert_ffn_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert "detail" not in body
    assert body["errorCode"]["code"] == code
    found = openapi.problems(openapi.validator("ffn", "ErrorResponse", read=True), body)
    assert not found, found


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        f"{FFN}/nothing",
        f"{FFN}/stocks/MERC0000001/too/deep",
        f"{FFN}/products/MERC0000001/pictures/1/x",
        "/api/v1/users/nobody",
        "/api/v2/merchant/products",
    ],
)
def test_unknown_ffn_paths_answer_with_ffns_envelope(
    app_client: tuple[TestClient, dict[str, str]], path: str
) -> None:
    client, auth = app_client
    assert_ffn_error(client.get(path, headers=auth), 404, "Shared_RouteNotFound")
    assert_ffn_error(
        client.get(path), 404, "Shared_RouteNotFound"
    )  # no token needed to learn "no such route"


@pytest.mark.slow
def test_a_wrong_method_is_ffns_405_with_allow(app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = app_client
    response = client.delete(f"{FFN}/products", headers=auth)
    assert_ffn_error(response, 405, "Shared_MethodNotAllowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert response.json()["errorMetadata"] == {"Method": "DELETE", "Path": f"{FFN}/products"}


@pytest.mark.slow
def test_known_ffn_routes_are_untouched(app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = app_client
    assert client.get(f"{FFN}/products", headers=auth).status_code == 200
    assert_ffn_error(client.get(f"{FFN}/products/MERC9999999", headers=auth), 404, "Products_ProductNotFound")


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/wawi/api/eazybusiness/v1/nothing", "ErrorCode"),
        ("/wawi/api/eazybusiness/v2/nothing", "errorCode"),
        ("/wawi/cloud/erp/nothing", "ErrorCode"),
        ("/wawi/cloud/erp/v2/nothing", "errorCode"),
    ],
)
@pytest.mark.slow
def test_unknown_wawi_paths_answer_with_wawis_error_response(
    app_client: tuple[TestClient, dict[str, str]], path: str, key: str
) -> None:
    client, _ = app_client
    response = client.get(path)
    assert response.status_code == 404
    body = response.json()
    assert body[key] == "NotFound" and "detail" not in body
    if key == "ErrorCode":
        assert set(body) == {"ErrorCode", "ErrorMessage", "ValidationErrors", "Stacktrace"}


@pytest.mark.slow
def test_a_wrong_wawi_method_is_405_in_wawis_body(app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = app_client
    response = client.delete("/wawi/api/eazybusiness/v1/items")
    assert response.status_code == 405
    assert response.json()["ErrorCode"] == "MethodNotAllowed"
    assert "GET" in response.headers["allow"]


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/_sandbox/nothing", "/sheets/v4/nothing", "/nothing", "/oauth2/nothing"])
def test_other_paths_keep_fastapis_body(app_client: tuple[TestClient, dict[str, str]], path: str) -> None:
    client, _ = app_client
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.slow
def test_sandbox_hooks_raising_http_errors_keep_their_detail(
    app_client: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = app_client
    response = client.post("/_sandbox/ffn/inbounds/NOPE/receive")
    assert response.status_code == 404
    assert response.json() == {"detail": "inbound NOPE not found"}
