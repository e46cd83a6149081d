"""Stage 1: what a pricing run reads, with as few requests as the API allows.

Wawi (prices):

- every item, paged (``GET /items``): the only bulk read of prices the API has (``ItemPriceData`` carries
  the base, purchase and suggested retail price). With a state store the listing also refreshes the Wawi
  item cache (``replace_all``: a listing made anyway costs the cache nothing).
- the categories (paged), the manufacturers (one array) for the rules' matches;
- the VAT: ``GET /taxClasses``, then one ``GET /tax/taxclass/{id}/{company}/{from}/{to}`` per class (two or
  three in a German shop), read beside the first item page once the company is known (``GET /companies``
  when none is configured): the prices wait for no rate read that an item page would start;
- the standard supplier only when a rule or the markdown scope names a supplier: from the item cache's
  supplier rows, read (``GET /items/{id}/suppliers``) only for items whose cached rows are missing or old;
- sales-channel prices (``GET /items/{id}/salesChannelPrices``, one request per item: the API has no bulk
  read) only for items a rule naming a sales channel or customer group can match.

So a rule file of base-price rules costs the item pages, the category pages and five or six requests.

FFN and the state database (markdowns only, when the rule file has a ``markdown`` section): the order
lines of the history window (the order ledger, FFN's outbound feed for days before it; as the
replenishment reads them), FFN's stock changes of the window (stock-out days) and its stock, paged.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pydantic import ValidationError

from jtl_automator.clients.errors import ClientError, JtlApiError, NotFound
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.pagination import flatten
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.services.pricing.params import MARKDOWN, PricingParams
from jtl_automator.services.replenishment.reads import TIMEZONE, history_window, load_order_lines, local_today
from jtl_automator.services.wawi_item_cache import WawiItemCache, cached_by_id
from jtl_automator.store import WATERMARK_VALUE_LENGTH, CachedItem, StateStore
from jtl_automator.transforms.pricing import BASE_PRICE, PricingRules, channel_rule_items, item_fits
from jtl_automator.transforms.pricing_frames import (
    PriceLookups,
    base_price_frame,
    category_paths,
    channel_price_frame,
    standard_supplier,
)
from jtl_automator.transforms.replenishment import demand_frame
from jtl_automator.transforms.replenishment_frames import stock_frame, stockout_frame

log = correlated_logger("jtl_automator.pricing")
#: The target of a special price in the price history.
SPECIAL_PRICE = "special"


@dataclass
class SlowMoverStats:
    """Per SKU: units that can still be sold, mean units per day and days since the last sale."""

    frame: pd.DataFrame  # merchant_sku, stock, daily_demand, days_since_sale
    demand: str = ""


@dataclass
class PriceInputs:
    """What one run prices and what it knows besides."""

    items: pd.DataFrame  # the price_frame input: base rows and channel rows
    added_days: dict[int, float] = field(default_factory=dict)  # item id -> days since it was added
    held: dict[int, str] = field(default_factory=dict)  # item id -> why its prices are left alone
    slow: SlowMoverStats | None = None
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    special_channels: tuple[str, ...] = ()
    customer_groups: tuple[int, ...] = ()


def _uses_suppliers(rules: PricingRules) -> bool:
    matches = [r.match for r in rules.rules]
    if rules.markdown is not None:
        matches.append(rules.markdown.scope)
    return any(m.supplier_id is not None for m in matches)


def _rate_classes(
    wawi: WawiClient,
    tax_classes: Iterable[int],
    company: int,
    params: PricingParams,
    *,
    skip_unreachable: bool = False,
) -> dict[int, float | str]:
    """Each class's VAT rate, or the note why Wawi has none; one request per class, side by side.

    A transient failure after the client's retries is raised, or with ``skip_unreachable`` leaves the
    class out (a read ahead of need must not fail a run that might not need it).
    """
    wanted = sorted(set(tax_classes))

    def rate(tax_class: int) -> float | str | None:
        try:
            found = wawi.tax_rate(tax_class, company, params.departure_country, params.shipment_country)
        except ClientError as exc:
            return f"tax class {tax_class}: no VAT rate ({exc.status}: {exc.message})"
        except JtlApiError:
            if skip_unreachable:
                return None
            raise
        return float(found.rate)

    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="pricing-vat") as pool:
        found = dict(zip(wanted, pool.map(in_context(rate), wanted), strict=True))
    return {tax_class: value for tax_class, value in found.items() if value is not None}


#: Where the last run's company and listed tax classes are kept (the watermark table's opaque values).
VAT_LOOKUP_MARK = "pricing.vat_lookup"


@dataclass(frozen=True)
class VatLookup:
    """The company and the tax classes Wawi listed on the last run: whose rates to read before it says."""

    company: int
    classes: tuple[int, ...]

    def dumps(self) -> str:
        """The stored form (short: a handful of classes fits the watermark column)."""
        return json.dumps({"company": self.company, "classes": list(self.classes)}, separators=(",", ":"))

    @classmethod
    def loads(cls, value: str | None) -> VatLookup | None:
        """The stored form read back; None for none or for anything malformed (then nothing is read ahead)."""
        if not value:
            return None
        try:
            raw = json.loads(value)
            company, classes = raw["company"], raw["classes"]
        except (ValueError, TypeError, KeyError):
            return None
        if _int(company) is None or not isinstance(classes, list) or any(_int(c) is None for c in classes):
            return None
        return cls(company, tuple(sorted(set(classes))))


def remembered_vat_lookup(store: StateStore | None) -> VatLookup | None:
    """The last run's company and tax classes (None without a store or a stored value)."""
    return VatLookup.loads(store.get_watermark(VAT_LOOKUP_MARK)) if store is not None else None


