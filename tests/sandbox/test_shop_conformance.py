"""The sandbox's JTL-Shop against what JTL-Shop 5.4.0 does, checked with raw HTTP (no project client).

The tables below restate jtl-shop-rest.md (read from the 5.4.0 source) in this project's words: the
attributes each resource hands out and their JSON kinds, the answers to every kind of request (status,
media type, body), the cursor meta, the two date shapes, PHP's JSON encoding. Each check runs through
ASGI and over real HTTP, in the ``--sandbox`` mode of the run (lenient or strict: only the knobs the
reference leaves open differ, and the expectations read them from the config).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from jtl_automator.sandbox import shop as shop_sandbox
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import asgi_transport, serve_in_thread
from jtl_automator.sandbox.shop import api as shop_api

API = "/shop/api/v1"
FULL_KEY = "conformance-key-all-methods"  # GET | POST | PUT | DELETE
GET_ONLY = "conformance-key-get-only"
POST_ONLY = "conformance-key-post-only"
PUT_ONLY = "conformance-key-put-only"

# --- what each resource hands out: attribute -> JSON kind ---------------------------------------------
# int / float (a JSON number: whole values arrive as ints) / str / yesno ("Y" or "N") / list (a child
# collection) / date ("Y-m-d"), datetime ("Y-m-d H:i:s"): plain strings of attributes without a getter /
# DateTime: PHP's {date, timezone_type, timezone} of attributes with a getter. Any of them may be null
# unless the name is in NOT_NULL.


def kinds(kind: str, names: str) -> dict[str, str]:
    return dict.fromkeys(names.split(), kind)


PRODUCT = {
    **kinds(
        "int",
        "id parentID manufacturerID taxClassID unitID shippingClassID partlistID commodityGroupID "
        "deliveryStatus basePriceUnitID propertyCombinationID packagingUnitID measurementUnitID "
        "deliveryDaysWhenSoldOut sort isParent autoDeliveryCalculation handlingTime",
    ),
    **kinds(
        "str",
        "sku name slug description shortDescription comment searchTerms series isbn asin han barcode upc "
        "epid originCountry unNumber hazardIdentificationNumber taricCode packagingUnitName",
    ),
    **kinds(
        "float",
        "stockQty awaitedDelivery supplierStocks taxRate msrp standardPriceNet minOrderQty "
        "permissibleOrderQty packagingUnit packagingUnitAmount weight productWeight width height length "
        "measurementAmount basePriceAmount deliveryTime",
    ),
    **kinds(
        "yesno",
        "trackStock stockMayBeSmallerThanZero trackStocksOfVariations topProduct new divisible "
        "hasPackagingUnit",
    ),
    **kinds("date", "dateOfAwaitedDelivery created release shelflifeExpirationDate"),
    "lastModified": "datetime",
    **kinds(
        "list",
        "localization characteristics functionalAttributes attributes visibility downloads images prices "
        "categories stock minimumOrderQuantities categoryDiscounts properties",
    ),
}
STOCK = {
    **kinds("int", "productID warehouseID"),
    **kinds("float", "stock procured"),
    "procuredDate": "DateTime",
}
PRICE = {**kinds("int", "id productID customerGroupID customerID"), "detail": "list"}
PRICE_DETAIL = {**kinds("int", "id priceID amountFrom"), "netPrice": "float"}
ORDER = {
    **kinds(
        "int",
        "id cartID customerID deliveryAddressID billingAddressID paymentMethodID shippingMethodID languageID "
        "currencyID longestMinDelivery longestMaxDelivery",
    ),
    **kinds(
        "str",
        "orderNO shippingMethodName paymentMethodName sessionID shippingInfo trackingID trackingURL "
        "logistics comment ipAddress puidPaymentData state",
    ),
    "fetched": "yesno",
    **kinds("float", "total balance currencyConversionFactor"),
    **kinds("DateTime", "created reviewReminder shippingDate paymentDate"),
    "attributes": "list",
}
ORDER_ATTRIBUTE = {**kinds("int", "id orderID"), **kinds("str", "name value")}
CART = {**kinds("int", "id customerID deliveryAddressID paymentInfoID"), "items": "list"}
CART_ITEM = {
    **kinds("int", "id cartID productID posType configItemID orderItemID"),
    **kinds("str", "sku name unit deliveryState notice unique responsibility"),
    **kinds("float", "qty netSinglePrice price taxPercent stockBefore"),
    "attributes": "list",
}
CATEGORY = {
    **kinds("int", "id parentID sort lft rght level"),
    **kinds("str", "name slug description"),
    "lastModified": "DateTime",
    **kinds("list", "localization images attributes visibility discount categories"),
}
CATEGORY_LINK = kinds("int", "id productID categoryID")
CUSTOMER = {
    **kinds("int", "id customerGroupID languageID registered loginAttempts"),
    **kinds(
        "str",
        "customerNO password salutation title firstname surname company additional street streetNO "
        "additionalAddress zip city state country tel mobile fax mail ustidnr www origin",
    ),
    **kinds("yesno", "locked newsletter active fetched"),
    **kinds("float", "balance discount"),
    **kinds("DateTime", "birthday created modified"),
}
CUSTOMER_GROUP = {
    **kinds("int", "id net"),
    **kinds("str", "name shopLogin"),
    "discount": "float",
    "default": "yesno",
    **kinds("list", "localization attributes"),
}
PRODUCT_LOCALIZATION = {
    **kinds("int", "productID languageID"),
    **kinds("str", "slug name description shortDescription"),
}
NOT_NULL = {"id", "productID", "warehouseID", "stock", "priceID", "amountFrom", "netPrice", "cartID"}

#: resource -> (its attribute table, the child collections whose rows we check too)
RESOURCES: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]] = {
    "product": (
        PRODUCT,
        {"stock": STOCK, "prices": PRICE, "categories": CATEGORY_LINK, "localization": PRODUCT_LOCALIZATION},
    ),
    "price": (PRICE, {"detail": PRICE_DETAIL}),
    "order": (ORDER, {"attributes": ORDER_ATTRIBUTE}),
    "cart": (CART, {"items": CART_ITEM}),
    "cartitem": (CART_ITEM, {}),
    "category": (CATEGORY, {"categories": CATEGORY_LINK}),
    "customer": (CUSTOMER, {}),
    "customerGroup": (CUSTOMER_GROUP, {}),
}

PHP_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
CHECKS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "yesno": lambda v: v in ("Y", "N"),
    "list": lambda v: isinstance(v, list),
    "date": lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) is not None,
    "datetime": lambda v: (
        isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", v) is not None
    ),
    "DateTime": lambda v: (
        isinstance(v, dict)
        and set(v) == {"date", "timezone_type", "timezone"}
        and PHP_DATETIME.match(v["date"]) is not None
        and v["timezone_type"] == 3
        and v["timezone"] == "Europe/Berlin"
    ),
}


def problems(row: Any, table: dict[str, str], where: str) -> list[str]:
    if not isinstance(row, dict):
        return [f"{where}: not an object"]
    found = []
    if set(row) != set(table):
        found.append(
            f"{where}: keys differ: extra {sorted(set(row) - set(table))}, "
            f"missing {sorted(set(table) - set(row))}"
        )
    for name, kind in table.items():
        value = row.get(name)
        if value is None and name not in NOT_NULL:
            continue
        if not CHECKS[kind](value):
            found.append(f"{where}.{name}: {value!r} is not {kind}")
    return found


# --- the sandbox under test, through ASGI and over real HTTP ----------------------------------------------


@dataclass
class Shop:
    http: httpx.Client
    config: SandboxConfig
    state: Any
    sleeps: list[float]

    def get(self, path: str, key: str | None = FULL_KEY, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, key, **kwargs)

    def call(self, method: str, path: str, key: str | None = FULL_KEY, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["X-API-KEY"] = key
        return self.http.request(
            method, path if path.startswith("/shop") else API + path, headers=headers, **kwargs
        )


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest) -> Iterator[tuple[Any, SandboxConfig, list[float]]]:
    strict = request.config.getoption("--sandbox") == "strict"
    config = SandboxConfig.strictest() if strict else SandboxConfig()
    app = create_app(generate(seed=42, skus=40, orders=30, customers=20), config)
    state = app.state.sandbox
    for key, bits in ((FULL_KEY, 15), (GET_ONLY, 1), (POST_ONLY, 2), (PUT_ONLY, 4)):
        shop_sandbox.grant_key(state, key, bits)
    data = shop_sandbox.shop_data(state)
    data.products[3]["name"] = "Tee <\"Grün\"> & 'Co' / 1"  # what JSON_HEX_* escapes
    first_order = min(data.orders)
    data.order_attributes[first_order] = [{"id": 1, "orderID": first_order, "name": "gift", "value": "Y"}]
    sleeps: list[float] = []

    async def record(seconds: float) -> None:  # the cost model's waits, recorded instead of slept
        sleeps.append(seconds)

    original, shop_api._sleep = shop_api._sleep, record
    try:
        yield app, config, sleeps
    finally:
        shop_api._sleep = original


@pytest.fixture(scope="module", params=["asgi", "http"])
def shop(request: pytest.FixtureRequest, world: tuple[Any, SandboxConfig, list[float]]) -> Iterator[Shop]:
    app, config, sleeps = world
    if request.param == "asgi":
        transport = asgi_transport(app)
        with httpx.Client(transport=transport, base_url="http://sandbox.test") as http:
            yield Shop(http, config, app.state.sandbox, sleeps)
        transport.close()  # type: ignore[attr-defined]
    else:
        with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url) as http:
            yield Shop(http, config, app.state.sandbox, sleeps)


# --- attributes and their kinds ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_every_resource_hands_out_the_attributes_of_its_model(shop: Shop, resource: str) -> None:
    table, children = RESOURCES[resource]
    listed = shop.get(f"/{resource}", params={"limit": 1000}).json()["data"]
    assert listed, resource
    found: list[str] = []
    for row in listed:
        found += problems(row, table, f"{resource} {row.get('id')}")
        for child, child_table in children.items():
            for entry in row.get(child) or []:
                found += problems(entry, child_table, f"{resource} {row.get('id')}.{child}")
    one = shop.get(f"/{resource}/{listed[0]['id']}").json()["data"]
    found += problems(one, table, f"{resource}/{listed[0]['id']}")
    assert found == []


@pytest.mark.slow
def test_children_are_embedded_and_stock_rows_have_their_own_table(shop: Shop) -> None:
    data = shop.state.data.shop
    products = {p["id"]: p for p in shop.get("/product", params={"limit": 1000}).json()["data"]}
    assert set(products) == set(data.products)
    stocked = [p for p in products.values() if p["stock"]]
    assert stocked and all(p["stockQty"] == sum(s["stock"] for s in p["stock"]) for p in stocked)
    assert all(
        {pr["customerGroupID"] for pr in p["prices"]} == set(data.customer_groups) for p in products.values()
    )
    found = [
        f"stock {row['productID']}/{row['warehouseID']}: {msg}"
        for row in shop.get("/stock", params={"limit": 1000}).json()["data"]
        for msg in problems(row, STOCK, "row")
    ]
    assert found == []
    full = shop.get(f"/product/{stocked[0]['id']}/full").json()["data"]
    assert full["categories"] and all(problems(c, CATEGORY, "full") == [] for c in full["categories"])


# --- answers: status, media type, body -----------------------------------------------------------------

HTML = "text/html"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
UNROUTED = "unrouted"  # the storefront page, at the config's status

#: method, path, key, status, media type, body (None: not checked; UNROUTED: the storefront's HTML page)
ANSWERS: list[tuple[str, str, str | None, int | str, str, Any]] = [
    # ApiKeyMiddleware: two bare JSON strings, 403 only (never 401), before any controller
    ("GET", "/product", None, 403, JSON, "Invalid api key"),
    ("GET", "/product", "", 403, JSON, "No permissions for this operation"),
    ("GET", "/product", "no-such-key", 403, JSON, "No permissions for this operation"),
    ("GET", "/product", POST_ONLY, 403, JSON, "No permissions for this operation"),
    ("GET", "/product", FULL_KEY.upper(), 200, JSON, None),  # [I] the key column compares case-insensitively
    ("HEAD", "/product/1", FULL_KEY, 403, JSON, None),  # HEAD maps to no permission bit
    ("PUT", "/stock/1", GET_ONLY, 403, JSON, "No permissions for this operation"),  # 403 before 501
    ("DELETE", "/cache/all", GET_ONLY, 403, JSON, "No permissions for this operation"),
    # every create, update and delete of 5.4.0: 501 []
    ("PUT", "/stock/1", PUT_ONLY, 501, JSON, []),
    ("POST", "/stock", FULL_KEY, 501, JSON, []),
    ("DELETE", "/stock/product/1", FULL_KEY, 501, JSON, []),
    ("DELETE", "/stock/warehouse/2", FULL_KEY, 501, JSON, []),
    ("DELETE", "/stock/product/1/warehouse/2", FULL_KEY, 501, JSON, []),
    ("POST", "/product", POST_ONLY, 501, JSON, []),
    ("PUT", "/product/1", FULL_KEY, 501, JSON, []),
    ("DELETE", "/product/1", FULL_KEY, 501, JSON, []),
    ("PUT", "/price/1", FULL_KEY, 501, JSON, []),
    ("PUT", "/order/1001", FULL_KEY, 501, JSON, []),
    ("POST", "/cart", FULL_KEY, 501, JSON, []),
    ("DELETE", "/cartitem/1", FULL_KEY, 501, JSON, []),
    ("PUT", "/category/1", FULL_KEY, 501, JSON, []),
    ("POST", "/customer", FULL_KEY, 501, JSON, []),
    ("DELETE", "/customerGroup/1", FULL_KEY, 501, JSON, []),
    ("PUT", "/currency/1", FULL_KEY, 501, JSON, []),
    # the cache DELETEs are the only writes that work: 202
    ("DELETE", "/cache/all", FULL_KEY, 202, JSON, {"data": True}),
    ("DELETE", "/cache/12", FULL_KEY, 202, JSON, {"data": True}),
    ("DELETE", "/cache/cachetags/x?tags[]=product&tags[]=category", FULL_KEY, 202, JSON, {"data": 2}),
    (
        "DELETE",
        "/cache/cachetags/x",
        FULL_KEY,
        400,
        JSON,
        {"invalid_fields": {"tags": "The Tags is required"}},
    ),
    # one object: (int)$id, the row or a plain-text 404
    ("GET", "/product/999999", FULL_KEY, 404, TEXT, "The requested resource was not found"),
    ("GET", "/product/abc", FULL_KEY, 404, TEXT, "The requested resource was not found"),
    ("GET", "/product/0", FULL_KEY, 404, TEXT, "The requested resource was not found"),
    ("GET", "/product/999999/full", FULL_KEY, 404, TEXT, "The requested resource was not found"),
    ("GET", "/order/1", FULL_KEY, 404, TEXT, "The requested resource was not found"),  # ids from 1001
    ("GET", "/customerGroup/99", FULL_KEY, 404, TEXT, "The requested resource was not found"),
    ("GET", "/currency/1", FULL_KEY, 404, TEXT, "The requested resource was not found"),
    ("GET", "/stock/product/1/warehouse/999", FULL_KEY, 404, TEXT, "The requested resource was not found"),
    ("GET", "/stock/product/999999", FULL_KEY, 200, JSON, {"data": []}),  # a list: empty, not 404
    ("GET", "/stock/product/0", FULL_KEY, 500, HTML, None),  # [I] respondWithModel(null): a TypeError
    (
        "GET",
        "/currency",
        FULL_KEY,
        200,
        JSON,
        {"data": [], "meta": {"cursor": {"current": 0, "prev": 0, "next": -1, "count": 0}}},
    ),
    # no route: the storefront's HTML page, and the key is never looked at
    ("GET", "/product/", None, UNROUTED, HTML, None),
    ("GET", "/product/", "no-such-key", UNROUTED, HTML, None),
    ("GET", "/nothing", None, UNROUTED, HTML, None),
    ("GET", "/warehouse", FULL_KEY, UNROUTED, HTML, None),  # no warehouse endpoint exists
    ("GET", "/product/1/full/", FULL_KEY, UNROUTED, HTML, None),
    ("PATCH", "/product/1", FULL_KEY, UNROUTED, HTML, None),
    ("OPTIONS", "/product", None, UNROUTED, HTML, None),
    ("GET", "/shop/api/v2/product", FULL_KEY, UNROUTED, HTML, None),
    ("GET", "/shop", None, 200, HTML, None),
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "key", "status", "media", "body"), ANSWERS)
def test_each_request_gets_the_answer_of_jtl_shop_5_4(
    shop: Shop, method: str, path: str, key: str | None, status: int | str, media: str, body: Any
) -> None:
    response = shop.call(method, path, key)
    expected = shop.config.shop_unrouted_status if status == UNROUTED else status
    assert response.status_code == expected, response.text[:200]
    assert response.headers["content-type"].split(";")[0] == media.split(";")[0]
    if media == TEXT:
        assert response.headers["content-type"] == TEXT
    if body is not None and method != "HEAD":
        assert (response.text if media == TEXT else response.json()) == body


@pytest.mark.slow
def test_a_json_body_that_is_not_json_fails_before_authentication(shop: Shop) -> None:
    exact = shop.call(
        "POST", "/product", None, content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert exact.status_code == 500 and exact.headers["content-type"].startswith(HTML)
    # a Content-Type that is not exactly application/json is not decoded: the key check answers
    loose = shop.call(
        "POST",
        "/product",
        None,
        content=b"{oops",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert (loose.status_code, loose.json()) == (403, "Invalid api key")


@pytest.mark.slow
def test_path_ids_are_cast_as_php_casts_them(shop: Shop) -> None:
    assert shop.get("/product/3abc").json()["data"]["id"] == 3
    assert shop.get("/stock/product/1xyz").json() == shop.get("/stock/product/1").json()


# --- the cursor ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_cursor_meta_as_abstract_controller_index_builds_it(shop: Shop) -> None:
    ids = sorted(shop.state.data.shop.orders)

    def meta(**params: Any) -> tuple[list[int], dict[str, Any]]:
        body = shop.get("/order", params=params).json()
        return [row["id"] for row in body["data"]], body["meta"]["cursor"]

    got, cursor = meta()
    assert got == ids[:10]  # limit defaults to 10
    assert cursor == {"current": 0, "prev": 0, "next": str(ids[9]), "count": 10}  # next: a string, no total
    assert meta(limit="abc")[0] == ids[:1]  # max(1, (int)"abc")
    assert meta(limit=0)[0] == ids[:1]
    assert meta(limit=-5)[0] == ids[:1]
    assert meta(limit=100000)[0] == ids  # no maximum
    assert meta(limit=3, cursor=-1)[0] == ids[:3]  # <= 0: the first page
    assert meta(limit=3, cursor=0)[0] == ids[:3]
    got, cursor = meta(limit=3, cursor=ids[4], previous=7)
    assert got == ids[5:8] and cursor == {"current": ids[4], "prev": 7, "next": str(ids[7]), "count": 3}
    got, cursor = meta(limit=3, cursor=ids[-1])
    assert got == [] and cursor == {"current": ids[-1], "prev": 0, "next": -1, "count": 0}
    raw = shop.get("/order", params={"limit": 2}).text
    assert f'"next":"{ids[1]}"' in raw


@pytest.mark.slow
def test_the_stock_list_has_no_cursor_and_no_meta(shop: Shop) -> None:
    keys = sorted(shop.state.data.shop.stock)
    body = shop.get("/stock", params={"limit": 3, "cursor": 5}).json()
    assert set(body) == {"data"}
    assert [(r["productID"], r["warehouseID"]) for r in body["data"]] == keys[:3]
    assert len(shop.get("/stock").json()["data"]) == min(10, len(keys))


# --- dates and encoding --------------------------------------------------------------------------------


@pytest.mark.slow
def test_dates_come_in_the_two_shapes_per_model(shop: Shop) -> None:
    order = shop.get("/order", params={"limit": 1}).json()["data"][0]
    assert CHECKS["DateTime"](order["created"])
    paid = [o for o in shop.get("/order", params={"limit": 1000}).json()["data"] if o["paymentDate"]]
    assert paid and all(o["paymentDate"]["date"].endswith(" 00:00:00.000000") for o in paid)  # date-only
    product = shop.get("/product/1").json()["data"]
    assert CHECKS["date"](product["created"]) and CHECKS["datetime"](product["lastModified"])
    assert CHECKS["DateTime"](shop.get("/category/1").json()["data"]["lastModified"])
    customer = shop.get("/customer", params={"limit": 1}).json()["data"][0]
    assert customer["created"]["date"].endswith(" 00:00:00.000000")


@pytest.mark.slow
def test_json_is_encoded_as_php_encodes_it(shop: Shop) -> None:
    raw = shop.get("/product/3").text
    assert r'"name":"Tee \u003C\u0022Gr\u00fcn\u0022\u003E \u0026 \u0027Co\u0027 / 1"' in raw  # HEX_*, / kept
    assert json.loads(raw)["data"]["name"] == "Tee <\"Grün\"> & 'Co' / 1"
    page = shop.get("/product", params={"limit": 1000}).text
    assert re.search(r"\d\.0[,}\]]", page) is None  # no whole float keeps its .0
    whole = next(p for p in json.loads(page)["data"] if float(p["stockQty"]).is_integer())
    assert f'"stockQty":{int(whole["stockQty"])},' in page
    assert re.search(r'"netPrice":\d+\.\d*[1-9]', page)  # fractions stay fractions


@pytest.mark.slow
def test_customers_are_decrypted_in_the_list_only(shop: Shop) -> None:
    listed = shop.get("/customer", params={"limit": 1}).json()["data"][0]
    one = shop.get(f"/customer/{listed['id']}").json()["data"]
    stored = shop.state.data.shop.customers[listed["id"]]
    assert listed["password"] == "" and listed["surname"] == stored["surname"]
    assert one["password"].startswith("$2y$") and one["surname"] != stored["surname"]
    assert one["firstname"] == stored["firstname"]  # not one of the encrypted fields


# --- the knobs the reference leaves open ---------------------------------------------------------------


@pytest.mark.slow
def test_the_strict_knobs_answer_as_configured(shop: Shop) -> None:
    config = shop.config
    cookie = shop.get("/product/1").headers.get("set-cookie", "")
    assert ("JTLSHOP=" in cookie) == config.shop_session_cookie
    shop.sleeps.clear()
    shop.get("/product", params={"limit": 5})
    expected = config.shop_request_cost_seconds + 5 * (
        config.shop_row_cost_seconds + 13 * config.shop_relation_cost_seconds
    )
    assert sum(shop.sleeps) == pytest.approx(expected)
    # the configured key: every method lenient, GET only strict (a write meets the 403 before the 501)
    assert shop.call("PUT", "/stock/1", config.shop_api_key).status_code == (403 if config.strict else 501)
    assert shop.get("/product/1", config.shop_api_key).status_code == 200
