"""Rebalance, supplier return and supplier exchange plans executed through FFN, over HTTP against the
sandbox with a real SQLite ledger: outbounds and inbounds exactly once, stock checked first, malformed
lines skipped with their reasons, a supplier without address exported for a person."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.plans import (
    LineStatus,
    NewLine,
    Plan,
    PlanScope,
    PlanStatus,
    PlanStore,
    rebalance_line,
    supplier_line,
)
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.services import plan_execution as svc
from jtl_automator.services.plan_execution.movements import Shipment, movement_xlsx_bytes
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from tests.services.test_plan_execution_service import TODAY

OUTBOUNDS = "^/api/v1/merchant/outbounds$"
INBOUNDS = "^/api/v1/merchant/inbounds$"


class World:
    def __init__(
        self, state: Any, store: StateStore, ffn: FfnClient, wawi: WawiClient, exports: Path
    ) -> None:
        self.state, self.store, self.ffn, self.wawi, self.exports = state, store, ffn, wawi, exports

    @property
    def data(self) -> Any:
        return self.state.data

    @property
    def plans(self) -> PlanStore:
        return PlanStore(self.store)

    def run(self, **kwargs: Any) -> dict[str, Any]:
        params = kwargs.pop("params", None) or svc.PlanExecutionParams(
            send_email=False, export_dir=str(self.exports)
        )
        kwargs.setdefault("today", TODAY)
        return svc.run_plan_execution(self.store, self.ffn, self.wawi, params, **kwargs)

    def warehouses(self) -> list[str]:
        return sorted(self.data.ffn.warehouses)

    def free(self, sku: str, warehouse: str) -> float:
        for stock in self.data.ffn.stocks.values():
            if stock["merchantSku"] == sku:
                for row in stock["warehouses"]:
                    if row["warehouseId"] == warehouse:
                        return float(
                            row["stockLevel"]
                            - row.get("stockLevelReserved", 0)
                            - row.get("stockLevelBlocked", 0)
                        )
        return 0.0

    def stocked(self, warehouse: str, n: int, at_least: int = 20) -> list[str]:
        skus = sorted(p["merchantSku"] for p in self.data.ffn.products.values())
        return [s for s in skus if self.free(s, warehouse) >= at_least][:n]

    def outbounds(self, number: str) -> list[dict[str, Any]]:
        return [o for o in self.data.ffn.outbounds.values() if o["merchantOutboundNumber"] == number]

    def inbounds(self, number: str) -> list[dict[str, Any]]:
        return [i for i in self.data.ffn.inbounds.values() if i["merchantInboundNumber"] == number]

    def numbers(self) -> Counter[str]:
        return Counter(
            [str(o["merchantOutboundNumber"]) for o in self.data.ffn.outbounds.values()]
            + [str(i["merchantInboundNumber"]) for i in self.data.ffn.inbounds.values()]
        )

    def jfsku(self, sku: str) -> str:
        (found,) = [p["jfsku"] for p in self.data.ffn.products.values() if p["merchantSku"] == sku]
        return str(found)

    def approved(self, kind: str, lines: list[NewLine], supplier: str | None = None) -> Plan:
        warehouses = tuple(sorted({w for line in lines for w in line.warehouse.split(">") if w}))
        opened = self.plans.create_or_get(
            kind, PlanScope(warehouses=warehouses, supplier=supplier), "2026-W48"
        )
        self.plans.add_lines(opened.plan.id, lines)
        return self.plans.approve(opened.plan.id, "ops")


def _world(tmp: Path, config: SandboxConfig, url: str | None = None, **settings: Any) -> Iterator[World]:
    app = create_app(generate(seed=7, skus=30, orders=5, customers=5, suppliers=3), config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=20, ffn_rate_per_second=500, wawi_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05, **settings)
        conf = Settings(_env_file=None, **values)
        store = StateStore(url or f"sqlite:///{tmp / 'state.db'}")
        with FfnClient.from_settings(conf, store) as ffn, WawiClient.from_settings(conf) as wawi:
            yield World(app.state.sandbox, store, ffn, wawi, tmp / "exports")
        store.dispose()


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config())


@pytest.fixture(params=["lenient", pytest.param("strict", marks=pytest.mark.slow)])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """Lenient and SandboxConfig.strictest(): no uniqueness of merchant numbers, eq-only filters, …"""
    config = SandboxConfig() if request.param == "lenient" else SandboxConfig.strictest()
    yield from _world(tmp_path, config)


def _rebalance(world: World) -> tuple[Plan, str, str, list[str]]:
    w1, w2 = world.warehouses()
    a, b = world.stocked(w1, 2)
    (c,) = [s for s in world.stocked(w2, 5, at_least=10) if s not in (a, b)][:1]
    plan = world.approved(
        "rebalance",
        [rebalance_line(a, w1, w2, 5), rebalance_line(b, w1, w2, 3), rebalance_line(c, w2, w1, 2)],
    )
    return plan, w1, w2, [a, b, c]


# -- rebalance -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_rebalance_is_one_outbound_to_the_destination_and_one_inbound_there_per_route(both: World) -> None:
    world = both
    plan, w1, w2, (a, b, _c) = _rebalance(world)
    free_before = world.free(a, w1)

    result = world.run()

    assert result["counts"] == {"executed": 3}
    there, back = f"TR-{plan.id}-{w1}-{w2}", f"TR-{plan.id}-{w2}-{w1}"
    (out,) = world.outbounds(there)
    (inb,) = world.inbounds(there)
    assert out["warehouseId"] == w1 and inb["warehouseId"] == w2
    dest = world.data.ffn.warehouses[w2]["address"]
    assert (out["shippingAddress"]["street"], out["shippingAddress"]["city"]) == (
        dest["street"],
        dest["city"],
    )
    assert out["shippingType"] == "Standard"
    assert sorted((i["jfsku"], i["quantity"]) for i in out["items"]) == sorted(
        [(world.jfsku(a), 5), (world.jfsku(b), 3)]
    )
    assert sorted((i["jfsku"], i["quantity"]) for i in inb["items"]) == sorted(
        (i["jfsku"], i["quantity"]) for i in out["items"]
    )
    assert {"key": "outboundId", "value": out["outboundId"]} in [
        {"key": x["key"], "value": x["value"]} for x in inb["attributes"]
    ]
    assert world.free(a, w1) == free_before - 5  # the outbound reserved the units at the source
    assert len(world.outbounds(back)) == 1 and world.inbounds(back)[0]["warehouseId"] == w1

    done = world.plans.get(plan.id)
    assert done.status is PlanStatus.DONE and all(line.status is LineStatus.EXECUTED for line in done.lines)
    ref = {line.sku: line.execution for line in done.lines}[a]
    assert ref is not None and ref.purchase_order_number == there and ref.inbound_id == inb["inboundId"]
    assert (ref.extra or {})["outbound_id"] == out["outboundId"]
    assert [s["number"] for s in result["shipments"]] == sorted([there, back])
    markdown = svc.summary_markdown(result)
    assert f"rebalance {there}: outbound {out['outboundId']}, inbound {inb['inboundId']}" in markdown

    again = world.run()
    assert again["counts"] == {} and world.numbers()[there] == 2  # one outbound, one inbound
    assert svc.executed_rows(done) == []  # the Inbound Control sheet lists purchases only


@pytest.mark.slow
def test_an_inbound_that_failed_after_its_outbound_is_announced_next_run_without_a_second_outbound(
    world: World,
) -> None:
    plan, w1, w2, _ = _rebalance(world)
    rule = FaultRule(fault="drop", route=INBOUNDS, methods=("POST",))  # FFN never sees the inbound
    set_profile(world.state, FaultProfile(name="inbounds-lost", rules=(rule,)))
    first = world.run()
    set_profile(world.state, "none")
    assert first["counts"] == {"failed": 3}
    assert all("was made but the inbound failed" in r["reason"] for r in first["lines"])
    there = f"TR-{plan.id}-{w1}-{w2}"
    assert len(world.outbounds(there)) == 1 and world.inbounds(there) == []
    assert world.plans.get(plan.id).status is PlanStatus.APPROVED

    second = world.run()
    assert second["counts"] == {"executed": 3}
    assert len(world.outbounds(there)) == 1 and len(world.inbounds(there)) == 1
    line = {ln.sku: ln for ln in world.plans.get(plan.id).lines}[
        world.outbounds(there)[0]["items"][0]["merchantSku"]
    ]
    assert line.execution is not None and line.execution.inbound_id == world.inbounds(there)[0]["inboundId"]


@pytest.mark.slow
def test_malformed_and_unknown_routes_are_skipped_with_their_reasons_the_rest_goes(world: World) -> None:
    w1, w2 = world.warehouses()
    a, b, c, d = world.stocked(w1, 4)
    plan = world.approved(
        "rebalance",
        [
            rebalance_line(a, w1, w2, 2),
            NewLine(sku=b, warehouse=f"{w1}-{w2}", quantity=2),  # not a route
            NewLine(sku=c, warehouse=f"{w1}>FULF04XX-99999-0009", quantity=2),  # no such warehouse
            NewLine(sku=d, warehouse=f"{w1}>{w2}", quantity=2, details={"to_warehouse": w1}),
            NewLine(sku="NO-SUCH-SKU", warehouse=f"{w1}>{w2}", quantity=1),
        ],
    )
    result = world.run()
    reasons = {r["sku"]: r["reason"] for r in result["lines"] if r["status"] == "waiting"}
    assert "is not a route: expected FROM>TO" in reasons[b]
    assert "FULF04XX-99999-0009 is not one of the merchant's FFN warehouses" in reasons[c]
    assert "details.to_warehouse" in reasons[d] and "contradicts the route" in reasons[d]
    assert "not an FFN product" in reasons["NO-SUCH-SKU"]
    assert result["counts"] == {"executed": 1, "waiting": 4}
    (out,) = world.outbounds(f"TR-{plan.id}-{w1}-{w2}")
    assert [i["jfsku"] for i in out["items"]] == [world.jfsku(a)]
    back = world.plans.get(plan.id)
    assert back.status is PlanStatus.APPROVED and back.note and "is not a route" in back.note


@pytest.mark.slow
def test_a_line_over_the_source_stock_waits_and_goes_with_the_next_shipment_once_stock_is_there(
    world: World,
) -> None:
    w1, w2 = world.warehouses()
    a, b = world.stocked(w1, 2)
    too_many = int(world.free(b, w1)) + 1
    plan = world.approved("rebalance", [rebalance_line(a, w1, w2, 4), rebalance_line(b, w1, w2, too_many)])

    first = world.run()
    (waiting,) = [r for r in first["lines"] if r["status"] == "waiting"]
    assert (
        waiting["sku"] == b
        and f"{too_many} units of {b} asked, {too_many - 1} available in {w1}" in (waiting["reason"])
    )
    number = f"TR-{plan.id}-{w1}-{w2}"
    assert len(world.outbounds(number)) == 1 and world.plans.get(plan.id).status is PlanStatus.APPROVED

    stock = next(s for s in world.data.ffn.stocks.values() if s["merchantSku"] == b)
    next(r for r in stock["warehouses"] if r["warehouseId"] == w1)["stockLevel"] += 5
    second = world.run()
    assert second["counts"] == {"executed": 1}
    (follow,) = world.outbounds(f"{number}-2")
    assert [(i["jfsku"], i["quantity"]) for i in follow["items"]] == [(world.jfsku(b), too_many)]
    assert len(world.outbounds(number)) == 1 and len(world.inbounds(f"{number}-2")) == 1
    assert world.plans.get(plan.id).status is PlanStatus.DONE


@pytest.mark.slow
def test_two_lines_from_one_source_share_its_stock(world: World) -> None:
    """Stock is checked against what this run already planned, not only against FFN's number."""
    w1, w2 = world.warehouses()
    (a,) = world.stocked(w1, 1)
    free = int(world.free(a, w1))
    plan = world.approved("supplier_return", [supplier_line(a, w1, free)], supplier="L10001")
    other = world.approved("rebalance", [rebalance_line(a, w1, w2, 1)])
    result = world.run()
    by_plan = {r["plan"]: r for r in result["lines"]}
    assert by_plan[plan.id]["status"] == "executed"
    assert by_plan[other.id]["status"] == "waiting" and "0 available" in by_plan[other.id]["reason"]


