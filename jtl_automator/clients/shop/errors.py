"""Typed errors of the JTL-Shop client, read from the Shop's own answers (jtl-shop-rest.md §2, §4).

The Shop answers in four shapes, so the status alone says too little and the client branches on the
``Content-Type`` first:

- 403 ``application/json`` with a bare JSON string: ``"Invalid api key"`` (no ``X-API-KEY`` header at
  all) or ``"No permissions for this operation"`` (key unknown, empty, or without this method's bit)
  → :class:`ShopAuthError`, which says which and how to fix it (critical: stop the flow);
- 404 ``text/plain``: ``The requested resource was not found`` → :class:`~jtl_automator.clients.NotFound`
  (item-level);
- an HTML page (any status): the request never reached the API (wrong base URL, ``SHOW_REST_API`` off,
  unknown route or a trailing slash) → :class:`ShopApiUnavailable` (critical);
- 501 ``[]``: every create, update and delete of 5.4.0 → :class:`ShopReadOnly` (never retried).

Messages are built from method, path, status and the Shop's fixed texts only, never from headers, so the
API key cannot leak into them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx

from jtl_automator.clients.errors import (
    ClientError,
    ForbiddenError,
    JtlApiError,
    NotFound,
    RateLimited,
    TransientError,
    ValidationFailed,
    describe,
    error_from_response,
)
from jtl_automator.clients.json_body import decode_json

#: The two bodies of the Shop's ApiKeyMiddleware (bare JSON strings).
MISSING_KEY_BODY = "Invalid api key"
REFUSED_KEY_BODY = "No permissions for this operation"

AuthCause = Literal["missing_key", "key_refused", "forbidden"]

_HOW_TO_FIX = {
    "missing_key": (
        "the request carried no X-API-KEY header: set the API key (JTL_SHOP_API_KEY or the "
        "JtlShopCredentials block)"
    ),
    "key_refused": (
        "the shop does not know this API key, or the key lacks the permission for this method: check the "
        "key under Administration > API keys in the shop backend (it needs GET) and that it was not deleted"
    ),
    "forbidden": "a 403 that is not the Shop's own (a firewall or proxy in front of the shop?)",
}


class ShopError(JtlApiError):
    """Base of the errors only the Shop client raises."""


class ShopAuthError(ForbiddenError, ShopError):
    """403: no key sent (``missing_key``), or key unknown / method not permitted (``key_refused``).

    Also what a key revoked in the middle of a run looks like: the next request answers 403.
    """

    def __init__(self, message: str, *, cause: AuthCause, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.cause: AuthCause = cause


class ShopApiUnavailable(ShopError):
    """An HTML page instead of JSON: the base URL is wrong, the REST API is off, or the route is unknown."""


class ShopReadOnly(ShopError):
    """501 ``[]``: JTL-Shop 5.4 implements no create, update or delete in its REST API."""


class ShopResponseError(ShopError):
    """An answer that is not what the Shop sends: not JSON, no ``data`` envelope, an unreadable cursor."""


class ShopMalformedObject(ClientError, ShopError):
    """One object (``GET /{resource}/{id}``) does not fit its model: skip it, finish the batch."""


def content_type(response: httpx.Response) -> str:
    """The media type without parameters, lower case (``text/plain; charset=utf-8`` → ``text/plain``)."""
    header = str(response.headers.get("Content-Type", ""))
    return header.split(";", 1)[0].strip().lower()


def is_html(response: httpx.Response) -> bool:
    """Whether the Shop answered with a storefront page instead of the API."""
    return content_type(response) in ("text/html", "application/xhtml+xml")


def unavailable(method: str, path: str, status: int) -> ShopApiUnavailable:
    """The error for an HTML page where the API should have answered."""
    message = (
        f"{method} {path} -> {status} answered an HTML page, not the REST API: the shop URL is wrong, the "
        "REST API is off (define SHOW_REST_API as true in includes/config.JTL-Shop.ini.php), or the route "
        "does not exist (Shop routes have no trailing slash)"
    )
    return ShopApiUnavailable(message, method=method, path=path, status=status)


def _json_body(response: httpx.Response) -> Any:
    try:
        return decode_json(response)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def shop_error_from_response(
    method: str, path: str, response: httpx.Response, *, retry_after: float | None = None
) -> JtlApiError:
    """Map a Shop error answer to the typed error the flows act on (the ``HttpCore`` error mapper)."""
    status = response.status_code
    kind = content_type(response)
    common: dict[str, Any] = {"method": method, "path": path, "status": status}
    if status == 429:
        return RateLimited(describe(method, path, status, None, ()), retry_after=retry_after, **common)
    if status == 501:
        message = (
            f"{method} {path} -> 501: the shop API is read-only (JTL-Shop 5.4 answers 501 to every create, "
            "update and delete; stock and prices reach the shop through JTL-Wawi's shop sync)"
        )
        return ShopReadOnly(message, **common)
    if status >= 500 or status == 408:
        return TransientError(describe(method, path, status, None, ()), **common)
    if is_html(response):
        return unavailable(method, path, status)
    if status == 403:
        body = _json_body(response) if "json" in kind else None
        cause: AuthCause = (
            "missing_key"
            if body == MISSING_KEY_BODY
            else "key_refused"
            if body == REFUSED_KEY_BODY
            else "forbidden"
        )
        said: tuple[str, ...] = (body,) if isinstance(body, str) else ()
        message = describe(method, path, status, None, said) + f": {_HOW_TO_FIX[cause]}"
        return ShopAuthError(message, cause=cause, messages=said, **common)
    if status == 404:
        text = response.text.strip()[:200] if kind.startswith("text/") else ""
        return NotFound(describe(method, path, status, None, (text,) if text else ()), **common)
    if status == 400:
        body = _json_body(response)
        fields = body.get("invalid_fields") if isinstance(body, dict) else None
        if isinstance(fields, dict):
            reasons = tuple(f"{name}: {reason}" for name, reason in fields.items())
            return ValidationFailed(
                describe(method, path, status, None, reasons),
                messages=reasons,
                metadata={"invalid_fields": dict(fields)},
                **common,
            )
    return error_from_response(method, path, response, retry_after=retry_after)
