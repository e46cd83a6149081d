"""Order processing without Prefect: the real clients over HTTP against the sandbox, a real SQLite store."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.clients.ffn.client import FfnClient, Outbounds
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.sandbox import ffn as sandbox_ffn
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, INVOICE_METHOD_ID, generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.services import order_processing as svc
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from jtl_automator.transforms import ValidationParams

SINCE = DEFAULT_BASE_DATE - timedelta(days=11)  # every generated order
PARAMS = svc.OrderProcessingParams(
    chunk_size=5,
    validation=ValidationParams(invoice_payment_method_ids=frozenset({INVOICE_METHOD_ID})),
)
ADDRESS_CHECK, WAIT_FOR_GOODS, PAYMENT_PENDING, CUSTOMER_QUESTION = 2, 4, 1, 3  # sandbox on-hold reasons


@dataclass
class World:
    state: Any
    store: StateStore
    ffn: FfnClient
    wawi: WawiClient
    tmp: Path

    @property
    def orders(self) -> dict[int, dict[str, Any]]:
        return self.state.data.wawi.sales_orders  # type: ignore[no-any-return]

    @property
    def outbounds(self) -> list[dict[str, Any]]:
        return list(self.state.data.ffn.outbounds.values())

    def outbounds_per_number(self) -> Counter[str]:
        return Counter(o["merchantOutboundNumber"] for o in self.outbounds)

    def run(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("since", SINCE)
        return svc.run_order_processing(
            self.wawi, self.ffn, self.store, kwargs.pop("params", PARAMS), **kwargs
        )

    def hold(self, number: str) -> tuple[int | None, str | None]:
        order = next(o for o in self.orders.values() if o["Number"] == number)
        return order["SalesOrderShippingDetail"].get("OnHoldReasonId"), order.get("Comment")

    def add_order(self, number: str, lines: list[dict[str, Any]], **changes: Any) -> int:
        """A new order cloned from a valid generated one (recent, paid), with the given lines."""
        template = next(o for o in self.orders.values() if o["Number"] == "AU100040")
        order = copy.deepcopy(template)
        order_id = max(self.orders) + 1
        order.update(
            Id=order_id, Number=number, SalesOrderDate=(DEFAULT_BASE_DATE - timedelta(hours=1)).isoformat()
        )
        order["SalesOrderPaymentDetails"]["PaymentStatus"] = 2
        for key, value in changes.items():
            order[key] = value
        self.orders[order_id] = order
        self.state.data.wawi.line_items[order_id] = [
            {"Id": 900_000 + order_id * 1000 + n, "SalesOrderId": order_id, "Type": 1, **line}
            for n, line in enumerate(lines)
        ]
        return order_id

    def skus_in_stock(self, units: int) -> list[tuple[str, str]]:
        """(merchant SKU, jfsku) with at least ``units`` free in the first warehouse."""
        first = sorted(self.state.data.ffn.warehouses)[0]
        found = []
        for stock in self.state.data.ffn.stocks.values():
            for row in stock.get("warehouses") or []:
                if (
                    row["warehouseId"] == first
                    and row["stockLevel"] - row["stockLevelReserved"] - row["stockLevelBlocked"] >= units
                ):
                    found.append((stock["merchantSku"], stock["jfsku"]))
        return sorted(found)

    def set_stock(self, jfsku: str, level: float) -> None:
        """Free stock of a product in every warehouse = ``level`` (reservations kept)."""
        stock = self.state.data.ffn.stocks[jfsku]
        for row in stock["warehouses"]:
            row["stockLevel"] = row["stockLevelReserved"] + row["stockLevelBlocked"] + level
        stock["stockLevel"] = sum(r["stockLevel"] for r in stock["warehouses"])
        sandbox_ffn.mark_changed(self.state)


def _world(
    tmp: Path, config: SandboxConfig, store_url: str | None = None, **settings: Any
) -> Iterator[World]:
    app = create_app(generate(seed=5, skus=150, orders=40, customers=30), config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=30, ffn_rate_per_second=500, wawi_rate_per_second=500)
        values.update(settings)
        conf = Settings(_env_file=None, **values)
        store = StateStore(store_url or f"sqlite:///{tmp / 'state.db'}")
        yield World(
            app.state.sandbox,
            store,
            FfnClient.from_settings(conf, store),
            WawiClient.from_settings(conf),
            tmp,
        )
        store.dispose()


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config())


def _or_refusals(world: World) -> int:
    """400s the batch lookup costs: one when the sandbox refuses 'or' (then the client stops sending it)."""
    operators = world.state.config.ffn_filter_operators
    return 0 if operators is None or "or" in operators else 1


def _never_oversold(world: World) -> None:
    for stock in world.state.data.ffn.stocks.values():
        for row in stock.get("warehouses") or []:
            assert row["stockLevelReserved"] <= row["stockLevel"], (stock["jfsku"], row)


# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_first_run_creates_adopts_and_holds_with_codes(world: World) -> None:
    result = world.run()
    counts = result["counts"]
    # 40 generated orders: 16 already delivered, 7 with an outbound in progress, 2 invalid, 15 new.
    assert counts["skipped_delivered"] == 16 and counts["adopted"] == 7
    assert counts["created"] == 15 and counts["held"] == 2 and counts["failed"] == 0
    assert result["held_by_reason"] == {"ADDRESS_INCOMPLETE": 1, "POSTCODE_INVALID": 1}
    assert set(world.outbounds_per_number().values()) == {1}

    # Invalid orders are on hold in Wawi with the reason code in the comment, and in the ledger.
    hold, comment = world.hold("AU100008")  # missing street
    assert hold == ADDRESS_CHECK and comment and f"{svc.TAG} on hold: ADDRESS_INCOMPLETE" in comment
    hold, comment = world.hold("AU100028")  # postcode 1234 for DE
    assert hold == ADDRESS_CHECK and comment and "POSTCODE_INVALID" in comment
    ledger = world.store.orders(["AU100008", "AU100040"])
    assert ledger["AU100008"].status == "held" and "Street missing" in (ledger["AU100008"].hold_reason or "")

    # A created order: outbound with the Wawi number, status written back, journal complete.
    record = ledger["AU100040"]
    outbound = world.state.data.ffn.outbounds[record.outbound_id]
    assert record.status == "outbound_created" and outbound["merchantOutboundNumber"] == "AU100040"
    assert outbound["warehouseId"] == record.warehouse_id
    assert f"FFN outbound {record.outbound_id}" in (world.hold("AU100040")[1] or "")
    assert [e for e, _ in world.store.order_events("AU100040")] == ["imported", "outbound_created"]
    _never_oversold(world)
    assert world.store.get_watermark(svc.WAWI_WATERMARK) is not None
    assert world.store.get_watermark(svc.FFN_WATERMARK) is not None


@pytest.mark.slow
def test_rerun_of_a_completed_batch_creates_nothing(world: World) -> None:
    world.run()
    before = world.outbounds_per_number()
    patches = world.state.runtime["requests"]["by_api"].get("wawi", 0)
    second = world.run()
    assert second["counts"]["created"] == 0 and second["counts"]["skipped_existing"] == 22
    assert second["counts"]["held"] == 2  # re-evaluated, unchanged: no write
    assert world.outbounds_per_number() == before
    assert [e for e, _ in world.store.order_events("AU100008")] == ["imported", "held"]
    # only reads: the listing, line items of the two held orders, on-hold reasons
    assert world.state.runtime["requests"]["by_api"].get("wawi", 0) - patches <= 6


@pytest.mark.slow
def test_crash_between_outbound_post_and_ledger_write(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Outbounds.create
    calls: list[str] = []

    def create_then_crash(self: Outbounds, outbound: Any, **kwargs: Any) -> Any:
        created = original(self, outbound, **kwargs)
        calls.append(created.outbound_id)
        raise KeyboardInterrupt("process killed right after the POST")  # not an item-level error

    monkeypatch.setattr(Outbounds, "create", create_then_crash)
    with pytest.raises(KeyboardInterrupt):
        world.run(params=PARAMS.model_copy(update={"workers": 1, "chunk_size": 100}))
    assert len(calls) == 1
    number = world.state.data.ffn.outbounds[calls[0]]["merchantOutboundNumber"]
    assert world.store.orders([number])[number].status == "imported"  # the ledger never heard of it
    monkeypatch.setattr(Outbounds, "create", original)

    result = world.run()
    assert world.outbounds_per_number()[number] == 1  # adopted, not created again
    assert set(world.outbounds_per_number().values()) == {1}
    assert world.store.orders([number])[number].outbound_id == calls[0]
    assert result["counts"]["created"] == 14 and result["counts"]["adopted"] == 8


@pytest.mark.slow
def test_crash_after_claim_completed_repairs_the_ledger(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flush_fails(self: Any) -> None:
        raise KeyboardInterrupt("killed before the ledger write")

    monkeypatch.setattr(svc.Journal, "flush", flush_fails)
    with pytest.raises(KeyboardInterrupt):
        world.run(params=PARAMS.model_copy(update={"workers": 1, "chunk_size": 100}))
    monkeypatch.undo()
    created = world.outbounds_per_number()
    world.run()
    assert world.outbounds_per_number() == created  # every claim was DONE: nothing posted again
    ledger = world.store.orders(created)
    assert all(r.status == "outbound_created" for r in ledger.values() if r.wawi_order_id is not None)


@pytest.mark.slow
def test_insufficient_stock_is_held_then_released(world: World) -> None:
    order = world.orders[40]  # AU100040: valid, new
    skus = [line["SKU"] for line in world.state.data.wawi.line_items[40]]
    jfskus = {p["merchantSku"]: p["jfsku"] for p in world.state.data.ffn.products.values()}
    world.set_stock(jfskus[skus[0]], 0)
    first = world.run()
    assert first["held_by_reason"].get("insufficient_stock", 0) >= 1
    hold, comment = world.hold(order["Number"])
    assert hold == WAIT_FOR_GOODS and comment and "insufficient_stock" in comment
    assert world.outbounds_per_number()[order["Number"]] == 0

    world.set_stock(jfskus[skus[0]], 100)  # goods arrived
    second = world.run()
    assert second["counts"]["released"] >= 1 and second["counts"]["created"] >= 1
    hold, comment = world.hold(order["Number"])
    assert hold == 0 and comment and "FFN outbound" in comment and "on hold" not in comment
    assert world.outbounds_per_number()[order["Number"]] == 1
    events = [e for e, _ in world.store.order_events(order["Number"])]
    assert events == ["imported", "held", "released", "outbound_created"]


@pytest.mark.slow
def test_allocation_never_oversells_scarce_stock(world: World) -> None:
    for jfsku in list(world.state.data.ffn.stocks):
        world.set_stock(jfsku, 1)  # one free unit per warehouse: most orders compete
    result = world.run()
    assert result["counts"]["created"] >= 1 and result["held_by_reason"].get("insufficient_stock", 0) >= 1
    _never_oversold(world)
    # The plan never asked FFN for more than it had: no create was refused for stock. The only 400s
    # allowed are page sizes a strict sandbox refused (each halved by its client) and, where the sandbox
    # takes only documented $filter operators, its refusal of the first 'or' chain.
    refused_sizes = world.ffn.page_size.refusals + world.wawi.page_size.refusals
    assert world.state.runtime["requests"]["by_status"].get("400", 0) == refused_sizes + _or_refusals(world)


@pytest.mark.slow
def test_bad_input_orders(world: World) -> None:
    stocked = world.skus_in_stock(3)
    assert len(stocked) >= 40
    empty = dict.fromkeys(("Street", "City", "PostalCode", "CountryIso", "LastName", "Company"), "")
    bad_addr = world.add_order(
        "BAD-ADDR",
        [{"SKU": stocked[0][0], "Quantity": 1.0}],
        Shipmentaddress=dict(empty),
        BillingAddress=dict(empty),
    )
    bad_sku = world.add_order(
        "BAD-SKU", [{"SKU": "NOPE-1", "Quantity": 1.0}, {"SKU": stocked[1][0], "Quantity": 1.0}]
    )
    bad_qty = world.add_order(
        "BAD-QTY", [{"SKU": stocked[2][0], "Quantity": 0.0}, {"SKU": stocked[3][0], "Quantity": -2.0}]
    )
    big = [{"SKU": stocked[i % 40][0], "Quantity": 1.0, "Name": f"Pos {i}"} for i in range(120)]
    world.add_order("BIG-120", big)
    first_dup = world.add_order("DUP-1", [{"SKU": stocked[4][0], "Quantity": 1.0}])
    second_dup = world.add_order("DUP-1", [{"SKU": stocked[5][0], "Quantity": 1.0}])
    result = world.run()
    assert result["counts"]["failed"] == 0
    codes = {f"{row['order_number']}#{row['order_id']}": row["codes"] for row in result["held"]}
    assert "ADDRESS_INCOMPLETE" in codes[f"BAD-ADDR#{bad_addr}"]
    assert "SKU_UNKNOWN" in codes[f"BAD-SKU#{bad_sku}"]
    assert "QUANTITY_INVALID" in codes[f"BAD-QTY#{bad_qty}"]
    assert codes[f"DUP-1#{second_dup}"] == "DUPLICATE_ORDER_NUMBER"
    # The 120-line order ships as one outbound with every line; the first DUP-1 keeps the number.
    big_outbound = next(o for o in world.outbounds if o["merchantOutboundNumber"] == "BIG-120")
    assert len(big_outbound["items"]) == 120
    assert world.outbounds_per_number()["DUP-1"] == 1
    assert world.store.orders(["DUP-1"])["DUP-1"].wawi_order_id == first_dup
    assert world.orders[second_dup]["SalesOrderShippingDetail"]["OnHoldReasonId"] == ADDRESS_CHECK
    # The second order's hold is journaled under the number; the chunks run in parallel, so its place
    # among the first order's events varies, but it never takes the ledger row over.
    assert "duplicate_held" in [e for e, _ in world.store.order_events("DUP-1")]
    assert world.store.orders(["DUP-1"])["DUP-1"].status == "outbound_created"
    assert "QUANTITY_INVALID" in (world.hold("BAD-QTY")[1] or "")


@pytest.mark.slow
def test_shipped_outbound_records_tracking_and_writes_back(world: World) -> None:
    sent: list[tuple[str, str, str]] = []

    class Mail:
        def send(
            self, to: Any, subject: str, body: str, *, format: Any = "text", idempotency_key: str
        ) -> Any:
            sent.append(("email", str(to), idempotency_key))
            return type("Sent", (), {"message_id": f"<{idempotency_key}>"})()

    class Hook:
        def send(self, payload: Any = None, *, idempotency_key: str) -> Any:
            sent.append(("webhook", payload["event"], idempotency_key))
            return type("Response", (), {"status_code": 200})()

    notifier = svc.Notifier(world.store, "run-1", email=Mail(), webhook=Hook())
    world.run(notifier=notifier)
    confirmations = [s for s in sent if s[0] == "email"]
    assert len(confirmations) == 15  # one per created order (adopted ones were confirmed elsewhere)
    assert Counter(s[1] for s in sent if s[0] == "webhook") == {"order.outbound_created": 15, "order.held": 2}

    record = world.store.orders(["AU100040"])["AU100040"]
    sandbox_ffn.ship_outbound(world.state, str(record.outbound_id), tracking="00340434999999999999")
    sent.clear()
    result = world.run(notifier=svc.Notifier(world.store, "run-2", email=Mail(), webhook=Hook()))
    assert result["counts"]["shipped"] == 1
    record = world.store.orders(["AU100040"])["AU100040"]
    assert record.status == "shipped" and record.tracking == "00340434999999999999"
    order = world.orders[40]
    assert "tracking 00340434999999999999" in order["Comment"]
    assert order["SalesOrderShippingDetail"]["ShippingDate"]
    assert [s[2] for s in sent] == ["order:AU100040:shipped:email", "order:AU100040:shipped:webhook"]
    sent.clear()
    world.run(notifier=svc.Notifier(world.store, "run-3", email=Mail(), webhook=Hook()))
    assert sent == []  # nothing twice


@pytest.mark.slow
def test_dry_run_writes_nothing(world: World) -> None:
    before = json.dumps(world.orders, sort_keys=True)
    outbounds = len(world.outbounds)
    result = world.run(dry_run=True)
    assert result["dry_run"] and result["counts"]["created"] == 15 and result["counts"]["held"] == 2
    assert json.dumps(world.orders, sort_keys=True) == before and len(world.outbounds) == outbounds
    assert world.store.orders(["AU100040", "AU100008"]) == {}
    assert world.store.get_watermark(svc.WAWI_WATERMARK) is None


@pytest.mark.slow
def test_second_run_while_the_lease_is_held_does_nothing(world: World) -> None:
    assert world.store.acquire_lease(svc.LEASE_NAME, "other-run", timedelta(minutes=5))
    result = world.run(run_id="me")
    assert result["skipped"] and result["counts"] == {}
    assert world.store.orders(["AU100040"]) == {}


@pytest.mark.slow
def test_an_order_on_hold_by_a_human_is_left_alone(world: World) -> None:
    world.orders[40]["SalesOrderShippingDetail"]["OnHoldReasonId"] = CUSTOMER_QUESTION
    result = world.run()
    assert result["counts"]["on_hold_wawi"] == 1
    assert world.outbounds_per_number()["AU100040"] == 0 and world.hold("AU100040")[0] == CUSTOMER_QUESTION
    world.orders[40]["SalesOrderShippingDetail"]["OnHoldReasonId"] = 0  # the question is answered
    second = world.run(since=None)  # the open order is re-read although the watermark moved on
    assert second["counts"]["created"] == 1 and world.outbounds_per_number()["AU100040"] == 1


@pytest.mark.slow
def test_flaky_apis_5xx_and_dropped_connections_everywhere(world: World) -> None:
    set_profile(world.state, "flaky")  # 10% 5xx and 5% dropped connections on every API
    result = world.run()
    assert (result["counts"]["created"], result["counts"]["held"], result["counts"]["adopted"]) == (15, 2, 7)
    assert set(world.outbounds_per_number().values()) == {1}
    assert world.state.runtime["faults"]["error"] + world.state.runtime["faults"]["drop"] > 0


@pytest.mark.slow
def test_rate_limits_on_every_api(world: World) -> None:
    """The client's own limit (500/s here) is above the server's: the server's 429s do the throttling.

    20 requests per 2 s: a loaded machine that makes only a dozen requests a second still meets it.
    """
    rules = tuple(
        FaultRule(fault="rate_limit", route=r, limit=20, window_seconds=2)
        for r in ("/api/v1/merchant", "/wawi")
    )
    set_profile(world.state, FaultProfile(name="tight", rules=rules))
    result = world.run()
    assert result["counts"]["created"] == 15 and world.state.runtime["faults"]["rate_limit"] > 0
    assert set(world.outbounds_per_number().values()) == {1}


@pytest.mark.slow
def test_token_expires_mid_batch(world: World) -> None:
    set_profile(world.state, "expiring-tokens")  # every 7th FFN request finds its token expired
    result = world.run()
    assert result["counts"]["created"] == 15 and world.state.runtime["faults"]["expire_tokens"] > 0


@pytest.mark.slow
def test_lost_create_responses_never_make_a_second_outbound(tmp_path: Path, sandbox_config: Any) -> None:
    """FFN creates every outbound but the answer never arrives: the client finds it by number instead."""
    for world in _world(tmp_path, sandbox_config()):
        rule = FaultRule(
            fault="drop", route="^/api/v1/merchant/outbounds$", methods=("POST",), after_response=True
        )
        set_profile(world.state, FaultProfile(name="lost-answers", rules=(rule,)))
        result = world.run(since=DEFAULT_BASE_DATE - timedelta(hours=20))
        assert result["counts"]["created"] >= 2 and world.state.runtime["faults"]["drop"] >= 2
        assert set(world.outbounds_per_number().values()) == {1}


@pytest.mark.slow
def test_params_reject_unknown_hold_reason(world: World) -> None:
    params = PARAMS.model_copy(update={"on_hold_reasons": {"*": "Gibt es nicht"}})
    with pytest.raises(svc.ConfigurationError, match="Gibt es nicht"):
        world.run(params=params)
    assert world.store.get_watermark(svc.WAWI_WATERMARK) is None


def test_tagged_comment_keeps_what_people_wrote() -> None:
    text = svc.tagged_comment("Bitte Geschenkpapier\n[jtl-automator] on hold: X", "FFN outbound 1")
    assert text == "Bitte Geschenkpapier\n[jtl-automator] FFN outbound 1"
    assert svc.tagged_comment(None, "a  b\nc") == "[jtl-automator] a b c"


@pytest.mark.slow
def test_watermark_window(world: World) -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert svc.import_window(world.store, PARAMS, None, now) == now - timedelta(days=7)
    world.store.advance_watermark(svc.WAWI_WATERMARK, "2026-11-23T11:00:00+00:00")
    assert svc.import_window(world.store, PARAMS, None, now) == datetime(2026, 11, 23, 10, 50, tzinfo=UTC)
    world.store.record_orders(
        [{"order_number": "H1", "status": "held", "order_date": now - timedelta(days=3)}], event="held"
    )
    assert svc.import_window(world.store, PARAMS, None, now) == now - timedelta(days=3)
    world.store.record_orders(
        [{"order_number": "H2", "status": "held", "order_date": now - timedelta(days=90)}], event="held"
    )
    assert svc.import_window(world.store, PARAMS, None, now) == now - timedelta(days=30)


@pytest.mark.slow
def test_a_partly_delivered_order_ships_only_the_open_rest_and_never_a_delivered_unit(world: World) -> None:
    (sku_a, _), (sku_b, _) = world.skus_in_stock(5)[:2]
    world.add_order(
        "PART-1",
        [
            {"SKU": sku_a, "Quantity": 5.0, "QuantityDelivered": 2.0},
            {"SKU": sku_b, "Quantity": 1.0, "QuantityDelivered": 1.0},
        ],
    )
    world.run()
    (outbound,) = [o for o in world.outbounds if o["merchantOutboundNumber"] == "PART-1"]
    assert [(i["merchantSku"], i["quantity"]) for i in outbound["items"]] == [(sku_a, 3)]
    world.run(since=SINCE)
    assert world.outbounds_per_number()["PART-1"] == 1
    (_, detail) = next(e for e in world.store.order_events("PART-1") if e[0] == "outbound_created")
    assert detail["open_quantities_only"] is True


@pytest.mark.slow
def test_partial_orders_are_held_when_the_merchant_says_so(world: World) -> None:
    (sku_a, _) = world.skus_in_stock(5)[0]
    world.add_order("PART-2", [{"SKU": sku_a, "Quantity": 4.0, "QuantityDelivered": 1.0}])
    result = world.run(params=PARAMS.model_copy(update={"partial_delivery": "hold"}))
    assert result["held_by_reason"].get("PARTIALLY_DELIVERED") == 1
    assert world.outbounds_per_number()["PART-2"] == 0
    assert "PARTIALLY_DELIVERED" in (world.hold("PART-2")[1] or "")


@pytest.mark.slow
def test_an_order_delivered_line_by_line_is_left_alone(world: World) -> None:
    (sku_a, _) = world.skus_in_stock(2)[0]
    world.add_order("PART-3", [{"SKU": sku_a, "Quantity": 2.0, "QuantityDelivered": 2.0}])
    result = world.run()
    assert result["counts"]["skipped_delivered"] >= 1
    assert world.outbounds_per_number()["PART-3"] == 0 and world.hold("PART-3") == (None, None)


@pytest.mark.slow
def test_a_release_wawi_does_not_apply_is_caught_not_assumed(world: World) -> None:
    """The sandbox's binder ignores nulls (its documented assumption), so a null release keeps the hold."""
    order = world.orders[40]
    skus = [line["SKU"] for line in world.state.data.wawi.line_items[40]]
    jfskus = {p["merchantSku"]: p["jfsku"] for p in world.state.data.ffn.products.values()}
    world.set_stock(jfskus[skus[0]], 0)
    world.run()
    assert world.hold(order["Number"])[0] == WAIT_FOR_GOODS
    world.set_stock(jfskus[skus[0]], 100)
    result = world.run(params=PARAMS.model_copy(update={"hold_release_value": None}))
    assert result["counts"]["writeback_failed"] >= 1 and result["counts"]["released"] == 0
    assert world.hold(order["Number"])[0] == WAIT_FOR_GOODS  # still held in Wawi, and the run says so
    assert world.outbounds_per_number()[order["Number"]] == 1
    events = dict(world.store.order_events(order["Number"]))
    assert "hold_release_value to 0" in events["writeback_failed"]["error"]


