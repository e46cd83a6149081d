"""The entities a workflow's trigger looks at, read in bulk: records with exactly the fields it names.

Each entity type (:data:`~jtl_automator.workflows.definition.ENTITY_FIELDS`) becomes :class:`Entity`
records: its key, its fields (every name ENTITY_FIELDS lists, None where the data has no value) and its
tags as :data:`~jtl_automator.workflows.definition.TagKey` tuples. Reads are bulk: one paged listing of
items, stocks and categories each (requests at the paging lower bound), the order ledger and its lines
from the state database. Only what Wawi has no bulk endpoint for is read per object, and then only when
the trigger needs it: property values (``GET /items/{id}/properties``, read only when the trigger's tags
name a property, cached per item and its ``Changed``) and a sales order's own fields (``GET
/salesOrders/{id}``, cached per order for the source's lifetime). Custom field values (Eigene Felder:
``GET /items/{id}/customfields``, ``GET /salesOrders/{id}/customfields``) are read likewise only when the
trigger's tags name a custom field: one request per item or order, cached per evaluation, plus the
definitions list once (values carry only the field's id). Tags are ``("custom_field", name, text)``;
checkboxes read ``true``/``false`` (as YAML's ``yes``/``true`` do). A value row Wawi sends malformed is
left out and noted in ``skipped`` (the runner reports it on the workflow).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from jtl_automator.clients.errors import NotFound
from jtl_automator.clients.wawi.client import SkippedRow, WawiClient
from jtl_automator.clients.wawi.models import CustomFieldValue, Item, SalesOrder, Stock
from jtl_automator.store import StateStore
from jtl_automator.store.models import OrderEvent
from jtl_automator.transforms.ledger_demand import ledger_lines_frame
from jtl_automator.transforms.replenishment import STOCKOUT_SCHEMA, DemandParams, demand_frame
from jtl_automator.workflows.definition import ENTITY_FIELDS, TagKey

#: Days of recorded order lines the daily demand is measured over (as the replenishment's default).
DEMAND_DAYS = 90
#: Tag kinds every entity type reads without a per-item request.
BULK_TAG_KINDS = frozenset({"category"})


class EntityReadError(Exception):
    """Entities could not be read; the message is one line: what, where, how to fix it."""


@dataclass(frozen=True)
class Entity:
    """One entity as a trigger sees it: key, the fields ENTITY_FIELDS names, and its tags."""

    type: str
    key: str
    fields: Mapping[str, Any]
    tags: tuple[TagKey, ...] = ()

    def tag_texts(self) -> list[str]:
        """Tags as people write them: ``category:Saison``, ``property:Farbe=rot``."""
        return [f"{t[0]}:{t[1]}" + (f"={t[2]}" if len(t) > 2 else "") for t in self.tags]


def entity(entity_type: str, key: str, values: Mapping[str, Any], tags: Iterable[TagKey] = ()) -> Entity:
    """An Entity with exactly its type's fields: missing ones None, unknown ones refused (a bug)."""
    names = ENTITY_FIELDS[entity_type]
    extra = set(values) - set(names)
    if extra:
        raise ValueError(f"{entity_type} has no field(s) {', '.join(sorted(extra))}")
    return Entity(entity_type, key, {name: values.get(name) for name in names}, tuple(tags))


@dataclass(frozen=True)
class OrderEventChange:
    """One row of ``order_events`` (the change an ``order_event`` trigger fires on)."""

    id: int
    order_number: str
    event: str
    detail: dict[str, Any] | None
    at: datetime


class EntitySource(Protocol):
    """Where the runner's entities come from (Wawi and the state database, or a fake in tests)."""

    #: Rows the source left out as malformed (what, where, why), appended as it reads.
    skipped: list[SkippedRow]

    def entities(
        self,
        entity_type: str,
        *,
        keys: Collection[str] | None = None,
        tag_kinds: Collection[str] = BULK_TAG_KINDS,
    ) -> list[Entity]:
        """Every entity of the type (or only ``keys``), with the tags of ``tag_kinds`` filled in."""
        ...

    def items_changed_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """SKUs of the Wawi items changed at or after ``since``, each with its ``Changed``."""
        ...

    def order_events_after(
        self, after_id: int, events: Collection[str] | None = None
    ) -> list[OrderEventChange]:
        """Order events with an id above ``after_id`` (optionally only some), oldest first."""
        ...


