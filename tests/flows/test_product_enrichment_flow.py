"""The product enrichment flow under Prefect: real HTTP to the sandbox, a real SQLite ledger, artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import openpyxl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import ArtifactSort

from flows.product_enrichment import product_enrichment
from jtl_automator.sandbox.data import Spreadsheet, Worksheet
from jtl_automator.services.product_enrichment import ProductEnrichmentParams
from jtl_automator.settings import get_settings
from tests.flows.conftest import FlowSandbox

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

MAPPING = """\
suppliers:
  first:
    wawi_supplier: 1
    columns:
      supplier_sku: Lieferanten-Nr.
      gtin: EAN
      item_weight: Gewicht kg
      short_description: Kurztext
"""
RULES = """\
rules:
  - name: all the first supplier's goods
    category: Spielwaren > Holzspielzeug
    match: {supplier: Kaffeerösterei Hansen GmbH & Co. KG}
"""


def _prepare(sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch) -> tuple[list[list[Any]], dict[str, Any]]:
    """Gaps in the first supplier's items; the feed rows that fill them; the flow's file parameters."""
    monkeypatch.setenv("JTL_WAWI_RATE_PER_SECOND", "500")
    get_settings.cache_clear()
    wawi = sandbox.state.data.wawi
    ours = sorted(i for i, rows in wawi.item_suppliers.items() if any(r["SupplierId"] == 1 for r in rows))[:4]
    grid: list[list[Any]] = [["Lieferanten-Nr.", "EAN", "Gewicht kg", "Kurztext"]]
    for item_id in ours:
        item = wawi.items[item_id]
        grid.append(
            [
                f"L-{item['SKU']}",
                item["Identifiers"]["Gtin"],
                item["Weights"]["ItemWeigth"],
                item["ShortDescription"],
            ]
        )
        item["Identifiers"]["Gtin"] = ""
        item["ShortDescription"] = ""
    (sandbox.tmp / "feeds.yaml").write_text(MAPPING, encoding="utf-8")
    (sandbox.tmp / "rules.yaml").write_text(RULES, encoding="utf-8")
    params = ProductEnrichmentParams(
        mapping_file=str(sandbox.tmp / "feeds.yaml"), output_dir=str(sandbox.tmp / "out"), check_images=False
    )
    return grid, {"supplier": "first", "rules": str(sandbox.tmp / "rules.yaml"), "params": params}


def _csv(grid: list[list[Any]], path: Path) -> str:
    lines = [
        ";".join(str(c).replace(".", ",") if isinstance(c, float) else str(c) for c in row) for row in grid
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_dry_run_then_run_then_unchanged_feed_with_artifacts(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid, kwargs = _prepare(flow_sandbox, monkeypatch)
    feed = _csv(grid, flow_sandbox.tmp / "feed.csv")
    items = flow_sandbox.state.data.wawi.items

    proposed = product_enrichment(feed=feed, dry_run=True, **kwargs)
    assert proposed["decisions"]["fill"] == 8 and proposed["outcomes"] == {}
    assert all(
        item["Identifiers"]["Gtin"] != grid[1][1] for item in items.values() if item["SKU"] == grid[1][0][2:]
    )
    book = openpyxl.load_workbook(proposed["workbook"], read_only=True)
    assert {"Fills", "Categories", "Quality"} <= set(book.sheetnames)
    book.close()

    done = product_enrichment(feed=feed, only_if_changed=True, **kwargs)
    assert done["outcomes"]["applied"] == 8 + done["categories"]["assign"]
    filled = next(item for item in items.values() if f"L-{item['SKU']}" == grid[1][0])
    assert filled["Identifiers"]["Gtin"] == grid[1][1] and filled["ShortDescription"] == grid[1][3]

    unchanged = product_enrichment(feed=feed, only_if_changed=True, **kwargs)
    assert unchanged["skipped"] == "the feed has not changed since the last run"

    async def artifacts() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts(sort=ArtifactSort.CREATED_DESC) if a.key}

    found = anyio.run(artifacts)
    assert {
        "product-enrichment-summary",
        "product-enrichment-fills",
        "product-enrichment-conflicts",
        "product-enrichment-category-assignments",
        "product-quality",
    } <= found


def test_a_google_sheet_feed_and_the_quality_report_alone(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid, kwargs = _prepare(flow_sandbox, monkeypatch)
    sheet = Spreadsheet("supplier-feed-first", "Lieferant 1", [Worksheet("Artikel", 0, grid)])
    flow_sandbox.state.data.spreadsheets[sheet.spreadsheet_id] = sheet
    result = product_enrichment(feed=sheet.spreadsheet_id, **kwargs)
    assert result["matched_by"] == {"supplier_sku": 4}, (result["rejected"], result["conflicts"])
    assert result["outcomes"]["applied"] >= 8
    quality = product_enrichment(params=kwargs["params"])
    assert quality["parts"] == "quality" and "decisions" not in quality and quality["outcomes"] == {}
