"""Assembles the sandbox: one ASGI app serving all emulated APIs on one port.

URL layout (what ``--credentials-out`` points the clients at):
- ``/api/v1/merchant/...`` and ``/api/v1/users/current``: JTL-FFN merchant API (base ``/api``)
- ``/oauth2/authorize`` and ``/oauth2/token``: the FFN OAuth2 server
- ``/wawi/api/eazybusiness/v1/...`` (and ``/authentication``): JTL-Wawi REST API
- ``/sheets/v4/spreadsheets/...`` and ``/sheets/token``: Google Sheets v4 values API and its token endpoint
- ``/_sandbox/...``: test hooks (fulfiller actions, registration approval, fault switches)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData


@dataclass
class SandboxState:
    """Everything the routers share: the data, the config and per-run bookkeeping of each API."""

    data: SandboxData
    config: SandboxConfig
    runtime: dict[str, Any] = field(default_factory=dict)  # per-API scratch space (tokens, counters)


def create_app(data: SandboxData | None = None, config: SandboxConfig | None = None) -> FastAPI:
    """Build the sandbox app; callers keep ``app.state.sandbox`` to inspect or steer it."""
    from jtl_automator.sandbox import admin, faults, ffn, oauth, sheets, wawi

    state = SandboxState(data=data or SandboxData(), config=config or SandboxConfig())
    app = FastAPI(title="jtl-automator sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state
    app.include_router(oauth.build_router(state))
    app.include_router(ffn.build_router(state))
    app.include_router(wawi.build_router(state))
    app.include_router(sheets.build_router(state))
    app.include_router(admin.build_router(state))
    faults.install(app, state)
    return app
