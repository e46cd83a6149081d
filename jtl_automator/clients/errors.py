"""Typed errors of the JTL clients, in the three tiers the flows act on.

- critical (:class:`AuthError` and subclasses): credentials or licence are wrong; abort the flow.
- item-level (:class:`ClientError`: :class:`NotFound`, :class:`ValidationFailed`, :class:`Conflict`):
  one object is bad; record it and carry on with the batch.
- retryable (:class:`RateLimited`, :class:`TransientError`): the client already retried within its
  budget; a coarse (Prefect) retry later may still succeed. They are the JTL clients'
  :class:`~jtl_automator.resilience.TransientFailure`, like the Sheets and notification ones.

Messages name method, path, status and the API's own error code/message. They are built only from
those parts, never from request headers or bodies, so tokens and keys cannot leak into them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from jtl_automator.clients.json_body import decode_json
from jtl_automator.resilience import TransientFailure


class JtlApiError(Exception):
    """Base of every error raised by the JTL clients."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        code: str | None = None,
        messages: tuple[str, ...] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.messages = messages
        self.metadata: dict[str, Any] = dict(metadata or {})


class AuthError(JtlApiError):
    """401 after a refresh, 403, a rejected refresh token (invalid_grant): the flow must stop."""


class ForbiddenError(AuthError):
    """403: the token or API key lacks a scope (FFN) or the app may not do this (Wawi)."""


class LicenseError(AuthError):
    """Wawi 402: no REST licence, or the app was not authorised by JTL."""


class ClientError(JtlApiError):
    """A 4xx about one object: skip the object, finish the batch."""


class NotFound(ClientError):
    """404: the object does not exist (or is not visible to this account)."""


class ValidationFailed(ClientError):
    """400/422: the API rejected the payload; ``messages`` and ``metadata`` carry its reasons."""


class Conflict(ClientError):
    """406/409/410/412: the object's state forbids the change (e.g. an order that cannot be cancelled)."""


class RetryableError(JtlApiError, TransientFailure):
    """The request may succeed later; raised once the client's own retry budget is spent."""


class RateLimited(RetryableError):
    """429 (after retries), with the delay the server asked for."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TransientError(RetryableError):
    """5xx, timeouts and dropped connections (after retries, or at once for non-idempotent calls)."""


class PaginationLoopError(JtlApiError):
    """The API returned a page (or next link) it had already returned: stop instead of looping forever."""


class RegistrationError(JtlApiError):
    """The Wawi app registration was rejected, expired, already collected or timed out."""


def _parse_body(response: httpx.Response) -> Any:
    try:
        return decode_json(response)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def parse_error_envelope(body: Any) -> tuple[str | None, tuple[str, ...], dict[str, Any]]:
    """Code, messages and metadata from any JTL error body.

    Understands the FFN envelope (``errorCode{code,description}``, ``errorMessages[{message,target}]``,
    ``errorMetadata``/``errorMetaData``), the Wawi v1 ``ErrorResponse`` (``ErrorCode``, ``ErrorMessage``,
    ``ValidationErrors``), its camelCase v2 twin, and OAuth's ``error``/``error_description``.
    """
    if not isinstance(body, Mapping):
        return None, (), {}
    code: str | None = None
    messages: list[str] = []
    metadata: dict[str, Any] = {}

    ffn_code = body.get("errorCode")
    if isinstance(ffn_code, Mapping):  # FFN
        code = _str_or_none(ffn_code.get("code"))
        if ffn_code.get("description"):
            messages.append(str(ffn_code["description"]))
        for entry in body.get("errorMessages") or ():
            if isinstance(entry, Mapping) and entry.get("message"):
                target = entry.get("target")
                messages.append(f"{target}: {entry['message']}" if target else str(entry["message"]))
        meta = body.get("errorMetadata") or body.get("errorMetaData")
        if isinstance(meta, Mapping):
            metadata.update(meta)
        return code, tuple(messages), metadata

    wawi_code = body.get("ErrorCode", ffn_code)  # Wawi v1 PascalCase, or v2 camelCase string
    if wawi_code is not None or "ErrorMessage" in body or "errorMessage" in body:
        code = _str_or_none(wawi_code)
        message = body.get("ErrorMessage", body.get("errorMessage"))
        if message:
            messages.append(str(message))
        validation = body.get("ValidationErrors", body.get("validationErrors"))
        if isinstance(validation, Mapping):
            for field, reason in validation.items():
                messages.append(f"{field}: {reason}")
            metadata["validation_errors"] = dict(validation)
        return code, tuple(messages), metadata

    if "error" in body:  # OAuth2 token endpoint
        code = _str_or_none(body.get("error"))
        if body.get("error_description"):
            messages.append(str(body["error_description"]))
        return code, tuple(messages), metadata

    if "title" in body or "detail" in body:  # RFC 7807 problem details
        messages.extend(str(body[k]) for k in ("title", "detail") if body.get(k))
    return code, tuple(messages), metadata


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def describe(method: str, path: str, status: int | None, code: str | None, messages: tuple[str, ...]) -> str:
    """One line naming the request and the API's reason; used for every message we raise."""
    text = f"{method} {path}"
    if status is not None:
        text += f" -> {status}"
    if code:
        text += f" {code}"
    if messages:
        text += ": " + "; ".join(messages[:5])
    return text


def failure_reason(error: JtlApiError) -> str:
    """Short cause for retry logs: the status, else the transport error's class name."""
    if error.status is not None:
        return str(error.status)
    cause = error.__cause__
    return type(cause).__name__ if cause is not None else type(error).__name__


def error_from_response(
    method: str, path: str, response: httpx.Response, *, retry_after: float | None = None
) -> JtlApiError:
    """Map an error response to the typed error the flows act on."""
    status = response.status_code
    code, messages, metadata = parse_error_envelope(_parse_body(response))
    message = describe(method, path, status, code, messages)
    kwargs: dict[str, Any] = {
        "method": method,
        "path": path,
        "status": status,
        "code": code,
        "messages": messages,
        "metadata": metadata,
    }
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **kwargs)
    if status >= 500 or status == 408:
        return TransientError(message, **kwargs)
    if status == 401 or code in {"invalid_grant", "invalid_client", "unauthorized_client"}:
        return AuthError(message, **kwargs)
    if status == 402:
        return LicenseError(message, **kwargs)
    if status == 403:
        return ForbiddenError(message, **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status in (400, 422):
        return ValidationFailed(message, **kwargs)
    if status in (406, 409, 410, 412):
        return Conflict(message, **kwargs)
    return ClientError(message, **kwargs)
