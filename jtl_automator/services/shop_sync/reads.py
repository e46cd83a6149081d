"""Stage 1 and 2: what the shop and Wawi say, read in bulk; a side that cannot be read is said so.

Shop (JTL-Shop REST, read-only, cursor paging):

- orders after the cursor kept in the state database (``GET /order?cursor=``), and one ``GET /cart/{id}``
  per new order for its lines; with ``order_recheck_hours`` the pages of that window's orders are read
  again (no carts), so an order the shop cancels after Wawi pulled it is seen;
- every product page (``GET /product``): each row carries its stock per warehouse and its prices.

So a run costs ``ceil(products / limit) + ceil(new orders / limit) + new orders`` shop requests (plus one
empty page where a count is a multiple of the limit: the shop sends no totals), and the recheck's pages.

Wawi (REST, pageNumber paging): the followed orders by external number (one listing since the oldest of
them, or one request per number when there are few), every item (base prices, SKUs), every stock row,
the sales channels (one array), and the sales-channel prices of the items that need them (one request
per item: the API has no bulk read), cached in the state database by the item's ``Changed``.

Reads that do not depend on each other overlap (each client's in-flight limit caps what reaches its
server): the carts of a page are read ``read_workers`` at a time while the next order page is read, the
product pages beside the order pages, and from the run's start Wawi's item pages, stock pages and sales
channels beside the shop's reads (they need nothing the shop says; each listing's pages after the first
as many at a time as Wawi may have on the wire). What needs the shop's answers follows as soon as they
are in: the order lookup once the shop's orders are (the orders looked up by number ``read_workers`` at
a time), the channel prices ``read_workers`` at a time once the shop's products and Wawi's items are
(the stock pages may still be coming). A
cursor's pages stay one after the other: each needs the last key of the one before (the next page is
asked for as soon as a page's tail names that key, before the page is decoded), and each product page
becomes plain columns as it arrives, so no catalogue of models builds up.

A read that fails after the client's retries (the shop or Wawi down) leaves its part unread with the
reason; the checks that need it are not run and their incidents are left as they are. Refused
credentials stop the run (they will not heal by themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from threading import Semaphore
from typing import Any, Protocol, TypeVar

import pandas as pd

from jtl_automator.clients.errors import AuthError, ClientError, JtlApiError
from jtl_automator.clients.hedged import hedged_map, readers
from jtl_automator.clients.pagination import flatten
from jtl_automator.clients.shop.models import ShopCart, ShopOrder, ShopPage, ShopProduct, SkippedShopRow
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.services.shop_sync.params import ShopSyncParams
from jtl_automator.store.shop_sync import FollowedOrder, ShopSyncStore, WawiMatch
from jtl_automator.transforms import shop_sync as t

log = correlated_logger("jtl_automator.shop_sync")


class ShopReader(Protocol):
    """What the check reads from the shop (``jtl_automator.clients.shop.ShopClient`` offers it)."""

    def iter_orders(self, after_id: int = 0, page_size: int | None = None) -> Iterator[ShopPage[ShopOrder]]:
        """Orders after ``after_id``, page by page."""
        ...

    def get_cart(self, cart_id: int) -> ShopCart:
        """One order's cart with its lines."""
        ...

    def iter_product_pages(
        self, page_size: int | None = None, *, after_id: int = 0
    ) -> Iterator[ShopPage[ShopProduct]]:
        """Every product, page by page."""
        ...


T = TypeVar("T")
R = TypeVar("R")


