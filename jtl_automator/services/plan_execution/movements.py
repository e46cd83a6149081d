"""Executing approved movement plans (rebalance, supplier return, supplier exchange) through FFN.

FFN has no transfer or supplier-return endpoint, but a merchant may send an outbound from any of its
warehouses to any address and announce an inbound into any of them. So:

- **rebalance**: per route (from, to) one outbound from the source warehouse addressed to the destination
  warehouse's address (``GET /merchant/warehouses``), then one inbound into the destination with the same
  items. Both carry the same number (``TR-<plan>-<from>-<to>``): ``merchantOutboundNumber`` and
  ``merchantInboundNumber``; the inbound's attributes name the outbound's id.
- **supplier return**: per source warehouse one outbound to the supplier's Wawi address.
- **supplier exchange**: the return's outbound, then an inbound of the same units from that supplier into
  the warehouse they left (the supplier sends them back).
- A supplier without a usable address in Wawi (street, city, country and a name): FFN cannot be told where
  to ship, so the plan's shipment is **exported** as an .xlsx for a person to act on, with the reason.

Each shipment is recorded first (ledger ``shipment:<number>``, kind ``plan_shipment``): the lines, items
and address as first made; later steps and later runs work from that copy. Lines approved after it was
made, or refused then (stock), go into the next shipment of the same route (``…-2``), so no outbound
ever changes after it was sent. Outbound and inbound are each created exactly once
(``services.ffn_once``). Before a new shipment the source's stock is read: a line asking for more than
the warehouse can give (stock level − reserved − blocked, less what this run already planned) waits
with its reason and the rest goes out.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from pydantic import BaseModel, ConfigDict, ValidationError

from jtl_automator.clients.errors import AuthError, JtlApiError, ValidationFailed
from jtl_automator.clients.ffn.models import Address, AddressCreate
from jtl_automator.clients.wawi.models import Supplier
from jtl_automator.correlation import correlated_logger
from jtl_automator.plans import BadRoute, ExecutionRef, LineKey, Plan, PlanLine, route_of
from jtl_automator.services.ffn_once import inbound_once, outbound_once
from jtl_automator.services.plan_execution.document import SupplierInfo
from jtl_automator.services.plan_execution.execute import (
    ExecutionContext,
    LineOutcome,
    find_supplier,
    supplier_key,
    supplier_tag,
)
from jtl_automator.services.plan_execution.params import (
    EXPORT_KIND,
    REBALANCE,
    SHIPMENT_KIND,
    SUPPLIER_EXCHANGE,
)
from jtl_automator.store import ClaimState

log = correlated_logger("jtl_automator.plans.movements")

JsonObject = dict[str, Any]

#: How many follow-up shipments one route of one plan may get (``TR-7-A-B``, ``TR-7-A-B-2``, …).
MAX_SHIPMENTS_PER_ROUTE = 50


class ShipmentItem(BaseModel):
    """One plan line on a shipment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    line_warehouse: str  # the line's key: the route (WH1>WH2) of a rebalance line, else the warehouse
    jfsku: str
    name: str | None = None
    quantity: int

    @property
    def key(self) -> LineKey:
        """The plan line it carries."""
        return LineKey(self.sku, self.line_warehouse)


class Shipment(BaseModel):
    """One outbound (and the inbound that answers it) of a movement plan, as recorded when first made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str
    plan_id: int
    kind: str
    source: str  # the FFN warehouse the units leave
    destination: str  # the warehouse (rebalance) or supplier they go to, for people
    inbound_warehouse: str | None  # where the inbound is announced: none for a plain supplier return
    address: dict[str, Any] | None  # FFN shippingAddress; None: exported for a person
    supplier: SupplierInfo | None = None
    export_reason: str | None = None
    made_on: date
    items: tuple[ShipmentItem, ...]

    @property
    def exported(self) -> bool:
        """FFN cannot carry it out: a person gets the document."""
        return self.address is None

    def line_keys(self) -> set[LineKey]:
        """The plan lines on it."""
        return {item.key for item in self.items}


@dataclass
class _Leg:
    """Lines of one plan that leave one warehouse for one destination: its shipments' common part."""

    base_number: str
    source: str
    destination: str
    inbound_warehouse: str | None
    address: dict[str, Any] | None
    supplier: SupplierInfo | None
    export_reason: str | None
    lines: list[PlanLine]


