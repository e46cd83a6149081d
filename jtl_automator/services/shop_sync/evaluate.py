"""Stage 3: the three comparisons on what was read, and what they mean for the incident history (pure).

Each comparison runs only when both sides it needs were read; the others are listed as not checked with
the reason, and their incidents are neither refreshed nor cleared (``Observation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from jtl_automator.services.shop_sync.params import ShopSyncParams
from jtl_automator.services.shop_sync.reads import (
    ShopInputs,
    WawiInputs,
    feeding_warehouses,
    merged_orders,
    skipped_ids,
)
from jtl_automator.store.shop_sync import FollowedOrder, Incident, IncidentChange
from jtl_automator.transforms import shop_incidents as inc
from jtl_automator.transforms import shop_sync as t

_UTC = "datetime64[us, UTC]"


@dataclass
class Evaluation:
    """The run's verdicts: per order, product and price; the findings; the incident plan."""

    now: datetime
    orders: pd.DataFrame
    stock: pd.DataFrame
    prices: pd.DataFrame
    findings: pd.DataFrame
    observed: dict[str, inc.Observation]
    plan: pd.DataFrame
    changes: list[IncidentChange]
    open_before: list[Incident]
    unchecked: dict[str, str] = field(default_factory=dict)  # check -> why it did not run
    notes: list[str] = field(default_factory=list)


def order_frame(orders: Sequence[FollowedOrder], wawi: WawiInputs) -> tuple[pd.DataFrame, list[str]]:
    """check_orders' input: each order with what Wawi said this run (or last time it was matched)."""
    notes: list[str] = []
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for order in orders:
        if order.order_no in seen:
            notes.append(f"shop order number {order.order_no} twice (ids differ): the first one is followed")
            continue
        seen.add(order.order_no)
        match = wawi.matches.get(order.order_no)
        found: bool | None
        if match is not None:
            found, status, number = match.wawi_order_id is not None, match.wawi_status, match.wawi_order_id
        elif order.wawi_order_id is not None:
            found, status, number = True, order.wawi_status, order.wawi_order_id
        else:
            found, status, number = None, None, None
        rows.append(
            {
                "shop_order_id": order.shop_order_id,
                "order_no": order.order_no,
                "state": order.state,
                "created_at": order.created_at.astimezone(UTC),
                "units": float(sum(float(line.get("qty") or 0) for line in order.lines or [])),
                "total": order.total,
                "wawi_found": found,
                "wawi_status": status,
                "wawi_numbers": f"Wawi order {number}" if number is not None else None,
            }
        )
    frame = pd.DataFrame(
        {
            "shop_order_id": pd.Series([r["shop_order_id"] for r in rows], dtype="Int64"),
            "order_no": pd.Series([r["order_no"] for r in rows], dtype="string"),
            "state": pd.Series([r["state"] for r in rows], dtype="string"),
            "created_at": pd.Series(pd.to_datetime([r["created_at"] for r in rows], utc=True), dtype=_UTC),
            "units": pd.Series([r["units"] for r in rows], dtype="float64"),
            "total": pd.Series([r["total"] for r in rows], dtype="float64"),
            "wawi_found": pd.Series([r["wawi_found"] for r in rows], dtype="boolean"),
            "wawi_status": pd.Series([r["wawi_status"] for r in rows], dtype="string"),
            "wawi_numbers": pd.Series([r["wawi_numbers"] for r in rows], dtype="string"),
        }
    )
    return frame, notes


def open_frame(incidents: Sequence[Incident]) -> pd.DataFrame:
    """Open incidents as plan_incidents' input."""
    return pd.DataFrame(
        {
            "id": pd.Series([i.id for i in incidents], dtype="Int64"),
            "kind": pd.Series([i.kind for i in incidents], dtype="string"),
            "key": pd.Series([i.key for i in incidents], dtype="string"),
            "first_seen": pd.Series(pd.to_datetime([i.first_seen for i in incidents], utc=True), dtype=_UTC),
            "raised_at": pd.Series([i.raised_at for i in incidents], dtype="object").pipe(
                lambda raised: pd.Series(pd.to_datetime(raised, utc=True), dtype=_UTC)
            ),
        }
    )


def _keys(frame: pd.DataFrame, statuses: Sequence[str], *, keep: bool) -> frozenset[str]:
    chosen = frame["status"].isin(list(statuses))
    return frozenset(frame.loc[chosen if keep else ~chosen, "key"].astype(str))


