"""Read-only master data: suppliers, warehouses, categories, manufacturers, on-hold reasons, methods.

Plus ``GET /info``, the cheap health check. Suppliers, manufacturers and the shipping/payment method and
reason lists are plain arrays, the others paged, as in the Wawi 1.0 spec.
"""

from __future__ import annotations

from fastapi import Request, Response

from jtl_automator.sandbox.data import iso_now
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import StateDep
from jtl_automator.sandbox.wawi.common import Query, json_response, paged_envelope, sorted_values, v1_page

routes = RouteTable()


@routes.get("/suppliers")
def list_suppliers(state: StateDep) -> Response:
    """A plain array in id order (not paged in the spec)."""
    wawi = state.data.wawi
    return json_response(list(sorted_values(wawi.suppliers)))


@routes.get("/info")
def info(request: Request, state: StateDep) -> Response:
    """``GET /info``: the cheap health check (version, time, tenant, type)."""
    hosted = getattr(request.state, "wawi_flavour", "onprem") == "cloud"
    tenant = state.config.wawi_cloud_tenant_id if hosted else "eazybusiness"
    return json_response(
        {
            "Version": "1.10.12.0",
            "Timestamp": iso_now(),
            "Tenant": tenant,
            "Type": "Cloud" if hosted else "OnPremise",
        }
    )


@routes.get("/warehouses")
def list_warehouses(request: Request, state: StateDep) -> Response:
    """Paged, optionally only active ones."""
    wawi = state.data.wawi
    query = Query(request)
    number, size = v1_page(state, query)
    is_active = query.boolean("isActive")
    rows = sorted_values(wawi.warehouses)
    if is_active is not None:
        rows = [w for w in rows if w.get("IsActive") == is_active]
    return json_response(paged_envelope(rows, number, size))


@routes.get("/categories")
def list_categories(request: Request, state: StateDep) -> Response:
    """Paged, all levels."""
    wawi = state.data.wawi
    query = Query(request)
    number, size = v1_page(state, query)
    return json_response(paged_envelope(sorted_values(wawi.categories), number, size))


@routes.get("/onHoldReasons")
def list_on_hold_reasons(state: StateDep) -> Response:
    """A plain array, as stored."""
    wawi = state.data.wawi
    return json_response(wawi.on_hold_reasons)


@routes.get("/shippingMethods")
def list_shipping_methods(state: StateDep) -> Response:
    """A plain array, as stored."""
    wawi = state.data.wawi
    return json_response(wawi.shipping_methods)


@routes.get("/paymentMethods")
def list_payment_methods(state: StateDep) -> Response:
    """A plain array, as stored."""
    wawi = state.data.wawi
    return json_response(wawi.payment_methods)


@routes.get("/manufacturers")
def list_manufacturers(state: StateDep) -> Response:
    """A plain array in id order (``Manufacturer`` objects; not paged in the spec)."""
    wawi = state.data.wawi
    return json_response(list(sorted_values(wawi.manufacturers)))
