"""add_items_to_plan on live data: the real FFN and Wawi clients over HTTP against the sandbox."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.clients.errors import RetryableError
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.plans import PlanScope, PlanStore
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.services import replenishment as svc
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from jtl_automator.workflows.actions import ActionContext
from jtl_automator.workflows.actions.plan_data import LivePlanData
from jtl_automator.workflows.actions.plan_items import AddItemsParams, add_items_to_plan

NOW = DEFAULT_BASE_DATE + timedelta(days=1)


@dataclass
class World:
    state: Any
    store: StateStore
    data: LivePlanData

    def ctx(self, key: str, *, simulate: bool = False) -> ActionContext:
        return ActionContext(
            store=self.store,
            run_id="run",
            effect_key=key,
            now=NOW,
            simulate=simulate,
            resources={"plan_data": self.data},
        )


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    config = sandbox_config()
    app = create_app(generate(seed=5, skus=40, orders=60, customers=10), config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=2, ffn_rate_per_second=500, wawi_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05, retry_max_attempts=2)
        conf = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        ffn, wawi = FfnClient.from_settings(conf, store), WawiClient.from_settings(conf)
        yield World(app.state.sandbox, store, LivePlanData(ffn, wawi, store, NOW))
        store.dispose()


@pytest.mark.slow
def test_restock_lines_carry_the_replenishments_own_figures(world: World) -> None:
    params = svc.ReplenishmentRunParams()
    expected = svc.compute_lines(svc.load_inputs(world.data.ffn, world.data.wawi, params, now=NOW), params)
    needy = expected[(expected["daily_demand"] > 0) & (expected["status"] != "invalid_input")].head(3)
    skus = sorted(set(needy["merchant_sku"].astype(str)))
    assert skus, "the generated world has items with demand"
    pid = PlanStore(world.store).create_or_get("restock", PlanScope(), "2026-W01").plan.id
    p = AddItemsParams.model_validate(
        {
            "plan_id": pid,
            "skus": skus,
            "warehouses": "all",
            "quantity": {"strategy": "fill_to_target", "target_units": 500},
        }
    )
    out = add_items_to_plan(p, world.ctx("k1")).output
    lines = PlanStore(world.store).get(pid).lines
    rows = expected.set_index(["merchant_sku", "warehouse_id"])
    assert out["added"] == len(lines) == len(rows.loc[skus]) >= 3
    for line in lines:
        row = rows.loc[(line.sku, line.warehouse)]
        position = row["available"] + row["on_order"]
        assert line.quantity == math.ceil(500 - position - 1e-9)
        assert (line.details or {})["daily_demand"] == pytest.approx(row["daily_demand"], abs=1e-4)
    # a second step of the run reads nothing again
    cached = world.data._inputs[90]
    add_items_to_plan(p, world.ctx("k2"))
    assert world.data._inputs[90] is cached


@pytest.mark.slow
def test_an_ffn_outage_fails_the_step_cleanly_and_the_next_run_adds_the_lines(world: World) -> None:
    pid = PlanStore(world.store).create_or_get("rebalance", PlanScope(), "2026-W01").plan.id
    p = AddItemsParams.model_validate(
        {"plan_id": pid, "warehouses": "all", "matching": {"matching": "score"}}
    )
    set_profile(
        world.state,
        FaultProfile(name="ffn-down", rules=(FaultRule(fault="error", route="/api/v1/merchant/stocks"),)),
    )
    with pytest.raises(RetryableError):
        add_items_to_plan(p, world.ctx("k1"))
    claim = world.store.side_effect("k1")
    assert claim is not None and claim.state.value == "failed"
    assert PlanStore(world.store).get(pid).lines == ()
    set_profile(world.state, "none")
    result = add_items_to_plan(p, world.ctx("k1"))
    assert result.effects == ("k1",)
    for line in PlanStore(world.store).get(pid).lines:
        details = line.details or {}
        assert line.warehouse == f"{details['from_warehouse']}>{details['to_warehouse']}"


@pytest.mark.slow
def test_markdown_simulation_on_live_prices(world: World) -> None:
    p = AddItemsParams.model_validate(
        {
            "kind": "markdown",
            "discount": {"strategy": "fixed", "fixed_pct": 20, "min_cover_days": 1, "no_sale_days": 1},
        }
    )
    result = add_items_to_plan(p, world.ctx("k1", simulate=True))
    out = result.output
    assert out["plan_id"] is None and out["added"] + out["skipped"] > 0
    for line in out["lines"]:
        assert line["state"] == "would_added" and line["unit_price"] is not None and line["warehouse"] == ""
    assert world.store.side_effect("k1") is None