class VatRates:
    """The VAT rate of each tax class the items use, read while the item pages come.

    The rates of every class Wawi lists (``GET /taxClasses``, then one rate read per class) are read as
    soon as the company is known, beside the first item page: a page's rows then wait for no rate read
    that only that page could start. A German Wawi has two or three classes, so at most one rate is read
    that no item needs. A class the list lacked, or whose read failed, is rated when an item names it;
    a list Wawi refuses leaves every class to that. Notes name only the classes the items use.

    With ``remembered`` (the last run's company and classes) those classes' rates are read at once,
    beside ``GET /companies`` and ``GET /taxClasses`` instead of after them: the rates then wait for one
    answer, not two in a row. They are used only once both answers confirm them: a rate read for another
    company than Wawi's first is dropped and read again, a class no longer listed is dropped, a new one
    is rated after the list. So the rates are always those of this run's company and list.
    """

    def __init__(
        self,
        wawi: WawiClient,
        params: PricingParams,
        company: Future[int | None],
        pool: ThreadPoolExecutor,
        remembered: VatLookup | None = None,
    ) -> None:
        self._wawi = wawi
        self._params = params
        self._company = company
        self._remembered = remembered
        self.confirmed: VatLookup | None = None
        self._listed = pool.submit(in_context(self._rate_listed))

    def _rate_listed(self) -> dict[int, float | str]:
        ahead = self._remembered
        if ahead is not None and self._params.company_id is not None:
            ahead = VatLookup(self._params.company_id, ahead.classes)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pricing-vat-ahead") as side:
            early = (
                side.submit(
                    in_context(_rate_classes),
                    self._wawi,
                    ahead.classes,
                    ahead.company,
                    self._params,
                    skip_unreachable=True,
                )
                if ahead is not None
                else None
            )
            try:
                classes = sorted({c.id for c in self._wawi.tax_classes()})
            except (JtlApiError, ValidationError) as exc:
                log.info(
                    "tax classes not listed (%s): each is rated when an item names it", type(exc).__name__
                )
                return {}
            company = self._company.result()
            if company is None:
                return {}
            found: dict[int, float | str] = {}
            if early is not None and ahead is not None and ahead.company == company:
                found = {c: value for c, value in early.result().items() if c in classes}
        found.update(
            _rate_classes(
                self._wawi,
                [c for c in classes if c not in found],
                company,
                self._params,
                skip_unreachable=True,
            )
        )
        self.confirmed = VatLookup(company, tuple(classes))
        return found

    def ready(self) -> bool:
        """Whether :meth:`of` would find the company and the listed classes' rates without waiting."""
        return self._company.done() and self._listed.done()

    def of(self, tax_classes: Iterable[int], notes: list[str]) -> dict[int, float]:
        """The rates of ``tax_classes`` (a class Wawi cannot rate is left out: its rows get no VAT)."""
        wanted = sorted(set(tax_classes))
        if not wanted:
            return {}
        company = self._company.result()
        if company is None:
            notes.append("Wawi lists no company: no VAT rates, so no gross price endings")
            return {}
        listed = self._listed.result()
        found = {c: listed[c] for c in wanted if c in listed}
        found.update(_rate_classes(self._wawi, [c for c in wanted if c not in listed], company, self._params))
        notes.extend(value for _, value in sorted(found.items()) if isinstance(value, str))
        return {tax_class: value for tax_class, value in found.items() if isinstance(value, float)}

    def remember(self, store: StateStore | None) -> None:
        """Keep this run's confirmed company and classes for the next run's early rate reads."""
        if store is None or self.confirmed is None or self.confirmed == self._remembered:
            return
        value = self.confirmed.dumps()
        if len(value) <= WATERMARK_VALUE_LENGTH:  # more classes than a Wawi has: read in turn next time
            store.reset_watermark(VAT_LOOKUP_MARK, value)


