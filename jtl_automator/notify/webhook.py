"""Webhooks: JSON over GET/POST/PUT/PATCH/DELETE; bearer, basic or HMAC auth; retries; an idempotency key.

Every request carries ``Idempotency-Key``; that is what makes retrying a POST/PATCH after a 5xx or a
dropped connection acceptable (the receiver can recognise the repeat), so all methods are retried on
429 (honouring Retry-After), 5xx, 408 and transport errors, never on other 4xx. The retry arithmetic
is the project's one policy (:func:`~jtl_automator.resilience.call_with_retry`, ``webhook`` values).

HMAC signatures (``X-Signature: sha256=<hex>``) are computed per attempt over ``"<X-Timestamp>.<body>"``:
the timestamp (unix seconds) and the exact bytes sent, so a receiver can reject a replayed call by its
age as well as a changed body. Receivers verify: recompute HMAC-SHA256 with the shared secret over the
``X-Timestamp`` header value, a ``.``, and the raw body, compare in constant time, and refuse timestamps
older than a few minutes. (``sign_timestamp=False`` signs the body alone, for receivers built that way.)

``Idempotency-Key`` carries the key percent-encoded (see :func:`~jtl_automator.notify.mail.header_safe`):
header values are ASCII, order numbers need not be.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from jtl_automator.correlation import CORRELATION_HEADER, correlated_logger, correlation_id
from jtl_automator.notify.errors import WebhookRejected, WebhookUnavailable, redact
from jtl_automator.notify.mail import header_safe
from jtl_automator.resilience import GaveUp, Retry, RetryPolicy, call_with_retry, server_delay

logger = correlated_logger("jtl_automator.notify.webhook")

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
METHODS: frozenset[str] = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENCY_HEADER = "Idempotency-Key"

#: The ``webhook`` values of the one policy (``JTL_WEBHOOK_RETRY_*`` defaults).
DEFAULT_WEBHOOK_RETRY = RetryPolicy.defaults("webhook")


class WebhookAuth(Protocol):
    """Adds credentials to one attempt's headers, given the exact body bytes."""

    def apply(self, headers: dict[str, str], body: bytes) -> None:
        """Set the auth headers for one attempt (signatures are computed over ``body``)."""

    def secrets(self) -> list[str]:
        """Values that must be scrubbed from any message we raise or log."""


@dataclass(frozen=True)
class BearerAuth:
    """``Authorization: Bearer <token>``."""

    token: SecretStr

    def apply(self, headers: dict[str, str], body: bytes) -> None:
        """Set ``Authorization``."""
        headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"

    def secrets(self) -> list[str]:
        """The token."""
        return [self.token.get_secret_value()]


@dataclass(frozen=True)
class BasicAuth:
    """``Authorization: Basic base64(user:password)``."""

    username: str
    password: SecretStr

    def apply(self, headers: dict[str, str], body: bytes) -> None:
        """Set ``Authorization``."""
        raw = f"{self.username}:{self.password.get_secret_value()}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")

    def secrets(self) -> list[str]:
        """The password and the encoded header value."""
        raw = f"{self.username}:{self.password.get_secret_value()}".encode()
        return [self.password.get_secret_value(), base64.b64encode(raw).decode("ascii")]


@dataclass(frozen=True)
class HmacAuth:
    """``X-Signature: sha256=<hex HMAC of "<timestamp>.<body>">`` plus ``X-Timestamp`` (unix seconds)."""

    secret: SecretStr
    header: str = "X-Signature"
    timestamp_header: str = "X-Timestamp"
    algorithm: str = "sha256"
    sign_timestamp: bool = True
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def signature(self, body: bytes, timestamp: str) -> str:
        """``sha256=<hex>``; receivers recompute it over the raw body they got."""
        message = f"{timestamp}.".encode() + body if self.sign_timestamp else body
        digest = hmac.new(self.secret.get_secret_value().encode(), message, self.algorithm).hexdigest()
        return f"{self.algorithm}={digest}"

    def apply(self, headers: dict[str, str], body: bytes) -> None:
        """Set the timestamp and signature headers (fresh per attempt)."""
        timestamp = str(int(self.clock()))
        headers[self.timestamp_header] = timestamp
        headers[self.header] = self.signature(body, timestamp)

    def secrets(self) -> list[str]:
        """The signing secret."""
        return [self.secret.get_secret_value()]


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode_json(payload: Any) -> bytes:
    """The body as sent (and signed): compact UTF-8 JSON; dates, decimals and UUIDs as strings."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return text.encode("utf-8")


def check_path(path: str) -> str:
    """A path below an endpoint's URL, refused when it could leave it or smuggle a query or header."""
    bad = next((c for c in ("?", "#", "\\", "://") if c in path), None)
    if bad is None and any(ord(c) < 0x21 or ord(c) == 0x7F for c in path):
        bad = "a space or control character"
    if bad is None and any(part in ("..", ".") for part in path.split("/")):
        bad = "'..' or '.'"
    if bad is not None:
        raise ValueError(
            f"webhook path {path[:80]!r} must not contain {bad}; give a path below the endpoint's URL "
            "(e.g. /customers/42) and query parameters separately"
        )
    return path


