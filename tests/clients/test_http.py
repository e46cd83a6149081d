"""One test per retry rule of the shared transport (HttpCore), with fake time."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from jtl_automator.clients.errors import (
    AuthError,
    Conflict,
    ForbiddenError,
    LicenseError,
    NotFound,
    RateLimited,
    TransientError,
    ValidationFailed,
)
from jtl_automator.clients.http import HttpCore
from jtl_automator.correlation import CORRELATION_HEADER, correlation_id
from jtl_automator.resilience import RateLimiter, RetryPolicy, parse_retry_after
from tests.clients.conftest import FakeClock, Recorder, json_response

OK = json_response(200, {"ok": True})


def core_for(recorder: Recorder, policy: RetryPolicy, **kwargs: object) -> HttpCore:
    return HttpCore(recorder.client(), "https://api.example.test/api", retry=policy, **kwargs)  # type: ignore[arg-type]


def test_429_with_retry_after_seconds_is_retried_after_that_delay(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    rec = Recorder(json_response(429, headers={"Retry-After": "7"}), OK)
    response = core_for(rec, policy).request("GET", "/v1/things")
    assert response.json() == {"ok": True}
    assert len(rec.requests) == 2
    assert clock.sleeps == [7.0]


def test_429_with_retry_after_http_date(policy: RetryPolicy, clock: FakeClock) -> None:
    when = datetime.fromtimestamp(1_700_000_000 + 12, UTC)
    rec = Recorder(json_response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}), OK)
    core_for(rec, policy).request("GET", "/v1/things")
    assert clock.sleeps == [pytest.approx(12.0)]


def test_429_with_x_ratelimit_headers_waits_for_the_window(policy: RetryPolicy, clock: FakeClock) -> None:
    headers = {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Interval-Length-Seconds": "9",
    }
    rec = Recorder(json_response(429, headers=headers), OK)
    core_for(rec, policy).request("GET", "/v1/things")
    assert clock.sleeps == [9.0]


def test_server_requested_delay_is_capped(policy: RetryPolicy, clock: FakeClock) -> None:
    rec = Recorder(json_response(429, headers={"Retry-After": "3600"}), OK)
    core_for(rec, policy).request("GET", "/v1/things")
    assert clock.sleeps == [policy.max_retry_after]


def test_429_without_headers_backs_off_exponentially(policy: RetryPolicy, clock: FakeClock) -> None:
    rec = Recorder(json_response(429), json_response(429), json_response(429), OK)
    core_for(rec, policy).request("GET", "/v1/things")
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_429_is_retried_even_for_post(policy: RetryPolicy, clock: FakeClock) -> None:
    rec = Recorder(json_response(429, headers={"Retry-After": "1"}), json_response(201, {"id": 1}))
    response = core_for(rec, policy).request("POST", "/v1/things", json={"a": 1})
    assert response.status_code == 201
    assert len(rec.requests) == 2


def test_429_pauses_the_shared_rate_limiter(policy: RetryPolicy, clock: FakeClock) -> None:
    limiter = RateLimiter(100, burst=1, clock=clock, sleep=clock.sleep)
    rec = Recorder(json_response(429, headers={"Retry-After": "5"}), OK)
    seen_pause: list[float] = []
    original_pause = limiter.pause

    def spy(seconds: float) -> None:
        seen_pause.append(seconds)
        original_pause(seconds)
        # What a sibling thread experiences right after the 429: it must wait out the pause too.
        probe = RateLimiter(100, burst=1, clock=clock, sleep=lambda s: None)
        probe._tat = limiter._tat
        assert probe.acquire() == pytest.approx(5.0)

    limiter.pause = spy  # type: ignore[method-assign]
    core_for(rec, policy, limiter=limiter).request("GET", "/v1/things")
    assert seen_pause == [5.0]
    assert clock.sleeps == [5.0]  # the retry itself waited once, not twice


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(json_response(503, {"errorCode": {"code": "Server"}}), id="503"),
        pytest.param(json_response(500), id="500"),
        pytest.param(httpx.ReadTimeout("slow"), id="read-timeout"),
        pytest.param(httpx.ConnectError("refused"), id="connect-error"),
        pytest.param(
            httpx.RemoteProtocolError("Server disconnected without sending a response."), id="dropped"
        ),
    ],
)
@pytest.mark.parametrize("failures_before_success", [1, 3])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_transient_failures_are_retried_for_idempotent_methods(
    policy: RetryPolicy, failure: httpx.Response | Exception, failures_before_success: int, method: str
) -> None:
    rec = Recorder(*([failure] * failures_before_success), OK)
    response = core_for(rec, policy).request(method, "/v1/things")
    assert response.status_code == 200
    assert len(rec.requests) == failures_before_success + 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize(
    "failure",
    [json_response(503), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")],
    ids=["503", "timeout", "dropped"],
)
def test_transient_failures_are_not_retried_for_non_idempotent_methods(
    policy: RetryPolicy, method: str, failure: httpx.Response | Exception
) -> None:
    rec = Recorder(failure, OK)
    with pytest.raises(TransientError) as info:
        core_for(rec, policy).request(method, "/v1/things", json={"x": 1})
    assert len(rec.requests) == 1
    assert f"{method} /api/v1/things" in str(info.value)


def test_max_attempts_exhausted_raises_transient_error(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(502))
    with pytest.raises(TransientError, match="gave up after 6 attempt"):
        core_for(rec, policy).request("GET", "/v1/things")
    assert len(rec.requests) == policy.max_attempts


def test_time_budget_exhausted_raises_before_attempts_run_out(clock: FakeClock) -> None:
    policy = RetryPolicy(
        max_attempts=50, budget_seconds=10, sleep=clock.sleep, clock=clock, jitter=lambda: 1.0, max_delay=4
    )
    rec = Recorder(httpx.ConnectTimeout("no route"))
    with pytest.raises(TransientError, match="gave up"):
        core_for(rec, policy).request("GET", "/v1/things")
    assert sum(clock.sleeps) <= 10
    assert len(rec.requests) < 50


def test_rate_limited_after_budget_carries_retry_after(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(429, headers={"Retry-After": "2"}))
    with pytest.raises(RateLimited) as info:
        core_for(rec, policy).request("GET", "/v1/things")
    assert info.value.retry_after == 2.0
    assert info.value.status == 429


class FlakyTokenAuth:
    """Auth strategy double: counts refreshes after 401s."""

    def __init__(self) -> None:
        self.refreshes = 0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer token-{self.refreshes}"}

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        self.refreshes += 1
        return True


def test_401_refreshes_once_then_succeeds(policy: RetryPolicy) -> None:
    auth = FlakyTokenAuth()
    rec = Recorder(json_response(401), OK)
    core_for(rec, policy, auth=auth).request("GET", "/v1/things")
    assert auth.refreshes == 1
    assert [r.headers["Authorization"] for r in rec.requests] == ["Bearer token-0", "Bearer token-1"]


def test_a_fresh_token_revoked_before_it_lands_is_refreshed_again(policy: RetryPolicy) -> None:
    """Parallel reads: another process's rotation can revoke the token fetched after the first 401."""
    auth = FlakyTokenAuth()
    rec = Recorder(json_response(401), json_response(401), OK)
    core_for(rec, policy, auth=auth).request("GET", "/v1/things")
    assert [r.headers["Authorization"] for r in rec.requests] == [
        "Bearer token-0",
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_401_for_every_fresh_token_is_an_auth_error_after_six_refreshes(policy: RetryPolicy) -> None:
    auth = FlakyTokenAuth()
    rec = Recorder(json_response(401))
    with pytest.raises(AuthError, match="401"):
        core_for(rec, policy, auth=auth).request("GET", "/v1/things")
    assert auth.refreshes == 6
    assert len(rec.requests) == 7


class SameTokenAuth(FlakyTokenAuth):
    """A refresh that hands back the very token the server refused."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer the-one"}


def test_the_same_credential_refused_twice_is_not_refreshed_again(policy: RetryPolicy) -> None:
    auth = SameTokenAuth()
    rec = Recorder(json_response(401))
    with pytest.raises(AuthError, match="401"):
        core_for(rec, policy, auth=auth).request("GET", "/v1/things")
    assert auth.refreshes == 1
    assert len(rec.requests) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [(402, LicenseError), (403, ForbiddenError), (404, NotFound), (406, Conflict), (409, Conflict)],
)
def test_status_codes_map_to_typed_errors_without_retry(
    policy: RetryPolicy, status: int, error: type[Exception]
) -> None:
    rec = Recorder(json_response(status), OK)
    with pytest.raises(error):
        core_for(rec, policy).request("GET", "/v1/things/1")
    assert len(rec.requests) == 1


def test_license_and_forbidden_are_auth_errors() -> None:
    assert issubclass(LicenseError, AuthError)
    assert issubclass(ForbiddenError, AuthError)


def test_400_parses_the_ffn_error_envelope(policy: RetryPolicy) -> None:
    body = {
        "errorCode": {
            "code": "Outbounds_OutboundShippingMethodAndShippingTypeSet",
            "description": "Either or",
        },
        "errorMessages": [{"message": "shippingType and shippingMethodId given", "target": "shippingType"}],
        "errorMetadata": {"MerchantOutboundNumber": "SO-1"},
    }
    rec = Recorder(json_response(400, body))
    with pytest.raises(ValidationFailed) as info:
        core_for(rec, policy).request("POST", "/v1/merchant/outbounds", json={})
    err = info.value
    assert err.code == "Outbounds_OutboundShippingMethodAndShippingTypeSet"
    assert err.messages == ("Either or", "shippingType: shippingType and shippingMethodId given")
    assert err.metadata == {"MerchantOutboundNumber": "SO-1"}
    assert str(err).startswith("POST /api/v1/merchant/outbounds -> 400 Outbounds_OutboundShippingMethod")


def test_400_parses_the_wawi_error_response(policy: RetryPolicy) -> None:
    body = {
        "ErrorCode": "ValidationError",
        "ErrorMessage": "One or more validation errors occurred.",
        "ValidationErrors": {"Name": "The Name field is required."},
        "Stacktrace": "at Foo()",
    }
    rec = Recorder(json_response(400, body))
    with pytest.raises(ValidationFailed) as info:
        core_for(rec, policy).request("POST", "/v1/items", json={})
    assert info.value.code == "ValidationError"
    assert "Name: The Name field is required." in info.value.messages
    assert info.value.metadata["validation_errors"] == {"Name": "The Name field is required."}
    assert "Stacktrace" not in str(info.value) and "at Foo()" not in str(info.value)


def test_422_parses_the_camelcase_v2_error(policy: RetryPolicy) -> None:
    body = {
        "errorCode": "VALIDATION_ERROR",
        "errorMessage": "bad",
        "validationErrors": {"supplierId": "missing"},
    }
    rec = Recorder(json_response(422, body))
    with pytest.raises(ValidationFailed) as info:
        core_for(rec, policy).request("POST", "/v2/purchase-orders", json={})
    assert info.value.code == "VALIDATION_ERROR"
    assert info.value.messages == ("bad", "supplierId: missing")


def test_every_retry_is_logged_with_method_path_attempt_delay(
    policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder(json_response(503), httpx.ReadTimeout("slow"), OK)
    with caplog.at_level(logging.WARNING, logger="jtl_automator.http"):
        core_for(rec, policy).request("GET", "/v1/things")
    retries = [r for r in caplog.records if r.name == "jtl_automator.http"]
    assert [(r.method, r.path, r.attempt, r.reason) for r in retries] == [  # type: ignore[attr-defined]
        ("GET", "/api/v1/things", 1, "503"),
        ("GET", "/api/v1/things", 2, "ReadTimeout"),
    ]
    assert [r.delay for r in retries] == [0.5, 1.0]  # type: ignore[attr-defined]


def test_correlation_id_header_follows_the_contextvar(policy: RetryPolicy) -> None:
    rec = Recorder(OK)
    core = core_for(rec, policy)
    core.request("GET", "/v1/a")
    default = rec.requests[0].headers[CORRELATION_HEADER]
    assert default.startswith("proc-")
    token = correlation_id.set("flow-run-1234")
    try:
        core.request("GET", "/v1/b")
    finally:
        correlation_id.reset(token)
    assert rec.requests[1].headers[CORRELATION_HEADER] == "flow-run-1234"


def test_stats_count_requests_per_status(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(503), httpx.ConnectError("x"), OK)
    core = core_for(rec, policy)
    core.request("GET", "/v1/things")
    assert core.stats.requests == 3
    assert core.stats.by_status == {503: 1, 200: 1}
    assert core.stats.transport_errors == 1
    assert core.stats.retries == 2


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            "https://evil.example.com/api/v1/merchant/products?$skip=50",
            "https://api.example.test/api/v1/merchant/products?$skip=50",
        ),
        ("/api/v1/merchant/products?$skip=50", "https://api.example.test/api/v1/merchant/products?$skip=50"),
        ("/v1/merchant/products", "https://api.example.test/api/v1/merchant/products"),
        ("v1/users/current", "https://api.example.test/api/v1/users/current"),
    ],
)
def test_links_are_rerooted_on_the_configured_origin(policy: RetryPolicy, link: str, expected: str) -> None:
    assert core_for(Recorder(OK), policy).url(link) == expected


def test_parse_retry_after_rejects_garbage() -> None:
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-3") == 0.0


def test_a_credential_refresh_is_not_counted_as_an_attempt(policy: RetryPolicy) -> None:
    auth = FlakyTokenAuth()
    rec = Recorder(json_response(401), json_response(503))
    with pytest.raises(TransientError, match="gave up after 6 attempt"):
        core_for(rec, policy, auth=auth).request("GET", "/v1/things")
    assert auth.refreshes == 1
    assert len(rec.requests) == policy.max_attempts + 1  # six attempts, the first one sent twice


def test_limiter_slot_is_taken_for_every_send(policy: RetryPolicy, clock: FakeClock) -> None:
    limiter = RateLimiter(1000, burst=10, clock=clock, sleep=clock.sleep)
    calls: list[float] = []
    original = limiter.acquire

    def spy() -> float:
        calls.append(clock.now)
        return original()

    limiter.acquire = spy  # type: ignore[method-assign]
    rec = Recorder(json_response(401), json_response(503), OK)
    core_for(rec, policy, limiter=limiter, auth=FlakyTokenAuth()).request("GET", "/v1/things")
    assert len(calls) == len(rec.requests) == 3


def test_retry_transient_true_retries_a_post(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(502), httpx.ConnectError("refused"), json_response(201, {"id": 1}))
    response = core_for(rec, policy).request("POST", "/v1/things", json={}, retry_transient=True)
    assert response.status_code == 201 and len(rec.requests) == 3


class FailingRefreshAuth:
    """Auth whose token refresh fails (it already retried under its own request)."""

    def __init__(self) -> None:
        self.calls = 0

    def headers(self) -> dict[str, str]:
        self.calls += 1
        raise TransientError("POST /token -> 503 (gave up after 6 attempt(s) in 30.0s)", status=503)

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        return True


def test_a_failed_token_refresh_is_not_retried_again_by_the_request(policy: RetryPolicy) -> None:
    auth = FailingRefreshAuth()
    rec = Recorder(OK)
    with pytest.raises(TransientError, match="/token"):
        core_for(rec, policy, auth=auth).request("GET", "/v1/things")
    assert auth.calls == 1 and rec.requests == []  # no 6 x 6 nesting
