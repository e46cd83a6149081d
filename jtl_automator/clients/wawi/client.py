"""JTL-Wawi REST API client: ``wawi.items.list(...)``, ``wawi.sales_orders.get(id)``.

On-premise (API key, ``/v1`` paths) or Cloud (client-credentials token and tenant, no ``/v1``): the auth
strategy (:mod:`jtl_automator.clients.wawi.auth`) decides both, so the resources below name their paths
without a version. Reference: https://developer.jtl-software.com/products/erp (API 1.0; purchase orders
from 2.x).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.alias_generators import to_camel

from jtl_automator.clients.errors import JtlApiError, NotFound
from jtl_automator.clients.http import ApiClient, HttpCore, json_or_none
from jtl_automator.clients.json_body import decode_json
from jtl_automator.clients.pagination import (
    JsonObject,
    Page,
    PageSize,
    flatten,
    iterate_page_number,
    iterate_page_number_parallel,
)
from jtl_automator.clients.wawi.auth import WawiAuth, WawiKeyAuth, wawi_auth
from jtl_automator.clients.wawi.models import (
    Category,
    Company,
    CustomerGroup,
    CustomField,
    CustomFieldValue,
    Item,
    ItemImage,
    ItemPropertyValue,
    ItemSalesChannelPrice,
    ItemSpecialPrice,
    ItemUpdate,
    Manufacturer,
    Property,
    PropertyValue,
    PurchaseOrder,
    PurchaseOrderCreate,
    Return,
    ReturnLineItem,
    ReturnReason,
    SalesChannel,
    SalesChannelPriceCreate,
    SalesOrder,
    SalesOrderUpdate,
    SpecialPriceUpdate,
    Stock,
    StockAdjustment,
    Supplier,
    TaxClass,
    TaxRate,
    Warehouse,
)
from jtl_automator.correlation import in_context
from jtl_automator.resilience import InFlightLimit, RateLimiter, RetryPolicy

#: The documented default of ``pageSize``; clients built from settings use ``JTL_WAWI_PAGE_SIZE``.
DEFAULT_PAGE_SIZE = 100
M = TypeVar("M", bound=BaseModel)


def page_size_refused(error: Exception) -> bool:
    """Whether a 400 refuses ``pageSize`` alone (Wawi documents no maximum; its ValidationErrors name it).

    A 400 that also (or only) names another member, say ``pageNumber`` or a filter, is not a page size
    problem and must reach the caller.
    """
    if not isinstance(error, JtlApiError) or error.status != 400:
        return False
    members = error.metadata.get("validation_errors")
    if not isinstance(members, Mapping) or not members:
        return False
    return {str(member).lower() for member in members} == {"pagesize"}


def _query(filters: Mapping[str, Any]) -> dict[str, Any]:
    """snake_case keyword filters to Wawi's camelCase query parameters; ``None`` means "not given"."""
    query: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bool):
            value = str(value).lower()
        query[to_camel(key)] = value
    return query


def unwrap_items(body: Any) -> list[Any]:
    """Entries of one of Wawi 1.0's unpaged lists (a bare array, or an ``Items`` envelope), unchecked."""
    items = body.get("Items", []) if isinstance(body, Mapping) else body
    return list(items) if isinstance(items, list) else []


