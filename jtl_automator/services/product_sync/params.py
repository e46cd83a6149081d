"""What the merchant configures for the product sync, and the names every stage shares."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jtl_automator.transforms.product_sync import FulfilmentRule, ProductPlanParams

LEASE_NAME = "product-sync"
#: The Wawi ``changedSince`` mark: the start of the last run's window.
WATERMARK = "product-sync:wawi-items"
#: Kinds of the state store's side-effect ledger rows: one per created product (key: its merchantSku), one
#: per product and fulfiller authorised.
KIND = "ffn-product"
AUTH_KIND = "ffn-product-authorization"
#: The supplier fields the bundles need (rows cached without them are read again).
PACKAGING_FIELDS = ("PackagingUnit", "AmountPackagingUnit")
#: Default chunking: about this many chunks of items to read, each of at least / at most so many items.
CHUNKS = 40
CHUNK_MIN = 5
CHUNK_MAX = 1000


def creation_key(merchant_sku: str) -> str:
    """The ledger key of creating the product of this merchantSku (at most once, whatever happens)."""
    return f"{KIND}:{merchant_sku}"


def authorization_key(jfsku: str, fulfiller_id: str) -> str:
    """The ledger key of authorising one product for one fulfiller."""
    return f"{AUTH_KIND}:{jfsku}:{fulfiller_id}"


class ProductSyncParams(BaseModel):
    """What the merchant configures; every field has a default that works against the sandbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: FulfilmentRule = Field(
        default_factory=FulfilmentRule,
        description="Which Wawi items FFN fulfils: all active ones with inventory management (default), "
        "those in categories, or those with a property.",
    )
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="Currency of netRetailPrice.")
    max_weight_kg: float = Field(default=1000.0, gt=0, description="A weight above this is refused.")
    max_dimension_cm: float = Field(default=500.0, gt=0, description="A side longer than this is refused.")
    max_price: float = Field(default=1_000_000.0, gt=0, description="A net price above this is refused.")
    packaging_units: bool = Field(
        default=True,
        description="Sync bundles from the item suppliers' packaging units (GET /items/{id}/suppliers, kept "
        "in the item cache).",
    )
    packaging_max_age_hours: float = Field(
        default=168.0,
        gt=0,
        description="Supplier rows of an unchanged item are read again when this old (a changed item's at "
        "once).",
    )
    authorize_fulfillers: tuple[str, ...] | None = Field(
        default=None,
        description="Fulfillers a new product is authorised for; None: those of the merchant's FFN "
        "warehouses; (): none.",
    )
    overlap_minutes: float = Field(
        default=10.0, ge=0, description="Incremental: changedSince starts this far before the watermark."
    )
    workers: int = Field(
        default=8,
        ge=1,
        le=32,
        description="Products written (and item suppliers read) at once; the clients' in-flight limits "
        "(JTL_FFN_MAX_IN_FLIGHT, JTL_WAWI_MAX_IN_FLIGHT) bound how many are on the wire.",
    )
    chunk_items: int | None = Field(
        default=None,
        ge=1,
        description="Items whose supplier rows are read, then planned and written to FFN while the next "
        "chunk is read; None: about a 40th of the items to read (5 to 1,000).",
    )
    first_rows: int = Field(default=20, ge=1, description="Rows per table in the summary artifact.")
    output_dir: str = Field(
        default="out/product-sync", description="Where the dry run's diff workbook goes without --output."
    )
    lease_ttl_seconds: float = Field(default=120.0, ge=10)
    lease_heartbeat_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _heartbeat_below_ttl(self) -> ProductSyncParams:
        if self.lease_heartbeat_seconds >= self.lease_ttl_seconds:
            raise ValueError("lease_heartbeat_seconds must be shorter than lease_ttl_seconds")
        return self

    def plan_params(self, *, full: bool) -> ProductPlanParams:
        """The transform's parameters for a run that read everything (``full``) or the changes only."""
        return ProductPlanParams(
            rule=self.rule,
            currency=self.currency,
            max_weight_kg=self.max_weight_kg,
            max_dimension_cm=self.max_dimension_cm,
            max_price=self.max_price,
            packaging_units=self.packaging_units,
            full=full,
        )


def chunk_size(to_read: int, params: ProductSyncParams) -> int:
    """Items per chunk: ``params.chunk_items``, else about a 40th of ``to_read`` (5 to 1,000)."""
    if params.chunk_items is not None:
        return params.chunk_items
    return min(CHUNK_MAX, max(CHUNK_MIN, math.ceil(to_read / CHUNKS)))
