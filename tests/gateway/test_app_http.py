"""The gateway over a real socket (uvicorn in a thread), with real HTTP clients: the project's own webhook
sender (signing, retrying) and plain httpx (floods, streamed bodies without a length)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.gateway import Appended, Outbox, create_app
from jtl_automator.notify.webhook import HmacAuth, WebhookSender
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox.server import RunningServer, serve_in_thread
from tests.gateway.conftest import ORDER_HELD, SECRETS, error_of, event_body, make_gateway, signed

pytestmark = pytest.mark.slow


@pytest.fixture
def served(sqlite_outbox: Outbox) -> Iterator[RunningServer]:
    """The default gateway on a free loopback port."""
    with serve_in_thread(create_app(make_gateway(), sqlite_outbox)) as server:
        yield server


def _sender(http: httpx.Client, url: str, secret: str = SECRETS["shop"]) -> WebhookSender:
    fast = RetryPolicy(max_attempts=3, budget_seconds=10, initial_delay=0.01, max_delay=0.02)
    return WebhookSender(http, url, auth=HmacAuth(SecretStr(secret)), retry=fast)


def test_the_projects_own_webhook_sender_delivers_an_event(
    served: RunningServer, sqlite_outbox: Outbox
) -> None:
    with httpx.Client() as http:
        sender = _sender(http, f"{served.base_url}/events/shop")
        sender.send({"type": "order.held", "data": ORDER_HELD}, idempotency_key="order-held:AU-1001")
    stored = sqlite_outbox.get("shop", "order-held:AU-1001")
    assert stored is not None and stored.data == ORDER_HELD


def test_bad_signature_replay_and_stale_over_http(served: RunningServer, sqlite_outbox: Outbox) -> None:
    body = event_body()
    headers = signed(body)
    with httpx.Client(base_url=served.base_url) as http:
        bad = http.post("/events/shop", content=body, headers=signed(body, secret="z" * 40))
        first = http.post("/events/shop", content=body, headers=headers)
        replay = http.post("/events/shop", content=body, headers=headers)
        stale = http.post("/events/shop", content=body, headers=signed(body, at=1_700_000_000))
    assert (bad.status_code, error_of(bad)) == (401, "bad_signature")
    assert first.status_code == 202
    assert (replay.status_code, replay.json()["status"]) == (200, "duplicate")
    assert (stale.status_code, error_of(stale)) == (401, "stale_timestamp")
    assert sqlite_outbox.counts().pending == 1


def test_a_flood_from_one_address_is_cut_at_101_and_a_proxied_client_is_unaffected(
    sqlite_outbox: Outbox,
) -> None:
    app = create_app(make_gateway(trusted_proxies=["127.0.0.1"]), sqlite_outbox)
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url) as http:
        flood = {"X-Forwarded-For": "198.51.100.66"}
        codes = [http.post("/events/shop", content=b"{}", headers=flood).status_code for _ in range(101)]
        body = event_body()
        other = http.post(
            "/events/shop", content=body, headers={**signed(body), "X-Forwarded-For": "198.51.100.7"}
        )
        last = http.post("/events/shop", content=b"{}", headers=flood)
    assert codes[:100] == [401] * 100
    assert codes[100] == 429
    assert (last.status_code, int(last.headers["Retry-After"]) > 0) == (429, True)
    assert other.status_code == 202


def test_an_oversized_body_is_refused_with_and_without_content_length(sqlite_outbox: Outbox) -> None:
    app = create_app(make_gateway(max_body_bytes=2048), sqlite_outbox)
    big = event_body(data={**ORDER_HELD, "reason": "x" * 6000})
    read: list[int] = []

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 512):
            read.append(start)
            yield big[start : start + 512]

    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url) as http:
        declared = http.post("/events/shop", content=big, headers=signed(big))
        streamed = http.post("/events/shop", content=chunks(), headers=signed(big))
        small = event_body()
        fine = http.post("/events/shop", content=iter([small[:10], small[10:]]), headers=signed(small))
    assert (declared.status_code, error_of(declared)) == (413, "body_too_large")
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert (streamed.status_code, error_of(streamed)) == (413, "body_too_large")
    assert fine.status_code == 202
    assert sqlite_outbox.counts().pending == 1


class CrashAfterStoring(Outbox):
    """Writes the event, then dies before the answer (the gateway process lost mid-request)."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox.store)
        self.crashes = 1
        self.calls = 0
        self.lock = threading.Lock()

    def append(self, *args: Any, **kwargs: Any) -> Appended:
        stored = super().append(*args, **kwargs)
        with self.lock:
            self.calls += 1
            if self.crashes:
                self.crashes -= 1
                raise RuntimeError("gateway crashed after the commit")
        return stored


def test_a_crash_between_the_outbox_write_and_the_answer_leaves_one_event(sqlite_outbox: Outbox) -> None:
    crashing = CrashAfterStoring(sqlite_outbox)
    app = create_app(make_gateway(), crashing)
    with serve_in_thread(app) as server, httpx.Client() as http:
        sender = _sender(http, f"{server.base_url}/events/shop")
        response = sender.send({"type": "order.held", "data": ORDER_HELD}, idempotency_key="evt-crash")
    assert crashing.calls == 2  # a 500 for the first attempt; the sender retried (signed afresh)
    assert (response.status_code, response.json()["status"]) == (200, "duplicate")
    assert [e.event_id for e in sqlite_outbox.since(0)] == ["evt-crash"]


def test_health_over_http(served: RunningServer) -> None:
    with httpx.Client(base_url=served.base_url) as http:
        assert http.get("/health").json() == {"status": "ok"}
