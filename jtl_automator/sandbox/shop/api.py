"""The JTL-Shop 5.4.0 REST API v1 under ``/shop/api/v1``, and the storefront around it (jtl-shop-rest.md).

Request path, in the order the Shop's router works:

1. A body with ``Content-Type`` exactly ``application/json`` that is not JSON: PHP's ``JsonException`` in
   ``dispatch()``, before routing and authentication [I: a 500 error page].
2. No route (unknown path, trailing slash, unsupported method): the storefront's HTML page, status
   ``shop_unrouted_status``; the API key is never looked at.
3. ``ApiKeyMiddleware``: no ``X-API-KEY`` header → 403 ``"Invalid api key"``; a key the shop does not know
   (also an empty one) or without the method's bit (GET 1, POST 2, PUT 4, DELETE 8; HEAD, which FastRoute
   routes to GET, has none) → 403 ``"No permissions for this operation"``. Bodies are bare JSON strings.
4. The controller: lists with cursor paging (``limit`` default 10, no maximum, ``max(1, (int)limit)``;
   ``cursor`` ≤ 0 the first page; ``previous`` only echoed; ``meta.cursor.next`` the last pk as a
   *string*, -1 when empty; no totals), single objects as ``{"data": {...}}``, 404 ``text/plain``,
   ``/stock`` without cursor or meta, every create/update/delete 501 ``[]``, the cache DELETEs 202.

Every answer is JSON-encoded as PHP does (:mod:`~jtl_automator.sandbox.shop.encoding`) and costs the time
of the config's cost model (``shop_*_cost_seconds``; past ``shop_max_execution_seconds`` a 500 page).
"""

from __future__ import annotations

import bisect
import json
import secrets
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.routing import APIRoute

from jtl_automator.sandbox.data import JsonObject, ShopData
from jtl_automator.sandbox.latency_model import charge
from jtl_automator.sandbox.routing import RouteTable, bound_route_class
from jtl_automator.sandbox.shop.encoding import ShopJSONResponse, php_int
from jtl_automator.sandbox.shop.world import RELATIONS, build_shop, hidden_fields
from jtl_automator.sandbox.state import RouteHandler, SandboxState, StateDep, bind

#: The shop's URL (``URL_SHOP``) in the sandbox, and its API root.
ROOT = "/shop"
API_ROOT = f"{ROOT}/api/v1"
DEFAULT_LIMIT = 10
NOT_FOUND_TEXT = "The requested resource was not found"
MISSING_KEY = "Invalid api key"
NO_PERMISSION = "No permissions for this operation"
PERMISSION_BITS = {"GET": 1, "POST": 2, "PUT": 4, "DELETE": 8}
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: Read-only resources of 5.4.0 the sandbox serves empty (they hold nothing the pipelines read).
EMPTY_RESOURCES = (
    "attribute",
    "categoryattribute",
    "characteristic",
    "characteristicValue",
    "currency",
    "language",
    "manufacturer",
    "measurementunit",
    "productattribute",
    "shippingmethod",
    "taxclass",
    "taxrate",
    "taxzone",
)

# Module-level so tests can replace the cost model's waiting.
_sleep: Callable[[float], Coroutine[Any, Any, None]] = anyio.sleep


# --------------------------------------------------------------------------------------------------
# The world and its index


def shop_data(state: SandboxState) -> ShopData:
    """The state's shop, mirrored from its Wawi on first use (:mod:`~jtl_automator.sandbox.shop.world`)."""
    data = state.data
    if data.shop is None:
        with data.lock:
            if data.shop is None:
                data.shop = build_shop(data.wawi, state.config)
    return data.shop


