"""``make demo``: the main jobs end to end on the embedded default, in one process.

The sandbox serves generated data on a free loopback port, the state database is a SQLite file in the
output folder, and Prefect runs on its ephemeral API with ``PREFECT_HOME`` inside the project folder.
Environment is set before Prefect is imported, because Prefect reads its settings at import time.
"""

from __future__ import annotations

import contextlib
import io
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


#: The example workflows the README describes (config/workflows in the project folder).
WORKFLOWS = Path(__file__).resolve().parents[1] / "config" / "workflows"
SAISON = "Saison"


def _tag_saison(data: Any, every: int = 6) -> list[str]:
    """Put every sixth sellable item into a top-level Wawi category "Saison", as a merchant sorts a season.

    The generated catalogue has no such category; the saison-restock workflow filters by it.
    """
    wawi = data.wawi
    category_id = max(wawi.categories) + 1
    wawi.categories[category_id] = {
        "Id": category_id,
        "Name": SAISON,
        "Description": "Saisonartikel",
        "ParentCategoryId": 0,
        "Level": 1,
        "SortNumber": category_id,
        "ActiveSalesChannels": "Onlineshop",
    }
    sellable = [
        item
        for item in sorted(wawi.items.values(), key=lambda i: i["Id"])
        if item.get("SKU") and not item.get("ParentItemId") and item.get("IsActive")
    ]
    chosen = sellable[::every]
    for item in chosen:
        item.setdefault("Categories", []).append({"CategoryId": category_id, "Name": SAISON})
    return [str(item["SKU"]) for item in chosen]


def _workflow_blocks(base_url: str, smtp_port: int, smtp_state: Any) -> None:
    """The blocks the example workflows name: ``smtp`` (the sandbox's mail server), ``crm`` (its receiver)."""
    import secrets

    from pydantic import SecretStr

    from blocks import SmtpServer, WebhookEndpoint

    SmtpServer(
        host="127.0.0.1",
        port=smtp_port,
        username=smtp_state.username,
        password=SecretStr(smtp_state.password),
        security="none",
        allow_plaintext_login=True,
        sender="automator@demo-handel.example",
    ).save("smtp", overwrite=True)
    WebhookEndpoint(
        url=SecretStr(f"{base_url}/_sandbox/receiver/crm"),
        auth="hmac",
        secret=SecretStr(secrets.token_hex(32)),
    ).save("crm", overwrite=True)


def _shop_sync_check(base_url: str) -> dict[str, Any]:
    """The shop sync check on the sandbox's shop as its schedule would run it, alerting the ops webhook.

    The sandbox mirrors its JTL-Shop from the Wawi world with drift on purpose (orders Wawi has not
    fetched, orders cancelled in the shop, stock above and below Wawi's, prices off). A run a minute after
    the shop's last order raises the stuck orders and starts watching the rest; one an hour later finds
    every difference still there past its threshold, raises it and announces it. Run before the other
    flows change Wawi's stock and prices, so what it finds is exactly that drift.
    """
    from pydantic import SecretStr

    from blocks import WebhookEndpoint
    from flows.shop_sync import shop_sync_check
    from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE

    WebhookEndpoint(url=SecretStr(f"{base_url}/_sandbox/receiver/ops")).save("ops-alerts", overwrite=True)
    first = shop_sync_check(webhook_block="ops-alerts", as_of=DEFAULT_BASE_DATE + timedelta(minutes=1))
    result: dict[str, Any] = shop_sync_check(
        webhook_block="ops-alerts", as_of=DEFAULT_BASE_DATE + timedelta(minutes=61)
    )
    result["first_run"] = {
        "counts": first["counts"],
        "watching": first["watching"],
        "alerts": first["alerts"],
    }
    return result


def _workflows_arm() -> dict[str, Any]:
    """Load the example workflows and let a first tick take its marks (watermarks, stock snapshot)."""
    from flows.workflows import workflows_tick
    from jtl_automator.store import open_store
    from jtl_automator.workflows.store import WorkflowStore

    store = open_store(None)
    try:
        synced = WorkflowStore(store).sync_folder(WORKFLOWS)
    finally:
        store.dispose()
    loaded = ", ".join(f"{c.name} v{c.version} ({c.change})" for c in synced.changes)
    return {"loaded": loaded, "tick": workflows_tick(email_block="smtp")}


def _damage_saison_stock(base_url: str, data: Any, saison: list[str], count: int = 2) -> list[str]:
    """The warehouse books out damaged units of two Saison items in FFN, leaving 2 each (the fulfiller).

    The two are the Saison items ordered most with nothing on its way in, so the restock has demand to
    fill and no inbound that already covers it.
    """
    from collections import Counter

    import httpx

    ordered = Counter(
        str(line["SKU"]) for lines in data.wawi.line_items.values() for line in lines if line.get("SKU")
    )
    by_sku = {stock["merchantSku"]: stock for stock in data.ffn.stocks.values()}
    hit: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for sku in sorted(saison, key=lambda s: (-ordered[s], s)):
            rows = [
                w
                for w in (by_sku.get(sku) or {}).get("warehouses", [])
                if w["stockLevel"] - w["stockLevelReserved"] >= 10 and not w["stockLevelAnnounced"]
            ]
            if not rows:
                continue
            row = rows[0]
            lose = row["stockLevel"] - row["stockLevelReserved"] - 2
            http.post(
                "/_sandbox/ffn/stocks/adjustments",
                json={
                    "jfsku": row["jfsku"],
                    "warehouseId": row["warehouseId"],
                    "quantity": -lose,
                    "note": "Bruch",
                },
            ).raise_for_status()
            hit.append(f"{sku}@{row['warehouseId']}")
            if len(hit) == count:
                break
    return hit


