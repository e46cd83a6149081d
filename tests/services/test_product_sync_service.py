"""Product sync without Prefect: the real clients over HTTP against the sandbox, a real SQLite ledger."""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pandas as pd
import pytest

from jtl_automator.clients.errors import TransientError
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.ffn import products as ffn_products
from jtl_automator.sandbox.ffn.common import FfnError, mark_changed
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.services import product_sync as svc
from jtl_automator.services.product_sync import chunks, reads
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from jtl_automator.transforms.product_sync import FulfilmentRule

PRODUCTS = "^/api/v1/merchant/products$"
SKUS = 24
GONE = 3  # FFN products the tests delete, so the sync has something to create


@dataclass
class World:
    state: Any
    store: StateStore
    ffn: FfnClient
    wawi: WawiClient
    tmp: Path
    base: str

    @property
    def data(self) -> Any:
        return self.state.data

    def run(self, **kwargs: Any) -> dict[str, Any]:
        return svc.run_product_sync(self.wawi, self.ffn, self.store, kwargs.pop("params", None), **kwargs)

    def products_per_sku(self) -> Counter[str]:
        return Counter(p["merchantSku"] for p in self.data.ffn.products.values())

    def product(self, sku: str) -> dict[str, Any]:
        (found,) = [p for p in self.data.ffn.products.values() if p["merchantSku"] == sku]
        return dict(found)

    def item(self, sku: str) -> dict[str, Any]:
        return dict(next(i for i in self.data.wawi.items.values() if i["SKU"] == sku))


def _world(tmp: Path, config: SandboxConfig, **settings: Any) -> Iterator[World]:
    data = generate(seed=5, skus=SKUS, orders=5, customers=5)
    for jfsku in list(data.ffn.products)[:GONE]:
        del data.ffn.products[jfsku]
    app = create_app(data, config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=20, ffn_rate_per_second=500, wawi_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05, **settings)
        conf = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp / 'state.db'}")
        ffn, wawi = FfnClient.from_settings(conf, store), WawiClient.from_settings(conf)
        with ffn, wawi:
            yield World(app.state.sandbox, store, ffn, wawi, tmp, server.base_url)
        store.dispose()


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config())


def _in_sync(world: World) -> None:
    again = world.run(full=True)
    assert again["counts"]["created"] == again["counts"]["updated"] == 0, again
    assert set(world.products_per_sku().values()) == {1}


# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_full_sync_creates_the_missing_updates_the_drifted_and_a_rerun_writes_nothing(world: World) -> None:
    result = world.run(full=True)
    counts = result["counts"]
    assert counts["created"] == GONE and counts["updated"] > 0 and counts["rejected"] == 0
    assert counts["created"] + counts["updated"] + counts["unchanged"] == SKUS
    assert world.store.get_watermark(svc.WATERMARK) is not None
    created = result["created"][0]
    assert created["authorized"] == ["FULF"]
    assert world.data.ffn.product_authorizations[created["jfsku"]] == ["FULF"]
    item, product = world.item(created["merchant_sku"]), world.product(created["merchant_sku"])
    assert product["dimensions"] == {
        "length": round(item["Dimensions"]["Length"] / 100, 5),
        "width": round(item["Dimensions"]["Width"] / 100, 5),
        "height": round(item["Dimensions"]["Height"] / 100, 5),
    }
    assert product["weight"] == item["Weights"]["ShippingWeight"]
    assert product["netWeight"] == item["Weights"]["ItemWeigth"]
    _in_sync(world)


@pytest.mark.slow
def test_dry_run_writes_the_diff_workbook_and_nothing_else(world: World) -> None:
    before = copy.deepcopy(world.data.ffn.products)
    out = world.tmp / "diff.xlsx"
    result = world.run(full=True, dry_run=True, output=str(out))
    assert result["workbook"] == str(out) and result["counts"]["created"] == GONE
    assert world.data.ffn.products == before
    assert world.store.get_watermark(svc.WATERMARK) is None
    assert world.store.pending_side_effects(svc.KIND) == []
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Changes", "Not synced", "Vanished"]
    rows = list(book["Changes"].iter_rows(values_only=True))
    assert rows[0] == ("SKU", "jfsku", "Wawi item", "Action", "Field (FFN)", "Before (FFN)", "After (Wawi)")
    assert len(rows) - 1 == result["field_changes"]
    updates = [r for r in rows[1:] if r[3] == "update"]
    sku, jfsku, item_id, _, field, before_value, after_value = updates[0]
    product, item = world.product(sku), world.item(sku)
    assert jfsku == product["jfsku"] and item_id == item["Id"] and field == "originCountry"
    assert (before_value, after_value) == (product["originCountry"], item["CountryOfOrigin"])
    creates = {r[0] for r in rows[1:] if r[3] == "create"}
    assert len(creates) == GONE
    markdown = svc.summary_markdown(result)
    assert "| would be created | 3 |" in markdown and "## Would be created (3)" in markdown
    assert f"Diff workbook: `{out}`" in markdown


