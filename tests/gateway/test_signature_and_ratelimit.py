"""The signature check and the rate limiter on their own."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from jtl_automator.gateway.ratelimit import RateLimiter
from jtl_automator.gateway.signature import Refusal, check_fresh, parse_timestamp, sign, verify
from jtl_automator.notify.webhook import HmacAuth
from tests.support.clock import FakeClock

SECRET = SecretStr("k" * 40)


def test_the_signature_is_the_one_the_projects_webhook_sender_makes() -> None:
    body = b'{"type":"custom","data":{"name":"x"}}'
    assert sign(SECRET, "1700000000", body) == HmacAuth(SECRET).signature(body, "1700000000")
    verify(SECRET, "1700000000", body, sign(SECRET, "1700000000", body).upper().replace("SHA256=", "sha256="))


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("sha256=xyz", "bad_signature"),
        ("k" * 71, "bad_signature"),
    ],
)
def test_a_missing_or_malformed_signature_is_refused(header: str | None, code: str) -> None:
    with pytest.raises(Refusal) as caught:
        verify(SECRET, "1700000000", b"{}", header)
    assert caught.value.code == code


@pytest.mark.parametrize(("timestamp", "body"), [("1700000001", b"{}"), ("1700000000", b"{ }")])
def test_a_signature_over_other_bytes_is_refused(timestamp: str, body: bytes) -> None:
    good = sign(SECRET, "1700000000", b"{}")
    with pytest.raises(Refusal) as caught:
        verify(SECRET, timestamp, body, good)
    assert caught.value.code == "bad_signature"
    assert good[7:] not in str(caught.value) and SECRET.get_secret_value() not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "missing_timestamp"),
        ("", "missing_timestamp"),
        ("-5", "bad_timestamp"),
        ("1e9", "bad_timestamp"),
    ],
)
def test_timestamps_must_be_unix_seconds(value: str | None, code: str) -> None:
    with pytest.raises(Refusal) as caught:
        parse_timestamp(value)
    assert caught.value.code == code


def test_freshness_holds_at_the_edges() -> None:
    check_fresh(1000, 1300, 300)
    check_fresh(1300, 1000, 300)
    for stamp, code in ((999, "stale_timestamp"), (1301 + 300, "future_timestamp")):
        with pytest.raises(Refusal) as caught:
            check_fresh(stamp, 1300, 300)
        assert caught.value.code == code


def test_the_window_slides_per_address() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, 10, clock=clock)
    assert [limiter.allow("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.allow("a") == 10.0
    assert limiter.allow("b") == 0.0
    clock.advance(4)
    assert limiter.allow("a") == 6.0
    clock.advance(6)
    assert limiter.allow("a") == 0.0  # the first three have left the window
    assert RateLimiter.retry_after(0.2) == "1" and RateLimiter.retry_after(6.0) == "6"


def test_quiet_addresses_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, 10, clock=clock)
    for n in range(1000):
        limiter.allow(f"10.0.{n // 256}.{n % 256}")
    clock.advance(11)
    limiter.allow("10.9.9.9")
    assert list(limiter._seen) == ["10.9.9.9"]
