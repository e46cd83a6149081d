"""Carry out approved restock plans: purchase order, supplier e-mail, FFN inbounds, each exactly once.

Per plan and supplier one purchase order (number ``PREFIX-PLAN-SUPPLIER``, deterministic, so every run
finds the same keys). Three kinds of side effect, each claimed in the state store's ledger first:

- ``purchase-order:<number>`` (kind ``purchase_order``): the order's record, written once with the
  lines, dates and supplier as ordered. Every later step works from this stored copy.
- ``purchase-order:<number>:email`` (kind ``supplier_email``): the e-mail to the supplier's Wawi address
  with the document attached; its Message-ID derives from the key, so the one send a crash between SMTP
  and the ledger could repeat is recognisable as the same message.
- ``ffn-inbound:<merchantInboundNumber>`` (kind ``ffn_inbound``): one inbound per order and warehouse.
  NEW: POST. A lost answer (timeout, dropped connection) or a duplicate-key refusal: look the number up
  and adopt what FFN made. PENDING/FAILED (a run died between the POST and the record, or failed): look
  the number up first, POST only when FFN has none. Never a second inbound for one number.

A plan is marked ``executing`` under the run's lease; a plan found ``executing`` by the lease holder was
left by a run that died, and is taken over: the ledger says what already happened. Lines carry what was
made (``record_execution``) as soon as each order is through; the plan ends ``done``, or back in
``approved`` with the reasons in its note (a supplier without e-mail address, an SKU FFN does not know),
so nothing is lost and the next run tries again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jtl_automator.clients.errors import (
    AuthError,
    ForbiddenError,
    JtlApiError,
    TransientError,
)
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.ffn.models import Warehouse
from jtl_automator.clients.wawi.auth import WawiKeyAuth
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.clients.wawi.models import PurchaseOrderCreate, PurchaseOrderLineItemCreate, Supplier
from jtl_automator.correlation import correlated_logger
from jtl_automator.notify.errors import NotifyError
from jtl_automator.notify.mail import AttachmentMailer
from jtl_automator.plans import (
    ExecutionRef,
    IllegalTransition,
    LineKey,
    LineStatus,
    Plan,
    PlanLine,
    PlanStatus,
    PlanStore,
)
from jtl_automator.services.ffn_once import inbound_once
from jtl_automator.services.plan_execution.document import (
    OrderLine,
    PurchaseOrderDoc,
    SupplierInfo,
    attachments,
    email_markdown,
    email_subject,
    language_of,
)
from jtl_automator.services.plan_execution.params import (
    EXECUTED_KINDS,
    PURCHASE_ORDER_KIND,
    RESTOCK,
    SUPPLIER_EMAIL_KIND,
    PlanExecutionParams,
)
from jtl_automator.settings import WAWI_PURCHASE_ORDER_SCOPE
from jtl_automator.store import ClaimState, StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper

log = correlated_logger("jtl_automator.plans.execution")

JsonObject = dict[str, Any]


@dataclass
class ExecutionContext:
    """Clients and settings of one run."""

    store: StateStore
    ffn: FfnClient
    wawi: WawiClient
    params: PlanExecutionParams
    run_id: str
    mailer: AttachmentMailer | None = None
    dry_run: bool = False
    lease: LeaseKeeper | None = None
    today: date | None = None
    #: Read once per run, on first use.
    _suppliers: list[Supplier] | None = None
    _products: dict[str, JsonObject] = field(default_factory=dict)
    _warehouses: dict[str, Warehouse] | None = None
    _available: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def plans(self) -> PlanStore:
        """The plan operations on the run's store."""
        return PlanStore(self.store)

    def check_lease(self) -> None:
        """Raise before a side effect if another run holds the lease now."""
        if self.lease is not None:
            self.lease.check()

    def order_date(self) -> date:
        """Today in the merchant's time zone (the order date of a new purchase order)."""
        return self.today or datetime.now(ZoneInfo(self.params.timezone)).date()

    def suppliers(self) -> list[Supplier]:
        """Wawi's suppliers, read once."""
        if self._suppliers is None:
            self._suppliers = self.wawi.suppliers.list()
        return self._suppliers

    def load_products(self, skus: Iterable[str]) -> None:
        """FFN products of these merchant SKUs (jfsku, name), one filtered listing for the whole run."""
        wanted = sorted({s for s in skus if s not in self._products})
        for product in self.ffn.products.matching(("merchantSku",), wanted):
            self._products.setdefault(str(product.get("merchantSku")), product)

    def product(self, sku: str) -> JsonObject | None:
        """The FFN product of a merchant SKU (after :meth:`load_products`)."""
        return self._products.get(sku)

    def warehouses(self) -> dict[str, Warehouse]:
        """The merchant's FFN warehouses by id (with their addresses), read once."""
        if self._warehouses is None:
            self._warehouses = {w.warehouse_id: w for w in self.ffn.warehouses.list()}
        return self._warehouses

    def available(self, warehouse: str) -> dict[str, float]:
        """Units per jfsku that ``warehouse`` can give now (stock level − reserved − blocked), read once.

        The run's own outbounds are taken off by the caller as it plans them.
        """
        if warehouse not in self._available:
            self._available[warehouse] = {
                row.jfsku: max(0.0, row.stock_level - row.stock_level_reserved - row.stock_level_blocked)
                for row in self.ffn.stocks.in_warehouse(warehouse)
                if row.jfsku
            }
        return self._available[warehouse]