@pytest.mark.slow
def test_the_summary_shows_the_first_rows_of_each_kind(world: World) -> None:
    result = world.run(full=True, params=svc.ProductSyncParams(first_rows=2))
    markdown = svc.summary_markdown(result, first_rows=2)
    assert "| created | 3 |" in markdown and "## Created (first 2 of 3)" in markdown
    assert f"## Updated (first 2 of {result['counts']['updated']})" in markdown
    assert len(result["created"]) == 2 and "Rejected" not in markdown


@pytest.mark.slow
def test_bad_items_are_named_skipped_and_the_batch_goes_on(world: World) -> None:
    items = sorted(world.data.wawi.items.values(), key=lambda i: i["Id"])
    lost_sku, items[5]["SKU"] = items[5]["SKU"], ""
    items[6]["Identifiers"]["Gtin"] = "4006381333932"
    items[7]["Dimensions"]["Length"] = -12
    items[8]["Weights"]["ShippingWeight"] = 4500
    stray = copy.deepcopy(next(iter(world.data.ffn.products.values())))
    stray.update(jfsku="MERCSTRAY01", merchantSku="NICHT-IN-WAWI")
    world.data.ffn.products["MERCSTRAY01"] = stray
    mark_changed(world.state)
    result = world.run(full=True)
    reasons = {r["item_id"]: r["reason"] for r in result["not_synced"]}
    assert "no SKU" in reasons[items[5]["Id"]]
    assert "'4006381333932' is not a GTIN" in reasons[items[6]["Id"]]
    assert "Dimensions.Length is negative" in reasons[items[7]["Id"]]
    assert "above the plausible 1000 kg" in reasons[items[8]["Id"]]
    vanished = {r["merchant_sku"]: r for r in result["vanished"]}
    assert vanished["NICHT-IN-WAWI"] == {
        "merchant_sku": "NICHT-IN-WAWI",
        "jfsku": "MERCSTRAY01",
        "item_id": None,
        "reason": "no Wawi item with this SKU",
    }
    assert set(vanished) == {"NICHT-IN-WAWI", lost_sku}  # the item without SKU no longer carries its SKU
    assert "MERCSTRAY01" in world.data.ffn.products  # never deleted
    assert result["counts"]["skipped"] == 4 and result["counts"]["created"] + result["counts"]["updated"] > 0


@pytest.mark.slow
def test_an_item_leaving_the_rule_is_reported_vanished_by_the_incremental_run(world: World) -> None:
    world.run(full=True)
    sku = sorted(world.products_per_sku())[0]
    item = world.item(sku)
    world.data.wawi.items[item["Id"]].update(IsActive=False, Changed=datetime.now(UTC).isoformat())
    later = datetime.now(UTC) + timedelta(minutes=1)
    result = world.run(now=later)
    assert result["mode"] == "incremental"
    assert result["vanished"] == [
        {
            "merchant_sku": sku,
            "jfsku": world.product(sku)["jfsku"],
            "item_id": item["Id"],
            "reason": f"Wawi item {item['Id']}: inactive in Wawi (rule: active with inventory management)",
        }
    ]


@pytest.mark.slow
def test_incremental_reads_the_changed_items_and_moves_the_watermark_after_the_writes(world: World) -> None:
    world.run(full=True)
    mark = world.store.get_watermark(svc.WATERMARK)
    sku = sorted(world.products_per_sku())[1]
    item = world.item(sku)
    edited = world.data.wawi.items[item["Id"]]  # as a Wawi user edits it: Changed moves
    edited["Name"] = "Holzkiste neu"
    edited["Dimensions"]["Length"] = 42.5
    edited["Changed"] = datetime.now(UTC).isoformat()
    later = datetime.now(UTC) + timedelta(minutes=1)
    result = world.run(now=later)
    assert result["mode"] == "incremental" and result["requests"]["wawi_items"] == 1
    assert result["counts"]["updated"] == 1
    assert result["updated"][0]["changed"] == "name,dimensions.length"
    assert (
        world.product(sku)["name"] == "Holzkiste neu" and world.product(sku)["dimensions"]["length"] == 0.425
    )
    assert (world.store.get_watermark(svc.WATERMARK) or "") > (mark or "")
    again = world.run(now=later + timedelta(minutes=1))  # the overlap reads the item again: nothing to do
    assert again["counts"]["updated"] == 0 and again["counts"]["unchanged"] == 1


