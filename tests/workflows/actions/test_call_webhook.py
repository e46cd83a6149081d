"""call_webhook against a real HTTP receiver: block auth, retries, one delivery per step, no secrets out."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from blocks.credentials import WebhookEndpoint
from jtl_automator.notify import WebhookRejected, WebhookSender, WebhookUnavailable
from jtl_automator.notify.webhook import BearerAuth
from jtl_automator.store import StateStore
from jtl_automator.workflows.actions.webhook import CallWebhookParams, call_webhook
from tests.support.clock import FakeClock, policy_on
from tests.workflows.actions.conftest import MakeCtx
from tests.workflows.actions.receiver import Answer, Receiver

TOKEN = "tok_live_8c1e9d5f2b77"
HMAC_KEY = "whsec_4e5f6a7b8c9d"
URL_TOKEN = "qtok_31415926"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def block(receiver: Receiver, **values: Any) -> WebhookEndpoint:
    fields: dict[str, Any] = {
        "url": SecretStr(f"{receiver.url}/api?key={URL_TOKEN}"),
        "auth": "bearer",
        "secret": SecretStr(TOKEN),
        "retry_initial_delay_seconds": 0.01,
        "retry_max_delay_seconds": 0.02,
        "timeout_seconds": 5,
    }
    fields.update(values)
    return WebhookEndpoint(**fields)


def hooks(http: httpx.Client, **blocks: WebhookEndpoint) -> Any:
    return lambda name: blocks[name].get_client(http)


def params(**values: Any) -> CallWebhookParams:
    return CallWebhookParams.model_validate({"endpoint": "crm", **values})


def no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (TOKEN, HMAC_KEY, URL_TOKEN):
            assert secret not in text


def test_posts_json_with_the_blocks_auth_below_its_url_and_outputs_the_answer(
    receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="jtl_automator")  # httpx itself is quieted by the shell
    p = params(
        path="/customers/K-42",
        method="patch",
        body={"hold": True, "reason": "Adresse prüfen"},
        headers={"X-Shop": "main"},
        query={"source": "jtl"},
    )
    result = call_webhook(p, make_ctx("wf:crm:v1:order-7:notify", webhooks=hooks(http, crm=block(receiver))))
    [seen] = receiver.requests
    assert (seen.method, seen.path) == ("PATCH", f"/api/customers/K-42?key={URL_TOKEN}&source=jtl")
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}" and seen.headers["X-Shop"] == "main"
    assert seen.headers["Idempotency-Key"] == "wf:crm:v1:order-7:notify"
    assert json.loads(seen.body) == {"hold": True, "reason": "Adresse prüfen"}
    out = result.output
    assert out["status_code"] == 200 and out["response"]["received"] == "PATCH"
    assert out["response"]["headers"]["Authorization"] == "Bearer ***"  # the echo is scrubbed
    assert out["url"].endswith("/…/customers/K-42") and result.effects == ("wf:crm:v1:order-7:notify",)
    no_secret(json.dumps(out), result.summary, caplog.text)


@pytest.mark.slow
def test_one_delivery_across_a_5xx_retry_and_a_rerun_of_the_step(
    receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx, store: StateStore
) -> None:
    receiver.script(Answer(503), Answer(502))
    ctx = make_ctx("k1", webhooks=hooks(http, crm=block(receiver)))
    first = call_webhook(params(body={"n": 1}), ctx)
    assert [r.status for r in receiver.requests] == [503, 502, 200]
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {"k1"}
    again = call_webhook(params(body={"n": 1}), make_ctx("k1", webhooks=hooks(http, crm=block(receiver))))
    assert len(receiver.requests) == 3 and receiver.deliveries() == 1
    assert (
        again.repeated == ("k1",)
        and again.output == first.output
        and again.summary.startswith("already done")
    )


def test_429_waits_as_long_as_retry_after_says(
    receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx
) -> None:
    clock = FakeClock()
    sender = WebhookSender(
        http, f"{receiver.url}/hook", auth=BearerAuth(SecretStr(TOKEN)), retry=policy_on(clock)
    )
    receiver.script(Answer(429, {"Retry-After": "7"}))
    out = call_webhook(params(), make_ctx(webhooks=lambda name: sender)).output
    assert clock.sleeps == [7.0] and out["status_code"] == 200 and len(receiver.requests) == 2


@pytest.mark.slow
def test_a_timeout_fails_the_step_and_the_next_run_delivers_once(
    receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx, store: StateStore
) -> None:
    slow = block(receiver, timeout_seconds=0.1, retry_max_attempts=2)
    receiver.script(Answer(delay=0.4), Answer(delay=0.4))
    with pytest.raises(WebhookUnavailable) as caught:
        call_webhook(params(body={"n": 1}), make_ctx("k1", webhooks=hooks(http, crm=slow)))
    no_secret(str(caught.value))
    assert "ReadTimeout" in str(caught.value)
    claim = store.side_effect("k1")
    assert claim is not None and claim.state.value == "failed" and TOKEN not in json.dumps(claim.result)
    result = call_webhook(params(body={"n": 1}), make_ctx("k1", webhooks=hooks(http, crm=block(receiver))))
    assert result.effects == ("k1",) and receiver.deliveries() == 1
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {"k1"}


def test_a_4xx_is_not_retried_and_its_message_holds_no_secret(
    receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx
) -> None:
    receiver.script(Answer(401, body=f"bad token {TOKEN} for key={URL_TOKEN}".encode()))
    with pytest.raises(WebhookRejected) as caught:
        call_webhook(params(), make_ctx(webhooks=hooks(http, crm=block(receiver))))
    assert len(receiver.requests) == 1 and caught.value.status == 401
    no_secret(str(caught.value))


@pytest.mark.slow
def test_hmac_signature_over_a_text_body(receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx) -> None:
    signed = block(receiver, auth="hmac", secret=SecretStr(HMAC_KEY))
    p = params(method="PUT", body="status=held\n", content_type="text/csv")
    out = call_webhook(p, make_ctx(webhooks=hooks(http, crm=signed))).output
    [seen] = receiver.requests
    assert seen.body == b"status=held\n" and seen.headers["Content-Type"] == "text/csv"
    expected = hmac.new(
        HMAC_KEY.encode(), f"{seen.headers['X-Timestamp']}.".encode() + seen.body, hashlib.sha256
    )
    assert seen.headers["X-Signature"] == f"sha256={expected.hexdigest()}"
    no_secret(json.dumps(out))


@pytest.mark.slow
def test_a_large_or_non_json_response_is_cut_and_kept_as_text(
    receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx
) -> None:
    receiver.script(Answer(200, {"Content-Type": "application/json"}, body=b'{"x": "' + b"y" * 5000 + b'"}'))
    out = call_webhook(
        params(max_response_bytes=100), make_ctx("k1", webhooks=hooks(http, crm=block(receiver)))
    ).output
    assert out["response_truncated"] is True and len(out["response"]) == 100
    receiver.script(Answer(201, {"Content-Type": "text/plain"}, body=b"accepted"))
    out = call_webhook(params(), make_ctx("k2", webhooks=hooks(http, crm=block(receiver)))).output
    assert (out["status_code"], out["response"]) == (201, "accepted")


@pytest.mark.slow
def test_a_plain_url_without_a_block(receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx) -> None:
    p = CallWebhookParams(url=f"{receiver.url}/public/ping?x=1", method="GET", query={"sku": "A-1"})
    out = call_webhook(p, make_ctx(http=http)).output
    [seen] = receiver.requests
    assert (
        seen.method == "GET"
        and seen.path == "/public/ping?x=1&sku=A-1"
        and "Authorization" not in seen.headers
    )
    assert out["status_code"] == 200


def test_simulation_says_what_it_would_send_and_sends_nothing(
    receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx, store: StateStore
) -> None:
    p = params(path="/orders/AU-1", body={"status": "held"}, headers={"X-Shop": "main"})
    result = call_webhook(p, make_ctx("k1", simulate=True, webhooks=hooks(http, crm=block(receiver))))
    would = result.output["would_send"]
    assert would["method"] == "POST" and would["url"].endswith("/…/orders/AU-1")
    assert (
        would["body"] == {"status": "held"}
        and would["auth"] == "BearerAuth"
        and would["headers"] == ["X-Shop"]
    )
    assert receiver.requests == [] and store.side_effect("k1") is None
    no_secret(json.dumps(result.output), result.summary)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"endpoint": "crm", "url": "https://x.example"}, "exactly one"),
        ({}, "exactly one"),
        ({"url": "https://user:pw@x.example/hook"}, "user or password"),
        ({"url": "ftp://x.example/hook"}, "http"),
        ({"url": "https://x.example", "path": "/a"}, "path goes with endpoint"),
        ({"endpoint": "crm", "path": "/../admin"}, r"'\.\.'"),
        ({"endpoint": "crm", "path": "/a?token=1"}, "query"),
        ({"endpoint": "crm", "path": "/a\r\nX-Evil: 1"}, "control"),
        ({"endpoint": "crm", "headers": {"Authorization": "Bearer x"}}, "set by the sender"),
        ({"endpoint": "crm", "headers": {"x-signature": "x"}}, "set by the sender"),
        ({"endpoint": "crm", "headers": {"X-A": "1\r\nX-B: 2"}}, "line break"),
        ({"endpoint": "crm", "method": "GET", "body": {"a": 1}}, "GET sends no body"),
        ({"endpoint": "crm", "method": "TRACE"}, "method"),
        ({"endpoint": "crm", "content_type": "text/csv", "body": {"a": 1}}, "text body"),
        ({"endpoint": "crm", "max_response_bytes": 10_000_000}, "max_response_bytes"),
    ],
)
def test_malformed_parameters(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CallWebhookParams.model_validate(values)


def test_a_call_whose_run_died_before_the_record_is_made_again_with_the_same_key(
    receiver: Receiver, http: httpx.Client, make_ctx: MakeCtx, store: StateStore
) -> None:
    store.claim("k1", "workflow_webhook", run_id="crashed-run")  # claimed, sent (maybe), never recorded
    result = call_webhook(params(body={"n": 1}), make_ctx("k1", webhooks=hooks(http, crm=block(receiver))))
    assert result.effects == ("k1",) and receiver.requests[0].headers["Idempotency-Key"] == "k1"
    claim = store.side_effect("k1")
    assert claim is not None and claim.state.value == "done" and claim.result["output"]["status_code"] == 200