@dataclass
class LineOutcome:
    """What happened to one plan line in this run."""

    plan_id: int
    sku: str
    warehouse: str
    quantity: int
    status: str  # executed | would_execute | exported | would_export | waiting | failed
    supplier: str | None = None
    purchase_order: str | None = None
    inbound_id: str | None = None
    reason: str | None = None
    #: The inbound's merchantInboundNumber (made, or in a dry run the one it would get).
    inbound_number: str | None = None
    kind: str = RESTOCK
    #: A movement plan's shipment number (outbound and inbound share it), its outbound, its export file.
    shipment: str | None = None
    outbound_id: str | None = None
    document: str | None = None

    def as_row(self) -> dict[str, Any]:
        """A flat row for tables and artifacts."""
        return {
            "plan": self.plan_id,
            "sku": self.sku,
            "warehouse": self.warehouse,
            "quantity": self.quantity,
            "status": self.status,
            "supplier": self.supplier or "",
            "purchase_order": self.purchase_order or "",
            "inbound_number": self.inbound_number or "",
            "inbound_id": self.inbound_id or "",
            "reason": self.reason or "",
            "kind": self.kind,
            "shipment": self.shipment or "",
            "outbound_id": self.outbound_id or "",
            "document": self.document or "",
        }


class OrderWaits(Exception):
    """An order cannot go out this run (a reason per line); the plan goes back to approved."""

    def __init__(self, reasons: Mapping[LineKey, str]) -> None:
        super().__init__("; ".join(sorted(set(reasons.values()))))
        self.reasons = dict(reasons)


class MissingWawiScope(ForbiddenError):
    """Wawi answered 403 to creating a purchase order: the app was not granted the scope for it.

    Its message is the one line a person needs: which order, which scope, how to get it. The plan goes back
    to approved before anything was sent (the Wawi order comes first).
    """

    def __init__(self, number: str, *, cloud: bool) -> None:
        how = (
            "add it to the app in JTL's Partner Portal"
            if cloud
            else "register the app again with `jtl-automator auth wawi --purchase-orders` (Wawi fixes an "
            "app's scopes at registration)"
        )
        super().__init__(
            f"Wawi refused to create purchase order {number} (403): the app lacks the scope "
            f"{WAWI_PURCHASE_ORDER_SCOPE}, which wawi_purchase_orders needs; {how}, or turn "
            "wawi_purchase_orders off",
            method="POST",
            path="/v2/purchase-orders",
            status=403,
        )
        self.scope = WAWI_PURCHASE_ORDER_SCOPE


# -- selection --------------------------------------------------------------------------------------


def plans_to_execute(plans: PlanStore) -> list[Plan]:
    """Approved plans of the kinds this executor knows, and executing ones a dead run left (oldest first)."""
    found = []
    for kind in EXECUTED_KINDS:
        found += plans.list_plans(kind=kind, status=PlanStatus.APPROVED)
        found += plans.list_plans(kind=kind, status=PlanStatus.EXECUTING)
    return sorted(found, key=lambda p: p.id)


