"""The VAT rates a pricing run reads: all of Wawi's tax classes, beside the first item page."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, cast

import pytest

from jtl_automator.clients.errors import ForbiddenError, NotFound, TransientError
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.clients.wawi.models import Company, TaxClass, TaxRate
from jtl_automator.services.pricing.params import PricingParams
from jtl_automator.services.pricing.reads import (
    VAT_LOOKUP_MARK,
    VatLookup,
    VatRates,
    remembered_vat_lookup,
)

RATES = {1: 19.0, 2: 7.0, 3: 0.0}


class StubWawi:
    """Wawi's tax reads: the listed classes, a rate per class, and what each call met."""

    def __init__(self, listed: list[Any] | Exception, fail: dict[int, Exception] | None = None) -> None:
        self.listed = listed
        self.fail = fail or {}
        self.rated: list[int] = []
        self.lock = threading.Lock()
        self.rate_read = threading.Event()

    def tax_classes(self) -> list[TaxClass]:
        if isinstance(self.listed, Exception):
            raise self.listed
        return [TaxClass.model_validate(row) for row in self.listed]

    def tax_rate(self, tax_class_id: int, company_id: int, departure: str, shipment: str) -> TaxRate:
        assert (company_id, departure, shipment) == (1, "DE", "DE")
        with self.lock:
            self.rated.append(tax_class_id)
        self.rate_read.set()
        if tax_class_id in self.fail:
            raise self.fail[tax_class_id]
        if tax_class_id not in RATES:
            raise NotFound("no such tax class", status=404)
        return TaxRate.model_validate({"Rate": RATES[tax_class_id], "TaxClassId": tax_class_id})


def _company(value: int | None = 1) -> Future[int | None]:
    done: Future[int | None] = Future()
    done.set_result(value)
    return done


def _rates(wawi: StubWawi, pool: ThreadPoolExecutor, company: int | None = 1) -> VatRates:
    return VatRates(cast(WawiClient, wawi), PricingParams(), _company(company), pool)


def _listing(ids: list[int]) -> list[dict[str, Any]]:
    return [{"Id": i, "Name": f"class {i}"} for i in ids]


def test_every_listed_class_is_rated_before_a_page_asks_and_a_page_gets_only_its_own() -> None:
    wawi = StubWawi(_listing([1, 2, 3]))
    with ThreadPoolExecutor(2) as pool:
        rates = _rates(wawi, pool)
        assert wawi.rate_read.wait(5)  # no page has asked yet
        notes: list[str] = []
        assert rates.of([2, 2], notes) == {2: 7.0}
        assert rates.of({1, 2}, notes) == {1: 19.0, 2: 7.0}
    assert sorted(wawi.rated) == [1, 2, 3] and notes == []  # each class read once, before and for all


def test_a_class_the_list_lacks_is_rated_when_an_item_names_it_and_only_used_classes_get_notes() -> None:
    wawi = StubWawi(_listing([1, 9]))  # 9 has no rate; 2 is not listed
    with ThreadPoolExecutor(2) as pool:
        rates = _rates(wawi, pool)
        notes: list[str] = []
        assert rates.of([1, 2], notes) == {1: 19.0, 2: 7.0}
        assert notes == []  # class 9's missing rate concerns no item
        assert rates.of([9], notes) == {}
    assert notes == ["tax class 9: no VAT rate (404: no such tax class)"]
    assert sorted(wawi.rated) == [1, 2, 9]


@pytest.mark.parametrize(
    "refusal",
    [ForbiddenError("scope missing", status=403), [{"Id": "not a number"}]],
    ids=["refused", "malformed"],
)
def test_a_list_wawi_refuses_or_sends_malformed_leaves_each_class_to_its_first_item(refusal: Any) -> None:
    wawi = StubWawi(refusal)
    with ThreadPoolExecutor(2) as pool:
        rates = _rates(wawi, pool)
        notes: list[str] = []
        assert rates.of([1, 2], notes) == {1: 19.0, 2: 7.0}
    assert sorted(wawi.rated) == [1, 2] and notes == []


def test_an_unreachable_rate_of_an_unused_class_fails_nothing_and_a_used_one_is_read_again() -> None:
    unreachable = TransientError("GET /tax/taxclass/3 -> 503", status=503)
    wawi = StubWawi(_listing([1, 3]), fail={3: unreachable})
    with ThreadPoolExecutor(2) as pool:
        rates = _rates(wawi, pool)
        assert rates.of([1], []) == {1: 19.0}  # class 3's failure concerned no item
        with pytest.raises(TransientError):
            rates.of([3], [])  # an item names it: read again, and the failure is the run's
    assert sorted(wawi.rated) == [1, 3, 3]