@pytest.mark.slow
def test_an_order_number_longer_than_ffn_takes_is_one_bad_order_on_both_databases(
    tmp_path: Path, sandbox_config: Any, store_url: str
) -> None:
    """PostgreSQL refuses values longer than a column, SQLite does not: one bad order, never a failed run."""
    for world in _world(tmp_path, sandbox_config(), store_url):
        (sku, _) = world.skus_in_stock(2)[0]
        world.add_order("N" * 300, [{"SKU": sku, "Quantity": 1.0}])
        result = world.run()
        assert result["counts"]["created"] == 15  # everything else went on as usual
        (row,) = [r for r in result["held"] if r["order_number"] == "N" * 300]
        assert "ORDER_NUMBER_TOO_LONG" in row["codes"]
        assert world.outbounds_per_number()["N" * 300] == 0


def _outbound_of(world: World, number: str) -> dict[str, Any]:
    (outbound,) = [o for o in world.outbounds if o["merchantOutboundNumber"] == number]
    return outbound


@pytest.mark.slow
def test_an_order_cancelled_in_wawi_after_its_outbound_cancels_the_outbound_once(world: World) -> None:
    world.run()
    order = world.orders[40]
    assert _outbound_of(world, order["Number"])["status"] == "Pending"
    order["IsCancelled"] = True  # the customer cancelled in the shop; Wawi took it over
    result = world.run(params=PARAMS)
    assert result["counts"]["outbound_cancelled"] == 1
    assert _outbound_of(world, order["Number"])["status"] == "Canceled"
    assert world.store.orders([order["Number"]])[order["Number"]].status == "cancelled"
    again = world.run(params=PARAMS)
    assert again["counts"]["outbound_cancelled"] == 0 and again["counts"]["change_alerted"] == 0
    events = [e for e, _ in world.store.order_events(order["Number"])]
    assert events[-2:] == ["changed_after_outbound", "outbound_cancelled"]


