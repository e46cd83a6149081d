"""Replenishment without Prefect: the real clients over HTTP against the sandbox, a real SQLite plan store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.plans import PlanStore
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.services import replenishment as svc
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore

NOW = DEFAULT_BASE_DATE + timedelta(days=1)  # the generated orders lie in the 10 days before the base date


@dataclass
class World:
    state: Any
    store: StateStore
    ffn: FfnClient
    wawi: WawiClient
    tmp: Path
    base: str

    def plans(self) -> PlanStore:
        return PlanStore(self.store)

    def ffn_rows(self) -> list[dict[str, Any]]:
        return [row for stock in self.state.data.ffn.stocks.values() for row in stock["warehouses"]]

    def run(self, name: str = "run.xlsx", **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("now", NOW)
        return svc.run_replenishment(
            self.wawi, self.ffn, self.store, kwargs.pop("params", None), output=str(self.tmp / name), **kwargs
        )


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    config = sandbox_config()
    app = create_app(generate(seed=5, skus=80, orders=60, customers=10), config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=20, ffn_rate_per_second=500, wawi_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05)
        conf = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        yield World(
            app.state.sandbox,
            store,
            FfnClient.from_settings(conf, store),
            WawiClient.from_settings(conf),
            tmp_path,
            server.base_url,
        )
        store.dispose()


@pytest.mark.slow
def test_run_proposes_one_draft_per_supplier_and_a_rerun_updates_it(world: World) -> None:
    first = world.run()
    assert first["statuses"].get("order", 0) >= 1 and first["units_proposed"] > 0
    assert first["read"]["outbounds"] > 0 and first["read"]["supplier_reads"] > 0
    plans = world.plans().list_plans(kind="restock")
    assert {p.id for p in plans} == {p["plan_id"] for p in first["plans"]}
    assert all(p.status.value == "draft" and p.period == first["period"] for p in plans)
    suppliers = {p.scope.supplier for p in plans}
    assert len(suppliers) == len(plans)  # one plan per supplier
    workbook = load_workbook(first["workbook"])
    assert workbook.sheetnames[0] == "Low stock" and workbook.sheetnames[-1] == "Not orderable"

    # a SKU with demand and stock runs dry: the rerun adds it to its supplier's open draft
    params = svc.ReplenishmentRunParams()
    lines = svc.compute_lines(svc.load_inputs(world.ffn, world.wawi, params, now=NOW), params)
    fine = lines[
        (lines["status"] == "sufficient") & (lines["daily_demand"] > 0) & lines["supplier_id"].notna()
    ]
    sku, warehouse = fine.iloc[0]["merchant_sku"], fine.iloc[0]["warehouse_id"]
    row = next(r for r in world.ffn_rows() if (r["merchantSku"], r["warehouseId"]) == (sku, warehouse))
    row["stockLevel"] = row["stockLevelReserved"] = row["stockLevelBlocked"] = row["stockLevelAnnounced"] = 0
    second = world.run(name="again.xlsx")
    assert second["statuses"]["order"] == first["statuses"]["order"] + 1
    again = world.plans().list_plans(kind="restock")
    assert {p.id for p in plans} <= {p.id for p in again}
    assert len({p.scope.supplier for p in again}) == len(again)  # still one plan per supplier
    assert sum(p.line_count for p in again) == second["statuses"]["order"]
    plan = next(p for p in again if p.scope.supplier == str(int(fine.iloc[0]["supplier_id"])))
    assert (sku, warehouse) in {(line.sku, line.warehouse) for line in world.plans().get(plan.id).lines}


@pytest.mark.slow
def test_an_approved_plan_is_left_alone_and_reported(world: World) -> None:
    first = world.run()
    plan_id = first["plans"][0]["plan_id"]
    world.plans().approve(plan_id, by="einkauf")
    before = world.plans().get(plan_id)
    second = world.run(name="again.xlsx")
    assert [p["plan_id"] for p in second["plans_left_alone"]] == [plan_id]
    assert "approved" in second["plans_left_alone"][0]["skipped"]
    assert world.plans().get(plan_id).lines == before.lines
    assert len(world.plans().list_plans(kind="restock")) == len(first["plans"])


@pytest.mark.slow
def test_bad_input_lines_are_reported_and_the_batch_goes_on(world: World) -> None:
    rows = sorted(world.ffn_rows(), key=lambda r: r["merchantSku"])
    rows[0]["stockLevel"] = -7
    rows[1]["stockLevel"] = 5_000_000
    result = world.run()
    bad = [r for r in result["table"] if r["status"] == "invalid_input"]
    assert {r["merchant_sku"] for r in bad} == {rows[0]["merchantSku"], rows[1]["merchantSku"]}
    assert any("negative" in r["reason"] for r in bad) and any("bound" in r["reason"] for r in bad)
    assert result["statuses"].get("no_supplier", 0) >= 1  # every 23rd generated item has no supplier
    assert result["plans"]  # the other lines still make their plans
    sheet = load_workbook(result["workbook"])["Not orderable"]
    listed = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert {rows[0]["merchantSku"], rows[1]["merchantSku"]} <= listed


@pytest.mark.slow
def test_dry_run_writes_the_workbook_but_no_plan(world: World) -> None:
    result = world.run(dry_run=True)
    assert result["dry_run"] and result["statuses"].get("order", 0) >= 1
    assert result["plans"] == [] and world.plans().list_plans() == []
    assert Path(result["workbook"]).exists()
    assert "dry run" in svc.summary_markdown(result)


@pytest.mark.slow
def test_stockout_days_come_from_ffn_stock_changes(world: World) -> None:
    row = next(r for r in sorted(world.ffn_rows(), key=lambda r: r["merchantSku"]) if r["stockLevel"] > 0)
    response = httpx.post(
        world.base + "/_sandbox/ffn/stocks/adjustments",
        json={"jfsku": row["jfsku"], "warehouseId": row["warehouseId"], "quantity": -row["stockLevel"]},
    )
    assert response.status_code == 201, response.text
    now = datetime.now(UTC) + timedelta(days=1)  # the change happened "yesterday": inside the window
    inputs = svc.load_inputs(world.ffn, world.wawi, svc.ReplenishmentRunParams(), now=now)
    assert inputs.counts["stock_changes"] >= 1
    outs = {(r.merchant_sku, r.warehouse_id) for r in inputs.stockouts.itertuples()}
    assert (row["merchantSku"], row["warehouseId"]) in outs


@pytest.mark.slow
def test_table_puts_low_stock_first_and_is_capped(world: World) -> None:
    result = world.run(params=svc.ReplenishmentRunParams(table_rows=3))
    table = result["table"]
    assert 0 < len(table) <= 3
    flags = [r["low_stock"] for r in table]
    assert flags == sorted(flags, reverse=True)