def _company(wawi: WawiClient, params: PricingParams) -> int | None:
    """The company whose VAT rates apply: the configured one, else Wawi's first (one request)."""
    if params.company_id is not None:
        return params.company_id
    companies = wawi.companies()
    return companies[0].id if companies else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _added_days(items: Sequence[Mapping[str, Any]], now: datetime) -> dict[int, float]:
    result: dict[int, float] = {}
    for item in items:
        item_id, added = _int(item.get("Id")), item.get("Added")
        if item_id is None or not isinstance(added, str):
            continue
        try:
            moment = datetime.fromisoformat(added.replace("Z", "+00:00"))
        except ValueError:
            continue
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        result[item_id] = max((now - moment).total_seconds() / 86_400, 0.0)
    return result


def markdown_holds(store: StateStore | None, rules: PricingRules, now: datetime) -> dict[int, str]:
    """Items whose prices a markdown holds: a special price still running, a base price marked down lately."""
    if store is None or rules.markdown is None:
        return {}
    hold = timedelta(days=rules.markdown.hold_days)
    longest = max(hold, timedelta(days=366))
    held: dict[int, str] = {}
    for change in store.price_history(source=MARKDOWN, since=now - longest):
        if change.item_id in held:
            continue
        if change.target == SPECIAL_PRICE and change.ends_at is not None and change.ends_at > now:
            held[change.item_id] = (
                f"special price {change.after:.2f} net until {change.ends_at.date().isoformat()}"
            )
        elif change.target == BASE_PRICE and change.at is not None and change.at > now - hold:
            until = (change.at + hold).date().isoformat()
            held[change.item_id] = f"marked down to {change.after:.2f} net, held until {until}"
    return held


