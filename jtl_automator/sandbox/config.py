"""Knobs of the sandbox: credentials it accepts, token lifetimes, limits, page sizes and faults.

Where the reference documents a behaviour, the sandbox does just that. Where it is silent, the default
here is the lenient reading, and :meth:`SandboxConfig.strictest` switches every such knob to the
strictest plausible one (``jtl-automator sandbox serve --strict``): the flows must pass under both.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass
class SandboxConfig:
    """Defaults mirror the real APIs where the reference documents them (e.g. 1800 s access tokens)."""

    # FFN OAuth2 client registered with the sandbox's authorization server.
    ffn_client_id: str = "sandbox-client"
    ffn_client_secret: str = field(default="sandbox-client-secret", repr=False)
    ffn_initial_refresh_token: str = field(default="def502sandbox-initial-refresh-token", repr=False)
    ffn_scopes: tuple[str, ...] = ("ffn.merchant.read", "ffn.merchant.write")
    access_token_ttl_seconds: int = 1800
    ffn_default_top: int = 50
    ffn_max_top: int = 1000
    ffn_updates_page_size: int = 50

    # Wawi on-premise app registration and API key.
    wawi_api_key: str = field(default="6f1c2d3e-0000-4000-8000-sandboxwawikey", repr=False)
    wawi_app_id: str = "jtl-automator/prefect/v1"
    wawi_app_version: str = "1.0.0"
    wawi_license_ok: bool = True
    wawi_registration_auto_accept: bool = True
    wawi_default_page_size: int = 100
    wawi_max_page_size: int = 1000

    # Google Sheets keeps two per-minute quotas per user, read requests and write requests (60 each by
    # default), each answered past its limit with 429 RESOURCE_EXHAUSTED naming its metric.
    sheets_read_requests_per_minute: int = 60
    sheets_write_requests_per_minute: int = 60
    # When set, both buckets use this limit instead (tests and benchmarks that need headroom or a tiny one).
    sheets_requests_per_minute: int | None = None
    # Google refuses a cell over 50,000 characters (400 INVALID_ARGUMENT, nothing of the request written).
    sheets_max_cell_chars: int = 50_000
    # Bytes of one request body before 400 "Request payload size exceeds the limit" (Google documents no
    # hard limit; 10 MiB is what it answers in practice). None: no limit; strictest: 10 MiB.
    sheets_max_request_bytes: int | None = None

    # True when built by strictest(): every behaviour the reference leaves open is at its strictest.
    strict: bool = False

    # Name of a fault profile from jtl_automator.sandbox.faults.PROFILES (or "none").
    faults: str = "none"
    seed: int = 42
    extra: dict[str, str] = field(default_factory=dict)

    def sheets_quota(self, kind: str) -> int:
        """Requests per minute of the ``read`` or ``write`` bucket."""
        if self.sheets_requests_per_minute is not None:
            return self.sheets_requests_per_minute
        return (
            self.sheets_read_requests_per_minute if kind == "read" else self.sheets_write_requests_per_minute
        )

    @classmethod
    def strictest(cls, **overrides: Any) -> SandboxConfig:
        """Every knob the reference leaves open at its strictest plausible setting (then ``overrides``)."""
        strict: dict[str, Any] = {"sheets_max_request_bytes": SHEETS_REQUEST_LIMIT_BYTES}
        return replace(cls(), strict=True, **{**strict, **overrides})


#: What Google answers "Request payload size exceeds the limit: 10485760 bytes" past.
SHEETS_REQUEST_LIMIT_BYTES = 10_485_760