def evaluate(
    shop: ShopInputs, wawi: WawiInputs, open_incidents: Sequence[Incident], params: ShopSyncParams
) -> Evaluation:
    """Compare, collect the findings, and plan what happens to the incidents."""
    now = shop.now
    unchecked: dict[str, str] = {}
    notes = [*shop.orders.notes, *wawi.notes]
    observed: dict[str, inc.Observation] = {}
    findings: list[pd.DataFrame] = []

    orders = merged_orders(shop)
    frame, more = order_frame(orders, wawi)
    notes.extend(more)
    checked = t.check_orders(frame, now, t.OrderCheckParams(grace_minutes=params.order_grace_minutes))
    if "orders" in params.checks:
        if not shop.orders.ok:
            notes.append(f"new shop orders not read: {shop.orders.problem}")
        if wawi.orders_ok:
            findings.append(t.order_findings(checked))
            seen = frozenset(checked.loc[checked["status"] != t.UNCHECKED, "order_no"].astype(str))
            observed[t.STUCK_ORDER] = inc.Observation(evaluated=seen, complete=True)
            observed[t.CANCELLED_OPEN] = inc.Observation(evaluated=seen, complete=True)
        else:
            unchecked["orders"] = wawi.orders_problem or "Wawi's sales orders were not read"
    lines = {o.order_no: o.lines or [] for o in orders}
    pending = t.pending_units(checked, lines)

    catalogue = shop.catalogue
    by_key_product: dict[tuple[str, str], Any] = {}
    stock = t.check_stock(*_empty_stock_inputs(), t.StockCheckParams())
    prices = t.check_prices(*_empty_price_inputs(), (), t.PriceCheckParams())
    bad_ids, anonymous = skipped_ids(catalogue.skipped)
    if catalogue.skipped:
        notes.extend(f"shop product row left out: {row}" for row in catalogue.skipped[:20])
    if "stock" in params.checks:
        why = catalogue.problem if not catalogue.ok else (None if wawi.stock_ok else wawi.stock_problem)
        if why:
            unchecked["stock"] = why
        else:
            mapping, feeding = feeding_warehouses(catalogue, params)
            stock = t.check_stock(
                catalogue.products,
                catalogue.warehouse_stock,
                wawi.available,
                pending,
                t.StockCheckParams(
                    warehouse_map=mapping, feeding_warehouses=feeding, tolerance=params.stock_tolerance
                ),
            )
            findings.append(t.stock_findings(stock))
            observed[t.STALE_STOCK] = _observation(
                stock, [t.INVALID], t.STALE_STOCK, open_incidents, bad_ids, anonymous
            )
            by_key_product.update(
                {(t.STALE_STOCK, str(k)): p for k, p in zip(stock["key"], stock["product_id"], strict=True)}
            )
    if "prices" in params.checks:
        why = catalogue.problem if not catalogue.ok else (None if wawi.prices_ok else wawi.prices_problem)
        if why:
            unchecked["prices"] = why
        else:
            prices = t.check_prices(
                catalogue.prices,
                wawi.items,
                wawi.channel,
                wawi.known_items,
                t.PriceCheckParams(group_map=params.group_map, tolerance=params.price_tolerance),
            )
            findings.append(t.price_findings(prices))
            observed[t.PRICE_DRIFT] = _observation(
                prices, [t.INVALID, t.NEEDS_READ], t.PRICE_DRIFT, open_incidents, bad_ids, anonymous
            )
            by_key_product.update(
                {(t.PRICE_DRIFT, str(k)): p for k, p in zip(prices["key"], prices["product_id"], strict=True)}
            )
    found = pd.concat(findings, ignore_index=True) if findings else t.empty_findings()
    found = t.FINDINGS_SCHEMA.validate(found.astype(t.FINDINGS_COLUMNS))
    plan = inc.plan_incidents(
        open_frame(open_incidents), found, observed, now, inc.IncidentRules(params.thresholds())
    )
    changes = _changes(plan, found, by_key_product)
    return Evaluation(
        now, checked, stock, prices, found, observed, plan, changes, list(open_incidents), unchecked, notes
    )


def _observation(
    checked: pd.DataFrame,
    not_compared: Sequence[str],
    kind: str,
    open_incidents: Sequence[Incident],
    bad_ids: set[int],
    anonymous: int,
) -> inc.Observation:
    """What a comparison saw: rows it compared, rows it could not, and whether it saw every product."""
    unevaluated = set(_keys(checked, not_compared, keep=True))
    unevaluated |= {
        i.key for i in open_incidents if i.kind == kind and i.details.get("product_id") in bad_ids
    }
    evaluated = _keys(checked, not_compared, keep=False) - unevaluated
    return inc.Observation(frozenset(evaluated), frozenset(unevaluated), complete=anonymous == 0)


def _details(row: Any, product: Any) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        return value.item() if hasattr(value, "item") else value

    details = {
        name: plain(getattr(row, name))
        for name in ("detail", "sku", "order_no", "risk", "shop_value", "wawi_value", "difference")
    }
    details = {k: v for k, v in details.items() if v not in (None, "")}
    if product is not None and not pd.isna(product):
        details["product_id"] = int(product)
    return details


def _changes(
    plan: pd.DataFrame, findings: pd.DataFrame, products: dict[tuple[str, str], Any]
) -> list[IncidentChange]:
    rows = {(str(r.kind), str(r.key)): r for r in findings.itertuples(index=False)}
    changes: list[IncidentChange] = []
    for r in plan.to_dict("records"):
        ident = (str(r["kind"]), str(r["key"]))
        finding = rows.get(ident)
        changes.append(
            IncidentChange(
                action=str(r["action"]),
                kind=ident[0],
                key=ident[1],
                first_seen=pd.Timestamp(r["first_seen"]).to_pydatetime(),
                raise_now=bool(r["raise"]),
                id=None if pd.isna(r["id"]) else int(r["id"]),
                clear_reason=None if pd.isna(r["clear_reason"]) else str(r["clear_reason"]),
                details=_details(finding, products.get(ident)) if finding is not None else {},
            )
        )
    return changes


def _empty_stock_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    products, warehouses, _ = t.shop_products_frames([])
    pending = pd.DataFrame({"sku": pd.Series([], dtype="string"), "units": pd.Series([], dtype="float64")})
    return products, warehouses, t.wawi_available_frame([], []), pending


def _empty_price_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return t.shop_products_frames([])[2], t.wawi_prices_frame([]), t.channel_prices_frame({}, "")
