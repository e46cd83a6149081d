"""Stage 1: the Wawi items (all, or those changed since the watermark) and their FFN products, in bulk.

- **Wawi items**: ``GET /items`` in pages (full) or ``GET /items?changedSince=<mark - overlap>`` (incremental:
  one request when nothing changed); ``GET /manufacturers`` once, beside the item pages, for the names
  behind ``ManufacturerId``.
  The listing goes into the Wawi item cache. A full listing's pages are taken as they are answered (a
  slow page holds no other back), each stored, framed and, once FFN's products are in, its items whose
  supplier rows the cache holds planned (:class:`PlannedPages`) while the next pages are on the wire.
- **Packaging units** (bundles) are not read here: the item suppliers come per item
  (``GET /items/{id}/suppliers``), so stage 3 (``chunks``) reads them chunk by chunk and plans and writes
  each chunk while the next is read.
- **Properties** (property rule only): ``GET /items/{id}/properties`` per active item read; Wawi 1.0 has no
  bulk read of them.
- **FFN products**: every page of ``GET /products`` (full; once the item cache knows the catalogue's size
  the pages after the first are asked for beside it), else the changed SKUs by ``$filter`` in chunks of
  ``FILTER_CLAUSES_MAX`` (one per SKU once FFN refused ``or``), or every page when that is fewer requests
  (the catalogue's size is the Wawi item cache's, which every run keeps). They are read in the background
  (:class:`FfnRead`) and only the plan waits for them: stage 3's supplier reads need the Wawi side alone,
  so on the Wawi PC they follow the item listing at once instead of FFN's token, lookups and framing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from jtl_automator.clients.errors import NotFound
from jtl_automator.clients.ffn.client import FILTER_CLAUSES_MAX, OR_FILTERS, FfnClient
from jtl_automator.clients.pagination import flatten
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.clients.wawi.models import Manufacturer
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.services.product_sync.params import (
    PACKAGING_FIELDS,
    WATERMARK,
    ProductSyncParams,
    chunk_size,
)
from jtl_automator.services.wawi_item_cache import SupplierReads, WawiItemCache, cached_by_id, cached_item
from jtl_automator.store import CachedItem, StateStore, iso, parse_iso
from jtl_automator.transforms.product_sync import (
    FulfilmentRule,
    ProductPlanParams,
    checked_products_frame,
    ffn_products_frame,
    item_scope,
    plan_items,
    product_rows,
    products_frame,
    rows_frame,
    shared_sku_items,
    with_bundles,
)

log = correlated_logger("jtl_automator.product_sync")
#: What an update keeps of the FFN product it read: the nested objects it sends back whole.
SNAPSHOT_KEYS = ("identifier", "specifications", "bundles")


@dataclass(frozen=True)
class FfnSide:
    """The FFN products a run compares with: framed, and what an update sends back of each."""

    frame: pd.DataFrame
    snapshots: dict[str, dict[str, Any]]  # jfsku -> the nested objects an update sends back whole
    products: int

    @classmethod
    def of(cls, products: Sequence[Mapping[str, Any]]) -> FfnSide:
        """The side of these products (FFN's listing or lookups)."""
        snapshots = {
            str(p.get("jfsku")): {k: p.get(k) for k in SNAPSHOT_KEYS} for p in products if p.get("jfsku")
        }
        return cls(ffn_products_frame(products), snapshots, len(products))


class FfnRead:
    """FFN's side of a run, read on a thread of its own from the moment its SKUs are known.

    :meth:`side` waits for it. A read that failed raises there once; asked again (a retried task), it
    reads again in the caller, so a passing FFN outage costs a retry, not the run.
    """

    def __init__(self, read: Callable[[], Sequence[Mapping[str, Any]]], pool: ThreadPoolExecutor) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._future: Future[FfnSide] | None = pool.submit(in_context(self._framed))

    def _framed(self) -> FfnSide:
        return FfnSide.of(self._read())

    def ready(self) -> bool:
        """Whether the products are in (read and framed), so :meth:`side` answers without waiting."""
        with self._lock:
            future = self._future
        return future is not None and future.done() and future.exception() is None

    def side(self) -> FfnSide:
        """The products once read (see the class for a read that failed)."""
        with self._lock:
            future = self._future
        if future is None:
            side = self._framed()
            with self._lock:
                self._future = Future()
                self._future.set_result(side)
            return side
        try:
            return future.result()
        except Exception:
            with self._lock:
                if self._future is future:
                    self._future = None
            raise


def in_scope_rows(
    store: StateStore, ids: set[int], skus: set[str], cached: Sequence[CachedItem] | None
) -> list[CachedItem]:
    """The item cache's rows of the in-scope items (``ids``, ``skus``; an item without SKU has none).

    ``cached``: every row as a full run's listing left them (:attr:`SyncInputs.cached`), else read here.
    """
    rows = store.cached_items(skus) if cached is None else cached
    return [r for r in rows if r.item_id in ids and r.sku in skus]


def supplier_cache(
    store: StateStore, wawi: WawiClient, params: ProductSyncParams, now: datetime
) -> WawiItemCache:
    """The item cache as stage 3 reads supplier rows through it (rows older than the params' age are read)."""
    return WawiItemCache(store, wawi, now, timedelta(hours=params.packaging_max_age_hours))


class StartedReads:
    """Supplier reads started the moment the listing named the items, before the rest of the load.

    On the Wawi PC the supplier reads are the run's longest part; the manufacturers' answer, the frames and
    FFN's token need not come before them. Stage 3 takes them once (:meth:`take`) when they are of the
    items it would read; otherwise, or taken before (a retried stage), it starts its own.
    """

    def __init__(self, reads: SupplierReads) -> None:
        self._reads: SupplierReads | None = reads
        self._lock = threading.Lock()

    def _pop(self) -> SupplierReads | None:
        """The reads, once: whoever asks first has them."""
        with self._lock:
            reads, self._reads = self._reads, None
        return reads

    def take(self, stale: Sequence[CachedItem]) -> SupplierReads | None:
        """The reads, if they read ``stale``'s items and were not taken yet (else they are closed)."""
        reads = self._pop()
        if reads is not None and {r.item_id for r in reads.stale} != {r.item_id for r in stale}:
            reads.close()
            return None
        return reads

    def close(self) -> None:
        """Cancel the reads not started (a failed load); those in flight finish."""
        reads = self._pop()
        if reads is not None:
            reads.close()


@dataclass(frozen=True)
class PlannedPage:
    """One page's items planned during the listing: those whose supplier rows the item cache had fresh."""

    part: pd.DataFrame  # plan_items of these items
    items: frozenset[int]
    suppliers: dict[int, list[Any]]  # the cached supplier rows the plan used, per item


class PlannedPages:
    """A full run's pages planned while the next ones are read, once FFN's products are in.

    Where the item cache answers every supplier row (a warm run: every item), planning is most of the
    work after the listing; each page planned as it comes leaves only the last page's for after it.
    Stage 3 keeps a page's plan when its items are still ones it plans without a read, with the very
    supplier rows the page used (:meth:`usable`); a page with an item whose SKU another item carries is
    planned again there (that check needs every page: :meth:`drop`).
    """

    def __init__(
        self,
        ffn: FfnRead,
        listing: WawiItemCache,
        suppliers: WawiItemCache,
        params: ProductPlanParams,
    ) -> None:
        self._ffn = ffn
        self._listing = listing
        self._suppliers = suppliers
        self._params = params
        self._held: list[pd.DataFrame] = []
        self.pages: list[PlannedPage] = []

    def add(self, page: pd.DataFrame) -> None:
        """A page framed (:func:`rows_frame`): planned now if FFN's products are in, else when they are."""
        self._held.append(page)
        if not self._ffn.ready():
            return
        for held in self._held:
            planned = self._planned(held)
            if planned is not None:
                self.pages.append(planned)
        self._held.clear()

    def _planned(self, page: pd.DataFrame) -> PlannedPage | None:
        scoped = page[page["in_scope"]]
        fresh: dict[int, list[Any]] = {}
        if self._params.packaging_units:
            ids = [int(i) for i in scoped["item_id"].tolist()]
            kept = [r for r in map(self._listing.kept_row, ids) if r is not None]
            skus = set(scoped["merchant_sku"]) - {""}
            rows = in_scope_rows(self._listing.store, set(ids), skus, kept)  # as stage 3 picks them
            fresh, _ = self._suppliers.fresh_suppliers(rows, required=PACKAGING_FIELDS)
            scoped = scoped[scoped["item_id"].isin(list(fresh))]
        if scoped.empty:
            return None
        part = plan_items(with_bundles(scoped, fresh, self._params), self._ffn.side().frame, self._params)
        return PlannedPage(part, frozenset(int(i) for i in scoped["item_id"].tolist()), fresh)

    def drop(self, items: set[int]) -> None:
        """Forget the pages that planned any of ``items`` (their rows changed after the page)."""
        if items:
            self.pages = [p for p in self.pages if not p.items & items]

    def usable(self, first: set[int], fresh: Mapping[int, Sequence[Any]]) -> list[PlannedPage]:
        """The pages stage 3 may keep: every item among ``first``, planned with ``fresh``'s rows."""
        return [
            p
            for p in self.pages
            if p.items <= first and all(fresh.get(i) == rows for i, rows in p.suppliers.items())
        ]


@dataclass
class SyncInputs:
    """Both sides of one run, each read once (FFN's still arriving: :class:`FfnRead`)."""

    mode: str  # "full" or "incremental"
    wawi: pd.DataFrame
    ffn_read: FfnRead
    window_start: str | None
    window_end: str
    now: datetime  # the run's clock: the item cache's freshness and stamps
    notes: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    #: The item cache's rows after a full run's listing (None: the plan reads them from the store).
    cached: list[CachedItem] | None = None
    #: The supplier reads started as soon as the listing was in (stage 3 takes them).
    started: StartedReads | None = None
    #: A full run's pages planned during the listing (stage 3 keeps what still holds).
    planned: PlannedPages | None = None

    @property
    def ffn(self) -> pd.DataFrame:
        """The FFN products, framed (waits for their read)."""
        return self.ffn_read.side().frame

    @property
    def snapshots(self) -> dict[str, dict[str, Any]]:
        """What an update sends back whole of each FFN product (waits for their read)."""
        return self.ffn_read.side().snapshots


def _candidate(item: Mapping[str, Any], rule: FulfilmentRule) -> bool:
    """Whether an item may be in scope before its properties are known (active, not a parent, no BOM)."""
    if rule.kind == "property":
        return not item.get("ChildItems") and not item.get("Components") and item.get("IsActive") is True
    return item_scope(item, rule, {}) == ""


def _properties(
    wawi: WawiClient, items: Sequence[Mapping[str, Any]], notes: list[str]
) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for item in items:
        try:
            found[int(item["Id"])] = [
                {"PropertyId": p.property_id, "PropertyValueId": p.property_value_id}
                for p in wawi.items.properties(int(item["Id"]))
            ]
        except NotFound:
            notes.append(f"Wawi item {item['Id']} ({item.get('SKU')}) vanished while reading its properties")
    return found


def _ffn_products(
    ffn: FfnClient, store: StateStore, skus: set[str], *, full: bool
) -> list[Mapping[str, Any]]:
    """Every FFN product (full), or those of ``skus`` (by $filter chunks or a listing: fewer requests)."""
    per_request = 1 if OR_FILTERS.refused else FILTER_CLAUSES_MAX
    lookups = math.ceil(len(skus) / per_request)
    catalogue = store.cached_item_count()
    pages = math.ceil(max(catalogue, len(skus), 1) / ffn.page_size.current)
    if full or lookups > pages:
        return every_product(ffn, catalogue)
    return [p for products in ffn.products.find_by_merchant_skus(skus).values() for p in products]


def every_product(ffn: FfnClient, expected: int | None = None) -> list[Mapping[str, Any]]:
    """Every FFN product, its pages as many at a time as FFN may have on the wire.

    ``expected``: how many there were (the item cache's size: the catalogue a full run keeps); its
    pages are then asked for beside the first, not after its answer.
    """
    pages = ffn.products.iter_pages(parallel=ffn.read_parallelism, expected_items=expected)
    return list(flatten(pages))


def load_inputs(
    ffn: FfnClient,
    wawi: WawiClient,
    store: StateStore,
    params: ProductSyncParams,
    *,
    full: bool,
    now: datetime,
) -> SyncInputs:
    """Full: every Wawi item and FFN product. Incremental: the items changed since the watermark.

    An incremental run without a watermark (the first one) is a full run.
    """
    notes: list[str] = []
    mark = None if full else parse_iso(store.get_watermark(WATERMARK))
    if not full and mark is None:
        notes.append("no watermark yet: this incremental run reads everything (a full sync)")
    full = mark is None
    # Not waited for on the way out: the FFN read goes on into stage 3 (FfnRead). A failed load cancels
    # what is queued (the FFN read too, when not started) and waits for the rest.
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="product-listings")
    try:
        # The manufacturers and a full run's FFN listing depend on nothing the items say: they are read
        # while the items are. So are the item cache's rows (a full run compares the listing with them):
        # read while the first item page is on the wire, not after the last.
        makers = pool.submit(in_context(lambda: manufacturer_names(wawi.manufacturers())))
        catalogue = store.cached_item_count() if full else 0  # the items (and products) last time
        listing = FfnRead(lambda: every_product(ffn, catalogue), pool) if full else None
        known = pool.submit(in_context(cached_by_id), store) if full else None
        inputs = _load(ffn, wawi, store, params, mark, now, notes, makers, listing, known, pool, catalogue)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=False)
    return inputs