def start(ctx: ExecutionContext, plan: Plan) -> Plan | None:
    """Mark the plan executing (taking over one a dead run left); None if another run got it first.

    Only the lease holder executes plans, so a plan found ``executing`` was left by a run that ended
    without finishing it: it goes back to approved with a note and is started again. Redoing is safe
    because every side effect is in the ledger.
    """
    plans = ctx.plans
    try:
        plan = plans.get(plan.id)  # as it is now: a task retry may hold an older copy
        if plan.status is PlanStatus.EXECUTING:
            since = plan.execution_started_at.isoformat() if plan.execution_started_at else "unknown"
            log.warning("taking over %s, left executing since %s", plan.describe(), since)
            plans.mark_failed(plan.id, f"taken over by run {ctx.run_id}: left executing since {since}")
        return plans.mark_executing(plan.id)
    except IllegalTransition as exc:
        log.warning("%s: %s", plan.describe(), exc)
        return None


# -- numbers and lookups ----------------------------------------------------------------------------


def supplier_tag(supplier: SupplierInfo) -> str:
    """The supplier in a document number: its Wawi number without punctuation (``L10001``), else ``S<Id>``."""
    tag = re.sub(r"[^A-Za-z0-9]+", "", supplier.number or "") or f"S{supplier.wawi_id}"
    return tag[:40]


def po_number(params: PlanExecutionParams, plan_id: int, supplier: SupplierInfo) -> str:
    """``PO-7-L10001``: the same for the same plan and supplier in every run."""
    return f"{params.po_prefix}-{plan_id}-{supplier_tag(supplier)}"


def supplier_key(plan: Plan, line: PlanLine) -> str | None:
    """The supplier of a line: its own ``details.supplier``, else the plan's scope."""
    own = (line.details or {}).get("supplier")
    return str(own) if own else plan.scope.supplier


def find_supplier(ctx: ExecutionContext, key: str) -> SupplierInfo | None:
    """The Wawi supplier a plan names, by Id, supplier number or name."""
    wanted = key.strip()
    for s in ctx.suppliers():
        if wanted in (str(s.id), s.supplier_no or "", s.name or "", s.company or ""):
            return SupplierInfo(
                key=key,
                wawi_id=s.id,
                number=s.supplier_no,
                name=s.company or s.name or key,
                email=(s.email or "").strip() or None,
                language=language_of(s.language_iso),
            )
    return None


def lead_time_days(params: PlanExecutionParams, lines: Sequence[PlanLine]) -> int:
    """The longest ``details.lead_time_days`` of the lines, else the configured default."""
    days = [
        int(v)
        for line in lines
        if isinstance(v := (line.details or {}).get("lead_time_days"), int | float) and v >= 0
    ]
    return max(days) if days else params.default_lead_time_days


# -- one order ------------------------------------------------------------------------------------


def build_order(
    ctx: ExecutionContext, plan: Plan, supplier: SupplierInfo, lines: Sequence[PlanLine]
) -> PurchaseOrderDoc:
    """The purchase order these lines make today; raises OrderWaits with a reason per blocked line."""
    reasons: dict[LineKey, str] = {}
    for line in lines:
        if not line.warehouse:
            reasons[line.key] = "no warehouse: FFN cannot be told where the goods go"
        elif ctx.product(line.sku) is None:
            reasons[line.key] = f"SKU {line.sku} is not an FFN product: no inbound can announce it"
        elif line.quantity <= 0:
            reasons[line.key] = "quantity 0: nothing to order"
    if reasons:
        for line in lines:
            reasons.setdefault(
                line.key,
                "waits for other lines of the same purchase order: "
                + "; ".join(sorted(set(reasons.values()))),
            )
        raise OrderWaits(reasons)
    if ctx.params.send_email and supplier.email is None:
        why = (
            f"supplier {supplier.name} ({supplier.number or supplier.wawi_id}) has no e-mail address in "
            "Wawi: add one and the next run orders these lines"
        )
        raise OrderWaits(dict.fromkeys((line.key for line in lines), why))
    order_date = ctx.order_date()
    return PurchaseOrderDoc(
        number=po_number(ctx.params, plan.id, supplier),
        plan_id=plan.id,
        supplier=supplier,
        order_date=order_date,
        expected_date=order_date + timedelta(days=lead_time_days(ctx.params, lines)),
        currency=ctx.params.currency,
        lines=tuple(
            OrderLine(
                sku=line.sku,
                warehouse=line.warehouse,
                quantity=line.quantity,
                jfsku=str((ctx.product(line.sku) or {})["jfsku"]),
                name=(ctx.product(line.sku) or {}).get("name"),
                supplier_sku=(line.details or {}).get("supplier_sku"),
                unit_price=line.unit_price,
            )
            for line in lines
        ),
    )


