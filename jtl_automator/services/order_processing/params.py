"""What the merchant configures for order processing, and the names every stage shares."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jtl_automator.clients.ffn.models import ShippingType
from jtl_automator.transforms.allocation import INSUFFICIENT_STOCK, AllocationParams
from jtl_automator.transforms.orders_rules import FailureCode, ValidationParams

LEASE_NAME = "order-processing"
WAWI_WATERMARK = "orders:wawi"
FFN_WATERMARK = "orders:ffn-updates"
#: Our one line in a Wawi order's Comment starts with this; a hold without it is a person's hold.
TAG = "[jtl-automator]"
# Ledger statuses: finished orders are skipped, open ones are read again every run.
#: An order the ledger had open that Wawi then delivered completely another way (shipped by hand).
DELIVERED_ELSEWHERE = "delivered_elsewhere"
SKIP_STATUSES = frozenset({"outbound_created", "shipped", "cancelled", DELIVERED_ELSEWHERE})
OPEN_STATUSES = ("imported", "held", "released", "failed", "on_hold_wawi")
#: Listed again every run too: an outbound not shipped yet may still have to follow a change in Wawi.
WATCH_STATUSES = (*OPEN_STATUSES, "outbound_created")

DEFAULT_HOLD_REASONS: dict[str, int | str] = {
    INSUFFICIENT_STOCK: "Warte auf Ware",
    FailureCode.PAYMENT_NOT_CLEARED.value: "Zahlung ausstehend",
    "*": "Adresse prüfen",
}


class ConfigurationError(ValueError):
    """A setting does not fit the systems (e.g. an on-hold reason name Wawi does not know): stop the run."""


class OrderProcessingParams(BaseModel):
    """What the merchant configures; every field has a default that works against the sandbox.

    ``on_hold_reasons`` maps a failure code (``ADDRESS_INCOMPLETE`` …), ``insufficient_stock`` or ``*``
    (everything else) to a Wawi on-hold reason, by Id or by Name (looked up in ``/v1/onHoldReasons``).
    ``partial_delivery`` decides about orders of which Wawi delivered some units another way (the lines'
    ``QuantityDelivered``): ``ship_open`` sends FFN only the open quantity per line, ``hold`` holds them.
    ``shipping_method_map`` maps a Wawi ShippingMethodId to an FFN shippingMethodId; unmapped methods go
    out as ``default_shipping_type``. ``default_warehouse_id`` heads the allocation's warehouse priority.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    chunk_size: int = Field(
        default=25,
        ge=1,
        le=5000,
        description="Orders per chunk (a task of the flow, one ledger write per event): small enough that "
        "the last chunks do not leave the workers idle (docs/latency.md).",
    )
    workers: int = Field(
        default=8,
        ge=1,
        le=32,
        description="Chunks and line-item reads in parallel: more than the Wawi requests on the wire "
        "(JTL_WAWI_MAX_IN_FLIGHT), so the FFN half of each order overlaps the Wawi half of others.",
    )
    lookback_days: float = Field(default=7.0, gt=0, description="First run: orders created since then.")
    max_lookback_days: float = Field(default=30.0, gt=0, description="Held orders are re-read this far back.")
    overlap_minutes: float = Field(default=10.0, ge=0, description="Watermarks stay this far behind 'now'.")
    lease_ttl_seconds: float = Field(
        default=120.0, ge=10, description="A run's lease lasts this long unless its heartbeat renews it."
    )
    lease_heartbeat_seconds: float = Field(default=30.0, gt=0, description="How often a live run renews.")
    lease_alert_minutes: float = Field(
        default=15.0, gt=0, description="A run skipped for a lease held longer than this alerts."
    )
    validation: ValidationParams = ValidationParams()
    allocation: AllocationParams = AllocationParams()
    default_warehouse_id: str | None = None
    shipping_method_map: dict[int, str] = Field(default_factory=dict)
    default_shipping_type: ShippingType = "Standard"
    on_hold_reasons: dict[str, int | str] = Field(default_factory=lambda: dict(DEFAULT_HOLD_REASONS))
    partial_delivery: Literal["ship_open", "hold"] = Field(
        default="ship_open",
        description="An order with lines already (partly) delivered: send only what is still open to FFN, "
        "or hold it (PARTIALLY_DELIVERED) for a person.",
    )
    hold_release_value: Literal[0] | None = Field(
        default=0,
        description="What releases a Wawi hold: OnHoldReasonId 0 (default: a PATCH binder that ignores "
        "nulls keeps a hold sent as null) or null (for a Wawi that clears fields sent as null). The spec "
        "documents neither; every release is checked in Wawi's answer.",
    )
    time_budget_seconds: float | None = Field(
        default=480.0,
        gt=0,
        description="A run starts no order after this many seconds, so it ends before the next schedule "
        "(every 10 minutes) and hands the rest over; None: no budget (docs/latency.md).",
    )
    import_budget_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of the time budget the import may spend reading line items (one Wawi GET per "
        "order); the orders it did not reach are handed over, so every run leaves time to fulfil.",
    )
    notify_customers: bool = Field(default=True, description="Confirmation and shipping e-mails.")
    confirmation_subject: str = "Your order {order_number} is on its way to the warehouse"
    shipped_subject: str = "Your order {order_number} has shipped"

    @model_validator(mode="after")
    def _has_default_reason(self) -> OrderProcessingParams:
        if "*" not in self.on_hold_reasons:
            raise ValueError("on_hold_reasons needs a '*' entry (the reason for everything not listed)")
        if self.lease_heartbeat_seconds >= self.lease_ttl_seconds:
            raise ValueError("lease_heartbeat_seconds must be shorter than lease_ttl_seconds")
        return self

    def deadlines(self, started: float) -> tuple[float | None, float | None]:
        """(import deadline, run deadline) on the monotonic clock, for a run that started at ``started``."""
        budget = self.time_budget_seconds
        if budget is None:
            return None, None
        return started + budget * self.import_budget_share, started + budget

    def allocation_params(self) -> AllocationParams:
        """The allocation rule with the default warehouse at the head of the priority list."""
        if not self.default_warehouse_id:
            return self.allocation
        rest = tuple(w for w in self.allocation.warehouse_priority if w != self.default_warehouse_id)
        return self.allocation.model_copy(update={"warehouse_priority": (self.default_warehouse_id, *rest)})
