"""What the merchant configures for executing approved plans, and the names every stage shares."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LEASE_NAME = "plan-execution"
#: Kinds of the rows in the state store's side-effect ledger.
PURCHASE_ORDER_KIND = "purchase_order"
SUPPLIER_EMAIL_KIND = "supplier_email"
INBOUND_KIND = "ffn_inbound"
#: A movement plan's shipment as first made (items, addresses), and the document of an exported one.
SHIPMENT_KIND = "plan_shipment"
EXPORT_KIND = "plan_export"
#: The plan kinds this executor carries out: restock (the replenishment job proposes these) and the
#: movement kinds the declarative workflows fill.
RESTOCK = "restock"
REBALANCE = "rebalance"
SUPPLIER_RETURN = "supplier_return"
SUPPLIER_EXCHANGE = "supplier_exchange"
MOVEMENT_KINDS = (REBALANCE, SUPPLIER_RETURN, SUPPLIER_EXCHANGE)
EXECUTED_KINDS = (RESTOCK, *MOVEMENT_KINDS)
_PREFIX: dict[str, Any] = {"min_length": 1, "max_length": 20, "pattern": r"^[A-Za-z0-9]+$"}


class PlanExecutionParams(BaseModel):
    """What the merchant configures; every field has a default that works against the sandbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    po_prefix: str = Field(
        default="PO",
        min_length=1,
        max_length=20,
        pattern=r"^[A-Za-z0-9]+$",
        description="Purchase order numbers are PREFIX-PLAN-SUPPLIER (e.g. PO-7-L10001).",
    )
    default_lead_time_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="Days from ordering to delivery when no line says otherwise (details.lead_time_days).",
    )
    timezone: str = Field(default="Europe/Berlin", description="Whose calendar day the order date is.")
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    send_email: bool = Field(
        default=True,
        description="E-mail the purchase order to the supplier (off: the merchant sends it from Wawi).",
    )
    wawi_purchase_orders: bool = Field(
        default=False,
        description="Also create the purchase order in Wawi (API v2 /v2/purchase-orders, Wawi 2.x); "
        "off: it is recorded in the state database only.",
    )
    email_subject: dict[str, str] = Field(
        default_factory=lambda: {"de": "Bestellung {number}", "en": "Purchase order {number}"},
        description="Subject per supplier language ({number} is the purchase order number).",
    )
    buyer_name: str = Field(default="", description="Who signs the purchase order (default: the sender).")
    transfer_prefix: str = Field(
        default="TR", **_PREFIX, description="Rebalance shipments: TR-PLAN-FROM-TO (outbound and inbound)."
    )
    return_prefix: str = Field(
        default="RT", **_PREFIX, description="Supplier returns: RT-PLAN-SUPPLIER-WAREHOUSE (outbound)."
    )
    exchange_prefix: str = Field(
        default="EX",
        **_PREFIX,
        description="Supplier exchanges: EX-PLAN-SUPPLIER-WAREHOUSE (outbound, inbound expected back).",
    )
    movement_shipping_type: Literal["Standard", "Expedited", "NextDay", "SecondDay", "SameDay"] = Field(
        default="Standard",
        description="FFN shippingType of the outbounds of rebalance and supplier plans (the fulfiller picks "
        "the carrier; such a parcel has no shop shipping method).",
    )
    export_dir: str = Field(
        default="plan-exports",
        min_length=1,
        description="Where a movement plan FFN cannot carry out (a supplier without address in Wawi) is "
        "written as an .xlsx for a person to act on.",
    )
    lease_ttl_seconds: float = Field(default=120.0, ge=10)
    lease_heartbeat_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _heartbeat_below_ttl(self) -> PlanExecutionParams:
        if self.lease_heartbeat_seconds >= self.lease_ttl_seconds:
            raise ValueError("lease_heartbeat_seconds must be shorter than lease_ttl_seconds")
        return self
