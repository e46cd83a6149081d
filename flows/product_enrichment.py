"""Product enrichment: fill Wawi's gaps from a supplier feed, categorise by rules, report data quality.

On demand (deployment ``product-enrichment``; ``jtl-automator run product-enrichment --feed FILE_OR_SHEET
--supplier NAME``, ``run categorise --rules FILE``, ``run product-quality``) and whenever the feed changes
(deployment ``product-enrichment-feed-watch``: every 15 minutes with ``only_if_changed``, which compares
the feed's fingerprint with the last one processed and returns at once when it is the same). See
docs/product-enrichment.md for what it decides and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows import ON_RUNNING
from jtl_automator.services.product_enrichment import ProductEnrichmentParams, Request, run_stages
from jtl_automator.sheets.base import SheetBackend
from tasks.product_enrichment import TaskStages, enrichment_publish_artifacts
from tasks.resources import sheet_backend, state_store, wawi_client


@flow(name="product-enrichment", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def product_enrichment(
    feed: str | None = None,
    supplier: str | None = None,
    rules: str | None = None,
    dry_run: bool = False,
    only_if_changed: bool = False,
    output: str | None = None,
    params: ProductEnrichmentParams | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    sheets_block: str | None = None,
) -> dict[str, Any]:
    """Enrich items from a supplier feed, assign categories by rules, and report data quality.

    Args:
        feed: The supplier's feed: a .csv/.txt file, an .xlsx workbook or a Google spreadsheet id
            (none: no enrichment).
        supplier: The feed's supplier, as named in the mapping file (``params.mapping_file``).
        rules: Categorisation rule file (YAML; none: no categorisation).
        dry_run: Read, decide and write the workbook; change nothing in Wawi.
        only_if_changed: Do nothing when the feed is the one the last run processed (scheduled check).
        output: The workbook's path (default: ``<params.output_dir>/product-enrichment-<time>.xlsx``).
        params: Mapping file, fill rules, plausible ranges, quality report, workers, ...
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        sheets_block: GoogleSheetsCredentials block for a Google Sheet feed (default: JTL_GOOGLE_*).
    """
    params = params or ProductEnrichmentParams()
    for name, value in (("feed", feed), ("supplier", supplier), ("rules", rules)):
        if value and value.startswith("{{"):  # a deployment made before its variable was set
            raise ValueError(f"parameter {name} is still {value}: set the variable and deploy again")
    run_id = str(flow_run.get_id() or "local")
    # A deployment's templated parameters arrive as "" when their variable is not set.
    request = Request(feed or None, supplier or None, rules or None, only_if_changed, output or None)

    def open_sheet(spreadsheet_id: str) -> SheetBackend:
        return sheet_backend(spreadsheet_id, sheets_block)

    store = state_store(database_block)
    with wawi_client(wawi_block) as wawi:
        stages = TaskStages(wawi, store, params, request, run_id, datetime.now(UTC), open_sheet)
        result = run_stages(stages, request, params, dry_run=dry_run)
    enrichment_publish_artifacts(result)
    return result