# -- The fake ------------------------------------------------------------------------------------------


@dataclass
class FakeEntitySource:
    """Entities held in memory; counts the reads so tests can check reads stay in bulk."""

    records: dict[str, list[Entity]] = field(default_factory=dict)
    changed: list[tuple[str, datetime]] = field(default_factory=list)
    events: list[OrderEventChange] = field(default_factory=list)
    reads: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)

    def add(
        self, entity_type: str, key: str, values: Mapping[str, Any], tags: Iterable[TagKey] = ()
    ) -> Entity:
        """Put an entity in (replacing one with the same key)."""
        made = entity(entity_type, key, values, tags)
        kept = [e for e in self.records.get(entity_type, []) if e.key != key]
        self.records[entity_type] = [*kept, made]
        return made

    def entities(
        self,
        entity_type: str,
        *,
        keys: Collection[str] | None = None,
        tag_kinds: Collection[str] = BULK_TAG_KINDS,
    ) -> list[Entity]:
        """See :class:`EntitySource`."""
        self.reads += 1
        found = self.records.get(entity_type, [])
        return [e for e in found if keys is None or e.key in keys]

    def items_changed_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """See :class:`EntitySource`."""
        self.reads += 1
        return [(sku, at) for sku, at in self.changed if at >= since]

    def order_events_after(
        self, after_id: int, events: Collection[str] | None = None
    ) -> list[OrderEventChange]:
        """See :class:`EntitySource`."""
        self.reads += 1
        return [e for e in self.events if e.id > after_id and (events is None or e.event in events)]


# -- Wawi and the state database -----------------------------------------------------------------------


def _available(row: Stock) -> float:
    """Wawi's available units: total less what is locked for shipment or availability and in pick lists."""
    held = (
        row.quantity_locked_for_shipment
        + row.quantity_locked_for_availability
        + row.quantity_in_picking_lists
    )
    return max(0.0, row.quantity_total - held)


def _margin(price: float | None, purchase: float | None) -> float | None:
    if price is None or purchase is None or price <= 0:
        return None
    return round((price - purchase) / price * 100, 2)


def _cover(stock: float | None, demand: float | None) -> float | None:
    """Days of cover; no demand means no end in sight (None: a condition on it never matches)."""
    if stock is None or not demand:
        return None
    return round(stock / demand, 1)


@dataclass
class _Catalogue:
    items: list[Item]
    paths: dict[int, str]


