"""Verifying a sender's signature: the scheme of the project's own outgoing webhooks, read from the other end.

``X-Signature: sha256=<hex HMAC-SHA256 of "<X-Timestamp>.<raw body>">`` with ``X-Timestamp`` in unix
seconds (see :class:`jtl_automator.notify.webhook.HmacAuth`, which signs exactly this). The timestamp is
inside the signed message, so a captured request cannot be re-dated; the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from pydantic import SecretStr

TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_HEADER = "X-Signature"
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


class Refusal(Exception):
    """Why a request is refused: an HTTP status, a stable code and a message for the sender (no secrets)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def sign(secret: SecretStr | str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``"<timestamp>.<body>"`` (what a sender puts in ``X-Signature``)."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def parse_timestamp(value: str | None) -> int:
    """The ``X-Timestamp`` header as unix seconds; missing or not a plain integer is refused."""
    if not value:
        raise Refusal(401, "missing_timestamp", f"the {TIMESTAMP_HEADER} header (unix seconds) is missing")
    if not _TIMESTAMP.match(value.strip()):
        raise Refusal(401, "bad_timestamp", f"{TIMESTAMP_HEADER} must be unix seconds (digits only)")
    return int(value.strip())


def check_fresh(timestamp: int, now: float, tolerance_seconds: int) -> None:
    """Refuse a timestamp older or further in the future than the tolerance (a replay or a wrong clock)."""
    skew = now - timestamp
    if skew > tolerance_seconds:
        raise Refusal(
            401,
            "stale_timestamp",
            f"{TIMESTAMP_HEADER} is {int(skew)} s old; at most {tolerance_seconds} s are accepted "
            "(sign every attempt afresh; check the sender's clock)",
        )
    if -skew > tolerance_seconds:
        raise Refusal(
            401,
            "future_timestamp",
            f"{TIMESTAMP_HEADER} is {int(-skew)} s ahead of the gateway's clock; at most "
            f"{tolerance_seconds} s are accepted (check the sender's clock)",
        )


def verify(secret: SecretStr, timestamp: str, body: bytes, header: str | None) -> None:
    """Refuse a missing, malformed or wrong signature (constant-time comparison of the digests)."""
    if not header:
        raise Refusal(401, "missing_signature", f"the {SIGNATURE_HEADER} header (sha256=<hex>) is missing")
    found = _SIGNATURE.match(header.strip())
    if found is None:
        raise Refusal(401, "bad_signature", f"{SIGNATURE_HEADER} must be sha256=<64 hex digits>")
    expected = sign(secret, timestamp, body).removeprefix("sha256=")
    if not hmac.compare_digest(expected.encode(), found.group(1).lower().encode()):
        raise Refusal(
            401,
            "bad_signature",
            f"{SIGNATURE_HEADER} does not match: sign '<{TIMESTAMP_HEADER}>.<raw body>' with HMAC-SHA256 "
            "and the source's secret",
        )