def _load(
    ffn: FfnClient,
    wawi: WawiClient,
    store: StateStore,
    params: ProductSyncParams,
    mark: datetime | None,
    now: datetime,
    notes: list[str],
    makers: Future[dict[int, str]],
    listing: FfnRead | None,
    known: Future[dict[int, CachedItem]] | None,
    pool: ThreadPoolExecutor,
    catalogue: int,
) -> SyncInputs:
    """:func:`load_inputs` once the mode is known.

    ``makers``, a full run's FFN ``listing`` and its item cache rows (``known``) are being read; ``pool``
    takes an incremental run's lookups; ``catalogue`` is a full run's item cache size before the run.
    """
    full = mark is None
    start = None if mark is None else mark - timedelta(minutes=params.overlap_minutes)
    parallel = wawi.read_parallelism
    pages = (
        # a full listing's pages asked for beside page 1 (the cache says how many there were last time),
        # each handled as it comes: the cache, the frames and the plan do not mind the order
        wawi.items.iter_pages(parallel=parallel, expected_items=catalogue, ordered=False)
        if start is None
        else wawi.items.iter_pages(changed_since=start, parallel=parallel)
    )
    listed: Iterable[Sequence[Mapping[str, Any]]] = (
        [i for i in page if isinstance(i, Mapping)] for page in pages
    )
    cache = WawiItemCache(store, wawi, now)
    if full:  # the listing is the cache's (items deleted in Wawi drop out); the FFN lookups size by it
        listed = cache.replace_all_pages(listed, known.result if known is not None else None)
    # Framed without supplier rows: the next stage reads those and fills in the bundles chunk by chunk.
    # Each page is stored and turned into rows while the next ones are on the wire, unless the scope
    # needs the properties read after the listing.
    plan_params = params.plan_params(full=full)
    by_page = params.rule.kind != "property"
    # A full run's pages are planned as they come (once FFN's products are in): see PlannedPages
    planned = (
        PlannedPages(listing, cache, supplier_cache(store, wawi, params, now), plan_params)
        if by_page and listing is not None
        else None
    )
    items: list[Mapping[str, Any]] = []
    frames: list[pd.DataFrame] = []
    waiting: list[Sequence[Mapping[str, Any]]] = []  # pages whose rows wait for the manufacturers' names

    def framed(*, plan: bool) -> None:
        """The waiting pages framed, and planned when ``plan`` (and FFN's products are in)."""
        frame = rows_frame(product_rows(_joined(waiting), plan_params, manufacturers=makers.result()))
        frames.append(frame)
        if plan and planned is not None:
            planned.add(frame)
        waiting.clear()

    for page in listed:
        items.extend(page)
        if by_page:
            waiting.append(page)
            if makers.done():
                framed(plan=True)
    if not full:
        store.write_item_cache([r for r in map(cached_item, items) if r is not None], now, complete=False)
    candidates = [i for i in items if isinstance(i.get("Id"), int) and _candidate(i, params.rule)]
    listed_rows = cache.listed_rows() if full else None
    # With the items known, their supplier reads start: the scope needs no manufacturers (but properties)
    started = (
        start_supplier_reads(store, wawi, params, now, candidates, listed_rows)
        if by_page and params.packaging_units
        else None
    )
    try:
        stats = {"wawi_items": len(items), "supplier_reads": 0, "property_reads": 0}
        if by_page:
            if waiting or not frames:
                framed(plan=False)
            frame = checked_products_frame(frames)
            if planned is not None:
                planned.drop(shared_sku_items(frame))
        else:
            properties = _properties(wawi, candidates, notes)
            stats["property_reads"] = len(candidates)
            candidates = [i for i in candidates if item_scope(i, params.rule, properties) == ""]
            frame = products_frame(
                product_rows(items, plan_params, manufacturers=makers.result(), properties=properties)
            )
        skus = set(frame["merchant_sku"]) - {""}
        ffn_read = listing or FfnRead(lambda: _ffn_products(ffn, store, skus, full=full), pool)
    except BaseException:
        if started is not None:
            started.close()
        raise
    log.info(
        "%s: %d Wawi items (%d candidates); FFN's products being read",
        "full" if full else f"incremental since {iso(start) if start else '?'}",
        len(items),
        len(candidates),
    )
    return SyncInputs(
        "full" if full else "incremental",
        frame,
        ffn_read,
        None if start is None else iso(start),
        iso(now),
        now,
        notes,
        stats,
        listed_rows,
        started,
        planned,
    )


def _joined(pages: Iterable[Sequence[Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
    return [item for page in pages for item in page]


def start_supplier_reads(
    store: StateStore,
    wawi: WawiClient,
    params: ProductSyncParams,
    now: datetime,
    candidates: Sequence[Mapping[str, Any]],
    cached: Sequence[CachedItem] | None,
) -> StartedReads | None:
    """The in-scope items' supplier reads the cache cannot answer, started now (None: there are none)."""
    ids = {int(i["Id"]) for i in candidates}
    skus = {sku.strip() for i in candidates if isinstance(sku := i.get("SKU"), str)} - {""}
    cache = supplier_cache(store, wawi, params, now)
    _, stale = cache.fresh_suppliers(in_scope_rows(store, ids, skus, cached), required=PACKAGING_FIELDS)
    if not stale:
        return None
    size = chunk_size(len(stale), params)
    return StartedReads(cache.read_suppliers(stale, workers=params.workers, batch=size))


def manufacturer_names(rows: Iterable[Manufacturer]) -> dict[int, str]:
    """``GET /manufacturers`` as Id -> name (makers without a name are left out)."""
    return {m.id: m.name.strip() for m in rows if m.name and m.name.strip()}