def resync(state: SandboxState, *, drift: bool = True) -> ShopData:
    """Mirror the shop from the Wawi as it is now (``drift=False``: as if Wawi's sync had caught up)."""
    config = state.config
    if not drift:
        config = replace(
            config,
            shop_orders_missing_in_wawi=0,
            shop_orders_cancelled_in_shop=0,
            shop_stock_over=0,
            shop_stock_under=0,
            shop_price_drift=0,
        )
    with state.data.lock:
        state.data.shop = build_shop(state.data.wawi, config)
        state.runtime.shop.index = None
    return state.data.shop


@dataclass
class ShopIndex:
    """Sorted keys of every table and the child rows of each parent, for one shape of the tables."""

    signature: tuple[int, ...]
    keys: dict[str, list[int]]
    stock_keys: list[tuple[int, int]]
    prices_of: dict[int, list[int]]
    links_of_product: dict[int, list[int]]
    links_of_category: dict[int, list[int]]
    stock_of_product: dict[int, list[tuple[int, int]]]
    stock_of_warehouse: dict[int, list[tuple[int, int]]]
    items_of_cart: dict[int, list[int]]


def _tables(shop: ShopData) -> dict[str, dict[int, JsonObject]]:
    return {
        "product": shop.products,
        "price": shop.prices,
        "category": shop.categories,
        "order": shop.orders,
        "cart": shop.carts,
        "cartitem": shop.cart_items,
        "customer": shop.customers,
        "customerGroup": shop.customer_groups,
    }


def index(state: SandboxState) -> ShopIndex:
    """The index of the state's shop (rebuilt when any table changed its size)."""
    shop = shop_data(state)
    tables = _tables(shop)
    signature = (id(shop), len(shop.stock), len(shop.category_links), *(len(t) for t in tables.values()))
    current = state.runtime.shop.index
    if isinstance(current, ShopIndex) and current.signature == signature:
        return current
    prices_of: dict[int, list[int]] = defaultdict(list)
    for price_id, price in sorted(shop.prices.items()):
        prices_of[int(price["productID"])].append(price_id)
    links_of_product: dict[int, list[int]] = defaultdict(list)
    links_of_category: dict[int, list[int]] = defaultdict(list)
    for link_id, link in sorted(shop.category_links.items()):
        links_of_product[int(link["productID"])].append(link_id)
        links_of_category[int(link["categoryID"])].append(link_id)
    stock_keys = sorted(shop.stock)
    stock_of_product: dict[int, list[tuple[int, int]]] = defaultdict(list)
    stock_of_warehouse: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for key in stock_keys:
        stock_of_product[key[0]].append(key)
        stock_of_warehouse[key[1]].append(key)
    items_of_cart: dict[int, list[int]] = defaultdict(list)
    for item_id, item in sorted(shop.cart_items.items()):
        items_of_cart[int(item["cartID"])].append(item_id)
    built = ShopIndex(
        signature=signature,
        keys={name: sorted(table) for name, table in tables.items()},
        stock_keys=stock_keys,
        prices_of=prices_of,
        links_of_product=links_of_product,
        links_of_category=links_of_category,
        stock_of_product=stock_of_product,
        stock_of_warehouse=stock_of_warehouse,
        items_of_cart=items_of_cart,
    )
    state.runtime.shop.index = built
    return built


# --------------------------------------------------------------------------------------------------
# Rows as the controllers hand them out (children joined, as DataModel::fill() does)


def price_out(shop: ShopData, price_id: int) -> JsonObject:
    """A PriceModel with its ``detail`` tiers."""
    return {**shop.prices[price_id], "detail": [dict(tier) for tier in shop.price_details.get(price_id, [])]}


def category_out(shop: ShopData, idx: ShopIndex, category_id: int) -> JsonObject:
    """A CategoryModel with its children, ``categories`` being every product link of the category."""
    row = shop.categories[category_id]
    return {
        **row,
        "localization": [
            {
                "categoryID": category_id,
                "languageID": 1,
                "slug": row["slug"],
                "name": row["name"],
                "description": row["description"],
                "metaDescription": "",
                "metaKeywords": "",
                "metaTitle": "",
            }
        ],
        "images": [],
        "attributes": [],
        "visibility": [],
        "discount": [],
        "categories": [dict(shop.category_links[i]) for i in idx.links_of_category.get(category_id, [])],
    }


