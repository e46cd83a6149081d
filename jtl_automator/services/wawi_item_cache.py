"""The Wawi item cache: SKU -> item id, stock flags and supplier rows, kept in the state database.

Wawi 1.0's ``GET /items`` has no SKU filter, so mapping FFN's merchantSku to a Wawi item means listing
every item (100 pages of 1,000 at 100,000 items), and item suppliers come one ``GET /items/{id}/suppliers``
per item. Runs read both from here instead. The freshness rule:

- **Incremental refresh, every run.** ``GET /items?changedSince=`` (documented in the Wawi 1.0 OpenAPI:
  "the date last changes were made to the item") from the last refresh minus ``CHANGED_OVERLAP``: one
  request when nothing changed. It updates SKU, ``InventoryManagementActive`` and ``ProcurementTime``; an
  item whose ``Changed`` moved has its supplier rows read again.
- **Full refresh** (every item listed, rows of deleted items dropped) when the cache was never filled,
  when its last full refresh is ``max_age`` old (default 24 h), when a SKU asked for is not cached (once
  per run, never once per SKU), and for free in every full stock sync (which lists all items anyway).
  What ``changedSince`` does not report (deleted items, and anything Wawi changes without moving
  ``Changed``) is therefore at most ``max_age`` old; the nightly full stock sync refreshes it daily.
- **Suppliers** are read only for items whose rows are missing or ``max_age`` old, or whose item changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from jtl_automator.clients.errors import NotFound
from jtl_automator.clients.hedged import HedgedReads, readers
from jtl_automator.clients.pagination import flatten
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.store import CachedItem, StateStore, iso, parse_iso

log = correlated_logger("jtl_automator.wawi_item_cache")
#: A listed page, as the caller holds it (handed back as it came).
PageT = TypeVar("PageT", bound=Sequence[Mapping[str, Any]])

#: Supplier rows read before they are stored (a failure later in the run keeps what was read).
SUPPLIER_BATCH = 500
#: Watermarks: when the cache was last listed in full, and when last refreshed with ``changedSince``.
FULL_MARK = "wawi-item-cache:full"
CHANGED_MARK = "wawi-item-cache:changed"
#: ``changedSince`` starts this far before the last refresh (clock skew between us and Wawi, slow saves).
CHANGED_OVERLAP = timedelta(minutes=10)
DEFAULT_MAX_AGE_HOURS = 24.0
#: The ItemSupplier fields the replenishment (``standard_supplier``, ``supplier_frame``), the product
#: sync (``PackagingUnit`` with ``AmountPackagingUnit``: the packaging units that become bundles) and the
#: product enrichment (``Sku``: matching a feed row by the supplier's article number) use. Each is kept
#: (None when Wawi leaves it out), so a row lacks a field only when it was cached before it was needed.
SUPPLIER_FIELDS = (
    "SupplierId",
    "Sku",
    "IsStandard",
    "DeliveryTime",
    "MinimumPurchaseQuantity",
    "PermissibleOrderQuantity",
    "AmountPackagingUnit",
    "PackagingUnit",
)


def cached_item(item: Mapping[str, Any]) -> CachedItem | None:
    """One listed Wawi item as a cache row (None without an integer ``Id``)."""
    item_id = item.get("Id")
    if not isinstance(item_id, int) or isinstance(item_id, bool):
        return None
    sku = item.get("SKU")
    options = item.get("StorageOptions")
    options = options if isinstance(options, Mapping) else {}
    procurement = options.get("ProcurementTime")
    changed = item.get("Changed")
    return CachedItem(
        item_id=item_id,
        sku=sku.strip() or None if isinstance(sku, str) else None,
        inventory_managed=options.get("InventoryManagementActive") is True,
        procurement_time=float(procurement)
        if isinstance(procurement, int | float) and not isinstance(procurement, bool)
        else None,
        changed=str(changed) if changed else None,
    )


def _same_listing(cached: CachedItem, listed: CachedItem) -> bool:
    """Whether a listing returned an item as the cache holds it (every field a listing writes)."""
    return (
        cached.sku == listed.sku
        and cached.inventory_managed == listed.inventory_managed
        and cached.procurement_time == listed.procurement_time
        and cached.changed == listed.changed
    )


def cached_by_id(store: StateStore, *, suppliers: bool = True) -> dict[int, CachedItem]:
    """Every cached row by item id: what :meth:`WawiItemCache.replace_all_pages` compares a listing with.

    ``suppliers=False`` leaves the supplier rows out, for a caller that needs the comparison alone.
    """
    return {r.item_id: r for r in store.cached_items(suppliers=suppliers)}


def as_item(row: CachedItem) -> dict[str, Any]:
    """A cache row in the shape of a listed Wawi item (what the transforms read of one)."""
    return {
        "Id": row.item_id,
        "SKU": row.sku,
        "StorageOptions": {
            "InventoryManagementActive": row.inventory_managed,
            "ProcurementTime": row.procurement_time,
        },
    }


@dataclass
class WawiItemCache:
    """The cache as one run sees it: refreshed at most once incrementally and once in full per run.

    ``now`` is the run's clock (injectable: tests move it past ``max_age``). ``stats`` counts what the run
    asked Wawi for: ``full_refreshes``, ``incremental_refreshes``, ``items_listed``, ``supplier_reads``.
    """

    store: StateStore
    wawi: WawiClient
    now: datetime
    max_age: timedelta = timedelta(hours=DEFAULT_MAX_AGE_HOURS)
    stats: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("full_refreshes", "incremental_refreshes", "items_listed", "supplier_reads"), 0
        )
    )
    notes: list[str] = field(default_factory=list)
    _refreshed: bool = False
    _full_this_run: bool = False
    _kept: dict[int, CachedItem] = field(default_factory=dict)  # listed unchanged (replace_all_pages)
    _rewritten: set[int] = field(default_factory=set)  # listed and written (replace_all_pages)

    def __post_init__(self) -> None:
        self.now = self.now if self.now.tzinfo else self.now.replace(tzinfo=UTC)

    def refresh(self) -> str:
        """Bring the cache up to date once per run: ``full``, ``incremental`` or ``none`` (done already).

        Full when it was never filled or its last full refresh is ``max_age`` old.
        """
        if self._refreshed:
            return "none"
        self._refreshed = True
        full_at = parse_iso(self.store.get_watermark(FULL_MARK))
        if full_at is None or self.now - full_at >= self.max_age:
            self.replace_all()
            return "full"
        since = max(full_at, parse_iso(self.store.get_watermark(CHANGED_MARK)) or full_at) - CHANGED_OVERLAP
        listed = list(
            flatten(self.wawi.items.iter_pages(changed_since=since, parallel=self.wawi.read_parallelism))
        )
        rows = [r for r in map(cached_item, listed) if r is not None]
        self.store.write_item_cache(rows, self.now, complete=False)
        self.store.reset_watermark(CHANGED_MARK, iso(self.now))
        self.stats["incremental_refreshes"] += 1
        self.stats["items_listed"] += len(listed)
        log.info("item cache: %d items changed since %s", len(rows), iso(since))
        return "incremental"

    def replace_all(self, items: Iterable[Mapping[str, Any]] | None = None) -> Sequence[Mapping[str, Any]]:
        """List every Wawi item (or take the listing a full run made anyway) and make the cache exactly it."""
        listed: list[Mapping[str, Any]] = list(
            items
            if items is not None
            else flatten(
                self.wawi.items.iter_pages(
                    parallel=self.wawi.read_parallelism, expected_items=self.store.cached_item_count()
                )
            )
        )
        if items is None:
            self.stats["items_listed"] += len(listed)
        rows = [r for r in map(cached_item, listed) if r is not None]
        self.store.write_item_cache(rows, self.now, complete=True)
        self._replaced(len(rows))
        return listed

    def replace_all_pages(
        self, pages: Iterable[PageT], known: Callable[[], Mapping[int, CachedItem]] | None = None
    ) -> Iterator[PageT]:
        """:meth:`replace_all` of a listing still arriving: each page is stored as it passes by.

        So the store's work after the last page is that page's alone. Only a listing read to its end
        replaces the cache (drops the rows of items it lacked); one left early keeps what it stored, as an
        incremental refresh would.

        ``known()`` (asked at the first page) is the cache's rows as they were before the listing, by item
        id: a caller reads them while the first page is on the wire. A listed item whose row is the same
        there is only marked seen (:meth:`StateStore.touch_item_cache`), not written again: in a run where
        nothing changed, that is every item. :meth:`listed_rows` then gives the rows after the listing.
        """
        stored = 0
        before: Mapping[int, CachedItem] | None = None
        self._kept, self._rewritten = {}, set()
        for page in pages:
            rows = [r for r in map(cached_item, page) if r is not None]
            stored += len(rows)
            if known is not None:
                before = known() if before is None else before
                rows = self._mark_unchanged(rows, before)
            self.store.write_item_cache(rows, self.now, complete=False)
            self._rewritten.update(r.item_id for r in rows)
            yield page
        self.store.write_item_cache([], self.now, complete=True)
        self._replaced(stored)

    def _mark_unchanged(self, rows: list[CachedItem], before: Mapping[int, CachedItem]) -> list[CachedItem]:
        """Mark the rows ``before`` holds unchanged as seen; the others (new or changed), to be written."""
        changed: list[CachedItem] = []
        same: list[int] = []
        for row in rows:
            old = before.get(row.item_id)
            if old is not None and row.item_id not in self._rewritten and _same_listing(old, row):
                self._kept[row.item_id] = old
                same.append(row.item_id)
            else:
                self._kept.pop(row.item_id, None)
                changed.append(row)
        if same:
            self.store.touch_item_cache(same, self.now)
        return changed

    def kept_row(self, item_id: int) -> CachedItem | None:
        """The row of an item the listing so far found unchanged (as ``known`` gave it), else None."""
        return self._kept.get(item_id)

    def listed_rows(self) -> list[CachedItem]:
        """Every row the last :meth:`replace_all_pages` listing stored, ordered by item id.

        The unchanged rows as ``known`` gave them (their ``seen_at`` is the one before), the rows it wrote
        read again: no re-read of a whole catalogue that did not change.
        """
        rows = [*self._kept.values()]
        if self._rewritten:
            rows.extend(self.store.cached_items(ids=self._rewritten))
        return sorted(rows, key=lambda r: r.item_id)

    def _replaced(self, rows: int) -> None:
        self.store.reset_watermark(FULL_MARK, iso(self.now))
        self.store.reset_watermark(CHANGED_MARK, iso(self.now))
        self.stats["full_refreshes"] += 1
        self._refreshed = self._full_this_run = True
        log.info("item cache: %d Wawi items listed in full", rows)

    def lookup(self, skus: Iterable[str]) -> list[CachedItem]:
        """Cached items of these SKUs after the run's refresh; SKUs not cached: one full refresh per run."""
        wanted = {s for s in skus if s}
        self.refresh()
        found = self.store.cached_items(wanted)
        if wanted - {r.sku for r in found} and not self._full_this_run:
            log.info(
                "item cache: %d SKUs not cached: listing every item", len(wanted - {r.sku for r in found})
            )
            self.replace_all()
            found = self.store.cached_items(wanted)
        return found

    def items(self, skus: Iterable[str]) -> Sequence[Mapping[str, Any]]:
        """``lookup`` in the shape of listed Wawi items."""
        return [as_item(r) for r in self.lookup(skus)]

    def suppliers(
        self, rows: Sequence[CachedItem], *, required: Iterable[str] = (), workers: int = 1
    ) -> dict[int, list[Any]]:
        """Supplier rows per item: cached ones younger than ``max_age``, the others read from Wawi and kept.

        Cached rows lacking one of the ``required`` fields (cached before a caller needed it) are read again.
        An item that vanished in Wawi meanwhile is left out (and named in ``notes``). ``workers`` reads run
        at once (one request per item: the time is Wawi's round trips); what was read is stored every
        ``SUPPLIER_BATCH`` items, so a run that fails half-way keeps the first half.
        """
        result, stale = self.fresh_suppliers(rows, required=required)
        with self.read_suppliers(stale, workers=workers) as reads:
            for _, fresh in reads:
                result.update(fresh)
        return result

    def fresh_suppliers(
        self, rows: Sequence[CachedItem], *, required: Iterable[str] = ()
    ) -> tuple[dict[int, list[Any]], list[CachedItem]]:
        """The cached supplier rows still fresh (per item), and the items whose rows must be read."""
        result: dict[int, list[Any]] = {}
        stale: list[CachedItem] = []
        needed = set(required)
        for row in rows:
            cached = row.suppliers
            if (
                cached is not None
                and row.suppliers_at
                and self.now - row.suppliers_at < self.max_age
                and all(needed <= set(r) for r in cached if isinstance(r, Mapping))
            ):
                result[row.item_id] = cached
            else:
                stale.append(row)
        return result, stale

    def read_suppliers(
        self, stale: Sequence[CachedItem], *, workers: int = 1, batch: int = SUPPLIER_BATCH
    ) -> SupplierReads:
        """Start reading ``stale``'s supplier rows from Wawi; iterate the result for them batch by batch."""
        return SupplierReads(self, stale, workers, batch)

    def store_read(
        self, rows: Sequence[CachedItem], answers: Iterable[list[Any] | None]
    ) -> dict[int, list[Any]]:
        """Store one batch of answers (in ``rows``' order); the rows read, per item."""
        fresh: dict[int, list[Any]] = {}
        for row, answer in zip(rows, answers, strict=True):
            if answer is None:
                self.notes.append(f"Wawi item {row.item_id} ({row.sku}) vanished while reading its suppliers")
                continue
            self.stats["supplier_reads"] += 1
            fresh[row.item_id] = [
                {k: r.get(k) for k in SUPPLIER_FIELDS} for r in answer if isinstance(r, Mapping)
            ]
        if fresh:
            self.store.write_item_suppliers(fresh, self.now)
        return fresh


