"""JTL-FFN merchant API client: ``ffn.products.list(...)``, ``ffn.outbounds.create(...)``, ...

Reference: https://ffn.api.jtl-software.com/api/swagger (fulfiller spec: same models, /merchant paths).
"""

from __future__ import annotations

import builtins
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from jtl_automator.clients.errors import JtlApiError, TransientError, ValidationFailed, failure_reason
from jtl_automator.clients.ffn.auth import FfnTokenManager, TokenProvider, TokenStore
from jtl_automator.clients.ffn.models import (
    FfnModel,
    FfnWriteModel,
    Inbound,
    InboundCreate,
    Outbound,
    OutboundCreate,
    OutboundShippingNotification,
    Product,
    ProductCreate,
    ProductUpdate,
    Stock,
    User,
    Warehouse,
    WarehouseStock,
)
from jtl_automator.clients.http import ApiClient, HttpCore, json_or_none
from jtl_automator.clients.json_body import decode_json
from jtl_automator.clients.pagination import (
    JsonObject,
    Page,
    PageSize,
    chunked,
    flatten,
    iterate_odata,
    iterate_odata_parallel,
    iterate_updates,
)
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.resilience import InFlightLimit, RateLimiter, Retry, RetryPolicy, call_with_retry

logger = correlated_logger("jtl_automator.ffn")

MERCHANT = "/v1/merchant"
DEFAULT_TOP = 1000
#: ``eq`` clauses per ``$filter`` request: a quoted id is ~20 characters, so URLs stay well below limits.
FILTER_CLAUSES_MAX = 40
M = TypeVar("M", bound=FfnModel)
W = TypeVar("W", bound=FfnWriteModel)


def odata_quote(value: str) -> str:
    """An OData string literal: single quotes doubled, so a value can never end the literal early."""
    return "'" + value.replace("'", "''") + "'"


