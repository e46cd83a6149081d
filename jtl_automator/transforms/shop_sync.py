"""Shop sync check: which shop orders are stuck, which shop stock is stale, which shop prices drifted.

JTL-Wawi pulls the shop's orders and pushes stock and prices to JTL-Shop with its own sync; the Shop's
REST API can only be read. These pure functions compare what each side says (docs/shop-sync-check.md):

- **orders**: a shop order without a Wawi sales order of that external number after the grace period is
  *stuck* (with its age); an order the shop cancelled (``state`` ``-1``) whose Wawi order is not cancelled
  is *cancelled_open*;
- **stock**: for products whose stock the shop manages (``trackStock`` ``Y``), the shop's ``stockQty``
  against what Wawi should publish: the available units (total less what is locked and in pick lists)
  over the Wawi warehouses the shop is fed from. The shop may already have taken off the units of its
  orders Wawi has not pulled yet (until Wawi's next stock push puts them back), so anything from
  available less those units up to available is in sync. Beyond that band and the tolerance it is a
  *stale stock* finding; the shop showing more than available (oversell risk) comes first;
- **prices**: the shop's base price (the tier from quantity 0, net) per customer group against Wawi's
  price for the shop's sales channel and that group (or all groups), else the item's base price.

The shop's rows arrive typed (``jtl_automator.clients.shop.models``: dates already aware, yes/no as
bools, rows that do not fit their model left out by the client); Wawi's JSON is read here, once. A row
that cannot be compared (no SKU, no order number, no quantity where the stock is managed) stays in its
frame with a ``problem`` and is reported by name instead of failing the run. Findings become
incidents in :mod:`jtl_automator.transforms.shop_incidents`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field

from jtl_automator.clients.shop.models import ShopCart, ShopOrder, ShopProduct

#: Incident kinds.
STUCK_ORDER = "stuck_order"
CANCELLED_OPEN = "cancelled_open"
STALE_STOCK = "stale_stock"
PRICE_DRIFT = "price_drift"
KINDS = (STUCK_ORDER, CANCELLED_OPEN, STALE_STOCK, PRICE_DRIFT)

#: Order statuses.
IN_WAWI = "in_wawi"
WAITING = "waiting"
STUCK = "stuck"
CANCELLED = "cancelled"
UNCHECKED = "unchecked"
INVALID = "invalid"
#: Stock and price statuses.
OK = "ok"
OVERSELL = "oversell"
UNDERSELL = "undersell"
NOT_TRACKED = "not_tracked"
PARENT = "parent"
UNKNOWN_SKU = "unknown_sku"
DRIFT = "drift"
NEEDS_READ = "needs_channel_read"

#: The shop's order state for a cancelled order (``BESTELLUNG_STATUS_STORNO``).
SHOP_CANCELLED = "-1"
_UTC_TIMES = "datetime64[us, UTC]"

SHOP_ORDERS_SCHEMA = pa.DataFrameSchema(
    {
        "shop_order_id": pa.Column("Int64", nullable=True),
        "order_no": pa.Column("string"),
        "state": pa.Column("string", nullable=True),
        "created_at": pa.Column(_UTC_TIMES, nullable=True),
        "cart_id": pa.Column("Int64", nullable=True),
        "total": pa.Column("float64", nullable=True),
        "problem": pa.Column("string"),
    },
    name="shop_orders",
)
ORDER_CHECK_SCHEMA = pa.DataFrameSchema(
    {
        "shop_order_id": pa.Column("Int64"),
        "order_no": pa.Column("string"),
        "state": pa.Column("string", nullable=True),
        "created_at": pa.Column(_UTC_TIMES),
        "units": pa.Column("float64"),
        "total": pa.Column("float64", nullable=True),
        # None: Wawi was not asked this run; else whether a sales order with that external number exists.
        "wawi_found": pa.Column("boolean", nullable=True),
        "wawi_status": pa.Column("string", nullable=True),  # open | shipped | cancelled
        "wawi_numbers": pa.Column("string", nullable=True),
    },
    checks=pa.Check(lambda df: ~df["order_no"].duplicated().any(), error="an order number twice"),
    name="shop_order_check",
)
PRODUCTS_SCHEMA = pa.DataFrameSchema(
    {
        "product_id": pa.Column("Int64", nullable=True),
        "sku": pa.Column("string"),
        "track_stock": pa.Column("boolean", nullable=True),
        "is_parent": pa.Column("bool"),
        "stock_qty": pa.Column("float64", nullable=True),
        "problem": pa.Column("string"),
    },
    name="shop_products",
)
WAREHOUSE_STOCK_SCHEMA = pa.DataFrameSchema(
    {
        "product_id": pa.Column("Int64"),
        "sku": pa.Column("string"),
        "shop_warehouse_id": pa.Column("string"),
        "stock": pa.Column("float64", nullable=True),
        "problem": pa.Column("string"),
    },
    name="shop_warehouse_stock",
)
SHOP_PRICES_SCHEMA = pa.DataFrameSchema(
    {
        "product_id": pa.Column("Int64"),
        "sku": pa.Column("string"),
        "customer_group_id": pa.Column("Int64", nullable=True),
        "net_price": pa.Column("float64", nullable=True),
        "problem": pa.Column("string"),
    },
    name="shop_prices",
)
WAWI_AVAILABLE_SCHEMA = pa.DataFrameSchema(
    {
        "sku": pa.Column("string"),
        "item_id": pa.Column("Int64"),
        "wawi_warehouse_id": pa.Column("Int64", nullable=True),  # NA: an item without stock rows
        "available": pa.Column("float64", pa.Check.ge(0)),
    },
    name="wawi_available",
)
PENDING_SCHEMA = pa.DataFrameSchema(
    {"sku": pa.Column("string"), "units": pa.Column("float64", pa.Check.ge(0))},
    checks=pa.Check(lambda df: ~df["sku"].duplicated().any(), error="a SKU twice"),
    name="shop_pending_units",
)
WAWI_PRICES_SCHEMA = pa.DataFrameSchema(
    {
        "sku": pa.Column("string"),
        "item_id": pa.Column("Int64"),
        "base_net": pa.Column("float64", nullable=True),
        "changed": pa.Column("string", nullable=True),
    },
    checks=pa.Check(lambda df: ~df["sku"].duplicated().any(), error="a SKU twice"),
    name="wawi_prices",
)
CHANNEL_PRICES_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("Int64"),
        "customer_group_id": pa.Column("Int64"),  # Wawi's group; 0: every group
        "net_price": pa.Column("float64", nullable=True),
        "reduce_pct": pa.Column("float64", nullable=True),
    },
    name="wawi_channel_prices",
)
FINDINGS_COLUMNS: dict[str, str] = {
    "kind": "string",
    "key": "string",
    "since": _UTC_TIMES,  # when the condition began, if the data says (a stuck order's creation)
    "sku": "string",
    "order_no": "string",
    "risk": "string",  # oversell | undersell | "" (stale stock)
    "shop_value": "float64",
    "wawi_value": "float64",
    "difference": "float64",
    "detail": "string",
}
FINDINGS_SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(dtype, nullable=name not in ("kind", "key", "detail"))
        for name, dtype in FINDINGS_COLUMNS.items()
    },
    checks=[
        pa.Check(lambda df: df["kind"].isin(KINDS).all(), error="an unknown incident kind"),
        pa.Check(lambda df: ~df.duplicated(["kind", "key"]).any(), error="a kind and key twice"),
    ],
    name="shop_sync_findings",
)


class OrderCheckParams(BaseModel):
    """When a shop order Wawi has not pulled counts as stuck."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grace_minutes: float = Field(default=30.0, ge=0, description="Age after which a missing order is stuck.")


