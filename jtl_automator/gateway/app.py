"""The gateway's HTTP service (Starlette): ``POST /events/{source}`` and ``GET /health``.

Each request is checked cheapest first, and nothing is parsed before the sender is known to hold the
source's secret: rate limit per client IP → known source → body size (declared, then counted while
reading) → signature over timestamp and raw body → timestamp within the tolerance → JSON → envelope →
event type allowed for the source → the type's schema → the outbox (written before the answer).
Refusals are JSON ``{"error": <code>, "message": <what to fix>}``; they never repeat a header value, a
secret or the body.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jtl_automator.gateway.config import Gateway
from jtl_automator.gateway.outbox import Outbox
from jtl_automator.gateway.ratelimit import RateLimiter, SharedRateLimiter
from jtl_automator.gateway.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Refusal,
    check_fresh,
    parse_timestamp,
    verify,
)
from jtl_automator.limits import GATEWAY_EVENT_ID_MAX, GATEWAY_TYPE_MAX

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: What every event looks like; ``data`` is then checked against the schema of ``type``.
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "data"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": GATEWAY_EVENT_ID_MAX},
        "type": {"type": "string", "minLength": 1, "maxLength": GATEWAY_TYPE_MAX},
        "occurred_at": {"type": "string", "format": "date-time"},
        "data": {"type": "object"},
    },
    "additionalProperties": False,
}
_ENVELOPE = Draft202012Validator(ENVELOPE_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
_MAX_PROBLEMS = 10
_MESSAGE_MAX = 200


def _error(refusal: Refusal, details: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": refusal.code, "message": refusal.message}
    if details:
        body["details"] = details
    headers = {"Retry-After": "5"} if refusal.status == 503 else None
    return JSONResponse(body, status_code=refusal.status, headers=headers)


class SchemaRefusal(Refusal):
    """A body that is JSON but not a valid event: each problem with its JSON path."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(422, code, message)
        self.problems = problems


def _problems(validator: Draft202012Validator, instance: Any, prefix: str) -> list[dict[str, str]]:
    found = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    return [
        {"path": prefix + _json_path(error.absolute_path), "message": error.message[:_MESSAGE_MAX]}
        for error in found[:_MAX_PROBLEMS]
    ]


def _json_path(steps: Iterable[str | int]) -> str:
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in steps)


def client_ip(request: Request, trusted_proxies: frozenset[str]) -> str:
    """The peer, or behind a trusted proxy the last ``X-Forwarded-For`` address that is not a proxy."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if peer not in trusted_proxies or not forwarded:
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a forged or broken header: count the proxy, not a made-up address
        if hop not in trusted_proxies:
            return hop
    return peer


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) as soon as the declared or the counted size passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise Refusal(400, "bad_content_length", "Content-Length must be a whole number of bytes")
        if int(declared) > limit:
            raise Refusal(413, "body_too_large", f"the body may have at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal(413, "body_too_large", f"the body may have at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_event(body: bytes, idempotency_key: str | None) -> tuple[str, str, dict[str, Any], datetime | None]:
    """Event id, type, data and occurrence of a body (the id may come from ``Idempotency-Key``)."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise Refusal(400, "malformed_json", f"the body is not valid UTF-8 JSON{where}") from None
    problems = _problems(_ENVELOPE, document, "$")
    if problems:
        raise SchemaRefusal(
            "invalid_envelope", 'the body must be {"id", "type", "occurred_at"?, "data": {...}}', problems
        )
    event_id = document.get("id")
    if event_id is None and idempotency_key:
        event_id = unquote(idempotency_key.strip())
    if not event_id or len(event_id) > GATEWAY_EVENT_ID_MAX:
        raise SchemaRefusal(
            "missing_event_id",
            f'give every event a stable id ("id" in the body or the {IDEMPOTENCY_HEADER} header, '
            f"at most {GATEWAY_EVENT_ID_MAX} characters): a retry with the same id is stored once",
            [{"path": "$.id", "message": "missing"}],
        )
    occurred = document.get("occurred_at")
    try:
        occurred_at = datetime.fromisoformat(occurred.replace("Z", "+00:00")) if occurred else None
    except ValueError:
        occurred_at = None
    if occurred and (occurred_at is None or occurred_at.tzinfo is None):
        raise SchemaRefusal(
            "invalid_envelope",
            "occurred_at must be an ISO 8601 date-time with a zone (2026-11-26T09:30:00Z)",
            [{"path": "$.occurred_at", "message": "not a date-time with a zone"}],
        )
    return str(event_id), str(document["type"]), document["data"], occurred_at