# -- supplier return and exchange -----------------------------------------------------------------


@pytest.mark.slow
def test_a_supplier_return_is_an_outbound_to_the_suppliers_wawi_address(world: World) -> None:
    w1, w2 = world.warehouses()
    a, b = world.stocked(w1, 2)
    (c,) = world.stocked(w2, 1)
    plan = world.approved(
        "supplier_return",
        [supplier_line(a, w1, 2), supplier_line(b, w1, 1), supplier_line(c, w2, 1)],
        supplier="L10002",
    )
    result = world.run()
    assert result["counts"] == {"executed": 3}
    supplier = world.data.wawi.suppliers[2]
    (out,) = world.outbounds(f"RT-{plan.id}-L10002-{w1}")
    address = out["shippingAddress"]
    assert (address["company"], address["street"], address["zip"], address["city"], address["country"]) == (
        supplier["Company"],
        supplier["Street"],
        supplier["PostalCode"],
        supplier["City"],
        supplier["CountryIso"],
    )
    assert len(out["items"]) == 2 and len(world.outbounds(f"RT-{plan.id}-L10002-{w2}")) == 1
    assert world.inbounds(f"RT-{plan.id}-L10002-{w1}") == []  # a return expects nothing back
    assert world.plans.get(plan.id).status is PlanStatus.DONE