def record_order(ctx: ExecutionContext, doc: PurchaseOrderDoc) -> PurchaseOrderDoc:
    """The purchase order's record in the state database, written once; the stored copy wins after that.

    With ``wawi_purchase_orders`` the order is also created in Wawi (API v2) first, exactly once: an
    interrupted earlier claim hands back the order it was about to record, and Wawi is searched for its
    number before anything is posted again. Without it, the ledger row is the only record.
    """
    key = f"purchase-order:{doc.number}"
    intent = doc.model_dump(mode="json")
    claim = ctx.store.claim(key, PURCHASE_ORDER_KIND, run_id=ctx.run_id, intent=intent)
    if claim.state is ClaimState.DONE and claim.result:
        return PurchaseOrderDoc.model_validate(claim.result)
    stored = doc
    if claim.state is not ClaimState.NEW and claim.result:
        stored = PurchaseOrderDoc.model_validate(claim.result)
    if ctx.params.wawi_purchase_orders and stored.wawi_id is None:
        try:
            wawi_id = wawi_purchase_order(ctx, stored, look_first=claim.state is not ClaimState.NEW)
        except Exception as exc:
            ctx.store.fail(key, f"{type(exc).__name__}: {exc}")
            raise
        stored = stored.model_copy(update={"wawi_id": wawi_id})
    ctx.store.complete(key, stored.model_dump(mode="json"))
    return stored


def find_wawi_order(wawi: WawiClient, doc: PurchaseOrderDoc) -> int | None:
    """The Wawi purchase order of the supplier that carries this number, if any."""
    for order in wawi.purchase_orders.list(supplier_id=doc.supplier.wawi_id):
        if (order.number or "").strip() == doc.number:
            return order.id
    return None


def wawi_purchase_order(ctx: ExecutionContext, doc: PurchaseOrderDoc, *, look_first: bool) -> int:
    """Create the order in Wawi (v2) under its number; after a lost answer, find it instead."""
    if look_first and (found := find_wawi_order(ctx.wawi, doc)) is not None:
        return found
    item_ids: dict[str, int] = {}
    for sku in sorted({line.sku for line in doc.lines}):
        match = [i.id for i in ctx.wawi.items.list(search_key_word=sku) if i.sku == sku]
        if not match:
            raise OrderWaits(
                {
                    LineKey(li.sku, li.warehouse): f"SKU {sku} is not a Wawi item: the order cannot be "
                    "created in Wawi"
                    for li in doc.lines
                }
            )
        item_ids[sku] = match[0]
    body = PurchaseOrderCreate(
        supplier_id=doc.supplier.wawi_id,
        number=doc.number,
        status="Open",
        order_date=datetime.combine(doc.order_date, time(), tzinfo=UTC),
        expected_delivery_date=datetime.combine(doc.expected_date, time(), tzinfo=UTC),
        currency_iso=doc.currency,
        comment=f"jtl-automator plan {doc.plan_id}",
        line_items=[
            PurchaseOrderLineItemCreate(
                item_id=item_ids[line.sku],
                quantity=line.quantity,
                # Only what we know: the client sends every field set (an explicit null included), and
                # Wawi takes the item's purchase price where the line names none.
                **({"purchase_price_net": float(line.unit_price)} if line.unit_price is not None else {}),
                **({"supplier_sku": line.supplier_sku} if line.supplier_sku else {}),
            )
            for line in doc.lines
        ],
    )
    ctx.check_lease()
    try:
        return ctx.wawi.purchase_orders.create(body).id
    except ForbiddenError as exc:
        raise MissingWawiScope(doc.number, cloud=not isinstance(ctx.wawi.auth, WawiKeyAuth)) from exc
    except TransientError:
        found = find_wawi_order(ctx.wawi, doc)
        if found is None:
            raise
        log.info("Wawi purchase order %s exists despite the lost answer; adopting %s", doc.number, found)
        return found


