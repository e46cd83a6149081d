"""Notifications through the e-mail and webhook blocks, each channel at most once per idempotency key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from jtl_automator.store import StateStore
from tasks.resources import correlated, notifier_from_blocks
from tasks.retry import retry_transient


@task(
    name="notify-send",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=retry_transient,
)
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
    """E-mail (markdown rendered) and/or webhook; returns which channels were sent this time.

    A channel that failed is raised after the other one had its turn: a transient failure is retried
    (the channel already sent is not sent again), a permanent one fails the task.
    """
    with correlated() as run_id:
        notifier = notifier_from_blocks(store, run_id, email_block if recipients else None, webhook_block)
        result = notifier.event(key, payload, recipients=recipients, subject=subject, markdown=markdown)
    get_run_logger().info("notifications for %s: %s", key, result.sent)
    result.raise_failures()
    return result.sent
