"""Order processing as plain functions: import -> validate -> fulfil -> notify -> archive, exactly once.

The Prefect flow wires these as tasks (one per stage, the fulfil stage one task per chunk of orders);
tests and the benchmark call them directly (``run_order_processing`` runs the same stages in order).

Exactly once: an FFN outbound is keyed by its merchantOutboundNumber (= the Wawi order Number). Before
any create the run looks the numbers up in FFN in bulk (``find_existing_outbounds``), and each create is
claimed in the state store's side-effect ledger (``ffn-outbound:<number>``) before the POST:

- NEW claim: nobody tried before; the bulk lookup of this run says whether an outbound already exists
  (made by another tool or by hand): adopt it, else POST (the client itself looks the number up again
  after a transient failure, so a lost response never becomes a second outbound).
- PENDING/FAILED claim: an earlier attempt did not finish (a crash between the POST and the ledger
  write, a timeout): look the number up, adopt what is there, create only if nothing is.
- DONE claim: created before; the stored result repairs the order ledger if the crash hit after
  ``complete`` but before the ledger write.

Holds: orders that fail validation or cannot be allocated are put on hold in Wawi (OnHoldReasonId plus a
tagged line in Comment) and recorded ``held``; they are re-read every run and released as soon as they
pass. An order a human put on hold in Wawi (a hold without our tag) is never shipped and never released
by us: it is recorded ``on_hold_wawi`` and looked at again each run.
"""

from __future__ import annotations

import contextvars
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, cast

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jtl_automator.clients.errors import ClientError, RetryableError, ValidationFailed
from jtl_automator.clients.ffn.client import FfnClient, odata_quote
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger
from jtl_automator.notify.errors import NotifyError
from jtl_automator.store import ClaimState, StateStore
from jtl_automator.store.store import OrderRecord
from jtl_automator.transforms.allocation import (
    ALLOCATED,
    INSUFFICIENT_STOCK,
    AllocationParams,
    allocate_stock,
    available_stock,
)
from jtl_automator.transforms.orders import (
    OutboundPayloadError,
    ShippingType,
    orders_frame,
    outbound_payload,
    summarise,
)
from jtl_automator.transforms.orders_rules import (
    FAILURES_DTYPES,
    FailureCode,
    ValidationParams,
    valid_orders,
    validate_orders,
)

log = correlated_logger("jtl_automator.orders")

LEASE_NAME = "order-processing"
WAWI_WATERMARK = "orders:wawi"
FFN_WATERMARK = "orders:ffn-updates"
TAG = "[jtl-automator]"
# Ledger statuses: finished orders are skipped, open ones are read again every run.
SKIP_STATUSES = frozenset({"outbound_created", "shipped"})
OPEN_STATUSES = ("imported", "held", "released", "failed", "on_hold_wawi")
FILTER_CHUNK = 40  # merchantOutboundNumber clauses per $filter request (keeps URLs short)
WAWI_PAGE_SIZE = 1000
_COMMENT_LINE_MAX = 1000


DEFAULT_HOLD_REASONS: dict[str, int | str] = {
    INSUFFICIENT_STOCK: "Warte auf Ware",
    FailureCode.PAYMENT_NOT_CLEARED.value: "Zahlung ausstehend",
    "*": "Adresse prüfen",
}


class ConfigurationError(ValueError):
    """A setting does not fit the systems (e.g. an on-hold reason name Wawi does not know): stop the run."""


class LeaseLost(RuntimeError):
    """Another run took the lease (ours expired): stop before doing anything twice."""


class OrderProcessingParams(BaseModel):
    """What the merchant configures; every field has a default that works against the sandbox.

    ``on_hold_reasons`` maps a failure code (``ADDRESS_INCOMPLETE`` …), ``insufficient_stock`` or ``*``
    (everything else) to a Wawi on-hold reason, by Id or by Name (looked up in ``/v1/onHoldReasons``).
    ``shipping_method_map`` maps a Wawi ShippingMethodId to an FFN shippingMethodId; unmapped methods go
    out as ``default_shipping_type``. ``default_warehouse_id`` heads the allocation's warehouse priority.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    chunk_size: int = Field(default=100, ge=1, le=5000)
    workers: int = Field(default=4, ge=1, le=32, description="Chunks and line-item reads in parallel.")
    lookback_days: float = Field(default=7.0, gt=0, description="First run: orders created since then.")
    max_lookback_days: float = Field(default=30.0, gt=0, description="Held orders are re-read this far back.")
    overlap_minutes: float = Field(default=10.0, ge=0, description="Watermarks stay this far behind 'now'.")
    lease_minutes: float = Field(default=30.0, gt=0)
    validation: ValidationParams = ValidationParams()
    allocation: AllocationParams = AllocationParams()
    default_warehouse_id: str | None = None
    shipping_method_map: dict[int, str] = Field(default_factory=dict)
    default_shipping_type: ShippingType = "Standard"
    on_hold_reasons: dict[str, int | str] = Field(default_factory=lambda: dict(DEFAULT_HOLD_REASONS))
    notify_customers: bool = Field(default=True, description="Confirmation and shipping e-mails.")
    confirmation_subject: str = "Your order {order_number} is on its way to the warehouse"
    shipped_subject: str = "Your order {order_number} has shipped"

    @model_validator(mode="after")
    def _has_default_reason(self) -> OrderProcessingParams:
        if "*" not in self.on_hold_reasons:
            raise ValueError("on_hold_reasons needs a '*' entry (the reason for everything not listed)")
        return self

    def allocation_params(self) -> AllocationParams:
        """The allocation rule with the default warehouse at the head of the priority list."""
        if not self.default_warehouse_id:
            return self.allocation
        rest = tuple(w for w in self.allocation.warehouse_priority if w != self.default_warehouse_id)
        return self.allocation.model_copy(update={"warehouse_priority": (self.default_warehouse_id, *rest)})


@dataclass
class Outcome:
    """What happened to one order in this run (the summary counts these)."""

    order_number: str | None
    order_id: int | None
    outcome: str
    reason: str | None = None
    codes: tuple[str, ...] = ()
    warehouse_id: str | None = None
    outbound_id: str | None = None
    tracking: str | None = None


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _shipping_detail(order: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = order.get("SalesOrderShippingDetail")
    return detail if isinstance(detail, Mapping) else {}


def tagged_comment(existing: str | None, line: str) -> str:
    """The order's Comment with our one status line replaced; what people wrote there stays."""
    kept = [text for text in (existing or "").splitlines() if not text.startswith(TAG)]
    line = " ".join(line.split())[:_COMMENT_LINE_MAX]
    return "\n".join([*kept, f"{TAG} {line}"])


