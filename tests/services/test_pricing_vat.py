"""The VAT rates a pricing run reads: all of Wawi's tax classes, beside the first item page."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, cast

import pytest

from jtl_automator.clients.errors import ForbiddenError, NotFound, TransientError
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.clients.wawi.models import TaxClass, TaxRate
from jtl_automator.services.pricing.params import PricingParams
from jtl_automator.services.pricing.reads import VatRates

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
