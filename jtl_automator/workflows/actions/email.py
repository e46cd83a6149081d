"""``send_email``: one e-mail per effect key through the SMTP block, as text, HTML or markdown.

The message goes through the project's :class:`~jtl_automator.notify.mail.EmailSender` (SMTP retries:
4xx and dropped connections again, 5xx not), with its Message-ID derived from the effect key: if a run
dies between the server's "queued" and the ledger's record, the repeat carries the same Message-ID and
mail clients show it as the same message. The ledger keeps a sent message from being sent again.

Markdown bodies are rendered with raw HTML escaped (values from the trigger can be customer data);
HTML bodies are sent as written, with a text part derived from them.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parseaddr
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jtl_automator.notify.mail import message_id_for
from jtl_automator.notify.notifier import MailSender
from jtl_automator.workflows.actions import register_action
from jtl_automator.workflows.actions.base import ActionContext, StepResult
from jtl_automator.workflows.actions.effects import once

LEDGER_KIND = "workflow_email"
PREVIEW_CHARS = 4_000
#: ``resources["mail_servers"]``: an SmtpServer block's sender by the block's name (the runner loads it).
MailLookup = Callable[[str], MailSender]
_MAX_RECIPIENTS = 100


def _addresses(value: Any) -> Any:
    """A list, or one text with addresses separated by commas or semicolons (a template's output)."""
    if isinstance(value, str):
        return [a.strip() for a in value.replace(";", ",").split(",") if a.strip()]
    return value


def _check_addresses(values: list[str], what: str) -> list[str]:
    for address in values:
        _, parsed = parseaddr(address)
        local, at, domain = parsed.rpartition("@")
        if (
            not at
            or not local
            or "." not in domain
            or "\r" in address
            or "\n" in address
            or len(address) > 320
        ):
            raise ValueError(f"{what}: {address[:80]!r} is not an e-mail address")
    if len(values) > _MAX_RECIPIENTS:
        raise ValueError(f"{what}: at most {_MAX_RECIPIENTS} addresses, got {len(values)}")
    return list(dict.fromkeys(values))


class SendEmailParams(BaseModel):
    """Who, what, how: recipients, subject, body and its format; the SMTP block to send through."""

    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1, description="Recipients (a list, or one text separated by commas).")
    cc: list[str] = Field(default_factory=list, description="Copy recipients.")
    reply_to: str | None = Field(default=None, description="Reply-To address.")
    subject: str = Field(
        min_length=1, max_length=998, description="Subject line (line breaks become spaces)."
    )
    body: str = Field(min_length=1, max_length=1_000_000, description="The message.")
    format: Literal["text", "html", "markdown"] = Field(
        default="markdown", description="text, html, or markdown (rendered to HTML, with a text part)."
    )
    smtp: str | None = Field(
        default=None, description="Name of an SmtpServer block; default: the runner's configured server."
    )

    @field_validator("to", "cc", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _addresses(value)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return _check_addresses(value, "to")

    @field_validator("cc")
    @classmethod
    def _cc(cls, value: list[str]) -> list[str]:
        return _check_addresses(value, "cc")

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        return _check_addresses([value], "reply_to")[0] if value else None

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        flat = " ".join(value.split())
        if not flat:
            raise ValueError("subject is empty")
        return flat


def _sender(params: SendEmailParams, ctx: ActionContext) -> MailSender:
    if params.smtp is not None:
        lookup: MailLookup = ctx.resource("mail_servers")
        return lookup(params.smtp)
    sender: MailSender = ctx.resource("mail")
    return sender


def send_email(params: SendEmailParams, ctx: ActionContext) -> StepResult:
    """Send once per effect key; a simulation shows recipients, subject and body and sends nothing."""
    sender = _sender(params, ctx)
    address = str(getattr(sender, "sender_address", "") or "")
    described: dict[str, Any] = {
        "to": params.to,
        "cc": params.cc,
        "reply_to": params.reply_to,
        "subject": params.subject,
        "format": params.format,
        "from": getattr(sender, "sender", None),
        "message_id": message_id_for(ctx.effect_key, address.rpartition("@")[2]),
    }
    who = ", ".join(params.to[:3]) + (f" and {len(params.to) - 3} more" if len(params.to) > 3 else "")
    if ctx.simulate:
        body = params.body[:PREVIEW_CHARS] + ("…" if len(params.body) > PREVIEW_CHARS else "")
        return StepResult(
            output={"would_send": {**described, "body": body}},
            summary=f"would e-mail {who}: {params.subject}",
        )

    def do() -> tuple[dict[str, Any], str]:
        kwargs: dict[str, Any] = {"format": params.format, "idempotency_key": ctx.effect_key}
        if params.cc:
            kwargs["cc"] = params.cc
        if params.reply_to:
            kwargs["reply_to"] = params.reply_to
        sent = sender.send(params.to, params.subject, params.body, **kwargs)
        refused = getattr(sent, "refused", None) or {}
        out = {
            **described,
            "message_id": str(getattr(sent, "message_id", described["message_id"])),
            "refused": sorted(refused),
        }
        return out, f"e-mailed {who}: {params.subject}"

    return once(ctx, LEDGER_KIND, do)


register_action(
    "send_email",
    SendEmailParams,
    send_email,
    "Send an e-mail (text, HTML or markdown) through the SMTP block, once per triggering change.",
)