# -- addresses --------------------------------------------------------------------------------------


def _checked(fields: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """An FFN address (camelCase, as sent) or why there is none."""
    try:
        address = AddressCreate.model_validate({k: v for k, v in fields.items() if v not in (None, "")})
    except ValidationError as exc:
        problems = sorted({str(err["loc"][0]) if err["loc"] else err["msg"] for err in exc.errors()})
        return None, ", ".join(problems)
    return address.model_dump(by_alias=True, exclude_none=True), None


def supplier_address(supplier: Supplier) -> tuple[dict[str, Any] | None, str | None]:
    """The Wawi supplier's address as an FFN shipping address, or what it lacks."""
    return _checked(
        {
            "company": supplier.company or supplier.name,
            "firstname": supplier.first_name,
            "lastname": supplier.last_name,
            "street": supplier.street,
            "extra_line": supplier.company2,
            "extra_address_line": supplier.address2,
            "zip": supplier.postal_code,
            "city": supplier.city,
            "state": supplier.state,
            "country": (supplier.country_iso or "").strip().upper() or None,
            "email": supplier.email,
            "phone": supplier.phone,
        }
    )


def warehouse_address(name: str | None, address: Address | None) -> tuple[dict[str, Any] | None, str | None]:
    """An FFN warehouse's address as a shipping address, or what it lacks."""
    if address is None:
        return None, "address"
    return _checked(
        {
            "company": address.company or name,
            "firstname": address.firstname,
            "lastname": address.lastname,
            "street": address.street,
            "extra_line": address.extra_line,
            "extra_address_line": address.extra_address_line,
            "zip": address.zip,
            "city": address.city,
            "state": address.state,
            "country": address.country,
            "email": address.email,
            "phone": address.phone,
        }
    )


# -- from plan lines to legs ------------------------------------------------------------------------


def _prefix(ctx: ExecutionContext, kind: str) -> str:
    params = ctx.params
    if kind == REBALANCE:
        return params.transfer_prefix
    return params.exchange_prefix if kind == SUPPLIER_EXCHANGE else params.return_prefix


def _rebalance_legs(
    ctx: ExecutionContext, plan: Plan, lines: Sequence[PlanLine], reasons: dict[LineKey, str]
) -> list[_Leg]:
    warehouses = ctx.warehouses()
    legs: dict[tuple[str, str], _Leg] = {}
    for line in lines:
        try:
            route = route_of(line)
        except BadRoute as exc:
            reasons[line.key] = str(exc)
            continue
        unknown = [w for w in (route.source, route.target) if w not in warehouses]
        if unknown:
            reasons[line.key] = (
                f"warehouse {', '.join(unknown)} is not one of the merchant's FFN warehouses "
                "(GET /merchant/warehouses): fix the route"
            )
            continue
        leg = legs.get((route.source, route.target))
        if leg is None:
            target = warehouses[route.target]
            address, lacks = warehouse_address(target.name, target.address)
            if address is None:
                reasons[line.key] = (
                    f"FFN gives no usable address for warehouse {route.target} ({lacks}): the outbound "
                    "cannot be addressed"
                )
                continue
            address.setdefault("extraAddressLine", f"Inbound {route}")
            leg = _Leg(
                f"{_prefix(ctx, plan.kind)}-{plan.id}-{route.source}-{route.target}",
                route.source,
                route.target,
                route.target,
                address,
                None,
                None,
                [],
            )
            legs[(route.source, route.target)] = leg
        leg.lines.append(line)
    return list(legs.values())


def _supplier_legs(
    ctx: ExecutionContext, plan: Plan, lines: Sequence[PlanLine], reasons: dict[LineKey, str]
) -> list[_Leg]:
    warehouses = ctx.warehouses()
    legs: dict[tuple[str, str], _Leg] = {}
    for line in lines:
        key = supplier_key(plan, line)
        if not line.warehouse:
            reasons[line.key] = "no warehouse: the line must name the warehouse the units leave from"
            continue
        if line.warehouse not in warehouses:
            reasons[line.key] = (
                f"warehouse {line.warehouse} is not one of the merchant's FFN warehouses "
                "(GET /merchant/warehouses)"
            )
            continue
        if key is None:
            reasons[line.key] = "no supplier: neither the plan's scope nor the line names one"
            continue
        supplier = find_supplier(ctx, key)
        if supplier is None:
            reasons[line.key] = f"supplier {key} not found in Wawi (by Id, number or name)"
            continue
        leg = legs.get((line.warehouse, key))
        if leg is None:
            raw = next(s for s in ctx.suppliers() if s.id == supplier.wawi_id)
            address, lacks = supplier_address(raw)
            why = (
                None
                if address is not None
                else f"supplier {supplier.name} ({supplier.number or supplier.wawi_id}) has no usable "
                f"address in Wawi ({lacks} missing): FFN cannot be told where to ship, so a person gets "
                "the document"
            )
            tag = supplier_tag(supplier)
            leg = _Leg(
                f"{_prefix(ctx, plan.kind)}-{plan.id}-{tag}-{line.warehouse}",
                line.warehouse,
                f"{supplier.name} ({supplier.number or supplier.wawi_id})",
                line.warehouse if plan.kind == SUPPLIER_EXCHANGE else None,
                address,
                supplier,
                why,
                [],
            )
            legs[(line.warehouse, key)] = leg
        leg.lines.append(line)
    return list(legs.values())


def _legs(
    ctx: ExecutionContext, plan: Plan, work: Sequence[PlanLine], reasons: dict[LineKey, str]
) -> list[_Leg]:
    """The plan's lines grouped per source and destination; lines that cannot go get a reason."""
    ok = []
    for line in work:
        if line.quantity <= 0:
            reasons[line.key] = "quantity 0: nothing to move"
        elif ctx.product(line.sku) is None:
            reasons[line.key] = f"SKU {line.sku} is not an FFN product: no outbound can carry it"
        else:
            ok.append(line)
    if plan.kind == REBALANCE:
        return _rebalance_legs(ctx, plan, ok, reasons)
    return _supplier_legs(ctx, plan, ok, reasons)


# -- shipments --------------------------------------------------------------------------------------


def shipment_key(number: str) -> str:
    """The ledger key of a shipment's record."""
    return f"shipment:{number}"


def _numbers(base: str) -> Iterable[str]:
    yield base
    for n in range(2, MAX_SHIPMENTS_PER_ROUTE + 1):
        yield f"{base}-{n}"


def _stored(ctx: ExecutionContext, number: str) -> Shipment | None:
    found = ctx.store.side_effect(shipment_key(number))
    if found is None or not found.result:
        return None
    return Shipment.model_validate(found.result)


def _record(ctx: ExecutionContext, shipment: Shipment) -> Shipment:
    """Write the shipment once; a record that is already there wins (it is what was sent)."""
    key = shipment_key(shipment.number)
    claim = ctx.store.claim(key, SHIPMENT_KIND, run_id=ctx.run_id, intent=shipment.model_dump(mode="json"))
    if claim.state is not ClaimState.NEW and claim.result:
        shipment = Shipment.model_validate(claim.result)
    ctx.store.complete(key, shipment.model_dump(mode="json"))
    return shipment


def _today(ctx: ExecutionContext) -> date:
    return ctx.today or datetime.now(ZoneInfo(ctx.params.timezone)).date()


def _take_stock(
    ctx: ExecutionContext, leg: _Leg, lines: Sequence[PlanLine], reasons: dict[LineKey, str]
) -> list[PlanLine]:
    """The lines the source can give now; the others wait with the numbers that stop them."""
    available = ctx.available(leg.source)
    fits = []
    for line in lines:
        jfsku = str((ctx.product(line.sku) or {})["jfsku"])
        free = available.get(jfsku, 0.0)
        if line.quantity > free:
            reasons[line.key] = (
                f"{line.quantity} units of {line.sku} asked, {free:g} available in {leg.source} (stock level "
                "− reserved − blocked, less this run's shipments): waits for stock"
            )
            continue
        available[jfsku] = free - line.quantity
        fits.append(line)
    return fits


def _new_shipment(
    ctx: ExecutionContext, plan: Plan, leg: _Leg, number: str, lines: list[PlanLine]
) -> Shipment:
    return Shipment(
        number=number,
        plan_id=plan.id,
        kind=plan.kind,
        source=leg.source,
        destination=leg.destination,
        inbound_warehouse=leg.inbound_warehouse,
        address=leg.address,
        supplier=leg.supplier,
        export_reason=leg.export_reason,
        made_on=_today(ctx),
        items=tuple(
            ShipmentItem(
                sku=line.sku,
                line_warehouse=line.warehouse,
                jfsku=str((ctx.product(line.sku) or {})["jfsku"]),
                name=(ctx.product(line.sku) or {}).get("name"),
                quantity=line.quantity,
            )
            for line in lines
        ),
    )


def plan_shipments(
    ctx: ExecutionContext, plan: Plan, leg: _Leg, reasons: dict[LineKey, str]
) -> list[Shipment]:
    """The leg's shipments this run carries out.

    Lines on a recorded shipment go with it (it is redone exactly once); the rest, stock permitting, make
    the next number's new shipment. A dry run records nothing.
    """
    left = list(leg.lines)
    out: list[Shipment] = []
    for number in _numbers(leg.base_number):
        if not left:
            return out
        stored = _stored(ctx, number)
        if stored is not None:
            on_it = [line for line in left if line.key in stored.line_keys()]
            if on_it:
                out.append(stored)
            left = [line for line in left if line.key not in stored.line_keys()]
            continue
        fits = _take_stock(ctx, leg, left, reasons)
        if fits:
            shipment = _new_shipment(ctx, plan, leg, number, fits)
            out.append(shipment if ctx.dry_run else _record(ctx, shipment))
        return out
    for line in left:
        reasons[line.key] = (
            f"route {leg.base_number} has {MAX_SHIPMENTS_PER_ROUTE} shipments: make a new plan"
        )
    return out


# -- carrying one out -------------------------------------------------------------------------------


def outbound_body(ctx: ExecutionContext, shipment: Shipment) -> JsonObject:
    """``POST /merchant/outbounds``: the items from the source warehouse to the shipment's address."""
    what = {REBALANCE: "transfer", SUPPLIER_EXCHANGE: "supplier exchange"}.get(
        shipment.kind, "supplier return"
    )
    attributes = [
        {"key": "planId", "value": str(shipment.plan_id)},
        {"key": "movement", "value": shipment.kind},
    ]
    if shipment.inbound_warehouse:
        attributes.append({"key": "merchantInboundNumber", "value": shipment.number})
    return {
        "merchantOutboundNumber": shipment.number,
        "externalNumber": shipment.number,
        "warehouseId": shipment.source,
        "currency": ctx.params.currency,
        "shippingType": ctx.params.movement_shipping_type,
        "shippingAddress": shipment.address,
        "internalNote": f"{what} {shipment.number} of plan {shipment.plan_id}: to {shipment.destination}",
        "attributes": attributes,
        "items": [
            {
                "outboundItemId": str(pos),
                "jfsku": item.jfsku,
                "quantity": item.quantity,
                **({"name": item.name} if item.name else {}),
            }
            for pos, item in enumerate(shipment.items, start=1)
        ],
    }


def inbound_body(shipment: Shipment, outbound_id: str) -> JsonObject:
    """``POST /merchant/inbounds``: the same items expected where the inbound is, linked to the outbound."""
    assert shipment.inbound_warehouse is not None
    body: JsonObject = {
        "merchantInboundNumber": shipment.number,
        "warehouseId": shipment.inbound_warehouse,
        "externalInboundNumber": shipment.number,
        "note": f"from {shipment.source if shipment.kind == REBALANCE else shipment.destination}, "
        f"outbound {outbound_id} ({shipment.number}, plan {shipment.plan_id})",
        "attributes": [
            {"key": "outboundId", "value": outbound_id},
            {"key": "merchantOutboundNumber", "value": shipment.number},
            {"key": "planId", "value": str(shipment.plan_id)},
        ],
        "items": [
            {"inboundItemId": str(pos), "jfsku": item.jfsku, "quantity": item.quantity}
            for pos, item in enumerate(shipment.items, start=1)
        ],
    }
    if shipment.supplier is not None:
        body["supplier"] = {
            "merchantSupplierNumber": shipment.supplier.number or str(shipment.supplier.wawi_id),
            "merchantSupplierName": shipment.supplier.name,
        }
    return body


#: What a person does with an exported shipment, per kind.
_TODO = {
    REBALANCE: "Ship these units from {source} to {destination} and announce them there.",
    SUPPLIER_EXCHANGE: "Send these units from {source} back to {destination}; the supplier sends the same "
    "units back to {source}: announce them there when they ship.",
}
_RETURN_TODO = "Send these units from {source} back to {destination}."


def movement_xlsx_bytes(shipment: Shipment) -> bytes:
    """The shipment as a workbook a person can act on: what, from where, to whom, why it was not sent."""
    title = {REBALANCE: "Transfer", SUPPLIER_EXCHANGE: "Supplier exchange"}.get(
        shipment.kind, "Supplier return"
    )
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title[:31]
    ws.append([f"{title} {shipment.number}"])
    ws["A1"].font = Font(bold=True, size=14)
    supplier = shipment.supplier
    todo = _TODO.get(shipment.kind, _RETURN_TODO).format(
        source=shipment.source, destination=shipment.destination
    )
    for label, value in (
        ("Number", shipment.number),
        ("Plan", shipment.plan_id),
        ("Made on", shipment.made_on),
        ("From warehouse", shipment.source),
        ("To", shipment.destination),
        ("Supplier number", (supplier.number or str(supplier.wawi_id)) if supplier else ""),
        ("Why not through FFN", shipment.export_reason or ""),
        ("To do", todo),
    ):
        ws.append([label, value])
    ws.cell(4, 2).number_format = "yyyy-mm-dd"
    ws.append([])
    ws.append(["Pos.", "SKU", "jfsku", "Description", "Quantity"])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for pos, item in enumerate(shipment.items, start=1):
        ws.append([pos, item.sku, item.jfsku, item.name or "", item.quantity])
    for column, width in zip("ABCDE", (20, 22, 16, 40, 10), strict=True):
        ws.column_dimensions[column].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def export_path(ctx: ExecutionContext, shipment: Shipment) -> Path:
    """Where an exported shipment's document goes."""
    return Path(ctx.params.export_dir) / f"{shipment.number}.xlsx"


def export(ctx: ExecutionContext, shipment: Shipment) -> str:
    """Write the document a person acts on, once (ledger ``plan-export:<number>``); its path."""
    key = f"plan-export:{shipment.number}"
    claim = ctx.store.claim(key, EXPORT_KIND, run_id=ctx.run_id)
    if claim.state is ClaimState.DONE and claim.result:
        return str(claim.result["path"])
    path = export_path(ctx, shipment)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".xlsx.tmp")
        tmp.write_bytes(movement_xlsx_bytes(shipment))
        tmp.replace(path)
    except OSError as exc:
        ctx.store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    ctx.store.complete(key, {"path": str(path)})
    log.info("shipment %s exported to %s: %s", shipment.number, path, shipment.export_reason)
    return str(path)


