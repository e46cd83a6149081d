"""The Wawi item cache: its store on SQLite and PostgreSQL, and its freshness rule against the sandbox.

The HTTP tests count the requests the sandbox served per path and query (a recording middleware), so
"lists no items" means no ``GET …/v1/items`` without ``changedSince``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.data import iso_now
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.services import replenishment
from jtl_automator.services import stock_sync as svc
from jtl_automator.services.wawi_item_cache import FULL_MARK, WawiItemCache
from jtl_automator.settings import Settings
from jtl_automator.store import CachedItem, StateStore, iso

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)

# -- the store, on both databases ------------------------------------------------------------------


@pytest.mark.slow
def test_item_cache_rows_round_trip_and_a_complete_listing_drops_deleted_items(store_url: str) -> None:
    store = StateStore(store_url)
    rows = [
        CachedItem(1, "A-1", True, 3.0, "2026-11-01T00:00:00"),
        CachedItem(2, "B-2", False, None, "2026-11-01T00:00:00"),
        CachedItem(3, None, True),
    ]
    assert store.write_item_cache(rows, T0, complete=True) == 3
    got = {r.item_id: r for r in store.cached_items()}
    assert got[1].sku == "A-1" and got[1].inventory_managed and got[1].procurement_time == 3.0
    assert got[2].inventory_managed is False and got[1].seen_at == T0
    assert [r.item_id for r in store.cached_items({"B-2", "nope"})] == [2]

    store.write_item_suppliers({1: [{"SupplierId": 7, "IsStandard": True}], 99: []}, T0)
    assert store.cached_items({"A-1"})[0].suppliers == [{"SupplierId": 7, "IsStandard": True}]
    assert store.cached_items({"A-1"})[0].suppliers_at == T0

    later = T0 + timedelta(hours=1)
    # incremental: item 2 switched off... and renamed; item 1 unchanged keeps its suppliers' time
    store.write_item_cache(
        [CachedItem(2, "B-2-new", False, None, "2026-11-02T00:00:00")], later, complete=False
    )
    assert {r.item_id for r in store.cached_items()} == {1, 2, 3}
    assert store.cached_items({"B-2"}) == [] and store.cached_items({"B-2-new"})[0].item_id == 2

    # complete listing without item 3 (deleted in Wawi); item 1 changed: its suppliers are read again
    store.write_item_cache(
        [CachedItem(1, "A-1", False, 3.0, "2026-11-03T00:00:00"), CachedItem(2, "B-2-new", False)],
        later + timedelta(hours=1),
        complete=True,
    )
    got = {r.item_id: r for r in store.cached_items()}
    assert set(got) == {1, 2}
    assert got[1].inventory_managed is False
    assert got[1].suppliers == [{"SupplierId": 7, "IsStandard": True}] and got[1].suppliers_at is None
    store.dispose()


@pytest.mark.slow
def test_item_cache_unchanged_item_keeps_its_suppliers_time(store_url: str) -> None:
    store = StateStore(store_url)
    store.write_item_cache([CachedItem(5, "X", True, None, "c1")], T0, complete=True)
    store.write_item_suppliers({5: []}, T0)
    store.write_item_cache([CachedItem(5, "X", True, None, "c1")], T0 + timedelta(hours=2), complete=True)
    assert store.cached_items({"X"})[0].suppliers_at == T0
    # An item Wawi never changed (no Changed at all) keeps its rows too: empty equals empty.
    store.write_item_cache([CachedItem(6, "Y", True, None, None)], T0, complete=False)
    store.write_item_suppliers({6: []}, T0)
    store.write_item_cache([CachedItem(6, "Y", True, None, None)], T0 + timedelta(hours=2), complete=False)
    assert store.cached_items({"Y"})[0].suppliers_at == T0
    store.write_item_cache([CachedItem(6, "Y", True, None, "c2")], T0 + timedelta(hours=3), complete=False)
    assert store.cached_items({"Y"})[0].suppliers_at is None  # now it changed: read again
    store.dispose()


# -- against the sandbox over HTTP -------------------------------------------------------------------


@dataclass
class World:
    state: Any
    store: StateStore
    ffn: FfnClient
    wawi: WawiClient
    base: str
    seen: list[str] = field(default_factory=list)  # "METHOD path?query" the sandbox answered (< 400)

    def item_listings(self) -> list[str]:
        return [r for r in self.seen if r.startswith("GET ") and r.split("?")[0].endswith("/v1/items")]

    def full_listings(self) -> list[str]:
        return [r for r in self.item_listings() if "changedSince" not in r]

    def supplier_reads(self) -> list[str]:
        return [
            r for r in self.seen if r.startswith("GET ") and r.endswith("/suppliers") and "/v1/items/" in r
        ]

    def cache(self, now: datetime, hours: float = 24) -> WawiItemCache:
        return WawiItemCache(self.store, self.wawi, now, timedelta(hours=hours))


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    config = sandbox_config()
    app = create_app(generate(seed=5, skus=60, orders=30, customers=10), config)
    seen: list[str] = []

    @app.middleware("http")
    async def record(request: Any, call_next: Any) -> Any:
        query = request.url.query
        response = await call_next(request)
        if response.status_code < 400:  # a strict sandbox's refused page sizes are not reads
            seen.append(f"{request.method} {request.url.path}" + (f"?{query}" if query else ""))
        return response

    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=20, ffn_rate_per_second=500, wawi_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05)
        conf = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        world = World(
            app.state.sandbox,
            store,
            FfnClient.from_settings(conf, store),
            WawiClient.from_settings(conf),
            server.base_url,
            seen,
        )
        yield world
        store.dispose()


def _ffn_adjust(world: World, sku: str, warehouse: str, quantity: float) -> None:
    jfsku = next(s["jfsku"] for s in world.state.data.ffn.stocks.values() if s["merchantSku"] == sku)
    response = httpx.post(
        world.base + "/_sandbox/ffn/stocks/adjustments",
        json={"jfsku": jfsku, "warehouseId": warehouse, "quantity": quantity},
    )
    assert response.status_code == 201, response.text


def _stocked(world: World) -> tuple[str, str]:
    """An FFN (warehouse, SKU) with stock whose Wawi item manages inventory."""
    managed = {
        i["SKU"]
        for i in world.state.data.wawi.items.values()
        if (i.get("StorageOptions") or {}).get("InventoryManagementActive") is True
    }
    return sorted(
        (row["warehouseId"], stock["merchantSku"])
        for stock in world.state.data.ffn.stocks.values()
        for row in stock["warehouses"]
        if row["stockLevel"] >= 5 and stock["merchantSku"] in managed
    )[0]


@pytest.mark.slow
def test_incremental_stock_sync_with_a_warm_cache_lists_no_items(world: World) -> None:
    svc.run_stock_sync(world.wawi, world.ffn, world.store, full=True)
    assert len(world.full_listings()) >= 1  # the full run lists every item (and fills the cache)
    assert world.store.get_watermark(FULL_MARK) is not None
    warehouse, sku = _stocked(world)
    _ffn_adjust(world, sku, warehouse, 3)
    world.seen.clear()
    result = svc.run_stock_sync(
        world.wawi, world.ffn, world.store, now=datetime.now(UTC) + timedelta(minutes=1)
    )
    assert result["mode"] == "incremental" and result["outcomes"] == {"applied": 1}
    assert world.full_listings() == []
    assert len(world.item_listings()) == 1  # one GET /items?changedSince=..., an empty page


@pytest.mark.slow
def test_inventory_management_switched_off_is_seen_by_the_next_incremental_run(world: World) -> None:
    svc.run_stock_sync(world.wawi, world.ffn, world.store, full=True)
    warehouse, sku = _stocked(world)
    item = next(i for i in world.state.data.wawi.items.values() if i["SKU"] == sku)
    item["StorageOptions"]["InventoryManagementActive"] = False
    item["Changed"] = iso_now()  # what a PATCH in Wawi does
    _ffn_adjust(world, sku, warehouse, 2)
    world.seen.clear()
    result = svc.run_stock_sync(
        world.wawi, world.ffn, world.store, now=datetime.now(UTC) + timedelta(minutes=1)
    )
    assert result["outcomes"] == {}
    assert result["decisions"].get("no_inventory_management") == 1
    assert world.full_listings() == []


@pytest.mark.slow
def test_a_new_wawi_item_is_picked_up_on_a_miss_with_one_full_listing_per_run(world: World) -> None:
    now = datetime.now(UTC)
    world.cache(now).refresh()
    assert len(world.full_listings()) == 1  # an empty cache is filled in full
    # an item changedSince does not report (no Changed), e.g. created before the last refresh's overlap
    new_id = max(world.state.data.wawi.items) + 1
    template = dict(next(iter(world.state.data.wawi.items.values())))
    world.state.data.wawi.items[new_id] = {**template, "Id": new_id, "SKU": "NEW-SKU-1", "Changed": None}
    world.seen.clear()
    cache = world.cache(now + timedelta(minutes=15))
    found = cache.lookup({"NEW-SKU-1", "NOT-IN-WAWI-1", "NOT-IN-WAWI-2"})
    assert [r.item_id for r in found] == [new_id]
    assert len(world.full_listings()) == 1  # one full listing for the misses of this run, not one per SKU
    assert cache.stats["full_refreshes"] == 1 and cache.stats["incremental_refreshes"] == 1
    world.seen.clear()
    assert cache.lookup({"NOT-IN-WAWI-1"}) == [] and world.item_listings() == []  # same run: no more


@pytest.mark.slow
def test_a_stale_cache_is_listed_in_full_after_max_age(world: World) -> None:
    now = datetime.now(UTC)
    world.cache(now).refresh()
    world.seen.clear()
    assert world.cache(now + timedelta(hours=23)).refresh() == "incremental"
    assert world.full_listings() == [] and len(world.item_listings()) == 1
    world.seen.clear()
    assert world.cache(now + timedelta(hours=24, minutes=1)).refresh() == "full"
    assert len(world.full_listings()) >= 1
    world.seen.clear()
    assert world.cache(now + timedelta(hours=30), hours=48).refresh() == "incremental"  # max age is a setting
    assert world.full_listings() == []


@pytest.mark.slow
def test_replenishment_second_run_reads_no_suppliers(world: World) -> None:
    params = replenishment.ReplenishmentRunParams()
    now = datetime.now(UTC)
    first = replenishment.load_inputs(world.ffn, world.wawi, params, now=now, store=world.store)
    reads = len(world.supplier_reads())
    assert reads > 0 and first.counts["supplier_reads"] == reads
    world.seen.clear()
    second = replenishment.load_inputs(
        world.ffn, world.wawi, params, now=now + timedelta(hours=1), store=world.store
    )
    assert world.supplier_reads() == [] and second.counts["supplier_reads"] == 0
    assert world.full_listings() == []
    assert second.suppliers.equals(first.suppliers)
    # the same frame as without the cache (all items listed, suppliers read per item)
    plain = replenishment.load_inputs(world.ffn, world.wawi, params, now=now)
    assert plain.suppliers.equals(first.suppliers)
    # after max age the suppliers are read again
    world.seen.clear()
    replenishment.load_inputs(world.ffn, world.wawi, params, now=now + timedelta(hours=25), store=world.store)
    assert len(world.supplier_reads()) == reads


# -- supplier reads: the batches a caller acts on ---------------------------------------------------


class _StubSuppliersCache:
    """What ``SupplierReads`` uses of the cache: the Wawi client's supplier read (and in-flight limit) and
    ``store_read``. The reads of items in ``held`` wait for ``release``."""

    def __init__(self, held: frozenset[int] = frozenset(), max_in_flight: int | None = None) -> None:
        self.wawi = self
        self.items = self
        self.max_in_flight = max_in_flight
        self.held = held
        self.release = threading.Event()
        self.stored: list[int] = []
        self.threads: set[str] = set()

    def suppliers(self, item_id: int) -> list[Any]:
        self.threads.add(threading.current_thread().name)
        if item_id in self.held:
            self.release.wait(5)
        return [{"SupplierId": item_id}]

    def store_read(self, rows: Any, answers: Any) -> dict[int, list[Any]]:
        self.stored.append(len(rows))
        return {row.item_id: answer for row, answer in zip(rows, answers, strict=True)}


@pytest.mark.slow
def test_supplier_reads_hand_over_the_last_answers_as_they_come() -> None:
    """Full batches while reads are queued; once every read left is on the wire, a batch is the answers in
    hand: one alone when it comes alone (the caller's writes after the last read wait for one item, not for
    a batch's slowest read), those that came while the caller was busy together (one plan, not four)."""
    from jtl_automator.services.wawi_item_cache import SupplierReads

    cache = _StubSuppliersCache(held=frozenset(range(27, 31)))
    stale = [CachedItem(i, f"S-{i}", True) for i in range(1, 31)]
    with SupplierReads(cache, stale, 4, 10) as reads:  # type: ignore[arg-type]
        most = reads.batches
        batches = iter(reads)
        sizes = [len(next(batches)[0]) for _ in range(3)]  # 27 to 30 held: the 26 others, then nothing
        cache.release.set()
        time.sleep(0.3)  # the caller busy elsewhere while the four answers come
        rest = list(batches)
    assert sizes == [10, 10, 6] and [len(rows) for rows, _ in rest] == [4]
    assert most == 7 and cache.stored == [10, 10, 6, 4]
    assert sorted(i for _, read in rest for i in read) == [27, 28, 29, 30]


def test_supplier_reads_in_turn_hand_over_full_batches_then_the_last_answer() -> None:
    from jtl_automator.services.wawi_item_cache import SupplierReads

    cache = _StubSuppliersCache()
    stale = [CachedItem(i, f"S-{i}", True) for i in range(1, 31)]
    with SupplierReads(cache, stale, 1, 10) as reads:  # type: ignore[arg-type]
        expected = reads.batches
        batches = list(reads)
    assert len(batches) == expected
    assert [len(rows) for rows, _ in batches] == [10, 10, 9, 1] == cache.stored
    assert sorted(i for _, read in batches for i in read) == list(range(1, 31))


def test_supplier_reads_run_no_more_at_once_than_the_client_puts_on_the_wire() -> None:
    """A thread waiting for one of the client's connections would count that wait in the answer times
    the second asks go by: the reads run on as many threads as the client's in-flight limit, at most."""
    from jtl_automator.services.wawi_item_cache import SupplierReads

    cache = _StubSuppliersCache(max_in_flight=2)
    stale = [CachedItem(i, f"S-{i}", True) for i in range(1, 41)]
    with SupplierReads(cache, stale, 8, 10) as reads:  # type: ignore[arg-type]
        assert reads.workers == 2
        assert sum(len(rows) for rows, _ in reads) == 40
    assert len(cache.threads) <= 2


# -- a full listing stored page by page --------------------------------------------------------------


def _listed(item_id: int, changed: str = "c1") -> dict[str, Any]:
    return {"Id": item_id, "SKU": f"S-{item_id}", "Changed": changed, "StorageOptions": {}}


def test_a_listing_stored_page_by_page_replaces_the_cache_only_when_read_to_its_end(tmp_path: Path) -> None:
    """Each page is in the store once handed on; the rows of items the listing lacked go, and the cache
    counts as listed in full, only after the last page. A listing left early (a failed page) keeps what
    it stored and drops nothing."""
    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    store.write_item_cache([CachedItem(i, f"S-{i}", True, None, "c1") for i in (1, 2, 9)], T0, complete=True)
    store.write_item_suppliers({1: [], 2: []}, T0)
    later = T0 + timedelta(hours=1)
    cache = WawiItemCache(store, None, later)  # type: ignore[arg-type]  # a listing handed in reads nothing

    pages = cache.replace_all_pages(iter([[_listed(1)], [_listed(2, "c2"), _listed(3)]]))
    assert next(pages) == [_listed(1)]
    assert {r.item_id: r.seen_at for r in store.cached_items()}[1] == later  # stored before the next page
    pages.close()  # left early: item 9 stays, the cache is not listed in full
    assert {r.item_id for r in store.cached_items()} == {1, 2, 9}
    assert store.get_watermark(FULL_MARK) is None

    again = WawiItemCache(store, None, later + timedelta(minutes=1))  # type: ignore[arg-type]
    seen = [
        item["Id"]
        for page in again.replace_all_pages([[_listed(1)], [_listed(2, "c2"), _listed(3)]])
        for item in page
    ]
    assert seen == [1, 2, 3]
    rows = {r.item_id: r for r in store.cached_items()}
    assert set(rows) == {1, 2, 3}  # 9 is gone with the complete listing
    assert rows[1].suppliers_at == T0 and rows[2].suppliers_at is None  # 2 changed: its rows are read again
    assert again.stats["full_refreshes"] == 1
    assert store.get_watermark(FULL_MARK) == iso(later + timedelta(minutes=1))
    store.dispose()


@pytest.mark.slow
def test_touching_cached_items_moves_only_their_seen_time(store_url: str) -> None:
    """``touch_item_cache`` keeps a row (its supplier rows and their time) through a complete listing;
    ``cached_items`` reads by item id, and without the supplier rows when asked."""
    store = StateStore(store_url)
    store.write_item_cache([CachedItem(i, f"S-{i}", True, 2.0, "c1") for i in (1, 2, 3)], T0, complete=True)
    store.write_item_suppliers({1: [{"SupplierId": 7}], 2: []}, T0)
    later = T0 + timedelta(hours=1)
    store.touch_item_cache([1, 2], later)
    store.write_item_cache([], later, complete=True)  # a listing that returned 1 and 2 only
    rows = {r.item_id: r for r in store.cached_items()}
    assert set(rows) == {1, 2}
    assert rows[1].seen_at == later and rows[1].suppliers == [{"SupplierId": 7}]
    assert rows[1].suppliers_at == T0 and rows[1].changed == "c1" and rows[1].procurement_time == 2.0
    assert [r.item_id for r in store.cached_items(ids=[2, 99, 1])] == [1, 2]
    bare = store.cached_items(ids=[1], suppliers=False)[0]
    assert bare.suppliers is None and bare.suppliers_at is None and bare.sku == "S-1"
    assert store.cached_items(ids=[]) == []
    store.dispose()


class _CountingStore:
    """A state store that records the rows each ``write_item_cache`` call wrote."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self.written: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def write_item_cache(self, items: Any, at: datetime, *, complete: bool) -> int:
        self.written.extend(i.item_id for i in items)
        return self._store.write_item_cache(items, at, complete=complete)


def test_a_listing_compared_with_the_cache_writes_only_what_changed(tmp_path: Path) -> None:
    """With the rows read before the listing (``known``), an unchanged item is only marked seen: its row
    (supplier rows and their time) stays; a changed or new item is written. The complete listing still
    drops an item it lacked, and ``listed_rows`` is the cache as the listing left it."""
    from jtl_automator.services.wawi_item_cache import cached_by_id

    base = StateStore(f"sqlite:///{tmp_path}/state.db")
    base.write_item_cache(
        [CachedItem(i, f"S-{i}", False, None, "c1") for i in (1, 2, 4, 9)], T0, complete=True
    )
    base.write_item_suppliers({1: [{"SupplierId": 1}], 2: [{"SupplierId": 2}], 4: []}, T0)
    store = _CountingStore(base)
    later = T0 + timedelta(hours=1)
    cache = WawiItemCache(store, None, later)  # type: ignore[arg-type]
    known = cached_by_id(base, suppliers=False)
    renamed = {**_listed(4), "SKU": "S-4-new"}
    listing = [[_listed(1), _listed(2, "c2")], [_listed(3), renamed, _listed(1)]]
    seen = [i["Id"] for page in cache.replace_all_pages(listing, lambda: known) for i in page]

    assert seen == [1, 2, 3, 4, 1]
    assert sorted(store.written) == [2, 3, 4]  # 1 is unchanged (twice), 9 was not listed
    rows = {r.item_id: r for r in base.cached_items()}
    assert set(rows) == {1, 2, 3, 4}
    assert rows[1].seen_at == later and rows[1].suppliers_at == T0  # kept, marked seen
    assert rows[2].suppliers_at is None  # changed: its supplier rows are read again
    assert rows[4].sku == "S-4-new" and rows[4].suppliers_at == T0  # Changed the same: rows kept
    after = cache.listed_rows()
    assert [r.item_id for r in after] == [1, 2, 3, 4]
    assert [(r.sku, r.suppliers_at) for r in after[1:]] == [
        (r.sku, r.suppliers_at) for r in (rows[2], rows[3], rows[4])
    ]
    assert after[0].sku == "S-1"  # unchanged: as ``known`` gave it
    base.dispose()


def test_a_failed_read_of_the_known_rows_ends_the_listing_with_its_error(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    cache = WawiItemCache(store, None, T0)  # type: ignore[arg-type]

    def failing() -> dict[int, CachedItem]:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        list(cache.replace_all_pages([[_listed(1)]], failing))
    assert store.cached_items() == []  # nothing half-written
    store.dispose()