def product_out(shop: ShopData, idx: ShopIndex, product_id: int, *, full: bool = False) -> JsonObject:
    """A ProductModel with its 13 child collections (``full``: categories as whole Category objects)."""
    row = shop.products[product_id]
    links = [shop.category_links[i] for i in idx.links_of_product.get(product_id, [])]
    categories = (
        [category_out(shop, idx, int(link["categoryID"])) for link in links]
        if full
        else [dict(link) for link in links]
    )
    return {
        **row,
        "localization": [
            {
                "productID": product_id,
                "languageID": 1,
                "slug": row["slug"],
                "name": row["name"],
                "description": row["description"],
                "shortDescription": row["shortDescription"],
            }
        ],
        "characteristics": [],
        "functionalAttributes": [],
        "attributes": [],
        "visibility": [],
        "downloads": [],
        "images": [],
        "prices": [price_out(shop, price_id) for price_id in idx.prices_of.get(product_id, [])],
        "categories": categories,
        "stock": [dict(shop.stock[key]) for key in idx.stock_of_product.get(product_id, [])],
        "minimumOrderQuantities": [],
        "categoryDiscounts": [],
        "properties": [],
    }


def _out(state: SandboxState, resource: str, pk: int, *, listed: bool) -> JsonObject:
    shop = shop_data(state)
    idx = index(state)
    if resource == "product":
        return product_out(shop, idx, pk)
    if resource == "price":
        return price_out(shop, pk)
    if resource == "category":
        return category_out(shop, idx, pk)
    if resource == "order":
        return {**shop.orders[pk], "attributes": [dict(a) for a in shop.order_attributes.get(pk, [])]}
    if resource == "cart":
        items = [dict(shop.cart_items[i]) for i in idx.items_of_cart.get(pk, [])]
        return {**shop.carts[pk], "items": items}
    if resource == "customerGroup":
        row = shop.customer_groups[pk]
        localization = [{"customerGroupID": pk, "languageID": 1, "name": row["name"]}]
        return {**row, "localization": localization, "attributes": []}
    if resource == "customer":
        row = shop.customers[pk]
        # index decrypts the encrypted fields and blanks the password; show hands both out as stored
        return {**row, "password": ""} if listed else hidden_fields(row)
    return dict(_tables(shop)[resource][pk])


# --------------------------------------------------------------------------------------------------
# Answers


def storefront_page(state: SandboxState, status: int, title: str) -> Response:
    """The storefront's HTML page: what anything outside the API routes gets (no key is checked)."""
    html = (
        '<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8">'
        f"<title>{title} - Beispielhandel</title></head>\n"
        '<body class="is-nova"><header id="jtl-nav-wrapper"><a href="/shop/">Beispielhandel</a></header>'
        f"<main><h1>{title}</h1></main></body></html>\n"
    )
    return _with_session(state, HTMLResponse(html, status_code=status))


def fatal_error(state: SandboxState, message: str) -> Response:
    """A PHP fatal error as the storefront renders it: 500, HTML."""
    html = f"<!DOCTYPE html>\n<html><body><b>Fatal error</b>: {message}</body></html>\n"
    return _with_session(state, HTMLResponse(html, status_code=500))


def _with_session(state: SandboxState, response: Response) -> Response:
    if state.config.shop_session_cookie:
        response.set_cookie("JTLSHOP", secrets.token_hex(16), path="/", httponly=True, samesite="lax")
    return response


def _json(state: SandboxState, content: Any, status: int = 200) -> Response:
    return _with_session(state, ShopJSONResponse(content, status_code=status))


def not_found(state: SandboxState) -> Response:
    """RT ``sendNotFoundResponse``: plain text."""
    return _with_session(
        state, PlainTextResponse(NOT_FOUND_TEXT, status_code=404, media_type="text/plain; charset=utf-8")
    )


