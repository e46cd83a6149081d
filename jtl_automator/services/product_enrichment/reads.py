"""Stage 1: Wawi's catalogue as frames, read only as far as the run needs it.

Always: every item (``GET /items``, paged; ``changedSince`` cannot help, the report is about all items)
and the categories. The listing also refreshes the Wawi item cache in full, for free. As needed:

- **suppliers** (a feed is matched by supplier SKU, or a rule names a supplier): the supplier list and
  each item's ``GET /items/{id}/suppliers`` through the item cache (read only for items whose cached rows
  are missing, ``item_cache_max_age_hours`` old, or whose item changed);
- **images** (the quality report's ``missing_images``, ``check_images``): one ``GET /items/{id}/images``
  per item, ``workers`` at a time under the client's rate limit;
- **properties** (a rule names one): one ``GET /items/{id}/properties`` per item, ``/properties`` and
  each property's values once;
- **manufacturers** (a rule names one): ``GET /manufacturers`` once.

An item that vanishes between the listing and its own reads is left out of those reads and named in
``notes``; every other failure of a read stops the run (it is retried as a whole).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pandas as pd

from jtl_automator.clients.errors import NotFound
from jtl_automator.clients.pagination import flatten
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger
from jtl_automator.services.product_enrichment.params import ProductEnrichmentParams
from jtl_automator.services.wawi_item_cache import WawiItemCache
from jtl_automator.store import StateStore
from jtl_automator.transforms.categorisation import category_paths
from jtl_automator.transforms.product_enrichment import catalogue_frame, category_memberships

log = correlated_logger("jtl_automator.product_enrichment")
T = TypeVar("T")


@dataclass(frozen=True)
class Needs:
    """Which of the optional reads this run makes."""

    suppliers: bool = False
    images: bool = False
    properties: bool = False
    manufacturers: bool = False


@dataclass
class Catalogue:
    """Wawi as this run read it."""

    items: pd.DataFrame
    memberships: pd.DataFrame
    paths: pd.Series
    #: item_id, supplier_id, supplier_sku, supplier_name: the item's supplier entries.
    supplier_rows: pd.DataFrame
    #: item_id, kind (supplier | property), key (property name), value: what the rules match against.
    links: pd.DataFrame
    #: Supplier id -> name and supplier number (for the mapping's ``wawi_supplier``).
    suppliers: dict[int, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


def _each(ids: Sequence[int], read: Callable[[int], T], workers: int) -> dict[int, T | None]:
    """``read`` of every id, ``workers`` at a time; None where the item vanished (NotFound)."""

    def one(item_id: int) -> T | None:
        try:
            return read(item_id)
        except NotFound:
            return None

    if workers == 1 or len(ids) < 2:
        return {i: one(i) for i in ids}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="enrichment-read") as pool:
        return dict(zip(ids, pool.map(one, ids), strict=True))


def load_catalogue(
    wawi: WawiClient,
    store: StateStore,
    params: ProductEnrichmentParams,
    needs: Needs,
    now: datetime,
) -> Catalogue:
    """Read Wawi's items and categories, plus what ``needs`` asks for (see the module)."""
    listed = list(flatten(wawi.items.iter_pages()))
    items = catalogue_frame(listed)
    memberships = category_memberships(listed)
    categories = [
        {"category_id": c.id, "name": c.name, "parent_id": c.parent_category_id}
        for c in wawi.categories.list()
    ]
    paths = category_paths(pd.DataFrame(categories, columns=["category_id", "name", "parent_id"]))
    notes: list[str] = []
    stats = {"items": len(items), "categories": len(paths)}
    supplier_rows = pd.DataFrame(columns=["item_id", "supplier_id", "supplier_sku", "supplier_name"])
    links: list[dict[str, Any]] = []
    suppliers: dict[int, tuple[str, str]] = {}
    if needs.suppliers:
        suppliers = {
            s.id: (s.name or s.company or str(s.id), s.supplier_no or "") for s in wawi.suppliers.list()
        }
        cache = WawiItemCache(store, wawi, now, timedelta(hours=params.item_cache_max_age_hours))
        cache.replace_all(listed)
        per_item = cache.suppliers(store.cached_items(None), required=("Sku",))
        notes.extend(cache.notes)
        stats["supplier_reads"] = cache.stats["supplier_reads"]
        rows = [
            {
                "item_id": item_id,
                "supplier_id": row.get("SupplierId"),
                "supplier_sku": row.get("Sku") if isinstance(row.get("Sku"), str) else None,
            }
            for item_id, entries in per_item.items()
            for row in entries
            if isinstance(row.get("SupplierId"), int)
        ]
        supplier_rows = pd.DataFrame(rows, columns=["item_id", "supplier_id", "supplier_sku"])
        supplier_rows["supplier_name"] = supplier_rows["supplier_id"].map(
            lambda sid: suppliers.get(int(sid), (None, ""))[0]
        )
        links.extend(
            {
                "item_id": r["item_id"],
                "kind": "supplier",
                "key": None,
                "value": suppliers.get(r["supplier_id"], (None,))[0],
            }
            for r in rows
        )
    ids = [int(i) for i in items["item_id"]]
    image_count = pd.Series(pd.NA, index=items.index, dtype="Int64")
    if needs.images:
        found = _each(ids, lambda i: len(wawi.items.images(i)), params.workers)
        image_count = items["item_id"].map(found).astype("Int64")
        stats["image_reads"] = len(ids)
        notes.extend(
            f"Wawi item {i} vanished while its images were read" for i, n in found.items() if n is None
        )
    items["image_count"] = image_count
    items["manufacturer"] = pd.Series(pd.NA, index=items.index, dtype="string")
    if needs.manufacturers:
        makers = {m.id: m.name for m in wawi.manufacturers()}
        items["manufacturer"] = items["manufacturer_id"].map(makers).astype("string")
    if needs.properties:
        names = {p.id: p.name or str(p.id) for p in wawi.properties.list()}
        values = {
            (pid, value.id): value.name or str(value.id)
            for pid in names
            for value in wawi.properties.values(pid)
        }
        assigned = _each(ids, wawi.items.properties, params.workers)
        stats["property_reads"] = len(ids)
        for item_id, assigned_values in assigned.items():
            if assigned_values is None:
                notes.append(f"Wawi item {item_id} vanished while its properties were read")
                continue
            links.extend(
                {
                    "item_id": item_id,
                    "kind": "property",
                    "key": names.get(row.property_id),
                    "value": values.get((row.property_id, row.property_value_id)),
                }
                for row in assigned_values
            )
    log.info("catalogue: %s", stats)
    return Catalogue(
        items=items,
        memberships=memberships,
        paths=paths,
        supplier_rows=supplier_rows,
        links=pd.DataFrame(links, columns=["item_id", "kind", "key", "value"]),
        suppliers=suppliers,
        notes=notes,
        stats=stats,
    )


def resolve_supplier(wanted: str | int, suppliers: dict[int, tuple[str, str]]) -> int:
    """The Wawi supplier id of a mapping's ``wawi_supplier``: an id, a name or a supplier number."""
    if isinstance(wanted, int):
        if wanted in suppliers:
            return wanted
        raise LookupError(f"no Wawi supplier has the Id {wanted}")
    text = wanted.strip().casefold()
    found = [sid for sid, (name, number) in suppliers.items() if text in (name.casefold(), number.casefold())]
    if len(found) == 1:
        return found[0]
    if not found:
        known = ", ".join(f"{name} ({sid})" for sid, (name, _) in sorted(suppliers.items())[:20])
        raise LookupError(f"no Wawi supplier is named or numbered {wanted!r} (suppliers: {known})")
    raise LookupError(f"several Wawi suppliers are named {wanted!r}: Ids {', '.join(map(str, found))}")