@pytest.mark.slow
def test_a_new_address_in_wawi_is_carried_to_the_outbound_once(world: World) -> None:
    world.run()
    order = world.orders[40]
    order["Shipmentaddress"] = {**order["Shipmentaddress"], "Street": "Neue Straße 7", "City": "Leipzig"}
    result = world.run(params=PARAMS)
    assert result["counts"]["outbound_readdressed"] == 1
    address = _outbound_of(world, order["Number"])["shippingAddress"]
    assert (address["street"], address["city"]) == ("Neue Straße 7", "Leipzig")
    assert world.run(params=PARAMS)["counts"]["outbound_readdressed"] == 0  # the new address is the sent one


@pytest.mark.slow
def test_a_change_ffn_no_longer_allows_alerts_a_person_once(world: World) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    class Hook:
        def send(self, payload: Any = None, *, idempotency_key: str) -> Any:
            sent.append((idempotency_key, payload))
            return type("Response", (), {"status_code": 200})()

    world.run()
    order = world.orders[40]
    _outbound_of(world, order["Number"])["status"] = "Pickprocess"  # the fulfiller is picking it
    order["IsCancelled"] = True
    for run in ("run-1", "run-2"):
        result = world.run(params=PARAMS, notifier=svc.Notifier(world.store, run, webhook=Hook()))
    assert result["counts"]["change_alerted"] == 0  # the second run: already told
    alerts = [p for k, p in sent if p["event"] == "order.changed_after_outbound"]
    assert (
        len(alerts) == 1
        and alerts[0]["outbound_status"] == "Pickprocess"
        and alerts[0]["change"] == "cancelled"
    )
    assert _outbound_of(world, order["Number"])["status"] == "Pickprocess"  # nothing forced


@pytest.mark.slow
def test_a_dry_run_reports_changes_after_the_outbound_and_writes_nothing(world: World) -> None:
    world.run()
    order = world.orders[40]
    order["IsCancelled"] = True
    result = world.run(params=PARAMS, dry_run=True)
    assert result["counts"].get("would_amend_cancelled") == 1
    assert _outbound_of(world, order["Number"])["status"] == "Pending"