@pytest.mark.slow
def test_a_supplier_exchange_also_announces_the_units_coming_back(world: World) -> None:
    w1, _ = world.warehouses()
    (a,) = world.stocked(w1, 1)
    plan = world.approved("supplier_exchange", [supplier_line(a, w1, 3)], supplier="1")
    result = world.run()
    number = f"EX-{plan.id}-L10001-{w1}"
    (out,) = world.outbounds(number)
    (inb,) = world.inbounds(number)
    assert inb["warehouseId"] == w1 and inb["items"][0]["quantity"] == 3
    assert inb["supplier"]["merchantSupplierNumber"] == "L10001"
    assert result["lines"][0]["outbound_id"] == out["outboundId"]
    assert result["lines"][0]["inbound_id"] == inb["inboundId"]


@pytest.mark.slow
def test_a_supplier_without_address_is_exported_for_a_person_not_failed(world: World) -> None:
    w1, _ = world.warehouses()
    a, b = world.stocked(w1, 2)
    world.data.wawi.suppliers[3]["Street"] = ""
    world.data.wawi.suppliers[3]["City"] = None
    plan = world.approved("supplier_exchange", [supplier_line(a, w1, 2), supplier_line(b, w1, 1)], "L10003")

    preview = world.run(dry_run=True)
    assert {r["status"] for r in preview["lines"]} == {"would_export"}
    assert not world.exports.exists()

    result = world.run()
    number = f"EX-{plan.id}-L10003-{w1}"
    assert result["counts"] == {"exported": 2} and world.outbounds(number) == []
    (row,) = result["shipments"]
    assert row["status"] == "exported" and "city, street missing" in row["reason"]
    path = Path(result["exports"][0])
    assert path == world.exports / f"{number}.xlsx"
    ws = load_workbook(path).active
    assert ws is not None
    values = [[c for c in r if c is not None] for r in ws.iter_rows(values_only=True)]
    assert ["Why not through FFN", row["reason"]] in values
    assert sorted(r[1:5:3] for r in values if r and r[0] in (1, 2)) == sorted([[a, 2], [b, 1]])
    done = world.plans.get(plan.id)
    assert done.status is PlanStatus.DONE
    assert all((line.execution and (line.execution.extra or {}))["mode"] == "exported" for line in done.lines)
    assert f"exported to {path}" in svc.summary_markdown(result)


