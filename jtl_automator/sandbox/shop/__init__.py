"""JTL-Shop 5.4.0 emulator: the storefront under ``/shop`` and its read-only REST API under ``/shop/api/v1``.

Faithful to jtl-shop-rest.md (read from the 5.4.0 source); where that is silent the behaviour is a knob
of :class:`~jtl_automator.sandbox.config.SandboxConfig` (``shop_*``) whose strict value is the strictest
plausible one. ``world`` mirrors the shop from the sandbox's Wawi (same SKUs, stock, prices per customer
group, orders by external number) with configurable drift; ``api`` serves it; ``encoding`` writes JSON,
dates and ids as PHP does. There is no write-enabled mode: 5.4.0 has none, so it would be an invention.

Test hooks (under ``/_sandbox/shop``, outside the fault middleware): add or change an API key
(``PUT /keys/{key}`` with ``{"permissions": 1}``), revoke one (``DELETE /keys/{key}``), re-mirror the shop
from Wawi as it is now (``POST /resync``, ``?drift=false`` as if the sync had caught up) and read what
differs on purpose (``GET /drift``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException

from jtl_automator.sandbox.routing import bound_route_class
from jtl_automator.sandbox.shop.api import (
    API_ROOT,
    MISSING_KEY,
    NO_PERMISSION,
    NOT_FOUND_TEXT,
    ROOT,
    build_router,
    grant_key,
    resync,
    revoke_key,
    shop_data,
)
from jtl_automator.sandbox.shop.world import build_shop
from jtl_automator.sandbox.state import SandboxState, StateDep

_BODY = Body(default=None)

__all__ = [
    "API_ROOT",
    "MISSING_KEY",
    "NOT_FOUND_TEXT",
    "NO_PERMISSION",
    "ROOT",
    "build_admin_router",
    "build_router",
    "build_shop",
    "grant_key",
    "resync",
    "revoke_key",
    "shop_data",
]


async def _put_key(key: str, state: StateDep, body: Any = _BODY) -> dict[str, Any]:
    permissions = body.get("permissions") if isinstance(body, dict) else None
    if not isinstance(permissions, int) or isinstance(permissions, bool) or not 0 <= permissions <= 15:
        raise HTTPException(400, 'body must be {"permissions": 0..15} (GET 1, POST 2, PUT 4, DELETE 8)')
    grant_key(state, key, permissions)
    return {"permissions": permissions}


async def _delete_key(key: str, state: StateDep) -> dict[str, Any]:
    if not revoke_key(state, key):
        raise HTTPException(404, "no such key")
    return {"revoked": True}


async def _resync(state: StateDep, drift: bool = True) -> dict[str, Any]:
    shop = resync(state, drift=drift)
    return {"products": len(shop.products), "orders": len(shop.orders), "drift": shop.drift}


async def _drift(state: StateDep) -> dict[str, Any]:
    return {"warehouses": shop_data(state).warehouse_ids, "drift": shop_data(state).drift}


def build_admin_router(state: SandboxState) -> APIRouter:
    """The shop's test hooks under ``/_sandbox/shop``."""
    router = APIRouter(prefix="/_sandbox/shop", tags=["sandbox"], route_class=bound_route_class(state))
    router.add_api_route("/keys/{key}", _put_key, methods=["PUT"])
    router.add_api_route("/keys/{key}", _delete_key, methods=["DELETE"])
    router.add_api_route("/resync", _resync, methods=["POST"])
    router.add_api_route("/drift", _drift, methods=["GET"])
    return router
