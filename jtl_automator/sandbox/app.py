"""Assembles the sandbox: one ASGI app serving all emulated APIs on one port.

URL layout (what ``--credentials-out`` points the clients at):
- ``/api/v1/merchant/...`` and ``/api/v1/users/current``: JTL-FFN merchant API (base ``/api``)
- ``/oauth2/authorize`` and ``/oauth2/token``: the FFN OAuth2 server
- ``/wawi/api/eazybusiness/v1/...`` (and ``/authentication``): JTL-Wawi REST API, on-premise
- ``/wawi/cloud/erp/...`` and ``/wawi/cloud/oauth2/token``: the same API in its Cloud flavour
- ``/sheets/v4/spreadsheets/...`` and ``/sheets/token``: Google Sheets v4 values API and its token endpoint
- ``/_sandbox/...``: test hooks (fulfiller actions, registration approval, fault switches)

``SandboxState`` lives in :mod:`jtl_automator.sandbox.state`; it is re-exported here because tests and
benchmarks import it from this module.
"""

from __future__ import annotations

from fastapi import FastAPI

from jtl_automator.sandbox import admin, faults, ffn, oauth, sheets, wawi
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData
from jtl_automator.sandbox.state import SandboxState

__all__ = ["SandboxState", "create_app"]


def create_app(data: SandboxData | None = None, config: SandboxConfig | None = None) -> FastAPI:
    """Build the sandbox app; callers keep ``app.state.sandbox`` to inspect or steer it."""
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