def test_without_a_company_no_rate_is_read_and_the_note_says_why() -> None:
    wawi = StubWawi(_listing([1, 2]))
    with ThreadPoolExecutor(2) as pool:
        rates = _rates(wawi, pool, company=None)
        notes: list[str] = []
        assert rates.of([1], notes) == {}
        assert rates.of([], notes) == {}
    assert wawi.rated == []
    assert notes == ["Wawi lists no company: no VAT rates, so no gross price endings"]


# -- the last run's company and classes: their rates read before Wawi lists them ---------------------


class RememberingWawi(StubWawi):
    """Two companies with their own rates; ``GET /taxClasses`` answers only once a rate read has started."""

    def __init__(self, listed: list[Any]) -> None:
        super().__init__(listed)
        self.asked: list[tuple[int, int]] = []
        self.first_rate = threading.Event()

    def tax_classes(self) -> list[TaxClass]:
        assert self.first_rate.wait(5)  # the remembered classes' rates went out first
        return super().tax_classes()

    def tax_rate(self, tax_class_id: int, company_id: int, departure: str, shipment: str) -> TaxRate:
        with self.lock:
            self.asked.append((company_id, tax_class_id))
        self.first_rate.set()
        rate = RATES[tax_class_id] + (0.0 if company_id == 1 else 1.0)  # company 2: other rates
        return TaxRate.model_validate({"Rate": rate, "TaxClassId": tax_class_id})


def _company_after(event: threading.Event, value: int) -> Future[int | None]:
    """A company read that answers only once ``event`` is set (a rate read is under way)."""
    pending: Future[int | None] = Future()

    def answer() -> None:
        assert event.wait(5)
        pending.set_result(value)

    threading.Thread(target=answer, daemon=True).start()
    return pending


def test_the_remembered_classes_are_rated_before_the_company_and_the_list_answer() -> None:
    wawi = RememberingWawi(_listing([1, 2]))
    remembered = VatLookup(company=1, classes=(1, 2))
    with ThreadPoolExecutor(2) as pool:
        company = _company_after(wawi.first_rate, 1)
        rates = VatRates(cast(WawiClient, wawi), PricingParams(), company, pool, remembered)
        notes: list[str] = []
        assert rates.of([1, 2], notes) == {1: 19.0, 2: 7.0} and notes == []
    assert sorted(wawi.asked) == [(1, 1), (1, 2)]  # each class once: nothing read again
    assert rates.confirmed == remembered


def test_rates_read_for_a_company_wawi_no_longer_lists_first_are_read_again_for_the_new_one() -> None:
    wawi = RememberingWawi(_listing([1, 2]))
    with ThreadPoolExecutor(2) as pool:
        company = _company_after(wawi.first_rate, 2)  # the merchant's first company changed
        rates = VatRates(cast(WawiClient, wawi), PricingParams(), company, pool, VatLookup(1, (1, 2)))
        assert rates.of([1, 2], []) == {1: 20.0, 2: 8.0}  # company 2's rates, never company 1's
    assert sorted(wawi.asked) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert rates.confirmed == VatLookup(2, (1, 2))


def test_a_class_no_longer_listed_is_dropped_and_a_new_one_is_rated_after_the_list() -> None:
    wawi = RememberingWawi(_listing([1, 3]))
    with ThreadPoolExecutor(2) as pool:
        rates = VatRates(cast(WawiClient, wawi), PricingParams(), _company(1), pool, VatLookup(1, (1, 2)))
        notes: list[str] = []
        assert rates.of([1, 3], notes) == {1: 19.0, 3: 0.0} and notes == []
        assert rates.ready()
    assert sorted(wawi.asked) == [(1, 1), (1, 2), (1, 3)]  # class 2's early read was the only waste
    assert rates.confirmed == VatLookup(1, (1, 3))


def test_a_configured_company_is_the_one_whose_remembered_classes_are_rated() -> None:
    wawi = RememberingWawi(_listing([1]))
    params = PricingParams(company_id=2)
    with ThreadPoolExecutor(2) as pool:
        rates = VatRates(cast(WawiClient, wawi), params, _company(2), pool, VatLookup(1, (1,)))
        assert rates.of([1], []) == {1: 20.0}
    assert wawi.asked == [(2, 1)]


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "not json",
        "[]",
        '{"company": "1", "classes": [1]}',
        '{"company": 1, "classes": [true]}',
        '{"company": 1, "classes": 1}',
        '{"classes": [1]}',
        '{"company": 1.5, "classes": [1]}',
    ],
)
def test_a_missing_or_malformed_stored_lookup_reads_nothing_ahead(stored: str | None) -> None:
    assert VatLookup.loads(stored) is None


