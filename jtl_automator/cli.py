"""The ``jtl-automator`` command line: sandbox, demo, auth helpers, blocks and ad-hoc flow runs.

Imports are deferred into the commands: ``import prefect`` alone costs seconds, and
``jtl-automator sandbox serve`` should not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, NoReturn, cast

import typer

from jtl_automator.cli_automations import automations_app, run_sla_check
from jtl_automator.cli_workflows import workflows_app

if TYPE_CHECKING:
    from jtl_automator.gateway import Emitter, Gateway
    from jtl_automator.plans import PlanStore
    from jtl_automator.sheets.base import SheetBackend

app = typer.Typer(no_args_is_help=True, add_completion=False, help="JTL operations pipelines on Prefect 3.")
sandbox_app = typer.Typer(
    no_args_is_help=True, help="The local emulator of JTL-FFN, JTL-Wawi and Google Sheets."
)
db_app = typer.Typer(no_args_is_help=True, help="The state database.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(db_app, name="db")
run_app = typer.Typer(
    no_args_is_help=True, help="Run a flow now (ephemeral Prefect API unless PREFECT_API_URL is set)."
)
auth_app = typer.Typer(no_args_is_help=True, help="One-time authorisation with JTL-FFN and JTL-Wawi.")
app.add_typer(run_app, name="run")
app.add_typer(auth_app, name="auth")
orders_app = typer.Typer(no_args_is_help=True, help="Order processing: its lease and ledger.")
app.add_typer(orders_app, name="orders")
plans_app = typer.Typer(
    no_args_is_help=True,
    help="Plans: item lines (restock, markdown, …) a person reviews and approves before they are executed.",
)
app.add_typer(plans_app, name="plans")
gateway_app = typer.Typer(
    no_args_is_help=True, help="The event gateway: signed events from outside become Prefect events."
)
app.add_typer(gateway_app, name="gateway")
app.add_typer(workflows_app, name="workflows")
app.add_typer(automations_app, name="automations")
run_app.command("sla-check")(run_sla_check)


# Block-name options shared by the run commands (each falls back to the JTL_* environment).
FfnBlockOption = Annotated[str | None, typer.Option(help="JtlFfnCredentials block (default: environment).")]
WawiBlockOption = Annotated[str | None, typer.Option(help="JtlWawiCredentials block (default: environment).")]
DatabaseBlockOption = Annotated[
    str | None, typer.Option(help="StateDatabase block (default: JTL_DATABASE_URL).")
]


def _echo_json(value: object) -> None:
    import json

    typer.echo(json.dumps(value, indent=2, default=str))


def _shell() -> None:
    """Make the project's flows, tasks, blocks and deployments importable (they are not installed)."""
    from jtl_automator.project import ProjectNotFound, use_project_shell

    try:
        use_project_shell()
    except ProjectNotFound as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None


@auth_app.command("ffn")
def auth_ffn(
    follow: Annotated[
        bool, typer.Option("--follow", help="Fetch the login URL and read the code itself (sandbox only).")
    ] = False,
) -> None:
    """Complete the FFN authorization-code grant once; the rotating tokens then live in the state database."""
    from jtl_automator.auth_commands import AuthFlowError, authorize_ffn
    from jtl_automator.settings import get_settings
    from jtl_automator.store import open_store

    settings = get_settings()
    store = open_store(settings.database_url)
    try:
        grant = authorize_ffn(settings, store, ask=lambda q: typer.prompt(q), tell=typer.echo, follow=follow)
    except AuthFlowError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"FFN authorised; access token valid until {grant.access_expires_at.isoformat()}")
    typer.echo(f"the rotating tokens are kept (encrypted) in {store!r}")


