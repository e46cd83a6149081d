"""Product master sync Wawi -> FFN: every Wawi item FFN fulfils exists as an FFN product, with Wawi's data.

Runs hourly incrementally (the Wawi items changed since the watermark) and nightly in full (deployment
``product-sync``), and ad hoc (``jtl-automator run product-sync [--full] [--dry-run] [--output FILE]``).
See docs/product-sync.md for what it decides and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows import ON_RUNNING
from jtl_automator.services.product_sync import ProductSyncParams, run_stages, workbook_path
from tasks.product_sync import TaskStages, product_publish_artifacts
from tasks.resources import RunBlocks, run_clients


@flow(name="product-sync", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def product_sync(
    full: bool = False,
    dry_run: bool = False,
    output: str | None = None,
    params: ProductSyncParams | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
) -> dict[str, Any]:
    """Create the FFN products Wawi's fulfilled items lack, update the fields that changed.

    Args:
        full: Read every Wawi item and FFN product (nightly) instead of the items changed since the watermark.
        dry_run: Plan and write the diff workbook; write nothing to FFN, record nothing, keep the watermark.
        output: The diff workbook's path (a dry run's default:
            ``<params.output_dir>/product-sync-diff-<time>.xlsx``; a real run writes it only when given).
        params: Fulfilment rule, currency, sanity bounds, packaging units, fulfillers, ...
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
    """
    params = params or ProductSyncParams()
    run_id = str(flow_run.get_id() or "local")
    now = datetime.now(UTC)
    workbook = workbook_path(params, now, output, dry_run=dry_run)
    with run_clients(RunBlocks(ffn_block, wawi_block, database_block), run_id) as clients:
        stages = TaskStages(clients, params, run_id, full, now)
        result = run_stages(stages, params, dry_run=dry_run, workbook=workbook)
    product_publish_artifacts(result, params.first_rows)
    return result
