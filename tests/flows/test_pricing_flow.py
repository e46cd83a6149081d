"""The pricing flow end to end: real Prefect, real HTTP to the sandbox, a real SQLite state database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import openpyxl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import ArtifactSort

from flows.pricing import pricing
from jtl_automator.plans import PlanStatus, PlanStore
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE
from jtl_automator.settings import get_settings
from jtl_automator.store import StateStore
from tests.flows.conftest import FlowSandbox

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

RULES = """\
rules:
  - name: coffee
    match: {category: "Lebensmittel"}
    strategy: target_margin
    margin_pct: 45
    endings: [0.99]
    floor_pct: 15
    max_change_pct: null
    approval_threshold_pct: 12
  - name: rest
    strategy: cost_plus
    markup_pct: 100
    endings: [0.99, 0.90]
    floor_pct: 15
    max_change_pct: null
    approval_threshold_pct: 12
markdown:
  strategy: score
  min_cover_days: 60
  no_sale_days: 30
  floor_pct: 5
"""


def test_dry_run_then_run_then_the_approved_plans_are_written_with_artifacts(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JTL_WAWI_RATE_PER_SECOND", "500")
    monkeypatch.setenv("JTL_FFN_RATE_PER_SECOND", "500")
    get_settings.cache_clear()
    rules = flow_sandbox.tmp / "pricing.yaml"
    rules.write_text(RULES, encoding="utf-8")
    wawi = flow_sandbox.state.data.wawi
    day = DEFAULT_BASE_DATE.date()
    before = {i: item["ItemPriceData"]["SalesPriceNet"] for i, item in wawi.items.items()}

    dry = pricing(dry_run=True, rules_file=str(rules), output=str(flow_sandbox.tmp / "dry.xlsx"), as_of=day)
    assert dry["dry_run"] and dry["statuses"]["apply"] > 0 and dry["plans"] == []
    assert {i: item["ItemPriceData"]["SalesPriceNet"] for i, item in wawi.items.items()} == before
    book = openpyxl.load_workbook(flow_sandbox.tmp / "dry.xlsx")
    assert book.sheetnames == ["Changes", "Approval", "Markdowns", "Not priced"]
    assert book["Changes"].max_row - 1 == dry["statuses"]["apply"]

    done = pricing(rules_file=str(rules), output=str(flow_sandbox.tmp / "run.xlsx"), as_of=day)
    assert done["writes"] == {"applied": dry["statuses"]["apply"]}
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    try:
        assert len(store.price_history(source="rule")) == done["writes"]["applied"]
        plans = PlanStore(store)
        kinds = {p["kind"]: p["plan"] for p in done["plans"]}
        assert set(kinds) == {"price_change", "markdown"}
        for plan_id in kinds.values():
            plans.approve(plan_id, "anna")
        again = pricing(rules_file=str(rules), output=str(flow_sandbox.tmp / "again.xlsx"), as_of=day)
        executed = {e["kind"]: e for e in again["executed_plans"]}
        assert executed["price_change"]["status"] == "done" and executed["markdown"]["status"] == "done"
        assert executed["price_change"]["lines"] == {"applied": plans.get(kinds["price_change"]).line_count}
        assert plans.get(kinds["markdown"]).status is PlanStatus.DONE
        assert wawi.special_prices  # the markdowns run as special prices
        assert len(store.price_history(source="markdown")) == executed["markdown"]["lines"]["applied"]
        assert again["writes"] == {}  # the rules find their prices in place
    finally:
        store.dispose()

    async def artifacts() -> dict[str, Any]:
        async with get_client() as client:
            newest_last = reversed(await client.read_artifacts(sort=ArtifactSort.CREATED_DESC))
            return {a.key: a.data for a in newest_last if a.key}

    found = anyio.run(artifacts)
    assert {"pricing-summary", "pricing-changes", "pricing-markdowns"} <= set(found)
    assert str(found["pricing-summary"]).startswith("# Pricing")  # one of the session's runs


def test_a_bad_rules_file_fails_the_run_naming_its_line(flow_sandbox: FlowSandbox, tmp_path: Path) -> None:
    from jtl_automator.yaml_config import ConfigFileError

    bad = tmp_path / "pricing.yaml"
    bad.write_text("rules:\n  - name: x\n    strategy: cost_plus\n    markup_pct: -500\n", encoding="utf-8")
    with pytest.raises(ConfigFileError, match=r"pricing.yaml:4: rules\[0\].markup_pct"):
        pricing(rules_file=str(bad), dry_run=True)