def not_implemented(state: SandboxState) -> Response:
    """Every create, update and delete of 5.4.0."""
    return _json(state, [], 501)


async def _charge(state: SandboxState, rows: int, relations: int) -> Response | None:
    """Sleep the cost model's time for an answer of ``rows`` rows; past the execution cap, a 500 page.

    Real seconds, like every latency divided by the config's ``time_scale``. Under a latency profile the
    time is charged to the request (``latency_model.charge``), so it comes on top of the drawn latency
    (network and the storefront's boot) instead of hiding in it.
    """
    config = state.config
    cost = (
        config.shop_request_cost_seconds
        + rows * config.shop_row_cost_seconds
        + relations * config.shop_relation_cost_seconds
    )
    cap = config.shop_max_execution_seconds
    if cap is not None and cost > cap:
        await _sleep(config.scaled(cap))
        charge(config.scaled(cap))
        return fatal_error(state, f"Maximum execution time of {cap:g} seconds exceeded")
    if cost > 0:
        await _sleep(config.scaled(cost))
        charge(config.scaled(cost))
    return None


# --------------------------------------------------------------------------------------------------
# The guard: body check, API key and permission bit, before any controller


def api_keys(state: SandboxState) -> dict[str, int]:
    """The shop's ``api_keys`` table (lower-cased: the column's collation compares case-insensitively)."""
    runtime = state.runtime.shop
    if runtime.keys is None:
        runtime.keys = {state.config.shop_api_key.lower(): state.config.shop_api_key_permissions}
    return runtime.keys


def grant_key(state: SandboxState, key: str, permissions: int) -> None:
    """Add a key (or change its permissions), as the admin backend's API keys page does."""
    with state.data.lock:
        api_keys(state)[key.lower()] = permissions


def revoke_key(state: SandboxState, key: str) -> bool:
    """Delete a key; the next request with it answers 403. True if it existed."""
    with state.data.lock:
        return api_keys(state).pop(key.lower(), None) is not None


def _malformed_json(request: Request, body: bytes) -> bool:
    if request.headers.get("content-type") != "application/json" or not body.strip():
        return False
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return True
    return False


def refused(state: SandboxState, request: Request) -> Response | None:
    """ApiKeyMiddleware: the 403 for this request, or None when it may pass."""
    sent = request.headers.getlist("x-api-key")
    if not sent:
        return _json(state, MISSING_KEY, 403)
    permissions = api_keys(state).get(sent[0].lower())
    bit = PERMISSION_BITS.get(request.method.upper(), 0)
    if permissions is None or not bit or not permissions & bit:
        return _json(state, NO_PERMISSION, 403)
    return None


def api_route_class(state: SandboxState) -> type[APIRoute]:
    """Routes of the API group: the JSON-body check, then the key middleware, then the controller."""

    class ShopApiRoute(APIRoute):
        """Binds the state and runs the Shop's checks in its order before the handler."""

        def get_route_handler(self) -> RouteHandler:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                bind(request, state)
                if _malformed_json(request, await request.body()):
                    return fatal_error(state, "Uncaught JsonException: Syntax error")
                answer = refused(state, request)
                if answer is not None:
                    return answer
                return await handler(request)

            return guarded

    return ShopApiRoute


# --------------------------------------------------------------------------------------------------
# Controllers


routes = RouteTable()
_READ = ("GET", "HEAD")  # FastRoute answers HEAD from the GET route (and the middleware refuses it)


def _query_int(request: Request, name: str, default: int) -> int:
    values = request.query_params.getlist(name)
    return php_int(values[-1]) if values else default