def test_the_lookup_is_stored_only_when_it_changed_and_only_while_it_fits(tmp_path: Any) -> None:
    from jtl_automator.store import StateStore

    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    assert remembered_vat_lookup(store) is None and remembered_vat_lookup(None) is None
    wawi = StubWawi(_listing([2, 1]))
    with ThreadPoolExecutor(2) as pool:
        rates = _rates(wawi, pool)
        rates.of([1], [])
    rates.remember(store)
    assert VatLookup.loads(store.get_watermark(VAT_LOOKUP_MARK)) == VatLookup(1, (1, 2))
    assert remembered_vat_lookup(store) == VatLookup(1, (1, 2))
    many = StubWawi(_listing(list(range(1, 80))))  # a list no Wawi has: too long for the column
    with ThreadPoolExecutor(2) as pool:
        rates = _rates(many, pool)
        rates.of([1], [])
    rates.remember(store)
    assert remembered_vat_lookup(store) == VatLookup(1, (1, 2))  # the last one that fitted stays


# -- a streamed run: the pages read while the rates are on their way ---------------------------------


class _NoCategories:
    def iter_pages(self) -> Any:
        yield []


class StreamWawi(StubWawi):
    """A whole pricing read: three item pages, one company, and a rate read that answers only once every
    page has been handed on (a long VAT answer behind ``GET /companies``)."""

    read_parallelism = 1

    def __init__(self) -> None:
        super().__init__(_listing([1]))
        self.items = self
        self.categories = _NoCategories()
        self.events: list[str] = []
        self.listed_all = threading.Event()

    def iter_pages(self, parallel: int = 1, expected_items: int | None = None) -> Any:
        for page in range(3):
            self.events.append(f"page {page}")
            yield [
                {
                    "Id": page * 10 + n,
                    "SKU": f"S-{page}-{n}",
                    "TaxClassId": 1,
                    "ItemPriceData": {"PurchasePriceNet": 10.0, "SalesPriceNet": 20.0},
                }
                for n in range(1, 3)
            ]
        self.listed_all.set()

    def manufacturers(self) -> list[Any]:
        return []

    def companies(self) -> list[Company]:
        return [Company.model_validate({"Id": 1, "Name": "the company"})]

    def tax_rate(self, tax_class_id: int, company_id: int, departure: str, shipment: str) -> TaxRate:
        assert self.listed_all.wait(5)
        self.events.append("rate")
        return super().tax_rate(tax_class_id, company_id, departure, shipment)


def test_pages_read_while_the_rates_are_awaited_are_stored_then_priced_in_order(tmp_path: Any) -> None:
    """The listing goes on while the VAT rate is read: every page is in the item cache before the first
    is priced, and the pages are priced in their order, each with the rate; the company and the class
    are remembered for the next run."""
    from datetime import UTC, datetime

    import pandas as pd

    from jtl_automator.services.pricing.reads import stream_price_inputs
    from jtl_automator.store import StateStore
    from jtl_automator.transforms.pricing import PricingRules

    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    wawi = StreamWawi()
    priced: list[pd.DataFrame] = []

    def on_rows(rows: pd.DataFrame) -> None:
        wawi.events.append(f"priced {rows['item_id'].min() // 10}")
        assert store.cached_item_count() == 6  # every page stored while the rate was awaited
        priced.append(rows)

    rules = PricingRules.model_validate(
        {"rules": [{"name": "all", "strategy": "cost_plus", "markup_pct": 50}]}
    )
    inputs = stream_price_inputs(
        cast(WawiClient, wawi),
        rules,
        PricingParams(),
        on_rows,
        now=datetime(2026, 11, 27, tzinfo=UTC),
        store=store,
    )
    # the kept pages are priced together, once the rate is in, in their order
    assert wawi.events == ["page 0", "page 1", "page 2", "rate", "priced 0"]
    assert priced[0]["item_id"].tolist() == [1, 2, 11, 12, 21, 22]
    assert all((frame["vat_rate"] == 19.0).all() for frame in priced)
    assert inputs.counts["wawi_items"] == 6 and inputs.counts["priced_items"] == 6
    store.dispose()
    assert store.get_watermark(VAT_LOOKUP_MARK) == '{"company":1,"classes":[1]}'
