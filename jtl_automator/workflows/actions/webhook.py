"""``call_webhook``: one HTTP call per effect key, its secrets in a block, its answer for later steps.

The call goes through the project's :class:`~jtl_automator.notify.webhook.WebhookSender`: the one retry
policy (429 with Retry-After honoured, 5xx, 408 and dropped connections retried, other 4xx not), and
``Idempotency-Key: <effect key>`` on every attempt, so a receiver recognises a retried or re-run
delivery. The ledger keeps a done call from being made again at all; a call whose run died before it
was recorded is made again with the same key.

Where the secrets live: ``endpoint`` names a WebhookEndpoint block (URL, bearer/basic/HMAC auth, base
headers, timeout, retries); the step adds a ``path`` below the block's URL, query parameters, headers
and the body. A plain ``url`` (no block) is for receivers that need no credentials; one with a user or
password in it is refused. The output carries the status code and the response (JSON when it is JSON,
else text), cut to ``max_response_bytes``, with every secret of the endpoint blanked out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jtl_automator.notify.webhook import WebhookSender, check_path, encode_json, safe_url
from jtl_automator.workflows.actions import register_action
from jtl_automator.workflows.actions.base import ActionContext, StepResult
from jtl_automator.workflows.actions.effects import once

LEDGER_KIND = "workflow_webhook"
#: Headers the sender sets itself (auth, signature, idempotency): a step may not set or shadow them.
RESERVED_HEADERS = frozenset(
    {"authorization", "idempotency-key", "x-signature", "x-timestamp", "x-correlation-id", "host", "cookie"}
)
#: The body shown in a simulation and in the step's record, at most.
PREVIEW_CHARS = 4_000

#: ``resources["webhooks"]``: a WebhookEndpoint block's sender by the block's name (the runner loads it).
EndpointLookup = Callable[[str], WebhookSender]


class CallWebhookParams(BaseModel):
    """An HTTP call: where (a block, or a plain URL), how (method, headers, query), what (body)."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = Field(
        default=None,
        description="Name of a WebhookEndpoint block: base URL, authentication (bearer, basic, HMAC), "
        "base headers, timeout and retries. Secrets stay in the block.",
    )
    url: str | None = Field(
        default=None, description="A full http(s) URL for a receiver that needs no credentials."
    )
    path: str | None = Field(
        default=None,
        description="With endpoint: appended to the block's URL (e.g. /orders/{{ trigger.id }}).",
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = Field(
        default=None, description="HTTP method; default: the block's (POST without a block)."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra headers (not Authorization, Idempotency-Key, signatures)."
    )
    query: dict[str, str] = Field(default_factory=dict, description="Query parameters.")
    body: dict[str, Any] | list[Any] | str | None = Field(
        default=None, description="JSON (a mapping or list) or text; none for GET."
    )
    content_type: str | None = Field(
        default=None, description="Content-Type of a text body (default text/plain; charset=utf-8)."
    )
    max_response_bytes: int = Field(
        default=65_536, ge=0, le=1_048_576, description="The response kept for later steps, at most."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _plain_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        split = urlsplit(value)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ValueError(f"url must be an http(s) URL with a host, got {safe_url(value)!r}")
        if split.username or split.password:
            raise ValueError("url must not carry a user or password: put them in a WebhookEndpoint block")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return check_path(value) if value else None

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if name.strip().lower() in RESERVED_HEADERS:
                raise ValueError(
                    f"header {name!r} is set by the sender; credentials belong in a WebhookEndpoint block"
                )
            if not name or any(c in name for c in " :\r\n") or "\r" in text or "\n" in text:
                raise ValueError(f"header {name[:40]!r} has a malformed name or a line break in its value")
        return value

    @model_validator(mode="after")
    def _target(self) -> CallWebhookParams:
        if (self.endpoint is None) == (self.url is None):
            raise ValueError("give exactly one of endpoint (a WebhookEndpoint block) or url")
        if self.path and self.endpoint is None:
            raise ValueError("path goes with endpoint; with url, write the whole URL")
        if self.body is not None and self.method == "GET":
            raise ValueError("a GET sends no body; use query")
        if self.content_type and not isinstance(self.body, str):
            raise ValueError("content_type is for a text body")
        return self


def _sender(params: CallWebhookParams, ctx: ActionContext, stack: ExitStack) -> WebhookSender:
    if params.endpoint is not None:
        lookup: EndpointLookup = ctx.resource("webhooks")
        base = lookup(params.endpoint)
        return base.derive(method=params.method, path=params.path, headers=params.headers)
    http = ctx.resources.get("http")
    if http is None:  # no shared client from the runner: one for this call
        http = stack.enter_context(httpx.Client())
    assert params.url is not None
    return WebhookSender(http, params.url, params.method or "POST", params.headers)


def _preview(params: CallWebhookParams) -> tuple[str | None, Any]:
    """(body kind, body as it will be sent, cut for reading)."""
    if params.body is None:
        return None, None
    if isinstance(params.body, str):
        return "text", params.body[:PREVIEW_CHARS]
    text = encode_json(params.body).decode("utf-8")
    return "json", params.body if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


def _response(response: httpx.Response, limit: int, sender: WebhookSender) -> dict[str, Any]:
    raw = response.content
    truncated = len(raw) > limit
    text = sender.scrub(raw[:limit].decode(response.encoding or "utf-8", "replace"))
    out: dict[str, Any] = {"status_code": response.status_code, "response_truncated": truncated}
    kind = response.headers.get("content-type", "")
    if not truncated and "json" in kind.lower():
        try:
            out["response"] = json.loads(text)
            return out
        except ValueError:
            pass
    out["response"] = text if text else None
    return out


def call_webhook(params: CallWebhookParams, ctx: ActionContext) -> StepResult:
    """Make the call once per effect key; a simulation says what it would send and sends nothing."""
    with ExitStack() as stack:
        return _call(params, ctx, _sender(params, ctx, stack))


def _call(params: CallWebhookParams, ctx: ActionContext, sender: WebhookSender) -> StepResult:
    kind, body = _preview(params)
    described = {
        "method": sender.method,
        "url": sender.display_url,
        "query": dict(params.query),
        "headers": sorted(params.headers),
        "body_kind": kind,
        "body": body,
        "auth": type(sender.auth).__name__ if sender.auth is not None else None,
        "idempotency_key": ctx.effect_key,
    }
    line = f"{sender.method} {sender.display_url}"
    if ctx.simulate:
        return StepResult(output={"would_send": described}, summary=f"would call {line}")

    def do() -> tuple[dict[str, Any], str]:
        if isinstance(params.body, str):
            response = sender.send(
                idempotency_key=ctx.effect_key,
                text=params.body,
                content_type=params.content_type,
                query=params.query,
            )
        else:
            payload = params.body
            response = sender.send(
                payload,  # type: ignore[arg-type]  # a JSON list is sent as it is
                idempotency_key=ctx.effect_key,
                query=params.query,
            )
        out = {
            **_response(response, params.max_response_bytes, sender),
            "method": sender.method,
            "url": sender.display_url,
        }
        return out, f"{line} -> {response.status_code}"

    return once(ctx, LEDGER_KIND, do)


register_action(
    "call_webhook",
    CallWebhookParams,
    call_webhook,
    "Call an HTTP endpoint (GET/POST/PUT/PATCH/DELETE) once per triggering change; auth from a "
    "WebhookEndpoint block; outputs the status code and the response.",
)
