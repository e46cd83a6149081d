"""JTL-Wawi REST API emulator in both flavours: on-premise (``/wawi/api/eazybusiness/v1/...``) and Cloud.

The Cloud flavour serves the same handlers under ``/wawi/cloud/erp/...`` (no ``/v1``, as the Cloud spec's
paths), authenticated with a Bearer JWT from ``/wawi/cloud/oauth2/token`` and a tenant header, and
rate-limited with ``X-RateLimit-*`` headers; :mod:`~jtl_automator.sandbox.wawi.guard` has the checks of
both. On-premise:

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
:data:`~jtl_automator.sandbox.state.StateDep` and a :class:`~jtl_automator.sandbox.routing.RouteTable` that
:func:`build_router` mounts: ``registration`` (``/authentication``), ``items`` (with their custom fields),
``stocks``, ``sales_orders`` (with line items, custom fields and cancellation), ``customers``, ``master_data``
(suppliers, warehouses, categories, on-hold reasons, shipping and payment methods, ``/info``, and
manufacturers, companies, tax classes and rates, sales channels and customer groups), ``prices`` (an item's
sales-channel prices and special price), ``catalogue`` (category assignment, item images, properties),
``returns`` (returns with their line items, reasons and states) and ``purchase_orders`` (v2). ``common`` holds
the envelope, errors, query parsing and paging; ``guard`` the route class that checks every request (per
flavour: key or token and tenant, licence, app headers, scopes, Cloud rate limits); ``cloud`` the Cloud token
endpoint; ``schemas`` the completion and typed merge of request bodies.
"""

from __future__ import annotations

from fastapi import APIRouter

from jtl_automator.sandbox.state import SandboxState
from jtl_automator.sandbox.wawi import (
    catalogue,
    cloud,
    customers,
    items,
    master_data,
    prices,
    purchase_orders,
    registration,
    returns,
    sales_orders,
    stocks,
)
from jtl_automator.sandbox.wawi.cloud import TOKEN_PATH as CLOUD_TOKEN_PATH
from jtl_automator.sandbox.wawi.cloud import expire_cloud_tokens, issue_cloud_token
from jtl_automator.sandbox.wawi.common import (
    JSON_MEDIA,
    PREFIX,
    JsonBody,
    Query,
    WawiError,
    json_response,
    page_params,
    paged_envelope,
    unrouted,
)
from jtl_automator.sandbox.wawi.guard import (
    CLOUD_ROOT,
    Flavour,
    registration_window_open,
    route_class,
    set_registration_window,
)
from jtl_automator.sandbox.wawi.purchase_orders import camel_case
from jtl_automator.sandbox.wawi.registration import (
    accept_registration,
    pending_registrations,
    reject_registration,
)
from jtl_automator.sandbox.wawi.schemas import complete, merge, schemas

__all__ = [
    "CLOUD_ROOT",
    "CLOUD_TOKEN_PATH",
    "JSON_MEDIA",
    "PREFIX",
    "JsonBody",
    "Query",
    "WawiError",
    "accept_registration",
    "build_router",
    "camel_case",
    "complete",
    "expire_cloud_tokens",
    "issue_cloud_token",
    "json_response",
    "merge",
    "page_params",
    "paged_envelope",
    "pending_registrations",
    "registration_window_open",
    "reject_registration",
    "schemas",
    "set_registration_window",
    "unrouted",
]


def build_router(state: SandboxState) -> APIRouter:
    """Every Wawi route of both flavours (and the Cloud token endpoint), bound to one sandbox state."""
    router = APIRouter()
    onprem = APIRouter(prefix=PREFIX)
    unversioned = APIRouter(route_class=route_class(state, registration=True))
    registration.routes.mount(unversioned)
    onprem.include_router(unversioned)
    onprem.include_router(_v1(state, "onprem", PREFIX), prefix="/v1")
    onprem.include_router(_v2(state, "onprem", PREFIX), prefix="/v2")
    router.include_router(onprem)
    hosted = APIRouter(prefix=CLOUD_ROOT)  # the Cloud has no app registration: the Partner Portal does it
    hosted.include_router(_v1(state, "cloud", CLOUD_ROOT))
    hosted.include_router(_v2(state, "cloud", CLOUD_ROOT), prefix="/v2")
    router.include_router(hosted)
    router.include_router(cloud.build_router(state))
    return router


def _v1(state: SandboxState, flavour: Flavour, root: str) -> APIRouter:
    router = APIRouter(route_class=route_class(state, flavour=flavour, root=root))
    # the order the routes were declared (prices before items: /items/{id}/… before /items/{id})
    for resource in (prices, items, stocks, sales_orders, returns, customers, master_data, catalogue):
        resource.routes.mount(router)
    return router


def _v2(state: SandboxState, flavour: Flavour, root: str) -> APIRouter:
    router = APIRouter(route_class=route_class(state, flavour=flavour, root=root, v2=True))
    purchase_orders.routes.mount(router)
    return router