class StockCheckParams(BaseModel):
    """Which Wawi warehouses feed the shop, and how far apart the two sides may be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse_map: dict[str, tuple[int, ...]] = Field(
        default_factory=dict,
        description="Shop warehouse id -> the Wawi warehouse ids whose available units it shows.",
    )
    feeding_warehouses: tuple[int, ...] = Field(
        default=(), description="Wawi warehouses whose sum ``stockQty`` shows (resolved by the service)."
    )
    tolerance: float = Field(default=0.0, ge=0, description="Units the two sides may differ by.")


class PriceCheckParams(BaseModel):
    """How shop customer groups map to Wawi's, and how far prices may differ."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_map: dict[int, int] = Field(
        default_factory=dict, description="Shop customerGroupID -> Wawi customer group id (default: same)."
    )
    tolerance: float = Field(default=0.005, ge=0, description="Net euros the two prices may differ by.")


# -- reading the shop's rows -------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    """An id: a JSON int (or an integral float); strings and bools are not ids."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _number(value: Any) -> float | None:
    """A quantity or price: a finite number (whole floats arrive as ints); anything else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _shown(value: Any) -> str:
    return "missing" if value is None else repr(value)[:60]


def shop_orders_frame(orders: Iterable[ShopOrder]) -> pd.DataFrame:
    """Shop orders (the client's typed rows) as a frame; one without order number or date keeps a problem.

    Wawi keys the order by its number (``orderNO``, Wawi's external number) and the grace period runs
    from ``created``: without either the order cannot be checked, and says so.
    """
    cols: dict[str, list[Any]] = {name: [] for name in SHOP_ORDERS_SCHEMA.columns}
    for order in orders:
        number, created = _text(order.order_no), order.created
        problems = []
        if not number:
            problems.append("orderNO missing (Wawi keys the order by it)")
        if created is None:
            problems.append("created missing (the grace period runs from it)")
        cols["shop_order_id"].append(order.id)
        cols["order_no"].append(number)
        cols["state"].append(order.state.value if order.state is not None else None)
        cols["created_at"].append(created.astimezone(UTC) if created is not None else None)
        cols["cart_id"].append(order.cart_id)
        cols["total"].append(_number(order.total))
        cols["problem"].append("; ".join(problems))
    frame = pd.DataFrame(
        {
            "shop_order_id": pd.Series(cols["shop_order_id"], dtype="Int64"),
            "order_no": pd.Series(cols["order_no"], dtype="string"),
            "state": pd.Series(cols["state"], dtype="string"),
            "created_at": pd.Series(pd.to_datetime(cols["created_at"], utc=True), dtype=_UTC_TIMES),
            "cart_id": pd.Series(cols["cart_id"], dtype="Int64"),
            "total": pd.Series(cols["total"], dtype="float64"),
            "problem": pd.Series(cols["problem"], dtype="string"),
        }
    )
    return SHOP_ORDERS_SCHEMA.validate(frame)


def cart_lines(cart: ShopCart) -> tuple[list[dict[str, Any]], str]:
    """The cart's product lines (``posType`` 1) as ``{product_id, sku, qty}``, or why they cannot count.

    Shipping, coupons and payment fees are not goods. A product line without a SKU or with a quantity
    that is not a non-negative number makes the cart a problem: its units cannot be counted, so the stock
    check does not trust any of them.
    """
    lines: list[dict[str, Any]] = []
    problems: list[str] = []
    for item in cart.product_lines:
        sku, qty = _text(item.sku), _number(item.qty)
        if not sku or qty is None or qty < 0:
            problems.append(f"line {item.id}: sku {_shown(item.sku)}, qty {_shown(item.qty)}")
            continue
        lines.append({"product_id": item.product_id, "sku": sku, "qty": qty})
    return ([] if problems else lines), "; ".join(problems)


#: Each frame's columns and their dtypes, in the schemas' order (nullable ids, strings, floats).
_PRODUCT_DTYPES = {
    "product_id": "Int64",
    "sku": "string",
    "track_stock": "boolean",
    "is_parent": "bool",
    "stock_qty": "float64",
    "problem": "string",
}
_STOCK_DTYPES = {
    "product_id": "Int64",
    "sku": "string",
    "shop_warehouse_id": "string",
    "stock": "float64",
    "problem": "string",
}
_PRICE_DTYPES = {
    "product_id": "Int64",
    "sku": "string",
    "customer_group_id": "Int64",
    "net_price": "float64",
    "problem": "string",
}


def _typed(columns: Mapping[str, list[Any]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Plain columns as a frame with these dtypes."""
    return pd.DataFrame({name: pd.Series(columns[name], dtype=dtype) for name, dtype in dtypes.items()})


class ShopProductColumns:
    """The three frames of :func:`shop_products_frames` as plain columns, filled a page at a time.

    A reader adds each page as it arrives and drops the page's models: the columns hold only numbers
    and strings, which the garbage collector does not walk, so a catalogue of thousands of products
    kept as models (millions of tracked objects) does not stall the reading thread in full collections
    between two pages of a cursor chain.
    """

    def __init__(self) -> None:
        self.prod: dict[str, list[Any]] = {name: [] for name in PRODUCTS_SCHEMA.columns}
        self.stock: dict[str, list[Any]] = {name: [] for name in WAREHOUSE_STOCK_SCHEMA.columns}
        self.price: dict[str, list[Any]] = {name: [] for name in SHOP_PRICES_SCHEMA.columns}

    def add(self, products: Iterable[ShopProduct]) -> None:
        """Append ``products``' rows (see :func:`shop_products_frames` for what each column holds)."""
        prod, stock, price = self.prod, self.stock, self.price
        for product in products:
            sku, qty = _text(product.sku), _number(product.stock_qty)
            problems = []
            if not sku:
                problems.append("sku missing (Wawi's SKU is how the two sides meet)")
            if product.track_stock and qty is None:
                problems.append(f"stockQty is {_shown(product.stock_qty)} while the shop manages the stock")
            prod["product_id"].append(product.id)
            prod["sku"].append(sku)
            prod["track_stock"].append(product.track_stock)
            prod["is_parent"].append(product.is_parent == 1)
            prod["stock_qty"].append(qty)
            prod["problem"].append("; ".join(problems))
            if not sku:
                continue
            for row in product.stock:
                value = _number(row.stock)
                stock["product_id"].append(product.id)
                stock["sku"].append(sku)
                stock["shop_warehouse_id"].append(str(row.warehouse_id))
                stock["stock"].append(value)
                stock["problem"].append("" if value is not None else f"stock is {_shown(row.stock)}")
            for group_price in product.prices:
                if group_price.is_customer_price:
                    continue  # a customer's own price, not the group's list price
                tiers = [t for t in group_price.detail if t.amount_from == 0]
                net = _number(tiers[0].net_price) if tiers else None
                problem = "" if tiers else "no tier from quantity 0"
                if tiers and (net is None or net < 0):
                    problem, net = f"netPrice is {_shown(tiers[0].net_price)}", None
                price["product_id"].append(product.id)
                price["sku"].append(sku)
                price["customer_group_id"].append(group_price.customer_group_id)
                price["net_price"].append(net)
                price["problem"].append(problem)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The products, per-warehouse stock and price frames of every row added, validated."""
        products_frame = _typed(self.prod, _PRODUCT_DTYPES)
        stock_frame = _typed(self.stock, _STOCK_DTYPES)
        price_frame = _typed(self.price, _PRICE_DTYPES)
        return (
            PRODUCTS_SCHEMA.validate(products_frame),
            WAREHOUSE_STOCK_SCHEMA.validate(stock_frame),
            SHOP_PRICES_SCHEMA.validate(price_frame),
        )


def shop_products_frames(products: Iterable[ShopProduct]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Shop products as three frames: the product's stock, its per-warehouse stock, its prices.

    Prices are the base tier (``amountFrom`` 0) of each customer group's price; customer-specific prices
    (``customerID`` set) are not the shop's list price and are left out. A product or child row that
    cannot be compared keeps a problem (a missing ``stockQty`` only matters where the stock is managed).
    """
    columns = ShopProductColumns()
    columns.add(products)
    return columns.frames()


# -- reading Wawi's JSON ---------------------------------------------------------------------------------


def _available(row: Mapping[str, Any]) -> float:
    """Wawi's available units of one stock row: total less locked (shipment, availability) and picking."""
    held = sum(
        _number(row.get(name)) or 0.0
        for name in ("QuantityLockedForShipment", "QuantityLockedForAvailability", "QuantityInPickingLists")
    )
    return max(0.0, (_number(row.get("QuantityTotal")) or 0.0) - held)


def wawi_available_frame(
    items: Iterable[Mapping[str, Any]], stocks: Iterable[Mapping[str, Any]]
) -> pd.DataFrame:
    """Available units per (SKU, Wawi warehouse), summed over storage locations and batches.

    An item without stock rows gets one row without a warehouse (0 available: Wawi knows the SKU and holds
    none of it). Stock rows of items without a SKU (or unknown items) cannot be matched: left out.
    """
    skus = {
        item_id: sku
        for item in items
        if (item_id := _int(item.get("Id"))) is not None and (sku := _text(item.get("SKU")))
    }
    totals: dict[tuple[int, int], float] = {}
    for row in stocks:
        item_id, warehouse = _int(row.get("ItemId")), _int(row.get("WarehouseId"))
        if item_id in skus and warehouse is not None:
            assert item_id is not None
            totals[(item_id, warehouse)] = totals.get((item_id, warehouse), 0.0) + _available(row)
    stocked = {item_id for item_id, _ in totals}
    keys: list[tuple[int, int | None]] = [*totals, *((i, None) for i in skus if i not in stocked)]
    frame = pd.DataFrame(
        {
            "sku": pd.Series([skus[i] for i, _ in keys], dtype="string"),
            "item_id": pd.Series([i for i, _ in keys], dtype="Int64"),
            "wawi_warehouse_id": pd.Series([w for _, w in keys], dtype="Int64"),
            "available": pd.Series(
                [totals.get((i, w), 0.0) if w is not None else 0.0 for i, w in keys], dtype="float64"
            ),
        }
    )
    return WAWI_AVAILABLE_SCHEMA.validate(frame)


def wawi_prices_frame(items: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Every Wawi item with a SKU: its id, base price (``ItemPriceData.SalesPriceNet``) and ``Changed``.

    A SKU twice in Wawi keeps its first item (the stock check matches by SKU the same way).
    """
    seen: set[str] = set()
    cols: dict[str, list[Any]] = {name: [] for name in WAWI_PRICES_SCHEMA.columns}
    for item in items:
        item_id, sku = _int(item.get("Id")), _text(item.get("SKU"))
        if item_id is None or not sku or sku in seen:
            continue
        seen.add(sku)
        prices = item.get("ItemPriceData")
        net = _number(prices.get("SalesPriceNet")) if isinstance(prices, Mapping) else None
        changed = item.get("Changed")
        cols["sku"].append(sku)
        cols["item_id"].append(item_id)
        cols["base_net"].append(net)
        cols["changed"].append(str(changed) if changed is not None else None)
    frame = pd.DataFrame(
        {
            "sku": pd.Series(cols["sku"], dtype="string"),
            "item_id": pd.Series(cols["item_id"], dtype="Int64"),
            "base_net": pd.Series(cols["base_net"], dtype="float64"),
            "changed": pd.Series(cols["changed"], dtype="string"),
        }
    )
    return WAWI_PRICES_SCHEMA.validate(frame)


def channel_prices_frame(prices: Mapping[int, Sequence[Mapping[str, Any]]], channel: str) -> pd.DataFrame:
    """The items' prices on ``channel`` for quantity 0 (scale prices from a higher quantity are tiers).

    Rows as ``GET /items/{id}/salesChannelPrices`` sends them (``SalesChannelId``, ``CustomerGroupId``,
    ``FromQuantity``, ``NetPrice``, ``ReduceStandardPriceByPercent``); one that cannot be read is left out.
    """
    cols: dict[str, list[Any]] = {name: [] for name in CHANNEL_PRICES_SCHEMA.columns}
    for item_id, rows in prices.items():
        for row in rows:
            if not isinstance(row, Mapping) or str(row.get("SalesChannelId") or "") != channel:
                continue
            if (_int(row.get("FromQuantity")) or 0) != 0:
                continue
            group = _int(row.get("CustomerGroupId"))
            net, reduce = _number(row.get("NetPrice")), _number(row.get("ReduceStandardPriceByPercent"))
            if group is None or (not net and not reduce):
                continue
            cols["item_id"].append(item_id)
            cols["customer_group_id"].append(group)
            cols["net_price"].append(net if not reduce else None)
            cols["reduce_pct"].append(reduce or None)
    frame = pd.DataFrame(
        {
            "item_id": pd.Series(cols["item_id"], dtype="Int64"),
            "customer_group_id": pd.Series(cols["customer_group_id"], dtype="Int64"),
            "net_price": pd.Series(cols["net_price"], dtype="float64"),
            "reduce_pct": pd.Series(cols["reduce_pct"], dtype="float64"),
        }
    )
    return CHANNEL_PRICES_SCHEMA.validate(frame)


def wawi_order_status(order: Mapping[str, Any]) -> str:
    """``cancelled``, ``shipped`` (delivered completely) or ``open``, from a Wawi sales order's JSON."""
    if order.get("IsCancelled") is True:
        return "cancelled"
    shipping = order.get("SalesOrderShippingDetail")
    complete = shipping.get("DeliveryCompleteStatus") if isinstance(shipping, Mapping) else None
    return "shipped" if _int(complete) in (1, 2) else "open"


# -- the checks ----------------------------------------------------------------------------------------


def empty_findings() -> pd.DataFrame:
    """A findings frame without rows."""
    return FINDINGS_SCHEMA.validate(
        pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in FINDINGS_COLUMNS.items()})
    )


def _rows(frame: pd.DataFrame) -> Iterator[Any]:
    """The frame's rows as named tuples (typed loosely: a row's cells are whatever the column holds)."""
    return frame.itertuples(index=False)


def findings_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Findings from plain rows (missing columns empty), checked against the schema."""
    if not rows:
        return empty_findings()
    frame = pd.DataFrame(rows)
    out = pd.DataFrame(
        {
            name: (
                pd.Series(pd.to_datetime(frame[name], utc=True), dtype=dtype)
                if dtype == _UTC_TIMES and name in frame
                else pd.Series(frame[name] if name in frame else [None] * len(frame), dtype=dtype)
            )
            for name, dtype in FINDINGS_COLUMNS.items()
        }
    )
    return FINDINGS_SCHEMA.validate(out)


def check_orders(orders: pd.DataFrame, now: datetime, params: OrderCheckParams) -> pd.DataFrame:
    """Each followed shop order with its ``status`` and ``age_minutes`` (see the module docstring)."""
    orders = ORDER_CHECK_SCHEMA.validate(orders)
    age = (pd.Timestamp(now).tz_convert(UTC) - orders["created_at"]).dt.total_seconds() / 60
    cancelled = orders["state"].fillna("") == SHOP_CANCELLED
    found = orders["wawi_found"]
    status = pd.Series(UNCHECKED, index=orders.index, dtype="string")
    in_wawi = found.fillna(False).astype(bool)
    missing = (~found.fillna(True)).astype(bool)
    status[in_wawi & ~cancelled] = IN_WAWI
    status[in_wawi & cancelled] = CANCELLED
    status[in_wawi & cancelled & (orders["wawi_status"].fillna("") != "cancelled")] = CANCELLED_OPEN
    status[missing & cancelled] = CANCELLED
    status[missing & ~cancelled & (age < params.grace_minutes)] = WAITING
    status[missing & ~cancelled & (age >= params.grace_minutes)] = STUCK
    out = orders.assign(status=status, age_minutes=age.round(1).astype("float64"))
    return out.sort_values(["status", "created_at", "order_no"], kind="stable").reset_index(drop=True)


def order_findings(checked: pd.DataFrame) -> pd.DataFrame:
    """Stuck orders ("stuck since" their creation in the shop) and shop-cancelled orders open in Wawi."""
    rows: list[dict[str, Any]] = []
    for row in _rows(checked[checked["status"].isin([STUCK, CANCELLED_OPEN])]):
        stuck = row.status == STUCK
        hours = float(row.age_minutes) / 60
        rows.append(
            {
                "kind": STUCK_ORDER if stuck else CANCELLED_OPEN,
                "key": row.order_no,
                "since": row.created_at if stuck else None,
                "order_no": row.order_no,
                "shop_value": float(row.units),
                "wawi_value": None,
                "difference": None,
                "detail": (
                    f"shop order {row.order_no} ({row.units:g} units) not in Wawi after {hours:.1f} h"
                    if stuck
                    else f"cancelled in the shop, {row.wawi_status} in Wawi ({row.wawi_numbers})"
                ),
            }
        )
    return findings_frame(rows)


def pending_units(orders: pd.DataFrame, lines: Mapping[str, Sequence[Mapping[str, Any]]]) -> pd.DataFrame:
    """Units per SKU of shop orders Wawi has not pulled yet (not cancelled): the shop took them off already.

    ``orders`` is :func:`check_orders`' output; ``lines`` the cart lines by order number. Orders whose
    Wawi state is unknown this run count too: until Wawi is seen to have them, the shop's deduction stands.
    """
    found = orders["wawi_found"].fillna(False).astype(bool)
    waiting = orders[~found & (orders["state"].fillna("") != SHOP_CANCELLED)]
    units: dict[str, float] = {}
    for number in waiting["order_no"].tolist():
        for line in lines.get(str(number), ()):
            sku, qty = _text(line.get("sku")), _number(line.get("qty"))
            if sku and qty:
                units[sku] = units.get(sku, 0.0) + qty
    frame = pd.DataFrame(
        {
            "sku": pd.Series(list(units), dtype="string"),
            "units": pd.Series(list(units.values()), dtype="float64"),
        }
    )
    return PENDING_SCHEMA.validate(frame)


def check_stock(
    products: pd.DataFrame,
    warehouse_stock: pd.DataFrame,
    wawi: pd.DataFrame,
    pending: pd.DataFrame,
    params: StockCheckParams,
) -> pd.DataFrame:
    """One row per managed product (``stockQty``) and per product and mapped shop warehouse.

    In sync is anything from Wawi's available units over the feeding warehouses less the pending units
    (at least 0) up to the available units, give or take the tolerance; ``expected`` is the bound the
    shop is past and ``difference`` shop minus it (0 in sync). Status: ``oversell`` (shop shows more than
    can be sold), ``undersell``, ``ok``, or why the row was not compared (``invalid``, ``unknown_sku``,
    ``not_tracked``, ``parent``). Oversell comes first, then by the size of the difference.
    """
    products = PRODUCTS_SCHEMA.validate(products)
    warehouse_stock = WAREHOUSE_STOCK_SCHEMA.validate(warehouse_stock)
    wawi = WAWI_AVAILABLE_SCHEMA.validate(wawi)
    pending = PENDING_SCHEMA.validate(pending)
    known = set(wawi["sku"].dropna())
    waiting = dict(zip(pending["sku"], pending["units"], strict=True))

    def available(warehouses: Iterable[int]) -> dict[str, float]:
        rows = wawi[wawi["wawi_warehouse_id"].isin(list(warehouses))]
        return {str(k): float(v) for k, v in rows.groupby("sku", sort=False)["available"].sum().items()}

    fed = available(params.feeding_warehouses)
    out: list[dict[str, Any]] = []
    for row in _rows(products):
        sku = str(row.sku)
        base = {"key": sku, "sku": sku, "shop_warehouse_id": "", "product_id": row.product_id}
        status, reason = _stock_skip(row, known)
        if status:
            out.append({**base, "status": status, "reason": reason})
            continue
        out.append(_stock_row(base, float(row.stock_qty), fed.get(sku, 0.0), waiting, params))
    if params.warehouse_map:
        tracked = products.loc[products["track_stock"].fillna(False).astype(bool) & ~products["is_parent"]]
        usable = warehouse_stock[
            warehouse_stock["shop_warehouse_id"].isin(list(params.warehouse_map))
            & warehouse_stock["sku"].isin(list(tracked["sku"]))
        ]
        per_warehouse = {wh: available(ids) for wh, ids in params.warehouse_map.items()}
        for row in _rows(usable):
            sku, shop_wh = str(row.sku), str(row.shop_warehouse_id)
            base = {"key": f"{sku}@{shop_wh}", "sku": sku, "shop_warehouse_id": shop_wh}
            base["product_id"] = row.product_id
            if row.problem:
                out.append({**base, "status": INVALID, "reason": str(row.problem)})
            elif sku not in known:
                out.append({**base, "status": UNKNOWN_SKU, "reason": "no Wawi item has this SKU"})
            else:
                shown = per_warehouse[shop_wh].get(sku, 0.0)
                out.append(_stock_row(base, float(row.stock), shown, {}, params))
    return _stock_frame(out)


def _stock_skip(row: Any, known: set[str]) -> tuple[str, str]:
    if row.problem:
        return INVALID, str(row.problem)
    if row.is_parent:
        return PARENT, "a parent product holds no stock of its own"
    if not row.track_stock:
        return NOT_TRACKED, "the shop does not manage this product's stock"
    if str(row.sku) not in known:
        return UNKNOWN_SKU, "no Wawi item has this SKU"
    return "", ""


def _stock_row(
    base: dict[str, Any],
    shop: float,
    available: float,
    waiting: Mapping[str, float],
    params: StockCheckParams,
) -> dict[str, Any]:
    pending = float(waiting.get(base["sku"], 0.0))
    low = max(0.0, available - pending)  # the shop took the pending orders' units off already
    status, expected, difference = OK, available, 0.0
    if shop > available + params.tolerance + 1e-9:
        status, difference = OVERSELL, shop - available
    elif shop < low - params.tolerance - 1e-9:
        status, expected, difference = UNDERSELL, low, shop - low
    where = f" in shop warehouse {base['shop_warehouse_id']}" if base["shop_warehouse_id"] else ""
    reason = (
        f"shop shows {shop:g}{where}, Wawi has {available:g} available"
        + (f" ({pending:g} of them in shop orders not yet in Wawi)" if pending else "")
        if status != OK
        else ""
    )
    return {
        **base,
        "shop_qty": shop,
        "available": available,
        "pending": pending,
        "expected": expected,
        "difference": difference,
        "status": status,
        "reason": reason,
    }


_STOCK_COLUMNS = {
    "key": "string",
    "sku": "string",
    "shop_warehouse_id": "string",
    "product_id": "Int64",
    "shop_qty": "float64",
    "available": "float64",
    "pending": "float64",
    "expected": "float64",
    "difference": "float64",
    "status": "string",
    "reason": "string",
}
_STATUS_ORDER = {OVERSELL: 0, UNDERSELL: 1, INVALID: 2, UNKNOWN_SKU: 3, OK: 4, NOT_TRACKED: 5, PARENT: 6}


def _stock_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: pd.Series([r.get(name) for r in rows], dtype=dtype) for name, dtype in _STOCK_COLUMNS.items()}
    )
    order = frame["status"].map(_STATUS_ORDER).astype("int64")
    size = -frame["difference"].abs().fillna(0)
    return (
        frame.assign(_order=order, _size=size)
        .sort_values(["_order", "_size", "key"], kind="stable")
        .drop(columns=["_order", "_size"])
        .reset_index(drop=True)
    )


def stock_findings(checked: pd.DataFrame) -> pd.DataFrame:
    """Stale stock findings (oversell first): the time they began is the history's first sight."""
    rows = [
        {
            "kind": STALE_STOCK,
            "key": row.key,
            "sku": row.sku,
            "risk": row.status,
            "shop_value": row.shop_qty,
            "wawi_value": row.expected,
            "difference": row.difference,
            "detail": row.reason,
        }
        for row in _rows(checked[checked["status"].isin([OVERSELL, UNDERSELL])])
    ]
    return findings_frame(rows)


def check_prices(
    shop: pd.DataFrame,
    wawi: pd.DataFrame,
    channel: pd.DataFrame,
    known: Iterable[int],
    params: PriceCheckParams,
) -> pd.DataFrame:
    """One row per shop product and customer group: the shop's base price against Wawi's.

    Wawi's price is its channel price for the group, else for all groups (group 0), else the item's base
    price; a relative channel price is the base price less its percentage. ``known`` are the items whose
    channel prices were read (or are cached and current): for any other item only the base price is known,
    so a shop price that differs from it is ``needs_channel_read`` rather than ``drift``. Key:
    ``<sku>/<shop customer group>``.
    """
    shop = SHOP_PRICES_SCHEMA.validate(shop)
    wawi = WAWI_PRICES_SCHEMA.validate(wawi)
    channel = CHANNEL_PRICES_SCHEMA.validate(channel)
    known_items = {int(i) for i in known}
    items = {str(r.sku): r for r in _rows(wawi)}
    by_item: dict[int, dict[int, tuple[float | None, float | None]]] = {}
    for r in _rows(channel):
        by_item.setdefault(int(r.item_id), {})[int(r.customer_group_id)] = (
            None if pd.isna(r.net_price) else float(r.net_price),
            None if pd.isna(r.reduce_pct) else float(r.reduce_pct),
        )
    rows: list[dict[str, Any]] = []
    for r in _rows(shop):
        group = None if pd.isna(r.customer_group_id) else int(r.customer_group_id)
        key = f"{r.sku}/{group if group is not None else '?'}"
        base = {"key": key, "sku": str(r.sku), "customer_group_id": group, "product_id": r.product_id}
        item = items.get(str(r.sku))
        if r.problem:
            rows.append({**base, "status": INVALID, "reason": str(r.problem)})
            continue
        if item is None:
            rows.append({**base, "status": UNKNOWN_SKU, "reason": "no Wawi item has this SKU"})
            continue
        assert group is not None
        wawi_group = params.group_map.get(group, group)
        item_id = int(item.item_id)
        base_net = None if pd.isna(item.base_net) else float(item.base_net)
        prices = by_item.get(item_id, {})
        found = prices.get(wawi_group) or prices.get(0)
        source = "base price"
        expected = base_net
        if found is not None:
            net, reduce = found
            source = f"channel price ({'group ' + str(wawi_group) if wawi_group in prices else 'all groups'})"
            expected = (
                net if reduce is None else (None if base_net is None else base_net * (1 - reduce / 100))
            )
        shop_net = float(r.net_price)
        base = {**base, "item_id": item_id, "wawi_group_id": wawi_group, "shop_net": shop_net}
        if expected is None:
            rows.append({**base, "status": INVALID, "reason": "Wawi's item has no base price"})
            continue
        difference = round(shop_net - expected, 4)
        status = OK
        if abs(difference) > params.tolerance + 1e-9:
            status = DRIFT if item_id in known_items else NEEDS_READ
        rows.append(
            {
                **base,
                "expected_net": round(expected, 4),
                "source": source,
                "difference": difference,
                "status": status,
                "reason": (
                    f"shop {shop_net:.2f} net, Wawi {expected:.2f} ({source})" if status != OK else ""
                ),
            }
        )
    return _price_frame(rows)


_PRICE_COLUMNS = {
    "key": "string",
    "sku": "string",
    "product_id": "Int64",
    "item_id": "Int64",
    "customer_group_id": "Int64",
    "wawi_group_id": "Int64",
    "shop_net": "float64",
    "expected_net": "float64",
    "source": "string",
    "difference": "float64",
    "status": "string",
    "reason": "string",
}
_PRICE_ORDER = {DRIFT: 0, NEEDS_READ: 1, INVALID: 2, UNKNOWN_SKU: 3, OK: 4}


def _price_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: pd.Series([r.get(name) for r in rows], dtype=dtype) for name, dtype in _PRICE_COLUMNS.items()}
    )
    order = frame["status"].map(_PRICE_ORDER).astype("int64")
    size = -frame["difference"].abs().fillna(0)
    frame = frame.assign(_order=order, _size=size)
    frame = frame.sort_values(["_order", "_size", "key"], kind="stable").drop(columns=["_order", "_size"])
    # a product listing one group twice: the first row stands, the repeat is reported as invalid
    repeated = frame["key"].duplicated()
    frame.loc[repeated, "status"] = INVALID
    frame.loc[repeated, "reason"] = "the shop lists this customer group's price twice"
    frame.loc[repeated, "key"] = frame.loc[repeated, "key"] + "#" + frame.index[repeated].astype(str)
    return frame.reset_index(drop=True)


def price_findings(checked: pd.DataFrame) -> pd.DataFrame:
    """Drifted prices (the largest difference first)."""
    rows = [
        {
            "kind": PRICE_DRIFT,
            "key": row.key,
            "sku": row.sku,
            "shop_value": row.shop_net,
            "wawi_value": row.expected_net,
            "difference": row.difference,
            "detail": row.reason,
        }
        for row in _rows(checked[checked["status"] == DRIFT])
    ]
    return findings_frame(rows)