def load_price_inputs(
    wawi: WawiClient,
    rules: PricingRules,
    params: PricingParams,
    *,
    now: datetime,
    store: StateStore | None = None,
    ffn: FfnClient | None = None,
) -> PriceInputs:
    """Read what the rules need (see the module docstring for the requests)."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    notes: list[str] = []
    cache = (
        WawiItemCache(store, wawi, now, timedelta(hours=params.item_cache_max_age_hours)) if store else None
    )
    # The item pages, the categories, the manufacturers and the company do not depend on each other: read
    # side by side (the client's in-flight limit holds Wawi). The item cache is refreshed from the listing
    # while the VAT rates are read and the rows are built; it is complete before this stage returns.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="pricing-reads") as pool:
        categories_read = pool.submit(in_context(lambda: list(flatten(wawi.categories.iter_pages()))))
        makers_read = pool.submit(in_context(wawi.manufacturers))
        company_read = pool.submit(in_context(_company), wawi, params)
        rates = VatRates(wawi, params, company_read, pool, remembered_vat_lookup(store))
        expected = store.cached_item_count() if store is not None else None
        listed = list(flatten(wawi.items.iter_pages(parallel=wawi.read_parallelism, expected_items=expected)))
        cached = pool.submit(in_context(cache.replace_all), listed) if cache is not None else None
        items = [i for i in listed if params.include_inactive or i.get("IsActive") is not False]
        categories = categories_read.result()
        makers = {m.id: m.name or "" for m in makers_read.result()}
        classes = (t for i in items if (t := _int(i.get("TaxClassId"))) is not None)
        vat = rates.of(classes, notes)
        if cached is not None:
            cached.result()
    rates.remember(store)
    suppliers: dict[int, int | None] = {}
    supplier_reads = 0
    if _uses_suppliers(rules):
        if cache is not None and store is not None:
            ids = {i for item in items if (i := _int(item.get("Id"))) is not None}
            rows = [r for r in store.cached_items() if r.item_id in ids]
            by_item = cache.suppliers(rows)
            notes.extend(cache.notes)
            supplier_reads = cache.stats["supplier_reads"]
        else:
            by_item = {}
            for item in items:
                item_id = _int(item.get("Id"))
                if item_id is None:
                    continue
                try:
                    by_item[item_id] = wawi.items.suppliers(item_id)
                except NotFound:
                    notes.append(f"Wawi item {item_id} vanished while reading its suppliers")
                supplier_reads += 1
        suppliers = {item_id: standard_supplier(rows) for item_id, rows in by_item.items()}
    lookups = PriceLookups(category_paths(categories), makers, vat, suppliers)
    base = base_price_frame(items, lookups)
    held = markdown_holds(store, rules, now)
    wanted = base.loc[
        channel_rule_items(base, rules) & ~base["item_id"].isin(list(held)).to_numpy(), "item_id"
    ]
    channel_prices: dict[int, list[dict[str, Any]]] = {}
    for item_id in wanted.tolist():
        channel_prices[int(item_id)] = [
            p.model_dump(by_alias=True) for p in wawi.items.sales_channel_prices(int(item_id))
        ]
    channels = channel_price_frame(base, channel_prices)
    for why, count in sorted(channels.skipped.items()):
        notes.append(f"{count} sales-channel prices left alone: {why}")
    frame = pd.concat([base, channels.frame], ignore_index=True) if len(channels.frame) else base
    slow = None
    special_channels: tuple[str, ...] = ()
    groups: tuple[int, ...] = ()
    if rules.markdown is not None:
        if ffn is None:
            notes.append("markdowns need FFN's stock and demand: no FFN client, no markdowns")
        else:
            slow = load_slow_mover_stats(ffn, store, rules.markdown.history_days, now)
        if rules.markdown.apply_as == "special_price":
            special_channels = rules.markdown.sales_channels or tuple(
                c.id
                for c in wawi.sales_channels()
                if c.item_capabilities and c.item_capabilities.special_prices
            )
            groups = rules.markdown.customer_groups or tuple(g.id for g in wawi.customer_groups())
    counts = {
        "wawi_items": len(listed),
        "priced_items": len(base),
        "channel_price_reads": len(channel_prices),
        "channel_prices": len(channels.frame),
        "supplier_reads": supplier_reads,
        "tax_classes": len(vat),
        "held_by_markdown": len(held),
    }
    log.info("read %s", counts)
    return PriceInputs(
        items=frame,
        added_days=_added_days(items, now),
        held=held,
        slow=slow,
        counts=counts,
        notes=notes,
        special_channels=special_channels,
        customer_groups=groups,
    )


def streams(rules: PricingRules) -> bool:
    """Whether the item pages can be priced as they are read: base-price rules only.

    A base price depends on its item's row and the lookups (categories, manufacturers, VAT) alone;
    channel prices, standard suppliers and markdowns need reads per item or figures over all items, so
    such rule files are priced once after every read (:func:`load_price_inputs`).
    """
    if rules.markdown is not None or _uses_suppliers(rules):
        return False
    return all(
        r.match.customer_group is None and r.match.sales_channel in (None, BASE_PRICE) for r in rules.rules
    )


def stream_price_inputs(
    wawi: WawiClient,
    rules: PricingRules,
    params: PricingParams,
    on_rows: Callable[[pd.DataFrame], None],
    *,
    now: datetime,
    store: StateStore | None = None,
) -> PriceInputs:
    """:func:`load_price_inputs` for rules that :func:`streams`, each page priced as soon as it is read.

    ``on_rows`` gets each item page's price rows that no markdown holds; the same inputs are returned.
    The lookups are read beside the first page; a page's new tax classes are rated before its rows.
    """
    if not streams(rules):
        raise ValueError("these rules need every read before pricing: use load_price_inputs")
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    cache = (
        WawiItemCache(store, wawi, now, timedelta(hours=params.item_cache_max_age_hours)) if store else None
    )
    held = markdown_holds(store, rules, now)
    listed: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    vat: dict[int, float] = {}
    vat_notes: list[str] = []
    rated: set[int] = set()
    remembered = remembered_vat_lookup(store)
    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="pricing-reads") as pool:
        # the pages the item cache says there were asked for beside page 1, not after its answer
        expected = store.cached_item_count() if store is not None else None
        pages: Iterable[Sequence[dict[str, Any]]] = wawi.items.iter_pages(
            parallel=wawi.read_parallelism, expected_items=expected
        )
        # The cache's rows, to write again only those the listing changed (read beside the first page).
        known: Future[dict[int, CachedItem]] = Future()
        if cache is not None:  # each page stored as it is handed on (the listing is the cache's)
            pages = cache.replace_all_pages(pages, known.result)
        listing = iter(pages)

        def start_listing() -> Future[Sequence[dict[str, Any]] | None]:
            page = pool.submit(in_context(next), listing, None)
            if cache is not None:  # at once: the first page's storing waits for it
                pool.submit(in_context(_settle), known, partial(cached_by_id, cache.store, suppliers=False))
            return page

        # Asked for in this order, as the Wawi's few workers free up. Without the item cache's count the
        # first item page goes first (the later pages wait for its answer), then the rates and the
        # lookups. With it every page is asked for at once, so the rates and lookups, which every page's
        # pricing waits for, go first: the pages are priced as they come, not all after the last rate.
        first_page = None if expected else start_listing()
        company_read = pool.submit(in_context(_company), wawi, params)
        rates = VatRates(wawi, params, company_read, pool, remembered)
        categories_read = pool.submit(in_context(lambda: list(flatten(wawi.categories.iter_pages()))))
        makers_read = pool.submit(in_context(wawi.manufacturers))
        if first_page is None:
            first_page = start_listing()

        def price(items: list[dict[str, Any]]) -> None:
            classes = {t for i in items if (t := _int(i.get("TaxClassId"))) is not None} - rated
            if classes:
                vat.update(rates.of(classes, vat_notes))
                rated.update(classes)
            paths = category_paths(categories_read.result())
            makers = {m.id: m.name or "" for m in makers_read.result()}
            base = base_price_frame(items, PriceLookups(paths, makers, vat, {}))
            frames.append(base)
            on_rows(base[~base["item_id"].isin(list(held)).to_numpy()].reset_index(drop=True))

        head = first_page.result()
        # Pages read while the VAT rates are on their way are kept (and stored) until the rates come,
        # then priced in order, together: the rates' reads often outlast the first pages, and the reading
        # goes on meanwhile. One frame of the kept pages costs about half of one frame per page (5,000
        # items: 0.11 s instead of 0.21 s), and it is work done after an answer, on the run's wall time.
        waiting: list[dict[str, Any]] = []
        for page in itertools.chain([] if head is None else [head], listing):
            listed.extend(page)
            waiting.extend(i for i in page if params.include_inactive or i.get("IsActive") is not False)
            if rates.ready():
                price(waiting)
                waiting = []
        if waiting:
            price(waiting)
    rates.remember(store)
    items = [i for i in listed if params.include_inactive or i.get("IsActive") is not False]
    frame = (
        pd.concat(frames, ignore_index=True) if frames else base_price_frame([], PriceLookups({}, {}, {}, {}))
    )
    notes = sorted(set(vat_notes), key=_vat_note_order)
    counts = {
        "wawi_items": len(listed),
        "priced_items": len(frame),
        "channel_price_reads": 0,
        "channel_prices": 0,
        "supplier_reads": 0,
        "tax_classes": len(vat),
        "held_by_markdown": len(held),
    }
    log.info("read %s", counts)
    return PriceInputs(items=frame, added_days=_added_days(items, now), held=held, counts=counts, notes=notes)


T = TypeVar("T")


def _settle(future: Future[T], read: Callable[[], T]) -> None:
    """``future`` given ``read()``'s result or error: a future its waiters hold before the read starts."""
    try:
        future.set_result(read())
    except BaseException as exc:  # whatever ends the read, the waiters hear of it
        future.set_exception(exc)