def bounded_map(fn: Callable[[T], R], items: Sequence[T], workers: int, name: str) -> list[R]:
    """``fn`` over ``items``, at most ``workers`` at once, results in order.

    The first error is raised once the calls already running are done; calls not started are dropped.
    """
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    try:
        return list(pool.map(in_context(fn), items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def problem(system: str, error: Exception) -> str:
    """Why a side could not be read, in one line that names no secret."""
    status = getattr(error, "status", None)
    return f"{system} could not be read ({type(error).__name__}{f' {status}' if status else ''}): {error}"


@dataclass
class ShopOrders:
    """The shop's orders of this run: new ones (with lines) and the recheck window's (state only)."""

    ok: bool = True
    problem: str | None = None
    new: list[FollowedOrder] = field(default_factory=list)
    reread: list[FollowedOrder] = field(default_factory=list)
    cursor: int = 0  # the last order id read (the next run reads after it)
    start: int = 0  # the cursor the run read from
    notes: list[str] = field(default_factory=list)
    pages: int = 0
    carts: int = 0


@dataclass
class ShopCatalogue:
    """Every shop product as three frames (stock, per-warehouse stock, prices)."""

    ok: bool = True
    problem: str | None = None
    products: pd.DataFrame = field(default_factory=lambda: t.shop_products_frames([])[0])
    warehouse_stock: pd.DataFrame = field(default_factory=lambda: t.shop_products_frames([])[1])
    prices: pd.DataFrame = field(default_factory=lambda: t.shop_products_frames([])[2])
    skipped: list[SkippedShopRow] = field(default_factory=list)
    pages: int = 0


@dataclass
class ShopInputs:
    """What the shop said, and the orders the state database already followed."""

    orders: ShopOrders
    catalogue: ShopCatalogue
    followed: list[FollowedOrder]
    now: datetime


@dataclass
class WawiInputs:
    """What Wawi said: its orders for the followed numbers, available stock, prices."""

    orders_ok: bool = True
    orders_problem: str | None = None
    matches: dict[str, WawiMatch] = field(default_factory=dict)
    stock_ok: bool = True
    stock_problem: str | None = None
    available: pd.DataFrame = field(default_factory=lambda: t.wawi_available_frame([], []))
    prices_ok: bool = True
    prices_problem: str | None = None
    items: pd.DataFrame = field(default_factory=lambda: t.wawi_prices_frame([]))
    channel: pd.DataFrame = field(default_factory=lambda: t.channel_prices_frame({}, ""))
    sales_channel: str | None = None
    known_items: set[int] = field(default_factory=set)
    channel_reads: dict[int, tuple[str | None, list[dict[str, Any]]]] = field(default_factory=dict)
    unverified_items: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    lookup: str = ""  # how the orders were looked up: "listing since …" or "N by number"


# -- the shop -------------------------------------------------------------------------------------------


def _followed(order: ShopOrder, lines: list[dict[str, Any]] | None) -> FollowedOrder | None:
    number, created = (order.order_no or "").strip(), order.created
    if not number or created is None:
        return None
    return FollowedOrder(
        shop_order_id=order.id,
        order_no=number,
        created_at=created,
        state=order.state.value if order.state is not None else None,
        cart_id=order.cart_id,
        total=order.total,
        lines=lines,
    )


def read_shop_orders(
    shop: ShopReader,
    sync: ShopSyncStore,
    params: ShopSyncParams,
    now: datetime,
    cart_slots: Semaphore | None = None,
) -> ShopOrders:
    """New orders after the cursor (with their carts) and the recheck window's pages (states only).

    ``cart_slots``: how many carts may be read at once (default: ``read_workers``); see :func:`read_inputs`.
    """
    out = ShopOrders()
    cursor = sync.order_cursor()
    start = cursor
    if params.order_recheck_hours > 0 and cursor:
        first = sync.first_order_id_since(now - timedelta(hours=params.order_recheck_hours))
        if first is not None:
            start = min(cursor, first - 1)
    out.start, out.cursor = start, cursor
    pool = ThreadPoolExecutor(max_workers=params.read_workers, thread_name_prefix="shop-carts")
    slots = cart_slots if cart_slots is not None else Semaphore(params.read_workers)

    def cart(order: ShopOrder) -> tuple[list[dict[str, Any]] | None, str | None]:
        with slots:
            return _cart(shop, order)

    carts: list[tuple[ShopOrder, Future[tuple[list[dict[str, Any]] | None, str | None]] | None]] = []
    try:
        for page in shop.iter_orders(after_id=start, page_size=params.shop_page_size):
            out.pages += 1
            out.notes.extend(f"shop order row left out: {row}" for row in page.skipped)
            frame = t.shop_orders_frame(page.items)
            for order, bad in zip(page.items, frame["problem"].tolist(), strict=True):
                if bad:
                    out.notes.append(f"shop order {order.id}: {bad}")
                    continue
                if order.id <= cursor:
                    followed = _followed(order, None)
                    if followed is not None:
                        out.reread.append(followed)
                    continue
                # the cart is read by the pool while the loop goes on to the next page
                carts.append((order, pool.submit(in_context(cart), order) if order.cart_id else None))
            out.cursor = max(out.cursor, page.cursor)
        for order, pending in carts:
            lines, note = pending.result() if pending is not None else (None, None)
            out.carts += pending is not None
            if note:
                out.notes.append(note)
            followed = _followed(order, lines)
            assert followed is not None  # orders without number or date were set aside before
            out.new.append(followed)
    except AuthError:
        raise
    except JtlApiError as error:
        out.ok, out.problem = False, problem("the shop's orders", error)
        out.new, out.reread, out.cursor = [], [], cursor
        log.warning("%s", out.problem)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def _cart(shop: ShopReader, order: ShopOrder) -> tuple[list[dict[str, Any]] | None, str | None]:
    """An order's cart lines (None when not readable or not countable) and the note saying why."""
    assert order.cart_id
    try:
        found, bad = t.cart_lines(shop.get_cart(order.cart_id))
    except ClientError as error:  # the cart is gone or does not fit: the order is followed without lines
        return None, f"shop order {order.order_no}: cart {order.cart_id} not readable ({error})"
    if bad:
        return None, f"shop order {order.order_no}: cart lines not counted: {bad}"
    return found, None


def read_shop_catalogue(shop: ShopReader, params: ShopSyncParams) -> ShopCatalogue:
    """Every product page (stock and prices come embedded in each product row), typed page by page.

    The catalogue is made once the pages are in: its empty default frames (pandera's first use in the
    process) would otherwise delay the first page's request.
    """
    # each page becomes plain columns while the next one is on its way; no page's models are kept
    columns = t.ShopProductColumns()
    pages, skipped = 0, []
    try:
        for page in shop.iter_product_pages(params.shop_page_size):
            pages += 1
            columns.add(page.items)
            skipped.extend(page.skipped)
    except AuthError:
        raise
    except JtlApiError as error:
        out = ShopCatalogue(ok=False, problem=problem("the shop's products", error), skipped=skipped)
        out.pages = pages
        log.warning("%s", out.problem)
        return out
    products, warehouse_stock, prices = columns.frames()
    return ShopCatalogue(
        products=products, warehouse_stock=warehouse_stock, prices=prices, skipped=skipped, pages=pages
    )


# -- Wawi -----------------------------------------------------------------------------------------------


def lookup_plan(
    orders: Sequence[FollowedOrder], params: ShopSyncParams, now: datetime
) -> tuple[list[str], datetime | None]:
    """Which numbers to ask Wawi one by one, and from when to list Wawi's orders for the rest.

    Few numbers: one request each. Many: one listing since the oldest one's date (less the slack), at the
    paging bound. A few old stuck orders would stretch that listing over days, so orders older than a day
    go one by one when they fit the per-number budget and the listing covers the newer rest; when there
    are more old ones than that (a first run, a long outage), one listing covers them all.
    """
    numbers = sorted(orders, key=lambda o: o.created_at)
    budget = params.wawi_lookup_per_number_max
    if len(numbers) <= budget:
        return [o.order_no for o in numbers], None
    cut = now - timedelta(days=1)
    old = [o for o in numbers if o.created_at < cut]
    if len(old) > budget or len(old) == len(numbers):
        old = []  # many old ones (a first run, a long outage): one listing over all is cheaper
    rest = numbers[len(old) :]
    since = rest[0].created_at - timedelta(minutes=params.wawi_lookup_slack_minutes)
    return [o.order_no for o in old], since


def merged_orders(shop: ShopInputs) -> list[FollowedOrder]:
    """The followed orders as the state database has them, with this run's reads on top, oldest first."""
    return _merged(shop.orders, shop.followed)


def _merged(orders: ShopOrders, followed: Sequence[FollowedOrder]) -> list[FollowedOrder]:
    by_id: dict[int, FollowedOrder] = {o.shop_order_id: o for o in followed}
    for order in orders.reread:
        known = by_id.get(order.shop_order_id)
        by_id[order.shop_order_id] = order if known is None else replace(known, state=order.state)
    for order in orders.new:
        by_id.setdefault(order.shop_order_id, order)
    return sorted(by_id.values(), key=lambda o: (o.created_at, o.shop_order_id))


def to_look_up(orders: ShopOrders, followed: Sequence[FollowedOrder]) -> list[FollowedOrder]:
    """Followed and new orders whose Wawi side is not settled.

    That is: not matched yet, or cancelled in the shop while their Wawi order is not (Wawi may have
    cancelled it since).
    """
    return [
        o
        for o in _merged(orders, followed)
        if o.wawi_order_id is None or (o.state == t.SHOP_CANCELLED and o.wawi_status != "cancelled")
    ]


def read_wawi_orders(
    wawi: WawiClient, orders: Sequence[FollowedOrder], params: ShopSyncParams, now: datetime, out: WawiInputs
) -> None:
    """Wawi's sales orders for these shop orders (see :func:`lookup_plan`)."""
    one_by_one, since = lookup_plan(orders, params, now)
    wanted = {o.order_no for o in orders}
    found: dict[str, list[dict[str, Any]]] = {}
    find = wawi.sales_orders.find_by_external_numbers
    # one request per number and the listing for the rest: none needs another's answer, so they go side
    # by side (the client's in-flight limit holds Wawi)
    lookups: list[Callable[[], dict[str, list[dict[str, Any]]]]] = [
        partial(find, [number]) for number in one_by_one
    ]
    if since is not None:
        lookups.append(partial(find, wanted - set(one_by_one), created_since=since))
    try:
        for part in bounded_map(lambda lookup: lookup(), lookups, params.read_workers, "wawi-orders"):
            found.update(part)
    except AuthError:
        raise
    except JtlApiError as error:
        out.orders_ok, out.orders_problem = False, problem("Wawi's sales orders", error)
        log.warning("%s", out.orders_problem)
        return
    out.lookup = f"{len(one_by_one)} by number" + (
        f", the rest listed since {since.isoformat()}" if since else ""
    )
    for number in wanted:
        rows = found.get(number) or []
        if not rows:
            out.matches[number] = WawiMatch(number, None)
            continue
        statuses = [t.wawi_order_status(row) for row in rows]
        status = "open" if "open" in statuses else ("shipped" if "shipped" in statuses else "cancelled")
        live = [r for r, s in zip(rows, statuses, strict=True) if s != "cancelled"] or rows
        out.matches[number] = WawiMatch(number, int(live[0].get("Id") or 0) or None, status)
        if len(rows) > 1:
            out.notes.append(f"shop order {number} is in Wawi {len(rows)} times (imported twice?)")


def shop_channel(wawi: WawiClient, params: ShopSyncParams, notes: list[str]) -> str | None:
    """The shop's Wawi sales channel: the configured one, else Wawi's only online-shop channel."""
    if params.sales_channel_id:
        return params.sales_channel_id
    shops = [c.id for c in wawi.sales_channels() if c.type == 1]
    if len(shops) == 1:
        return shops[0]
    notes.append(
        "no sales channel configured and Wawi has "
        + (f"{len(shops)} online-shop channels" if shops else "no online-shop channel")
        + ": prices are compared with the base price only (set sales_channel_id)"
    )
    return None


@dataclass
class WawiListings:
    """Wawi's reads that need nothing from the shop, under way, and what is made of them alone.

    The item pages, the stock pages (when the stock is checked), the shop's sales channel (when the
    prices are); framed as they come in (``items_frame``, ``available``) and, for the price check, the
    channel prices the cache holds current (``known``): the shop's product pages are a chain of
    seconds, so this work is done while they come instead of after their last page (a steady-state
    check's 0.24 s after that page, 2026-11-28).
    """

    items: Future[list[dict[str, Any]]]
    stock: Future[list[dict[str, Any]]] | None
    channel: Future[str | None] | None
    items_frame: Future[pd.DataFrame]  # the items' base prices (t.wawi_prices_frame)
    available: Future[pd.DataFrame] | None  # the items' available stock (with ``stock``)
    known: Future[KnownChannelPrices | None] | None  # with ``channel`` (None: the shop has no channel)
    notes: list[str] = field(default_factory=list)  # the sales channels' (filled by ``channel``)


@dataclass(frozen=True)
class KnownChannelPrices:
    """The channel prices the cache holds current for the items listed (their ``Changed`` unmoved)."""

    changed: dict[int, Any]  # item id -> its ``Changed`` as listed
    current: dict[int, list[dict[str, Any]]]
    frame: pd.DataFrame  # t.channel_prices_frame of ``current``


def known_channel_prices(
    sync: ShopSyncStore, items: pd.DataFrame, channel: str, params: ShopSyncParams, now: datetime
) -> KnownChannelPrices:
    """The cached channel prices still current for ``items`` (needs nothing from the shop)."""
    changed = dict(zip(items["item_id"].astype(int), items["changed"], strict=True))
    max_age = timedelta(hours=params.channel_price_max_age_hours)
    cached = sync.channel_prices(changed)
    current = {
        item_id: entry.prices
        for item_id, entry in cached.items()
        if entry.changed == (None if pd.isna(changed.get(item_id)) else changed.get(item_id))
        and now - entry.read_at <= max_age
    }
    return KnownChannelPrices(changed, current, t.channel_prices_frame(current, channel))


def start_wawi_listings(
    pool: ThreadPoolExecutor, wawi: WawiClient, params: ShopSyncParams, sync: ShopSyncStore, now: datetime
) -> WawiListings:
    """The item pages, the stock pages and the sales channels started on ``pool`` (a worker each).

    None needs another's answer nor the shop's; each listing's pages after the first go as many at a
    time as Wawi may have on the wire. What is made of them alone follows on three more workers, each
    waiting for its listings (submitted after them, so it never holds a listing back).
    """
    parallel = wawi.read_parallelism
    pages, stocks = wawi.items.iter_pages, wawi.stocks.iter_pages
    notes: list[str] = []
    items = pool.submit(in_context(lambda: list(flatten(pages(parallel=parallel)))))
    stock = (
        pool.submit(in_context(lambda: list(flatten(stocks(parallel=parallel)))))
        if "stock" in params.checks
        else None
    )
    channel = (
        pool.submit(in_context(shop_channel), wawi, params, notes) if "prices" in params.checks else None
    )
    items_frame = pool.submit(lambda: t.wawi_prices_frame(items.result()))

    def available() -> pd.DataFrame:
        assert stock is not None
        return t.wawi_available_frame(items.result(), stock.result())

    def known() -> KnownChannelPrices | None:
        assert channel is not None
        name = channel.result()
        return None if name is None else known_channel_prices(sync, items_frame.result(), name, params, now)

    return WawiListings(
        items=items,
        stock=stock,
        channel=channel,
        items_frame=items_frame,
        available=None if stock is None else pool.submit(available),
        known=None if channel is None else pool.submit(in_context(known)),
        notes=notes,
    )


def finish_wawi_catalogue(
    wawi: WawiClient, shop: ShopCatalogue, listings: WawiListings, params: ShopSyncParams, out: WawiInputs
) -> None:
    """Items (base prices), stock rows and the channel prices the price check needs, from ``listings``.

    The price check and its channel-price reads start once the items are in (and the shop's prices:
    ``shop``), while the stock pages may still be coming.
    """
    try:
        listings.items.result()  # framed by then, or the Wawi side ends here
    except AuthError:
        raise
    except JtlApiError as error:
        out.stock_ok = out.prices_ok = False
        out.stock_problem = out.prices_problem = problem("Wawi's items", error)
        log.warning("%s", out.stock_problem)
        return
    if listings.channel is not None and listings.known is not None:
        out.items = listings.items_frame.result()
        try:
            out.sales_channel = listings.channel.result()
            out.notes.extend(listings.notes)
            known = listings.known.result()
            if known is not None:
                _channel_prices(wawi, shop, params, known, out)
        except AuthError:
            raise
        except JtlApiError as error:
            out.prices_ok, out.prices_problem = False, problem("Wawi's sales-channel prices", error)
            log.warning("%s", out.prices_problem)
    if listings.available is not None:
        try:
            out.available = listings.available.result()
        except AuthError:
            raise
        except JtlApiError as error:
            out.stock_ok, out.stock_problem = False, problem("Wawi's stock", error)
            log.warning("%s", out.stock_problem)


def _channel_prices(
    wawi: WawiClient, shop: ShopCatalogue, params: ShopSyncParams, known: KnownChannelPrices, out: WawiInputs
) -> None:
    """The channel prices the shop's prices need: ``known`` (the cache's, current), the rest read."""
    assert out.sales_channel is not None
    changed, current = known.changed, known.current
    prices: dict[int, list[dict[str, Any]]] = dict(current)
    # Items whose shop price is not explained by what is known (the base price, or current cached prices)
    first = t.check_prices(
        shop.prices,
        out.items,
        known.frame,
        current,
        t.PriceCheckParams(group_map=params.group_map, tolerance=params.price_tolerance),
    )
    unexplained = first[first["status"].isin([t.NEEDS_READ, t.DRIFT])]["item_id"].dropna().astype(int)
    wanted = [i for i in dict.fromkeys(unexplained.tolist()) if i not in current]
    budget = wanted[: params.channel_price_reads_max]
    # one GET per item: a stalled answer among the last is asked for again once a worker idles
    workers = readers(params.read_workers, wawi.max_in_flight)
    read = hedged_map(wawi.items.sales_channel_prices, budget, workers, "wawi-channel-prices")
    for item_id, found in zip(budget, read, strict=True):
        rows = [p.model_dump(by_alias=True) for p in found]
        prices[item_id] = rows
        out.channel_reads[item_id] = (
            None if pd.isna(changed.get(item_id)) else str(changed.get(item_id)),
            rows,
        )
    out.unverified_items = set(wanted[params.channel_price_reads_max :])
    if out.unverified_items:
        out.notes.append(
            f"{len(out.unverified_items)} items' channel prices not read this run (at most "
            f"{params.channel_price_reads_max} a run): their prices are checked in a later run"
        )
    out.known_items = set(prices)
    out.channel = t.channel_prices_frame(prices, out.sales_channel) if budget else known.frame


def read_orders(
    shop: ShopReader,
    wawi: WawiClient,
    sync: ShopSyncStore,
    params: ShopSyncParams,
    now: datetime,
    out: WawiInputs,
    cart_slots: Semaphore | None = None,
) -> tuple[ShopOrders, list[FollowedOrder]]:
    """The shop's orders (if checked), then Wawi's for the numbers they and the followed ones name."""
    orders = read_shop_orders(shop, sync, params, now, cart_slots) if "orders" in params.checks else None
    followed = sync.followed_orders()  # nothing of this stage writes them
    if orders is not None:
        read_wawi_orders(wawi, to_look_up(orders, followed), params, now, out)
    return orders or ShopOrders(), followed


def read_inputs(
    shop: ShopReader, wawi: WawiClient, sync: ShopSyncStore, params: ShopSyncParams, now: datetime
) -> tuple[ShopInputs, WawiInputs]:
    """Stages 1 and 2 as one call: what the shop and Wawi say, each read as early as it can be.

    At the start, side by side: the shop's product pages, its order pages (with the carts), and Wawi's
    item pages, stock pages and sales channels (they need nothing from the shop). Wawi's order lookup
    follows as soon as the shop's orders are in (the numbers to look up), the channel prices as soon as
    the shop's products and Wawi's items are (the shop prices decide which to read). A shop side that
    cannot be read leaves its Wawi side unread as before (the listings' answers are dropped); refused
    credentials on either side stop the run (the shop's products' first: they are waited for first).
    """
    wants_catalogue = bool({"stock", "prices"} & set(params.checks))
    # a worker each: the shop's product pages; Wawi's items, stock, channels and what is made of them
    # alone (start_wawi_listings); the orders of both
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="shop-sync-read")
    try:
        products = pool.submit(in_context(read_shop_catalogue), shop, params) if wants_catalogue else None
        listings = start_wawi_listings(pool, wawi, params, sync, now) if wants_catalogue else None
        # Its typed empty frames (a fifth of a second the first time) are built once the orders are out
        # too: only this thread sets them, after which it fills them in (finish_wawi_catalogue).
        untyped = pd.DataFrame()
        out = WawiInputs(available=untyped, items=untyped, channel=untyped)
        # While the product pages are read, the carts leave them a request slot: the product pages are
        # one chain that the channel prices wait for, the carts are many independent reads.
        slots = Semaphore(params.read_workers)
        if products is not None and params.read_workers > 1:
            slots.acquire()  # given back to the carts once the product pages are read
            products.add_done_callback(lambda _: slots.release())
        orders = pool.submit(in_context(read_orders), shop, wawi, sync, params, now, out, slots)
        empty = WawiInputs()
        out.available, out.items, out.channel = empty.available, empty.items, empty.channel
        catalogue = products.result() if products is not None else ShopCatalogue()
        if listings is not None and catalogue.ok:
            finish_wawi_catalogue(wawi, catalogue, listings, params, out)
        shop_orders, followed = orders.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return ShopInputs(shop_orders, catalogue, followed, now), out


def feeding_warehouses(
    catalogue: ShopCatalogue, params: ShopSyncParams
) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """The warehouse map the stock check compares per warehouse, and the Wawi warehouses ``stockQty`` sums.

    Configured: the map as given, its Wawi warehouses together. Not configured: every shop warehouse seen
    in the products' stock rows is the Wawi warehouse of the same id (no per-warehouse comparison).
    """
    if params.warehouse_map:
        mapping = {str(k): tuple(v) for k, v in params.warehouse_map.items()}
        return mapping, tuple(sorted({w for ids in mapping.values() for w in ids}))
    seen = sorted({int(w) for w in catalogue.warehouse_stock["shop_warehouse_id"].dropna().unique()})
    return {}, tuple(seen)


def skipped_ids(rows: Sequence[SkippedShopRow]) -> tuple[set[int], int]:
    """The product ids of rows the client left out, and how many had no readable id."""
    ids = {r.row_id for r in rows if r.row_id is not None}
    return ids, sum(1 for r in rows if r.row_id is None)


def mapping_str(mapping: Mapping[str, tuple[int, ...]]) -> str:
    """A warehouse map in one line."""
    return ", ".join(f"{k} -> {list(v)}" for k, v in sorted(mapping.items())) or "(by id)"
