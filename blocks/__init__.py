"""Prefect blocks: credentials and connection settings, each with ``get_client()``.

Register the types with ``prefect block register -m blocks``; create documents from the ``JTL_*``
environment with ``jtl-automator blocks``.
"""

from blocks.alerts import EmailAlert, WebhookAlert
from blocks.credentials import (
    GoogleSheetsCredentials,
    InboundControlSheet,
    JtlFfnCredentials,
    JtlShopCredentials,
    JtlWawiCredentials,
    SmtpServer,
    StateDatabase,
    WebhookEndpoint,
)
from blocks.reporting import ReportDelivery

__all__ = [
    "EmailAlert",
    "GoogleSheetsCredentials",
    "InboundControlSheet",
    "JtlFfnCredentials",
    "JtlShopCredentials",
    "JtlWawiCredentials",
    "ReportDelivery",
    "SmtpServer",
    "StateDatabase",
    "WebhookAlert",
    "WebhookEndpoint",
]
