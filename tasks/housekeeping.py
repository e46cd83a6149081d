"""Tasks of the housekeeping flow: one prune task, one artifact task."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from jtl_automator.services.housekeeping import RetentionParams, housekeeping_markdown, run_housekeeping
from tasks.resources import state_store


@task(name="housekeeping-prune", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=60)
def housekeeping_prune(
    params: RetentionParams, now: datetime, dry_run: bool, run_id: str, database_block: str | None
) -> dict[str, Any]:
    """A retry is safe: each batch is its own transaction, and what is gone is not counted again."""
    store = state_store(database_block)
    result = run_housekeeping(store, params, now, dry_run=dry_run, run_id=run_id)
    for journal in result["journals"]:
        get_run_logger().info(
            "%s: %d older than %s, %d removed",
            journal["journal"],
            journal["older"],
            journal["cutoff"],
            journal["deleted"],
        )
    return result


@task(name="housekeeping-artifact", cache_policy=NO_CACHE)
def housekeeping_artifact(result: dict[str, Any]) -> None:
    """What left the database at a glance, in the run's artifacts."""
    create_markdown_artifact(
        housekeeping_markdown(result), key="housekeeping", description="Journal retention"
    )