@pytest.mark.slow
def test_ffn_refusing_a_product_is_reported_with_its_error_and_the_batch_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create, real_patch = ffn_products.create_product, ffn_products.patch_product
    refused_sku = sorted({i["SKU"] for i in world.data.wawi.items.values()} - set(world.products_per_sku()))[
        0
    ]

    def create(state: Any, body: Any) -> Any:
        if body["merchantSku"] == refused_sku:
            raise FfnError(400, "Shared_ModelValidation", "identifier.ean is blocked for this merchant")
        return real_create(state, body)

    refused_jfsku = sorted(world.data.ffn.products)[0]

    def patch(state: Any, jfsku: str, body: Any) -> Any:
        if jfsku == refused_jfsku:
            raise FfnError(400, "Shared_OperationForbidden", "The product is locked by the fulfiller")
        return real_patch(state, jfsku, body)

    monkeypatch.setattr(ffn_products, "create_product", create)
    monkeypatch.setattr(ffn_products, "patch_product", patch)
    world.data.ffn.products[refused_jfsku]["name"] = "drifted"
    result = world.run(full=True)
    rejected = {r["merchant_sku"]: r["reason"] for r in result["rejected"]}
    assert "identifier.ean is blocked for this merchant" in rejected[refused_sku]
    assert "Shared_ModelValidation" in rejected[refused_sku]
    locked_sku = world.data.ffn.products[refused_jfsku]["merchantSku"]
    assert "The product is locked by the fulfiller" in rejected[locked_sku]
    assert result["counts"]["created"] == GONE - 1 and result["counts"]["rejected"] == 2
    assert world.store.side_effect(svc.creation_key(refused_sku)).state.value == "failed"
    assert world.store.get_watermark(svc.WATERMARK) is not None  # every write of the batch is recorded
    monkeypatch.setattr(ffn_products, "create_product", real_create)
    assert world.run(full=True)["counts"]["created"] == 1  # the next run tries the refused one again


@pytest.mark.slow
def test_lost_create_answers_never_make_a_second_product(world: World) -> None:
    rule = FaultRule(fault="drop", route=PRODUCTS, methods=("POST",), after_response=True)
    set_profile(world.state, FaultProfile(name="lost-answers", rules=(rule,)))
    result = world.run(full=True)
    assert world.state.runtime["faults"]["drop"] == GONE == result["counts"]["created"]
    set_profile(world.state, "none")
    _in_sync(world)


@pytest.mark.slow
def test_crash_between_the_post_and_the_record_is_settled_next_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_complete = world.store.complete

    def crash(key: str, result: Any = None) -> None:
        if key.startswith(svc.KIND + ":"):
            raise SystemExit("killed after the POST, before the record")
        real_complete(key, result)

    monkeypatch.setattr(world.store, "complete", crash)
    with pytest.raises(SystemExit):
        world.run(full=True, params=svc.ProductSyncParams(workers=1))
    monkeypatch.setattr(world.store, "complete", real_complete)
    assert len(world.store.pending_side_effects(svc.KIND)) == 1
    assert world.store.get_watermark(svc.WATERMARK) is None
    world.store.break_lease(svc.LEASE_NAME)
    result = world.run(full=True)
    assert result["settled_from_earlier_runs"] == {"settled_created": 1}
    assert result["counts"]["created"] == GONE - 1
    assert world.store.pending_side_effects(svc.KIND) == []
    _in_sync(world)


@pytest.mark.slow
def test_a_failed_authorisation_is_tried_again_by_the_next_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ffn_products.authorize_product
    monkeypatch.setattr(
        ffn_products,
        "authorize_product",
        lambda *a, **k: (_ for _ in ()).throw(FfnError(400, "Shared_OperationForbidden", "fulfiller paused")),
    )
    result = world.run(full=True)
    assert result["counts"]["created"] == GONE and all(not r["authorized"] for r in result["created"])
    assert "fulfiller paused" in result["created"][0]["reason"]
    monkeypatch.setattr(ffn_products, "authorize_product", real)
    again = world.run(full=True)
    assert again["settled_from_earlier_runs"] == {"settled_authorized": GONE}
    assert all(world.data.ffn.product_authorizations[r["jfsku"]] == ["FULF"] for r in result["created"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(
            FaultProfile(
                name="tight",
                rules=tuple(
                    FaultRule(fault="rate_limit", route=r, limit=15, window_seconds=1)
                    for r in ("/api/v1/merchant", "/wawi")
                ),
            ),
            id="429",
        ),
        pytest.param(
            FaultProfile(
                name="5xx",
                rules=tuple(
                    FaultRule(fault="error", route=r, every=3, statuses=(500, 502, 503))
                    for r in ("/api/v1/merchant", "/wawi")
                ),
            ),
            id="5xx",
        ),
        pytest.param("expiring-tokens", id="expired-tokens"),
        pytest.param("flaky", id="flaky"),
    ],
)
def test_faults_on_every_api_end_in_sync_with_one_product_per_sku(world: World, profile: Any) -> None:
    set_profile(world.state, profile)
    # Expiring every token on every 7th request is denser than real expiry: with writers in parallel, a
    # request's one retry after its refresh can meet the next expiry. One writer, as order processing has.
    workers = 1 if profile == "expiring-tokens" else 4
    result = world.run(full=True, params=svc.ProductSyncParams(workers=workers))
    assert result["counts"]["created"] == GONE and result["counts"]["rejected"] == 0
    faults = world.state.runtime["faults"]
    assert sum(faults.values()) > 0
    set_profile(world.state, "none")
    _in_sync(world)


