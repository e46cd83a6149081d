"""What the merchant configures for a pricing run (beside the rule file), and the names the stages share."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from jtl_automator.transforms.pricing import PricingRules
from jtl_automator.yaml_config import ConfigFileError, load_yaml_model

LEASE_NAME = "pricing"
#: Kind of the price writes in the state store's side-effect ledger.
LEDGER_KIND = "price"
#: The plan kinds the pricing flow proposes and executes (registered in ``jtl_automator.plans.model``).
PRICE_CHANGE = "price_change"
MARKDOWN = "markdown"
#: Where the rule file is looked for when none is named (relative to the working directory).
DEFAULT_RULES_FILE = "config/pricing.yaml"
#: Who the run is when it cancels a superseded draft or creates a plan.
RUN_PERSON = "pricing"


class PricingParams(BaseModel):
    """One run's settings; every field has a default that works against the sandbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    company_id: int | None = Field(
        default=None, description="Wawi company whose tax rates apply (default: the first Wawi lists)."
    )
    departure_country: str = Field(default="DE", min_length=2, max_length=3, description="Ships from (ISO).")
    shipment_country: str = Field(
        default="DE",
        min_length=2,
        max_length=3,
        description="The customers' country the gross prices are for.",
    )
    include_inactive: bool = Field(default=False, description="Also price items that are not active.")
    item_cache_max_age_hours: float = Field(
        default=24, gt=0, description="Cached item suppliers are read again when this old."
    )
    workers: int = Field(
        default=8,
        ge=1,
        le=32,
        description="Price writes in progress at once; JTL_WAWI_MAX_IN_FLIGHT bounds how many are on the "
        "wire, the others record theirs meanwhile, so Wawi's workers never wait for the state database.",
    )
    table_rows: int = Field(default=200, ge=1, description="Rows of the tables in the result and artifacts.")
    output_dir: str = Field(default="out/pricing", description="Where the workbook goes without --output.")
    lease_ttl_seconds: float = Field(default=180, gt=0, description="The run's lease: time to live.")
    lease_heartbeat_seconds: float = Field(default=45, gt=0, description="The run's lease: heartbeat.")


def load_rules(path: str | Path | None) -> PricingRules:
    """The rule file (default ``config/pricing.yaml``); a mistake raises ``ConfigFileError`` with its line."""
    chosen = Path(path or DEFAULT_RULES_FILE)
    if path is None and not chosen.exists():
        raise ConfigFileError(
            str(chosen),
            [f"{chosen}: no rule file; copy config/pricing.example.yaml there and adapt it, or name one"],
        )
    return load_yaml_model(chosen, PricingRules)