async def list_rows(state: SandboxState, request: Request, resource: str) -> Response:
    """AbstractController::index: ``WHERE pk > cursor LIMIT limit`` in key order, with the cursor meta."""
    limit = max(1, _query_int(request, "limit", DEFAULT_LIMIT))
    cursor = _query_int(request, "cursor", 0)
    previous = _query_int(request, "previous", 0)
    keys = index(state).keys.get(resource, []) if resource not in EMPTY_RESOURCES else []
    start = bisect.bisect_right(keys, cursor) if cursor > 0 else 0
    picked = keys[start : start + limit]
    with state.data.lock:
        rows = [_out(state, resource, pk, listed=True) for pk in picked]
    expensive = await _charge(state, len(rows), len(rows) * RELATIONS.get(resource, 0))
    if expensive is not None:
        return expensive
    meta = {
        "current": cursor,
        "prev": previous,
        "next": str(picked[-1]) if picked else -1,  # the raw (stringified) pk of the last row
        "count": len(rows),
    }
    return _json(state, {"data": rows, "meta": {"cursor": meta}})


async def show_row(state: SandboxState, resource: str, raw_id: str) -> Response:
    """AbstractController::show: ``(int)$id``, the row or the plain-text 404."""
    pk = php_int(raw_id)
    table = _tables(shop_data(state)).get(resource, {})
    if pk not in table:
        return not_found(state)
    with state.data.lock:
        row = _out(state, resource, pk, listed=False)
    expensive = await _charge(state, 1, RELATIONS.get(resource, 0))
    return expensive or _json(state, {"data": row})


def _resource_routes(resource: str) -> None:
    """GET list and one, and the 501 create/update/delete of one resource: two routes, by method inside."""
    path = f"/{resource}"

    async def collection(request: Request, state: StateDep) -> Response:
        if request.method == "POST":
            return not_implemented(state)
        return await list_rows(state, request, resource)

    async def member(request: Request, id: str, state: StateDep) -> Response:
        if request.method in ("PUT", "DELETE"):
            return not_implemented(state)
        if resource in EMPTY_RESOURCES:
            return not_found(state)
        return await show_row(state, resource, id)

    routes.route(path, *_READ, "POST", name=f"shop_{resource}_collection")(collection)
    routes.route(path + "/{id}", *_READ, "PUT", "DELETE", name=f"shop_{resource}_member")(member)


# /product/{id}/full and the stock forms come before the generic routes of their resource.


@routes.route("/product/{id}/full", *_READ)
async def product_full(id: str, state: StateDep) -> Response:
    """ProductController::show with ``full``: characteristics and categories as whole objects."""
    pk = php_int(id)
    shop = shop_data(state)
    if pk not in shop.products:
        return not_found(state)
    with state.data.lock:
        row = product_out(shop, index(state), pk, full=True)
    relations = RELATIONS["product"] + len(row["categories"]) * RELATIONS["category"]
    expensive = await _charge(state, 1 + len(row["categories"]), relations)
    return expensive or _json(state, {"data": row})


@routes.route("/stock", *_READ)
async def stock_index(request: Request, state: StateDep) -> Response:
    """The stock list has no single primary key: the first ``limit`` rows, no cursor, no meta."""
    limit = max(1, _query_int(request, "limit", DEFAULT_LIMIT))
    shop = shop_data(state)
    with state.data.lock:
        rows = [dict(shop.stock[key]) for key in index(state).stock_keys[:limit]]
    expensive = await _charge(state, len(rows), 0)
    return expensive or _json(state, {"data": rows})


async def _stock_list(state: SandboxState, raw_id: str, by: str) -> Response:
    pk = php_int(raw_id)
    if pk == 0:  # respondWithModel(null): a TypeError in 5.4.0 [I: a 500 page]
        return fatal_error(state, "Uncaught TypeError: respondWithModel(): Argument #1 must be of type Model")
    shop = shop_data(state)
    idx = index(state)
    keys = (idx.stock_of_product if by == "product" else idx.stock_of_warehouse).get(pk, [])
    with state.data.lock:
        rows = [dict(shop.stock[key]) for key in keys]
    expensive = await _charge(state, len(rows), 0)
    return expensive or _json(state, {"data": rows})