def _vat_note_order(note: str) -> tuple[int, str]:
    """The VAT notes of pages in the order one call over all tax classes gives them (by class)."""
    number = note.removeprefix("tax class ").split(":", 1)[0]
    return (int(number) if number.isdigit() else -1, note)


def load_slow_mover_stats(
    ffn: FfnClient, store: StateStore | None, history_days: int, now: datetime
) -> SlowMoverStats:
    """Per SKU: sellable units (FFN ``stockLevel`` - reserved - blocked, all warehouses), demand, last sale.

    Demand is the replenishment's ``demand_frame`` (out-of-stock days not counted) summed over the
    warehouses; the last sale is the last day of the window with an order line.
    """
    window = history_window(local_today(now), history_days)
    since = datetime.combine(window.start, time(), TIMEZONE).astimezone(UTC)
    lines, sources, _ = load_order_lines(ffn, store, window, since, now)
    changes = list(ffn.stocks.updates(since, now))
    stocks = stock_frame(list(flatten(ffn.stocks.iter_pages())))
    demand = demand_frame(lines, stockout_frame(changes, window), window)
    per_sku_demand = (
        demand.assign(merchant_sku=demand["merchant_sku"].astype("string"))
        .groupby("merchant_sku", observed=True)["daily_demand"]
        .sum()
    )
    sellable = (
        stocks["stock_level"].fillna(0) - stocks["reserved"].fillna(0) - stocks["blocked"].fillna(0)
    ).clip(lower=0)
    per_sku_stock = sellable.groupby(stocks["merchant_sku"]).sum()
    today = np.datetime64(_today(window.end).isoformat(), "D")
    sold = lines[lines["quantity"] > 0]
    last_day = sold.groupby(sold["merchant_sku"].astype("string"))["day"].max()
    since_sale = (today - last_day.to_numpy(dtype="datetime64[D]")).astype("float64")
    last = pd.Series(since_sale, index=last_day.index, dtype="float64")
    skus = per_sku_stock.index.union(per_sku_demand.index).union(last.index)
    frame = pd.DataFrame(
        {
            "merchant_sku": pd.array([str(sku) for sku in skus], dtype="string"),
            "stock": per_sku_stock.reindex(skus).to_numpy(dtype="float64", na_value=np.nan),
            "daily_demand": per_sku_demand.reindex(skus).to_numpy(dtype="float64", na_value=np.nan),
            "days_since_sale": last.reindex(skus).to_numpy(dtype="float64", na_value=np.nan),
        }
    )
    return SlowMoverStats(frame, sources.describe(window))


