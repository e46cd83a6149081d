"""What the merchant configures for the product enrichment, and the names the stages share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jtl_automator.services.wawi_item_cache import DEFAULT_MAX_AGE_HOURS
from jtl_automator.transforms.product_enrichment import EnrichmentRules
from jtl_automator.transforms.product_quality import Plausibility

#: Ledger kinds: one key per item, field and value filled; one per item and category assigned.
FILL_KIND = "product-fill"
CATEGORY_KIND = "category-assignment"
LEASE_NAME = "product-enrichment"
#: Watermark prefix of a feed's fingerprint (``only_if_changed``): ``product-enrichment:feed:<supplier>``.
FEED_MARK = "product-enrichment:feed"
#: Items per ``POST /categories/{id}/items``.
ASSIGN_CHUNK = 200


class ProductEnrichmentParams(BaseModel):
    """One run's settings (flow parameter ``params``); the feed, supplier and rule file are their own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mapping_file: str = Field(
        default="config/feed-mappings.yaml",
        description="The supplier feeds' column mappings (YAML), relative to the project folder.",
    )
    rules: EnrichmentRules = Field(
        default_factory=EnrichmentRules, description="Fields the feed may fill, and when it may overwrite."
    )
    plausibility: Plausibility = Field(default_factory=Plausibility)
    quality: bool = Field(default=True, description="Write the data quality report.")
    check_images: bool = Field(
        default=True, description="Quality: read each item's images (one request per item and run)."
    )
    workers: int = Field(default=4, ge=1, le=16, description="Items written or read at once.")
    resend_max: int = Field(default=2, ge=1, le=5, description="Sends of one write after lost answers.")
    item_cache_max_age_hours: float = Field(default=DEFAULT_MAX_AGE_HOURS, gt=0)
    output_dir: str = Field(default="out/product-enrichment", description="Where the workbook goes.")
    table_rows: int = Field(default=200, ge=1, description="Rows of each table artifact.")
    lease_ttl_seconds: float = Field(default=120, gt=0)
    lease_heartbeat_seconds: float = Field(default=30, gt=0)
