"""WebhookSender on httpx.MockTransport: methods, auth (signatures verified independently), retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.correlation import CORRELATION_HEADER, correlation_id
from jtl_automator.notify import (
    BasicAuth,
    BearerAuth,
    HmacAuth,
    WebhookRejected,
    WebhookSender,
    WebhookUnavailable,
)
from jtl_automator.resilience import RetryPolicy
from tests.support.clock import WALL_CLOCK, FakeClock

TOKEN = "tok_live_5f2b8c1e9d"
HMAC_SECRET = "whsec_9a8b7c6d5e4f"
URL = "https://hooks.example.com/jtl/orders"
PAYLOAD = {"orderNumber": "AU-2024-0042", "sku": "00123", "quantity": 2, "note": "Grüße"}


class Recorder:
    """A MockTransport handler that answers from a list of responses (or exceptions) and keeps requests."""

    def __init__(self, *answers: int | tuple[int, dict[str, str]] | Exception) -> None:
        self.answers = list(answers) or [200]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return httpx.Response(status, headers=headers, json={"ok": status < 300})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=WALL_CLOCK)  # the HMAC timestamp is wall-clock time


def make(recorder: Callable, clock: FakeClock, **kwargs) -> WebhookSender:
    retry = RetryPolicy(
        max_attempts=4,
        initial_delay=0.5,
        sleep=clock.sleep,
        clock=clock,
        wall_clock=clock,
        jitter=lambda: 1.0,
    )
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    return WebhookSender(http, kwargs.pop("url", URL), retry=retry, **kwargs)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_methods_with_json_body(method, clock):
    recorder = Recorder(204)
    sender = make(recorder, clock, method=method, headers={"X-Shop": "main"})
    token = correlation_id.set("flow-run-123")
    try:
        response = sender.send(PAYLOAD, idempotency_key="order-42:shipped")
    finally:
        correlation_id.reset(token)
    assert response.status_code == 204
    [request] = recorder.requests
    assert request.method == method
    assert str(request.url) == URL
    assert json.loads(request.content) == PAYLOAD
    assert "Grüße".encode() in request.content  # UTF-8, not \\u escapes
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["Idempotency-Key"] == "order-42:shipped"
    assert request.headers[CORRELATION_HEADER] == "flow-run-123"
    assert request.headers["X-Shop"] == "main"


def test_get_sends_payload_as_query(clock):
    recorder = Recorder(200)
    make(recorder, clock, method="GET").send({"sku": "00123", "qty": 2, "skip": None}, idempotency_key="k")
    [request] = recorder.requests
    assert request.method == "GET" and request.content == b""
    assert dict(request.url.params) == {"sku": "00123", "qty": "2"}
    assert request.headers["Idempotency-Key"] == "k"
    with pytest.raises(ValueError, match="nested"):
        make(recorder, clock, method="GET").send({"items": [1]}, idempotency_key="k")


def test_bearer_auth(clock):
    recorder = Recorder(200)
    make(recorder, clock, auth=BearerAuth(SecretStr(TOKEN))).send(PAYLOAD, idempotency_key="k")
    assert recorder.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_basic_auth(clock):
    recorder = Recorder(200)
    make(recorder, clock, auth=BasicAuth("shop", SecretStr("pässwort:1"))).send(PAYLOAD, idempotency_key="k")
    scheme, _, encoded = recorder.requests[0].headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "shop:pässwort:1"


def test_hmac_signs_timestamp_and_raw_body_by_default(clock):
    recorder = Recorder(200)
    auth = HmacAuth(SecretStr(HMAC_SECRET), clock=clock)
    make(recorder, clock, auth=auth).send(PAYLOAD, idempotency_key="k")
    request = recorder.requests[0]
    signed = request.headers["X-Timestamp"].encode() + b"." + request.content
    expected = "sha256=" + hmac.new(HMAC_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Signature"], expected)
    assert request.headers["X-Timestamp"] == str(int(clock.now))
    tampered = signed.replace(b"00123", b"00124")
    assert hmac.new(HMAC_SECRET.encode(), tampered, hashlib.sha256).hexdigest() not in expected
    replayed = str(int(clock.now) + 600).encode() + b"." + request.content  # a later timestamp, same body
    assert hmac.new(HMAC_SECRET.encode(), replayed, hashlib.sha256).hexdigest() not in expected


def test_hmac_over_the_body_alone_when_the_receiver_wants_that(clock):
    recorder = Recorder(200)
    auth = HmacAuth(SecretStr(HMAC_SECRET), sign_timestamp=False, clock=clock)
    make(recorder, clock, auth=auth).send(PAYLOAD, idempotency_key="k")
    request = recorder.requests[0]
    expected = "sha256=" + hmac.new(HMAC_SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == expected


def test_hmac_with_signed_timestamp_is_fresh_per_attempt(clock):
    recorder = Recorder((429, {"Retry-After": "2"}), 200)
    auth = HmacAuth(SecretStr(HMAC_SECRET), header="X-Hub-Signature-256", sign_timestamp=True, clock=clock)
    make(recorder, clock, auth=auth).send(PAYLOAD, idempotency_key="k")
    first, second = recorder.requests
    assert first.content == second.content
    assert first.headers["X-Timestamp"] != second.headers["X-Timestamp"]
    for request in (first, second):
        signed = request.headers["X-Timestamp"].encode() + b"." + request.content
        digest = hmac.new(HMAC_SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert request.headers["X-Hub-Signature-256"] == f"sha256={digest}"


def test_retries_503_then_succeeds(clock):
    recorder = Recorder(503, 502, 200)
    response = make(recorder, clock).send(PAYLOAD, idempotency_key="order-42")
    assert response.status_code == 200
    assert len(recorder.requests) == 3
    assert {r.headers["Idempotency-Key"] for r in recorder.requests} == {"order-42"}
    assert clock.sleeps == [0.5, 1.0]


def test_429_honours_retry_after(clock):
    recorder = Recorder((429, {"Retry-After": "3"}), 200)
    make(recorder, clock, method="PATCH").send(PAYLOAD, idempotency_key="k")
    assert len(recorder.requests) == 2 and clock.sleeps == [3.0]


def test_transport_errors_are_retried(clock):
    recorder = Recorder(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), 200)
    make(recorder, clock).send(PAYLOAD, idempotency_key="k")
    assert len(recorder.requests) == 3


def test_400_is_not_retried(clock):
    def handler(request: httpx.Request) -> httpx.Response:
        handler.calls += 1  # type: ignore[attr-defined]
        # a careless receiver echoing the credentials it got
        return httpx.Response(400, text=f"bad payload; you sent {request.headers['Authorization']}")

    handler.calls = 0  # type: ignore[attr-defined]
    sender = make(handler, clock, auth=BearerAuth(SecretStr(TOKEN)))
    with pytest.raises(WebhookRejected) as caught:
        sender.send(PAYLOAD, idempotency_key="k")
    assert handler.calls == 1 and clock.sleeps == []  # type: ignore[attr-defined]
    assert caught.value.status == 400
    assert "POST https://hooks.example.com/jtl/orders -> 400: bad payload" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_gives_up_after_the_attempt_limit(clock):
    recorder = Recorder(503)
    with pytest.raises(WebhookUnavailable, match="gave up after 4 attempt") as caught:
        make(recorder, clock).send(PAYLOAD, idempotency_key="k")
    assert caught.value.status == 503 and len(recorder.requests) == 4


def test_secrets_stay_out_of_reprs_logs_and_errors(clock, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"https://user:pw-in-url@hooks.example.com/x?token={TOKEN}"
    auths = [BearerAuth(SecretStr(TOKEN)), BasicAuth("u", SecretStr(TOKEN)), HmacAuth(SecretStr(TOKEN))]
    for auth in auths:
        sender = make(Recorder(503), clock, url=url, auth=auth, headers={"X-Api-Key": SecretStr(TOKEN)})
        with pytest.raises(WebhookUnavailable) as caught:
            sender.send(PAYLOAD, idempotency_key="k")
        for text in (repr(sender), repr(auth), str(caught.value)):
            assert TOKEN not in text and "pw-in-url" not in text
        assert caught.value.__context__ is None
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("jtl_automator")]
    assert ours and not any(TOKEN in m or "pw-in-url" in m for m in ours)
    assert "hooks.example.com/x" in " ".join(ours)


def test_secret_url_is_never_shown(clock, caplog):
    caplog.set_level(logging.DEBUG)
    secret_path = "T0001/B0002/XXXXsecretXXXX"
    sender = make(Recorder(503), clock, url=SecretStr(f"https://hooks.slack.com/services/{secret_path}"))
    with pytest.raises(WebhookUnavailable) as caught:
        sender.send({"text": "Lager: 3 Abweichungen"}, idempotency_key="k")
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("jtl_automator"))
    for text in (repr(sender), str(caught.value), ours):
        assert "XXXXsecretXXXX" not in text
    assert "https://hooks.slack.com/…" in str(caught.value)


def test_configuration_errors():
    http = httpx.Client(transport=httpx.MockTransport(Recorder(200)))
    with pytest.raises(ValueError, match="method"):
        WebhookSender(http, URL, method="TRACE")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="http"):
        WebhookSender(http, "ftp://example.com/x")
    with pytest.raises(ValueError, match="idempotency_key"):
        WebhookSender(http, URL).send(PAYLOAD, idempotency_key="")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_every_method_is_retried_because_of_the_idempotency_key(method, clock):
    recorder = Recorder(503, 408, httpx.RemoteProtocolError("dropped"), 200)
    make(recorder, clock, method=method).send({"sku": "00123"}, idempotency_key="k")
    assert len(recorder.requests) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_429_beyond_the_limit_is_transient_and_says_how_long_to_wait(clock):
    from jtl_automator.resilience import TransientFailure

    recorder = Recorder((429, {"Retry-After": "5"}))
    with pytest.raises(WebhookUnavailable, match=r"-> 429 \(gave up after 4 attempt") as caught:
        make(recorder, clock).send(PAYLOAD, idempotency_key="k")
    assert isinstance(caught.value, TransientFailure)
    assert caught.value.retry_after == 5.0 and clock.sleeps == [5.0, 5.0, 5.0]
    assert caught.value.__context__ is None


def test_rejections_are_not_transient(clock):
    from jtl_automator.resilience import TransientFailure

    with pytest.raises(WebhookRejected) as caught:
        make(Recorder(404), clock).send(PAYLOAD, idempotency_key="k")
    assert not isinstance(caught.value, TransientFailure)


def test_query_parameters_are_merged_with_the_urls_own(clock):
    recorder = Recorder(200)
    sender = make(recorder, clock, url=URL + "?token=abc", method="GET")
    sender.send({"sku": "00123"}, idempotency_key="k")
    post = make(recorder, clock, url=URL + "?token=abc")
    post.send({"a": 1}, idempotency_key="k", query={"source": "jtl"})
    assert [str(r.url) for r in recorder.requests] == [
        URL + "?token=abc&sku=00123",
        URL + "?token=abc&source=jtl",
    ]


def test_a_text_body_with_its_content_type_is_signed_as_sent(clock):
    recorder = Recorder(200)
    auth = HmacAuth(SecretStr(HMAC_SECRET), clock=clock)
    make(recorder, clock, auth=auth).send(idempotency_key="k", text="a;b\n1;2\n", content_type="text/csv")
    [request] = recorder.requests
    assert request.content == b"a;b\n1;2\n" and request.headers["Content-Type"] == "text/csv"
    assert request.headers["X-Signature"] == auth.signature(request.content, request.headers["X-Timestamp"])
    with pytest.raises(ValueError, match="not both"):
        make(recorder, clock).send({"a": 1}, idempotency_key="k", text="x")
    with pytest.raises(ValueError, match="no body"):
        make(recorder, clock, method="GET").send(idempotency_key="k", text="x")


def test_derive_keeps_auth_and_retries_adds_a_path_and_hides_a_secret_urls_path(clock):
    recorder = Recorder(503, 200)
    base = make(recorder, clock, url=SecretStr(URL + "?key=q123"), auth=BearerAuth(SecretStr(TOKEN)))
    derived = base.derive(method="DELETE", path="/42/lines", headers={"X-Shop": "main"})
    assert derived.display_url == "https://hooks.example.com/…/42/lines" and base.method == "POST"
    derived.send(idempotency_key="k")
    assert [r.method for r in recorder.requests] == ["DELETE", "DELETE"]  # retried with base's policy
    request = recorder.requests[-1]
    assert str(request.url) == URL + "/42/lines?key=q123"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}" and request.headers["X-Shop"] == "main"
    for bad in ("/../admin", "/a?x=1", "/a#b", "//evil.example/x", "/a b", "https://evil.example"):
        if bad == "//evil.example/x":
            # a double slash stays below the URL's path: it is joined, never taken as a host
            assert str(base.derive(path=bad)._plain_url()).startswith(URL + "/")
            continue
        with pytest.raises(ValueError, match="webhook path"):
            base.derive(path=bad)