def carry_out(ctx: ExecutionContext, shipment: Shipment) -> ExecutionRef:
    """Outbound, then (transfer, exchange) the inbound: each exactly once; or the export. Errors propagate."""
    if shipment.exported:
        path = export(ctx, shipment)
        return ExecutionRef(
            shipment.number,
            None,
            {"mode": "exported", "document": path, "reason": shipment.export_reason, "run_id": ctx.run_id},
        )
    got = outbound_once(
        ctx.store,
        ctx.ffn,
        shipment.number,
        outbound_body(ctx, shipment),
        run_id=ctx.run_id,
        before_post=ctx.check_lease,
    )
    assert got is not None  # a payload was given: an outbound is found or made
    outbound_id = str(got[0].get("outboundId"))
    inbound_id = None
    if shipment.inbound_warehouse:
        try:
            inbound_id, _ = inbound_once(
                ctx.store,
                ctx.ffn,
                inbound_body(shipment, outbound_id),
                run_id=ctx.run_id,
                before_post=ctx.check_lease,
            )
        except AuthError:
            raise
        except JtlApiError as exc:
            raise InboundFailed(outbound_id, exc) from exc
    return ExecutionRef(
        shipment.number,
        inbound_id,
        {
            "mode": "ffn",
            "outbound_id": outbound_id,
            "outbound_number": shipment.number,
            "inbound_number": shipment.number if inbound_id else None,
            "source": shipment.source,
            "destination": shipment.destination,
            "run_id": ctx.run_id,
        },
    )


