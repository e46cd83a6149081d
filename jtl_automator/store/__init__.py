"""The state database: what the flows must remember between runs (tokens, watermarks, ledgers, results)."""

from jtl_automator.store.models import Base
from jtl_automator.store.store import (
    CachedItem,
    Claim,
    ClaimState,
    StateStore,
    TokenRecord,
    iso,
    open_store,
    parse_iso,
)

__all__ = [
    "Base",
    "CachedItem",
    "Claim",
    "ClaimState",
    "StateStore",
    "TokenRecord",
    "iso",
    "open_store",
    "parse_iso",
]
