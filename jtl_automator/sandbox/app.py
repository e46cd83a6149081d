"""Assembles the sandbox: one ASGI app serving all emulated APIs on one port.

URL layout (what ``--credentials-out`` points the clients at):
- ``/api/v1/merchant/...`` and ``/api/v1/users/current``: JTL-FFN merchant API (base ``/api``)
- ``/oauth2/authorize`` and ``/oauth2/token``: the FFN OAuth2 server
- ``/wawi/api/eazybusiness/v1/...`` (and ``/authentication``): JTL-Wawi REST API, on-premise
- ``/wawi/cloud/erp/...`` and ``/wawi/cloud/oauth2/token``: the same API in its Cloud flavour
- ``/sheets/v4/spreadsheets/...`` and ``/sheets/token``: Google Sheets v4 values API and its token endpoint
- ``/shop/api/v1/...``: JTL-Shop 5.4 REST API (read-only), and ``/shop/...``: its storefront (HTML)
- ``/_sandbox/...``: test hooks (fulfiller actions, registration approval, fault switches)

``SandboxState`` lives in :mod:`jtl_automator.sandbox.state`; it is re-exported here because tests and
benchmarks import it from this module.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

from jtl_automator.sandbox import admin, faults, ffn, latency, oauth, sheets, shop, wawi
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
    app.include_router(shop.build_router(state))
    app.include_router(shop.build_admin_router(state))
    app.add_exception_handler(HTTPException, unrouted)
    latency.install(app, state)
    faults.install(app, state)
    return app


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


async def unrouted(request: Request, exc: Exception) -> Response:
    """404/405 from routing in the body of the API the path belongs to (FFN, Wawi), not ``{"detail"}``.

    The sandbox's hooks, Sheets and OAuth keep FastAPI's body, as do their own ``HTTPException``s.
    """
    assert isinstance(exc, HTTPException)
    path, allow = request.url.path, (exc.headers or {}).get("Allow")
    if exc.status_code == 405:
        allow = _allowed_methods(request) or allow
    if exc.status_code in (404, 405):
        if path.startswith(ffn.API_ROOT):
            return ffn.unrouted(request.method, path, exc.status_code, allow)
        for root in (wawi.PREFIX, wawi.CLOUD_ROOT):
            if path == root or path.startswith(root + "/"):
                return wawi.unrouted(path, root, exc.status_code, allow)
    return await http_exception_handler(request, exc)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path: Starlette's 405 names only the first route's.

    Asks each top-level route whether it would fully match the request under another method, which
    works whether FastAPI flattens included routers or keeps them as branches.
    """
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            isinstance(route, BaseRoute)
            and route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in routes
        )
    )