def any_of_filters(fields: Sequence[str], values: Iterable[str]) -> Iterator[tuple[Sequence[str], str]]:
    """``$filter`` expressions matching any value in any field, chunked to ``FILTER_CLAUSES_MAX`` clauses.

    Yields (the chunk's values, its filter), so a caller can drop objects the server matched loosely.
    """
    wanted = sorted(set(values))
    per_request = max(1, FILTER_CLAUSES_MAX // max(1, len(fields)))
    for chunk in chunked(wanted, per_request):
        clauses = [f"{field} eq {odata_quote(value)}" for value in chunk for field in fields]
        yield chunk, " or ".join(clauses)


#: The OData query parameters a validation answer may name (lower case, as compared).
_QUERY_PARAMETERS = frozenset({"$top", "$skip", "$filter", "$orderby", "$select"})


def top_refused(error: Exception) -> bool:
    """Whether a 400 refuses ``$top`` (FFN documents no maximum; its validation envelope names it).

    Only a validation answer that names ``$top`` and no other query parameter counts: a bad
    ``$filter`` or ``$skip`` must not be taken for a page size and silently retried.
    """
    if not isinstance(error, JtlApiError) or error.status != 400:
        return False
    named = {str(key).lower() for key in error.metadata}
    mentioned = {name for name in _QUERY_PARAMETERS if any(name in m.lower() for m in error.messages)}
    named |= mentioned
    return "$top" in named and not named & (_QUERY_PARAMETERS - {"$top"})


_LITERAL = re.compile(r"'(?:[^']|'')*'")
_OR_WORD = re.compile(r"\bor\b", re.IGNORECASE)
_NAMES_FILTER = re.compile(r"filter|query", re.IGNORECASE)
_NAMES_OPERATOR = re.compile(r"operator|['\"`]or['\"`]", re.IGNORECASE)


def sends_or(expression: str) -> bool:
    """Whether a ``$filter`` uses the ``or`` operator (outside its string literals)."""
    return bool(_OR_WORD.search(_LITERAL.sub("''", expression)))


def refuses_or_filter(error: BaseException, expression: str | None) -> bool:
    """Whether ``error`` is FFN refusing the ``or`` of ``expression`` (and not any other 400).

    FFN documents only ``eq`` and ``and`` for ``$filter``. A refusal is a 400 validation error answering
    a filter that used ``or``, whose message speaks of the filter (or query) and of an operator (the word,
    or ``'or'`` quoted). An unknown field, a bad ``$top`` or a rejected body says neither, so it is raised.
    Only the messages are read: the metadata echoes the filter, which always contains ``or``.
    """
    if not isinstance(error, ValidationFailed) or error.status != 400 or not expression:
        return False
    if not sends_or(expression):
        return False
    text = " ".join(error.messages)
    return bool(_NAMES_FILTER.search(text) and _NAMES_OPERATOR.search(text))


class OrFilterDetection:
    """Whether this process has seen FFN refuse ``or`` in ``$filter``: learnt once, then eq lookups only.

    One flag per process (FFN is one service), set under a lock so concurrent lookups log it once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused = False

    @property
    def refused(self) -> bool:
        """True once FFN answered an ``or`` chain with its validation error."""
        return self._refused

    def refuse(self, error: BaseException) -> None:
        """Remember the refusal; only the first caller logs it."""
        with self._lock:
            if self._refused:
                return
            self._refused = True
        logger.warning(
            "FFN refused 'or' in $filter (%s); from now on each value is looked up with its own 'eq' filter",
            error,
        )

    def reset(self) -> None:
        """Forget the refusal (tests: every sandbox starts with a process that has learnt nothing)."""
        with self._lock:
            self._refused = False


#: The process-wide detection :meth:`_Collection.matching` consults.
OR_FILTERS = OrFilterDetection()


def reset_or_filter_detection() -> None:
    """Forget that FFN refused ``or`` filters, so the next lookup tries the chain again."""
    OR_FILTERS.reset()


class BearerAuth:
    """``Authorization: Bearer`` from a token provider; a 401 invalidates that token for one retry."""

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider

    def headers(self) -> dict[str, str]:
        """Bearer header with a token that is valid now (refreshing first if needed)."""
        return {"Authorization": f"Bearer {self.provider.access_token()}"}

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """Invalidate the rejected token so the single retry uses a fresh one."""
        value = sent_headers.get("Authorization", "")
        if value.startswith("Bearer "):
            self.provider.invalidate(value[len("Bearer ") :])
        return True


def _body(payload: BaseModel | Mapping[str, Any], model: type[W]) -> dict[str, Any]:
    """Validate what we send against the write model, whatever form the caller used."""
    if not isinstance(payload, model):
        payload = model.model_validate(
            dict(payload) if isinstance(payload, Mapping) else payload.model_dump()
        )
    return payload.to_api()


class _Collection(Generic[M]):
    """An OData collection: lazy pages of dicts (``iter_pages``) or of models (``list``)."""

    path: str
    model: type[M]
    key_path: str | None = None

    def __init__(self, core: HttpCore, page_size: PageSize) -> None:
        self._core = core
        self._page_size = page_size

    def iter_pages(
        self,
        *,
        filter: str | None = None,
        top: int | None = None,
        order_by: str | None = None,
        select: str | None = None,
        params: Mapping[str, Any] | None = None,
        path: str | None = None,
        parallel: int = 1,
        expected_items: int | None = None,
    ) -> Iterator[Page]:
        """Raw pages (lists of dicts as FFN sent them): the fast path for bulk reads.

        ``top`` (default: the client's page size) is lowered when FFN refuses it as too large. With
        ``parallel`` > 1 the pages after the first are read that many at a time (still in order; the
        client's rate and in-flight limits hold them); with ``expected_items`` too (the collection's size
        when it was last read) the pages it implies are asked for beside the first, not after its answer
        (the first page still decides how many there are).
        """
        query: dict[str, Any] = dict(params or {})
        for key, value in (("$filter", filter), ("$orderBy", order_by), ("$select", select)):
            if value is not None:
                query[key] = value
        target = path or self.path

        def fetch(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
            if link:
                body = self._core.get_json(link)
            else:
                body = self._core.get_json(target, {**query, "$top": top, "$skip": skip})
            if isinstance(body, list):  # a few merchant endpoints answer with a bare array
                return {"items": body, "count": skip + len(body)}
            return body or {}

        sizes = self._page_size
        if parallel > 1:
            return iterate_odata_parallel(
                fetch,
                sizes.start(top or None),
                workers=parallel,
                what=f"GET {target}",
                sizes=sizes,
                wrap=in_context,
                expected_items=expected_items,
            )
        return iterate_odata(fetch, sizes.start(top or None), what=f"GET {target}", sizes=sizes)

    def list(self, **kwargs: Any) -> Iterator[M]:
        """Objects one by one as models; accepts the same filters as :meth:`iter_pages`."""
        validate = self.model.model_validate
        for item in flatten(self.iter_pages(**kwargs)):
            yield validate(item)

    def matching(self, fields: Sequence[str], values: Iterable[str]) -> Iterator[JsonObject]:
        """Raw objects whose ``fields`` equal one of ``values`` (chunked ``$filter`` requests).

        Only objects that really carry one of the chunk's values are yielded, whatever the server matched.
        A chunk is one ``or`` chain until FFN refuses ``or`` (:func:`refuses_or_filter`); the refused
        chunk and every later one are then looked up one ``eq`` filter per value and field, with the same
        result: each object once per chunk.
        """
        for chunk, expression in any_of_filters(fields, values):
            if OR_FILTERS.refused and sends_or(expression):
                yield from self._matching_each(fields, chunk)
                continue
            wanted = set(chunk)
            yielded = refused = False
            try:
                for item in flatten(self.iter_pages(filter=expression)):
                    if any(str(item.get(field) or "").strip() in wanted for field in fields):
                        yielded = True
                        yield item
            except ValidationFailed as exc:
                # A refusal arrives with the first page; after a yielded page a redo would repeat objects.
                if yielded or not refuses_or_filter(exc, expression):
                    raise
                OR_FILTERS.refuse(exc)
                refused = True
            if refused:  # the refused chunk again, so no result is lost
                yield from self._matching_each(fields, chunk)

    def _matching_each(self, fields: Sequence[str], chunk: Sequence[str]) -> Iterator[JsonObject]:
        """One chunk of :meth:`matching` without ``or``: a paged ``eq`` lookup per (value, field).

        An object that equals several of the chunk's pairs is yielded for the first of them only, as the
        ``or`` chain would have returned it once.
        """
        pairs = [(value, field) for value in chunk for field in fields]
        for index, (value, field) in enumerate(pairs):
            earlier = pairs[:index]
            for item in flatten(self.iter_pages(filter=f"{field} eq {odata_quote(value)}")):
                if str(item.get(field) or "").strip() != value:
                    continue
                if any(str(item.get(f) or "").strip() == v for v, f in earlier):
                    continue
                yield item

    def get(self, key: str) -> M:
        return self.model.model_validate(self._core.get_json(f"{self.path}/{key}"))


class Products(_Collection[Product]):
    """``/merchant/products``: the catalogue the fulfillers see; ``merchantSku`` is the merchant's key."""

    path = f"{MERCHANT}/products"
    model = Product

    def create(self, product: ProductCreate | Mapping[str, Any], *, check_existing: bool = False) -> Product:
        """Create a product at most once per ``merchantSku``; FFN answers 201 with the generated jfsku.

        As for outbounds, a POST is never blindly repeated: after a transient failure (or a duplicate-key
        answer to a repeat) the merchantSku is looked up first and the product the lost answer had created
        is returned. With ``check_existing`` the lookup also runs before the first POST. FFN does not
        document merchantSku as unique; when several products carry it the lookup refuses to choose
        (:class:`ValidationFailed` naming them).
        """
        body = _body(product, ProductCreate)
        sku = str(body["merchantSku"])
        if check_existing and (existing := self.find_by_merchant_sku(sku)) is not None:
            return existing
        policy = self._core.retry
        posting = False

        def post_once(attempt: int) -> Product:
            nonlocal posting
            posting = False
            if attempt > 1:
                existing = self.find_by_merchant_sku(sku)
                if existing is not None:
                    logger.info("product %s was created despite a transient error; reusing it", sku)
                    return existing
                logger.warning("product %s not found after a transient error; re-sending", sku)
            posting = True
            try:
                response = self._core.request("POST", self.path, json=body)
            except ValidationFailed as exc:
                posting = False
                if attempt == 1 or exc.code != "Shared_DuplicateKey":
                    raise
                existing = self.find_by_merchant_sku(sku)
                if existing is None:
                    raise
                return existing
            return Product.model_validate(decode_json(response))

        def classify(error: Exception) -> Retry | None:
            if posting and isinstance(error, TransientError):
                return Retry(failure_reason(error), min_delay=policy.initial_delay)
            return None

        return call_with_retry(post_once, classify, policy, what=f"POST {self.path} {sku}", log=logger)

    def with_merchant_sku(self, merchant_sku: str) -> builtins.list[JsonObject]:
        """Every raw product carrying this merchantSku (``$filter``; FFN may hold more than one)."""
        found = flatten(self.iter_pages(filter=f"merchantSku eq {odata_quote(merchant_sku)}", top=10))
        return [p for p in found if str(p.get("merchantSku") or "").strip() == merchant_sku]

    def find_by_merchant_sku(self, merchant_sku: str) -> Product | None:
        """The product with this merchantSku, None if there is none; two or more are refused, not chosen."""
        found = self.with_merchant_sku(merchant_sku)
        if len(found) > 1:
            jfskus = ", ".join(sorted(str(p.get("jfsku")) for p in found))
            raise ValidationFailed(
                f"merchantSku {merchant_sku!r} is carried by several FFN products ({jfskus})",
                method="GET",
                path=self.path,
                code="AmbiguousMerchantSku",
                metadata={"MerchantSku": merchant_sku, "Jfskus": jfskus},
            )
        return Product.model_validate(found[0]) if found else None

    def find_by_merchant_skus(self, merchant_skus: Iterable[str]) -> dict[str, builtins.list[JsonObject]]:
        """Raw products per merchantSku for these SKUs (one ``$filter`` request per chunk of SKUs).

        SKUs FFN does not know are absent; a SKU several products carry maps to all of them.
        """
        found: dict[str, builtins.list[JsonObject]] = {}
        seen: set[str] = set()
        for product in self.matching(("merchantSku",), merchant_skus):
            jfsku = str(product.get("jfsku"))
            if jfsku not in seen:
                seen.add(jfsku)
                found.setdefault(str(product["merchantSku"]).strip(), []).append(product)
        return found

    def update(
        self, jfsku: str, changes: ProductUpdate | Mapping[str, Any], *, idempotent: bool = False
    ) -> Product | None:
        """PATCH (partial update, camelCase keys; FFN answers 204 or the product).

        Not retried on 5xx or a lost answer unless ``idempotent``: pass it only for bodies of absolute
        values (the product sync's), which leave the product the same however often they arrive.
        """
        body = json_or_none(
            self._core.request(
                "PATCH",
                f"{self.path}/{jfsku}",
                json=_body(changes, ProductUpdate),
                retry_transient=True if idempotent else None,
            )
        )
        return Product.model_validate(body) if body else None

    def authorize(self, jfsku: str, fulfiller_id: str) -> bool:
        """Let a fulfiller see (and stock) this product; False when it was authorised already.

        ``POST /merchant/products/{jfsku}/authorizations {"fulfillerId"}``. Granting the same fulfiller
        twice leaves the product as granting it once, so the request is repeated after a lost answer; a
        duplicate-key answer (the grant exists) counts as done.
        """
        try:
            self._core.request(
                "POST",
                f"{self.path}/{jfsku}/authorizations",
                json={"fulfillerId": fulfiller_id},
                retry_transient=True,
            )
        except ValidationFailed as exc:
            if exc.code == "Shared_DuplicateKey":
                return False
            raise
        return True


class Stocks(_Collection[Stock]):
    """``/merchant/stocks``: one row per jfsku with a per-warehouse breakdown."""

    path = f"{MERCHANT}/stocks"
    model = Stock

    def updates(self, from_date: datetime, to_date: datetime) -> Iterator[dict[str, Any]]:
        """Stock changes in ``[from_date, to_date)`` as raw dicts (StockChange objects)."""
        return flatten(_updates(self._core, f"{self.path}/updates", from_date, to_date))

    def changes(self, *, date: datetime | None = None, filter: str | None = None) -> Iterator[dict[str, Any]]:
        """Every StockChange (``/stocks/changes``, OData-paged), oldest first, as raw dicts.

        ``date`` asks for the log as it stood then; ``filter`` takes FFN's StockChange fields
        (``changeType``, ``stockChangeId/jfsku``, ``outboundItem/outboundId``, ...).
        """
        params = {"date": date.isoformat()} if date is not None else None
        return flatten(self.iter_pages(filter=filter, params=params, path=f"{self.path}/changes"))

    def in_warehouse(self, warehouse_id: str) -> Iterator[WarehouseStock]:
        """Every product's stock in one warehouse (``/stocks/warehouse/{warehouseId}``, paged)."""
        path = f"{self.path}/warehouse/{quote(warehouse_id, safe='')}"
        for item in flatten(self.iter_pages(path=path)):
            yield WarehouseStock.model_validate(item)

    def as_of(self, date: datetime) -> Iterator[Stock]:
        """Every Stock as it stood at ``date`` (FFN's ``date`` parameter on ``/stocks``)."""
        return self.list(params={"date": date.isoformat()})


class Inbounds(_Collection[Inbound]):
    """``/merchant/inbounds``: goods on their way to a fulfiller."""

    path = f"{MERCHANT}/inbounds"
    model = Inbound
    #: Above this many references one listing of all inbounds costs fewer requests than filter chunks.
    FILTERED_REFERENCES_MAX = 100

    def find_by_references(self, references: Iterable[str]) -> builtins.list[JsonObject]:
        """Raw inbounds whose ``inboundId`` or ``merchantInboundNumber`` is one of ``references``.

        Inbounds sharing a merchant number are all returned; each inbound once.
        """
        return builtins.list(self.iter_by_references(references))

    def iter_by_references(self, references: Iterable[str]) -> Iterator[JsonObject]:
        """:meth:`find_by_references` page by page: only one page of inbounds is held at a time."""
        refs = {r.strip() for r in references if r and r.strip()}
        if not refs:
            return
        fields = ("inboundId", "merchantInboundNumber")
        if len(refs) > self.FILTERED_REFERENCES_MAX:
            found: Iterable[JsonObject] = (
                i
                for i in flatten(self.iter_pages())
                if any(str(i.get(f) or "").strip() in refs for f in fields)
            )
        else:
            found = self.matching(fields, refs)
        seen: set[str] = set()
        for inbound in found:
            key = str(inbound.get("inboundId"))
            if key not in seen:
                seen.add(key)
                yield inbound

    def create(self, inbound: InboundCreate | Mapping[str, Any]) -> Inbound:
        """Announce goods to a warehouse; not retried on 5xx (POST)."""
        response = self._core.request("POST", self.path, json=_body(inbound, InboundCreate))
        return Inbound.model_validate(decode_json(response))


class Outbounds(_Collection[Outbound]):
    """``/merchant/outbounds``: shipment orders."""

    path = f"{MERCHANT}/outbounds"
    model = Outbound

    def create(
        self,
        outbound: OutboundCreate | Mapping[str, Any],
        *,
        oversale: bool | None = None,
        check_existing: bool = False,
    ) -> Outbound:
        """Create an outbound at most once per ``merchantOutboundNumber``.

        A POST is never blindly repeated: after a transient failure (or a duplicate-key answer) we look
        the number up first and return the outbound the lost response had created. With
        ``check_existing`` the lookup also runs before the first POST (reruns after a crash).
        """
        body = _body(outbound, OutboundCreate)
        number = str(body["merchantOutboundNumber"])
        params = {"oversale": str(oversale).lower()} if oversale is not None else None
        if check_existing and (existing := self.find_by_merchant_number(number)) is not None:
            return existing
        policy = self._core.retry
        posting = False  # only a failed POST is retried here; a failed lookup is raised as it is

        def post_once(attempt: int) -> Outbound:
            nonlocal posting
            posting = False
            if attempt > 1:
                existing = self.find_by_merchant_number(number)
                if existing is not None:
                    logger.info("outbound %s was created despite a transient error; reusing it", number)
                    return existing
                logger.warning("outbound %s not found after a transient error; re-sending", number)
            posting = True
            try:
                response = self._core.request("POST", self.path, json=body, params=params)
            except ValidationFailed as exc:
                posting = False
                if attempt == 1 or exc.code != "Shared_DuplicateKey":
                    raise
                existing = self.find_by_merchant_number(number)
                if existing is None:
                    raise
                return existing
            return Outbound.model_validate(decode_json(response))

        def classify(error: Exception) -> Retry | None:
            if posting and isinstance(error, TransientError):
                # At least initial_delay: let a slow first POST finish before we look the number up.
                return Retry(failure_reason(error), min_delay=policy.initial_delay)
            return None

        return call_with_retry(post_once, classify, policy, what=f"POST {self.path} {number}", log=logger)

    def find_by_merchant_number(self, merchant_outbound_number: str) -> Outbound | None:
        """The outbound with this merchant number, if any (``$filter`` on ``merchantOutboundNumber``)."""
        found = self.list(filter=f"merchantOutboundNumber eq {odata_quote(merchant_outbound_number)}", top=2)
        return next(iter(found), None)

    def find_by_merchant_numbers(self, numbers: Iterable[str]) -> dict[str, JsonObject]:
        """Raw outbounds that exist for these merchantOutboundNumbers: the lookup before creating a batch.

        One request per ``FILTER_CLAUSES_MAX`` numbers instead of one per order, or one per number once
        FFN has refused ``or`` filters (see :meth:`matching`).
        """
        found: dict[str, JsonObject] = {}
        for outbound in self.matching(("merchantOutboundNumber",), numbers):
            found[str(outbound["merchantOutboundNumber"]).strip()] = outbound
        return found

    def updates(
        self, from_date: datetime, to_date: datetime, *, ignore_own_application_id: bool = False
    ) -> Iterator[Outbound]:
        """Outbounds changed in ``[from_date, to_date)`` (full objects, chunk by chunk)."""
        extra = {"ignoreOwnApplicationId": "true"} if ignore_own_application_id else None
        for item in flatten(_updates(self._core, f"{self.path}/updates", from_date, to_date, extra)):
            yield Outbound.model_validate(item)

    def update(self, outbound_id: str, changes: Mapping[str, Any]) -> None:
        """PATCH an outbound while FFN still allows it (a new address, ``status: Canceled``).

        Our changes set absolute values, so the client may repeat the PATCH after a 5xx or a lost answer;
        a 400 says the outbound has moved on (picked, shipped) and is raised as ``ValidationFailed``.
        """
        self._core.request("PATCH", f"{self.path}/{outbound_id}", json=dict(changes), retry_transient=True)

    def shipping_notifications(self, outbound_id: str) -> builtins.list[OutboundShippingNotification]:
        """What the fulfiller shipped for this outbound (tracking numbers per package)."""
        body = self._core.get_json(f"{self.path}/{outbound_id}/shipping-notifications")
        items = body.get("items", []) if isinstance(body, Mapping) else body or []
        return [OutboundShippingNotification.model_validate(item) for item in items]


class Warehouses(_Collection[Warehouse]):
    """``/merchant/warehouses``."""

    path = f"{MERCHANT}/warehouses"
    model = Warehouse


class Users:
    """``/users/current``."""

    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def current(self) -> User:
        """The FFN user behind the token; 404 means the user never logged into the portal."""
        return User.model_validate(self._core.get_json("/v1/users/current"))


def _updates(
    core: HttpCore,
    path: str,
    from_date: datetime,
    to_date: datetime,
    extra: Mapping[str, Any] | None = None,
) -> Iterator[Page]:
    def fetch(url: str | None, params: Mapping[str, Any] | None) -> Mapping[str, Any]:
        return core.get_json(url or path, None if url else params) or {}

    return iterate_updates(fetch, from_date, to_date, extra_params=extra, what=f"GET {path}")


class FfnClient(ApiClient):
    """The JTL-FFN merchant API. Pass an ``httpx.Client`` (tests: one with a mock or ASGI transport)."""

    def __init__(
        self,
        http: httpx.Client,
        token_provider: TokenProvider,
        base_url: str,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        *,
        page_size: int = DEFAULT_TOP,
        in_flight: InFlightLimit | None = None,
    ) -> None:
        self.core = HttpCore(
            http,
            base_url,
            auth=BearerAuth(token_provider),
            limiter=limiter,
            retry=retry,
            default_headers={"Accept": "application/json"},
            in_flight=in_flight,
        )
        self.token_provider = token_provider
        #: Shared by every collection: a ``$top`` FFN refused once is not tried again.
        self.page_size = PageSize(page_size, top_refused, what="FFN $top")
        self.products = Products(self.core, self.page_size)
        self.stocks = Stocks(self.core, self.page_size)
        self.inbounds = Inbounds(self.core, self.page_size)
        self.outbounds = Outbounds(self.core, self.page_size)
        self.warehouses = Warehouses(self.core, self.page_size)
        self.users = Users(self.core)

    def __repr__(self) -> str:
        return f"FfnClient(base_url={self.core.base_url!r})"

    @property
    def read_parallelism(self) -> int:
        """Pages of a bulk read fetched at once: as many as may be on the wire (1 without such a limit)."""
        return self.core.in_flight.limit if self.core.in_flight is not None else 1

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        store: TokenStore,
        *,
        http: httpx.Client | None = None,
        token_http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
        in_flight: InFlightLimit | None = None,
    ) -> FfnClient:
        """Client from ``jtl_automator.settings.Settings`` and a token store (the state database).

        At most ``JTL_FFN_MAX_IN_FLIGHT`` requests are on the wire at once.
        """
        if not settings.ffn_client_id or settings.ffn_client_secret is None:
            raise ValueError("JTL_FFN_CLIENT_ID and JTL_FFN_CLIENT_SECRET are required for the FFN client")
        http = http or httpx.Client(timeout=settings.http_timeout_seconds)
        retry = RetryPolicy.from_settings(settings, "http")
        tokens = FfnTokenManager(
            token_http or http,
            settings.ffn_token_url,
            settings.ffn_client_id,
            settings.ffn_client_secret,
            store,
            settings.ffn_refresh_token,
            retry=retry,
        )
        limiter = limiter or RateLimiter(
            settings.ffn_rate_per_second, burst=max(1, int(settings.ffn_rate_per_second))
        )
        return cls(
            http,
            tokens,
            settings.ffn_base_url,
            limiter=limiter,
            retry=retry,
            page_size=settings.ffn_page_size,
            in_flight=in_flight or InFlightLimit(settings.ffn_max_in_flight),
        )