@pytest.mark.slow
def test_a_plan_without_supplier_or_with_an_unknown_one_waits(world: World) -> None:
    w1, _ = world.warehouses()
    (a,) = world.stocked(w1, 1)
    nobody = world.approved("supplier_return", [supplier_line(a, w1, 1)])
    unknown = world.approved("supplier_return", [supplier_line(a, w1, 1)], supplier="L99999")
    result = world.run()
    reasons = {r["plan"]: r["reason"] for r in result["lines"]}
    assert "no supplier" in reasons[nobody.id] and "L99999 not found in Wawi" in reasons[unknown.id]
    assert world.data.ffn.outbounds and all(
        not o["merchantOutboundNumber"].startswith("RT-") for o in world.data.ffn.outbounds.values()
    )


# -- dry run, faults, crashes ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_dry_run_says_what_each_shipment_would_be_and_creates_nothing(world: World) -> None:
    plan, w1, w2, _ = _rebalance(world)
    before = Counter(world.numbers())
    result = world.run(dry_run=True)
    assert result["counts"] == {"would_execute": 3}
    assert {r["shipment"] for r in result["lines"]} == {f"TR-{plan.id}-{w1}-{w2}", f"TR-{plan.id}-{w2}-{w1}"}
    assert world.numbers() == before and world.plans.get(plan.id).status is PlanStatus.APPROVED
    assert "would create the outbound and the inbound" in svc.summary_markdown(result)


@pytest.mark.slow
@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(
            FaultRule(fault="drop", route=OUTBOUNDS, methods=("POST",), after_response=True), id="lost"
        ),
        pytest.param(
            FaultRule(fault="error", route=OUTBOUNDS, methods=("POST",), every=2, statuses=(503,)), id="5xx"
        ),
        pytest.param(
            FaultRule(fault="rate_limit", route="/api/v1/merchant", limit=3, window_seconds=1), id="429"
        ),
        pytest.param(FaultRule(fault="expire_tokens", route="/api/v1/merchant", every=3), id="expired-token"),
        pytest.param(
            FaultRule(fault="drop", route=INBOUNDS, methods=("POST",), after_response=True), id="lost-inbound"
        ),
    ],
)
def test_faults_while_creating_never_double_an_outbound_or_inbound(both: World, rule: FaultRule) -> None:
    world = both
    plan, w1, w2, _ = _rebalance(world)
    set_profile(world.state, FaultProfile(name="movement-faults", rules=(rule,)))
    first = world.run()
    assert sum(world.state.runtime["faults"].values()) > 0
    set_profile(world.state, "none")
    second = world.run()  # settles whatever the first left
    executed = first["counts"].get("executed", 0) + second["counts"].get("executed", 0)
    assert executed == 3
    for number in (f"TR-{plan.id}-{w1}-{w2}", f"TR-{plan.id}-{w2}-{w1}"):
        assert len(world.outbounds(number)) == 1 and len(world.inbounds(number)) == 1
    assert world.plans.get(plan.id).status is PlanStatus.DONE


