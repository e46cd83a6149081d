"""Pricing: price rules per category, manufacturer, supplier and sales channel; markdowns for slow movers.

Runs daily at 05:30 Europe/Berlin (deployment ``pricing``) and ad hoc
(``jtl-automator run pricing [--dry-run] [--rules FILE]``). Writes the prices the rules allow (absolute
values, each once, each in the price history), proposes the larger changes and the markdowns as the day's
plans, executes the approved ones in its next run, and writes a workbook of its decisions; see
docs/pricing.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows import ON_RUNNING
from jtl_automator.services.pricing import PricingParams, load_rules, run_stages, workbook_path
from jtl_automator.services.replenishment.reads import TIMEZONE
from tasks.pricing import TaskStages, pricing_publish_artifacts
from tasks.resources import RunBlocks, run_clients


@flow(name="pricing", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def pricing(
    dry_run: bool = False,
    rules_file: str | None = None,
    output: str | None = None,
    as_of: date | None = None,
    params: PricingParams | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
) -> dict[str, Any]:
    """Price the catalogue by the rule file, write what may be written, propose the rest and the markdowns.

    Args:
        dry_run: Read, price and write the workbook; write no price, propose and execute no plan.
        rules_file: The rule file (default: ``config/pricing.yaml`` in the working directory).
        output: The workbook's path (default: ``<params.output_dir>/pricing-<date>.xlsx``).
        as_of: Run as if on this day (the markdowns' demand ends the day before; default: now).
        params: Company and countries of the VAT rate, workers, table rows, the lease.
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment); markdowns read FFN.
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
    """
    rules = load_rules(rules_file)  # a mistake fails the run at once, with its line
    params = params or PricingParams()
    run_id = str(flow_run.get_id() or "local")
    now = datetime.now(UTC) if as_of is None else datetime.combine(as_of, time(5, 30), TIMEZONE)
    path = workbook_path(params, now, output)
    with run_clients(RunBlocks(ffn_block, wawi_block, database_block), run_id) as clients:
        stages = TaskStages(clients, rules, params, run_id, now, path)
        result = run_stages(stages, rules, params, dry_run=dry_run)
    pricing_publish_artifacts(result)
    return result
