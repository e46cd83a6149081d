"""The gateway's checks through ASGI: every refusal with its status and code, and what is stored."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from jtl_automator.gateway import Outbox, create_app
from jtl_automator.gateway.ratelimit import RateLimiter
from tests.gateway.conftest import (
    ORDER_HELD,
    SECRETS,
    AsgiGateway,
    error_of,
    event_body,
    make_gateway,
    signed,
)
from tests.support.clock import FakeClock


@pytest.mark.slow
def test_a_signed_event_is_stored_before_the_202(asgi: AsgiGateway, sqlite_outbox: Outbox) -> None:
    body = event_body(data={**ORDER_HELD, "held_at": "2026-11-26T09:00:00Z"})
    response = asgi.post("/events/shop", body, signed(body))
    assert response.status_code == 202
    answer = response.json()
    assert answer["status"] == "accepted" and answer["event_id"] == "evt-1"
    stored = sqlite_outbox.get("shop", "evt-1")
    assert stored is not None and stored.id == answer["id"]
    assert (stored.type, stored.data, stored.delivered_at) == (
        "order.held",
        {**ORDER_HELD, "held_at": "2026-11-26T09:00:00Z"},
        None,
    )
    assert stored.data == json.loads(body)["data"]


def test_the_same_event_id_again_is_a_duplicate_stored_once(asgi: AsgiGateway, sqlite_outbox: Outbox) -> None:
    body = event_body()
    first = asgi.post("/events/shop", body, signed(body, at=time.time() - 5))
    again = asgi.post("/events/shop", body, signed(body))  # re-signed retry: a new signature
    replay = asgi.post("/events/shop", body, signed(body, at=time.time() - 5))  # byte-identical
    assert first.status_code == 202
    for response in (again, replay):
        assert response.status_code == 200
        assert response.json() == {"status": "duplicate", "id": first.json()["id"], "event_id": "evt-1"}
    assert sqlite_outbox.counts().pending == 1


def test_the_same_event_id_from_another_source_is_another_event(
    asgi: AsgiGateway, sqlite_outbox: Outbox
) -> None:
    shop = event_body()
    crm = event_body("custom", {"name": "lead.won"})
    assert asgi.post("/events/shop", shop, signed(shop)).status_code == 202
    assert asgi.post("/events/crm", crm, signed(crm, "crm")).status_code == 202
    assert sqlite_outbox.counts().pending == 2


def test_the_event_id_may_come_from_the_idempotency_key(asgi: AsgiGateway, sqlite_outbox: Outbox) -> None:
    body = event_body(event_id=None)
    headers = {**signed(body), "Idempotency-Key": "order-held%3AAU-1001"}
    assert asgi.post("/events/shop", body, headers).status_code == 202
    assert sqlite_outbox.get("shop", "order-held:AU-1001") is not None


def test_an_event_without_any_id_is_refused(asgi: AsgiGateway) -> None:
    body = event_body(event_id=None)
    response = asgi.post("/events/shop", body, signed(body))
    assert (response.status_code, error_of(response)) == (422, "missing_event_id")


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda h: h.pop("X-Signature"), "missing_signature"),
        (lambda h: h.pop("X-Timestamp"), "missing_timestamp"),
        (lambda h: h.update({"X-Timestamp": "yesterday"}), "bad_timestamp"),
        (lambda h: h.update({"X-Signature": "md5=abc"}), "bad_signature"),
        (lambda h: h.update({"X-Signature": "sha256=" + "0" * 64}), "bad_signature"),
        (lambda h: h.update({"X-Timestamp": str(int(h["X-Timestamp"]) + 1)}), "bad_signature"),
    ],
    ids=[
        "no-signature",
        "no-timestamp",
        "timestamp-not-digits",
        "other-algorithm",
        "wrong-digest",
        "re-dated",
    ],
)
def test_missing_or_wrong_authentication_is_401(
    asgi: AsgiGateway, sqlite_outbox: Outbox, mutate: Callable[[dict[str, str]], object], code: str
) -> None:
    body = event_body()
    headers = signed(body)
    mutate(headers)
    response = asgi.post("/events/shop", body, headers)
    assert (response.status_code, error_of(response)) == (401, code)
    assert sqlite_outbox.counts().pending == 0


def test_a_signature_with_another_sources_secret_or_over_another_body_is_refused(asgi: AsgiGateway) -> None:
    body = event_body()
    wrong_secret = asgi.post("/events/shop", body, signed(body, "crm"))
    changed_body = asgi.post("/events/shop", body.replace(b"AU-1001", b"AU-9999"), signed(body))
    assert [(r.status_code, error_of(r)) for r in (wrong_secret, changed_body)] == [
        (401, "bad_signature")
    ] * 2


def test_refusals_never_echo_the_secret_the_signature_or_the_body(asgi: AsgiGateway) -> None:
    body = event_body(data={**ORDER_HELD, "reason": "TOPSECRETREASON"})
    headers = signed(body, secret="x" * 40)
    response = asgi.post("/events/shop", body, headers)
    assert response.status_code == 401
    for secret in (*SECRETS.values(), headers["X-Signature"][7:], "TOPSECRETREASON", "x" * 40):
        assert secret not in response.text


@pytest.mark.parametrize(("offset", "code"), [(-301, "stale_timestamp"), (301, "future_timestamp")])
def test_stale_and_future_timestamps_are_refused(asgi: AsgiGateway, offset: int, code: str) -> None:
    body = event_body()
    response = asgi.post("/events/shop", body, signed(body, at=time.time() + offset))
    assert (response.status_code, error_of(response)) == (401, code)


@pytest.mark.parametrize("offset", [-295, 295])
def test_timestamps_within_the_tolerance_pass(asgi: AsgiGateway, offset: int) -> None:
    body = event_body()
    assert asgi.post("/events/shop", body, signed(body, at=time.time() + offset)).status_code == 202


def test_the_tolerance_is_configurable(sqlite_outbox: Outbox) -> None:
    gateway = AsgiGateway(create_app(make_gateway(tolerance_seconds=30), sqlite_outbox))
    body = event_body()
    response = gateway.post("/events/shop", body, signed(body, at=time.time() - 60))
    assert (response.status_code, error_of(response)) == (401, "stale_timestamp")


def test_an_unknown_source_is_404(asgi: AsgiGateway) -> None:
    body = event_body()
    response = asgi.post("/events/nobody", body, signed(body))
    assert (response.status_code, error_of(response)) == (404, "unknown_source")
    assert "nobody" not in response.json()["message"]


def test_an_event_type_the_source_may_not_send_is_403(asgi: AsgiGateway, sqlite_outbox: Outbox) -> None:
    body = event_body("order.held", event_id="crm-1")
    response = asgi.post("/events/crm", body, signed(body, "crm"))
    assert (response.status_code, error_of(response)) == (403, "event_type_not_allowed")
    assert "custom" in response.json()["message"]
    assert sqlite_outbox.counts().pending == 0


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe{}", b'{"type": "order.held", "data": {}'],
    ids=["broken", "empty", "not-utf8", "truncated"],
)
def test_malformed_json_is_400(asgi: AsgiGateway, body: bytes) -> None:
    response = asgi.post("/events/shop", body, signed(body))
    assert (response.status_code, error_of(response)) == (400, "malformed_json")


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ([1, 2], "$"),
        ({"id": "e", "data": {}}, "$"),
        ({"id": "e", "type": "order.held", "data": "text"}, "$.data"),
        ({"id": "e", "type": "order.held", "data": {}, "extra": 1}, "$"),
        ({"id": "", "type": "order.held", "data": {}}, "$.id"),
        ({"id": "e" * 201, "type": "order.held", "data": {}}, "$.id"),
        ({"id": "e", "type": "order.held", "data": {}, "occurred_at": "last tuesday"}, "$.occurred_at"),
        (
            {"id": "e", "type": "order.held", "data": {}, "occurred_at": "2026-11-26T09:00:00"},
            "$.occurred_at",
        ),
    ],
    ids=[
        "array",
        "no-type",
        "data-not-object",
        "unknown-field",
        "empty-id",
        "long-id",
        "bad-date",
        "no-zone",
    ],
)
@pytest.mark.slow
def test_a_body_that_is_not_an_event_envelope_is_422(asgi: AsgiGateway, document: object, path: str) -> None:
    body = json.dumps(document).encode()
    response = asgi.post("/events/shop", body, signed(body))
    assert (response.status_code, error_of(response)) == (422, "invalid_envelope")
    assert path in [d["path"] for d in response.json()["details"]]


@pytest.mark.parametrize(
    ("event_type", "data", "path"),
    [
        ("order.held", {"reason": "x"}, "$.data"),
        ("order.held", {"order_number": "", "reason": "x"}, "$.data.order_number"),
        ("order.held", {"order_number": "A", "reason": "x", "held_at": "soon"}, "$.data.held_at"),
        ("stock.changed", {"sku": "S", "quantity": -1}, "$.data.quantity"),
        ("stock.changed", {"sku": "S", "quantity": "7"}, "$.data.quantity"),
        ("item.changed", {"sku": "S", "fields": ["price", "price"]}, "$.data.fields"),
        ("item.changed", {"sku": "S", "item_id": 0}, "$.data.item_id"),
    ],
)
@pytest.mark.slow
def test_data_that_does_not_match_its_types_schema_is_422(
    asgi: AsgiGateway, sqlite_outbox: Outbox, event_type: str, data: dict[str, object], path: str
) -> None:
    body = event_body(event_type, data)
    response = asgi.post("/events/shop", body, signed(body))
    assert (response.status_code, error_of(response)) == (422, "schema_invalid")
    assert path in [d["path"] for d in response.json()["details"]]
    assert sqlite_outbox.counts().pending == 0


def test_the_custom_schema_needs_a_name_and_takes_free_fields(asgi: AsgiGateway) -> None:
    good = event_body("custom", {"name": "lead.won", "amount": 1200, "owner": {"id": 7}}, "c1")
    bad = event_body("custom", {"amount": 1200}, "c2")
    assert asgi.post("/events/crm", good, signed(good, "crm")).status_code == 202
    response = asgi.post("/events/crm", bad, signed(bad, "crm"))
    assert (response.status_code, error_of(response)) == (422, "schema_invalid")


def test_a_body_over_the_limit_is_413_by_its_content_length(sqlite_outbox: Outbox) -> None:
    gateway = AsgiGateway(create_app(make_gateway(max_body_bytes=2048), sqlite_outbox))
    body = event_body(data={**ORDER_HELD, "reason": "x" * 2000})
    response = gateway.post("/events/shop", body, signed(body))
    assert (response.status_code, error_of(response)) == (413, "body_too_large")
    ok = event_body(data={**ORDER_HELD, "reason": "x" * 1900})
    assert len(ok) <= 2048
    assert gateway.post("/events/shop", ok, signed(ok)).status_code == 202


def test_a_bad_content_length_is_400(asgi: AsgiGateway) -> None:
    body = event_body()
    response = asgi.post("/events/shop", body, {**signed(body), "Content-Length": "lots"})
    assert (response.status_code, error_of(response)) == (400, "bad_content_length")


def test_the_101st_request_from_one_address_in_a_minute_is_429_and_others_pass(sqlite_outbox: Outbox) -> None:
    clock = FakeClock()
    gateway = AsgiGateway(
        create_app(make_gateway(), sqlite_outbox, limiter=RateLimiter(100, 60, clock=clock))
    )
    body = b"{}"
    unsigned = {"Content-Type": "application/json"}
    first = gateway.post_many([("/events/shop", body, unsigned)] * 100, ip="198.51.100.1")
    assert {r.status_code for r in first} == {401}  # every request counts, signed or not
    flooded = gateway.post("/events/shop", body, unsigned, ip="198.51.100.1")
    assert (flooded.status_code, error_of(flooded)) == (429, "rate_limited")
    assert flooded.headers["Retry-After"] == "60"
    other = event_body()
    assert gateway.post("/events/shop", other, signed(other), ip="198.51.100.2").status_code == 202
    clock.advance(30)
    assert gateway.post("/events/shop", body, unsigned, ip="198.51.100.1").headers["Retry-After"] == "30"
    clock.advance(30)
    assert gateway.post("/events/shop", body, unsigned, ip="198.51.100.1").status_code == 401


def test_the_rate_limit_is_configurable(sqlite_outbox: Outbox) -> None:
    gateway = AsgiGateway(
        create_app(make_gateway(rate_limit={"requests": 3, "window_seconds": 10}), sqlite_outbox)
    )
    answers = gateway.post_many([("/events/shop", b"{}", {})] * 4)
    assert [r.status_code for r in answers] == [401, 401, 401, 429]
    # counted in slices of a twentieth of the window: the wait may be up to one slice longer than exact
    assert answers[-1].headers["Retry-After"] in {"10", "11"}


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(sqlite_outbox: Outbox) -> None:
    app = create_app(
        make_gateway(rate_limit={"requests": 1, "window_seconds": 60}, trusted_proxies=["10.0.0.5"]),
        sqlite_outbox,
    )
    gateway = AsgiGateway(app)
    a = gateway.post("/events/shop", b"{}", {"X-Forwarded-For": "198.51.100.1"}, ip="10.0.0.5")
    b = gateway.post("/events/shop", b"{}", {"X-Forwarded-For": "198.51.100.2"}, ip="10.0.0.5")
    a_again = gateway.post("/events/shop", b"{}", {"X-Forwarded-For": "198.51.100.1"}, ip="10.0.0.5")
    assert [r.status_code for r in (a, b, a_again)] == [401, 401, 429]
    # An untrusted peer cannot choose its address by sending the header.
    c = gateway.post("/events/shop", b"{}", {"X-Forwarded-For": "198.51.100.3"}, ip="203.0.113.9")
    d = gateway.post("/events/shop", b"{}", {"X-Forwarded-For": "198.51.100.4"}, ip="203.0.113.9")
    assert [r.status_code for r in (c, d)] == [401, 429]


def test_health_and_unknown_paths_answer_json(asgi: AsgiGateway) -> None:
    assert asgi.get("/health").json() == {"status": "ok"}
    missing = asgi.get("/events")
    assert (missing.status_code, error_of(missing)) == (404, "not_found")
    wrong_method = asgi.get("/events/shop")
    assert (wrong_method.status_code, error_of(wrong_method)) == (405, "method_not_allowed")


def test_when_the_database_is_away_the_event_is_refused_with_503_and_not_lost_silently(
    sqlite_outbox: Outbox,
) -> None:
    class Broken(Outbox):
        def append(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise OSError("disk full")

        def counts(self) -> object:  # type: ignore[override]
            raise OSError("disk full")

    gateway = AsgiGateway(create_app(make_gateway(), Broken(sqlite_outbox.store)))
    body = event_body()
    response = gateway.post("/events/shop", body, signed(body))
    assert (response.status_code, error_of(response)) == (503, "unavailable")
    assert response.headers["Retry-After"] == "5"
    assert "disk" not in response.text
    assert gateway.get("/health").status_code == 503
