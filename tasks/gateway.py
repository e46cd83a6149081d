"""The gateway's Prefect side: the emitter of outbox rows as Prefect events, Secret blocks, the drain task.

Delivery posts a batch to the Prefect API's ``POST /events`` and waits for its 204, instead of
``prefect.events.emit_event``: that one hands events to a background worker that logs and drops them when
the API is away, so the outbox could not know whether an event arrived. The events are the same Prefect
``Event`` objects ``emit_event`` sends (name ``jtl.gateway.<type>``, resource
``jtl-automator.gateway.<source>``), so automations and the workflow runner match them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from jtl_automator.gateway import DrainReport, EmitterUnavailable, GatewayEvent, Outbox, drain
from jtl_automator.gateway.drain import prefect_event_fields
from jtl_automator.gateway.report import drain_markdown, drain_summary
from tasks.resources import load_block, state_store


class PrefectEmitter:
    """Delivers a batch to the Prefect API (``PREFECT_API_URL``) in one request; a failure keeps the rows."""

    def emit(self, events: Sequence[GatewayEvent]) -> None:
        """POST the batch to ``/events``; anything but success raises :class:`EmitterUnavailable`."""
        from prefect.client.orchestration import get_client
        from prefect.events import Event

        batch = [Event(**prefect_event_fields(e)).model_dump(mode="json") for e in events]
        try:
            with get_client(sync_client=True) as client:
                client.request("POST", "/events", json=batch)
        except httpx.HTTPStatusError as exc:
            raise EmitterUnavailable(f"Prefect API answered {exc.response.status_code}") from None
        except (httpx.HTTPError, OSError, RuntimeError) as exc:
            raise EmitterUnavailable(f"Prefect API unreachable ({type(exc).__name__})") from None


def secret_from_block(name: str) -> str:
    """The value of a Prefect Secret block (the gateway's source secrets)."""
    from prefect.blocks.system import Secret

    value: Any = load_block(Secret, name).get()
    if not isinstance(value, str):
        raise TypeError(f"Secret block {name!r} must hold a string")
    return value


@task(name="gateway-drain-outbox", cache_policy=NO_CACHE)
def drain_outbox(database_block: str | None, batch_size: int, dry_run: bool, force: bool) -> dict[str, Any]:
    """Deliver the outbox's undelivered events to Prefect, oldest first."""
    logger = get_run_logger()
    outbox = Outbox(state_store(database_block))
    report: DrainReport = drain(outbox, PrefectEmitter(), batch_size=batch_size, dry_run=dry_run, force=force)
    summary = drain_summary(report, datetime.now(UTC))
    if report.error:
        logger.warning("gateway drain: %s", summary["message"])
    else:
        logger.info("gateway drain: %s", summary["message"])
    create_markdown_artifact(key="gateway-drain", markdown=drain_markdown(report, datetime.now(UTC)))
    return summary
