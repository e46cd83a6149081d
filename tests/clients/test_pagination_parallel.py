"""FFN pages read several at a time: the same objects in the same order, bounded, robust to change."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jtl_automator.clients.errors import PaginationLoopError, ValidationFailed
from jtl_automator.clients.pagination import (
    PageSize,
    flatten,
    iterate_odata,
    iterate_odata_parallel,
    iterate_page_number,
    iterate_page_number_parallel,
)


class Collection:
    """An OData collection of ``n`` objects; counts requests and how many run at once."""

    def __init__(self, n: int, *, cap: int | None = None, delay: float = 0.0, count: bool = True) -> None:
        self.objects = [{"id": i} for i in range(n)]
        self.cap = cap
        self.delay = delay
        self.with_count = count
        self.requests: list[tuple[int, int]] = []
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        with self._lock:
            self.requests.append((skip, top))
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if self.delay:
                time.sleep(self.delay)
            size = min(top, self.cap) if self.cap else top
            body: dict[str, Any] = {"items": self.objects[skip : skip + size], "_page": {"offset": skip}}
            if self.with_count:
                body["count"] = len(self.objects)
            return body
        finally:
            with self._lock:
                self.running -= 1


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 120), top=st.integers(1, 25), workers=st.integers(1, 6))
def test_the_same_objects_in_the_same_order_with_the_fewest_requests(n: int, top: int, workers: int) -> None:
    parallel = Collection(n)
    pages = list(iterate_odata_parallel(parallel, top, workers=workers))
    assert list(flatten(pages)) == list(flatten(iterate_odata(Collection(n), top)))
    assert len(parallel.requests) == max(1, -(-n // top))


@pytest.mark.slow
def test_pages_after_the_first_overlap_up_to_the_workers() -> None:
    collection = Collection(100, delay=0.05)
    started = time.perf_counter()
    pages = list(iterate_odata_parallel(collection, 10, workers=4))
    took = time.perf_counter() - started
    assert len(pages) == 10 and collection.peak == 4
    assert took < 10 * 0.05  # one after the other would take 0.5 s; 1 + ceil(9 / 4) rounds take 0.2 s


def test_a_server_capping_the_page_size_sets_the_stride() -> None:
    collection = Collection(95, cap=20)  # asked for 50, every page holds 20
    pages = list(iterate_odata_parallel(collection, 50, workers=3))
    assert [len(p) for p in pages] == [20, 20, 20, 20, 15]
    assert sorted(skip for skip, _ in collection.requests) == [0, 20, 40, 60, 80]


def test_without_count_the_rest_is_read_page_after_page() -> None:
    collection = Collection(35, count=False)
    assert len(list(flatten(iterate_odata_parallel(collection, 10, workers=4)))) == 35
    assert collection.peak == 1


def test_a_collection_shrinking_meanwhile_goes_on_page_after_page_without_gaps() -> None:
    collection = Collection(60)
    fetch_calls = 0

    def shrinking(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        nonlocal fetch_calls
        fetch_calls += 1
        if fetch_calls == 2:
            del collection.objects[25:30]  # five objects vanish after the first page
        return collection(link, skip, top)

    seen = [o["id"] for o in flatten(iterate_odata_parallel(shrinking, 10, workers=1 + 1))]
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(range(60)) - set(range(25, 30)) <= set(seen) | set(range(30, 35))


def test_an_offset_the_server_did_not_answer_for_is_refused() -> None:
    def liar(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        return {"items": [{"id": skip + i} for i in range(top)], "count": 50, "_page": {"offset": 0}}

    with pytest.raises(PaginationLoopError, match="asked for offset 10"):
        list(iterate_odata_parallel(liar, 10, workers=2))


def test_a_refused_first_page_size_is_halved_before_the_others_go() -> None:
    collection = Collection(30)

    def refusing(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        if top > 10:
            raise ValidationFailed("$top too large", method="GET", path="/x")
        return collection(link, skip, top)

    sizes = PageSize(40, lambda error: isinstance(error, ValidationFailed), what="test")
    pages = list(iterate_odata_parallel(refusing, 40, workers=3, sizes=sizes))
    assert [len(p) for p in pages] == [10, 10, 10] and sizes.current == 10


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 120),
    top=st.integers(1, 25),
    workers=st.integers(1, 6),
    expected=st.integers(0, 150),
    cap=st.sampled_from([None, 7]),
)
def test_pages_asked_for_ahead_give_the_same_objects_in_the_same_order(
    n: int, top: int, workers: int, expected: int, cap: int | None
) -> None:
    """The collection's size as last known (``expected_items``): whether it grew, shrank or the server caps
    the page size, the objects are those of a plain listing, and a request beyond the ones it needs is
    only a page asked for ahead (an offset below the expected size, of the size asked for)."""
    ahead = Collection(n, cap=cap)
    pages = list(iterate_odata_parallel(ahead, top, workers=workers, expected_items=expected))
    assert list(flatten(pages)) == list(flatten(iterate_odata(Collection(n, cap=cap), top)))
    stride = min(top, cap or top)
    needed = {(skip, top) for skip in range(0, max(n, 1), stride)}
    assert needed <= set(ahead.requests) or (stride < top and n <= stride)
    extra = [(skip, size) for skip, size in ahead.requests if (skip, size) not in needed]
    assert all(skip < expected and size == top for skip, size in extra)
    if stride == top:  # (a server capping the size: an offset asked ahead may be asked again in stride)
        assert len(ahead.requests) == len(set(ahead.requests))  # nothing asked for twice


@pytest.mark.slow
def test_with_the_expected_size_the_pages_go_beside_the_first() -> None:
    """Four pages on four workers: one round of answers, not the first and then the rest."""
    collection = Collection(40, delay=0.2)
    started = time.perf_counter()
    pages = list(iterate_odata_parallel(collection, 10, workers=4, expected_items=40))
    took = time.perf_counter() - started
    assert len(pages) == 4 and collection.peak == 4
    assert took < 2 * 0.2  # the first page, then the rest: 0.4 s


@pytest.mark.parametrize("past_end", ["empty", "refuse"])
def test_pages_asked_for_ahead_past_a_shrunk_end_are_dropped(past_end: str) -> None:
    """The catalogue shrank: the pages asked for past its new end are not read, whether the server
    answers them with an empty page or refuses them (the strict sandbox's ``ffn_skip_past_end``)."""
    collection = Collection(25)

    def answering(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        body = collection(link, skip, top)
        if past_end == "refuse" and skip >= 25:
            raise ValidationFailed(f"$skip {skip} is past the last item", method="GET", path="/x")
        return body

    pages = list(iterate_odata_parallel(answering, 10, workers=3, expected_items=60))
    assert [len(p) for p in pages] == [10, 10, 5]
    assert {skip for skip, _ in collection.requests} <= {0, 10, 20, 30, 40, 50}


@pytest.mark.slow
def test_a_slow_page_asked_for_ahead_past_the_end_holds_nothing() -> None:
    """The pages asked for past a shrunk end are not waited for: one that stalls finishes on its own."""
    collection = Collection(25)

    def stalling(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        if skip >= 25:
            time.sleep(1.5)
        return collection(link, skip, top)

    started = time.perf_counter()
    pages = list(iterate_odata_parallel(stalling, 10, workers=6, expected_items=60))
    assert [len(p) for p in pages] == [10, 10, 5] and time.perf_counter() - started < 1.0


@pytest.mark.slow
@pytest.mark.parametrize(("n", "cap"), [(30, 5), (8, None)])
def test_pages_asked_for_ahead_that_do_not_fit_are_not_waited_for(n: int, cap: int | None) -> None:
    """A server capping the page size (the offsets asked ahead do not fit its stride) or a collection
    shrunk to one page: the pages asked for ahead are dropped, and a stalled one holds nothing."""
    collection = Collection(n, cap=cap)
    stalled: set[int] = set()

    def stalling(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        if skip == 20 and skip not in stalled:
            stalled.add(skip)  # the first ask of offset 20, asked ahead, stalls
            time.sleep(1.5)
        return collection(link, skip, top)

    started = time.perf_counter()
    objects = list(flatten(iterate_odata_parallel(stalling, 10, workers=4, expected_items=40)))
    assert [o["id"] for o in objects] == list(range(n)) and time.perf_counter() - started < 1.0


def test_a_collection_grown_past_the_expected_size_is_read_to_its_end() -> None:
    collection = Collection(55)
    pages = list(iterate_odata_parallel(collection, 10, workers=3, expected_items=20))
    assert [o["id"] for o in flatten(pages)] == list(range(55))
    assert sorted(skip for skip, _ in collection.requests) == [0, 10, 20, 30, 40, 50]


def test_pages_asked_for_ahead_at_a_refused_size_are_asked_again_smaller() -> None:
    collection = Collection(30)

    def refusing(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        if top > 10:
            raise ValidationFailed("$top too large", method="GET", path="/x")
        return collection(link, skip, top)

    sizes = PageSize(20, lambda error: isinstance(error, ValidationFailed), what="test")
    pages = list(iterate_odata_parallel(refusing, 20, workers=3, sizes=sizes, expected_items=30))
    assert [len(p) for p in pages] == [10, 10, 10] and sizes.current == 10


class PagedList:
    """A Wawi ``PagedListOf<T>`` of ``n`` objects by pageNumber/pageSize; counts requests and overlap."""

    def __init__(self, n: int, *, cap: int | None = None, delay: float = 0.0, totals: bool = True) -> None:
        self.objects = [{"Id": i} for i in range(n)]
        self.cap = cap
        self.delay = delay
        self.totals = totals
        self.requests: list[tuple[int, int]] = []
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, number: int, size: int) -> Mapping[str, Any]:
        with self._lock:
            self.requests.append((number, size))
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if self.delay:
                time.sleep(self.delay)
            size = min(size, self.cap) if self.cap else size
            pages = -(-len(self.objects) // size)
            body: dict[str, Any] = {
                "Items": self.objects[(number - 1) * size : number * size],
                "PageNumber": number,
                "PageSize": size,
                "HasNextPage": number < pages,
            }
            if self.totals:
                body |= {"TotalItems": len(self.objects), "TotalPages": pages}
            return body
        finally:
            with self._lock:
                self.running -= 1


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 120), size=st.integers(1, 25), workers=st.integers(1, 6))
def test_wawi_pages_in_parallel_are_the_same_objects_in_order_with_the_fewest_requests(
    n: int, size: int, workers: int
) -> None:
    parallel = PagedList(n)
    pages = list(iterate_page_number_parallel(parallel, size, workers=workers))
    assert list(flatten(pages)) == list(flatten(iterate_page_number(PagedList(n), size)))
    assert len(parallel.requests) == max(1, -(-n // size))


@pytest.mark.slow
def test_wawi_pages_after_the_first_overlap_up_to_the_workers() -> None:
    paged = PagedList(100, delay=0.05)
    started = time.perf_counter()
    pages = list(iterate_page_number_parallel(paged, 10, workers=4))
    assert len(pages) == 10 and paged.peak == 4
    assert time.perf_counter() - started < 10 * 0.05


def test_a_wawi_capping_the_page_size_loses_nothing() -> None:
    paged = PagedList(95, cap=20)  # asked for 50, every page holds 20
    pages = list(iterate_page_number_parallel(paged, 50, workers=3))
    assert [len(p) for p in pages] == [20, 20, 20, 20, 15]
    assert [o["Id"] for o in flatten(pages)] == list(range(95))


def test_without_total_pages_the_rest_is_read_page_after_page() -> None:
    paged = PagedList(35, totals=False)
    assert [o["Id"] for o in flatten(iterate_page_number_parallel(paged, 10, workers=4))] == list(range(35))
    assert paged.peak == 1


def test_a_wawi_list_that_grew_while_read_is_read_to_its_end() -> None:
    paged = PagedList(30)
    pages = iterate_page_number_parallel(paged, 10, workers=2)
    first = next(pages)  # TotalPages 3 as of now; then 12 more orders arrive
    paged.objects += [{"Id": i} for i in range(30, 42)]
    assert [o["Id"] for o in flatten([first, *pages])] == list(range(42))


def test_a_wawi_page_answered_for_another_number_is_a_loop_error() -> None:
    paged = PagedList(30)

    def wrong(number: int, size: int) -> Mapping[str, Any]:
        body = dict(paged(number, size))
        if number == 3:
            body["PageNumber"] = 2
        return body

    with pytest.raises(PaginationLoopError, match="asked for page 3"):
        list(iterate_page_number_parallel(wrong, 10, workers=2))


def test_the_later_pages_are_asked_for_before_the_first_is_handed_out() -> None:
    paged = PagedList(100, delay=0.05)
    pages = iterate_page_number_parallel(paged, 10, workers=4)
    first = next(pages)
    assert len(first) == 10
    time.sleep(0.02)
    # page 1 in the caller's hands: pages 2 to 5 are already on their way (4 at once)
    assert sorted(n for n, _ in paged.requests) == [1, 2, 3, 4, 5]
    pages.close()  # a caller stopping after page 1: nothing more is fetched behind its back
    time.sleep(0.1)
    assert len(paged.requests) == 5 and paged.running == 0
    collection = Collection(100, delay=0.05)
    odata = iterate_odata_parallel(collection, 10, workers=3)
    next(odata)
    time.sleep(0.02)
    assert sorted(skip for skip, _ in collection.requests) == [0, 10, 20, 30]
    odata.close()
    assert collection.running == 0


@pytest.mark.slow
def test_a_slow_page_does_not_hold_the_other_workers() -> None:
    """Page 2 takes as long as eight others: the three other workers go on with pages 3 to 9 meanwhile."""

    class SlowSecond(PagedList):
        def __call__(self, number: int, size: int) -> Mapping[str, Any]:
            if number == 2:
                time.sleep(0.4)
            return super().__call__(number, size)

    paged = SlowSecond(100, delay=0.05)
    started = time.perf_counter()
    pages = list(iterate_page_number_parallel(paged, 10, workers=4))
    took = time.perf_counter() - started
    assert [page[0]["Id"] for page in pages] == list(range(0, 100, 10))
    # pages 3-10 (8 x 50 ms on 3 workers) fit into page 2's 450 ms; held behind it, they would add ~150 ms
    assert took < 0.05 + 0.45 + 0.1


class StallsOnce(PagedList):
    """Wawi pages whose first ask of the pages ``stalled`` hangs until released (a PC's ten-second stall),
    or fails after ``fail_after`` seconds; a second ask of the same page answers at once."""

    def __init__(self, n: int, stalled: set[int], *, fail_after: float | None = None) -> None:
        super().__init__(n, delay=0.02)
        self.stalled = set(stalled)
        self.fail_after = fail_after
        self.release = threading.Event()
        self.asks: list[int] = []  # every ask, as it starts

    def __call__(self, number: int, size: int) -> Mapping[str, Any]:
        with self._lock:
            self.asks.append(number)
            first = number in self.stalled
            self.stalled.discard(number)
        if first:
            if self.fail_after is not None:
                time.sleep(self.fail_after)
                raise ValidationFailed("page lost on the way")
            self.release.wait(10)
        return super().__call__(number, size)


@pytest.mark.slow
def test_a_stalled_page_at_the_tail_is_asked_for_again_while_workers_idle() -> None:
    """Pages 3 and 9 stall: once the other workers have nothing left to do, each is asked for a second
    time and that answer is used; the listing ends without waiting for the stalls, in order, no page
    asked for more than twice."""
    paged = StallsOnce(100, {3, 9})
    started = time.perf_counter()
    try:
        pages = list(iterate_page_number_parallel(paged, 10, workers=4))
        took = time.perf_counter() - started
    finally:
        paged.release.set()
    assert [o["Id"] for o in flatten(pages)] == list(range(100))
    asks = paged.asks
    assert asks.count(3) == asks.count(9) == 2 and len(asks) == 12
    assert took < 2.0  # the stalls would hold it for 10 s


@pytest.mark.slow
def test_a_second_ask_answers_for_a_first_one_that_fails_late() -> None:
    paged = StallsOnce(60, {4}, fail_after=0.8)
    pages = list(iterate_page_number_parallel(paged, 10, workers=3))
    assert [o["Id"] for o in flatten(pages)] == list(range(60))
    assert paged.asks.count(4) == 2


def test_pages_answered_alike_are_never_asked_for_twice() -> None:
    """No page outlasts the others: no second ask, however long each takes."""
    paged = PagedList(80, delay=0.01)
    list(iterate_page_number_parallel(paged, 10, workers=3))
    assert sorted(n for n, _ in paged.requests) == list(range(1, 9))


# -- the pages a caller expects, asked for beside page 1 ----------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 120), size=st.integers(1, 25), workers=st.integers(2, 6), expected=st.integers(0, 15))
def test_pages_asked_for_ahead_are_the_same_objects_in_order_and_no_more_than_expected(
    n: int, size: int, workers: int, expected: int
) -> None:
    """Whatever the caller expects (the list grew or shrank since): every object once, in order; a page
    past the end only where it was expected."""
    paged = PagedList(n)
    pages = list(iterate_page_number_parallel(paged, size, workers=workers, expected_pages=expected))
    assert list(flatten(pages)) == [{"Id": i} for i in range(n)]
    needed = max(1, -(-n // size))
    asked = [number for number, _ in paged.requests]
    assert set(range(1, needed + 1)) <= set(asked)
    assert len(set(asked)) <= max(needed, expected)


@pytest.mark.slow
def test_the_expected_pages_go_beside_page_1_not_after_its_answer() -> None:
    """A slow page 1 (a long answer of the Wawi PC) no longer holds back the pages after it."""
    paged = PagedList(40)
    started = time.perf_counter()
    asked_at: dict[int, float] = {}

    def slow_first(number: int, size: int) -> Mapping[str, Any]:
        asked_at.setdefault(number, time.perf_counter() - started)  # a second ask of page 1 may follow
        if number == 1:
            time.sleep(0.3)
        return paged(number, size)

    pages = list(iterate_page_number_parallel(slow_first, 10, workers=4, expected_pages=4))
    took = time.perf_counter() - started
    assert [len(p) for p in pages] == [10, 10, 10, 10]
    assert sorted(asked_at) == [1, 2, 3, 4] and max(asked_at.values()) < 0.15  # none waited for page 1
    assert took < 0.3 + 0.15  # page 1's answer, not page 1's and then the others'


def test_pages_expected_past_the_end_are_dropped_even_when_the_server_refuses_them() -> None:
    """A list that shrank: page 1 says 3 pages; the 4th and 5th, asked for ahead, are dropped, even
    where the server answers a page past the end with an error (the strictest reading)."""
    paged = PagedList(25)

    def strict(number: int, size: int) -> Mapping[str, Any]:
        if number > 3:
            raise ValidationFailed("pageNumber past the last page", method="GET", path="/items")
        return paged(number, size)

    pages = list(iterate_page_number_parallel(strict, 10, workers=4, expected_pages=5))
    assert [o["Id"] for o in flatten(pages)] == list(range(25))


def test_a_refused_page_size_with_pages_expected_starts_again_smaller() -> None:
    paged = PagedList(30)

    def refusing(number: int, size: int) -> Mapping[str, Any]:
        if size > 10:
            raise ValidationFailed("pageSize too large", method="GET", path="/items")
        return paged(number, size)

    sizes = PageSize(40, lambda error: isinstance(error, ValidationFailed), what="test")
    pages = list(iterate_page_number_parallel(refusing, 40, workers=3, sizes=sizes, expected_pages=3))
    assert [len(p) for p in pages] == [10, 10, 10] and sizes.current == 10


# -- pages as they are answered (a caller to whom the order means nothing) ---------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 120),
    size=st.integers(1, 25),
    workers=st.integers(2, 6),
    expected=st.one_of(st.none(), st.integers(0, 15)),
)
def test_pages_as_answered_are_every_object_once(
    n: int, size: int, workers: int, expected: int | None
) -> None:
    """Out of order, the same objects as in order: each once, in whole pages, none past the end."""
    paged = PagedList(n)
    pages = list(
        iterate_page_number_parallel(paged, size, workers=workers, expected_pages=expected, ordered=False)
    )
    assert sorted(o["Id"] for o in flatten(pages)) == list(range(n))
    starts = [page[0]["Id"] for page in pages]
    assert all(s % size == 0 for s in starts)
    assert all(
        page == [{"Id": i} for i in range(s, min(n, s + size))] for s, page in zip(starts, pages, strict=True)
    )


@pytest.mark.slow
def test_a_page_answered_early_is_not_held_behind_a_slower_one() -> None:
    """Page 2 takes long; pages 3 and 4 come before it (in order, they would wait for it)."""
    paged = PagedList(40)

    def slow_second(number: int, size: int) -> Mapping[str, Any]:
        if number == 2:
            time.sleep(0.2)
        return paged(number, size)

    for expected in (None, 4):
        pages = iterate_page_number_parallel(
            slow_second, 10, workers=4, expected_pages=expected, ordered=False
        )
        firsts = [page[0]["Id"] for page in pages]
        assert firsts[0] == 0 and firsts[-1] == 10 and sorted(firsts) == [0, 10, 20, 30]
        ordered = iterate_page_number_parallel(slow_second, 10, workers=4, expected_pages=expected)
        assert [page[0]["Id"] for page in ordered] == [0, 10, 20, 30]


def test_pages_as_answered_go_on_past_a_short_page_and_after_the_list_grew() -> None:
    """A short page before the last (the list shrank meanwhile) does not end the listing; a last page
    that still has a next one (it grew) goes on one page after the other."""
    paged = PagedList(40)

    def shrinking(number: int, size: int) -> Mapping[str, Any]:
        body = dict(paged(number, size))
        if number == 2:
            body["Items"] = body["Items"][:5]  # five items deleted while page 1 was read
        return body

    pages = list(iterate_page_number_parallel(shrinking, 10, workers=3, ordered=False))
    assert sorted(o["Id"] for o in flatten(pages)) == [*range(15), *range(20, 40)]

    growing = PagedList(30)

    def grows(number: int, size: int) -> Mapping[str, Any]:
        body = growing(number, size)
        if number == 1:
            growing.objects.extend({"Id": i} for i in range(30, 45))  # 15 items added after page 1
        return body

    pages = list(iterate_page_number_parallel(grows, 10, workers=3, ordered=False))
    assert sorted(o["Id"] for o in flatten(pages)) == list(range(45))


@pytest.mark.slow
def test_pages_asked_for_beside_a_slow_page_1_come_before_it() -> None:
    """Page 1 takes long: the pages expected beside it are handed out as they come, before it; a page
    asked for past the end (the list shrank) fails meanwhile and is dropped once page 1 says so."""
    paged = PagedList(40)

    def slow_first(number: int, size: int) -> Mapping[str, Any]:
        if number == 1:
            time.sleep(0.2)
        if number > 4:
            raise ValidationFailed("pageNumber past the last page", method="GET", path="/items")
        return paged(number, size)

    pages = iterate_page_number_parallel(slow_first, 10, workers=4, expected_pages=5, ordered=False)
    firsts = [page[0]["Id"] for page in pages]
    assert firsts[-1] == 0 and sorted(firsts) == [0, 10, 20, 30]


def test_a_page_failing_before_page_1_is_raised_when_page_1_says_it_exists() -> None:
    paged = PagedList(40)

    def broken_third(number: int, size: int) -> Mapping[str, Any]:
        if number == 1:
            time.sleep(0.05)
        if number == 3:
            raise ValidationFailed("boom", method="GET", path="/items")
        return paged(number, size)

    with pytest.raises(ValidationFailed, match="boom"):
        list(iterate_page_number_parallel(broken_third, 10, workers=4, expected_pages=4, ordered=False))