def _notes(tick: dict[str, Any]) -> str:
    """A tick in one line: per workflow its new runs, or why none."""
    parts = []
    for item in tick["workflows"]:
        batches = [b for b in tick["batches"] if b.get("workflow") == item["workflow"]]
        done = sum(int(b.get("completed", 0)) for b in batches)
        text = f"{item['workflow']} {item['new_runs']} runs" + (f" ({done} completed)" if batches else "")
        parts.append(text + (f" [{item['note']}]" if item["note"] and not item["new_runs"] else ""))
    return "; ".join(parts)


def _workflows_fire(state: Any, smtp_state: Any) -> dict[str, Any]:
    """A tick after order processing and the stock sync, then Monday's markdown run as its schedule would."""
    from flows.workflows import workflows_tick
    from jtl_automator.cli_workflow_runs import run as run_workflow

    tick = workflows_tick(email_block="smtp")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # one line per run: the summary line is enough here
        run_workflow("monday-markdown", dry_run=False, url=None, email_block="smtp")
    return {
        "tick": tick,
        "monday_markdown": printed.getvalue().splitlines()[0] if printed.getvalue() else "",
        "webhooks_received": len(state.runtime.received),
        "emails_sent": len(smtp_state.messages),
    }


def _alerts(base_url: str) -> dict[str, Any]:
    """The alert files applied to the demo's (ephemeral) server: what ``automations apply`` creates.

    The ephemeral API ends with the demo, so no alert can arrive later; on a long-running server the same
    command makes them e-mail and call the webhook (docs/alerts.md).
    """
    from pydantic import SecretStr

    from blocks import WebhookEndpoint
    from deployments.automations import apply, load_config

    hook = WebhookEndpoint(url=SecretStr(f"{base_url}/_sandbox/receiver/alerts"))
    hook.save("alerts-webhook", overwrite=True)
    report = apply(load_config())
    return {"summary": report.summary(), "automations": [c.name for c in report.plan.changes]}


def run_demo(output: Path, skus: int = 500) -> dict[str, Any]:
    """Start the sandbox, run every demo flow against it, print where the outputs are."""
    from jtl_automator.sandbox.app import create_app
    from jtl_automator.sandbox.config import SandboxConfig
    from jtl_automator.sandbox.generator import INBOUND_CONTROL_SPREADSHEET_ID, generate
    from jtl_automator.sandbox.server import credentials_env, serve_in_thread
    from jtl_automator.sandbox.sheets import make_service_account_info
    from jtl_automator.sandbox.smtp import SmtpTestServer
    from jtl_automator.sandbox.workbooks import save_as_xlsx

    output = output.resolve()
    if output.exists():
        shutil.rmtree(output)  # a demo starts from a clean slate: fresh state database, fresh workbook
    output.mkdir(parents=True)
    _prepare_environment(output)
    started = time.perf_counter()
    config = SandboxConfig()
    data = generate(seed=config.seed, skus=skus)
    saison = _tag_saison(data)
    control = data.spreadsheets[INBOUND_CONTROL_SPREADSHEET_ID]
    workbook = save_as_xlsx(control, output / "inbound-control.xlsx")
    worksheet = control.worksheets[0].title
    app = create_app(data, config)
    results: dict[str, Any] = {}
    with serve_in_thread(app) as server, SmtpTestServer() as smtp:
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
        _workflow_blocks(server.base_url, smtp.port, smtp.state)
        results["workflows_arm"] = armed = _workflows_arm()
        _say(f"workflows: {armed['loaded']}; first tick takes its marks: {_notes(armed['tick'])}")
        results["shop_sync_check"] = checked = _shop_sync_check(server.base_url)
        _say(
            "shop sync check: "
            + ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in checked["counts"].items())
            + f" ({checked['oversell_risk']} with oversell risk); alert sent: {checked['alerts']['sent']}"
        )
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
        damaged = _damage_saison_stock(server.base_url, data, saison)
        _say(f"the warehouse books out damaged Saison units (2 left each): {', '.join(damaged) or 'none'}")
        # Stock sync after order processing: FFN's levels (the new outbounds' reservations included)
        # reach Wawi's FFN warehouses; the generator drifts about every 25th Wawi row on purpose.
        results["stock_sync"] = stock_sync(full=True)
        synced = results["stock_sync"]
        _say(f"stock sync (full): {synced['decisions']} -> {synced['outcomes']}")
        # Replenishment after the stock sync, on the generated orders' days (the base date).
        from flows.replenishment import replenishment
        from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE

        results["workflows"] = fired = _workflows_fire(app.state.sandbox, smtp.state)
        _say(
            f"workflows: {_notes(fired['tick'])}; {fired['webhooks_received']} calls reached the CRM, "
            f"{fired['emails_sent']} e-mails went to purchasing"
        )
        _say(f"workflows: Monday's markdown, run now as its schedule would: {fired['monday_markdown']}")
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
        results["alerts"] = alerts = _alerts(server.base_url)
        _say(f"alerts as code ({', '.join(alerts['automations'])}): {alerts['summary']}")
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