def send_order(ctx: ExecutionContext, doc: PurchaseOrderDoc) -> str | None:
    """E-mail the order to the supplier once; its Message-ID (None when e-mail is switched off)."""
    if not ctx.params.send_email:
        return None
    email = doc.supplier.email
    mailer = ctx.mailer
    if mailer is None:
        raise OrderWaits(
            dict.fromkeys(
                (LineKey(line.sku, line.warehouse) for line in doc.lines),
                "no e-mail server configured (email block): the purchase order was not sent",
            )
        )
    assert email is not None
    key = f"purchase-order:{doc.number}:email"

    def send() -> Mapping[str, Any]:
        sent = mailer.send(
            email,
            email_subject(doc, ctx.params.email_subject),
            email_markdown(doc, ctx.params.buyer_name),
            format="markdown",
            idempotency_key=key,
            attachments=attachments(doc),
        )
        return {"message_id": str(getattr(sent, "message_id", "")), "to": email}

    ctx.check_lease()
    ctx.store.run_once(key, SUPPLIER_EMAIL_KIND, send, run_id=ctx.run_id)
    done = ctx.store.side_effect(key)
    return str((done.result or {}).get("message_id") or "") if done else None


def inbound_body(ctx: ExecutionContext, doc: PurchaseOrderDoc, warehouse: str) -> JsonObject:
    """``POST /merchant/inbounds``: items by jfsku, the number, the supplier and the expected date."""
    items = [
        {
            "inboundItemId": str(pos),
            "jfsku": line.jfsku,
            "quantity": line.quantity,
            **({"supplierSku": line.supplier_sku} if line.supplier_sku else {}),
        }
        for pos, line in enumerate((li for li in doc.lines if li.warehouse == warehouse), start=1)
    ]
    return {
        "merchantInboundNumber": doc.inbound_number(warehouse),
        "warehouseId": warehouse,
        "purchaseOrderNumber": doc.number,
        "note": f"expected delivery {doc.expected_date.isoformat()}",
        "supplier": {
            "merchantSupplierNumber": doc.supplier.number or str(doc.supplier.wawi_id),
            "merchantSupplierName": doc.supplier.name,
        },
        "attributes": [{"key": "expectedDeliveryDate", "value": doc.expected_date.isoformat()}],
        "items": items,
    }


def announce(ctx: ExecutionContext, doc: PurchaseOrderDoc, warehouse: str) -> tuple[str, bool]:
    """The order's inbound into ``warehouse``: (inboundId, created now), exactly once (``ffn_once``).

    Item-level API errors propagate (the caller makes them line reasons); the ledger then says FAILED and
    the next run looks the number up before posting again.
    """
    body = inbound_body(ctx, doc, warehouse)
    return inbound_once(ctx.store, ctx.ffn, body, run_id=ctx.run_id, before_post=ctx.check_lease)


def execute_order(
    ctx: ExecutionContext, plan: Plan, supplier: SupplierInfo, lines: Sequence[PlanLine]
) -> tuple[dict[LineKey, ExecutionRef], dict[LineKey, str]]:
    """Record, send and announce one purchase order: the lines' references, and reasons for the others.

    Raises OrderWaits when the order cannot go out this run; API and mail errors propagate.
    """
    doc = record_order(ctx, build_order(ctx, plan, supplier, lines))
    message_id = send_order(ctx, doc)
    inbounds = {wh: announce(ctx, doc, wh)[0] for wh in doc.warehouses}
    ordered = {LineKey(li.sku, li.warehouse): li for li in doc.lines}
    refs: dict[LineKey, ExecutionRef] = {}
    late: dict[LineKey, str] = {}
    for line in lines:
        if line.key not in ordered:  # approved after the stored order was made: it is not on it
            late[line.key] = f"approved after purchase order {doc.number} was made: it needs a new plan"
            continue
        refs[line.key] = ExecutionRef(
            doc.number,
            inbounds[line.warehouse],
            {
                "merchant_inbound_number": doc.inbound_number(line.warehouse),
                "expected_delivery_date": doc.expected_date.isoformat(),
                "supplier": doc.supplier.number or str(doc.supplier.wawi_id),
                "email_message_id": message_id,
                "run_id": ctx.run_id,
            },
        )
    return refs, late


