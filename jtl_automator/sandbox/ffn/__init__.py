"""The JTL-FFN merchant API v1 (jtl-apis.md §1.3-1.8) over the in-memory ``SandboxData.ffn``.

Objects are stored in their API shape and returned as-is, so a list page is a slice of a cached,
filtered and sorted list of dicts serialised in one go: paging 100,000 stocks costs a few ms per page.
Any mutation bumps a version counter that invalidates those caches; code outside this package that
edits ``state.data.ffn`` directly must call ``mark_changed(state)``.

Business rules the merchant-side pipelines depend on are modelled, not faked: outbounds reserve stock
(and refuse to oversell unless ``?oversale=true``), inbounds announce stock, the fulfiller hooks
(``receive_inbound``, ``ship_outbound``, ``set_outbound_status``, ``adjust_stock``) move it, every
change shows up in ``/outbounds/updates``, and every stock movement is logged as a StockChange
(``stock_log``) for ``/stocks/updates``, ``/stocks/changes`` and ``?date=`` on the stock reads.
Choices the reference leaves open are marked [I] in the docstrings. Paths no route serves answer in
FFN's envelope (``unrouted``, installed by ``app.create_app``).

One module per resource (``products``, ``stock``, ``inbounds``, ``outbounds``, ``warehouses`` with
shipping methods), each with module-level handlers taking the state as a
:data:`~jtl_automator.sandbox.state.StateDep` and a :class:`~jtl_automator.sandbox.routing.RouteTable`
that :func:`build_router` mounts; ``common`` (errors, runtime, ids, the guard), ``validation`` and
``listing`` (paging, OData, change feeds) are shared.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from jtl_automator.sandbox.ffn import inbounds, outbounds, products, stock, warehouses
from jtl_automator.sandbox.ffn.common import (
    API_ROOT,
    ATTRIBUTE_TYPES,
    CONDITIONS,
    DOCUMENT_TYPES,
    INBOUND_STATUSES,
    ITEM_TYPES,
    OUTBOUND_STATUSES,
    PREMIUM_TYPES,
    SHIPPING_TYPES,
    FfnError,
    authenticate,
    dump_json,
    json_response,
    mark_changed,
    route_class,
    runtime,
    unrouted,
)
from jtl_automator.sandbox.ffn.inbounds import INBOUND_FIELDS, create_inbound, receive_inbound
from jtl_automator.sandbox.ffn.outbounds import (
    OUTBOUND_FIELDS,
    create_outbound,
    patch_outbound,
    set_outbound_status,
    ship_outbound,
)
from jtl_automator.sandbox.ffn.products import PRODUCT_FIELDS, create_product, patch_product
from jtl_automator.sandbox.ffn.stock import (
    STOCK_CHANGE_FIELDS,
    STOCK_FIELDS,
    STOCK_IN_WAREHOUSE_FIELDS,
    adjust_stock,
)
from jtl_automator.sandbox.ffn.warehouses import SHIPPING_METHOD_FIELDS, WAREHOUSE_FIELDS
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import FfnRuntime, SandboxState, StateDep

__all__ = [
    "API_ROOT",
    "ATTRIBUTE_TYPES",
    "CONDITIONS",
    "DOCUMENT_TYPES",
    "INBOUND_FIELDS",
    "INBOUND_STATUSES",
    "ITEM_TYPES",
    "OUTBOUND_FIELDS",
    "OUTBOUND_STATUSES",
    "PREMIUM_TYPES",
    "PRODUCT_FIELDS",
    "SHIPPING_METHOD_FIELDS",
    "SHIPPING_TYPES",
    "STOCK_CHANGE_FIELDS",
    "STOCK_FIELDS",
    "STOCK_IN_WAREHOUSE_FIELDS",
    "WAREHOUSE_FIELDS",
    "FfnError",
    "FfnRuntime",
    "adjust_stock",
    "build_router",
    "create_inbound",
    "create_outbound",
    "create_product",
    "dump_json",
    "mark_changed",
    "patch_outbound",
    "patch_product",
    "receive_inbound",
    "runtime",
    "set_outbound_status",
    "ship_outbound",
    "unrouted",
]

MERCHANT = "/api/v1/merchant"

users = RouteTable()


@users.get("/api/v1/users/current")
def current_user(state: StateDep) -> Response:
    """The token's user; the merchant id is what clients read from it."""
    return json_response({"userId": state.data.ffn.merchant_id})


def build_router(state: SandboxState) -> APIRouter:
    """``/api/v1/merchant/...`` and ``/api/v1/users/current``, all behind the FFN bearer token."""
    router = APIRouter(route_class=route_class(state), dependencies=[Depends(authenticate)])
    users.mount(router)
    merchant = APIRouter(route_class=route_class(state))
    for resource in (products, stock, inbounds, outbounds, warehouses):  # the order routes were declared
        resource.routes.mount(merchant)
    router.include_router(merchant, prefix=MERCHANT)
    return router