def create_app(
    gateway: Gateway,
    outbox: Outbox,
    *,
    clock: Callable[[], float] = time.time,
    limiter: RateLimiter | SharedRateLimiter | None = None,
) -> Starlette:
    """The ASGI app of one gateway (share the outbox's store with the drainer of the same process).

    The rate limit is counted in the outbox's state database (shared by every gateway process on it)
    unless the configuration says ``shared: false`` or a ``limiter`` is given.
    """
    if limiter is None:
        limiter = (
            SharedRateLimiter(outbox.store, gateway.rate_requests, gateway.rate_window_seconds)
            if gateway.rate_shared
            else RateLimiter(gateway.rate_requests, gateway.rate_window_seconds)
        )

    async def rate_wait(ip: str) -> float:
        if isinstance(limiter, SharedRateLimiter):  # memory first; the database only when that passes
            return limiter.precheck(ip) or await run_in_threadpool(limiter.allow_shared, ip)
        return limiter.allow(ip)

    async def receive_event(request: Request) -> Response:
        received = clock()  # freshness is judged at arrival, not after our own work (the shared count)
        source_name = request.path_params["source"]
        ip = client_ip(request, gateway.trusted_proxies)
        wait = await rate_wait(ip)
        if wait:
            log.info("gateway: %s rate limited (source %r)", ip, source_name)
            return JSONResponse(
                {
                    "error": "rate_limited",
                    "message": f"at most {gateway.rate_requests} requests per "
                    f"{gateway.rate_window_seconds:g} s from one address",
                },
                status_code=429,
                headers={"Retry-After": RateLimiter.retry_after(wait)},
            )
        try:
            source = gateway.sources.get(source_name)
            if source is None:
                raise Refusal(404, "unknown_source", "no such source is configured on this gateway")
            body = await read_limited(request, gateway.max_body_bytes)
            timestamp = request.headers.get(TIMESTAMP_HEADER)
            seconds = parse_timestamp(timestamp)
            assert timestamp is not None
            verify(source.secret, timestamp.strip(), body, request.headers.get(SIGNATURE_HEADER))
            check_fresh(seconds, received, gateway.tolerance_seconds)
            event_id, event_type, data, occurred_at = parse_event(
                body, request.headers.get(IDEMPOTENCY_HEADER)
            )
            if event_type not in source.events:
                raise Refusal(
                    403,
                    "event_type_not_allowed",
                    f"source {source.name!r} may send {sorted(source.events)}, not {event_type!r}",
                )
            problems = _problems(gateway.validators[event_type], data, "$.data")
            if problems:
                raise SchemaRefusal(
                    "schema_invalid", f"data does not match the schema of {event_type!r}", problems
                )
        except SchemaRefusal as refusal:
            log.info("gateway: refused %s from %s: %s", source_name, ip, refusal.code)
            return _error(refusal, refusal.problems)
        except Refusal as refusal:
            log.info("gateway: refused %s from %s: %s", source_name, ip, refusal.code)
            return _error(refusal)
        try:
            stored = await run_in_threadpool(
                outbox.append, source.name, event_id, event_type, data, occurred_at=occurred_at, client_ip=ip
            )
        except Exception as exc:  # the database is away: nothing was stored, the sender retries
            log.error("gateway: outbox write failed: %s", type(exc).__name__)
            return _error(Refusal(503, "unavailable", "the event could not be stored; send it again later"))
        status = "duplicate" if stored.duplicate else "accepted"
        answer = {"status": status, "id": stored.id, "event_id": event_id}
        return JSONResponse(answer, status_code=200 if stored.duplicate else 202)

    async def health(request: Request) -> Response:
        try:
            await run_in_threadpool(outbox.counts)
        except Exception as exc:
            log.error("gateway: health check cannot read the state database: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "error")
        message = "POST /events/{source} or GET /health"
        return JSONResponse({"error": code, "message": message}, status_code=status)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("gateway: unexpected %s", type(exc).__name__)
        return JSONResponse({"error": "internal", "message": "send the event again later"}, status_code=500)

    return Starlette(
        routes=[
            Route("/events/{source}", receive_event, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )


__all__ = ["ENVELOPE_SCHEMA", "client_ip", "create_app", "parse_event", "read_limited"]