def _body(payload: BaseModel | Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """The request body: what the caller set, nulls included (a PATCH may clear a field on purpose)."""
    if not isinstance(payload, model):
        payload = model.model_validate(
            dict(payload) if isinstance(payload, Mapping) else payload.model_dump(exclude_unset=True)
        )
    return payload.model_dump(by_alias=True, exclude_unset=True, mode="json")


class _Paged(Generic[M]):
    """A Wawi ``PagedListOf<T>`` endpoint: raw pages (``iter_pages``) or models (``list``)."""

    path: str
    model: type[M]

    def __init__(self, core: HttpCore, page_size: PageSize) -> None:
        self._core = core
        self._page_size = page_size

    def iter_pages(
        self,
        *,
        page_size: int | None = None,
        parallel: int = 1,
        expected_items: int | None = None,
        ordered: bool = True,
        **filters: Any,
    ) -> Iterator[Page]:
        """Raw pages (lists of dicts as Wawi sent them); filters are snake_case query parameters.

        ``page_size`` (default: the client's) is lowered when Wawi refuses it as too large. With
        ``parallel`` > 1 the pages after the first are read that many at a time (``read_parallelism``
        of the client: what its in-flight limit lets on the wire), still yielded in order; with
        ``expected_items`` too (the list's size when it was last read, e.g. the item cache's) the pages
        it implies are asked for beside page 1, not after its answer (page 1 still decides how many
        there are). ``ordered=False``: the pages after the first as they are answered (the caller does
        not care for their order).
        """
        sizes = self._page_size
        query = _query(filters)

        def fetch(number: int, size: int) -> Mapping[str, Any]:
            return self._core.get_json(self.path, {**query, "pageNumber": number, "pageSize": size}) or {}

        first = sizes.start(page_size or None)
        if parallel > 1:
            return iterate_page_number_parallel(
                fetch,
                first,
                workers=parallel,
                what=f"GET {self.path}",
                sizes=sizes,
                wrap=in_context,
                expected_pages=math.ceil(expected_items / first) if expected_items else None,
                ordered=ordered,
            )
        return iterate_page_number(fetch, first, what=f"GET {self.path}", sizes=sizes)

    def list(self, **filters: Any) -> Iterator[M]:
        validate = self.model.model_validate
        for item in flatten(self.iter_pages(**filters)):
            yield validate(item)


class _Gettable(_Paged[M]):
    def get(self, object_id: int) -> M:
        return self.model.model_validate(self._core.get_json(f"{self.path}/{object_id}"))


class _CustomFields:
    """Custom fields: ``GET {path}/customfields`` (definitions), ``GET {path}/{id}/customfields`` (values)."""

    path: str
    _core: HttpCore

    def custom_fields(
        self, *, skipped: builtins.list[SkippedRow] | None = None
    ) -> builtins.list[CustomField]:
        """The custom field definitions of this kind of object; a bad row is noted in ``skipped``."""
        where = f"{self.path}/customfields"
        return typed_rows(unwrap_items(self._core.get_json(where)), CustomField, f"GET {where}", skipped)

    def custom_field_values(
        self, object_id: int, *, skipped: builtins.list[SkippedRow] | None = None
    ) -> builtins.list[CustomFieldValue]:
        """One object's custom field values (ids only: names come from :meth:`custom_fields`)."""
        where = f"{self.path}/{object_id}/customfields"
        return typed_rows(unwrap_items(self._core.get_json(where)), CustomFieldValue, f"GET {where}", skipped)


class Items(_CustomFields, _Gettable[Item]):
    """``/items``: articles."""

    path = "/items"
    model = Item

    def update(
        self, item_id: int, changes: ItemUpdate | Mapping[str, Any], *, idempotent: bool = False
    ) -> Item | None:
        """PATCH; Wawi 1.0 answers 201 with the item (or 204). Not retried on 5xx unless ``idempotent``.

        Pass ``idempotent=True`` only for bodies of absolute values (a GTIN, a weight): sent twice after
        a lost answer, they leave the item as one successful PATCH would.
        """
        response = self._core.request(
            "PATCH",
            f"{self.path}/{item_id}",
            json=_body(changes, ItemUpdate),
            retry_transient=True if idempotent else None,
        )
        body = json_or_none(response)
        return Item.model_validate(body) if body else None

    def raw(self, item_id: int) -> JsonObject:
        """``GET /items/{id}`` as Wawi sent it (the enrichment rebuilds whole groups from it)."""
        body = self._core.get_json(f"{self.path}/{item_id}")
        return dict(body) if isinstance(body, Mapping) else {}

    def images(self, item_id: int) -> builtins.list[ItemImage]:
        """``GET /items/{id}/images``: the item's images (metadata, not the pictures)."""
        rows = unwrap_items(self._core.get_json(f"{self.path}/{item_id}/images"))
        return [ItemImage.model_validate(row) for row in rows if isinstance(row, Mapping)]

    def properties(self, item_id: int) -> builtins.list[ItemPropertyValue]:
        """``GET /items/{id}/properties`` (``ItemProperties``): the item's property value ids."""
        body = self._core.get_json(f"{self.path}/{item_id}/properties")
        rows = body.get("Properties") if isinstance(body, Mapping) else body
        return [ItemPropertyValue.model_validate(r) for r in rows or [] if isinstance(r, Mapping)]

    def suppliers(self, item_id: int) -> builtins.list[JsonObject]:
        """``GET /items/{id}/suppliers`` (an unpaged array of ItemSupplier), as Wawi sent it.

        Raw dicts, as for ``raw_line_items``: the replenishment reads them tolerantly, so one odd value
        (a missing ``DeliveryTime``) marks that item's line instead of failing the whole read.
        """
        rows = unwrap_items(self._core.get_json(f"{self.path}/{item_id}/suppliers"))
        return [dict(row) for row in rows if isinstance(row, Mapping)]

    # -- prices (the item's base price, its sales-channel prices and its special price) --------------

    def set_base_price(self, item_id: int, net: float) -> Item | None:
        """``PATCH /items/{id}`` with ``ItemPriceData.SalesPriceNet`` (net, 4 decimals), the group whole.

        The reference does not say whether Wawi merges a group object of a PATCH or replaces the stored
        one; replaced, a body of ``SalesPriceNet`` alone would empty the purchase price and the UVP. So
        the group is read just before and sent whole with only ``SalesPriceNet`` changed. An absolute
        value: sending it twice after a lost answer leaves the item as one PATCH would, so unlike other
        item PATCHes this one is retried after a 5xx or a timeout.
        """
        group = self.raw(item_id).get("ItemPriceData")
        prices = dict(group) if isinstance(group, Mapping) else {}
        body = {"ItemPriceData": {**prices, "SalesPriceNet": round(float(net), 4)}}
        response = self._core.request("PATCH", f"{self.path}/{item_id}", json=body, retry_transient=True)
        answer = json_or_none(response)
        return Item.model_validate(answer) if answer else None

    def sales_channel_prices(self, item_id: int) -> builtins.list[ItemSalesChannelPrice]:
        """``GET /items/{id}/salesChannelPrices``; none (or Wawi's 404 "No fields could be found.") is []."""
        try:
            rows = unwrap_items(self._core.get_json(f"{self.path}/{item_id}/salesChannelPrices"))
        except NotFound:
            return []
        return [ItemSalesChannelPrice.model_validate(row) for row in rows if isinstance(row, Mapping)]

    def create_sales_channel_price(
        self, item_id: int, price: SalesChannelPriceCreate | Mapping[str, Any]
    ) -> ItemSalesChannelPrice:
        """``POST /items/{id}/salesChannelPrices``: a new channel price. A POST: not re-sent after a 5xx."""
        body = _body(price, SalesChannelPriceCreate)
        response = self._core.request("POST", f"{self.path}/{item_id}/salesChannelPrices", json=body)
        return ItemSalesChannelPrice.model_validate(decode_json(response))

    def set_sales_channel_price(
        self,
        item_id: int,
        sales_channel_id: str,
        customer_group_id: int,
        net: float,
        *,
        from_quantity: int = 0,
    ) -> None:
        """``PATCH …/salesChannelPrices/{channel}/{group}/{fromQuantity}`` to an absolute ``NetPrice`` (204).

        Absolute, so retried after a 5xx or a timeout. A price that does not exist is Wawi's 404.
        """
        path = (
            f"{self.path}/{item_id}/salesChannelPrices/{quote(sales_channel_id, safe='')}/"
            f"{customer_group_id}/{from_quantity}"
        )
        self._core.request("PATCH", path, json={"NetPrice": round(float(net), 4)}, retry_transient=True)

    def special_price(self, item_id: int) -> ItemSpecialPrice | None:
        """``GET /items/{id}/specialprices``: the item's special price; None where Wawi has none (404)."""
        try:
            body = self._core.get_json(f"{self.path}/{item_id}/specialprices")
        except NotFound:
            return None
        return ItemSpecialPrice.model_validate(body) if isinstance(body, Mapping) else None

    def set_special_price(self, item_id: int, special: SpecialPriceUpdate | Mapping[str, Any]) -> None:
        """``PATCH /items/{id}/specialprices`` (204): absolute values and dates, so retried after a 5xx."""
        body = _body(special, SpecialPriceUpdate)
        self._core.request("PATCH", f"{self.path}/{item_id}/specialprices", json=body, retry_transient=True)


class Stocks(_Paged[Stock]):
    """``/stocks``: one row per warehouse, storage location and batch."""

    path = "/stocks"
    model = Stock

    def adjust(
        self, adjustment: StockAdjustment | Mapping[str, Any], *, disable_workflows: bool = False
    ) -> Stock | None:
        """Add ``quantity`` (a delta) to a stock row. A POST: never re-sent after a 5xx or timeout."""
        params = {"disableAutomaticWorkflows": "true"} if disable_workflows else None
        body = json_or_none(
            self._core.request("POST", self.path, json=_body(adjustment, StockAdjustment), params=params)
        )
        return Stock.model_validate(body) if body else None


class SalesOrders(_CustomFields, _Gettable[SalesOrder]):
    """``/salesOrders`` (all non-pending orders)."""

    path = "/salesOrders"
    model = SalesOrder

    def update(
        self, order_id: int, changes: SalesOrderUpdate | Mapping[str, Any], *, idempotent: bool = False
    ) -> SalesOrder | None:
        """PATCH a sales order; not retried on 5xx/timeouts unless ``idempotent``, as PATCH is not.

        Pass ``idempotent=True`` only for bodies that set absolute values (a hold reason, a comment, a
        date): sending one twice after a lost answer leaves the order as one successful PATCH would.
        """
        response = self._core.request(
            "PATCH",
            f"{self.path}/{order_id}",
            json=_body(changes, SalesOrderUpdate),
            retry_transient=True if idempotent else None,
        )
        body = json_or_none(response)
        return SalesOrder.model_validate(body) if body else None

    def raw(self, order_id: int) -> JsonObject:
        """The order as Wawi sent it, for readers that tolerate unruly values (``orders_frame``)."""
        body = self._core.get_json(f"{self.path}/{order_id}")
        return dict(body) if isinstance(body, Mapping) else {}

    def raw_line_items(self, order_id: int) -> builtins.list[Any]:
        """The order's lines as Wawi sent them: one bad value must not make the whole order unreadable."""
        return unwrap_items(self._core.get_json(f"{self.path}/{order_id}/lineitems"))

    def find_by_external_numbers(
        self, numbers: Iterable[str], *, created_since: datetime | None = None
    ) -> dict[str, builtins.list[JsonObject]]:
        """Sales orders whose ``ExternalNumber`` (a shop's order number) is one of ``numbers``, raw.

        Wawi filters ``externalOrderNumber`` by one value only. With ``created_since`` the orders created
        since then are listed once and matched here: ``ceil(orders since / pageSize)`` requests, the
        paging lower bound, whatever the count of numbers. Without it, one filtered request per number
        (fewer when only a handful are asked). Numbers Wawi does not have map to ``[]``; a number with
        several orders (an order imported twice) lists them all.
        """
        wanted = {n for n in numbers if n}
        found: dict[str, builtins.list[JsonObject]] = {n: [] for n in wanted}
        if created_since is not None:
            for order in flatten(self.iter_pages(created_since=created_since)):
                number = order.get("ExternalNumber") if isinstance(order, Mapping) else None
                if isinstance(number, str) and number in found:
                    found[number].append(dict(order))
            return found
        for number in sorted(wanted):
            for order in flatten(self.iter_pages(external_order_number=number)):
                if isinstance(order, Mapping) and order.get("ExternalNumber") == number:
                    found[number].append(dict(order))
        return found


@dataclass(frozen=True)
class SkippedRow:
    """A row of a Wawi answer that does not fit its model: left out of the result, with where and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _problem(error: ValidationError) -> str:
    """The first problem of a row in one line: the member and pydantic's message (never the value)."""
    first = error.errors(include_url=False, include_input=False)[0]
    member = ".".join(str(part) for part in first["loc"]) or "row"
    more = error.error_count() - 1
    return f"{member}: {first['msg']}" + (f" (and {more} more)" if more else "")


def typed_rows(
    rows: Sequence[Any], model: type[M], where: str, skipped: builtins.list[SkippedRow] | None
) -> builtins.list[M]:
    """``rows`` as ``model``; a row that is not an object or does not fit is noted in ``skipped``."""
    result: builtins.list[M] = []
    for index, row in enumerate(rows, start=1):
        label = f"{where}, row {index}" + (
            f" (Id {row['Id']})" if isinstance(row, Mapping) and "Id" in row else ""
        )
        if not isinstance(row, Mapping):
            reason = f"not an object but {type(row).__name__}"
        else:
            try:
                result.append(model.model_validate(row))
                continue
            except ValidationError as error:
                reason = _problem(error)
        if skipped is not None:
            skipped.append(SkippedRow(label, reason))
    return result


def _utc(moment: datetime) -> datetime:
    """Wawi's date-times with their offset; one without (an on-premise server's local clock) as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Returns(_Gettable[Return]):
    """``/returns`` (``PagedListOfReturn``, "all non-pending returns") and each return's line items.

    The list has no date filter (only ``returnNumber``, ``customerId``, ``salesOrderId``,
    ``returnStateId``) and no documented order, so :meth:`dated` reads every page and picks the
    period's returns itself. Rows that do not fit the models are left out and noted, not raised.
    """

    path = "/returns"
    model = Return

    def read(
        self,
        *,
        skipped: builtins.list[SkippedRow] | None = None,
        page_size: int | None = None,
        **filters: Any,
    ) -> Iterator[Return]:
        """Every return, page by page, typed; a bad row is noted in ``skipped`` and left out."""
        for number, page in enumerate(self.iter_pages(page_size=page_size, **filters), start=1):
            yield from typed_rows(page, Return, f"GET {self.path} page {number}", skipped)

    def line_items(
        self, return_id: int, *, skipped: builtins.list[SkippedRow] | None = None
    ) -> builtins.list[ReturnLineItem]:
        """``GET /returns/{id}/lineitems``; Wawi's 404 ("No fields could be found.") is no lines."""
        path = f"{self.path}/{return_id}/lineitems"
        try:
            rows = unwrap_items(self._core.get_json(path))
        except NotFound:
            return []
        return typed_rows(rows, ReturnLineItem, f"GET {path}", skipped)

    def dated(
        self, start: datetime, end: datetime, *, skipped: builtins.list[SkippedRow] | None = None
    ) -> Iterator[tuple[Return, builtins.list[ReturnLineItem]]]:
        """The returns with a ``ReturnDate`` in ``[start, end)``, each with its line items.

        ``ceil(returns / pageSize)`` list requests (every page: there is no date filter and no order),
        then one line-item request per return in the window (the list carries no quantities).
        """
        for found in self.read(skipped=skipped):
            if start <= _utc(found.return_date) < end:
                yield found, self.line_items(found.id, skipped=skipped)


class Warehouses(_Paged[Warehouse]):
    """``/warehouses``."""

    path = "/warehouses"
    model = Warehouse


class Categories(_Paged[Category]):
    """``/categories``."""

    path = "/categories"
    model = Category

    def add_items(self, category_id: int, item_ids: Sequence[int]) -> builtins.list[int]:
        """``POST /categories/{id}/items`` (a JSON array of item ids): the ids Wawi assigned (201).

        A POST: never re-sent after a 5xx or timeout; the caller reads the items again to see whether it
        landed (whether Wawi accepts an item already in the category is not documented).
        """
        response = self._core.request(
            "POST", f"{self.path}/{category_id}/items", json=[int(i) for i in item_ids]
        )
        body = json_or_none(response)
        return [int(i) for i in unwrap_items(body) if isinstance(i, int) and not isinstance(i, bool)]


class Properties:
    """``GET /properties`` (one ``PagedListOfProperty``; the spec gives no paging parameters), values."""

    path = "/properties"

    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def list(self) -> builtins.list[Property]:
        """Every property."""
        return [Property.model_validate(p) for p in unwrap_items(self._core.get_json(self.path))]

    def values(self, property_id: int) -> builtins.list[PropertyValue]:
        """``GET /properties/{id}/values``: a plain array."""
        rows = unwrap_items(self._core.get_json(f"{self.path}/{property_id}/values"))
        return [PropertyValue.model_validate(r) for r in rows if isinstance(r, Mapping)]


class Suppliers:
    """``GET /suppliers`` is one of Wawi 1.0's unpaged lists."""

    path = "/suppliers"

    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def list(self) -> builtins.list[Supplier]:
        """All suppliers."""
        return [Supplier.model_validate(item) for item in unwrap_items(self._core.get_json(self.path))]


class PurchaseOrders(_Gettable[PurchaseOrder]):
    """API 2.x: kebab-case path, camelCase JSON and envelope."""

    path = "/v2/purchase-orders"
    model = PurchaseOrder

    def create(self, order: PurchaseOrderCreate | Mapping[str, Any]) -> PurchaseOrder:
        """Create a purchase order with its positions; not retried on 5xx."""
        response = self._core.request("POST", self.path, json=_body(order, PurchaseOrderCreate))
        return PurchaseOrder.model_validate(decode_json(response))


class WawiClient(ApiClient):
    """The JTL-Wawi REST API, on-premise (an app-registration API key) or Cloud (``auth=WawiCloudAuth``).

    ``core`` is rooted at ``base_url`` (the v2 resources); the v1 resources go through a second core
    rooted at ``base_url`` plus the flavour's v1 prefix, sharing the pool, limiter, policy and counters.
    """

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        api_key: SecretStr | None = None,
        app_id: str = "jtl-automator/prefect/v1",
        app_version: str = "1.0.0",
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        auth: WawiAuth | None = None,
        in_flight: InFlightLimit | None = None,
    ) -> None:
        if auth is None:
            if api_key is None:
                raise ValueError("a Wawi API key (on-premise) or an auth strategy (Cloud) is required")
            auth = WawiKeyAuth(api_key, app_id, app_version)
        self.auth = auth
        headers = {"Accept": "application/json", "api-version": "1.0"}
        self.core = HttpCore(
            http,
            base_url,
            auth=auth,
            limiter=limiter,
            retry=retry,
            default_headers=headers,
            in_flight=in_flight,
        )
        v1 = HttpCore(
            http,
            self.core.base_url + auth.v1_prefix,
            auth=auth,
            limiter=limiter,
            retry=self.core.retry,
            default_headers=headers,
            stats=self.core.stats,
            in_flight=in_flight,
        )
        self._v1 = v1
        #: Shared by every paged resource: a ``pageSize`` Wawi refused once is not tried again.
        self.page_size = PageSize(page_size, page_size_refused, what="Wawi pageSize")
        sizes = self.page_size
        self.items = Items(v1, sizes)
        self.stocks = Stocks(v1, sizes)
        self.sales_orders = SalesOrders(v1, sizes)
        self.suppliers = Suppliers(v1)
        self.warehouses = Warehouses(v1, sizes)
        self.categories = Categories(v1, sizes)
        self.returns = Returns(v1, sizes)
        self.properties = Properties(v1)
        self.purchase_orders = PurchaseOrders(self.core, sizes)

    def __repr__(self) -> str:
        return f"WawiClient(base_url={self.core.base_url!r}, auth={self.auth!r})"

    @property
    def read_parallelism(self) -> int:
        """Pages of a list read at once: as many as may be on the wire (1 without such a limit)."""
        return self.core.in_flight.limit if self.core.in_flight is not None else 1

    @property
    def max_in_flight(self) -> int | None:
        """The most requests this client puts on the wire at once (None: no such limit)."""
        return self.core.in_flight.limit if self.core.in_flight is not None else None

    def info(self) -> dict[str, Any]:
        """``GET /info``: version and tenant; a cheap connectivity and licence check."""
        return dict(self._v1.get_json("/info") or {})

    def _array(self, path: str) -> builtins.list[Any]:
        """One of Wawi 1.0's unpaged lists; its 404 ("No fields could be found.") is an empty list."""
        try:
            return unwrap_items(self._v1.get_json(path))
        except NotFound:
            return []

    def manufacturers(self) -> builtins.list[Manufacturer]:
        """``GET /manufacturers``: every manufacturer (a row that is not an object is skipped)."""
        rows = self._array("/manufacturers")
        return [Manufacturer.model_validate(m) for m in rows if isinstance(m, Mapping)]

    def companies(self) -> builtins.list[Company]:
        """``GET /companies``: the merchant's companies (the tax rate lookup needs one)."""
        return [Company.model_validate(c) for c in self._array("/companies")]

    def tax_classes(self) -> builtins.list[TaxClass]:
        """``GET /taxClasses``."""
        return [TaxClass.model_validate(t) for t in self._array("/taxClasses")]

    def tax_rate(self, tax_class_id: int, company_id: int, departure: str, shipment: str) -> TaxRate:
        """``GET /tax/taxclass/{taxClassId}/{companyId}/{departure}/{shipment}``: the VAT rate (percent)."""
        countries = f"{quote(departure, safe='')}/{quote(shipment, safe='')}"
        path = f"/tax/taxclass/{tax_class_id}/{company_id}/{countries}"
        return TaxRate.model_validate(self._v1.get_json(path))

    def sales_channels(self) -> builtins.list[SalesChannel]:
        """``GET /salesChannels``, with what the API may change on each (``item_capabilities``)."""
        return [SalesChannel.model_validate(c) for c in self._array("/salesChannels")]

    def customer_groups(self) -> builtins.list[CustomerGroup]:
        """``GET /customerGroups``."""
        return [CustomerGroup.model_validate(g) for g in self._array("/customerGroups")]

    def return_reasons(
        self, *, skipped: builtins.list[SkippedRow] | None = None
    ) -> builtins.list[ReturnReason]:
        """``GET /returnReasons``: the merchant's return reasons with their names per language."""
        return typed_rows(self._array("/returnReasons"), ReturnReason, "GET /returnReasons", skipped)

    def on_hold_reasons(self) -> builtins.list[Any]:
        """``GET /onHoldReasons``: the merchant's on-hold reasons (``Id``, ``Name``), raw."""
        return unwrap_items(self._v1.get_json("/onHoldReasons"))

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
        in_flight: InFlightLimit | None = None,
    ) -> WawiClient:
        """Client from ``jtl_automator.settings.Settings``, in its ``wawi_flavour``.

        On-premise needs ``JTL_WAWI_API_KEY``; Cloud ``JTL_WAWI_CLIENT_ID``, ``JTL_WAWI_CLIENT_SECRET``
        and ``JTL_WAWI_TENANT_ID``. At most ``JTL_WAWI_MAX_IN_FLIGHT`` requests are on the wire at once.
        """
        http = http or httpx.Client(timeout=settings.http_timeout_seconds)
        retry = RetryPolicy.from_settings(settings, "http")
        auth = wawi_auth(settings, http, retry)
        limiter = limiter or RateLimiter(
            settings.wawi_rate_per_second, burst=max(1, int(settings.wawi_rate_per_second))
        )
        return cls(
            http,
            settings.wawi_base_url,
            limiter=limiter,
            retry=retry,
            auth=auth,
            page_size=settings.wawi_page_size,
            in_flight=in_flight or InFlightLimit(settings.wawi_max_in_flight),
        )