@pytest.mark.slow
def test_timeouts_are_retried_and_a_slow_create_is_not_doubled(tmp_path: Path, sandbox_config: Any) -> None:
    for world in _world(tmp_path, sandbox_config(), http_timeout_seconds=0.4):
        # Reads and PATCHes time out now and then (a late PATCH lands the same absolute values). A POST
        # that times out is the lost-answer case (dropped after the server acted, tested above): a POST
        # delayed past the timeout but still executing races its own lookup, in the sandbox as anywhere.
        rules = (
            FaultRule(
                fault="latency",
                route="/api/v1/merchant/products",
                methods=("GET", "PATCH"),
                every=3,
                latency_ms=900,
            ),
            FaultRule(fault="latency", route="/wawi", every=4, latency_ms=900),
        )
        set_profile(world.state, FaultProfile(name="slow-every-other", rules=rules))
        result = world.run(full=True)
        assert world.state.runtime["faults"]["latency"] > 0
        assert result["counts"]["created"] == GONE
        set_profile(world.state, "none")
        _in_sync(world)


@pytest.mark.slow
def test_a_batch_cut_short_by_ffn_outage_keeps_the_watermark(tmp_path: Path, sandbox_config: Any) -> None:
    for world in _world(tmp_path, sandbox_config(), retry_max_attempts=2):
        rule = FaultRule(
            fault="error", route="^/api/v1/merchant/products/", methods=("PATCH",), statuses=(503,)
        )
        set_profile(world.state, FaultProfile(name="patch-down", rules=(rule,)))
        with pytest.raises(TransientError):
            world.run(full=True, params=svc.ProductSyncParams(workers=1))
        assert world.store.get_watermark(svc.WATERMARK) is None
        set_profile(world.state, "none")
        world.store.break_lease(svc.LEASE_NAME)
        result = world.run(full=True)
        assert result["counts"]["created"] == 0 and result["counts"]["updated"] > 0  # created last time
        assert world.store.get_watermark(svc.WATERMARK) is not None


@pytest.mark.slow
def test_a_second_run_while_the_lease_is_held_does_nothing(world: World) -> None:
    assert world.store.acquire_lease(svc.LEASE_NAME, "other-run", timedelta(minutes=5))
    before = copy.deepcopy(world.data.ffn.products)
    result = world.run(full=True)
    assert "skipped" in result and world.data.ffn.products == before


@pytest.mark.slow
def test_property_rule_reads_properties_per_active_item(world: World) -> None:
    items = sorted(world.data.wawi.items.values(), key=lambda i: i["Id"])
    for item in items[:2]:
        world.data.wawi.item_properties[item["Id"]] = [{"PropertyId": 12, "PropertyValueId": 120}]
    rule = FulfilmentRule(kind="property", property_id=12)
    result = world.run(
        full=True, dry_run=True, output=str(world.tmp / "p.xlsx"), params=svc.ProductSyncParams(rule=rule)
    )
    assert result["requests"]["property_reads"] == SKUS
    assert result["counts"]["created"] + result["counts"]["updated"] + result["counts"]["unchanged"] == 2
    assert result["counts"]["vanished"] == SKUS - GONE - sum(
        i["SKU"] in world.products_per_sku() for i in items[:2]
    )


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", [SandboxConfig.strictest()], ids=["strict"])
def test_strict_ffn_two_products_with_one_sku_are_left_alone(tmp_path: Path, sandbox: SandboxConfig) -> None:
    for world in _world(tmp_path, sandbox):
        first = next(iter(world.data.ffn.products.values()))
        twin = copy.deepcopy(first)
        twin["jfsku"] = "MERCTWIN001"
        world.data.ffn.products["MERCTWIN001"] = twin
        first["name"] = twin["name"] = "drifted"
        mark_changed(world.state)
        result = world.run(full=True)
        (ambiguous,) = [r for r in result["not_synced"] if r["status"] == "ambiguous"]
        assert ambiguous["merchant_sku"] == first["merchantSku"]
        assert "several FFN products carry this merchantSku" in ambiguous["reason"]
        assert first["name"] == twin["name"] == "drifted"
        assert result["counts"]["created"] == GONE


@pytest.mark.slow
def test_ledger_keeps_a_rerun_from_creating_what_ffn_lists_late(world: World) -> None:
    result = world.run(full=True)
    created = result["created"][0]
    hidden = world.data.ffn.products.pop(created["jfsku"])  # FFN's listing does not show it (yet)
    mark_changed(world.state)
    again = world.run(full=True)
    (refused,) = again["rejected"]
    assert refused["result"] == "not_recreated" and "not created a second time" in refused["reason"]
    world.data.ffn.products[created["jfsku"]] = hidden
    mark_changed(world.state)
    assert world.products_per_sku()[created["merchant_sku"]] == 1


