"""JTL-FFN merchant API: client, OAuth token manager and models."""

from jtl_automator.clients.ffn.auth import (
    FfnTokenManager,
    InMemoryTokenStore,
    TokenProvider,
    TokenRecord,
    TokenStore,
    authorization_url,
)
from jtl_automator.clients.ffn.client import FfnClient

__all__ = [
    "FfnClient",
    "FfnTokenManager",
    "InMemoryTokenStore",
    "TokenProvider",
    "TokenRecord",
    "TokenStore",
    "authorization_url",
]
