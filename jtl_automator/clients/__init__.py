"""HTTP clients for JTL-FFN, JTL-Wawi and JTL-Shop (read-only): typed errors, lazy pagination, lookups.

Retries and rate limits come from :mod:`jtl_automator.resilience`.

Prefect-free; the blocks in ``blocks/`` only build these from stored credentials.
"""

from jtl_automator.clients.errors import (
    AuthError,
    ClientError,
    Conflict,
    ForbiddenError,
    JtlApiError,
    LicenseError,
    NotFound,
    PaginationLoopError,
    RateLimited,
    RegistrationError,
    RetryableError,
    TransientError,
    ValidationFailed,
)
from jtl_automator.clients.ffn import FfnClient, FfnTokenManager
from jtl_automator.clients.shop import ShopClient
from jtl_automator.clients.wawi import WawiClient, register_app

__all__ = [
    "AuthError",
    "ClientError",
    "Conflict",
    "FfnClient",
    "FfnTokenManager",
    "ForbiddenError",
    "JtlApiError",
    "LicenseError",
    "NotFound",
    "PaginationLoopError",
    "RateLimited",
    "RegistrationError",
    "RetryableError",
    "ShopClient",
    "TransientError",
    "ValidationFailed",
    "WawiClient",
    "register_app",
]
