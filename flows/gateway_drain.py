"""Gateway drain: the events the gateway accepted become Prefect events, in the order they came in.

Runs every minute (deployment ``gateway-drain``) and ad hoc (``jtl-automator gateway drain``); the
gateway process can drain too (``gateway serve --drain``). A lease keeps it to one drainer at a time.
See docs/gateway.md.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import ON_RUNNING
from tasks.gateway import drain_outbox


@flow(name="gateway-drain", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def gateway_drain(
    database_block: str | None = None, batch_size: int = 100, dry_run: bool = False, force: bool = False
) -> dict[str, Any]:
    """Deliver the gateway's outbox to Prefect.

    Args:
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        batch_size: Events per request to the Prefect API.
        dry_run: List what would be delivered; deliver and mark nothing.
        force: Try the oldest event now even if its backoff after a failure has not run out.
    """
    return drain_outbox(database_block, batch_size, dry_run, force)