class WawiEntitySource:
    """Entities from Wawi (items, stocks, categories, manufacturers, sales orders) and the state store.

    One instance serves one evaluation: the listings are read once and shared by every workflow that
    asks for the same entity type; property values and sales orders are cached across the instance.
    """

    def __init__(self, wawi: WawiClient, store: StateStore, *, now: datetime | None = None) -> None:
        self.wawi = wawi
        self.store = store
        self.now = now or datetime.now(UTC)
        self._catalogue: _Catalogue | None = None
        self._stocks: list[Stock] | None = None
        self._demand: dict[tuple[str, str], float] | None = None
        self._property_names: dict[tuple[int, int], tuple[str, str]] | None = None
        self._properties: dict[tuple[int, str | None], tuple[TagKey, ...]] = {}
        self._orders: dict[int, SalesOrder] = {}
        self._manufacturers: dict[int, str] | None = None
        self._warehouse_ids: dict[int, str] | None = None
        # custom fields per owner ("item", "sales_order"): names by id, and tags per object id
        self._custom_names: dict[str, dict[int, str]] = {}
        self._custom_tags: dict[tuple[str, int], tuple[TagKey, ...]] = {}
        #: Custom field rows Wawi sent malformed (left out of the tags), for the run's report.
        self.skipped: list[SkippedRow] = []

    # bulk reads, each at most once per instance

    def _items(self) -> _Catalogue:
        if self._catalogue is None:
            categories = {c.id: c for c in self.wawi.categories.list()}
            paths: dict[int, str] = {}

            def path(cid: int, depth: int = 0) -> str:
                if cid in paths:
                    return paths[cid]
                category = categories.get(cid)
                if category is None:
                    return str(cid)
                name = category.name or str(cid)
                parent = category.parent_category_id
                if parent and parent in categories and depth < 50:
                    name = f"{path(parent, depth + 1)} > {name}"
                paths[cid] = name
                return name

            for cid in categories:
                path(cid)
            self._catalogue = _Catalogue(list(self.wawi.items.list()), paths)
        return self._catalogue

    def _stock_rows(self) -> list[Stock]:
        if self._stocks is None:
            self._stocks = list(self.wawi.stocks.list())
        return self._stocks

    def _warehouse_names(self) -> dict[int, str]:
        """Wawi warehouse Id -> the id plans, FFN and the order ledger use for it.

        An FFN warehouse is known to Wawi by its ``Code`` (the FFN warehouse id, as the stock sync matches
        them), so its stock entities carry that id: a restock line or a demand figure then names the
        warehouse FFN knows. Other warehouses keep their Wawi Id.
        """
        if self._warehouse_ids is None:
            self._warehouse_ids = {
                w.id: (
                    w.code if w.code and "Fulfillment" in ((w.type or {}).get("Scope") or ()) else str(w.id)
                )
                for w in self.wawi.warehouses.list()
            }
        return self._warehouse_ids

    def _manufacturer_names(self) -> dict[int, str]:
        if self._manufacturers is None:
            self._manufacturers = {m.id: m.name or str(m.id) for m in self.wawi.manufacturers()}
        return self._manufacturers

    def _daily_demand(self) -> dict[tuple[str, str], float]:
        """Mean units per day per (SKU, warehouse) from the order ledger, as the replenishment computes it."""
        if self._demand is None:
            end = self.now.date()
            window = DemandParams(start=end - timedelta(days=DEMAND_DAYS - 1), end=end)
            lines = ledger_lines_frame(self.store.iter_order_lines(window.start, window.end))
            stockouts = STOCKOUT_SCHEMA.validate(
                pd.DataFrame(
                    {
                        "merchant_sku": pd.Series(dtype="string"),
                        "warehouse_id": pd.Series(dtype="string"),
                        "day": pd.Series(dtype="datetime64[us]"),
                    }
                )
            )
            frame = demand_frame(lines, stockouts, window)
            self._demand = {
                (str(sku), str(warehouse)): float(units)
                for sku, warehouse, units in zip(
                    frame["merchant_sku"].tolist(),
                    frame["warehouse_id"].tolist(),
                    frame["daily_demand"].tolist(),
                    strict=True,
                )
            }
        return self._demand

    def _property_tags(self, item: Item) -> tuple[TagKey, ...]:
        """An item's property values as tags: one request per item, cached while its Changed is unchanged."""
        marker = (item.id, item.changed.isoformat() if item.changed else None)
        if marker not in self._properties:
            if self._property_names is None:
                names: dict[tuple[int, int], tuple[str, str]] = {}
                for prop in self.wawi.properties.list():
                    for value in self.wawi.properties.values(prop.id):
                        names[(prop.id, value.id)] = (prop.name or str(prop.id), value.name or str(value.id))
                self._property_names = names
            tags: list[TagKey] = []
            for assigned in self.wawi.items.properties(item.id):
                found = self._property_names.get((assigned.property_id, assigned.property_value_id))
                if found is not None:
                    tags.append(("property", *found))
            self._properties[marker] = tuple(tags)
        return self._properties[marker]

    def _custom_field_tags(self, owner: str, object_id: int) -> tuple[TagKey, ...]:
        """An item's or order's custom field values as tags: one request per object per evaluation."""
        marker = (owner, object_id)
        if marker not in self._custom_tags:
            resource = self.wawi.items if owner == "item" else self.wawi.sales_orders
            if owner not in self._custom_names:
                self._custom_names[owner] = {
                    f.custom_field_id: f.name for f in resource.custom_fields(skipped=self.skipped)
                }
            names = self._custom_names[owner]
            try:
                values: list[CustomFieldValue] = resource.custom_field_values(object_id, skipped=self.skipped)
            except NotFound:  # the object was just listed: the spec's 404 "No fields could be found"
                values = []
            self._custom_tags[marker] = tuple(
                ("custom_field", names[v.custom_field_id], v.text())
                for v in values
                if v.custom_field_id in names and v.value is not None
            )
        return self._custom_tags[marker]

    # the protocol

    def entities(
        self,
        entity_type: str,
        *,
        keys: Collection[str] | None = None,
        tag_kinds: Collection[str] = BULK_TAG_KINDS,
    ) -> list[Entity]:
        """See :class:`EntitySource`."""
        if entity_type in ("item", "child_item"):
            return self._item_entities(entity_type, keys, tag_kinds)
        if entity_type == "inventory_item":
            return self._inventory_entities(keys, tag_kinds)
        if entity_type == "manufacturer":
            return self._manufacturer_entities(keys)
        if entity_type == "sales_order":
            return self._order_entities(keys, tag_kinds)
        raise EntityReadError(f"unknown entity type {entity_type!r}; types: {', '.join(ENTITY_FIELDS)}")

    def _tags(self, item: Item, paths: Mapping[int, str], tag_kinds: Collection[str]) -> list[TagKey]:
        tags: list[TagKey] = []
        for category in item.categories:
            full = paths.get(category.category_id)
            if full is not None:
                tags.append(("category", full))
                leaf = full.rsplit(" > ", 1)[-1]
                if leaf != full:
                    tags.append(("category", leaf))
            elif category.name:
                tags.append(("category", category.name))
        if "property" in tag_kinds:
            tags.extend(self._property_tags(item))
        if "custom_field" in tag_kinds:
            tags.extend(self._custom_field_tags("item", item.id))
        return tags

    def _item_entities(
        self, entity_type: str, keys: Collection[str] | None, tag_kinds: Collection[str]
    ) -> list[Entity]:
        catalogue = self._items()
        by_id = {item.id: item for item in catalogue.items}
        stock: dict[int, float] = {}
        for row in self._stock_rows():
            stock[row.item_id] = stock.get(row.item_id, 0.0) + _available(row)
        demand: dict[str, float] = {}
        for (sku, _warehouse), units in self._daily_demand().items():
            demand[sku] = demand.get(sku, 0.0) + units
        makers = self._manufacturer_names()
        out: list[Entity] = []
        for item in catalogue.items:
            is_child = item.parent_item_id is not None
            if not item.sku or is_child != (entity_type == "child_item"):
                continue
            if keys is not None and item.sku not in keys:
                continue
            prices = item.item_price_data
            price = prices.sales_price_net if prices else None
            purchase = prices.purchase_price_net if prices else None
            units = stock.get(item.id, 0.0)
            daily = round(demand.get(item.sku, 0.0), 4)
            values: dict[str, Any] = {
                "sku": item.sku,
                "name": item.name,
                "active": item.is_active,
                "manufacturer": makers.get(item.manufacturer_id) if item.manufacturer_id else None,
                "price": price,
                "purchase_price": purchase,
                "margin_pct": _margin(price, purchase),
                "stock": units,
                "daily_demand": daily,
                "cover_days": _cover(units, daily),
                "changed": item.changed.isoformat() if item.changed else None,
                "added": item.added.isoformat() if item.added else None,
            }
            if is_child:
                parent = by_id.get(item.parent_item_id or 0)
                values["parent_sku"] = parent.sku if parent else None
            out.append(entity(entity_type, item.sku, values, self._tags(item, catalogue.paths, tag_kinds)))
        return out

    def _inventory_entities(self, keys: Collection[str] | None, tag_kinds: Collection[str]) -> list[Entity]:
        catalogue = self._items()
        by_id = {item.id: item for item in catalogue.items}
        rows: dict[tuple[int, int], list[float]] = {}
        for row in self._stock_rows():
            sums = rows.setdefault((row.item_id, row.warehouse_id), [0.0, 0.0])
            sums[0] += _available(row)
            sums[1] += row.quantity_total
        demand = self._daily_demand()
        names = self._warehouse_names()
        tags_of: dict[int, list[TagKey]] = {}
        out: list[Entity] = []
        for (item_id, wawi_warehouse), (available, total) in sorted(rows.items()):
            item = by_id.get(item_id)
            if item is None or not item.sku:
                continue
            warehouse_id = names.get(wawi_warehouse, str(wawi_warehouse))
            key = f"{item.sku}@{warehouse_id}"
            if keys is not None and key not in keys:
                continue
            if item_id not in tags_of:
                tags_of[item_id] = self._tags(item, catalogue.paths, tag_kinds)
            prices = item.item_price_data
            daily = round(demand.get((item.sku, str(warehouse_id)), 0.0), 4)
            values = {
                "sku": item.sku,
                "name": item.name,
                "warehouse": str(warehouse_id),
                "stock": available,
                "stock_total": total,
                "reserved": max(0.0, total - available),
                "daily_demand": daily,
                "cover_days": _cover(available, daily),
                "price": prices.sales_price_net if prices else None,
                "purchase_price": prices.purchase_price_net if prices else None,
            }
            out.append(entity("inventory_item", key, values, tags_of[item_id]))
        return out

    def _manufacturer_entities(self, keys: Collection[str] | None) -> list[Entity]:
        counts: dict[int, int] = {}
        for item in self._items().items:
            if item.manufacturer_id is not None:
                counts[item.manufacturer_id] = counts.get(item.manufacturer_id, 0) + 1
        out = []
        for maker_id, name in sorted(self._manufacturer_names().items()):
            if keys is None or name in keys:
                out.append(
                    entity("manufacturer", name, {"name": name, "item_count": counts.get(maker_id, 0)})
                )
        return out

    def _order_entities(self, keys: Collection[str] | None, tag_kinds: Collection[str]) -> list[Entity]:
        """Ledger orders (all open ones, or ``keys``): the ledger's status plus the Wawi order's fields."""
        if keys is None:
            from jtl_automator.services.order_processing.params import OPEN_STATUSES

            records = self.store.orders_in_status(OPEN_STATUSES)
        else:
            records = list(self.store.orders(keys).values())
        out = []
        for record in records:
            order = self._order(record.wawi_order_id)
            codes = (
                _hold_codes(self.store.order_events(record.order_number)) if record.status == "held" else []
            )
            payment = order.sales_order_payment_details if order else None
            address = order.shipment_address if order else None
            values = {
                "order_number": record.order_number,
                "status": record.status,
                "hold_reason": record.hold_reason,
                "hold_codes": codes,
                "country": getattr(address, "country_iso", None) if address else None,
                "total_gross": payment.total_gross_amount if payment else None,
                "payment_status": payment.payment_status if payment else None,
                "sales_channel": order.sales_channel_id if order else None,
                "warehouse": record.warehouse_id,
                "order_date": record.order_date.isoformat() if record.order_date else None,
                "cancelled": order.is_cancelled if order else None,
            }
            tags: tuple[TagKey, ...] = ()
            if "custom_field" in tag_kinds and record.wawi_order_id is not None:
                tags = self._custom_field_tags("sales_order", record.wawi_order_id)
            out.append(entity("sales_order", record.order_number, values, tags))
        return out

    def _order(self, order_id: int | None) -> SalesOrder | None:
        """``GET /salesOrders/{id}`` (Wawi lists orders only in full): once per order per instance."""
        if order_id is None:
            return None
        if order_id not in self._orders:
            self._orders[order_id] = self.wawi.sales_orders.get(order_id)
        return self._orders[order_id]

    def items_changed_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """See :class:`EntitySource`."""
        found = []
        for item in self.wawi.items.list(changed_since=since.isoformat()):
            if item.sku and item.changed is not None:
                changed = item.changed if item.changed.tzinfo else item.changed.replace(tzinfo=UTC)
                found.append((item.sku, changed))
        return found

    def order_events_after(
        self, after_id: int, events: Collection[str] | None = None
    ) -> list[OrderEventChange]:
        """See :class:`EntitySource`."""
        return order_events_after(self.store, after_id, events)


