"""What the merchant configures for the shop sync check, and the names the stages share."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jtl_automator.transforms.shop_sync import CANCELLED_OPEN, KINDS, PRICE_DRIFT, STALE_STOCK, STUCK_ORDER

Check = Literal["orders", "stock", "prices"]


class ShopSyncParams(BaseModel):
    """What the merchant configures; every field has a default that works against the sandbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    checks: tuple[Check, ...] = Field(
        default=("orders", "stock", "prices"), description="Which comparisons run (all three by default)."
    )
    order_grace_minutes: float = Field(
        default=30.0, ge=0, description="A shop order Wawi has not pulled after this long is stuck."
    )
    cancelled_grace_minutes: float = Field(
        default=30.0, ge=0, description="A shop-cancelled order still open in Wawi this long is raised."
    )
    stale_stock_minutes: float = Field(
        default=30.0, ge=0, description="A stock difference lasting this long is stale stock (raised)."
    )
    price_drift_minutes: float = Field(
        default=60.0, ge=0, description="A price difference lasting this long is price drift (raised)."
    )
    stock_tolerance: float = Field(default=0.0, ge=0, description="Units the shop and Wawi may differ by.")
    price_tolerance: float = Field(default=0.005, ge=0, description="Net euros the prices may differ by.")
    warehouse_map: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Shop warehouse id -> the Wawi warehouse ids it shows (compared per warehouse too). "
        "Empty: each shop warehouse seen in the products' stock rows is the Wawi warehouse of that id "
        "(Wawi's shop sync keeps Wawi's keys), and only stockQty is compared.",
    )
    sales_channel_id: str | None = Field(
        default=None,
        description="The shop's Wawi sales channel (its prices); default: Wawi's only online-shop channel.",
    )
    group_map: dict[int, int] = Field(
        default_factory=dict, description="Shop customer group id -> Wawi customer group id (default: same)."
    )
    shop_page_size: int | None = Field(
        default=None, ge=1, description="limit of the shop's product and order pages (default: the client's)."
    )
    order_recheck_hours: float = Field(
        default=24.0,
        ge=0,
        description="Orders of this window are read again each run (their pages, not their carts), so an "
        "order the shop cancels after Wawi pulled it is seen. 0: only new orders are read.",
    )
    wawi_lookup_per_number_max: int = Field(
        default=20,
        ge=0,
        description="Up to this many order numbers are looked up in Wawi one request each; more are found "
        "in one listing of Wawi's orders since the oldest of them (the paging bound).",
    )
    wawi_lookup_slack_minutes: float = Field(
        default=60.0, ge=0, description="The listing starts this long before the oldest order's date."
    )
    channel_price_reads_max: int = Field(
        default=1000,
        ge=0,
        description="Wawi has no bulk read of sales-channel prices: at most this many items' prices are "
        "read per run (items whose shop price differs from Wawi's base price and whose cached channel "
        "prices are missing or stale); the rest are reported as not verifiable yet.",
    )
    read_workers: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Independent reads at once: the shop's carts (while the next order page is read) and "
        "Wawi's channel prices. Each client's in-flight limit still caps what reaches its server.",
    )
    channel_price_max_age_hours: float = Field(
        default=24.0, gt=0, description="Cached channel prices older than this are read again when needed."
    )
    oldest_count: int = Field(default=10, ge=1, le=1000, description="Oldest cases shown per kind.")
    alert_kinds: tuple[str, ...] = Field(
        default=KINDS,
        description="Incident kinds that alert (stuck_order, cancelled_open, stale_stock, ...).",
    )

    def thresholds(self) -> dict[str, timedelta]:
        """How long each kind's condition must last before it is raised (stuck orders: at once)."""
        return {
            STUCK_ORDER: timedelta(0),  # the grace period already ran before an order counts as stuck
            CANCELLED_OPEN: timedelta(minutes=self.cancelled_grace_minutes),
            STALE_STOCK: timedelta(minutes=self.stale_stock_minutes),
            PRICE_DRIFT: timedelta(minutes=self.price_drift_minutes),
        }
