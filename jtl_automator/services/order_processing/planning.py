"""Stage 3, planning: one decision per order, from the batch and the lookups alone (pure: no I/O).

Each order is classified by the first step that claims it, in this order:

1. no usable ``Id``: **fail** (it can be neither held nor shipped);
2. an outbound with its number already exists in FFN: **adopt** it (never a second one);
3. a person put it on hold in Wawi (a hold without our comment line): **on_hold_wawi**, left alone;
4. valid and allocated to one warehouse: **create** the outbound (or **fail** if FFN would refuse the
   body);
5. everything else: **hold** with the failure codes (or ``insufficient_stock``) and the Wawi on-hold
   reason they map to; an order still held for the same reason is marked ``unchanged`` (no write).

Validation, the duplicate-number rule across runs and the allocation are computed for the whole batch
first (vectorised); the per-order steps only read their results.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from jtl_automator.clients.pagination import chunked
from jtl_automator.services.order_processing.importer import ImportedBatch
from jtl_automator.services.order_processing.lookups import FulfilmentData
from jtl_automator.services.order_processing.params import OrderProcessingParams
from jtl_automator.services.order_processing.writeback import has_tag
from jtl_automator.store.store import OrderRecord
from jtl_automator.transforms.allocation import ALLOCATED, INSUFFICIENT_STOCK, allocate_stock
from jtl_automator.transforms.orders import OutboundPayloadError, address_fingerprints, outbound_payload
from jtl_automator.transforms.orders_rules import (
    FAILURES_DTYPES,
    FailureCode,
    valid_orders,
    validate_orders,
)

ActionKind = Literal["create", "adopt", "hold", "on_hold_wawi", "fail"]


@dataclass(frozen=True)
class ItemLine:
    """One item line as ordered (its position in Wawi's line list): the order ledger's demand record.

    The amounts are the line's totals in the order's currency (after its discount), as the reports read
    them: net and gross sales, and cost at the line's purchase price; None where Wawi gave no price.
    """

    position: int
    sku: str
    quantity: float
    net_amount: float | None = None
    gross_amount: float | None = None
    cost_amount: float | None = None


@dataclass
class Action:
    """What to do with one order; the fulfilment stage carries it out."""

    kind: ActionKind
    order_number: str | None
    order_id: int | None
    order_date: datetime | None = None
    reason: str | None = None
    codes: tuple[str, ...] = ()
    hold_reason_id: int | None = None
    payload: dict[str, Any] | None = None
    warehouse_id: str | None = None
    existing: dict[str, Any] | None = None
    comment: str | None = None  # the order's Comment as read (our line is replaced, the rest kept)
    email: str | None = None
    customer: str | None = None
    was_held: bool = False  # held by us before: the write-back releases it
    unchanged: bool = False  # held before for the same reason and still held in Wawi: nothing to write
    owns_number: bool = True  # False for a duplicate: the ledger row of this number is another order's
    partial: bool = False  # some units were delivered another way: the payload carries the open rest
    fingerprint: str | None = None  # of the shipping address the outbound is made for
    items: tuple[ItemLine, ...] = ()  # create and adopt: the ordered item lines the ledger records
    ledger_status: str | None = None
    ledger_reason: str | None = None


@dataclass
class Plan:
    """The run's decisions, in allocation order."""

    actions: list[Action]
    counts: dict[str, int] = field(default_factory=dict)

    def chunks(self, size: int) -> list[list[Action]]:
        """Work units for the fulfil stage (never one per order)."""
        return [list(c) for c in chunked(self.actions, size)]


@dataclass(frozen=True)
class _Failures:
    """Validation results per order id: codes and their messages."""

    codes: dict[int, list[str]]
    texts: dict[int, list[str]]
    frame: pd.DataFrame

    @property
    def duplicates(self) -> set[int]:
        return {i for i, codes in self.codes.items() if FailureCode.DUPLICATE_ORDER_NUMBER.value in codes}


def _present(value: Any) -> Any:
    return None if value is None or value is pd.NA or value is pd.NaT else value


def _duplicates_across_runs(orders: pd.DataFrame, ledger: Mapping[str, OrderRecord]) -> pd.DataFrame:
    """A number the ledger already gives to another Wawi order is a duplicate across runs."""
    rows = []
    for order_id, number in zip(orders["order_id"].tolist(), orders["order_number"].tolist(), strict=True):
        owner = ledger.get(number) if isinstance(number, str) else None
        if owner is not None and order_id is not pd.NA and owner.wawi_order_id not in (None, order_id):
            rows.append(
                {
                    "order_id": order_id,
                    "order_number": number,
                    "code": FailureCode.DUPLICATE_ORDER_NUMBER.value,
                    "field": "Number",
                    "message": f"order Number {number!r} already belongs to Wawi order "
                    f"{owner.wawi_order_id} ({owner.status})",
                }
            )
    return pd.DataFrame(rows).astype(FAILURES_DTYPES) if rows else pd.DataFrame()


def _partially_delivered(batch: ImportedBatch) -> pd.DataFrame:
    """PARTIALLY_DELIVERED for orders Wawi delivered in part, when partial orders must not go to FFN."""
    orders = batch.orders.loc[batch.orders["order_id"].isin(list(batch.partially_delivered))]
    rows = [
        {
            "order_id": order_id,
            "order_number": number,
            "code": FailureCode.PARTIALLY_DELIVERED.value,
            "field": "QuantityDelivered",
            "message": "some units were delivered another way; partial orders are not sent to JTL-FFN "
            "(partial_delivery is 'hold')",
        }
        for order_id, number in zip(orders["order_id"].tolist(), orders["order_number"].tolist(), strict=True)
    ]
    return pd.DataFrame(rows).astype(FAILURES_DTYPES) if rows else pd.DataFrame()


def validate(batch: ImportedBatch, data: FulfilmentData, params: OrderProcessingParams) -> _Failures:
    """Every rule on the batch, numbers earlier runs gave to other orders, and partial deliveries to hold."""
    failures = validate_orders(batch.orders, batch.lines, params.validation, data.sku_map)
    extra = [_duplicates_across_runs(batch.orders, batch.ledger)]
    if params.partial_delivery == "hold":
        extra.append(_partially_delivered(batch))
    for found in extra:
        if not found.empty:
            failures = pd.concat([failures, found], ignore_index=True)
    codes: dict[int, list[str]] = {}
    texts: dict[int, list[str]] = {}
    for order_id, code, message in zip(
        failures["order_id"].tolist(), failures["code"].tolist(), failures["message"].tolist(), strict=True
    ):
        if order_id is pd.NA:
            continue
        codes.setdefault(order_id, []).append(code)
        texts.setdefault(order_id, []).append(f"{code}: {message}")
    return _Failures(codes, texts, failures)


def held_by_us(hold_id: Any, comment: Any, reasons: Mapping[str, int]) -> bool:
    """On hold with one of our reasons and our comment line: ours to release."""
    hold = _present(hold_id) or 0
    return hold != 0 and hold in set(reasons.values()) and has_tag(_present(comment))


def _manual_holds(orders: pd.DataFrame, reasons: Mapping[str, int]) -> set[int]:
    """Orders a person put on hold in Wawi (a hold without our comment line)."""
    return {
        int(order_id)
        for order_id, hold, comment in zip(
            orders["order_id"].tolist(),
            orders["on_hold_reason_id"].tolist(),
            orders["comment"].tolist(),
            strict=True,
        )
        if order_id is not pd.NA and (_present(hold) or 0) != 0 and not held_by_us(hold, comment, reasons)
    }


def _with_outbound(orders: pd.DataFrame, existing: Mapping[str, Any], duplicates: set[int]) -> set[int]:
    """Orders whose number FFN already has an outbound for (a duplicate number is not its owner)."""
    return {
        int(order_id)
        for order_id, number in zip(orders["order_id"].tolist(), orders["order_number"].tolist(), strict=True)
        if order_id is not pd.NA and order_id not in duplicates and _present(number) in existing
    }


def _allocate(
    batch: ImportedBatch,
    data: FulfilmentData,
    params: OrderProcessingParams,
    failures: _Failures,
    excluded: set[int],
) -> dict[int, tuple[str, str | None, str | None]]:
    """Stock allocation of the valid orders (oldest first); the dict keeps the allocation order."""
    candidates = valid_orders(batch.orders, failures.frame)
    candidates = candidates.loc[~candidates["order_id"].isin(excluded)]
    allocation = allocate_stock(
        candidates,
        batch.lines.loc[batch.lines["order_id"].isin(candidates["order_id"])],
        data.available,
        params.allocation_params(),
        data.sku_map,
    )
    return {
        int(oid): (status, wh, reason)
        for oid, status, wh, reason in zip(
            allocation.orders["order_id"].tolist(),
            allocation.orders["status"].tolist(),
            allocation.orders["warehouse_id"].tolist(),
            allocation.orders["reason"].tolist(),
            strict=True,
        )
    }


def hold_reason_for(codes: Sequence[str], reasons: Mapping[str, int]) -> int:
    """The Wawi on-hold reason of the first code that has one, else the catch-all ``*``."""
    for code in codes:
        if code in reasons:
            return reasons[code]
    return reasons["*"]


@dataclass(frozen=True)
class _Batch:
    """What the per-order steps read: the batch-wide results, computed once."""

    batch: ImportedBatch
    data: FulfilmentData
    params: OrderProcessingParams
    failures: _Failures
    manual: set[int]
    with_outbound: set[int]
    allocated: dict[int, tuple[str, str | None, str | None]]
    lines: dict[int, list[dict[str, Any]]]
    items: dict[int, tuple[ItemLine, ...]]


def _common(row: Mapping[str, Any], ctx: _Batch) -> dict[str, Any]:
    """Fields every action of this order carries."""
    number = _present(row["order_number"])
    record = ctx.batch.ledger.get(number) if number else None
    date = _present(row["order_date"])
    return {
        "order_number": number,
        "order_id": None if _present(row["order_id"]) is None else int(row["order_id"]),
        "order_date": date.to_pydatetime() if date is not None else None,
        "comment": _present(row["comment"]),
        "email": _present(row["contact_email"]),
        "customer": _present(row["contact_name"]),
        "was_held": (record is not None and record.status == "held")
        or held_by_us(row["on_hold_reason_id"], row["comment"], ctx.data.hold_reasons),
        "ledger_status": record.status if record is not None else None,
        "ledger_reason": record.hold_reason if record is not None else None,
        "partial": _present(row["order_id"]) in ctx.batch.partially_delivered,
        "fingerprint": row.get("_fingerprint"),
    }


def _adopt(row: Mapping[str, Any], base: dict[str, Any], ctx: _Batch) -> Action | None:
    if base["order_id"] not in ctx.with_outbound or base["order_number"] is None:
        return None
    existing = ctx.data.existing[base["order_number"]]
    items = ctx.items.get(base["order_id"], ())
    return Action("adopt", **base, existing=existing, warehouse_id=existing.get("warehouseId"), items=items)


def _leave_manual_hold(row: Mapping[str, Any], base: dict[str, Any], ctx: _Batch) -> Action | None:
    order_id = base["order_id"]
    if order_id not in ctx.manual or order_id in ctx.failures.duplicates:
        return None
    reason = f"on hold in Wawi (OnHoldReasonId {_present(row['on_hold_reason_id'])})"
    return Action("on_hold_wawi", **{**base, "was_held": False}, reason=reason)


def _create(row: Mapping[str, Any], base: dict[str, Any], ctx: _Batch) -> Action | None:
    order_id = base["order_id"]
    status, warehouse, _ = ctx.allocated.get(order_id, (None, None, None))
    if ctx.failures.codes.get(order_id) or status != ALLOCATED or warehouse is None:
        return None
    try:
        payload = outbound_payload(
            row,
            ctx.lines.get(order_id, []),
            ctx.data.sku_map,
            warehouse,
            ctx.params.shipping_method_map,
            ctx.params.default_shipping_type,
        )
    except OutboundPayloadError as exc:
        return Action("fail", **base, reason=str(exc))
    return Action(
        "create", **base, payload=payload, warehouse_id=warehouse, items=ctx.items.get(order_id, ())
    )


def _hold(row: Mapping[str, Any], base: dict[str, Any], ctx: _Batch) -> Action:
    order_id = base["order_id"]
    codes = tuple(ctx.failures.codes.get(order_id, ()))
    if codes:
        texts = ctx.failures.texts[order_id]
    else:
        stock_reason = ctx.allocated.get(order_id, (None, None, None))[2]
        codes = (stock_reason or INSUFFICIENT_STOCK,)
        texts = [
            f"{INSUFFICIENT_STOCK}: no single warehouse has the stock for every line"
            if codes[0] == INSUFFICIENT_STOCK
            else f"{codes[0]}: lines cannot be allocated"
        ]
    reason = "; ".join(texts)
    reason_id = hold_reason_for(codes, ctx.data.hold_reasons)
    unchanged = (
        base["ledger_status"] == "held"
        and base["ledger_reason"] == reason
        and (_present(row["on_hold_reason_id"]) or 0) == reason_id
        and held_by_us(row["on_hold_reason_id"], row["comment"], ctx.data.hold_reasons)
    )
    return Action(
        "hold",
        **base,
        reason=reason,
        codes=codes,
        hold_reason_id=reason_id,
        unchanged=unchanged,
        owns_number=order_id not in ctx.failures.duplicates,
    )


def decide(row: Mapping[str, Any], ctx: _Batch) -> Action:
    """The first classification step that claims the order decides (see the module docstring)."""
    base = _common(row, ctx)
    if base["order_id"] is None:
        return Action("fail", **base, reason="ORDER_ID_MISSING: order Id is missing or not an integer")
    for step in (_adopt, _leave_manual_hold, _create):
        action = step(row, base, ctx)
        if action is not None:
            return action
    return _hold(row, base, ctx)


def line_amounts(lines: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Each line's net, gross and cost total (float, NaN where unknown).

    Net and gross: quantity x unit price x (1 - discount %); gross from net and the tax rate where Wawi
    gave no gross price (as the outbound's prices are made). Cost: quantity x the line's purchase price.
    """
    quantity = lines["quantity"].astype("float64")
    factor = 1 - lines["discount"].astype("float64").fillna(0.0) / 100
    net_unit = lines["price_net"].astype("float64")
    gross_unit = lines["price_gross"].astype("float64")
    gross_unit = gross_unit.fillna(net_unit * (1 + lines["tax_rate"].astype("float64").fillna(0.0) / 100))
    cost_unit = lines["purchase_price_net"].astype("float64")
    return quantity * net_unit * factor, quantity * gross_unit * factor, quantity * cost_unit


def _amount(value: float) -> float | None:
    """A line amount for the ledger: rounded to a hundredth of a cent, None where unknown."""
    return round(value, 4) if math.isfinite(value) else None


def ordered_items(lines: pd.DataFrame) -> dict[int, tuple[ItemLine, ...]]:
    """Per order id its item lines with a SKU and a positive ordered quantity, by position."""
    if lines.empty:
        return {}
    quantity = lines["quantity"].astype("float64")  # NA: NaN
    sku = lines["sku"].astype("string").str.strip()
    keep = (
        lines["is_item"].astype(bool).to_numpy()
        & lines["order_id"].notna().to_numpy()
        & (sku.fillna("") != "").to_numpy(dtype=bool)
        & np.isfinite(quantity.to_numpy())
        & (quantity.to_numpy() > 0)
    )
    net, gross, cost = line_amounts(lines)
    items: dict[int, list[ItemLine]] = {}
    for order_id, position, code, units, net_amount, gross_amount, cost_amount in zip(
        lines["order_id"][keep].tolist(),
        lines["position"][keep].tolist(),
        sku[keep].tolist(),
        quantity[keep].tolist(),
        net[keep].tolist(),
        gross[keep].tolist(),
        cost[keep].tolist(),
        strict=True,
    ):
        items.setdefault(int(order_id), []).append(
            ItemLine(
                int(position),
                str(code),
                float(units),
                _amount(net_amount),
                _amount(gross_amount),
                _amount(cost_amount),
            )
        )
    return {order_id: tuple(sorted(found, key=lambda i: i.position)) for order_id, found in items.items()}


def plan_orders(batch: ImportedBatch, data: FulfilmentData, params: OrderProcessingParams) -> Plan:
    """Validate, allocate and decide per order, in allocation order (unallocated and id-less last)."""
    orders = batch.orders
    failures = validate(batch, data, params)
    manual = _manual_holds(orders, data.hold_reasons)
    with_outbound = _with_outbound(orders, data.existing, failures.duplicates)
    lines: dict[int, list[dict[str, Any]]] = {}
    for line in batch.lines.to_dict("records"):
        lines.setdefault(int(line["order_id"]), []).append({str(k): v for k, v in line.items()})
    ctx = _Batch(
        batch,
        data,
        params,
        failures,
        manual,
        with_outbound,
        _allocate(batch, data, params, failures, manual | with_outbound),
        lines,
        ordered_items(batch.lines if batch.ordered_lines is None else batch.ordered_lines),
    )
    rank = {oid: n for n, oid in enumerate(ctx.allocated)}
    marked = orders.assign(_fingerprint=address_fingerprints(orders))
    rows = cast("list[dict[str, Any]]", marked.to_dict("records"))
    rows.sort(key=lambda r: rank.get(r["order_id"], len(rank)) if r["order_id"] is not pd.NA else 1 << 62)
    actions = [decide(row, ctx) for row in rows]
    return Plan(actions, dict(sorted(Counter(a.kind for a in actions).items())))
