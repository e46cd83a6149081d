"""Stock sync FFN -> Wawi: Wawi's stock in the FFN warehouses follows FFN's levels, each delta exactly once.

Runs every 15 minutes incrementally (FFN's stock change feed since the watermark) and nightly at 02:30 in
full (deployment ``stock-sync``), and ad hoc (``jtl-automator run stock-sync [--full] [--dry-run]``).
See docs/stock-sync.md for what it decides and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows import ON_RUNNING
from jtl_automator.services.stock_sync import StockSyncParams, run_stages
from tasks.resources import RunBlocks, run_clients
from tasks.stock_sync import TaskStages, stock_publish_artifacts


@flow(name="stock-sync", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def stock_sync(
    full: bool = False,
    dry_run: bool = False,
    params: StockSyncParams | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
) -> dict[str, Any]:
    """Bring Wawi's stock in the FFN warehouses to FFN's levels.

    Args:
        full: Read all of FFN's stock (nightly) instead of its change feed since the watermark.
        dry_run: Plan and report the adjustments; send nothing, record nothing, keep the watermark.
        params: Warehouse map, sanity bound on levels, resend limit, ...
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
    """
    params = params or StockSyncParams()
    run_id = str(flow_run.get_id() or "local")
    with run_clients(RunBlocks(ffn_block, wawi_block, database_block), run_id) as clients:
        stages = TaskStages(clients, params, run_id, full, datetime.now(UTC))
        result = run_stages(stages, params, dry_run=dry_run)
    stock_publish_artifacts(result)
    return result