@pytest.mark.slow
def test_requests_go_out_with_the_correlation_id_and_no_secret_in_the_result(world: World) -> None:
    seen: list[httpx.Request] = []
    hook = world.ffn.core.http.event_hooks.setdefault("request", [])
    hook.append(seen.append)
    result = world.run(full=True, run_id="run-42")
    assert seen and all("X-Correlation-ID" in r.headers for r in seen)
    text = repr(result)
    assert world.state.config.ffn_client_secret not in text and world.state.config.wawi_api_key not in text


def test_the_workbook_goes_where_asked_a_dry_run_always_writes_one() -> None:
    moment = datetime(2026, 11, 26, 7, 5, 9, tzinfo=UTC)
    params = svc.ProductSyncParams()
    assert svc.workbook_path(params, moment, None, dry_run=True) == Path(
        "out/product-sync/product-sync-diff-20261126-070509.xlsx"
    )
    assert svc.workbook_path(params, moment, None, dry_run=False) is None
    assert svc.workbook_path(params, moment, "x.xlsx", dry_run=False) == Path("x.xlsx")


# --------------------------------------------------------------------------------------------------
# Overlapped stages: the supplier rows are read chunk by chunk, each chunk planned and written meanwhile.


def _recording(
    world: World, monkeypatch: pytest.MonkeyPatch, pause: float = 0.0
) -> list[tuple[str, float, str]]:
    """When each supplier read ends and each FFN write starts, with the SKU created (a slow Wawi PC:
    ``pause`` per read)."""
    events: list[tuple[str, float, str]] = []
    read, create, update = world.wawi.items.suppliers, world.ffn.products.create, world.ffn.products.update

    def slow_read(item_id: int) -> Any:
        time.sleep(pause)
        rows = read(item_id)
        events.append(("read", time.perf_counter(), ""))
        return rows

    def created(body: Any) -> Any:
        events.append(("write", time.perf_counter(), body["merchantSku"]))
        return create(body)

    def updated(*args: Any, **kwargs: Any) -> Any:
        events.append(("write", time.perf_counter(), ""))
        return update(*args, **kwargs)

    monkeypatch.setattr(world.wawi.items, "suppliers", slow_read)
    monkeypatch.setattr(world.ffn.products, "create", created)
    monkeypatch.setattr(world.ffn.products, "update", updated)
    return events


@pytest.mark.slow
def test_ffn_writes_begin_while_the_supplier_rows_are_still_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _recording(world, monkeypatch, pause=0.1)
    result = world.run(full=True, params=svc.ProductSyncParams(workers=4, chunk_items=4))
    reads = [t for kind, t, _ in events if kind == "read"]
    writes = [t for kind, t, _ in events if kind == "write"]
    assert len(reads) == result["requests"]["supplier_reads"] == SKUS
    assert len(writes) == result["counts"]["created"] + result["counts"]["updated"] > 0
    assert min(writes) < max(reads)  # not one stage after the other
    assert sum(t < max(reads) for t in writes) >= len(writes) // 2
    assert world.store.get_watermark(svc.WATERMARK) is not None


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """A run's summary without its wall time and the jfskus FFN gave the new products."""
    out = {k: v for k, v in result.items() if k != "seconds"}
    out["created"] = [{k: v for k, v in r.items() if k != "jfsku"} for r in result["created"]]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_chunked_runs_report_what_one_read_then_plan_then_write_reports(
    tmp_path: Path, sandbox_config: Any, dry_run: bool
) -> None:
    """The same seeded world synced twice: all supplier rows read before the plan (one chunk, as before the
    stages overlapped) and in chunks of 5 items: the same summary, diff and FFN afterwards."""
    moment = datetime.now(UTC)
    results, products = [], []
    for chunk in (None, 5):
        (tmp_path / f"chunk-{chunk}").mkdir()
        for world in _world(tmp_path / f"chunk-{chunk}", sandbox_config()):
            world.data.wawi.items[sorted(world.data.wawi.items)[4]]["Weights"]["ShippingWeight"] = -1  # bad
            params = svc.ProductSyncParams(chunk_items=chunk or 10_000, first_rows=50)
            out = str(world.tmp / "diff.xlsx")
            results.append(
                _comparable(world.run(full=True, dry_run=dry_run, params=params, now=moment, output=out))
            )
            results[-1]["workbook"] = list(openpyxl.load_workbook(out)["Changes"].iter_rows(values_only=True))
            products.append(
                sorted((p["merchantSku"], p.get("bundles")) for p in world.data.ffn.products.values())
            )
    one_chunk, chunked = results
    assert one_chunk["counts"]["created"] == GONE and one_chunk["counts"]["skipped"] == 1
    assert any(b for _, b in products[0])  # packaging units made bundles
    assert chunked == one_chunk and products[0] == products[1]