def safe_url(url: str, *, hide_path: bool = False) -> str:
    """URL for messages and logs: no user info, no query string (either may hold a token).

    ``hide_path`` also drops the path, for Slack/Teams-style URLs whose path is the secret.
    """
    split = urlsplit(url)
    host = split.hostname or ""
    port = f":{split.port}" if split.port else ""
    path = "/…" if hide_path else split.path
    return f"{split.scheme}://{host}{port}{path}"


class WebhookSender:
    """One configured endpoint; ``send`` delivers one payload with retries."""

    def __init__(
        self,
        http: httpx.Client,
        url: str | SecretStr,
        method: Method = "POST",
        headers: Mapping[str, str | SecretStr] | None = None,
        auth: WebhookAuth | None = None,
        timeout: float = 30.0,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        method_upper = method.upper()
        if method_upper not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
        secret_url = isinstance(url, SecretStr)
        plain_url = url.get_secret_value() if isinstance(url, SecretStr) else url
        #: What messages and logs show: without credentials, query, and (for a SecretStr URL) path.
        self.display_url = safe_url(plain_url, hide_path=secret_url)
        if urlsplit(plain_url).scheme not in ("http", "https"):
            raise ValueError(f"webhook URL must be http(s): {self.display_url!r}")
        self.http = http
        self._url = url
        self._secret_url = secret_url
        self.method = method_upper
        self._headers = dict(headers or {})
        self.auth = auth
        self.timeout = timeout
        self.retry = retry or DEFAULT_WEBHOOK_RETRY

    def __repr__(self) -> str:
        auth = type(self.auth).__name__ if self.auth is not None else None
        return f"WebhookSender({self.method} {self.display_url!r}, auth={auth})"

    def _secrets(self) -> list[str]:
        values = [v.get_secret_value() for v in self._headers.values() if isinstance(v, SecretStr)]
        if self.auth is not None:
            values.extend(self.auth.secrets())
        url = self._plain_url()
        split = urlsplit(url)
        values.extend(v for v in (split.query, split.password) if v)
        if self._secret_url:
            values.append(split.path)
        return values

    def _plain_url(self) -> str:
        return self._url.get_secret_value() if isinstance(self._url, SecretStr) else self._url

    def derive(
        self,
        *,
        method: Method | None = None,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> WebhookSender:
        """The same endpoint (auth, timeout, retries) with another method, a path below its URL, more headers.

        For workflows: the block holds the base URL and the secret; a step names what it calls below it.
        ``path`` is appended to the URL's path (``/customers/42``); it may not climb out of it (``..``),
        carry a query, a fragment, a scheme or a host. Extra headers never replace the auth headers.
        """
        url: str | SecretStr = self._url
        if path:
            plain = self._plain_url()
            split = urlsplit(plain)
            url_path = split.path.rstrip("/") + "/" + check_path(path).lstrip("/")
            joined = urlunsplit((split.scheme, split.netloc, url_path, split.query, ""))
            url = SecretStr(joined) if self._secret_url else joined
        merged: dict[str, str | SecretStr] = dict(self._headers)
        for name, value in (headers or {}).items():
            merged[name] = value
        sender = WebhookSender(
            self.http,
            url,
            method or self.method,  # type: ignore[arg-type]
            merged,
            self.auth,
            self.timeout,
            retry=self.retry,
        )
        if path and self._secret_url:
            sender.display_url = f"{self.display_url.rstrip('/')}/{check_path(path).lstrip('/')}"
        return sender

    def _build(self, payload: Mapping[str, Any] | None) -> tuple[bytes, dict[str, str] | None]:
        if self.method == "GET":
            if payload is None:
                return b"", None
            params: dict[str, str] = {}
            for key, value in payload.items():
                if value is None:
                    continue
                if isinstance(value, Mapping | list | tuple):
                    raise ValueError(f"GET webhooks take flat payloads; {key!r} is nested")
                plain = isinstance(value, str | int | float | bool)
                params[key] = str(value) if plain else str(_json_default(value))
            return b"", params
        return (b"" if payload is None else encode_json(payload)), None

    def send(
        self,
        payload: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str,
        text: str | None = None,
        content_type: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Deliver ``payload`` (JSON body; query parameters for GET); returns the 2xx response.

        ``text`` sends a text body instead (``content_type``, default ``text/plain; charset=utf-8``);
        ``query`` adds query parameters to any method.
        """
        if not idempotency_key:
            raise ValueError("idempotency_key must not be empty")
        if text is not None:
            if payload is not None:
                raise ValueError("give a JSON payload or a text body, not both")
            if self.method == "GET":
                raise ValueError("GET webhooks send no body; use query parameters")
            body, params = text.encode("utf-8"), None
            content_type = content_type or "text/plain; charset=utf-8"
        else:
            body, params = self._build(payload)
        if query:
            params = {**(params or {}), **{str(k): str(v) for k, v in query.items()}}
        display = f"{self.method} {self.display_url}"
        policy = self.retry
        # merged, not replaced: httpx's ``params=`` would drop a query the URL already has (a token)
        target = httpx.URL(self._plain_url())
        if params:
            target = target.copy_merge_params(params)

        def deliver(attempt: int) -> httpx.Response:
            headers = {
                k: (v.get_secret_value() if isinstance(v, SecretStr) else v) for k, v in self._headers.items()
            }
            headers[IDEMPOTENCY_HEADER] = header_safe(idempotency_key)
            headers[CORRELATION_HEADER] = correlation_id.get()
            if body:
                headers.setdefault("Content-Type", content_type or "application/json; charset=utf-8")
            if self.auth is not None:
                self.auth.apply(headers, body)  # fresh timestamp and signature per attempt
            failure: WebhookUnavailable
            try:
                response = self.http.request(
                    self.method,
                    target,
                    content=body or None,
                    headers=headers,
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                reason = type(exc).__name__
                failure = WebhookUnavailable(self._redact(f"{display} -> {reason}"), reason=reason)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    logger.info("webhook %s -> %d (attempt %d)", display, status, attempt)
                    return response
                if status != 429 and status < 500 and status != 408:
                    raise WebhookRejected(self._message(display, status, response), status=status)
                requested = server_delay(response.headers, now=policy.wall_clock) if status == 429 else None
                failure = WebhookUnavailable(
                    self._redact(f"{display} -> {status}"), status=status, retry_after=requested
                )
            raise failure  # outside the except block: the httpx exception is not chained to ours

        def classify(error: Exception) -> Retry | None:
            if not isinstance(error, WebhookUnavailable):
                return None
            if error.status == 429:
                return Retry.throttled(error.retry_after, policy)
            return Retry(error.reason)

        def gave_up(error: Exception, info: GaveUp) -> Exception | None:
            if not isinstance(error, WebhookUnavailable):
                return None
            message = self._redact(f"{error.message} ({info.note()})")
            wait = info.delay if error.status == 429 else None  # what the caller should wait now
            return WebhookUnavailable(message, status=error.status, reason=error.reason, retry_after=wait)

        return call_with_retry(
            deliver, classify, policy, what=f"webhook {display}", on_give_up=gave_up, log=logger
        )

    def scrub(self, text: str) -> str:
        """``text`` (a response echoing our headers, say) with this endpoint's secrets blanked out."""
        return self._redact(text)

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets())

    def _message(self, display: str, status: int, response: httpx.Response) -> str:
        text = f"{display} -> {status}"
        if 300 <= status < 400:
            text += " (redirects are not followed; check the URL)"
        else:
            snippet = response.text[:200].strip()
            if snippet:
                text += f": {snippet}"
        return redact(text, self._secrets())
