"""Errors of the notification senders, in the project's tiers: permanent (do not retry) or transient.

Messages name the channel, the target (SMTP host / webhook URL without query or user info) and the
server's reply; never credentials, tokens, signatures or request bodies.
"""

from __future__ import annotations

from jtl_automator.resilience import TransientFailure


class NotifyError(Exception):
    """Base of every notification error."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class PermanentNotifyError(NotifyError):
    """The receiver refused for good (SMTP 5xx, HTTP 4xx other than 408/429): fix config or payload."""


class TransientNotifyError(NotifyError, TransientFailure):
    """Still failing after the sender's retries (SMTP 4xx, connection errors, HTTP 429/5xx).

    ``reason`` is the short cause for retry logs (``"503"``, ``"ConnectError"``); ``retry_after`` the
    wait a 429 asked for, if it named one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.reason = reason if reason is not None else (str(status) if status is not None else "unavailable")
        self.retry_after = retry_after


class EmailError(NotifyError):
    """Base of the SMTP sender's errors."""


class EmailRejected(EmailError, PermanentNotifyError):
    """A 5xx SMTP reply (bad recipient, auth failure, policy) or a missing STARTTLS we insisted on."""


class EmailUnavailable(EmailError, TransientNotifyError):
    """4xx SMTP replies or connection failures that outlasted the retries."""


class WebhookError(NotifyError):
    """Base of the webhook sender's errors."""


class WebhookRejected(WebhookError, PermanentNotifyError):
    """A 4xx response that retrying cannot fix."""


class WebhookUnavailable(WebhookError, TransientNotifyError):
    """429/5xx/timeouts/connection errors that outlasted the retries."""


def redact(text: str, secrets: list[str]) -> str:
    """Remove secret values from a message that may echo them (e.g. an SMTP reply quoting AUTH data)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
