"""HTTP clients for JTL-FFN and JTL-Wawi: one retry policy, rate limiter, typed errors, lazy pagination.

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
from jtl_automator.clients.http import (
    CorrelationIdFilter,
    RateLimiter,
    RequestStats,
    RetryPolicy,
    correlation_id,
)
from jtl_automator.clients.wawi import WawiClient, register_app

__all__ = [
    "AuthError",
    "ClientError",
    "Conflict",
    "CorrelationIdFilter",
    "FfnClient",
    "FfnTokenManager",
    "ForbiddenError",
    "JtlApiError",
    "LicenseError",
    "NotFound",
    "PaginationLoopError",
    "RateLimited",
    "RateLimiter",
    "RegistrationError",
    "RequestStats",
    "RetryPolicy",
    "RetryableError",
    "TransientError",
    "ValidationFailed",
    "WawiClient",
    "correlation_id",
    "register_app",
]