def _today(yesterday: date) -> date:
    return yesterday + timedelta(days=1)


def markdown_input(prices: pd.DataFrame, inputs: PriceInputs, rules: PricingRules) -> pd.DataFrame:
    """The markdown transform's input: one row per item's base price, its rule floor, stock and demand."""
    base_in = inputs.items[inputs.items["target"] == BASE_PRICE].reset_index(drop=True)
    base_out = prices[prices["target"] == BASE_PRICE].set_index("item_id")
    stats = inputs.slow.frame.set_index("merchant_sku") if inputs.slow is not None else pd.DataFrame()
    skus = base_in["sku"].astype(str)

    def stat(name: str) -> np.ndarray:
        if name not in stats.columns:
            return np.full(len(base_in), np.nan)
        values: np.ndarray = stats[name].reindex(skus).to_numpy(dtype="float64", na_value=np.nan)
        return values

    scope = rules.markdown.scope if rules.markdown is not None else None
    in_scope = item_fits(base_in, scope) if scope is not None else np.ones(len(base_in), dtype=bool)
    item_ids = base_in["item_id"].to_numpy()
    return pd.DataFrame(
        {
            "item_id": item_ids,
            "sku": base_in["sku"].array,
            "purchase_price": base_in["purchase_price"].to_numpy(),
            "current_price": base_in["current_price"].to_numpy(),
            "suggested_retail_price": base_in["suggested_retail_price"].to_numpy(),
            "vat_rate": base_in["vat_rate"].to_numpy(),
            "rule_floor": base_out["floor_price"]
            .reindex(item_ids)
            .to_numpy(dtype="float64", na_value=np.nan),
            "stock": stat("stock"),
            "daily_demand": stat("daily_demand"),
            "days_since_sale": stat("days_since_sale"),
            "added_days": np.asarray(
                [inputs.added_days.get(int(i), np.nan) for i in item_ids], dtype="float64"
            ),
            "in_scope": in_scope,
            "held": np.asarray([int(i) in inputs.held for i in item_ids], dtype=bool),
        }
    )