def _has_tag(comment: Any) -> bool:
    return isinstance(comment, str) and any(text.startswith(TAG) for text in comment.splitlines())


def _in_context(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``func`` in a copy of the caller's context: worker threads keep the correlation id."""
    context = contextvars.copy_context()

    def call(*args: Any) -> Any:
        return context.copy().run(func, *args)

    return call


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --------------------------------------------------------------------------------------------------
# Notifications (e-mail to the customer, webhook per event), each at most once
# --------------------------------------------------------------------------------------------------


class MailSender(Protocol):
    """What ``jtl_automator.notify.EmailSender`` offers (a protocol so tests can pass their own)."""

    def send(
        self, to: str | Sequence[str], subject: str, body: str, *, format: Any = ..., idempotency_key: str
    ) -> Any: ...


class HookSender(Protocol):
    """What ``jtl_automator.notify.WebhookSender`` offers."""

    def send(self, payload: Mapping[str, Any] | None = None, *, idempotency_key: str) -> Any: ...


@dataclass
class Notifier:
    """Sends through whatever is configured; the side-effect ledger makes every message once-only.

    Keys follow ``tasks/notify.py``: ``<key>:email`` and ``<key>:webhook``, with
    ``<key> = order:<number>:<event>``. A failed send is recorded (and retried by a later event's run at
    the earliest), never allowed to fail the order: the outbound exists either way.
    """

    store: StateStore
    run_id: str
    email: MailSender | None = None
    webhook: HookSender | None = None
    team: Sequence[str] = ()

    def _once(self, key: str, kind: str, send: Callable[[], Mapping[str, Any]]) -> bool:
        try:
            return self.store.run_once(key, kind, send, run_id=self.run_id)
        except NotifyError as exc:  # recorded as failed by run_once; the order goes on
            log.warning("notification %s failed: %s", key, exc)
            return False

    def event(
        self,
        key: str,
        payload: Mapping[str, Any],
        *,
        recipient: str | None = None,
        subject: str = "",
        markdown: str = "",
    ) -> dict[str, bool]:
        """Webhook with ``payload``; e-mail ``markdown`` to ``recipient`` when there is one."""
        sent = {"email": False, "webhook": False}
        email = self.email
        if email is not None and recipient:
            sent["email"] = self._once(
                f"{key}:email",
                "email",
                lambda: {
                    "message_id": str(
                        getattr(
                            email.send(
                                recipient,
                                subject,
                                markdown,
                                format="markdown",
                                idempotency_key=f"{key}:email",
                            ),
                            "message_id",
                            "",
                        )
                    )
                },
            )
        hook = self.webhook
        if hook is not None:
            sent["webhook"] = self._once(
                f"{key}:webhook",
                "webhook",
                lambda: {
                    "status": int(
                        getattr(hook.send(dict(payload), idempotency_key=f"{key}:webhook"), "status_code", 0)
                    )
                },
            )
        return sent


# --------------------------------------------------------------------------------------------------
# Stage 1: import
# --------------------------------------------------------------------------------------------------


@dataclass
class ImportedBatch:
    """The orders this run evaluates, their lines, and what was skipped at the door."""

    window_start: datetime
    started_at: datetime
    orders: list[dict[str, Any]]
    line_items: dict[int, list[Any]]
    ledger: dict[str, OrderRecord]
    outcomes: list[Outcome] = field(default_factory=list)
    listed: int = 0
    requests: int = 0

    @property
    def next_watermark(self) -> str:
        """Where the next run's listing starts: this run's start (the overlap is applied when reading)."""
        return _iso(self.started_at)


def import_window(
    store: StateStore, params: OrderProcessingParams, since: datetime | None, now: datetime
) -> datetime:
    """Start of the Wawi listing.

    ``since`` wins when given. Otherwise the watermark (minus the overlap; first run: ``lookback_days``),
    moved back to the oldest open (held, failed …) order so one listing re-reads them too, but never
    further back than ``max_lookback_days``.
    """
    if since is not None:
        return since if since.tzinfo else since.replace(tzinfo=UTC)
    overlap = timedelta(minutes=params.overlap_minutes)
    mark = _parse(store.get_watermark(WAWI_WATERMARK))
    start = mark - overlap if mark else now - timedelta(days=params.lookback_days)
    open_dates = [r.order_date for r in store.orders_in_status(OPEN_STATUSES) if r.order_date is not None]
    if open_dates:
        start = min(start, min(open_dates))
    return max(start, now - timedelta(days=params.max_lookback_days))


def _fetch_lines(wawi: WawiClient, order_id: int) -> list[Any]:
    """Raw line JSON (``orders_frame`` reads unruly values itself; a model would reject the order)."""
    body = wawi.core.get_json(f"{wawi.sales_orders.path}/{order_id}/lineitems") or []
    items = body.get("Items", []) if isinstance(body, Mapping) else body
    return list(items) if isinstance(items, list) else []


def fetch_line_items(
    wawi: WawiClient, order_ids: Sequence[int], workers: int
) -> tuple[dict[int, list[Any]], dict[int, str]]:
    """Lines per order from a small thread pool (the v1 API has no embedded lines; one GET per order).

    The threads share the client, hence its rate limiter and connection pool. An order that vanished
    (404) or whose lines Wawi refuses is reported per order; retryable and auth errors propagate.
    """
    lines: dict[int, list[Any]] = {}
    problems: dict[int, str] = {}

    def one(order_id: int) -> tuple[int, list[Any] | None, str | None]:
        try:
            return order_id, _fetch_lines(wawi, order_id), None
        except ClientError as exc:
            return order_id, None, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="wawi-lines") as pool:
        for order_id, found, problem in pool.map(_in_context(one), order_ids):
            if found is not None:
                lines[order_id] = found
            else:
                problems[order_id] = problem or "line items could not be read"
    return lines, problems