@pytest.mark.slow
def test_a_timeout_on_the_outbound_post_is_settled_by_number_not_a_second_post(
    tmp_path: Path,
) -> None:
    for world in _world(tmp_path, SandboxConfig.strictest(), http_timeout_seconds=0.5):
        plan, w1, w2, _ = _rebalance(world)
        rule = FaultRule(fault="latency", route=OUTBOUNDS, methods=("POST",), latency_ms=1200, every=1)
        set_profile(world.state, FaultProfile(name="slow-outbound-posts", rules=(rule,)))
        first = world.run()
        set_profile(world.state, "none")
        world.run()
        for number in (f"TR-{plan.id}-{w1}-{w2}", f"TR-{plan.id}-{w2}-{w1}"):
            assert len(world.outbounds(number)) == 1, first
        assert world.plans.get(plan.id).status is PlanStatus.DONE


@pytest.mark.slow
def test_a_run_killed_after_the_outbound_post_is_taken_over_without_doubles(
    both: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = both
    plan, w1, w2, _ = _rebalance(world)
    real_complete = world.store.complete

    def crash(key: str, result: Any = None) -> None:
        if key.startswith("ffn-outbound:TR-"):
            raise SystemExit("killed after the POST, before the record")
        real_complete(key, result)

    monkeypatch.setattr(world.store, "complete", crash)
    with pytest.raises(SystemExit):
        world.run()
    monkeypatch.setattr(world.store, "complete", real_complete)
    assert world.plans.get(plan.id).status is PlanStatus.EXECUTING
    world.store.break_lease(svc.LEASE_NAME)
    result = world.run()
    assert result["counts"] == {"executed": 3}
    for number in (f"TR-{plan.id}-{w1}-{w2}", f"TR-{plan.id}-{w2}-{w1}"):
        assert len(world.outbounds(number)) == 1 and len(world.inbounds(number)) == 1


@pytest.mark.slow
def test_the_export_document_names_what_to_do(world: World) -> None:
    shipment = Shipment.model_validate(
        {
            "number": "RT-4-L1-W1",
            "plan_id": 4,
            "kind": "supplier_return",
            "source": "W1",
            "destination": "ACME (L1)",
            "inbound_warehouse": None,
            "address": None,
            "export_reason": "no address",
            "made_on": TODAY,
            "items": [{"sku": "A-1", "line_warehouse": "W1", "jfsku": "JF000000001", "quantity": 2}],
        }
    )
    path = world.exports / "x.xlsx"
    path.parent.mkdir(parents=True)
    path.write_bytes(movement_xlsx_bytes(shipment))
    ws = load_workbook(path).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "Supplier return RT-4-L1-W1"
    assert ("To do", "Send these units from W1 back to ACME (L1).") in [r[:2] for r in rows]


@pytest.mark.slow
def test_the_ledger_keeps_shipments_once_on_sqlite_and_postgresql(tmp_path: Path, store_url: str) -> None:
    """Crash after the outbound POST and a lost inbound answer, on both databases: one of each, plan done."""
    for world in _world(tmp_path, SandboxConfig(), store_url):
        plan, w1, w2, _ = _rebalance(world)
        rule = FaultRule(fault="drop", route=INBOUNDS, methods=("POST",), after_response=True)
        set_profile(world.state, FaultProfile(name="lost-inbound-answers", rules=(rule,)))
        assert world.run()["counts"] == {"executed": 3}
        set_profile(world.state, "none")
        assert world.run()["counts"] == {}
        for number in (f"TR-{plan.id}-{w1}-{w2}", f"TR-{plan.id}-{w2}-{w1}"):
            assert len(world.outbounds(number)) == 1 and len(world.inbounds(number)) == 1
            record = world.store.side_effect(f"shipment:{number}")
            assert record is not None and record.result and record.result["number"] == number
        assert world.plans.get(plan.id).status is PlanStatus.DONE