def order_events_after(
    store: StateStore, after_id: int, events: Collection[str] | None = None, limit: int = 10_000
) -> list[OrderEventChange]:
    """The ``order_events`` rows after ``after_id`` (one query; the table is append-only, ids ascend)."""
    from sqlalchemy import select

    stmt = select(OrderEvent).where(OrderEvent.id > after_id)
    if events is not None:
        stmt = stmt.where(OrderEvent.event.in_(list(events)))
    with store.session() as s:
        rows = s.execute(stmt.order_by(OrderEvent.id).limit(limit)).scalars()
        return [
            OrderEventChange(
                r.id,
                r.order_number,
                r.event,
                r.detail,
                r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
            )
            for r in rows
        ]


def _hold_codes(events: Sequence[tuple[str, dict[str, Any] | None]]) -> list[str]:
    """The failure codes of the order's latest hold (order processing records them in the event's detail)."""
    for event, detail in reversed(events):
        if event in ("held", "duplicate_held") and detail:
            codes = detail.get("codes")
            return [str(c) for c in codes] if isinstance(codes, list) else []
    return []


__all__ = [
    "BULK_TAG_KINDS",
    "DEMAND_DAYS",
    "Entity",
    "EntityReadError",
    "EntitySource",
    "FakeEntitySource",
    "OrderEventChange",
    "WawiEntitySource",
    "entity",
    "order_events_after",
]
