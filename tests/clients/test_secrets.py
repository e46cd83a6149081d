"""Secrets (client secret, tokens, API key) never appear in reprs, exception messages or logs."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError, JtlApiError
from jtl_automator.clients.ffn import FfnClient, FfnTokenManager, InMemoryTokenStore
from jtl_automator.clients.wawi import WawiClient
from jtl_automator.resilience import RetryPolicy
from tests.clients.conftest import FakeClock
from tests.clients.oauth_fake import CLIENT_ID, CLIENT_SECRET, INITIAL_REFRESH, FakeOAuth

WAWI_KEY = "wawi-key-0000-TOPSECRET"


def secrets_in(oauth: FakeOAuth) -> list[str]:
    return [
        CLIENT_SECRET,
        INITIAL_REFRESH,
        WAWI_KEY,
        *oauth.issued_access,
        *oauth.valid_refresh,
        "def502-refresh-1",
        "def502-refresh-2",
    ]


def test_nothing_secret_leaks_through_errors_logs_or_reprs(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    oauth = FakeOAuth()
    policy = RetryPolicy(sleep=clock.sleep, clock=clock)

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.host == "oauth2.example.test":
            return oauth.handle(request)
        if request.url.path.endswith("/flaky"):
            raise httpx.ReadTimeout("timed out")
        return httpx.Response(401, json={"errorCode": {"code": "Unauthorized"}})

    http = httpx.Client(transport=httpx.MockTransport(api))
    store = InMemoryTokenStore()
    tokens = FfnTokenManager(
        http,
        "https://oauth2.example.test/token",
        CLIENT_ID,
        SecretStr(CLIENT_SECRET),
        store,
        SecretStr(INITIAL_REFRESH),
        retry=policy,
    )
    ffn = FfnClient(http, tokens, "https://ffn.example.test/api", retry=policy)
    wawi = WawiClient(
        http, "http://wawi.example.test/api/eazybusiness", SecretStr(WAWI_KEY), "a/b/c", "1", retry=policy
    )

    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for call in (
            lambda: ffn.products.get("X"),
            lambda: wawi.items.get(1),
            lambda: ffn.core.request("GET", "/flaky"),
        ):
            with pytest.raises(JtlApiError) as info:
                call()
            texts += [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
        oauth.valid_refresh.clear()
        tokens.invalidate(tokens.access_token())
        with pytest.raises(AuthError) as auth_info:
            tokens.access_token()
        texts += [str(auth_info.value), repr(auth_info.value)]

    texts += [
        repr(ffn),
        repr(wawi),
        repr(tokens),
        repr(store.read_token("ffn")),
        repr(ffn.core.auth),
        repr(wawi.core.auth),
        caplog.text,
    ]
    texts += [str(r.__dict__) for r in caplog.records]
    blob = "\n".join(texts)
    assert len(oauth.issued_access) >= 2  # tokens really were issued and used
    for secret in secrets_in(oauth):
        assert secret not in blob, secret


def test_our_error_for_a_transport_failure_does_not_repeat_the_exception_text(clock: FakeClock) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"boom {request.headers.get('Authorization')}")

    wawi = WawiClient(
        httpx.Client(transport=httpx.MockTransport(api)),
        "http://w.example.test/api",
        SecretStr(WAWI_KEY),
        "a",
        "1",
        retry=RetryPolicy(sleep=clock.sleep, clock=clock, max_attempts=2),
    )
    with pytest.raises(JtlApiError) as info:
        wawi.items.get(1)
    assert WAWI_KEY not in str(info.value)
    assert str(info.value).startswith("GET /api/v1/items/1 ReadTimeout")
