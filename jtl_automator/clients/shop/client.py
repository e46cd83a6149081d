"""JTL-Shop 5 REST API v1 client, read-only: ``shop.iter_products()``, ``shop.iter_orders(after_id)``.

Reference: jtl-shop-rest.md (read from the 5.4.0 source). The API lives at ``{URL_SHOP}/api/v1``, takes
the key in ``X-API-KEY``, pages with a cursor (:mod:`~jtl_automator.clients.shop.paging`) and implements
no writes (every create, update and delete answers 501), so this client only reads. What it reads:

- products with their per-warehouse stock rows and prices per customer group (embedded in every product
  row, which is why large pages cost the shop time: see ``docs/shop.md``);
- orders by cursor (``after_id``: the last order id already seen), and each order's lines through its
  cart (``GET /cart/{cartID}``);
- prices, stock (per product, per warehouse, one row), categories, customers and customer groups.

Every answer's ``Content-Type`` is checked before it is parsed (:mod:`~jtl_automator.clients.shop.errors`).
A list row that does not fit its model is left out and noted (:class:`SkippedShopRow`); the page and the
cursor carry on past it.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr, ValidationError

from jtl_automator.clients.http import ApiClient, HttpCore
from jtl_automator.clients.json_body import decode_json
from jtl_automator.clients.shop.errors import (
    ShopMalformedObject,
    ShopResponseError,
    content_type,
    is_html,
    shop_error_from_response,
    unavailable,
)
from jtl_automator.clients.shop.models import (
    TIMEZONE_CONTEXT_KEY,
    ShopCart,
    ShopCartItem,
    ShopCategory,
    ShopCustomer,
    ShopCustomerGroup,
    ShopModel,
    ShopOrder,
    ShopPage,
    ShopPrice,
    ShopProduct,
    ShopStock,
    SkippedShopRow,
)
from jtl_automator.clients.shop.paging import cursor_hint, iterate_cursor, rows_of
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.resilience import InFlightLimit, RateLimiter, RetryPolicy

logger = correlated_logger("jtl_automator.shop")

#: Where the API sits under the shop's URL (``URL_SHOP``).
API_PATH = "/api/v1"
#: The Shop's own default ``limit``; clients built from settings use ``JTL_SHOP_PAGE_SIZE``.
SHOP_DEFAULT_LIMIT = 10
#: This client's default page size: past it a page costs more time than it saves requests (docs/shop.md).
DEFAULT_PAGE_SIZE = 250
M = TypeVar("M", bound=ShopModel)


def api_root(shop_url: str) -> str:
    """``https://shop.example/`` → ``https://shop.example/api/v1`` (a URL already ending in it is kept)."""
    root = shop_url.rstrip("/")
    return root if root.endswith(API_PATH) else root + API_PATH


class ShopKeyAuth:
    """``X-API-KEY: <key>``; a 403 is final (a Shop key does not expire, it is deleted or lacks a bit)."""

    def __init__(self, api_key: SecretStr) -> None:
        self._api_key = api_key

    def headers(self) -> dict[str, str]:
        """The key header."""
        return {"X-API-KEY": self._api_key.get_secret_value()}

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """Never retry: the Shop sends 403, not 401, and nothing refreshes a key."""
        return False

    def __repr__(self) -> str:
        return "ShopKeyAuth()"


def _problem(error: ValidationError) -> str:
    """The first problems of a validation error, short: ``stockQty: Input should be a valid number``."""
    parts = []
    for entry in error.errors()[:3]:
        where = ".".join(str(part) for part in entry.get("loc", ())) or "(row)"
        parts.append(f"{where}: {entry.get('msg', 'invalid')}")
    return "; ".join(parts)