class SupplierReads:
    """Supplier reads under way: ``workers`` at once from the start, yielded ``batch`` items at a time.

    The last ``workers`` answers come one at a time (every read left is on the wire then). Iterating
    yields each batch of items with the rows read, once they are stored (an item that vanished
    in Wawi is left out of the rows and named in the cache's ``notes``). A batch is the next ``batch``
    answers in the order they arrive, so neither a stalled answer nor a thread that waits long for a free
    connection holds back the items read after it. The reads run on ahead while the caller works on a
    batch: a caller acts on the first items while the next are read. A failed read ends the iteration with
    its error, after the answers of the unfinished batch are stored. A read overdue while a worker idles
    (among the last ones) is asked for a second time and the first answer used (:class:`HedgedReads`).
    Use as a context manager: after a failure (or an early exit) nothing queued is read; the reads in
    flight finish.
    """

    def __init__(self, cache: WawiItemCache, stale: Sequence[CachedItem], workers: int, batch: int) -> None:
        workers = readers(workers, cache.wawi.max_in_flight)
        self.cache, self.stale, self.batch, self.workers = cache, stale, max(1, batch), workers
        # One pool for every batch: the reads go on while a finished batch is stored (and used), and no
        # batch waits for its slowest read before the next one starts (Wawi's long tail would idle workers).
        # The last reads, when one is overdue while a worker idles, are asked for twice (HedgedReads).
        self._reads: HedgedReads[int, list[Any] | None] | None = None
        if workers > 1 and len(stale) > 1:
            self._reads = HedgedReads(in_context(self._read_at), workers, "item-suppliers")
            for index in range(len(stale)):
                self._reads.submit(index)

    @property
    def _on_the_wire(self) -> int:
        return self.workers if self._reads is not None else 1

    def _ends_batch(self, rows: int, received: int) -> bool:
        """Whether the answer just received closes a batch of ``rows`` answers (when no other is in hand).

        A full batch does; so does each of the last answers (every read left is on the wire then).
        """
        return rows == self.batch or received >= len(self.stale) - self._on_the_wire

    @property
    def batches(self) -> int:
        """The most batches iterating yields (fewer when the last answers come together)."""
        count = rows = 0
        for received in range(1, len(self.stale) + 1):
            rows += 1
            if self._ends_batch(rows, received):
                count, rows = count + 1, 0
        return count

    def _read(self, row: CachedItem) -> list[Any] | None:
        try:
            return self.cache.wawi.items.suppliers(row.item_id)
        except NotFound:
            return None

    def _read_at(self, index: int) -> list[Any] | None:
        return self._read(self.stale[index])

    def _take(self, received: int, *, block: bool) -> tuple[CachedItem, list[Any] | None] | None:
        """The next item with its answer as they arrive (read in turn without a pool; ``received`` so far).

        None at once when ``block`` is false and no answer is in yet (without a pool: always).
        """
        if self._reads is None:
            row = self.stale[received]
            return (row, self._read(row)) if block else None
        index = self._reads.next_answered(block=block)
        if index is None:
            return None
        answer = self._reads.result(index)
        self._reads.forget(index)
        return self.stale[index], answer

    def __iter__(self) -> Iterator[tuple[Sequence[CachedItem], dict[int, list[Any]]]]:
        rows: list[CachedItem] = []
        answers: list[list[Any] | None] = []
        # Once no read is left queued, a batch is the answers in hand (at least one): the caller acts on the
        # last items as they come instead of after the slowest of them, and answers that came while it was
        # busy are taken together, not one batch (and one plan) each.
        received = 0
        while received < len(self.stale):
            tail = bool(rows) and self._ends_batch(len(rows), received)
            try:
                got = self._take(received, block=not tail)
            except BaseException:
                if rows:  # what was read is kept, for the next run
                    self.cache.store_read(rows, answers)
                raise
            if got is None or len(rows) == self.batch:
                done, stored = rows, self.cache.store_read(rows, answers)
                rows, answers = [], []
                yield done, stored
            if got is not None:
                rows.append(got[0])
                answers.append(got[1])
                received += 1
        if rows:
            yield rows, self.cache.store_read(rows, answers)

    def __enter__(self) -> SupplierReads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the reads not started; let those in flight finish."""
        if self._reads is not None:
            self._reads.close()
