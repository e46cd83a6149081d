"""The state database: what the flows must remember between runs (tokens, watermarks, ledgers, results)."""

from jtl_automator.store.models import Base
from jtl_automator.store.store import (
    ORDER_LINES_MARK,
    WATERMARK_VALUE_LENGTH,
    CachedItem,
    Claim,
    ClaimState,
    KpiRecord,
    KpiValue,
    OrderLine,
    PriceChange,
    SchemaTooNew,
    StateStore,
    TokenRecord,
    iso,
    open_store,
    parse_iso,
)

__all__ = [
    "ORDER_LINES_MARK",
    "WATERMARK_VALUE_LENGTH",
    "Base",
    "CachedItem",
    "Claim",
    "ClaimState",
    "KpiRecord",
    "KpiValue",
    "OrderLine",
    "PriceChange",
    "SchemaTooNew",
    "StateStore",
    "TokenRecord",
    "iso",
    "open_store",
    "parse_iso",
]