def _row_id(row: Any) -> int | None:
    value = row.get("id") if isinstance(row, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ShopClient(ApiClient):
    """The JTL-Shop 5 REST API v1 (read-only) on an injected ``httpx.Client``."""

    def __init__(
        self,
        http: httpx.Client,
        shop_url: str,
        api_key: SecretStr,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        timezone: str = "Europe/Berlin",
        in_flight: InFlightLimit | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        self.core = HttpCore(
            http,
            api_root(shop_url),
            auth=ShopKeyAuth(api_key),
            limiter=limiter,
            retry=retry,
            default_headers={"Accept": "application/json"},
            errors=shop_error_from_response,
            in_flight=in_flight,
        )
        self.page_size = page_size
        #: The shop's ``SHOP_TIMEZONE``: what plain date strings without a zone are read in.
        self.timezone = timezone

    def __repr__(self) -> str:
        return f"ShopClient(base_url={self.core.base_url!r})"

    @property
    def read_parallelism(self) -> int:
        """Reads that may go at once (independent carts): the in-flight limit, 1 without one."""
        return self.core.in_flight.limit if self.core.in_flight is not None else 1

    # -- transport ----------------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON, after checking the answer is the API's and not a storefront page."""
        return self._decode(self._answer(path, params), path)

    def _answer(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """GET, the answer checked to be the API's JSON (not a storefront page), not decoded yet."""
        response = self.core.request("GET", path, params=params)
        display = response.request.url.path if response.request is not None else path
        if is_html(response):
            raise unavailable("GET", display, response.status_code)
        kind = content_type(response)
        if "json" not in kind:
            raise ShopResponseError(
                f"GET {display} -> {response.status_code}: answered {kind or 'no content type'}, not JSON",
                method="GET",
                path=display,
                status=response.status_code,
            )
        return response

    def _decode(self, response: httpx.Response, path: str) -> Any:
        """The JSON body of an answer :meth:`_answer` checked."""
        display = response.request.url.path if response.request is not None else path
        try:
            return decode_json(response)
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise ShopResponseError(
                f"GET {display} -> {response.status_code}: the body is not valid JSON",
                method="GET",
                path=display,
                status=response.status_code,
            ) from None

    def _typed(self, model: type[M], row: Any) -> M:
        return model.model_validate(row, context={TIMEZONE_CONTEXT_KEY: self.timezone})

    def _rows(
        self, rows: builtins.list[Any], model: type[M], where: str
    ) -> tuple[builtins.list[M], builtins.list[SkippedShopRow]]:
        """Type every row; one that does not fit is left out with where and why (and logged)."""
        typed: builtins.list[M] = []
        skipped: builtins.list[SkippedShopRow] = []
        for row in rows:
            row_id = _row_id(row)
            if not isinstance(row, Mapping):
                reason = f"not an object but {type(row).__name__}"
            else:
                try:
                    typed.append(self._typed(model, row))
                    continue
                except ValidationError as error:
                    reason = _problem(error)
            label = f"{where} (id {row_id})" if row_id is not None else where
            logger.warning("skipping a malformed %s row: %s: %s", model.__name__, label, reason)
            skipped.append(SkippedShopRow(where=label, reason=reason, row_id=row_id))
        return typed, skipped

    def _one(self, path: str, model: type[M]) -> M:
        """``GET {path}`` → ``{"data": {...}}`` typed; a malformed object is an item-level error."""
        body = self._get(path)
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), Mapping):
            raise ShopResponseError(f"GET {path}: the answer has no 'data' object", method="GET", path=path)
        try:
            return self._typed(model, body["data"])
        except ValidationError as error:
            raise ShopMalformedObject(
                f"GET {path}: the {model.__name__} does not fit: {_problem(error)}", method="GET", path=path
            ) from None

    def _list(self, path: str, model: type[M]) -> tuple[builtins.list[M], builtins.list[SkippedShopRow]]:
        """An unpaged list (``/stock/product/{id}``): ``{"data": [...]}``."""
        return self._rows(rows_of(self._get(path), f"GET {path}"), model, f"GET {path}")

    def iter_pages(
        self, path: str, model: type[M], *, page_size: int | None = None, after_id: int = 0
    ) -> Iterator[ShopPage[M]]:
        """Typed pages of a cursor-paged list; each page carries the cursor after it (see ShopPage)."""
        limit = page_size or self.page_size

        def fetch(cursor: int, size: int) -> httpx.Response:
            params: dict[str, Any] = {"limit": size}
            if cursor > 0:
                params["cursor"] = cursor
            return self._answer(path, params)

        start = after_id
        # with room for more than one request on the wire, the next page is on its way while this one
        # is decoded and typed (and the caller works on it): its cursor is read from the answer's tail
        prefetch = self.read_parallelism > 1
        for rows, cursor in iterate_cursor(
            fetch,
            limit,
            after=after_id,
            what=f"GET {path}",
            prefetch=prefetch,
            wrap=in_context,
            decode=lambda response: self._decode(response, path),
            peek=lambda response: cursor_hint(response.content),
        ):
            items, skipped = self._rows(rows, model, f"GET {path} after {start}")
            yield ShopPage[M](items=items, skipped=skipped, cursor=cursor)
            start = cursor

    def _flat(
        self,
        path: str,
        model: type[M],
        page_size: int | None,
        after_id: int,
        skipped: builtins.list[SkippedShopRow] | None,
    ) -> Iterator[M]:
        for page in self.iter_pages(path, model, page_size=page_size, after_id=after_id):
            if skipped is not None:
                skipped.extend(page.skipped)
            yield from page.items

    # -- products -----------------------------------------------------------------------------------

    def iter_product_pages(
        self, page_size: int | None = None, *, after_id: int = 0
    ) -> Iterator[ShopPage[ShopProduct]]:
        """``GET /product`` page by page (every row with its stock, prices and other children)."""
        return self.iter_pages("/product", ShopProduct, page_size=page_size, after_id=after_id)

    def iter_products(
        self,
        page_size: int | None = None,
        *,
        after_id: int = 0,
        skipped: builtins.list[SkippedShopRow] | None = None,
    ) -> Iterator[ShopProduct]:
        """Every product after ``after_id``; a malformed row is noted in ``skipped`` and left out."""
        return self._flat("/product", ShopProduct, page_size, after_id, skipped)

    def get_product(self, product_id: int, *, full: bool = False) -> ShopProduct:
        """``GET /product/{id}`` (``/full``: characteristics and categories as whole objects)."""
        return self._one(f"/product/{int(product_id)}" + ("/full" if full else ""), ShopProduct)

    # -- stock --------------------------------------------------------------------------------------

    def stock_for_product(
        self, product_id: int, *, skipped: builtins.list[SkippedShopRow] | None = None
    ) -> builtins.list[ShopStock]:
        """``GET /stock/product/{id}``: the product's stock per warehouse ([] when it has none)."""
        rows, bad = self._list(f"/stock/product/{int(product_id)}", ShopStock)
        if skipped is not None:
            skipped.extend(bad)
        return rows

    def stock_for_warehouse(
        self, warehouse_id: int, *, skipped: builtins.list[SkippedShopRow] | None = None
    ) -> builtins.list[ShopStock]:
        """``GET /stock/warehouse/{id}``: every stock row of one warehouse (unpaged: all of them at once)."""
        rows, bad = self._list(f"/stock/warehouse/{int(warehouse_id)}", ShopStock)
        if skipped is not None:
            skipped.extend(bad)
        return rows

    def get_stock(self, product_id: int, warehouse_id: int) -> ShopStock:
        """``GET /stock/product/{p}/warehouse/{w}``: one row (NotFound when the product has none there)."""
        return self._one(f"/stock/product/{int(product_id)}/warehouse/{int(warehouse_id)}", ShopStock)

    def first_stock_rows(
        self, limit: int | None = None, *, skipped: builtins.list[SkippedShopRow] | None = None
    ) -> builtins.list[ShopStock]:
        """``GET /stock?limit=``: only the first ``limit`` rows are reachable (no cursor on this list)."""
        body = self._get("/stock", {"limit": limit or self.page_size})
        rows, bad = self._rows(rows_of(body, "GET /stock"), ShopStock, "GET /stock")
        if skipped is not None:
            skipped.extend(bad)
        return rows

    # -- prices and customer groups -----------------------------------------------------------------

    def iter_prices(
        self,
        page_size: int | None = None,
        *,
        after_id: int = 0,
        skipped: builtins.list[SkippedShopRow] | None = None,
    ) -> Iterator[ShopPrice]:
        """``GET /price``: every price row (per product and customer group, net tiers in ``detail``)."""
        return self._flat("/price", ShopPrice, page_size, after_id, skipped)

    def get_price(self, price_id: int) -> ShopPrice:
        """``GET /price/{id}``."""
        return self._one(f"/price/{int(price_id)}", ShopPrice)

    def list_customer_groups(
        self, *, skipped: builtins.list[SkippedShopRow] | None = None
    ) -> builtins.list[ShopCustomerGroup]:
        """Every customer group (``GET /customerGroup``, all pages)."""
        return list(self._flat("/customerGroup", ShopCustomerGroup, None, 0, skipped))

    def get_customer_group(self, group_id: int) -> ShopCustomerGroup:
        """``GET /customerGroup/{id}``."""
        return self._one(f"/customerGroup/{int(group_id)}", ShopCustomerGroup)

    # -- orders and carts ---------------------------------------------------------------------------

    def iter_orders(self, after_id: int = 0, page_size: int | None = None) -> Iterator[ShopPage[ShopOrder]]:
        """Orders with an id above ``after_id``, page by page: ``page.items`` and ``page.cursor``.

        ``page.cursor`` is the last order id of the page (malformed rows included, see ``page.skipped``):
        save it as the watermark once the page is processed, and pass it as ``after_id`` next time.
        """
        return self.iter_pages("/order", ShopOrder, page_size=page_size, after_id=after_id)

    def get_order(self, order_id: int) -> ShopOrder:
        """``GET /order/{id}``."""
        return self._one(f"/order/{int(order_id)}", ShopOrder)

    def get_cart(self, cart_id: int) -> ShopCart:
        """``GET /cart/{id}``: an order's lines (``ShopOrder.cart_id``); a bad line fails the cart."""
        return self._one(f"/cart/{int(cart_id)}", ShopCart)

    def iter_carts(
        self,
        page_size: int | None = None,
        *,
        after_id: int = 0,
        skipped: builtins.list[SkippedShopRow] | None = None,
    ) -> Iterator[ShopCart]:
        """``GET /cart``: every cart with its lines."""
        return self._flat("/cart", ShopCart, page_size, after_id, skipped)

    def iter_cart_items(
        self,
        page_size: int | None = None,
        *,
        after_id: int = 0,
        skipped: builtins.list[SkippedShopRow] | None = None,
    ) -> Iterator[ShopCartItem]:
        """``GET /cartitem``: every cart line of the shop."""
        return self._flat("/cartitem", ShopCartItem, page_size, after_id, skipped)

    def get_cart_item(self, item_id: int) -> ShopCartItem:
        """``GET /cartitem/{id}``."""
        return self._one(f"/cartitem/{int(item_id)}", ShopCartItem)

    # -- catalogue and customers --------------------------------------------------------------------

    def iter_categories(
        self,
        page_size: int | None = None,
        *,
        after_id: int = 0,
        skipped: builtins.list[SkippedShopRow] | None = None,
    ) -> Iterator[ShopCategory]:
        """``GET /category`` (each row embeds every product link: keep pages small for big categories)."""
        return self._flat("/category", ShopCategory, page_size, after_id, skipped)

    def get_category(self, category_id: int) -> ShopCategory:
        """``GET /category/{id}``."""
        return self._one(f"/category/{int(category_id)}", ShopCategory)

    def iter_customers(
        self,
        page_size: int | None = None,
        *,
        after_id: int = 0,
        skipped: builtins.list[SkippedShopRow] | None = None,
    ) -> Iterator[ShopCustomer]:
        """``GET /customer`` (the list decrypts the address fields; ``/customer/{id}`` does not)."""
        return self._flat("/customer", ShopCustomer, page_size, after_id, skipped)

    def get_customer(self, customer_id: int) -> ShopCustomer:
        """One customer with decrypted fields: ``GET /customer?cursor={id-1}&limit=1`` (see the reference).

        ``GET /customer/{id}`` would answer the surname, company and street still encrypted.
        """
        wanted = int(customer_id)
        for page in self.iter_pages("/customer", ShopCustomer, page_size=1, after_id=max(0, wanted - 1)):
            for customer in page.items:
                if customer.id == wanted:
                    return customer
            for bad in page.skipped:
                if bad.row_id == wanted:
                    raise ShopMalformedObject(str(bad), method="GET", path="/customer")
            break
        return self._one(f"/customer/{wanted}", ShopCustomer)  # not listed: the Shop's 404 (or the row)

    # -- connectivity -------------------------------------------------------------------------------

    def check(self) -> builtins.list[ShopCustomerGroup]:
        """One cheap authenticated read (``GET /customerGroup``): raises what a misconfiguration raises."""
        return self.list_customer_groups()

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
        in_flight: InFlightLimit | None = None,
    ) -> ShopClient:
        """Client from ``jtl_automator.settings.Settings`` (``JTL_SHOP_URL``, ``JTL_SHOP_API_KEY``)."""
        if not settings.shop_url or settings.shop_api_key is None:
            raise ValueError("JTL_SHOP_URL and JTL_SHOP_API_KEY are required for the JTL-Shop API")
        http = http or httpx.Client(timeout=settings.shop_timeout_seconds)
        limiter = limiter or RateLimiter(
            settings.shop_rate_per_second, burst=max(1, int(settings.shop_rate_per_second))
        )
        return cls(
            http,
            settings.shop_url,
            settings.shop_api_key,
            limiter=limiter,
            retry=RetryPolicy.from_settings(settings, "http"),
            page_size=settings.shop_page_size,
            timezone=settings.shop_timezone,
            in_flight=in_flight or InFlightLimit(settings.shop_max_in_flight),
        )