def import_orders(
    wawi: WawiClient,
    store: StateStore,
    params: OrderProcessingParams,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
) -> ImportedBatch:
    """List Wawi orders created since the window start (paged), skip finished ones, fetch the others' lines.

    New order numbers are recorded ``imported`` (unless ``dry_run``); the watermark does NOT move here.
    """
    started = now or datetime.now(UTC)
    start = import_window(store, params, since, started)
    before = wawi.stats.requests
    listed: dict[int, dict[str, Any]] = {}
    no_id: list[dict[str, Any]] = []
    for page in wawi.sales_orders.iter_pages(page_size=WAWI_PAGE_SIZE, created_since=_iso(start)):
        for order in page:
            if not isinstance(order, dict):
                continue
            order_id = _int(order.get("Id"))
            if order_id is None:
                no_id.append(order)
            else:
                listed.setdefault(order_id, order)
    numbers = {n for o in [*listed.values(), *no_id] if (n := _text(o.get("Number")))}
    ledger = store.orders(numbers)

    outcomes: list[Outcome] = []
    evaluate: list[dict[str, Any]] = list(no_id)
    for order_id, order in listed.items():
        number = _text(order.get("Number"))
        record = ledger.get(number) if number else None
        if record is not None and record.status in SKIP_STATUSES and record.wawi_order_id in (None, order_id):
            outcomes.append(Outcome(number, order_id, "skipped_existing", outbound_id=record.outbound_id))
            continue
        delivered = _int(_shipping_detail(order).get("DeliveryCompleteStatus")) or 0
        if record is None and delivered in (1, 2):
            # Wawi already (partly) delivered it another way: creating an outbound would ship it twice.
            outcomes.append(Outcome(number, order_id, "skipped_delivered", reason="DeliveryCompleteStatus"))
            continue
        evaluate.append(order)

    ids = [i for o in evaluate if (i := _int(o.get("Id"))) is not None]
    lines, problems = fetch_line_items(wawi, ids, params.workers)
    kept: list[dict[str, Any]] = []
    for order in evaluate:
        order_id = _int(order.get("Id"))
        if order_id is not None and order_id in problems:
            outcomes.append(
                Outcome(_text(order.get("Number")), order_id, "failed", reason=problems[order_id])
            )
        else:
            kept.append(order)

    batch = ImportedBatch(
        window_start=start,
        started_at=started,
        orders=kept,
        line_items=lines,
        ledger=ledger,
        outcomes=outcomes,
        listed=len(listed) + len(no_id),
        requests=wawi.stats.requests - before,
    )
    if not dry_run:
        fresh: dict[str, dict[str, Any]] = {}
        for order in kept:
            number, order_id = _text(order.get("Number")), _int(order.get("Id"))
            if number and order_id is not None and number not in ledger and number not in fresh:
                fresh[number] = {
                    "order_number": number,
                    "wawi_order_id": order_id,
                    "status": "imported",
                    "order_date": _parse(_text(order.get("SalesOrderDate"))),
                }
        store.record_orders(fresh.values(), event="imported", run_id=run_id)
        failed = [o for o in outcomes if o.outcome == "failed" and o.order_number]
        _record_failed(store, failed, run_id)
    log.info(
        "imported %d orders since %s (%d to evaluate, %d skipped)",
        batch.listed,
        _iso(start),
        len(kept),
        len(outcomes),
    )
    return batch


def _record_failed(store: StateStore, failed: Sequence[Outcome], run_id: str | None) -> None:
    store.record_orders(
        (
            {
                "order_number": o.order_number,
                "wawi_order_id": o.order_id,
                "status": "failed",
                "hold_reason": o.reason,
                "detail": {"error": o.reason},
            }
            for o in failed
        ),
        event="failed",
        run_id=run_id,
    )


# --------------------------------------------------------------------------------------------------
# Stage 2: what FFN and Wawi know (catalogue, stock, existing outbounds, hold reasons)
# --------------------------------------------------------------------------------------------------


@dataclass
class FulfilmentData:
    """One bulk read of everything the decisions need."""

    sku_map: dict[str, str]
    available: pd.DataFrame
    existing: dict[str, dict[str, Any]]  # merchantOutboundNumber -> outboundId, status, warehouseId
    hold_reasons: dict[str, int]  # on_hold_reasons key -> Wawi OnHoldReasonId
    ffn_requests: int = 0


def _flatten(pages: Iterable[Sequence[Any]]) -> Iterator[Any]:
    for page in pages:
        yield from page


def load_sku_map(ffn: FfnClient) -> dict[str, str]:
    """The catalogue's merchantSku -> jfsku map from one paged read."""
    found: dict[str, str] = {}
    for product in _flatten(ffn.products.iter_pages(top=1000)):
        sku, jfsku = _text(product.get("merchantSku")), _text(product.get("jfsku"))
        if sku is not None and jfsku is not None:
            found.setdefault(sku, jfsku)
    return found


def load_available(ffn: FfnClient, default_warehouse_id: str | None = None) -> pd.DataFrame:
    """Available units per jfsku and warehouse from one paged read of all stocks."""
    return available_stock(_flatten(ffn.stocks.iter_pages(top=1000)), default_warehouse_id)


