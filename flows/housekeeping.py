"""Housekeeping: journals of the state database (order events, inbound checks, KPI history) kept to age.

Runs weekly, Sunday 04:15 Europe/Berlin (deployment ``housekeeping``), and ad hoc
(``jtl-automator run housekeeping [--dry-run]``). See docs/housekeeping.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows import ON_RUNNING
from jtl_automator.services.housekeeping import RetentionParams
from tasks.housekeeping import housekeeping_artifact, housekeeping_prune


@flow(name="housekeeping", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def housekeeping(
    dry_run: bool = False, params: RetentionParams | None = None, database_block: str | None = None
) -> dict[str, Any]:
    """Remove journal rows past their keep-age (archived first when an archive folder is set).

    Args:
        dry_run: Count what would go; delete nothing.
        params: Keep-ages per journal in days (0 keeps for ever), batch size, archive folder.
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
    """
    run_id = str(flow_run.get_id() or "local")
    result = housekeeping_prune(
        params or RetentionParams(), datetime.now(UTC), dry_run, run_id, database_block
    )
    housekeeping_artifact(result)
    return result
