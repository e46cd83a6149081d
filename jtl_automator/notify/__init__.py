"""Notification senders (SMTP email, webhooks); Prefect-free, used by the order and plan flows."""

from jtl_automator.notify.errors import (
    EmailError,
    EmailRejected,
    EmailUnavailable,
    NotifyError,
    PermanentNotifyError,
    TransientNotifyError,
    WebhookError,
    WebhookRejected,
    WebhookUnavailable,
)
from jtl_automator.notify.mail import Attachment, EmailSender, SentEmail
from jtl_automator.notify.webhook import BasicAuth, BearerAuth, HmacAuth, WebhookSender

__all__ = [
    "Attachment",
    "BasicAuth",
    "BearerAuth",
    "EmailError",
    "EmailRejected",
    "EmailSender",
    "EmailUnavailable",
    "HmacAuth",
    "NotifyError",
    "PermanentNotifyError",
    "SentEmail",
    "TransientNotifyError",
    "WebhookError",
    "WebhookRejected",
    "WebhookSender",
    "WebhookUnavailable",
]
