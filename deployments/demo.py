"""``make demo``: the main jobs end to end on the embedded default, in one process.

The sandbox serves generated data on a free loopback port, the state database is a SQLite file in the
output folder, and Prefect runs on its ephemeral API with ``PREFECT_HOME`` inside the project folder.
Environment is set before Prefect is imported, because Prefect reads its settings at import time.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any


def _prepare_environment(output: Path) -> None:
    prefect_home = Path(".prefect-demo").resolve()
    prefect_home.mkdir(exist_ok=True)
    os.environ["PREFECT_HOME"] = str(prefect_home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "jtl_automator")
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["JTL_DATABASE_URL"] = f"sqlite:///{(output / 'state.db').resolve()}"


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - the demo talks to the person who started it


def _order_processing(order_processing: Any) -> dict[str, Any]:
    """Every generated order (dated up to 10 days before the generator's base date).

    Invoice orders ship unpaid; about 5% are invalid on purpose and end up on hold in Wawi with reasons.
    """
    from datetime import timedelta

    from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, INVOICE_METHOD_ID
    from jtl_automator.services.order_processing import OrderProcessingParams
    from jtl_automator.transforms import ValidationParams

    params = OrderProcessingParams(
        validation=ValidationParams(invoice_payment_method_ids=frozenset({INVOICE_METHOD_ID}))
    )
    result: dict[str, Any] = order_processing(since=DEFAULT_BASE_DATE - timedelta(days=11), params=params)
    return result


def _plan_execution(plan_execution: Any) -> dict[str, Any]:
    """Approve the restock plans the demo's replenishment proposed, then execute them.

    Skipped, with a line saying so, when no restock plan was proposed (the replenishment flow is not part
    of this demo yet). The sandbox has no mail server, so suppliers are not e-mailed (``send_email`` off);
    the purchase orders are recorded and FFN gets the inbounds.
    """
    from jtl_automator.plans import PlanStatus, PlanStore
    from jtl_automator.services.plan_execution import PlanExecutionParams
    from jtl_automator.store import open_store

    store = open_store()
    try:
        plans = PlanStore(store)
        drafts = [p for p in plans.list_plans(kind="restock", status=PlanStatus.DRAFT) if p.line_count]
        for plan in drafts:
            plans.approve(plan.id, "demo")
    finally:
        store.dispose()
    if not drafts:
        return {"skipped": "no restock plan was proposed"}
    result: dict[str, Any] = plan_execution(params=PlanExecutionParams(send_email=False))
    return result


def _product_enrichment(product_enrichment: Any, data: Any, output: Path) -> dict[str, Any]:
    """The enrichment from supplier Hansen's feed, once as a dry run and once for real.

    The sandbox's feed helper writes the supplier's German CSV (with a bad decimal, a wrong check digit, a
    duplicate and an unknown article in it) and empties some of its items' data in Wawi first. The dry run
    only writes its workbook; the run fills the gaps, assigns categories by ``config/categorisation.yaml``
    and writes the quality report. Returns both results.
    """
    from jtl_automator.project import project_root
    from jtl_automator.sandbox.feeds import prepare_enrichment_demo
    from jtl_automator.services.product_enrichment import ProductEnrichmentParams
    from jtl_automator.settings import get_settings

    root = project_root()
    prepared = prepare_enrichment_demo(data, supplier_id=1, feed=output / "lieferant-hansen.csv")
    # The enrichment reads each item's suppliers and images once (Wawi 1.0 has no bulk read): at the
    # client's default 20 requests a second that is half a minute per 500 items. The sandbox is local, so
    # this stage lets the client go faster (a real on-premise Wawi documents no limit either).
    os.environ["JTL_WAWI_RATE_PER_SECOND"] = "100"
    get_settings.cache_clear()
    rules = str(root / "config" / "categorisation.yaml")
    params = ProductEnrichmentParams(
        mapping_file=str(root / "config" / "feed-mappings.yaml"), output_dir=str(output)
    )
    run = {"feed": str(prepared.feed), "supplier": "hansen", "rules": rules}
    dry: dict[str, Any] = product_enrichment(
        **run,
        dry_run=True,
        output=str(output / "product-enrichment-dry-run.xlsx"),
        params=params.model_copy(update={"quality": False}),
    )
    done: dict[str, Any] = product_enrichment(
        **run, output=str(output / "product-enrichment.xlsx"), params=params
    )
    return {"emptied_items": len(prepared.emptied), "dry_run": dry, "run": done}


def _pricing(output: Path) -> dict[str, Any]:
    """The pricing flow with the sample rule file, on the generated orders' days (the base date).

    It writes the prices the rules let pass, and proposes the larger changes and the slow movers'
    markdowns as the day's plans (approve them with ``jtl-automator plans approve ID``; the next pricing
    run writes them). The workbook of its decisions is ``pricing.xlsx``.
    """
    from flows.pricing import pricing
    from jtl_automator.project import project_root
    from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE

    rules = project_root() / "config" / "pricing.example.yaml"
    result: dict[str, Any] = pricing(
        rules_file=str(rules), output=str(output / "pricing.xlsx"), as_of=DEFAULT_BASE_DATE.date()
    )
    return result


def _reports(output: Path) -> dict[str, Any]:
    """The three reports from the sandbox data, as the schedule would run them on the generator's next day.

    As of 07:00 in Berlin the day after the generated orders: the daily report of the base date, the weekly
    one of the week before and the monthly one of the month so far. The flows' journal entries carry the
    real time of this run, so outbounds and shipments fall on today, not on those days (the reports say
    so instead of showing zeros).
    """
    from flows.reporting import report
    from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE

    as_of = DEFAULT_BASE_DATE + timedelta(days=1)
    folder = str(output / "reports")
    month = f"{DEFAULT_BASE_DATE.year}-{DEFAULT_BASE_DATE.month:02d}"
    return {
        "report_daily": report(name="daily", as_of=as_of, output_dir=folder),
        "report_weekly": report(name="weekly", as_of=as_of, output_dir=folder),
        "report_monthly": report(name="monthly", period=month, as_of=as_of, output_dir=folder),
    }


def run_demo(output: Path, skus: int = 500) -> dict[str, Any]:
    """Start the sandbox, run every demo flow against it, print where the outputs are."""
    from jtl_automator.sandbox.app import create_app
    from jtl_automator.sandbox.config import SandboxConfig
    from jtl_automator.sandbox.generator import INBOUND_CONTROL_SPREADSHEET_ID, generate
    from jtl_automator.sandbox.server import credentials_env, serve_in_thread
    from jtl_automator.sandbox.sheets import make_service_account_info
    from jtl_automator.sandbox.workbooks import save_as_xlsx

    output = output.resolve()
    if output.exists():
        shutil.rmtree(output)  # a demo starts from a clean slate: fresh state database, fresh workbook
    output.mkdir(parents=True)
    _prepare_environment(output)
    started = time.perf_counter()
    config = SandboxConfig()
    data = generate(seed=config.seed, skus=skus)
    control = data.spreadsheets[INBOUND_CONTROL_SPREADSHEET_ID]
    workbook = save_as_xlsx(control, output / "inbound-control.xlsx")
    worksheet = control.worksheets[0].title
    app = create_app(data, config)
    results: dict[str, Any] = {}
    with serve_in_thread(app) as server:
        service_account = output / "sandbox-service-account.json"
        service_account.write_text(json.dumps(make_service_account_info(server.base_url)))
        os.environ.update(credentials_env(server.base_url, config, service_account_file=str(service_account)))
        _say(
            f"sandbox: {server.base_url} ({skus} SKUs, seed {config.seed}); starting Prefect (ephemeral API)"
        )

        from jtl_automator.settings import get_settings

        get_settings.cache_clear()
        from flows.connectivity_check import connectivity_check
        from flows.inbound_verification import inbound_verification
        from flows.order_processing import order_processing
        from flows.plan_execution import plan_execution
        from flows.stock_sync import stock_sync

        results["connectivity_check"] = connectivity_check()
        _say("connectivity check: FFN and Wawi answer")
        results["inbound_verification_xlsx"] = inbound_verification(sheet=str(workbook), worksheet=worksheet)
        _say(f"inbound verification (xlsx): {results['inbound_verification_xlsx']['counts']}")
        results["inbound_verification_google_sheet"] = inbound_verification(
            sheet=INBOUND_CONTROL_SPREADSHEET_ID, worksheet=worksheet
        )
        _say(
            f"inbound verification (Google Sheet in the sandbox): "
            f"{results['inbound_verification_google_sheet']['counts']}"
        )
        results["order_processing"] = _order_processing(order_processing)
        _say(f"order processing: {results['order_processing']['counts']}")
        # Stock sync after order processing: FFN's levels (the new outbounds' reservations included)
        # reach Wawi's FFN warehouses; the generator drifts about every 25th Wawi row on purpose.
        results["stock_sync"] = stock_sync(full=True)
        synced = results["stock_sync"]
        _say(f"stock sync (full): {synced['decisions']} -> {synced['outcomes']}")
        # Replenishment after the stock sync, on the generated orders' days (the base date).
        from flows.replenishment import replenishment
        from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE

        results["replenishment"] = replenishment(
            as_of=DEFAULT_BASE_DATE.date() + timedelta(days=1), output=str(output / "bestellvorschlag.xlsx")
        )
        proposed = results["replenishment"]
        _say(
            f"replenishment: {proposed['statuses']}, {len(proposed['plans'])} draft restock plans, "
            f"{proposed['low_stock']} low stock"
        )
        results["plan_execution"] = executed = _plan_execution(plan_execution)
        if "skipped" in executed:
            _say(f"plan execution: skipped ({executed['skipped']})")
        else:
            _say(f"plan execution: {executed['counts']}, purchase orders {executed['purchase_orders']}")
        from flows.product_enrichment import product_enrichment

        results["product_enrichment"] = enriched = _product_enrichment(product_enrichment, data, output)
        run = enriched["run"]
        _say(
            f"product enrichment: {run['decisions']} -> {run['outcomes']}, "
            f"{run['rejected_rows']} feed rows rejected, categories {run['categories']}"
        )

        results["pricing"] = priced = _pricing(output)
        _say(
            f"pricing: {priced['statuses']}, {priced['writes'].get('applied', 0)} prices written, "
            f"plans {[(p['kind'], p['plan'], p['lines']) for p in priced['plans']]}, "
            f"markdowns {priced.get('markdowns', {})}"
        )

        # Product master data last, so FFN gets the enriched items at their new prices: a dry run writes the
        # diff workbook, then the full sync brings FFN's products to Wawi's data (the generator lets origin
        # countries and packaging units drift).
        from flows.product_sync import product_sync

        diff = output / "product-sync-diff.xlsx"
        preview = product_sync(full=True, dry_run=True, output=str(diff))
        _say(f"product sync (dry run): would be {preview['counts']}; diff in {diff.name}")
        results["product_sync"] = synced_products = product_sync(full=True)
        _say(f"product sync (full): {synced_products['counts']}")

        results.update(_reports(output))
        for key in ("report_daily", "report_weekly", "report_monthly"):
            made = results[key]
            _say(
                f"{made['title']} {made['period']}: {len(made['kpis'])} figures, "
                f"{len(made['missing'])} stated as missing"
            )
        # Housekeeping last, as a dry run: the demo's journals are minutes old, so it shows what each keeps
        # and for how long rather than deleting anything (the weekly deployment deletes).
        from flows.housekeeping import housekeeping

        results["housekeeping"] = kept = housekeeping(dry_run=True)
        _say(
            "housekeeping (dry run): "
            + ", ".join(
                f"{j['journal']} kept {j['keep_days']} days, {j['older']} older" for j in kept["journals"]
            )
        )
        sheet_after = data.spreadsheets[INBOUND_CONTROL_SPREADSHEET_ID].worksheets[0].values
        (output / "inbound-control-google-sheet.json").write_text(
            json.dumps(sheet_after, indent=1, default=str)
        )

    summary = output / "demo-summary.json"
    summary.write_text(json.dumps(results, indent=2, default=str))
    _say(
        "\n".join(
            [
                f"demo finished in {time.perf_counter() - started:.1f} s; outputs in {output}:",
                f"  {workbook.name:<36} the Inbound Control workbook with Status and Note written",
                f"  {'inbound-control-google-sheet.json':<36} the sandbox Google Sheet after the run",
                f"  {summary.name:<36} what every flow returned",
                f"  {'bestellvorschlag.xlsx':<36} the replenishment workbook (low stock, per supplier)",
                f"  {'product-sync-diff.xlsx':<36} the product sync's diff (one row per field, before/after)",
                f"  {'lieferant-hansen.csv':<36} a supplier's product feed (German CSV, with bad rows)",
                f"  {'product-enrichment-dry-run.xlsx':<36} what the enrichment would fill and assign",
                f"  {'product-enrichment.xlsx':<36} what it filled and assigned, conflicts, data quality",
                f"  {'pricing.xlsx':<36} the pricing run's changes, approvals, markdowns, what it left",
                *(
                    f"  {Path(results[k]['workbook']).relative_to(output)!s:<36} {results[k]['title']} "
                    f"{results[k]['period']} (Excel, with charts)"
                    for k in ("report_daily", "report_weekly", "report_monthly")
                ),
                f"  {'state.db':<36} the state database (token, checks, ledgers, plans, prices, KPI history)",
                f"Prefect runs and artifacts: PREFECT_HOME={os.environ['PREFECT_HOME']} "
                ".venv/bin/prefect server start",
            ]
        )
    )
    return results
