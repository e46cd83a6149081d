"""`make demo`'s command runs to the end offline and leaves its outputs where it says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.timeout(900)  # every stage of the demo in one process: minutes on a busy 2-core machine
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JTL_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jtl_automator.cli",
            "demo",
            "--output",
            str(tmp_path / "out"),
            "--skus",
            "150",
        ],
        cwd=tmp_path,  # the demo keeps its Prefect home (.prefect-demo) in the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo finished" in done.stdout
    out = tmp_path / "out"
    summary = json.loads((out / "demo-summary.json").read_text())
    for run in ("inbound_verification_xlsx", "inbound_verification_google_sheet"):
        assert all(summary[run]["counts"][s] > 0 for s in ("MATCH", "MISMATCH", "PENDING", "INVALID_ROW"))
    assert summary["order_processing"]["counts"]["created"] > 0
    assert summary["order_processing"]["counts"]["held"] > 0
    assert summary["stock_sync"]["outcomes"].get("applied", 0) > 0
    assert "plan_execution" in summary  # executed, or skipped with the reason
    assert summary["replenishment"]["plans"] and (out / "bestellvorschlag.xlsx").is_file()
    assert (
        summary["product_sync"]["counts"]["updated"] > 0
        and summary["product_sync"]["counts"]["rejected"] == 0
    )
    diff = openpyxl.load_workbook(out / "product-sync-diff.xlsx")
    assert diff.sheetnames[0] == "Changes" and diff["Changes"].max_row > 1
    enriched = summary["product_enrichment"]
    assert enriched["dry_run"]["outcomes"] == {} and enriched["dry_run"]["decisions"]["fill"] > 0
    assert enriched["run"]["outcomes"]["applied"] > 0 and enriched["run"]["rejected_rows"] == 4
    assert enriched["run"]["conflicts"] and enriched["run"]["categories"]["assign"] > 0
    dry_book = openpyxl.load_workbook(out / "product-enrichment-dry-run.xlsx", read_only=True)
    assert {"Fills", "Conflicts", "Feed rows rejected", "Categories"} <= set(dry_book.sheetnames)
    dry_book.close()
    assert "Quality" in openpyxl.load_workbook(out / "product-enrichment.xlsx", read_only=True).sheetnames
    assert summary["pricing"]["writes"]["applied"] > 0 and (out / "pricing.xlsx").is_file()
    assert {p["kind"] for p in summary["pricing"]["plans"]} == {"price_change", "markdown"}
    sheet = openpyxl.load_workbook(out / "inbound-control.xlsx").worksheets[0]
    assert {c.value for c in sheet["D"]} >= {"MATCH", "MISMATCH", "PENDING", "UNKNOWN_SKU", "INVALID_ROW"}
    assert (tmp_path / ".prefect-demo").is_dir() and (out / "state.db").is_file()
    for name, period in (("daily", "2026-11-16"), ("weekly", "2026-W46"), ("monthly", "2026-11")):
        made = summary[f"report_{name}"]
        assert made["period"] == period and (out / "reports" / name / f"{period}.xlsx").is_file()
        assert f"reports/{name}/{period}.xlsx" in done.stdout
    fired = summary["workflows"]
    assert fired["tick"]["failed"] == 0 and fired["webhooks_received"] > 0 and fired["emails_sent"] > 0
    ran = {w["workflow"]: w["new_runs"] for w in fired["tick"]["workflows"]}
    assert ran["held-address-crm"] > 0 and ran["saison-restock"] > 0
    assert "0 failed" in fired["monday_markdown"] and "0 new runs" not in fired["monday_markdown"]
    # the shop sync check finds exactly the sandbox shop's configured drift (SandboxConfig.shop_*)
    from jtl_automator.sandbox.config import SandboxConfig

    config = SandboxConfig()
    checked = summary["shop_sync_check"]
    assert checked["counts"] == {
        "stuck_order": config.shop_orders_missing_in_wawi,
        "cancelled_open": config.shop_orders_cancelled_in_shop,
        "stale_stock": config.shop_stock_over + config.shop_stock_under,
        "price_drift": config.shop_price_drift,
    }
    assert checked["oversell_risk"] == config.shop_stock_over and checked["unchecked"] == {}
    assert checked["alerts"]["sent"]["webhook"] is True and checked["first_run"]["alerts"]["sent"]["webhook"]
    assert checked["first_run"]["counts"]["stale_stock"] == 0  # watched first, raised an hour on
    assert summary["alerts"]["summary"].startswith("automations: 4 created, 0 updated, 0 unchanged")
    sales = {k["key"]: k["value"] for k in summary["report_weekly"]["kpis"]}
    assert sales["orders"] > 0 and sales["revenue_net"] > 0


@pytest.mark.slow
def test_the_plan_stage_approves_proposed_restock_plans_or_says_why_it_skips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deployments.demo import _plan_execution
    from jtl_automator.plans import NewLine, PlanScope, PlanStatus, PlanStore
    from jtl_automator.settings import get_settings
    from jtl_automator.store import StateStore

    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("JTL_DATABASE_URL", url)
    get_settings.cache_clear()
    calls: list[object] = []

    def fake(**kwargs: object) -> dict[str, object]:
        calls.append(kwargs["params"])
        return {"counts": {"executed": 1}, "purchase_orders": ["PO-1-L1"]}

    try:
        assert _plan_execution(fake) == {"skipped": "no restock plan was proposed"} and not calls
        store = StateStore(url)
        plans = PlanStore(store)
        opened = plans.create_or_get("restock", PlanScope(supplier="L10001"), "2026-W48")
        plans.add_lines(opened.plan.id, [NewLine(sku="A-1", warehouse="W1", quantity=3)])
        assert _plan_execution(fake)["counts"] == {"executed": 1}
        assert plans.get(opened.plan.id).status is PlanStatus.APPROVED
        assert calls[0].send_email is False
        store.dispose()
    finally:
        get_settings.cache_clear()