@pytest.mark.slow
def test_a_wawi_failure_mid_run_leaves_every_write_recorded_and_the_watermark_unmoved(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _recording(world, monkeypatch)
    recorded_read = world.wawi.items.suppliers
    calls = itertools.count()
    wrote = threading.Event()

    def failing_read(item_id: int) -> Any:
        if next(calls) >= 16:  # the PC goes away after 16 items, once the first chunks are being written
            wrote.wait(10)
            raise TransientError("Wawi unreachable")
        return recorded_read(item_id)

    real_update = world.ffn.products.update

    def update(*args: Any, **kwargs: Any) -> Any:
        try:
            return real_update(*args, **kwargs)
        finally:
            wrote.set()

    monkeypatch.setattr(world.wawi.items, "suppliers", failing_read)
    monkeypatch.setattr(world.ffn.products, "update", update)
    with pytest.raises(TransientError):
        world.run(full=True, params=svc.ProductSyncParams(workers=2, chunk_items=4))
    assert any(kind == "write" for kind, _, _ in events)  # writes went out before the failure
    assert world.store.get_watermark(svc.WATERMARK) is None
    # Every creation sent is recorded as done; none is left pending (claimed, never recorded) or failed.
    created = [sku for kind, _, sku in events if kind == "write" and sku]
    assert created and all(
        world.store.side_effect(svc.creation_key(sku)).state.value == "done" for sku in created
    )
    assert world.store.unfinished_side_effects(svc.KIND) == []
    assert (
        world.store.cached_items(None)
        and sum(r.suppliers is not None for r in world.store.cached_items(None)) == 16
    )
    monkeypatch.undo()
    result = world.run(full=True)  # the next run reads the 8 items left and finishes
    assert result["requests"]["supplier_reads"] == SKUS - 16
    assert world.store.get_watermark(svc.WATERMARK) is not None
    _in_sync(world)


@pytest.mark.slow
def test_a_warm_run_plans_in_one_chunk_without_supplier_reads(world: World) -> None:
    world.run(full=True)
    moment = datetime.now(UTC)
    stages = svc.LocalStages(
        world.wawi, world.ffn, world.store, svc.ProductSyncParams(), True, "warm", moment
    )
    chunks: list[svc.ChunkDone] = []
    inputs = stages.load()
    synced = svc.read_plan_write(
        world.wawi,
        world.ffn,
        world.store,
        stages.params,
        inputs,
        run_id="warm",
        lease=None,
        dry_run=True,
        on_chunk=chunks.append,
    )
    assert synced.chunks == 1 and synced.stats["supplier_reads"] == 0
    assert chunks == [svc.ChunkDone(1, 1, SKUS, 0, {"unchanged": SKUS})]


@pytest.mark.parametrize("full", [True, False], ids=["full", "incremental"])
def test_the_manufacturers_are_read_while_the_items_are(
    world: World, monkeypatch: pytest.MonkeyPatch, full: bool
) -> None:
    world.run(full=True)  # a watermark, so the incremental run is one
    spans: dict[str, tuple[float, float]] = {}
    pages, makers = world.wawi.items.iter_pages, world.wawi.manufacturers

    def slow_pages(*args: Any, **kwargs: Any) -> Iterator[Any]:
        started = time.perf_counter()
        time.sleep(0.3)  # a Wawi PC that takes its time over the first page
        yield from pages(*args, **kwargs)
        spans["items"] = (started, time.perf_counter())

    def slow_makers() -> Any:
        started = time.perf_counter()
        time.sleep(0.3)
        rows = list(makers())
        spans["manufacturers"] = (started, time.perf_counter())
        return rows

    monkeypatch.setattr(world.wawi.items, "iter_pages", slow_pages)
    monkeypatch.setattr(world.wawi, "manufacturers", slow_makers)
    result = world.run(full=full)
    assert result["mode"] == ("full" if full else "incremental")
    (items_start, items_end), (makers_start, makers_end) = spans["items"], spans["manufacturers"]
    assert makers_start < items_end and items_start < makers_end  # side by side, not one after the other


def _edit(world: World, count: int) -> list[int]:
    """A Wawi user edits ``count`` items (their Changed moves): an incremental run reads them again."""
    ids = sorted(world.data.wawi.items)[:count]
    for item_id in ids:
        world.data.wawi.items[item_id].update(Name=f"Kiste {item_id}", Changed=datetime.now(UTC).isoformat())
    return ids


def _count_supplier_reads(
    world: World, monkeypatch: pytest.MonkeyPatch, delay: float = 0.0
) -> list[tuple[int, float]]:
    """Every ``GET /items/{id}/suppliers`` from now on: (item id, when it was asked for)."""
    asked: list[tuple[int, float]] = []
    read = world.wawi.items.suppliers

    def suppliers(item_id: int, *args: Any, **kwargs: Any) -> Any:
        asked.append((item_id, time.perf_counter()))
        time.sleep(delay)
        return read(item_id, *args, **kwargs)

    monkeypatch.setattr(world.wawi.items, "suppliers", suppliers)
    return asked


@pytest.mark.slow
def test_an_incremental_runs_supplier_reads_start_before_the_manufacturers_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The changed items' supplier reads (the Wawi PC's longest part) start once the listing is in: the
    manufacturers' names, the frames and FFN's side come meanwhile. Each item is read once."""
    world.run(full=True)
    ids = _edit(world, 4)
    asked = _count_supplier_reads(world, monkeypatch)
    answered: list[float] = []
    makers = world.wawi.manufacturers

    def slow_makers() -> Any:
        time.sleep(0.5)  # a Wawi PC that takes its time over the manufacturers
        rows = list(makers())
        answered.append(time.perf_counter())
        return rows

    monkeypatch.setattr(world.wawi, "manufacturers", slow_makers)
    result = world.run(now=datetime.now(UTC) + timedelta(minutes=1))
    assert result["mode"] == "incremental" and result["requests"]["supplier_reads"] == len(ids)
    assert sorted(item_id for item_id, _ in asked) == ids  # once each: stage 3 took the reads started
    assert max(at for _, at in asked) < answered[0]


@pytest.mark.slow
def test_stage_3_reads_itself_when_the_started_reads_are_not_of_its_items_or_were_taken(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reads the load started are used only for the very items stage 3 would read, and only once: a
    cache that changed in between, or a retried stage, reads for itself (and nothing is lost)."""
    world.run(full=True)
    ids = _edit(world, 6)
    later = datetime.now(UTC) + timedelta(minutes=1)
    stages = svc.LocalStages(world.wawi, world.ffn, world.store, svc.ProductSyncParams(), False, "inc", later)
    inputs = stages.load()
    assert inputs.started is not None
    world.store.write_item_suppliers({ids[0]: []}, later)  # another run read one of them meanwhile
    synced = stages.apply(inputs, dry_run=True)
    assert synced.stats["supplier_reads"] == len(ids) - 1
    assert set(synced.plan["merchant_sku"]) >= {world.data.wawi.items[i]["SKU"] for i in ids}
    world.store.write_item_suppliers({i: [] for i in ids}, later - timedelta(days=30))  # all stale again
    asked = _count_supplier_reads(world, monkeypatch)
    again = stages.apply(inputs, dry_run=True)  # a retried stage 3: the started reads are gone
    assert again.stats["supplier_reads"] == len(ids)
    assert sorted(item_id for item_id, _ in asked) == ids


