"""Test hooks under ``/_sandbox``: what a human or the warehouse would do in the real world.

Receiving an inbound, shipping an outbound and adjusting stock stand in for the fulfiller, accepting a
registration for the user clicking "accept" in Wawi, and the fault switch lets a test or the demo turn
chaos on and off while the sandbox runs. Tests may mount this router alone, without the APIs' routers.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from jtl_automator.sandbox import faults, ffn, wawi
from jtl_automator.sandbox.routing import RouteTable, bound_route_class
from jtl_automator.sandbox.state import SandboxState, StateDep


def _quantities(state: SandboxState, inbound_id: str, body: Any) -> dict[str, int]:
    """Accept ``{jfsku: qty}``, ``{"items": [{"jfsku"|"merchantSku", "quantity"}]}`` or nothing (all open)."""
    ffn = state.data.ffn
    if body is None or body == {}:
        inbound = ffn.inbounds.get(inbound_id)
        if inbound is None:
            raise HTTPException(404, f"inbound {inbound_id} not found")
        result: dict[str, int] = {}
        for item in inbound["items"]:
            if item["quantityOpen"] > 0:
                result[item["jfsku"]] = result.get(item["jfsku"], 0) + int(item["quantityOpen"])
        return result
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be {jfsku: quantity} or {items: [{jfsku, quantity}]}")
    if "items" in body:
        items = body["items"]
        if not isinstance(items, list):
            raise HTTPException(400, "items must be an array")
        by_sku = {p["merchantSku"]: jfsku for jfsku, p in ffn.products.items()}
        result = {}
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise HTTPException(400, f"items[{index}] must be an object")
            jfsku = item.get("jfsku") or by_sku.get(str(item.get("merchantSku")))
            quantity = item.get("quantity")
            if not isinstance(jfsku, str) or not jfsku:
                raise HTTPException(400, f"items[{index}]: jfsku (or a known merchantSku) is required")
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                raise HTTPException(400, f"items[{index}].quantity must be a non-negative integer")
            result[jfsku] = result.get(jfsku, 0) + quantity
        return result
    result = {}
    for jfsku, quantity in body.items():
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise HTTPException(400, f"quantity for {jfsku} must be a non-negative integer")
        result[str(jfsku)] = quantity
    return result


def _fault_view(state: SandboxState) -> dict[str, Any]:
    profile = faults.current_profile(state)
    return {
        "profile": profile.name,
        "rules": [rule.model_dump() for rule in profile.rules],
        "injected": dict(state.runtime.fault_counters),
        "available": sorted(faults.PROFILES),
    }


routes = RouteTable()


def build_router(state: SandboxState) -> APIRouter:
    """The ``/_sandbox`` router, bound to one sandbox state."""
    router = APIRouter(prefix="/_sandbox", tags=["sandbox"], route_class=bound_route_class(state))
    routes.mount(router)
    return router


@routes.get("/health")
def health(state: StateDep) -> dict[str, Any]:
    """Liveness plus the size of the world, for the demo and humans."""
    data = state.data
    return {
        "status": "ok",
        "faults": faults.current_profile(state).name,
        "ffn": {"products": len(data.ffn.products), "inbounds": len(data.ffn.inbounds)},
        "wawi": {"items": len(data.wawi.items), "salesOrders": len(data.wawi.sales_orders)},
        "spreadsheets": sorted(data.spreadsheets),
    }


#: Headers a receiver keeps: enough to see what was signed and keyed, never a credential.
_RECEIVED_HEADERS = ("content-type", "idempotency-key", "x-timestamp", "x-correlation-id")


@routes.route("/receiver/{path:path}", "GET", "POST", "PUT", "PATCH", "DELETE")
async def receive_webhook(path: str, request: Request, state: StateDep) -> dict[str, Any]:
    """A webhook receiver standing in for the merchant's CRM or shop: it keeps what arrives, answers 200.

    A delivery repeated with the same ``Idempotency-Key`` is recorded once, as a careful receiver would.
    The signature header is noted as present or not (its value and any Authorization are not kept).
    """
    raw = await request.body()
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    key = request.headers.get("idempotency-key")
    seen = [r for r in state.runtime.received if key and r["headers"].get("idempotency-key") == key]
    if not seen:
        state.runtime.received.append(
            {
                "method": request.method,
                "path": "/" + path,
                "query": dict(request.query_params),
                "headers": {h: request.headers[h] for h in _RECEIVED_HEADERS if h in request.headers},
                "signed": "x-signature" in request.headers,
                "authorized": "authorization" in request.headers,
                "body": body,
            }
        )
    return {"received": True, "duplicate": bool(seen)}


@routes.get("/received")
def received_webhooks(state: StateDep) -> list[dict[str, Any]]:
    """Everything the receiver kept, in arrival order."""
    return list(state.runtime.received)


@routes.get("/faults")
def get_faults(state: StateDep) -> dict[str, Any]:
    """The active profile, its rules, what was injected so far and the built-in profiles."""
    return _fault_view(state)


@routes.put("/faults")
def put_faults(state: StateDep, body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008 (FastAPI idiom)
    """Body ``{"profile": "flaky"}`` or ``{"profile": {"name": ..., "rules": [...]}}``."""
    spec = body.get("profile")
    try:
        if isinstance(spec, str):
            faults.set_profile(state, spec)
        elif isinstance(spec, dict):
            faults.set_profile(state, faults.FaultProfile.model_validate(spec))
        else:
            raise HTTPException(400, "body must be {'profile': <name or profile object>}")
    except KeyError as exc:
        raise HTTPException(400, str(exc.args[0])) from None
    except ValidationError as exc:
        raise HTTPException(400, f"invalid fault profile: {exc.errors(include_url=False)}") from None
    return _fault_view(state)


@routes.post("/ffn/inbounds/{inbound_id}/receive", response_model=None)
def receive(inbound_id: str, state: StateDep, body: Any = Body(None)) -> Any:  # noqa: B008
    """The warehouse books incoming goods (see ``_quantities`` for the body)."""
    quantities = _quantities(state, inbound_id, body)
    try:
        return ffn.receive_inbound(state, inbound_id, quantities)
    except ffn.FfnError as exc:  # answered in FFN's envelope, as the API would
        return JSONResponse(exc.body(), status_code=exc.status_code)


@routes.post("/ffn/outbounds/{outbound_id}/ship", response_model=None)
def ship(outbound_id: str, state: StateDep, body: Any = Body(None)) -> Any:  # noqa: B008
    """The warehouse ships all that is open, optionally with ``{"trackingNumber": ...}``."""
    tracking = body.get("trackingNumber") if isinstance(body, dict) else None
    if tracking is not None and not isinstance(tracking, str):
        raise HTTPException(400, "trackingNumber must be a string")
    try:
        return ffn.ship_outbound(state, outbound_id, tracking)
    except ffn.FfnError as exc:
        return JSONResponse(exc.body(), status_code=exc.status_code)


@routes.post("/ffn/stocks/adjustments", response_model=None)
def adjust(state: StateDep, body: Any = Body(None)) -> Any:  # noqa: B008
    """Units found or lost: ``{"jfsku", "warehouseId", "quantity", "note"?}`` -> 201 StockChange.

    The fulfiller's ``POST /stocks/adjustments``; ``/stocks/updates`` shows it as an Adjustment.
    """
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be {jfsku, warehouseId, quantity, note?}")
    jfsku, warehouse_id, quantity, note = (body.get(k) for k in ("jfsku", "warehouseId", "quantity", "note"))
    if not isinstance(jfsku, str) or not isinstance(warehouse_id, str):
        raise HTTPException(400, "jfsku and warehouseId must be strings")
    if note is not None and not isinstance(note, str):
        raise HTTPException(400, "note must be a string")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        raise HTTPException(400, "quantity must be a number")
    try:
        return JSONResponse(
            ffn.adjust_stock(state, jfsku, warehouse_id, quantity, note=note), status_code=201
        )
    except ffn.FfnError as exc:
        return JSONResponse(exc.body(), status_code=exc.status_code)


@routes.post("/ffn/expire-tokens")
def expire_tokens(state: StateDep) -> dict[str, Any]:
    """Every FFN access token issued so far answers 401 from now on."""
    faults.expire_access_tokens(state)
    return {"expired": True}


@routes.post("/wawi/registrations/{registration_id}/accept")
def accept(registration_id: str, state: StateDep) -> dict[str, Any]:
    """The user accepts a Wawi app registration."""
    try:
        wawi.accept_registration(state, registration_id)
    except KeyError:
        raise HTTPException(404, f"registration {registration_id} not found") from None
    return {"registrationId": registration_id, "accepted": True}


@routes.put("/wawi/registration-window")
def registration_window(state: StateDep, body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    """The user opens (``{"open": true}``) or closes Wawi's Admin > App-Registrierung listener."""
    if not isinstance(body.get("open"), bool):
        raise HTTPException(400, "body must be {'open': true|false}")
    wawi.set_registration_window(state, body["open"])
    return {"open": wawi.registration_window_open(state)}


@routes.get("/stats")
def stats(state: StateDep) -> dict[str, Any]:
    """Requests per API and status, and the faults injected, as benchmarks report them."""
    with state.data.lock:
        requests = state.runtime.requests
        return {
            "requests": {
                "total": requests["total"],
                "by_api": dict(requests["by_api"]),
                "by_status": dict(requests["by_status"]),
            },
            "faults": {"profile": faults.current_profile(state).name, **state.runtime.fault_counters},
        }