@auth_app.command("wawi")
def auth_wawi(
    env_file: Annotated[
        Path | None, typer.Option(help="Write JTL_WAWI_API_KEY into this dotenv file (0600).")
    ] = None,
    block: Annotated[
        str | None, typer.Option(help="Save a JtlWawiCredentials block under this name.")
    ] = None,
    challenge_code: Annotated[str | None, typer.Option(help="Challenge code (default: random).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the Wawi user's approval.")] = 600,
    purchase_orders: Annotated[
        bool | None,
        typer.Option(
            "--purchase-orders/--no-purchase-orders",
            help="Also ask for the scope to create purchase orders (plan execution's wawi_purchase_orders). "
            "Default: if a deployment in the project's prefect.yaml sets wawi_purchase_orders.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Register the app with JTL-Wawi (on-premise) and keep the granted API key."""
    from jtl_automator.auth_commands import AuthFlowError, register_wawi, scopes_to_register, write_env_secret
    from jtl_automator.clients.errors import JtlApiError
    from jtl_automator.project import ProjectNotFound, project_root
    from jtl_automator.settings import get_settings

    if env_file is None and block is None:
        raise typer.BadParameter("give --env-file and/or --block: the key is shown by Wawi only once")
    settings = get_settings()
    try:
        prefect_yaml: Path | None = project_root() / "prefect.yaml"
    except ProjectNotFound:
        prefect_yaml = None
    scopes = scopes_to_register(purchase_orders, prefect_yaml)
    typer.echo(f"asking for the scopes: {', '.join(scopes)}")
    try:
        result = register_wawi(
            settings, challenge_code=challenge_code, scopes=scopes, timeout=timeout, tell=typer.echo
        )
    except (AuthFlowError, JtlApiError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    if env_file is not None:
        write_env_secret(env_file, "JTL_WAWI_API_KEY", result.api_key)
        typer.echo(f"API key written to {env_file}")
    if block is not None:
        _shell()
        from blocks import JtlWawiCredentials

        JtlWawiCredentials.from_settings(settings.model_copy(update={"wawi_api_key": result.api_key})).save(
            block, overwrite=True
        )
        typer.echo(f"saved block {block!r}")
    typer.echo(f"granted scopes: {', '.join(result.granted_scopes)}")
    refused = [scope for scope in scopes if scope not in result.granted_scopes]
    if result.granted_scopes and refused:
        typer.echo(f"Warning: not granted: {', '.join(refused)}; calls needing them answer 403", err=True)


@app.command("blocks")
def blocks_command() -> None:
    """Create the blocks (ffn, wawi, google-sheets, state-database, inbound-control, smtp, shop) from env."""
    _shell()
    from deployments.blocks import create_blocks
    from jtl_automator.settings import get_settings

    for name, outcome in create_blocks().items():
        typer.echo(f"{name:<16} {outcome}")
    # The API rate limits every worker shares (docs/rate-limits.md), from the same JTL_* rates.
    from blocks.rate_limits import create_rate_limits

    for name, outcome in create_rate_limits(get_settings()).items():
        typer.echo(f"{name:<16} {outcome}")


ColumnOption = Annotated[
    str | None,
    typer.Option(
        help="Header name (any case and spacing), or letter:B for column B (default: the usual header)."
    ),
]


@run_app.command("inbound-verification")
def run_inbound_verification(
    sheet: Annotated[
        str | None, typer.Option(help="Google spreadsheet id or path of an .xlsx workbook.")
    ] = None,
    sheet_block: Annotated[
        str | None, typer.Option(help="InboundControlSheet block: sheet, tab, mode and columns.")
    ] = None,
    worksheet: Annotated[
        str | None, typer.Option(help="Tab name (default: 'Inbound Control' or the first).")
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="inbound or stock (default: by the sheet's columns).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and print; write nothing.")] = False,
    sku_column: ColumnOption = None,
    units_column: ColumnOption = None,
    status_column: ColumnOption = None,
    note_column: ColumnOption = None,
    inbound_column: ColumnOption = None,
    warehouse_column: ColumnOption = None,
    ffn_block: FfnBlockOption = None,
    sheets_block: Annotated[str | None, typer.Option(help="GoogleSheetsCredentials block.")] = None,
    database_block: DatabaseBlockOption = None,
) -> None:
    """Verify an Inbound Control sheet against JTL-FFN now."""
    if mode not in (None, "inbound", "stock"):
        raise typer.BadParameter("mode must be 'inbound' or 'stock'", param_hint="--mode")
    if sheet is None and sheet_block is None:
        raise typer.BadParameter("give --sheet or --sheet-block", param_hint="--sheet")
    _shell()
    from flows.inbound_verification import inbound_verification
    from jtl_automator.services.inbound_verification import SheetColumns

    given = {
        "sku": sku_column,
        "units": units_column,
        "status": status_column,
        "note": note_column,
        "inbound": inbound_column,
        "warehouse": warehouse_column,
    }
    # Only a column given here overrides the defaults (or the block's layout).
    columns = (
        SheetColumns(**{k: v for k, v in given.items() if v is not None}) if any(given.values()) else None
    )
    _echo_json(
        inbound_verification(
            sheet=sheet,
            worksheet=worksheet,
            mode=cast(Literal["inbound", "stock"] | None, mode),
            dry_run=dry_run,
            columns=columns,
            ffn_block=ffn_block,
            sheets_block=sheets_block,
            database_block=database_block,
            sheet_block=sheet_block,
        )
    )


@run_app.command("order-processing")
def run_order_processing(
    since: Annotated[
        str | None,
        typer.Option(help="ISO date-time: orders created since then (default: since the last run)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and print; write nothing.")] = False,
    chunk_size: Annotated[int, typer.Option(help="Orders per fulfil task.", min=1)] = 100,
    ffn_block: FfnBlockOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
    email_block: Annotated[str | None, typer.Option(help="SmtpServer block for customer e-mails.")] = None,
    webhook_block: Annotated[str | None, typer.Option(help="WebhookEndpoint block for order events.")] = None,
) -> None:
    """Import new Wawi sales orders, hold the invalid ones, create FFN outbounds for the rest, now."""
    from datetime import datetime

    _shell()
    from flows.order_processing import order_processing
    from jtl_automator.services.order_processing import OrderProcessingParams

    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise typer.BadParameter(f"not an ISO date-time: {since!r}", param_hint="--since") from None
    _echo_json(
        order_processing(
            since=start,
            dry_run=dry_run,
            params=OrderProcessingParams(chunk_size=chunk_size),
            ffn_block=ffn_block,
            wawi_block=wawi_block,
            database_block=database_block,
            email_block=email_block,
            webhook_block=webhook_block,
        )
    )


@run_app.command("stock-sync")
def run_stock_sync(
    full: Annotated[
        bool, typer.Option("--full", help="Read all of FFN's stock, not only its changes.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the adjustments; send nothing.")] = False,
    ffn_block: FfnBlockOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
) -> None:
    """Bring Wawi's stock in the FFN warehouses to FFN's levels now (each delta exactly once)."""
    _shell()
    from flows.stock_sync import stock_sync

    result = stock_sync(
        full=full, dry_run=dry_run, ffn_block=ffn_block, wawi_block=wawi_block, database_block=database_block
    )
    if dry_run and result.get("adjustments"):
        typer.echo("would adjust (largest first):", err=True)
        typer.echo(
            f"{'sku':<24} {'FFN warehouse':<24} {'Wawi':>5} {'now':>9} {'target':>9} {'delta':>9}", err=True
        )
        for row in result["adjustments"]:
            typer.echo(
                f"{row['merchant_sku']:<24} {row['ffn_warehouse_id']:<24} {row['wawi_warehouse_id']:>5} "
                f"{row['current']:>9g} {row['target']:>9g} {row['delta']:>+9g}",
                err=True,
            )
    for row in result.get("not_touched", []):
        typer.echo(
            f"not touched: {row['merchant_sku'] or '?'} in {row['ffn_warehouse_id'] or '?'}: "
            f"{row['status']}: {row['reason']}",
            err=True,
        )
    for row in result.get("failed", []):
        typer.echo(
            f"failed: {row['sku']} (Wawi warehouse {row['wawi_warehouse_id']}): {row['result']}: "
            f"{row['reason']}",
            err=True,
        )
    _echo_json(result)


@run_app.command("shop-sync-check")
def run_shop_sync_check(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and report; record no history, send no alert.")
    ] = False,
    shop_block: Annotated[
        str | None, typer.Option(help="JtlShopCredentials block (default: environment).")
    ] = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
    webhook_block: Annotated[str | None, typer.Option(help="WebhookEndpoint block for the alerts.")] = None,
) -> None:
    """Check the Wawi <-> JTL-Shop sync now: stuck orders, stale stock, drifted prices."""
    _shell()
    from flows.shop_sync import shop_sync_check

    try:
        result = shop_sync_check(
            dry_run=dry_run,
            shop_block=shop_block,
            wawi_block=wawi_block,
            database_block=database_block,
            webhook_block=webhook_block,
        )
    except ValueError as exc:  # no shop configured: one line, not a traceback
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    for check, why in result.get("unchecked", {}).items():
        typer.echo(f"not checked: {check}: {why}", err=True)
    _echo_json(result)


@run_app.command("product-sync")
def run_product_sync(
    full: Annotated[
        bool, typer.Option("--full", help="Read every Wawi item and FFN product, not only the changes.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write the diff workbook only; change nothing in FFN.")
    ] = False,
    output: Annotated[
        str | None,
        typer.Option("--output", help="The diff workbook's path (dry run default: out/product-sync/…)."),
    ] = None,
    ffn_block: FfnBlockOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
) -> None:
    """Bring the FFN products of the items FFN fulfils to Wawi's master data now (each created once)."""
    _shell()
    from flows.product_sync import product_sync
    from jtl_automator.clients.errors import JtlApiError

    try:
        result = product_sync(
            full=full,
            dry_run=dry_run,
            output=output,
            ffn_block=ffn_block,
            wawi_block=wawi_block,
            database_block=database_block,
        )
    except (JtlApiError, OSError, ValueError) as exc:  # an API refusal, an unwritable path, bad settings
        _fail(f"product-sync: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if "skipped" in result:
        typer.echo(f"skipped: {result['skipped']}", err=True)
        _echo_json(result)
        return
    counts = ", ".join(f"{name} {value:,}" for name, value in result["counts"].items())
    typer.echo(f"{'would be: ' if dry_run else ''}{counts}", err=True)
    for kind in ("rejected", "not_synced", "vanished"):
        for row in result[kind]:
            what = row.get("status") if kind == "not_synced" else kind
            item = row.get("item_id") or "?"
            typer.echo(f"{what}: {row['merchant_sku'] or '?'} (Wawi item {item}): {row['reason']}", err=True)
    if result.get("workbook"):
        typer.echo(
            f"diff workbook: {result['workbook']} ({result['field_changes']:,} field changes)", err=True
        )
    _echo_json(result)


@run_app.command("plan-execution")
def run_plan_execution(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what each approved line would become; do nothing.")
    ] = False,
    ffn_block: FfnBlockOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
    email_block: Annotated[
        str | None, typer.Option(help="SmtpServer block the purchase orders are e-mailed through.")
    ] = None,
    no_email: Annotated[
        bool, typer.Option("--no-email", help="Do not e-mail suppliers (they get the order from Wawi).")
    ] = False,
    export_dir: Annotated[
        str | None,
        typer.Option(
            metavar="DIR",
            help="Where supplier returns/exchanges FFN cannot ship (no address in Wawi) are written as "
            ".xlsx for a person (default: plan-exports).",
        ),
    ] = None,
    inbound_sheet: Annotated[
        str | None,
        typer.Option(
            metavar="ID_OR_XLSX",
            help="List the executed lines in this Inbound Control sheet (a Google spreadsheet id or an "
            ".xlsx path), once each, for the inbound verification.",
        ),
    ] = None,
    inbound_worksheet: Annotated[
        str | None, typer.Option(help="Its tab (default: 'Inbound Control' or the first).")
    ] = None,
    inbound_sheet_block: Annotated[
        str | None, typer.Option(help="InboundControlSheet block naming that sheet, tab and columns.")
    ] = None,
    sheets_block: Annotated[
        str | None, typer.Option(help="GoogleSheetsCredentials block (default: JTL_GOOGLE_* environment).")
    ] = None,
) -> None:
    """Execute approved plans now, each side effect exactly once.

    Restock: purchase order, supplier e-mail, FFN inbounds. Rebalance: an FFN outbound to the destination
    warehouse plus its inbound there. Supplier return/exchange: an outbound to the supplier's address (and
    the inbound expected back); exported as .xlsx when Wawi has no address.
    """
    _shell()
    from flows.plan_execution import plan_execution
    from jtl_automator.clients.errors import JtlApiError
    from jtl_automator.services.plan_execution import PlanExecutionParams
    from jtl_automator.sheets.base import SheetError

    try:
        result = plan_execution(
            dry_run=dry_run,
            params=PlanExecutionParams(
                send_email=not no_email, **({"export_dir": export_dir} if export_dir else {})
            ),
            ffn_block=ffn_block,
            wawi_block=wawi_block,
            database_block=database_block,
            email_block=email_block,
            inbound_sheet=inbound_sheet,
            inbound_worksheet=inbound_worksheet,
            inbound_sheet_block=inbound_sheet_block,
            sheets_block=sheets_block,
        )
    except (JtlApiError, SheetError) as exc:  # an API refusal (a missing Wawi scope), a sheet it cannot fill
        _fail(f"plan-execution: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    for row in result.get("lines", []):
        if row["status"] in ("waiting", "failed"):
            typer.echo(
                f"{row['status']}: plan {row['plan']} {row['sku']}@{row['warehouse']}: {row['reason']}",
                err=True,
            )
        elif row["status"] in ("would_export", "exported"):
            verb = "would export" if dry_run else "exported"
            typer.echo(
                f"{verb}: plan {row['plan']} {row['quantity']} x {row['sku']} from {row['warehouse']} "
                f"({row['shipment']}) to {row['document']}: {row['reason']}",
                err=True,
            )
        elif dry_run and row.get("shipment"):
            typer.echo(
                f"would ship: plan {row['plan']} {row['kind']} {row['quantity']} x {row['sku']} "
                f"{row['warehouse']} ({row['shipment']})",
                err=True,
            )
        elif dry_run:
            typer.echo(
                f"would order: plan {row['plan']} {row['quantity']} x {row['sku']} into {row['warehouse']} "
                f"({row['purchase_order']})",
                err=True,
            )
    filled = result.get("inbound_control")
    if filled:
        _echo_listed(filled)
    _echo_json(result)


def _echo_listed(filled: dict[str, object]) -> None:
    """The Inbound Control rows appended (or that would be), then the summary line, on stderr."""
    verb = "would append" if filled.get("dry_run") else "appended"
    rows = filled.get("rows")
    for row in rows if isinstance(rows, list) else []:
        typer.echo(
            f"{verb}: {row['sku']}, {row['units']} units, inbound {row['inbound']}"
            + (f", warehouse {row['warehouse']}" if row["warehouse"] else "")
            + f" (plan {row['plan']})",
            err=True,
        )
    tab = f" / {filled['worksheet']}" if filled.get("worksheet") else ""
    typer.echo(f"{filled['summary']} in {filled['sheet']}{tab}", err=True)


@run_app.command("replenishment")
def run_replenishment(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute and write the workbook; create or change no plan.")
    ] = False,
    output: Annotated[
        str | None, typer.Option("--output", help="The workbook's path (default: out/replenishment/…).")
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option(
            "--sheet",
            help="Google spreadsheet id to write the same tabs into (default: JTL_BESTELLVORSCHLAG_SHEET).",
        ),
    ] = None,
    sheets_block: Annotated[
        str | None,
        typer.Option(help="GoogleSheetsCredentials block (default: the JTL_GOOGLE_* environment)."),
    ] = None,
    purchasing_email: Annotated[
        str | None,
        typer.Option(help="E-mail the workbook here (once per week and version; needs --email-block)."),
    ] = None,
    email_block: Annotated[str | None, typer.Option(help="SmtpServer block for that e-mail.")] = None,
    ffn_block: FfnBlockOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
) -> None:
    """Propose this week's restock plans per supplier and write the Bestellvorschlag workbook (and sheet)."""
    if purchasing_email and not email_block:
        _fail(
            "replenishment: --purchasing-email needs --email-block NAME (an SmtpServer block) to send through"
        )
    _shell()
    from flows.replenishment import replenishment
    from jtl_automator.clients.errors import JtlApiError

    try:
        result = replenishment(
            dry_run=dry_run,
            output=output,
            ffn_block=ffn_block,
            wawi_block=wawi_block,
            database_block=database_block,
            bestellvorschlag_sheet=sheet,
            sheets_block=sheets_block,
            purchasing_email=purchasing_email,
            email_block=email_block,
        )
    except (JtlApiError, OSError, ValueError) as exc:  # an API refusal, an unwritable path, bad settings
        _fail(f"replenishment: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    typer.echo(
        f"{'sku':<24} {'warehouse':<24} {'status':<14} {'low':<4} {'order':>7} {'cover d':>8}  reason",
        err=True,
    )
    for row in result.get("table", []):
        cover = "" if row["cover_days"] is None else f"{row['cover_days']:g}"
        quantity = "" if row["order_quantity"] is None else f"{row['order_quantity']:g}"
        typer.echo(
            f"{row['merchant_sku']:<24} {row['warehouse_id'] or '?':<24} {row['status']:<14} "
            f"{'yes' if row['low_stock'] else '':<4} {quantity:>7} {cover:>8}  {row['reason']}",
            err=True,
        )
    typer.echo(f"workbook: {result['workbook']}", err=True)
    _echo_json(result)


SheetsBlockOption = Annotated[
    str | None,
    typer.Option(help="GoogleSheetsCredentials block for a Google Sheet feed (default: environment)."),
]
OutputOption = Annotated[
    str | None, typer.Option("--output", help="The workbook's path (default: out/product-enrichment/…).")
]


def _enrichment(
    *,
    feed: str | None = None,
    supplier: str | None = None,
    rules: str | None = None,
    dry_run: bool = False,
    only_if_changed: bool = False,
    output: str | None = None,
    mapping: str | None = None,
    quality: bool = True,
    images: bool = True,
    wawi_block: str | None = None,
    database_block: str | None = None,
    sheets_block: str | None = None,
) -> None:
    """Run the product enrichment flow with these parts; print what was left alone and why."""
    _shell()
    from flows.product_enrichment import product_enrichment
    from jtl_automator.clients.errors import JtlApiError
    from jtl_automator.services.product_enrichment import ProductEnrichmentParams
    from jtl_automator.transforms.product_feed import FeedError
    from jtl_automator.yaml_config import ConfigFileError

    overrides: dict[str, object] = {"quality": quality, "check_images": images}
    if mapping:
        overrides["mapping_file"] = mapping
    try:
        result = product_enrichment(
            feed=feed,
            supplier=supplier,
            rules=rules,
            dry_run=dry_run,
            only_if_changed=only_if_changed,
            output=output,
            params=ProductEnrichmentParams.model_validate(overrides),
            wawi_block=wawi_block,
            database_block=database_block,
            sheets_block=sheets_block,
        )
    except ConfigFileError as exc:
        _fail("\n".join(exc.problems))
    except (FeedError, JtlApiError, OSError, ValueError) as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    for row in result.get("rejected", []):
        typer.echo(f"feed row {row['row']} skipped: {row['supplier_sku'] or '?'}: {row['reason']}", err=True)
    for row in result.get("not_matched", []):
        typer.echo(f"feed row {row['row']} not matched ({row['matched_by']}): {row['note']}", err=True)
    for row in result.get("conflicts", []):
        typer.echo(
            f"conflict: {row['sku']} {row['field']}: Wawi {row['wawi_value']!r}, feed {row['feed_value']!r} "
            f"(row {row['row']}); left alone",
            err=True,
        )
    verb = "would" if dry_run else "did"
    for row in result.get("fills", []):
        typer.echo(f"{verb} fill: {row['sku']} {row['field']} = {row['feed_value']!r}", err=True)
    for row in result.get("assignments", []):
        typer.echo(f"{verb} assign: {row['sku']} -> {row['category']} (rule {row['rule']!r})", err=True)
    if result.get("no_rule"):
        typer.echo(
            f"no rule fits {len(result['no_rule'])} items: {', '.join(result['no_rule'][:20])}", err=True
        )
    for row in result.get("failed", []):
        typer.echo(f"failed: {row['sku']} {row['target']}: {row['result']}: {row['reason']}", err=True)
    if result.get("workbook"):
        typer.echo(f"workbook: {result['workbook']}", err=True)
    _echo_json(result)


@run_app.command("report")
def run_report(
    name: Annotated[str, typer.Argument(help="daily, weekly or monthly.")],
    period: Annotated[
        str | None,
        typer.Option(
            help="2026-11-24 (daily), 2026-W47 (weekly) or 2026-11 (monthly); default: the last complete."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Backfill: every period from --period to this one, oldest first.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write the workbook only: no KPI history, sheet or e-mail.")
    ] = False,
    output_dir: Annotated[
        str | None, typer.Option(help="Folder of the workbooks (default: JTL_REPORTS_DIR, reports).")
    ] = None,
    spreadsheet: Annotated[
        str | None,
        typer.Option(help="Google spreadsheet id for the report's tab (default: JTL_REPORTS_SHEET)."),
    ] = None,
    recipient: Annotated[
        list[str] | None, typer.Option(help="E-mail the report here (repeatable; needs --email-block).")
    ] = None,
    email_block: Annotated[str | None, typer.Option(help="SmtpServer block the e-mail goes through.")] = None,
    delivery_block: Annotated[
        str | None, typer.Option(help="ReportDelivery block (default: the JTL_REPORTS_* environment).")
    ] = None,
    sheets_block: Annotated[
        str | None,
        typer.Option(help="GoogleSheetsCredentials block (default: the JTL_GOOGLE_* environment)."),
    ] = None,
    ffn_block: FfnBlockOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
) -> None:
    """Make a KPI report (workbook, KPI history, Google Sheet tab, e-mail) for a period or a range of them."""
    from jtl_automator.reports import (
        PeriodError,
        UnknownReport,
        parse_period,
        period_range,
        report_definition,
    )

    try:
        definition = report_definition(name)
        if until and not period:
            raise PeriodError("--until needs --period (the first period of the backfill)")
        first = parse_period(period, definition.period_kind) if period else None
        if first is not None and until:
            period_range(first, parse_period(until, definition.period_kind))
    except (UnknownReport, PeriodError) as exc:
        _fail(f"report: {exc}", 2)
    if recipient and not email_block and not delivery_block:
        _fail("report: --recipient needs --email-block NAME (an SmtpServer block) to send through", 2)
    _shell()
    from flows.reporting import report
    from jtl_automator.clients.errors import JtlApiError
    from jtl_automator.sheets.base import SheetError

    try:
        result = report(
            name=name,
            period=period,
            until=until,
            dry_run=dry_run,
            output_dir=output_dir,
            spreadsheet=spreadsheet,
            recipients=recipient or None,
            email_block=email_block,
            delivery_block=delivery_block,
            sheets_block=sheets_block,
            ffn_block=ffn_block,
            wawi_block=wawi_block,
            database_block=database_block,
        )
    except (JtlApiError, SheetError, OSError, ValueError) as exc:  # an unwritable folder, a refused sheet …
        _fail(f"report: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    for run in result.get("runs", [result]):
        _echo_report(run)
    _echo_json(result)


def _echo_report(run: dict[str, object]) -> None:
    """One report run in a few lines on stderr: the workbook, the headline figures, what is missing."""
    from jtl_automator.reports.markdown import format_value

    typer.echo(f"{run['title']} {run['period']}{' (dry run)' if run.get('dry_run') else ''}", err=True)
    kpis = run.get("kpis")
    for item in kpis if isinstance(kpis, list) else []:
        value = format_value(item["value"], item["unit"]) if item["value"] is not None else "missing"
        unit = "pp" if item.get("change_in_points") else "%"
        change = f" ({item['change'] * 100:+.1f} {unit})" if item.get("change") is not None else ""
        typer.echo(f"  {item['label']:<34} {value:>16}{change}", err=True)
    missing = run.get("missing")
    if isinstance(missing, list) and missing:
        typer.echo(f"  missing data ({len(missing)}): " + "; ".join(str(m) for m in missing[:3]), err=True)
    typer.echo(f"  workbook: {run['workbook']}", err=True)


@run_app.command("product-enrichment")
def run_product_enrichment(
    feed: Annotated[
        str, typer.Option(help="The supplier's feed: a .csv file, an .xlsx workbook or a Google Sheet id.")
    ],
    supplier: Annotated[str, typer.Option(help="The feed's supplier, as named in the mapping file.")],
    rules: Annotated[str | None, typer.Option(help="Also categorise with this rule file (YAML).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write the workbook of what would change; change nothing.")
    ] = False,
    mapping: Annotated[
        str | None, typer.Option(help="The feed mapping file (default: config/feed-mappings.yaml).")
    ] = None,
    only_if_changed: Annotated[
        bool, typer.Option("--only-if-changed", help="Do nothing when the feed is the one processed last.")
    ] = False,
    no_quality: Annotated[bool, typer.Option("--no-quality", help="Leave the quality report out.")] = False,
    output: OutputOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
    sheets_block: SheetsBlockOption = None,
) -> None:
    """Fill Wawi's missing item data from a supplier feed (never overwriting), then report quality."""
    _enrichment(
        feed=feed,
        supplier=supplier,
        rules=rules,
        dry_run=dry_run,
        only_if_changed=only_if_changed,
        output=output,
        mapping=mapping,
        quality=not no_quality,
        wawi_block=wawi_block,
        database_block=database_block,
        sheets_block=sheets_block,
    )


@run_app.command("categorise")
def run_categorise(
    rules: Annotated[str, typer.Option(help="The categorisation rule file (YAML).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write the workbook of the assignments; assign nothing.")
    ] = False,
    output: OutputOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
) -> None:
    """Assign items to Wawi categories by rules; list the items no rule fits."""
    _enrichment(
        rules=rules,
        dry_run=dry_run,
        output=output,
        quality=False,
        wawi_block=wawi_block,
        database_block=database_block,
    )


@run_app.command("product-quality")
def run_product_quality(
    output: OutputOption = None,
    no_images: Annotated[
        bool, typer.Option("--no-images", help="Skip the image check (it reads every item's images).")
    ] = False,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
) -> None:
    """Write the data quality report of every Wawi item (workbook and artifact); change nothing."""
    _enrichment(
        output=output,
        images=not no_images,
        dry_run=True,
        wawi_block=wawi_block,
        database_block=database_block,
    )


@run_app.command("pricing")
def run_pricing(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Price and write the workbook; write no price, no plan.")
    ] = False,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", metavar="FILE", help="The rule file (default: config/pricing.yaml)."),
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", help="The workbook's path (default: out/pricing/…).")
    ] = None,
    ffn_block: FfnBlockOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
) -> None:
    """Price the catalogue by the rule file now: write what may pass, propose the rest and the markdowns."""
    from jtl_automator.services.pricing import load_rules
    from jtl_automator.yaml_config import ConfigFileError

    try:
        load_rules(rules)  # before Prefect starts: a mistake costs a second, not a flow run
    except ConfigFileError as exc:
        for problem in exc.problems[:-1]:
            typer.echo(f"Error: {problem}", err=True)
        _fail(exc.problems[-1] if exc.problems else str(exc), 2)
    _shell()
    from flows.pricing import pricing
    from jtl_automator.clients.errors import JtlApiError

    try:
        result = pricing(
            dry_run=dry_run,
            rules_file=str(rules.resolve()) if rules is not None else None,
            output=output,
            ffn_block=ffn_block,
            wawi_block=wawi_block,
            database_block=database_block,
        )
    except (JtlApiError, OSError, ValueError) as exc:  # an API refusal, an unwritable path, bad settings
        _fail(f"pricing: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if result.get("skipped"):
        typer.echo(f"skipped: {result['skipped']}", err=True)
    else:
        verb = "would write" if dry_run else "change"
        typer.echo(
            f"{'sku':<24} {'price':<10} {'status':<15} {'before':>10} {'after':>10} {'%':>7}  reason",
            err=True,
        )
        for row in result.get("changes", []):
            before = "" if row["current_price"] is None else f"{row['current_price']:.2f}"
            typer.echo(
                f"{row['sku']:<24} {row['target']:<10} {row['status']:<15} {before:>10} "
                f"{row['new_price']:>10.2f} {row['change_pct'] or 0:>+7.1f}  {row['reason']}",
                err=True,
            )
        for row in result.get("failed", []):
            typer.echo(f"not written: {row['sku']} {row['target']}: {row['reason']}", err=True)
        for plan in result.get("plans", []):
            typer.echo(
                f"plan {plan['plan']} ({plan['kind']}, {plan['lines']} lines) waits for approval: "
                f"jtl-automator plans approve {plan['plan']}",
                err=True,
            )
        typer.echo(
            f"{verb}: {result['statuses'].get('apply', 0)} prices; workbook: {result['workbook']}", err=True
        )
    _echo_json(result)


@run_app.command("housekeeping")
def run_housekeeping(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")] = False,
    order_events_days: Annotated[
        int, typer.Option(help="Keep events of closed orders this many days (0: for ever).")
    ] = 400,
    inbound_checks_days: Annotated[
        int, typer.Option(help="Keep inbound check results this many days.")
    ] = 180,
    kpi_history_days: Annotated[int, typer.Option(help="Keep KPI figures this many days.")] = 1100,
    gateway_events_days: Annotated[
        int, typer.Option(help="Keep gateway events this many days after delivery.")
    ] = 90,
    shop_sync_incidents_days: Annotated[
        int, typer.Option(help="Keep the shop check's incidents this many days after they cleared.")
    ] = 90,
    archive_dir: Annotated[
        str | None, typer.Option("--archive-dir", help="Write pruned rows here first (gzip JSON lines).")
    ] = None,
    database_block: DatabaseBlockOption = None,
) -> None:
    """Remove journal rows past their keep-age: order events, inbound checks, KPI history (not the ledger)."""
    _shell()
    from pydantic import ValidationError

    from flows.housekeeping import housekeeping
    from jtl_automator.services.housekeeping import RetentionParams

    try:
        params = RetentionParams(
            order_events_days=order_events_days,
            inbound_checks_days=inbound_checks_days,
            kpi_history_days=kpi_history_days,
            gateway_events_days=gateway_events_days,
            shop_sync_incidents_days=shop_sync_incidents_days,
            archive_dir=archive_dir,
        )
    except ValidationError as exc:
        _fail(f"housekeeping: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}; give 0 or more days")
    try:
        result = housekeeping(dry_run=dry_run, params=params, database_block=database_block)
    except OSError as exc:  # an archive folder that cannot be written
        _fail(f"housekeeping: {exc}; choose a writable --archive-dir")
    for journal in result["journals"]:
        count = journal["older"] if dry_run else journal["deleted"]
        typer.echo(f"{journal['journal']}: {'would remove' if dry_run else 'removed'} {count:,}", err=True)
    _echo_json(result)


@run_app.command("connectivity-check")
def run_connectivity_check(
    ffn_block: FfnBlockOption = None,
    wawi_block: WawiBlockOption = None,
    database_block: DatabaseBlockOption = None,
    shop_block: Annotated[
        str | None, typer.Option(help="JtlShopCredentials block (default: JTL_SHOP_*, if set).")
    ] = None,
) -> None:
    """Read once through FFN, Wawi and (when set up) JTL-Shop with the configured credentials."""
    _shell()
    from flows.connectivity_check import connectivity_check

    _echo_json(
        connectivity_check(
            ffn_block=ffn_block, wawi_block=wawi_block, database_block=database_block, shop_block=shop_block
        )
    )


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8800,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 42,
    skus: Annotated[int, typer.Option(help="Number of generated SKUs.")] = 500,
    orders: Annotated[int, typer.Option(help="Number of generated sales orders.")] = 200,
    fixture: Annotated[
        Path | None, typer.Option(help="Load this fixture folder instead of generating.")
    ] = None,
    faults: Annotated[str, typer.Option(help="Fault profile: none, slow, flaky, ratelimited, ...")] = "none",
    credentials_out: Annotated[
        Path | None,
        typer.Option("--credentials-out", help="Write the JTL_* variables a client needs (JSON)."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Where the real APIs' docs are silent, behave as strictly as plausible."
        ),
    ] = False,
    wawi_flavour: Annotated[
        Literal["onprem", "cloud"],
        typer.Option(help="The Wawi API --credentials-out points at (both are served)."),
    ] = "onprem",
) -> None:
    """Serve the sandbox until interrupted."""
    from jtl_automator.sandbox.server import RunningServer, serve_forever

    def ready(server: RunningServer, env: dict[str, str] | None) -> None:
        typer.echo(
            f"sandbox serving on {server.base_url} (FFN {server.base_url}/api, Wawi "
            f"{server.base_url}/wawi/api/eazybusiness and Cloud {server.base_url}/wawi/cloud/erp, "
            f"Sheets {server.base_url}/sheets, JTL-Shop {server.base_url}/shop)"
        )
        if credentials_out is not None:
            typer.echo(f"credentials written to {credentials_out}")
        typer.echo("Ctrl+C stops it.")

    serve_forever(
        port=port,
        seed=seed,
        fixture_dir=fixture,
        faults=faults,
        credentials_out=credentials_out,
        skus=skus,
        orders=orders,
        strict=strict,
        wawi_flavour=wawi_flavour,
        on_ready=ready,
    )


@db_app.command("upgrade")
def db_upgrade(url: Annotated[str | None, typer.Option(help="Defaults to JTL_DATABASE_URL.")] = None) -> None:
    """Apply the state database migrations (also done automatically on first use)."""
    from jtl_automator.store import open_store

    store = open_store(url)
    typer.echo(f"state database at head: {store!r}")
    store.dispose()


@orders_app.command("lease")
def orders_lease(
    break_it: Annotated[
        bool, typer.Option("--break", help="Remove the lease whoever holds it (when its run is gone).")
    ] = False,
    name: Annotated[str, typer.Option(help="The lease's name.")] = "order-processing",
    url: Annotated[str | None, typer.Option(help="State database URL (default: JTL_DATABASE_URL).")] = None,
) -> None:
    """Show who holds the order processing lease (one run at a time), or break it."""
    from datetime import UTC, datetime

    from jtl_automator.store import open_store

    store = open_store(url)
    try:
        held = store.break_lease(name) if break_it else store.lease(name)
    finally:
        store.dispose()
    if held is None:
        typer.echo(f"lease {name!r} is free")
        return
    now = datetime.now(UTC)
    minutes = held.held_for(now).total_seconds() / 60
    state = (
        "expired" if held.expires_at <= now else f"expires {held.expires_at.isoformat(timespec='seconds')}"
    )
    verb = "was held" if break_it else "is held"
    typer.echo(f"lease {name!r} {verb} by run {held.owner} for {minutes:.0f} min ({state})")
    if break_it:
        typer.echo("broken: the next run takes it")


StoreUrlOption = Annotated[str | None, typer.Option(help="State database URL (default: JTL_DATABASE_URL).")]
ByOption = Annotated[
    str | None, typer.Option(help="Who decides (recorded with the plan; default: the login name).")
]


def _fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, no traceback: what went wrong, where, and how to fix it."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _plan_store(url: str | None) -> Iterator[PlanStore]:
    """The plans of the state database; a refused step or bad input ends the command in one line."""
    from jtl_automator.plans import PlanError, PlanStore, UnknownPlanKind
    from jtl_automator.store import open_store

    store = open_store(url)
    try:
        yield PlanStore(store)
    except UnknownPlanKind as exc:  # bad input, like a malformed option
        _fail(str(exc), 2)
    except PlanError as exc:  # the plan's state refuses the step: exit 1
        _fail(str(exc))
    except ValueError as exc:  # a malformed --lines value, a person's name too long, …
        _fail(str(exc).splitlines()[0], 2)
    finally:
        store.dispose()


def _who(by: str | None) -> str:
    """``--by``, else the login name: an approval always says who gave it."""
    if by is not None:
        return by
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        _fail("cannot tell who you are (no login name); say it with --by NAME", 2)


@plans_app.command("list")
def plans_list(
    kind: Annotated[str | None, typer.Option(help="Only this kind (restock, markdown, …).")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status (draft, approved, executing, done, cancelled).")
    ] = None,
    url: StoreUrlOption = None,
) -> None:
    """The plans, newest first, with how many of their lines are approved."""
    from jtl_automator.plans import PlanStatus
    from jtl_automator.plans.render import plans_table

    wanted: PlanStatus | None = None
    if status is not None:
        try:
            wanted = PlanStatus(status)
        except ValueError:
            _fail(f"unknown plan status {status!r}; use one of: {', '.join(s.value for s in PlanStatus)}", 2)
    with _plan_store(url) as plans:
        found = plans.list_plans(kind=kind, status=wanted)
    if not found:
        typer.echo("no plans" + ("" if kind is None and status is None else " match"))
        return
    typer.echo(plans_table(found))


@plans_app.command("show")
def plans_show(
    plan_id: Annotated[int, typer.Argument(metavar="ID", help="The plan's id (see plans list).")],
    url: StoreUrlOption = None,
) -> None:
    """One plan with its lines: what would be executed, and what execution created."""
    from jtl_automator.plans.render import plan_detail

    with _plan_store(url) as plans:
        plan = plans.get(plan_id)
    typer.echo(plan_detail(plan))


@plans_app.command("approve")
def plans_approve(
    plan_id: Annotated[int, typer.Argument(metavar="ID", help="The plan's id (see plans list).")],
    lines: Annotated[
        list[str] | None,
        typer.Option(
            "--lines",
            "--line",
            metavar="SKU@WAREHOUSE",
            help="Approve only this line (repeat for more; SKU alone where the line has no warehouse). "
            "Default: every line.",
        ),
    ] = None,
    by: ByOption = None,
    url: StoreUrlOption = None,
) -> None:
    """Approve a plan's lines; only approved lines are executed."""
    from jtl_automator.plans import LineKey

    who = _who(by)
    with _plan_store(url) as plans:
        keys = [LineKey.parse(text) for text in lines] if lines else None
        plan = plans.approve(plan_id, who, keys)
    named = f"{len(keys)} line(s)" if keys is not None else "every line"
    typer.echo(
        f"approved {named} of {plan.describe()} as {who}: "
        f"{plan.approved_count} of {plan.line_count} lines approved"
    )


@plans_app.command("approve-from")
def plans_approve_from(
    source: Annotated[
        str,
        typer.Argument(
            metavar="FILE_OR_SHEET",
            help="The Bestellvorschlag: an .xlsx path, or a Google spreadsheet id (with Sheets credentials).",
        ),
    ],
    by: ByOption = None,
    sheets_block: Annotated[
        str | None, typer.Option(help="GoogleSheetsCredentials block (default: JTL_GOOGLE_* environment).")
    ] = None,
    url: StoreUrlOption = None,
) -> None:
    """Approve the lines marked in the Freigabe (x) column; a re-run approves nothing new."""
    from jtl_automator.services.replenishment.approvals import approve_from_sheet
    from jtl_automator.sheets.base import SheetError
    from jtl_automator.sheets.workbook_file import workbook_path
    from jtl_automator.sheets.xlsx import ExcelBackend

    who = _who(by)
    path = workbook_path(source)
    try:
        if path is not None:
            backend: SheetBackend = ExcelBackend(path)
        else:
            _shell()
            from tasks.resources import sheet_backend

            backend = sheet_backend(source, sheets_block)
        with _plan_store(url) as plans:
            applied = approve_from_sheet(backend, plans, who)
    except (SheetError, OSError) as exc:
        _fail(f"approve-from {source}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    for plan, keys in applied.approved:
        typer.echo(
            f"approved {len(keys)} line(s) of {plan.describe()} as {who}: {', '.join(map(str, keys))}; "
            f"{plan.approved_count} of {plan.line_count} lines approved"
        )
    if not applied.approved:
        typer.echo("nothing new to approve")
    for problem in applied.problems:
        typer.echo(f"not approved: {problem}", err=True)


@plans_app.command("cancel")
def plans_cancel(
    plan_id: Annotated[int, typer.Argument(metavar="ID", help="The plan's id (see plans list).")],
    reason: Annotated[str | None, typer.Option(help="Why (kept with the plan).")] = None,
    by: ByOption = None,
    url: StoreUrlOption = None,
) -> None:
    """Cancel a draft or approved plan: it is never executed, and its period gets no second plan."""
    who = _who(by)
    with _plan_store(url) as plans:
        plan = plans.cancel(plan_id, who, reason)
    typer.echo(f"cancelled {plan.describe()} as {who}")


@plans_app.command("fill-inbound-control")
def plans_fill_inbound_control(
    plan_ids: Annotated[
        list[int], typer.Argument(metavar="PLAN_ID...", help="The executed plans (see plans list).")
    ],
    sheet: Annotated[
        str,
        typer.Option(
            metavar="ID_OR_XLSX",
            help="The Inbound Control sheet: a Google spreadsheet id or an .xlsx path.",
        ),
    ],
    worksheet: Annotated[
        str | None, typer.Option(help="Its tab (default: 'Inbound Control' or the first).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the rows it would append.")] = False,
    sheets_block: Annotated[
        str | None, typer.Option(help="GoogleSheetsCredentials block (default: JTL_GOOGLE_* environment).")
    ] = None,
    url: StoreUrlOption = None,
) -> None:
    """List a plan's executed lines in the Inbound Control sheet; rows already there are not added again."""
    import os
    from datetime import UTC, datetime

    from jtl_automator.services.plan_execution import (
        InboundControlTarget,
        PlanExecutionParams,
        fill_plans,
        lease_keeper,
    )
    from jtl_automator.sheets.base import SheetError
    from jtl_automator.sheets.workbook_file import workbook_path
    from jtl_automator.sheets.xlsx import ExcelBackend

    try:
        path = workbook_path(sheet)
        if path is not None:
            backend: SheetBackend = ExcelBackend(path)
        else:
            _shell()
            from tasks.resources import sheet_backend

            backend = sheet_backend(sheet, sheets_block)
        target = InboundControlTarget(backend, sheet, worksheet)
        with _plan_store(url) as plans:
            # The plan execution's lease: a run filling the same plans meanwhile would append them too.
            owner = f"cli-{os.getpid()}"
            keeper = None if dry_run else lease_keeper(plans.store, PlanExecutionParams(), owner)
            holder = keeper.take() if keeper is not None else None
            if holder is not None:
                _fail(f"a plan-execution run ({holder.owner}) holds the lease; run this again later")
            try:
                filled = fill_plans(plans, target, plan_ids, dry_run=dry_run, at=datetime.now(UTC))
            finally:
                if keeper is not None:
                    keeper.release()
    except (SheetError, OSError) as exc:
        _fail(f"fill-inbound-control: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    _echo_listed(filled.as_dict())


# -- the event gateway -----------------------------------------------------------------------------

GatewayConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", envvar="JTL_GATEWAY_CONFIG", help="The gateway's sources and limits (YAML; no secrets)."
    ),
]


def _secret_block(name: str) -> str:
    """A Prefect Secret block's value (Prefect is imported only when a source names a block)."""
    _shell()
    from tasks.gateway import secret_from_block

    return secret_from_block(name)


def _load_gateway_or_fail(config: Path) -> Gateway:
    from jtl_automator.gateway import load_gateway
    from jtl_automator.yaml_config import ConfigFileError

    try:
        return load_gateway(config, load_block=_secret_block)
    except ConfigFileError as exc:
        _fail(" | ".join(exc.problems) + " (see docs/gateway.md)", 2)


@gateway_app.command("check")
def gateway_check(config: GatewayConfigOption = Path("config/gateway.yaml")) -> None:
    """Load the configuration, every source's secret and every schema; print what would be served."""
    gateway = _load_gateway_or_fail(config)
    for source in gateway.sources.values():
        typer.echo(f"source {source.name}: secret found; events {', '.join(sorted(source.events))}")
    typer.echo(
        f"tolerance {gateway.tolerance_seconds} s, body at most {gateway.max_body_bytes} bytes, "
        f"{gateway.rate_requests} requests per {gateway.rate_window_seconds:g} s per client IP"
        + (
            " (counted in the state database: across all gateway processes)"
            if gateway.rate_shared
            else " (counted per process)"
        )
    )


@gateway_app.command("serve")
def gateway_serve(
    config: GatewayConfigOption = Path("config/gateway.yaml"),
    host: Annotated[str, typer.Option(help="Address to listen on (keep loopback behind a TLS proxy).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port.")] = 8787,
    url: StoreUrlOption = None,
    drain: Annotated[
        bool,
        typer.Option(
            "--drain/--no-drain",
            help="Also deliver the outbox to Prefect (PREFECT_API_URL) from this process; the "
            "scheduled gateway-drain flow does it otherwise.",
        ),
    ] = False,
    drain_every: Annotated[float, typer.Option(help="Seconds between drains with --drain.")] = 2.0,
) -> None:
    """Accept signed events on POST /events/{source} until interrupted."""
    import threading

    import uvicorn

    from jtl_automator.gateway import Outbox, create_app, drain_loop
    from jtl_automator.store import open_store

    gateway = _load_gateway_or_fail(config)
    if drain:
        _require_prefect_api()
    store = open_store(url)
    outbox = Outbox(store)
    stop = threading.Event()
    if drain:
        _shell()
        from tasks.gateway import PrefectEmitter

        threading.Thread(
            target=drain_loop,
            args=(outbox, PrefectEmitter(), stop),
            kwargs={"interval": drain_every},
            name="gateway-drain",
            daemon=True,
        ).start()
    if host not in ("127.0.0.1", "::1", "localhost"):
        typer.echo(f"note: listening on {host}; publish it only through a TLS reverse proxy", err=True)
    typer.echo(
        f"gateway on http://{host}:{port}/events/{{source}} ({len(gateway.sources)} source(s)); "
        "Ctrl+C stops it"
    )
    try:
        # The gateway's own trusted_proxies decide who the client is, not uvicorn's proxy-header rewriting.
        uvicorn.run(
            create_app(gateway, outbox),
            host=host,
            port=port,
            log_level="info",
            proxy_headers=False,
            server_header=False,
        )
    finally:
        stop.set()
        store.dispose()


def _require_prefect_api() -> None:
    import os

    if not os.environ.get("PREFECT_API_URL"):
        _fail(
            "PREFECT_API_URL is not set: drained events must go to the Prefect server the workflows run "
            "on (an ephemeral one would keep them nowhere); set it, or run the gateway-drain deployment",
            2,
        )


@gateway_app.command("drain")
def gateway_drain(
    url: StoreUrlOption = None,
    batch_size: Annotated[int, typer.Option(help="Events per request to the Prefect API.")] = 100,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be delivered.")] = False,
    now: Annotated[
        bool, typer.Option("--now", help="Try the oldest event now, even within its backoff after a failure.")
    ] = False,
) -> None:
    """Deliver the outbox's undelivered events to Prefect (PREFECT_API_URL), oldest first."""
    from datetime import UTC, datetime

    from jtl_automator.gateway import Outbox, drain
    from jtl_automator.gateway.report import drain_summary
    from jtl_automator.store import open_store

    emitter: Emitter | None = None
    if not dry_run:  # a dry run reads the outbox only: no Prefect import, no API needed
        _require_prefect_api()
        _shell()
        from tasks.gateway import PrefectEmitter

        emitter = PrefectEmitter()
    store = open_store(url)
    try:
        report = drain(Outbox(store), emitter, batch_size=batch_size, dry_run=dry_run, force=now)
    finally:
        store.dispose()
    for event in report.would_deliver:
        typer.echo(f"{event.id}\t{event.source}\tjtl.gateway.{event.type}\t{event.event_id}")
    summary = drain_summary(report, datetime.now(UTC))
    if report.error:
        _fail(str(summary["message"]))
    typer.echo(summary["message"])


@gateway_app.command("events")
def gateway_events(
    url: StoreUrlOption = None,
    since: Annotated[int, typer.Option(help="Only events after this outbox id.")] = 0,
    event_type: Annotated[list[str] | None, typer.Option("--type", help="Only these event types.")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="Only events not yet delivered.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
) -> None:
    """List stored events (id, source, type, sender's id, received, delivered)."""
    from jtl_automator.gateway import Outbox
    from jtl_automator.store import open_store

    store = open_store(url)
    try:
        outbox = Outbox(store)
        events = outbox.pending(limit) if pending else outbox.since(since, types=event_type, limit=limit)
        counts = outbox.counts()
    finally:
        store.dispose()
    for event in events:
        delivered = event.delivered_at.isoformat(timespec="seconds") if event.delivered_at else "pending"
        typer.echo(
            f"{event.id}\t{event.source}\t{event.type}\t{event.event_id}\t"
            f"{event.received_at.isoformat(timespec='seconds')}\t{delivered}"
        )
    typer.echo(f"{counts.pending} pending, {counts.delivered} delivered")


@gateway_app.command("prune")
def gateway_prune(
    days: Annotated[int, typer.Option(min=1, help="Delete delivered events older than this many days.")],
    url: StoreUrlOption = None,
) -> None:
    """Delete delivered events older than --days (undelivered ones always stay), and passed rate windows."""
    from datetime import UTC, datetime, timedelta

    from jtl_automator.gateway import Outbox, prune_rate_counts
    from jtl_automator.store import open_store

    store = open_store(url)
    try:
        removed = Outbox(store).prune(datetime.now(UTC) - timedelta(days=days))
        # a rate-limit slice counts for one window (at most an hour): two hours back it is dead
        slices = prune_rate_counts(store, datetime.now(UTC) - timedelta(hours=2))
    finally:
        store.dispose()
    typer.echo(f"deleted {removed} delivered event(s) older than {days} day(s)")
    typer.echo(f"deleted {slices} rate-limit count(s) of windows that ended over two hours ago")


@app.command("demo")
def demo(
    output: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("demo-output"),
    skus: Annotated[int, typer.Option(help="Generated catalogue size.")] = 500,
) -> None:
    """Run the main job end to end on the embedded default (sandbox, SQLite, ephemeral Prefect)."""
    _shell()
    from deployments.demo import run_demo

    run_demo(output=output, skus=skus)


stack_app = typer.Typer(
    no_args_is_help=True, help="The production stack: a Prefect server, its work pool, workers, deployments."
)
app.add_typer(stack_app, name="stack")


@stack_app.command("setup")
def stack_setup(
    deployment: Annotated[
        list[str] | None,
        typer.Option("--deployment", help="Only this deployment of prefect.yaml (repeatable; default: all)."),
    ] = None,
    blocks: Annotated[
        bool, typer.Option("--blocks/--no-blocks", help="Save the blocks from JTL_* (on by default).")
    ] = True,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a Prefect server that is starting.")
    ] = 120.0,
) -> None:
    """Ready the Prefect server (PREFECT_API_URL): migrate, work pool, blocks, deployments. Idempotent."""
    _shell()
    from deployments.stack import StackError, setup

    try:
        report = setup(deployment, blocks=blocks, wait_seconds=wait)
    except StackError as exc:
        _fail(f"stack setup: {exc}")
    for line in report.lines():
        typer.echo(line)
    if not report.anonymous_refused:
        typer.echo(
            "Warning: the Prefect API answers without credentials; set PREFECT_SERVER_API_AUTH_STRING on the "
            "server and PREFECT_API_AUTH_STRING here, or keep it on a private network (docs/production.md)",
            err=True,
        )


def main() -> None:
    """Console-script entry point; a state database from a newer version is one line, not a traceback."""
    try:
        app()
    except Exception as exc:
        from jtl_automator.store import SchemaTooNew

        if not isinstance(exc, SchemaTooNew):
            raise
        typer.echo(f"Error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