@pytest.mark.slow
def test_a_load_that_fails_after_its_supplier_reads_started_reads_no_more(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.run(full=True)
    ids = _edit(world, 12)
    asked = _count_supplier_reads(world, monkeypatch, delay=0.2)

    def broken(rows: Any) -> Any:
        time.sleep(0.1)  # the supplier reads are on the wire by now
        raise RuntimeError("framing failed")

    monkeypatch.setattr("jtl_automator.services.product_sync.reads.checked_products_frame", broken)
    stages = svc.LocalStages(
        world.wawi, world.ffn, world.store, svc.ProductSyncParams(workers=4), False, "inc", datetime.now(UTC)
    )
    with pytest.raises(RuntimeError, match="framing failed"):
        stages.load()
    time.sleep(0.6)  # what was queued would have been asked for by now
    assert len(asked) == 4 < len(ids)  # the four on the wire when it failed, none queued after


@pytest.mark.slow
def test_a_warm_full_run_reads_the_item_cache_beside_the_first_page_and_rewrites_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The item cache's rows are read while the first item page is on the wire; a listing that changed
    nothing writes no cache row again (the rows are only marked seen), and the plan takes the rows from
    the listing instead of reading them a second time."""
    world.run(full=True)
    events: list[tuple[str, float, Any]] = []
    pages, read, write = world.wawi.items.iter_pages, world.store.cached_items, world.store.write_item_cache

    def slow_pages(*args: Any, **kwargs: Any) -> Iterator[Any]:
        time.sleep(0.3)  # a Wawi PC that takes its time over the first page
        for page in pages(*args, **kwargs):
            events.append(("page", time.perf_counter(), len(page)))
            yield page

    def cached_items(*args: Any, **kwargs: Any) -> Any:
        events.append(("read", time.perf_counter(), (args, kwargs)))
        return read(*args, **kwargs)

    def write_item_cache(items: Any, at: datetime, *, complete: bool) -> int:
        events.append(("write", time.perf_counter(), len(items)))
        return write(items, at, complete=complete)

    monkeypatch.setattr(world.wawi.items, "iter_pages", slow_pages)
    monkeypatch.setattr(world.store, "cached_items", cached_items)
    monkeypatch.setattr(world.store, "write_item_cache", write_item_cache)
    result = world.run(full=True)

    assert result["counts"]["unchanged"] == SKUS
    reads = [(at, call) for kind, at, call in events if kind == "read"]
    first_page = min(at for kind, at, _ in events if kind == "page")
    assert [call for _, call in reads] == [((), {"suppliers": True})]  # every row once, none by SKU later
    assert reads[0][0] < first_page
    assert [n for kind, _, n in events if kind == "write"] == [0, 0]  # the page's rows, then the close
    rows = world.store.cached_items()
    assert len(rows) == SKUS and all(r.suppliers_at is not None for r in rows)


@pytest.fixture
def paged_world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    """The world with Wawi items in pages of 5 (five pages)."""
    yield from _world(tmp_path, sandbox_config(), wawi_page_size=5)


@pytest.fixture
def ffn_paged_world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    """The world with FFN's products in pages of 5."""
    yield from _world(tmp_path, sandbox_config(), ffn_page_size=5)


@pytest.mark.slow
def test_a_full_run_asks_for_ffns_product_pages_beside_the_first(
    ffn_paged_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the item cache knows the catalogue's size, FFN's product pages after the first go on the wire
    with it, not after its answer (the listing takes its slowest page, not two in a row)."""
    world = ffn_paged_world
    world.run(full=True)
    get_json = world.ffn.core.get_json
    asked: list[tuple[int, float, float]] = []

    def timed(path: str, params: Any = None) -> Any:
        began = time.perf_counter()
        skip = (params or {}).get("$skip")
        if path.endswith("/products") and skip == 0:
            time.sleep(0.3)  # the first page is slow
        try:
            return get_json(path, params)
        finally:
            if path.endswith("/products") and isinstance(skip, int):
                asked.append((skip, began, time.perf_counter()))

    monkeypatch.setattr(world.ffn.core, "get_json", timed)
    result = world.run(full=True)
    assert result["counts"]["created"] == result["counts"]["updated"] == 0
    first_answered = next(end for skip, _, end in asked if skip == 0)
    later = [began for skip, began, _ in asked if skip > 0]
    assert len(later) >= SKUS // 5 - 1 and sum(b < first_answered for b in later) >= 3


def _slow_later_pages(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each item page after the first comes 0.1 s after the one before: FFN's products are in by then."""
    pages = world.wawi.items.iter_pages

    def slow(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for number, page in enumerate(pages(*args, **kwargs)):
            time.sleep(0.1 if number else 0)
            yield page

    monkeypatch.setattr(world.wawi.items, "iter_pages", slow)


def _plan(world: World) -> pd.DataFrame:
    stages = svc.LocalStages(world.wawi, world.ffn, world.store, svc.ProductSyncParams(), True, "plan")
    return stages.apply(stages.load(), dry_run=True).plan


@pytest.mark.slow
def test_a_warm_full_run_plans_its_pages_while_the_next_are_read(
    paged_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every supplier row cached, each page is planned as it comes; stage 3 keeps those plans and
    plans only the rest, and the plan is the one made of every item at once."""
    world = paged_world
    world.run(full=True)
    _edit_fields(world)
    _slow_later_pages(world, monkeypatch)
    during: list[int] = []
    after: list[int] = []
    listed_plan, staged_plan = reads.plan_items, chunks.plan_items

    def listed(wawi: pd.DataFrame, *args: Any) -> pd.DataFrame:
        during.append(len(wawi))
        return listed_plan(wawi, *args)

    def staged(wawi: pd.DataFrame, *args: Any) -> pd.DataFrame:
        after.append(int(wawi["in_scope"].sum()))
        return staged_plan(wawi, *args)

    monkeypatch.setattr(reads, "plan_items", listed)
    monkeypatch.setattr(chunks, "plan_items", staged)
    plan = _plan(world)
    assert len(during) >= 3 and sum(during) + sum(after) == len(plan[plan["status"] != "vanished"])
    assert sum(after) < sum(during)  # the pages that came before FFN's products, and the last ones

    monkeypatch.setattr(reads.PlannedPages, "usable", lambda *_: [])  # every item planned in stage 3
    pd.testing.assert_frame_equal(_plan(world), plan)
    assert set(plan["status"]) >= {"update", "unchanged"}


@pytest.mark.slow
def test_a_page_planned_during_the_listing_is_planned_again_when_its_sku_is_shared(
    paged_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two items on different pages carry one SKU: only the whole listing shows it, so the page's plan
    (made before) is dropped and both items are invalid, as in a plan of every item at once."""
    world = paged_world
    first, later = sorted(world.data.wawi.items)[0], sorted(world.data.wawi.items)[-1]
    world.data.wawi.items[later]["SKU"] = world.data.wawi.items[first]["SKU"]
    world.run(full=True)
    _slow_later_pages(world, monkeypatch)
    plan = _plan(world)
    shared = plan[plan["item_id"].isin([first, later])]
    assert list(shared["status"]) == ["invalid", "invalid"]
    assert shared["reason"].str.startswith("SKU carried by several Wawi items").all()


def _edit_fields(world: World) -> None:
    """Two items' names change in Wawi without their Changed moving: FFN's names are then out of date."""
    for item_id in sorted(world.data.wawi.items)[::10][:2]:
        world.data.wawi.items[item_id]["Name"] = f"Neu {item_id}"