def find_existing_outbounds(ffn: FfnClient, numbers: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Outbounds that already exist for these merchantOutboundNumbers, by ``$filter`` in chunks.

    This is the lookup before any create, done for the batch at once: ~N/40 requests instead of N.
    """
    wanted = sorted(set(numbers))
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(wanted, FILTER_CHUNK):
        clause = " or ".join(f"merchantOutboundNumber eq {odata_quote(n)}" for n in chunk)
        for outbound in _flatten(ffn.outbounds.iter_pages(filter=clause, top=1000)):
            number = _text(outbound.get("merchantOutboundNumber"))
            if number is not None and number in chunk:
                found[number] = {
                    "outboundId": outbound.get("outboundId"),
                    "status": outbound.get("status"),
                    "warehouseId": outbound.get("warehouseId"),
                }
    return found


def resolve_hold_reasons(wawi: WawiClient, params: OrderProcessingParams) -> dict[str, int]:
    """On-hold reason ids, names looked up once in ``/v1/onHoldReasons``; an unknown name stops the run."""
    by_name: dict[str, int] | None = None
    resolved: dict[str, int] = {}
    for key, reason in params.on_hold_reasons.items():
        if isinstance(reason, int):
            resolved[key] = reason
            continue
        if by_name is None:
            body = wawi.core.get_json("/v1/onHoldReasons") or []
            items = body.get("Items", []) if isinstance(body, Mapping) else body
            by_name = {
                str(r.get("Name")).strip().casefold(): int(r["Id"])
                for r in items
                if isinstance(r, Mapping) and _int(r.get("Id")) is not None
            }
        reason_id = by_name.get(reason.strip().casefold())
        if reason_id is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise ConfigurationError(
                f"on_hold_reasons[{key!r}]: Wawi has no on-hold reason named {reason!r} (known: {known})"
            )
        resolved[key] = reason_id
    return resolved


def load_fulfilment_data(
    ffn: FfnClient, wawi: WawiClient, params: OrderProcessingParams, batch: ImportedBatch
) -> FulfilmentData:
    """Catalogue, stock and existing outbounds from FFN; on-hold reason ids from Wawi."""
    before = ffn.stats.requests
    hold_reasons = resolve_hold_reasons(wawi, params)
    numbers = [n for o in batch.orders if (n := _text(o.get("Number")))]
    existing = find_existing_outbounds(ffn, numbers) if numbers else {}
    sku_map = load_sku_map(ffn) if batch.orders else {}
    available = load_available(ffn, params.default_warehouse_id) if batch.orders else available_stock([])
    return FulfilmentData(sku_map, available, existing, hold_reasons, ffn.stats.requests - before)


# --------------------------------------------------------------------------------------------------
# Stage 3: decisions (pure: no I/O)
# --------------------------------------------------------------------------------------------------

ActionKind = Literal["create", "adopt", "hold", "on_hold_wawi", "fail"]


@dataclass
class Action:
    """What to do with one order; ``apply_actions`` carries it out."""

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
    ledger_status: str | None = None
    ledger_reason: str | None = None


@dataclass
class Plan:
    """The run's decisions, in allocation order."""

    actions: list[Action]
    counts: dict[str, int]

    def chunks(self, size: int) -> list[list[Action]]:
        """Work units for the fulfil stage (never one per order)."""
        return [list(c) for c in _chunks(self.actions, size)]


def _hold_reason_id(codes: Sequence[str], reasons: Mapping[str, int]) -> int:
    for code in codes:
        if code in reasons:
            return reasons[code]
    return reasons["*"]


def _customer(order: Mapping[str, Any]) -> tuple[str | None, str | None]:
    for key in ("Shipmentaddress", "BillingAddress"):
        address = order.get(key)
        if isinstance(address, Mapping) and _text(address.get("EmailAddress")):
            name = " ".join(filter(None, (_text(address.get("FirstName")), _text(address.get("LastName")))))
            return _text(address.get("EmailAddress")), name or _text(address.get("Company"))
    return None, None


def _ours(order: Mapping[str, Any], reasons: Mapping[str, int]) -> bool:
    hold = _int(_shipping_detail(order).get("OnHoldReasonId")) or 0
    return hold != 0 and hold in set(reasons.values()) and _has_tag(order.get("Comment"))


def plan_orders(batch: ImportedBatch, data: FulfilmentData, params: OrderProcessingParams) -> Plan:
    """Validate, allocate and decide per order (see the module docstring for the rules)."""
    orders_df, lines_df = orders_frame(batch.orders, batch.line_items)
    raw: dict[int, dict[str, Any]] = {}
    for order in batch.orders:
        order_id = _int(order.get("Id"))
        if order_id is not None:
            raw.setdefault(order_id, order)
    failures = validate_orders(orders_df, lines_df, params.validation, data.sku_map)

    # A number the ledger already gives to another Wawi order is a duplicate across runs.
    extra = []
    for known_id, known_number in zip(
        orders_df["order_id"].tolist(), orders_df["order_number"].tolist(), strict=True
    ):
        owner = batch.ledger.get(known_number) if isinstance(known_number, str) else None
        if owner is not None and known_id is not pd.NA and owner.wawi_order_id not in (None, known_id):
            extra.append(
                {
                    "order_id": known_id,
                    "order_number": known_number,
                    "code": FailureCode.DUPLICATE_ORDER_NUMBER.value,
                    "field": "Number",
                    "message": f"order Number {known_number!r} already belongs to Wawi order "
                    f"{owner.wawi_order_id} ({owner.status})",
                }
            )
    if extra:
        failures = pd.concat([failures, pd.DataFrame(extra).astype(FAILURES_DTYPES)], ignore_index=True)
    codes_of: dict[int, list[str]] = {}
    text_of: dict[int, list[str]] = {}
    for order_id, code, message in zip(
        failures["order_id"].tolist(), failures["code"].tolist(), failures["message"].tolist(), strict=True
    ):
        if order_id is pd.NA:
            continue
        codes_of.setdefault(order_id, []).append(code)
        text_of.setdefault(order_id, []).append(f"{code}: {message}")
    duplicates = {i for i, codes in codes_of.items() if FailureCode.DUPLICATE_ORDER_NUMBER.value in codes}

    manual = {
        i
        for i, order in raw.items()
        if (_int(_shipping_detail(order).get("OnHoldReasonId")) or 0) != 0
        and not _ours(order, data.hold_reasons)
    }
    exists = {
        i for i, order in raw.items() if i not in duplicates and _text(order.get("Number")) in data.existing
    }
    candidates = valid_orders(orders_df, failures)
    candidates = candidates.loc[~candidates["order_id"].isin(manual | exists)]
    allocation = allocate_stock(
        candidates,
        lines_df.loc[lines_df["order_id"].isin(candidates["order_id"])],
        data.available,
        params.allocation_params(),
        data.sku_map,
    )
    allocated = {
        int(oid): (status, wh, reason)
        for oid, status, wh, reason in zip(
            allocation.orders["order_id"].tolist(),
            allocation.orders["status"].tolist(),
            allocation.orders["warehouse_id"].tolist(),
            allocation.orders["reason"].tolist(),
            strict=True,
        )
    }
    rank = {oid: n for n, oid in enumerate(allocated)}
    line_records: dict[int, list[dict[str, Any]]] = {}
    for line in lines_df.to_dict("records"):
        line_records.setdefault(int(line["order_id"]), []).append({str(k): v for k, v in line.items()})

    actions: list[Action] = []
    order_rows = cast("list[dict[str, Any]]", orders_df.to_dict("records"))
    order_rows.sort(
        key=lambda r: rank.get(r["order_id"], len(rank)) if r["order_id"] is not pd.NA else 1 << 62
    )
    for row in order_rows:
        order_id = None if row["order_id"] is pd.NA else int(row["order_id"])
        number = None if row["order_number"] is pd.NA else str(row["order_number"])
        order = raw.get(order_id, {}) if order_id is not None else {}
        date = None if row["order_date"] is pd.NaT else row["order_date"].to_pydatetime()
        email, customer = _customer(order)
        record = batch.ledger.get(number) if number else None
        hold_now = _int(_shipping_detail(order).get("OnHoldReasonId")) or 0
        ours = _ours(order, data.hold_reasons)
        base: dict[str, Any] = {
            "order_number": number,
            "order_id": order_id,
            "order_date": date,
            "comment": order.get("Comment") if isinstance(order.get("Comment"), str) else None,
            "email": email,
            "customer": customer,
            "was_held": (record is not None and record.status == "held") or ours,
            "ledger_status": record.status if record is not None else None,
            "ledger_reason": record.hold_reason if record is not None else None,
        }
        if order_id is None:
            actions.append(
                Action("fail", **base, reason="ORDER_ID_MISSING: order Id is missing or not an integer")
            )
            continue
        codes = tuple(codes_of.get(order_id, ()))
        if order_id in exists and number is not None:
            existing = data.existing[number]
            actions.append(
                Action("adopt", **base, existing=existing, warehouse_id=existing.get("warehouseId"))
            )
            continue
        if order_id in manual and order_id not in duplicates:
            reason = f"on hold in Wawi (OnHoldReasonId {hold_now})"
            actions.append(Action("on_hold_wawi", **{**base, "was_held": False}, reason=reason))
            continue
        status, warehouse, stock_reason = allocated.get(order_id, (None, None, None))
        if not codes and status == ALLOCATED and warehouse is not None:
            try:
                payload = outbound_payload(
                    row,
                    line_records.get(order_id, []),
                    data.sku_map,
                    warehouse,
                    params.shipping_method_map,
                    params.default_shipping_type,
                )
            except OutboundPayloadError as exc:
                actions.append(Action("fail", **base, reason=str(exc)))
                continue
            actions.append(Action("create", **base, payload=payload, warehouse_id=warehouse))
            continue
        if not codes:
            codes = (stock_reason or INSUFFICIENT_STOCK,)
            texts = [
                f"{INSUFFICIENT_STOCK}: no single warehouse has the stock for every line"
                if codes[0] == INSUFFICIENT_STOCK
                else f"{codes[0]}: lines cannot be allocated"
            ]
        else:
            texts = text_of[order_id]
        reason = "; ".join(texts)
        reason_id = _hold_reason_id(codes, data.hold_reasons)
        unchanged = (
            record is not None
            and record.status == "held"
            and record.hold_reason == reason
            and hold_now == reason_id
            and ours
        )
        actions.append(
            Action(
                "hold",
                **base,
                reason=reason,
                codes=codes,
                hold_reason_id=reason_id,
                unchanged=unchanged,
                owns_number=order_id not in duplicates,
            )
        )
    counts = Counter(a.kind for a in actions)
    return Plan(actions, dict(sorted(counts.items())))


# --------------------------------------------------------------------------------------------------
# Stage 4: carry the decisions out (one chunk at a time)
# --------------------------------------------------------------------------------------------------


@dataclass
class Context:
    """Clients and settings one chunk needs (tasks build it per flow run, tests by hand)."""

    wawi: WawiClient
    ffn: FfnClient
    store: StateStore
    params: OrderProcessingParams
    run_id: str
    dry_run: bool = False
    notifier: Notifier | None = None
    hold_reasons: dict[str, int] = field(default_factory=dict)
    lease_owner: str | None = None

    def renew_lease(self) -> None:
        """Extend our lease; raise if another run holds it now (ours ran out)."""
        if self.dry_run or self.lease_owner is None:
            return
        ttl = timedelta(minutes=self.params.lease_minutes)
        if not self.store.acquire_lease(LEASE_NAME, self.lease_owner, ttl):
            raise LeaseLost(f"lease {LEASE_NAME!r} is held by another run; stopping before any double work")


class _Ledger:
    """Ledger updates of one chunk, written per event in one transaction each (also when the chunk fails)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.updates: dict[str, list[dict[str, Any]]] = {}

    def add(self, event: str, **update: Any) -> None:
        if update.get("order_number"):
            self.updates.setdefault(event, []).append(update)

    def flush(self) -> None:
        if self.ctx.dry_run:
            return
        for event, updates in self.updates.items():
            self.ctx.store.record_orders(updates, event=event, run_id=self.ctx.run_id)
        self.updates.clear()


def _update_order(wawi: WawiClient, order_id: int, body: Mapping[str, Any]) -> None:
    """PATCH, repeated after a retryable failure (the client never repeats a PATCH by itself).

    Our bodies only set absolute values (hold reason, comment, shipping date): sending one again after a
    5xx or a lost answer leaves the order exactly as one successful PATCH would.
    """
    policy = wawi.core.retry
    started = policy.clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            wawi.sales_orders.update(order_id, body)
            return
        except RetryableError:
            delay = policy.backoff(attempt)
            if attempt >= policy.max_attempts or policy.clock() - started + delay > policy.budget_seconds:
                raise
            policy.sleep(delay)


def _patch(ctx: Context, order_id: int, hold_id: int | None, comment: str) -> None:
    body: dict[str, Any] = {"Comment": comment}
    if hold_id is not None:
        body["SalesOrderShippingDetail"] = {"OnHoldReasonId": hold_id}
    _update_order(ctx.wawi, order_id, body)


def _hold(ctx: Context, action: Action, ledger: _Ledger, out: list[Outcome]) -> None:
    assert action.order_id is not None
    outcome = Outcome(action.order_number, action.order_id, "held", action.reason, action.codes)
    if action.unchanged or ctx.dry_run:
        out.append(outcome)
        return
    try:
        _patch(
            ctx,
            action.order_id,
            action.hold_reason_id,
            tagged_comment(action.comment, f"on hold: {action.reason}"),
        )
    except ClientError as exc:
        _fail(ctx, action, f"hold in Wawi failed: {exc}", ledger, out)
        return
    detail = {
        "codes": list(action.codes),
        "reason": action.reason,
        "on_hold_reason_id": action.hold_reason_id,
    }
    if action.owns_number:
        ledger.add(
            "held",
            order_number=action.order_number,
            wawi_order_id=action.order_id,
            status="held",
            hold_reason=action.reason,
            order_date=action.order_date,
            detail=detail,
        )
    else:  # the number's ledger row belongs to the order that keeps it: journal only
        ledger.add(
            "duplicate_held",
            order_number=action.order_number,
            detail={**detail, "wawi_order_id": action.order_id},
        )
    out.append(outcome)
    if ctx.notifier is not None and action.owns_number:
        ctx.notifier.event(
            f"order:{action.order_number}:held",
            {
                "event": "order.held",
                "order_number": action.order_number,
                "wawi_order_id": action.order_id,
                "codes": list(action.codes),
                "reason": action.reason,
            },
        )


def _fail(ctx: Context, action: Action, error: str, ledger: _Ledger, out: list[Outcome]) -> None:
    out.append(Outcome(action.order_number, action.order_id, "failed", error, action.codes))
    log.warning("order %s failed: %s", action.order_number, error)
    repeated = action.ledger_status == "failed" and action.ledger_reason == error[:2000]
    if action.owns_number and not repeated:
        ledger.add(
            "failed",
            order_number=action.order_number,
            wawi_order_id=action.order_id,
            status="failed",
            hold_reason=error[:2000],
            order_date=action.order_date,
            detail={"error": error[:2000]},
        )


def _outbound(ctx: Context, action: Action) -> tuple[dict[str, Any], bool] | None:
    """The outbound of this order: (result, created_now), or None when the claim says another run has it.

    Exactly once, see the module docstring. Item-level API errors propagate to the caller.
    """
    number = str(action.order_number)
    key = f"ffn-outbound:{number}"
    outbounds = ctx.ffn.outbounds
    claim = ctx.store.claim(key, "ffn_outbound", run_id=ctx.run_id)
    if claim.state is ClaimState.DONE:
        return dict(claim.result or {}), False
    existing: dict[str, Any] | None = action.existing
    if existing is None and claim.state in (ClaimState.PENDING, ClaimState.FAILED):
        found = outbounds.find_by_merchant_number(number)
        if found is not None:
            existing = {
                "outboundId": found.outbound_id,
                "status": found.status,
                "warehouseId": found.warehouse_id,
            }
    if existing is not None:
        result = {
            "outboundId": existing.get("outboundId"),
            "warehouseId": existing.get("warehouseId"),
            "adopted": True,
        }
        ctx.store.complete(key, result)
        return result, False
    if action.payload is None:  # an adopt whose outbound vanished since the bulk lookup: decide next run
        ctx.store.fail(key, "outbound not found any more")
        return None
    try:
        created = outbounds.create(action.payload)
    except ClientError as exc:
        ctx.store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    result = {"outboundId": created.outbound_id, "warehouseId": created.warehouse_id, "adopted": False}
    ctx.store.complete(key, result)
    return result, True


def _fulfil(ctx: Context, action: Action, ledger: _Ledger, out: list[Outcome]) -> None:
    assert action.order_id is not None and action.order_number is not None
    if ctx.dry_run:
        kind = "created" if action.kind == "create" else "adopted"
        out.append(Outcome(action.order_number, action.order_id, kind, warehouse_id=action.warehouse_id))
        if action.was_held:
            out.append(Outcome(action.order_number, action.order_id, "released"))
        return
    try:
        got = _outbound(ctx, action)
    except ValidationFailed as exc:
        if exc.code == "Stocks_NotEnoughStock":  # stock moved since we read it: hold, do not oversell
            reason = f"{INSUFFICIENT_STOCK}: {exc.messages[0] if exc.messages else exc}"
            held = Action(
                "hold",
                action.order_number,
                action.order_id,
                action.order_date,
                reason=reason,
                codes=(INSUFFICIENT_STOCK,),
                hold_reason_id=_hold_reason_id((INSUFFICIENT_STOCK,), ctx.hold_reasons),
                comment=action.comment,
            )
            _hold(ctx, held, ledger, out)
            return
        _fail(ctx, action, f"outbound create refused: {exc}", ledger, out)
        return
    except ClientError as exc:
        _fail(ctx, action, f"outbound create refused: {exc}", ledger, out)
        return
    if got is None:
        out.append(
            Outcome(action.order_number, action.order_id, "failed", "outbound vanished; retried next run")
        )
        return
    result, created = got
    outbound_id, warehouse = result.get("outboundId"), result.get("warehouseId")
    kind = "created" if created else "adopted"
    line = f"FFN outbound {outbound_id} (warehouse {warehouse})"
    try:
        _patch(ctx, action.order_id, 0 if action.was_held else None, tagged_comment(action.comment, line))
    except ClientError as exc:
        out.append(Outcome(action.order_number, action.order_id, "writeback_failed", str(exc)))
        ledger.add("writeback_failed", order_number=action.order_number, detail={"error": str(exc)[:2000]})
    else:
        if action.was_held:
            out.append(Outcome(action.order_number, action.order_id, "released"))
            ledger.add("released", order_number=action.order_number, detail={"outbound_id": outbound_id})
    ledger.add(
        "outbound_created",
        order_number=action.order_number,
        wawi_order_id=action.order_id,
        status="outbound_created",
        hold_reason=None,
        outbound_id=outbound_id,
        warehouse_id=warehouse,
        order_date=action.order_date,
        detail={"outbound_id": outbound_id, "warehouse_id": warehouse, "adopted": not created},
    )
    out.append(
        Outcome(action.order_number, action.order_id, kind, warehouse_id=warehouse, outbound_id=outbound_id)
    )
    if ctx.notifier is not None and created:
        params = ctx.params
        ctx.notifier.event(
            f"order:{action.order_number}:outbound_created",
            {
                "event": "order.outbound_created",
                "order_number": action.order_number,
                "wawi_order_id": action.order_id,
                "outbound_id": outbound_id,
                "warehouse_id": warehouse,
            },
            recipient=action.email if params.notify_customers else None,
            subject=params.confirmation_subject.format(order_number=action.order_number),
            markdown=confirmation_markdown(action),
        )


def confirmation_markdown(action: Action) -> str:
    """The customer's order confirmation (items from the outbound body)."""
    greeting = f"Hello {action.customer}," if action.customer else "Hello,"
    lines = [greeting, "", f"thank you for your order **{action.order_number}**. It is being packed now.", ""]
    for item in (action.payload or {}).get("items", []):
        lines.append(f"- {item.get('quantity')} × {item.get('name') or item.get('merchantSku')}")
    lines += ["", "We will write again with the tracking number as soon as the parcel ships."]
    return "\n".join(lines)


def apply_actions(ctx: Context, actions: Sequence[Action]) -> list[Outcome]:
    """Carry out one chunk's decisions. Item-level errors become outcomes; auth errors propagate.

    The chunk's ledger updates are written even when a retryable error ends the chunk early, so a task
    retry (or the next run) finds the finished orders finished.
    """
    ctx.renew_lease()
    ledger = _Ledger(ctx)
    out: list[Outcome] = []
    try:
        for action in actions:
            if action.kind == "hold":
                _hold(ctx, action, ledger, out)
            elif action.kind in ("create", "adopt"):
                _fulfil(ctx, action, ledger, out)
            elif action.kind == "fail":
                _fail(ctx, action, action.reason or "failed", ledger, out)
            elif action.kind == "on_hold_wawi":
                out.append(Outcome(action.order_number, action.order_id, "on_hold_wawi", action.reason))
                if action.ledger_status != "on_hold_wawi" or action.ledger_reason != action.reason:
                    ledger.add(
                        "on_hold_wawi",
                        order_number=action.order_number,
                        wawi_order_id=action.order_id,
                        status="on_hold_wawi",
                        hold_reason=action.reason,
                        order_date=action.order_date,
                    )
    finally:
        ledger.flush()
    return out


# --------------------------------------------------------------------------------------------------
# Stage 5: shipping status from FFN's updates feed
# --------------------------------------------------------------------------------------------------


def _trackings(notifications: Sequence[Any]) -> tuple[list[str], list[str], datetime | None]:
    values: list[str] = []
    urls: list[str] = []
    shipped: datetime | None = None
    for notification in notifications:
        for package in notification.packages:
            for ident in package.identifier:
                value = _text(ident.get("value")) if isinstance(ident, Mapping) else None
                if value and value not in values:
                    values.append(value)
            if package.tracking_url and package.tracking_url not in urls:
                urls.append(package.tracking_url)
            if package.shipping_date and (shipped is None or package.shipping_date > shipped):
                shipped = package.shipping_date
    return values, urls, shipped


def sync_shipments(ctx: Context, *, start: datetime, now: datetime) -> tuple[list[Outcome], str]:
    """Record ``shipped`` (with tracking) for our outbounds that FFN reports Shipped since the watermark.

    Reads ``/outbounds/updates`` from the ``orders:ffn-updates`` watermark (first run: ``start``), then per
    shipped order its shipping notifications; writes tracking to Wawi and notifies. Returns the outcomes
    and the watermark to store once everything is recorded.
    """
    mark = _parse(ctx.store.get_watermark(FFN_WATERMARK))
    overlap = timedelta(minutes=ctx.params.overlap_minutes)
    begin = mark - overlap if mark else start
    shipped: dict[str, Any] = {}
    for outbound in ctx.ffn.outbounds.updates(begin, now):
        if outbound.merchant_outbound_number and outbound.status == "Shipped":
            shipped[outbound.merchant_outbound_number] = outbound
    ledger_rows = ctx.store.orders(shipped)
    out: list[Outcome] = []
    ledger = _Ledger(ctx)
    try:
        for number, outbound in shipped.items():
            record = ledger_rows.get(number)
            if record is None or record.status != "outbound_created" or record.wawi_order_id is None:
                continue
            if record.outbound_id not in (None, outbound.outbound_id):
                continue
            trackings, urls, shipped_at = _trackings(
                ctx.ffn.outbounds.shipping_notifications(outbound.outbound_id)
            )
            tracking = ", ".join(trackings) or None
            out.append(
                Outcome(
                    number,
                    record.wawi_order_id,
                    "shipped",
                    outbound_id=outbound.outbound_id,
                    tracking=tracking,
                    warehouse_id=record.warehouse_id,
                )
            )
            if ctx.dry_run:
                continue
            try:
                order = ctx.wawi.core.get_json(f"{ctx.wawi.sales_orders.path}/{record.wawi_order_id}") or {}
                line = f"shipped via FFN outbound {outbound.outbound_id}; tracking {tracking or 'none'}"
                body: dict[str, Any] = {"Comment": tagged_comment(order.get("Comment"), line)}
                if shipped_at is not None:
                    body["SalesOrderShippingDetail"] = {"ShippingDate": shipped_at.isoformat()}
                _update_order(ctx.wawi, record.wawi_order_id, body)
            except ClientError as exc:
                order = {}
                out.append(Outcome(number, record.wawi_order_id, "writeback_failed", str(exc)))
                ledger.add("writeback_failed", order_number=number, detail={"error": str(exc)[:2000]})
            ledger.add(
                "shipped",
                order_number=number,
                status="shipped",
                tracking=tracking,
                detail={"outbound_id": outbound.outbound_id, "tracking": trackings, "tracking_urls": urls},
            )
            if ctx.notifier is not None:
                email, customer = _customer(order)
                ctx.notifier.event(
                    f"order:{number}:shipped",
                    {
                        "event": "order.shipped",
                        "order_number": number,
                        "wawi_order_id": record.wawi_order_id,
                        "outbound_id": outbound.outbound_id,
                        "tracking": trackings,
                        "tracking_urls": urls,
                    },
                    recipient=email if ctx.params.notify_customers else None,
                    subject=ctx.params.shipped_subject.format(order_number=number),
                    markdown=shipped_markdown(number, customer, trackings, urls),
                )
    finally:
        ledger.flush()
    return out, _iso(now)


def shipped_markdown(number: str, customer: str | None, trackings: Sequence[str], urls: Sequence[str]) -> str:
    """The customer's shipping notice with tracking numbers and links."""
    lines = [f"Hello {customer}," if customer else "Hello,", "", f"your order **{number}** has shipped.", ""]
    lines += [f"- Tracking number: {t}" for t in trackings] or ["- (no tracking number was reported)"]
    lines += [f"- Track it: <{u}>" for u in urls]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Stage 6: finish and report
# --------------------------------------------------------------------------------------------------


def finish(
    store: StateStore, batch: ImportedBatch, ffn_watermark: str | None, *, dry_run: bool
) -> dict[str, str]:
    """Advance both watermarks: only called once every chunk of the batch is recorded."""
    if dry_run:
        return {}
    marks = {WAWI_WATERMARK: store.advance_watermark(WAWI_WATERMARK, batch.next_watermark)}
    if ffn_watermark is not None:
        marks[FFN_WATERMARK] = store.advance_watermark(FFN_WATERMARK, ffn_watermark)
    return marks


COUNT_KEYS = (
    "created",
    "adopted",
    "held",
    "released",
    "failed",
    "shipped",
    "on_hold_wawi",
    "skipped_existing",
    "skipped_delivered",
    "writeback_failed",
)


def outcomes_table(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """One row per outcome (an order may have two: released and created)."""
    return pd.DataFrame(
        {
            "order_id": pd.array([o.order_id for o in outcomes], dtype="Int64"),
            "order_number": pd.array([o.order_number for o in outcomes], dtype="string"),
            "outcome": pd.array([o.outcome for o in outcomes], dtype="string"),
            "reason": pd.array(
                [o.reason if o.outcome in ("held", "failed", "on_hold_wawi") else None for o in outcomes],
                dtype="string",
            ),
            "codes": [", ".join(o.codes) for o in outcomes],
        }
    )


def summary(outcomes: Sequence[Outcome], *, dry_run: bool = False, **extra: Any) -> dict[str, Any]:
    """Counts per outcome, held orders per reason code, and the held/failed orders themselves."""
    table = outcomes_table(outcomes)
    base = summarise(table)
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts.update(base["counts"])
    by_reason: Counter[str] = Counter()
    for o in outcomes:
        if o.outcome == "held":
            by_reason[o.codes[0] if o.codes else "unknown"] += 1
    codes = {o.order_number: ", ".join(o.codes) for o in outcomes if o.codes}
    held = [{**row, "codes": codes.get(row["order_number"], "")} for row in base["held"]]
    return {
        "counts": counts,
        "held_by_reason": dict(sorted(by_reason.items())),
        "held": held,
        "dry_run": dry_run,
        **extra,
    }


def summary_markdown(result: Mapping[str, Any]) -> str:
    """The run's markdown artifact."""
    lines = ["# Order processing", ""]
    if result.get("dry_run"):
        lines += ["_Dry run: nothing was written (no Wawi change, no outbound, no ledger, no message)._", ""]
    if result.get("skipped"):
        return "\n".join([*lines, f"Skipped: {result['skipped']}"])
    if result.get("window_start"):
        lines += [f"Orders created since {result['window_start']}.", ""]
    lines += ["| outcome | orders |", "|---|---:|"]
    lines += [f"| {k} | {v:,} |" for k, v in result["counts"].items()]
    if result.get("held_by_reason"):
        lines += ["", "| held because | orders |", "|---|---:|"]
        lines += [f"| {k} | {v:,} |" for k, v in result["held_by_reason"].items()]
    held = result.get("held") or []
    if held:
        lines += [
            "",
            f"## Held or failed orders ({len(held):,})",
            "",
            "| order | outcome | reason |",
            "|---|---|---|",
        ]
        for row in held[:50]:
            reason = str(row.get("reason") or "").replace("|", "/")[:300]
            lines.append(f"| {row.get('order_number')} | {row.get('outcome')} | {reason} |")
        if len(held) > 50:
            lines.append(f"| … | | {len(held) - 50:,} more in the table artifact |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Everything in order, without Prefect (tests, benchmark)
# --------------------------------------------------------------------------------------------------


def run_order_processing(
    wawi: WawiClient,
    ffn: FfnClient,
    store: StateStore,
    params: OrderProcessingParams | None = None,
    *,
    since: datetime | None = None,
    dry_run: bool = False,
    run_id: str = "local",
    notifier: Notifier | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The whole run as the flow does it, with a thread pool in place of the task runner."""
    params = params or OrderProcessingParams()
    started = time.perf_counter()
    if not dry_run and not store.acquire_lease(LEASE_NAME, run_id, timedelta(minutes=params.lease_minutes)):
        return {"skipped": "another run holds the lease", "counts": {}, "dry_run": dry_run}
    try:
        batch = import_orders(wawi, store, params, since=since, now=now, dry_run=dry_run, run_id=run_id)
        data = load_fulfilment_data(ffn, wawi, params, batch)
        plan = plan_orders(batch, data, params)
        ctx = Context(
            wawi,
            ffn,
            store,
            params,
            run_id,
            dry_run,
            notifier,
            data.hold_reasons,
            lease_owner=None if dry_run else run_id,
        )
        outcomes = list(batch.outcomes)
        apply = _in_context(lambda chunk: apply_actions(ctx, chunk))
        with ThreadPoolExecutor(max_workers=params.workers, thread_name_prefix="orders-chunk") as pool:
            futures = [pool.submit(apply, chunk) for chunk in plan.chunks(params.chunk_size)]
            try:
                for future in futures:
                    outcomes.extend(future.result())
            except BaseException:
                for future in futures:  # chunks not started yet stay undone; the next run picks them up
                    future.cancel()
                raise
        shipped, mark = sync_shipments(ctx, start=batch.window_start, now=batch.started_at)
        outcomes.extend(shipped)
        finish(store, batch, mark, dry_run=dry_run)
    finally:
        if not dry_run:
            store.release_lease(LEASE_NAME, run_id)
    return summary(
        outcomes,
        dry_run=dry_run,
        window_start=_iso(batch.window_start),
        seconds=round(time.perf_counter() - started, 3),
    )


__all__ = [
    "Action",
    "ConfigurationError",
    "Context",
    "FulfilmentData",
    "ImportedBatch",
    "LeaseLost",
    "Notifier",
    "OrderProcessingParams",
    "Outcome",
    "Plan",
    "apply_actions",
    "finish",
    "import_orders",
    "load_fulfilment_data",
    "plan_orders",
    "run_order_processing",
    "summary",
    "summary_markdown",
    "sync_shipments",
]
