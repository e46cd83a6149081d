"""Notifications through the e-mail and webhook blocks, each at most once per idempotency key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks import SmtpServer, WebhookEndpoint
from jtl_automator.store import StateStore
from tasks.resources import correlated, load_block


@task(name="notify-send", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
def notify_send(
    store: StateStore,
    key: str,
    subject: str,
    markdown: str,
    payload: Mapping[str, Any],
    email_block: str | None = None,
    recipients: Sequence[str] = (),
    webhook_block: str | None = None,
) -> dict[str, bool]:
    """E-mail (markdown rendered) and/or webhook; returns which channels were sent this time."""
    logger = get_run_logger()
    sent = {"email": False, "webhook": False}
    with correlated() as run_id:
        if email_block and recipients:
            mail = load_block(SmtpServer, email_block).get_client()
            sent["email"] = store.run_once(
                f"{key}:email",
                "email",
                lambda: {
                    "message_id": mail.send(
                        list(recipients), subject, markdown, format="markdown", idempotency_key=f"{key}:email"
                    ).message_id
                },
                run_id=run_id,
            )
        if webhook_block:
            hook = load_block(WebhookEndpoint, webhook_block).get_client()
            sent["webhook"] = store.run_once(
                f"{key}:webhook",
                "webhook",
                lambda: {"status": hook.send(dict(payload), idempotency_key=f"{key}:webhook").status_code},
                run_id=run_id,
            )
    logger.info("notifications for %s: %s", key, sent)
    return sent
