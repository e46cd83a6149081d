"""What the merchant configures for the stock sync, and the names every stage shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

LEASE_NAME = "stock-sync"
WATERMARK = "stock-sync:ffn-updates"
#: Kind of the intent rows in the state store's side-effect ledger.
KIND = "stock-adjustment"


class StockSyncParams(BaseModel):
    """What the merchant configures; every field has a default that works against the sandbox.

    ``warehouse_map`` maps an FFN warehouseId to a Wawi warehouse Id; FFN warehouses not listed are matched
    to the Wawi warehouse whose ``Code`` is the FFN id.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse_map: dict[str, int] = Field(
        default_factory=dict, description="FFN warehouseId -> Wawi warehouse Id (default: by Wawi Code)."
    )
    max_level: float = Field(
        default=1_000_000, gt=0, description="An FFN stock level above this is refused as absurd."
    )
    overlap_minutes: float = Field(
        default=10.0, ge=0, description="Incremental: the feed is read again from this far before the mark."
    )
    per_item_reads_max: int = Field(
        default=200,
        ge=0,
        description="Incremental: up to this many changed items, Wawi stock is read per item; above it, "
        "all stock rows are listed (fewer requests).",
    )
    item_cache_max_age_hours: float = Field(
        default=24.0,
        gt=0,
        description="Incremental: Wawi items (SKU -> item, inventory management) come from the state "
        "database's item cache, refreshed with changedSince every run and listed in full when this old "
        "(the nightly full run lists them anyway).",
    )
    workers: int = Field(
        default=8,
        ge=1,
        le=32,
        description="Adjustments in progress at once (one intent per warehouse and item: independent); "
        "JTL_WAWI_MAX_IN_FLIGHT bounds how many are on the wire, the others record theirs meanwhile, so "
        "Wawi's workers never wait for the state database (docs/latency.md).",
    )
    resend_max: int = Field(default=3, ge=1, le=10, description="Sends of one adjustment after lost answers.")
    largest_count: int = Field(default=20, ge=1, description="Rows of the 'largest deltas' table.")
    comment: str = Field(default="jtl-automator stock sync", description="Comment on each Wawi adjustment.")
    disable_workflows: bool = Field(
        default=True, description="Send ?disableAutomaticWorkflows=true (a sync is not a stock event)."
    )
    lease_ttl_seconds: float = Field(default=120.0, ge=10)
    lease_heartbeat_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _heartbeat_below_ttl(self) -> StockSyncParams:
        if self.lease_heartbeat_seconds >= self.lease_ttl_seconds:
            raise ValueError("lease_heartbeat_seconds must be shorter than lease_ttl_seconds")
        return self