class InboundFailed(Exception):
    """The outbound went out but its inbound could not be announced (the next run announces it)."""

    def __init__(self, outbound_id: str, error: JtlApiError) -> None:
        super().__init__(
            f"outbound {outbound_id} was made but the inbound failed ({type(error).__name__}: {error}); "
            "the next run announces it"
        )
        self.outbound_id = outbound_id
        self.error = error


# -- one plan -------------------------------------------------------------------------------------


def _outcome(plan: Plan, line: PlanLine, status: str, **fields: Any) -> LineOutcome:
    return LineOutcome(plan.id, line.sku, line.warehouse, line.quantity, status, kind=plan.kind, **fields)


def execute_movements(ctx: ExecutionContext, plan: Plan, work: list[PlanLine]) -> list[LineOutcome]:
    """Every shipment of a movement plan's approved lines (a dry run: what each line would become)."""
    ctx.load_products(line.sku for line in work)
    reasons: dict[LineKey, str] = {}
    failed: dict[LineKey, str] = {}
    refs: dict[LineKey, ExecutionRef] = {}
    planned: dict[LineKey, Shipment] = {}
    for leg in _legs(ctx, plan, work, reasons):
        for shipment in plan_shipments(ctx, plan, leg, reasons):
            keys = shipment.line_keys()
            for line in leg.lines:
                if line.key in keys:
                    planned[line.key] = shipment
            if ctx.dry_run:
                continue
            ctx.check_lease()
            try:
                ref = carry_out(ctx, shipment)
            except AuthError:
                raise
            except ValidationFailed as exc:
                why = f"FFN refused shipment {shipment.number}: {exc}"
                failed.update(dict.fromkeys(keys, why))
                continue
            except (JtlApiError, InboundFailed, OSError) as exc:
                log.warning("%s, shipment %s: %s", plan.describe(), shipment.number, exc)
                failed.update(dict.fromkeys(keys, f"{type(exc).__name__}: {exc}"))
                continue
            got = {k: ref for k in keys if k in {line.key for line in leg.lines}}
            ctx.plans.record_execution(plan.id, got)
            refs.update(got)
    out = []
    for line in work:
        on = planned.get(line.key)
        extra: dict[str, Any] = {"supplier": plan.scope.supplier if plan.kind != REBALANCE else None}
        if on is not None:
            extra.update(shipment=on.number)
        made = refs.get(line.key)
        if made is not None:
            more = made.extra or {}
            exported = more.get("mode") == "exported"
            out.append(
                _outcome(
                    plan,
                    line,
                    "exported" if exported else "executed",
                    inbound_id=made.inbound_id,
                    outbound_id=more.get("outbound_id"),
                    document=more.get("document"),
                    reason=more.get("reason"),
                    **extra,
                )
            )
        elif line.key in failed:
            out.append(_outcome(plan, line, "failed", reason=failed[line.key], **extra))
        elif ctx.dry_run and on is not None:
            exported = on.exported
            out.append(
                _outcome(
                    plan,
                    line,
                    "would_export" if exported else "would_execute",
                    reason=on.export_reason,
                    document=str(export_path(ctx, on)) if exported else None,
                    **extra,
                )
            )
        else:
            out.append(_outcome(plan, line, "waiting", reason=reasons.get(line.key, "not executed"), **extra))
    return out