# -- one plan -------------------------------------------------------------------------------------


def execute_orders(ctx: ExecutionContext, plan: Plan, work: list[PlanLine]) -> list[LineOutcome]:
    """A restock plan's purchase orders, one per supplier (a dry run: what they would be)."""
    if ctx.dry_run:
        return preview_plan(ctx, plan)
    ctx.load_products(line.sku for line in work)
    out: list[LineOutcome] = []
    for key, lines in group_by_supplier(plan, work).items():
        out += _run_order(ctx, plan, key, lines)
    return out


def _run_order(
    ctx: ExecutionContext, plan: Plan, key: str | None, lines: list[PlanLine]
) -> list[LineOutcome]:
    """One supplier's order of a plan, its references recorded at once; failures become line reasons."""
    refs: dict[LineKey, ExecutionRef] = {}
    reasons: dict[LineKey, str] = {}
    status = "waiting"
    supplier = find_supplier(ctx, key) if key is not None else None
    if key is None:
        reasons = dict.fromkeys(
            (line.key for line in lines), "no supplier: neither the plan nor the line names one"
        )
    elif supplier is None:
        reasons = dict.fromkeys(
            (line.key for line in lines), f"supplier {key} not found in Wawi (by Id, number or name)"
        )
    else:
        ctx.check_lease()
        try:
            refs, reasons = execute_order(ctx, plan, supplier, lines)
        except OrderWaits as exc:
            reasons = exc.reasons
        except AuthError:
            raise
        except (JtlApiError, NotifyError) as exc:
            log.warning("%s, supplier %s: %s", plan.describe(), key, exc)
            status = "failed"
            reasons = dict.fromkeys((line.key for line in lines), f"{type(exc).__name__}: {exc}")
    if refs:
        ctx.plans.record_execution(plan.id, refs)
    out = []
    for line in lines:
        ref = refs.get(line.key)
        if ref is not None:
            result = LineOutcome(
                plan.id,
                line.sku,
                line.warehouse,
                line.quantity,
                "executed",
                supplier=key,
                purchase_order=ref.purchase_order_number,
                inbound_id=ref.inbound_id,
                inbound_number=(ref.extra or {}).get("merchant_inbound_number"),
            )
        else:
            reason = reasons.get(line.key, "not executed")
            result = LineOutcome(plan.id, line.sku, line.warehouse, line.quantity, status, key, reason=reason)
        out.append(result)
    return out


def group_by_supplier(plan: Plan, lines: Iterable[PlanLine]) -> dict[str | None, list[PlanLine]]:
    """Lines per supplier key, in SKU order."""
    groups: dict[str | None, list[PlanLine]] = {}
    for line in lines:
        groups.setdefault(supplier_key(plan, line), []).append(line)
    return groups


def preview_plan(ctx: ExecutionContext, plan: Plan) -> list[LineOutcome]:
    """What a run would do for this plan: no claim, no mail, no POST, the plan untouched."""
    work = [line for line in plan.lines if line.status is LineStatus.APPROVED]
    ctx.load_products(line.sku for line in work)
    out: list[LineOutcome] = []
    for key, lines in group_by_supplier(plan, work).items():
        supplier = find_supplier(ctx, key) if key else None
        for line in lines:
            base = LineOutcome(
                plan.id, line.sku, line.warehouse, line.quantity, "would_execute", supplier=key
            )
            if supplier is None:
                base.status, base.reason = "waiting", f"supplier {key} not found in Wawi"
            out.append(base)
        if supplier is None:
            continue
        try:
            doc = build_order(ctx, plan, supplier, lines)
        except OrderWaits as exc:
            for o in out[-len(lines) :]:
                o.status, o.reason = "waiting", exc.reasons.get(LineKey(o.sku, o.warehouse))
            continue
        for o in out[-len(lines) :]:
            o.purchase_order, o.inbound_number = doc.number, doc.inbound_number(o.warehouse)
    return out