@routes.route("/stock/product/{product_id}/warehouse/{warehouse_id}", *_READ)
async def stock_one(product_id: str, warehouse_id: str, state: StateDep) -> Response:
    """One stock row, or the plain-text 404."""
    row = shop_data(state).stock.get((php_int(product_id), php_int(warehouse_id)))
    if row is None:
        return not_found(state)
    expensive = await _charge(state, 1, 0)
    return expensive or _json(state, {"data": dict(row)})


@routes.route("/stock/product/{product_id}", *_READ)
async def stock_of_product(product_id: str, state: StateDep) -> Response:
    """A product's stock rows (``{"data": []}`` when it has none)."""
    return await _stock_list(state, product_id, "product")


@routes.route("/stock/warehouse/{warehouse_id}", *_READ)
async def stock_of_warehouse(warehouse_id: str, state: StateDep) -> Response:
    """A warehouse's stock rows."""
    return await _stock_list(state, warehouse_id, "warehouse")


@routes.route("/stock", "POST")
@routes.route("/stock/{id}", "PUT")
@routes.route("/stock/product/{product_id}", "DELETE")
@routes.route("/stock/warehouse/{warehouse_id}", "DELETE")
@routes.route("/stock/product/{product_id}/warehouse/{warehouse_id}", "DELETE")
async def stock_write(state: StateDep) -> Response:
    """StockController's create, update and delete: 501 ``[]`` whatever the body."""
    return not_implemented(state)


@routes.route("/cache/all", "DELETE")
async def cache_all(state: StateDep) -> Response:
    """Flush the whole object cache: 202 ``{"data": true}``."""
    return _json(state, {"data": True}, 202)


@routes.route("/cache/cachetags/{name}", "DELETE")
async def cache_tags(request: Request, name: str, state: StateDep) -> Response:
    """Flush by ``?tags[]=``: 202 with the number of flushed entries, 400 without tags."""
    tags = request.query_params.getlist("tags[]") or request.query_params.getlist("tags")
    if not tags:
        return _json(state, {"invalid_fields": {"tags": "The Tags is required"}}, 400)
    return _json(state, {"data": len(tags)}, 202)


@routes.route("/cache/{id}", "DELETE")
async def cache_one(id: str, state: StateDep) -> Response:
    """Flush one cache id: 202 ``{"data": true}``."""
    return _json(state, {"data": True}, 202)


for _resource in ("product", "price", "order", "cart", "cartitem", "category", "customer", "customerGroup"):
    _resource_routes(_resource)
for _resource in EMPTY_RESOURCES:
    _resource_routes(_resource)


# --------------------------------------------------------------------------------------------------
# Storefront and router


async def storefront_home(state: StateDep) -> Response:
    """The shop's start page."""
    return storefront_page(state, 200, "Startseite")


async def storefront_other(request: Request, state: StateDep) -> Response:
    """Anything no route serves (under the API root too): the storefront's page, no key check."""
    if _malformed_json(request, await request.body()):
        return fatal_error(state, "Uncaught JsonException: Syntax error")
    return storefront_page(state, state.config.shop_unrouted_status, "Seite nicht gefunden")


def build_router(state: SandboxState) -> APIRouter:
    """The shop (storefront and ``/api/v1``), bound to one sandbox state."""
    router = APIRouter()
    api = APIRouter(prefix=API_ROOT, route_class=api_route_class(state))
    routes.mount(api)
    router.include_router(api)
    storefront = APIRouter(prefix=ROOT, route_class=bound_route_class(state))
    storefront.add_api_route("", storefront_home, methods=ALL_METHODS, include_in_schema=False)
    storefront.add_api_route("/{rest:path}", storefront_other, methods=ALL_METHODS, include_in_schema=False)
    router.include_router(storefront)
    return router
