"""JTL-Wawi REST API emulator, on-premise flavour (``/wawi/api/eazybusiness/v1/...``).

Faithful to the Wawi 1.0 OpenAPI (``specs/wawi_schemas.json``) and to what real clients report:
PascalCase objects (with the spec's own spellings such as ``Shipmentaddress`` and ``ItemWeigth``),
``Authorization: Wawi <key>`` plus the required ``X-AppID``/``X-AppVersion`` headers, 401/402 with empty
bodies, ``ErrorResponse`` for 400/404, 201 from PATCH, the ``PagedListOf*`` envelope whose
``NextPageNumber`` falls back to ``TotalPages`` and ``PreviousPageNumber`` to 1, and the app registration
handshake that hands out the API key exactly once.

Objects are kept exactly as served (see ``data.WawiData``); created objects are completed from the
spec's schemas so every required property is present. Date-time properties without a value are left
out rather than invented: the real API omits null keys too.

One module per resource, each with module-level handlers that take the state as a
:data:`~jtl_automator.sandbox.state.StateDep` and a :class:`~jtl_automator.sandbox.routing.RouteTable`
that :func:`build_router` mounts: ``registration`` (``/authentication``), ``items``, ``stocks``,
``sales_orders`` (with line items and cancellation), ``customers``, ``master_data`` (suppliers,
warehouses, categories, on-hold reasons, shipping and payment methods, ``/info``) and
``purchase_orders`` (v2). ``common`` holds the envelope, errors, query parsing, paging and the guard;
``schemas`` the completion and typed merge of request bodies.
"""

from __future__ import annotations

from fastapi import APIRouter

from jtl_automator.sandbox.state import SandboxState
from jtl_automator.sandbox.wawi import (
    customers,
    items,
    master_data,
    purchase_orders,
    registration,
    sales_orders,
    stocks,
)
from jtl_automator.sandbox.wawi.common import (
    JSON_MEDIA,
    PREFIX,
    JsonBody,
    Query,
    WawiError,
    json_response,
    page_params,
    paged_envelope,
    route_class,
)
from jtl_automator.sandbox.wawi.purchase_orders import camel_case
from jtl_automator.sandbox.wawi.registration import (
    accept_registration,
    pending_registrations,
    reject_registration,
)
from jtl_automator.sandbox.wawi.schemas import complete, merge, schemas

__all__ = [
    "JSON_MEDIA",
    "PREFIX",
    "JsonBody",
    "Query",
    "WawiError",
    "accept_registration",
    "build_router",
    "camel_case",
    "complete",
    "json_response",
    "merge",
    "page_params",
    "paged_envelope",
    "pending_registrations",
    "reject_registration",
    "schemas",
]


def build_router(state: SandboxState) -> APIRouter:
    """All Wawi routes under ``/wawi/api/eazybusiness``, bound to one sandbox state."""
    router = APIRouter(prefix=PREFIX)
    unversioned = APIRouter(route_class=route_class(state, registration=True))
    registration.routes.mount(unversioned)
    router.include_router(unversioned)
    v1 = APIRouter(route_class=route_class(state))
    for resource in (items, stocks, sales_orders, customers, master_data):  # the order routes were declared
        resource.routes.mount(v1)
    router.include_router(v1, prefix="/v1")
    v2 = APIRouter(route_class=route_class(state, v2=True))
    purchase_orders.routes.mount(v2)
    router.include_router(v2, prefix="/v2")
    return router
