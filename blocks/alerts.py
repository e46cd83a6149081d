"""Notification blocks for Prefect automations: e-mail and webhook through the project's own blocks.

Prefect's ``send-notification`` action takes a block with the ``notify`` capability. The project's
``SmtpServer`` and ``WebhookEndpoint`` are connection blocks, not notification blocks (an SMTP server
has no recipients), so these two thin blocks wrap them: each holds a *reference* to the saved
connection block (Prefect stores the nested block's id, not a copy), so the password, token or signing
key stays in that one block, and rotating it there reaches the alerts too.

The Prefect server runs the action, so the server's Python must know these classes: the package
declares them as a Prefect collection (``jtl_automator.prefect_collection``), which the server imports
at start; see docs/alerts.md.
"""

from __future__ import annotations

import hashlib

import anyio.to_thread
from prefect.blocks.abstract import NotificationBlock, NotificationError
from pydantic import Field

from blocks.credentials import SmtpServer, WebhookEndpoint
from jtl_automator.notify.errors import NotifyError

_DOCS = "https://github.com/jtl-automator/jtl-automator/blob/main/docs/alerts.md"
DEFAULT_SUBJECT = "jtl-automator alert"


def alert_key(subject: str, body: str) -> str:
    """The idempotency key of one alert: a retried delivery of the same text is recognisably the same."""
    return "alert-" + hashlib.sha256(f"{subject}\n{body}".encode()).hexdigest()[:32]


class _AlertBlock(NotificationBlock):
    """Shared failure handling: a sender's error becomes Prefect's NotificationError (the action logs it)."""

    def _failed(self, error: NotifyError) -> None:
        # The senders' messages name host/URL and reply, never a credential (jtl_automator.notify.errors).
        if self._raise_on_failure:
            raise NotificationError(log=error.message) from None
        self.logger.error("alert not delivered: %s", error.message)


class EmailAlert(_AlertBlock):
    """E-mail an alert to a list of addresses through a saved SmtpServer block.

    Example:
        ```python
        from blocks import EmailAlert, SmtpServer
        EmailAlert(smtp=SmtpServer.load("smtp"), to=["ops@example.com"]).save("alert-ops-email")
        ```
    """

    _block_type_name = "Alert E-mail"
    _block_type_slug = "jtl-alert-email"
    _description = "Sends Prefect automation alerts as e-mail through a saved SMTP Server block."
    _documentation_url = _DOCS  # type: ignore[assignment]

    smtp: SmtpServer = Field(description="The SMTP Server block the mail goes through (kept as a reference).")
    to: list[str] = Field(min_length=1, description="Recipients.")

    async def notify(self, body: str, subject: str | None = None) -> None:
        """Send one e-mail (the sender's retries run in a worker thread, off the server's event loop)."""
        subject = subject or DEFAULT_SUBJECT
        sender = self.smtp.get_client()
        try:
            await anyio.to_thread.run_sync(
                lambda: sender.send(self.to, subject, body, idempotency_key=alert_key(subject, body))
            )
        except NotifyError as error:
            self._failed(error)


class WebhookAlert(_AlertBlock):
    """Post an alert as JSON (``subject``, ``text``, ``source``) to a saved WebhookEndpoint block.

    Example:
        ```python
        from blocks import WebhookAlert, WebhookEndpoint
        WebhookAlert(endpoint=WebhookEndpoint.load("ops-hook")).save("alert-ops-webhook")
        ```
    """

    _block_type_name = "Alert Webhook"
    _block_type_slug = "jtl-alert-webhook"
    _description = "Sends Prefect automation alerts to a saved Webhook Endpoint block (JSON body)."
    _documentation_url = _DOCS  # type: ignore[assignment]

    endpoint: WebhookEndpoint = Field(
        description="The Webhook Endpoint block that is called (kept as a reference)."
    )

    async def notify(self, body: str, subject: str | None = None) -> None:
        """Call the endpoint once (with its retries and authentication) in a worker thread."""
        subject = subject or DEFAULT_SUBJECT
        payload = {"source": "jtl-automator", "subject": subject, "text": body}

        def send() -> None:
            sender = self.endpoint.get_client()
            try:
                sender.send(payload, idempotency_key=alert_key(subject, body))
            finally:
                sender.http.close()

        try:
            await anyio.to_thread.run_sync(send)
        except NotifyError as error:
            self._failed(error)
