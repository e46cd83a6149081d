"""The latency benchmarks' bound terms: each a true lower bound, checked with numbers."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from benchmarks import _latency
from benchmarks.shop_sync_check import (
    ORDER_ROUTE,
    PRODUCT_ROUTE,
    after_shop_bounds,
    in_turn_after_shop,
    shop_bounds,
)
from jtl_automator.sandbox.latency_model import (
    RequestTiming,
    asked_ahead,
    asked_once,
    dependent_chain_seconds,
    in_turn_seconds,
    listing_chain_seconds,
    released_work_seconds,
)

ITEMS = "/wawi/api/eazybusiness/v1/items"
STOCKS = "/wawi/api/eazybusiness/v1/stocks"
COMPANIES = "/wawi/api/eazybusiness/v1/companies"


def _req(route: str, page: int | None, service: float) -> RequestTiming:
    return RequestTiming(route, page, 0.0, 0.0, service, service)


def test_wawi_chain_bounds_are_the_longest_answer_and_the_longest_listing_chain() -> None:
    wawi: dict[str, Any] = {
        "max_service_seconds": 2.5,
        "timeline": [
            _req(ITEMS, 1, 0.1),
            _req(ITEMS, 2, 0.6),
            _req(STOCKS, 1, 0.4),
            _req(STOCKS, 2, 0.3),
            _req(STOCKS, 3, 0.9),
            _req("/wawi/api/eazybusiness/v1/salesChannels", None, 2.5),
        ],
    }
    bounds = _latency.wawi_chain_bounds(wawi)
    assert bounds["Wawi's longest answer"] == 2.5
    # items 0.1 + 0.6 = 0.7; stocks 0.4 + 0.9 = 1.3: the longer one
    (name,) = [k for k in bounds if k.startswith("Wawi listing chain")]
    assert "stocks" in name and bounds[name] == pytest.approx(1.3)
    assert _latency.wawi_chain_bounds({"max_service_seconds": 0.0, "timeline": []}) == {}


def test_with_four_workers_two_of_the_five_longest_answers_share_one() -> None:
    services = [2.5, 0.1, 0.6, 0.4, 0.3, 0.9]  # sorted: 2.5, 0.9, 0.6, 0.4, 0.3, 0.1
    timeline = [_req("/wawi/api/eazybusiness/v1/salesOrders", None, s) for s in services]
    bounds = _latency.wawi_chain_bounds({"max_service_seconds": 2.5, "timeline": timeline}, workers=4)
    assert bounds["Wawi's 4th + 5th longest answers (two on one worker)"] == pytest.approx(0.4 + 0.3)
    # the best schedule of these six on four workers: 2.5 | 0.9 | 0.6 + 0.1 | 0.4 + 0.3 -> 2.5; with the
    # long one gone, 0.9 | 0.6 | 0.4 | 0.3 + 0.1: 0.9 >= 0.7 still
    assert max(bounds.values()) <= 2.5
    few = _latency.wawi_chain_bounds({"max_service_seconds": 2.5, "timeline": timeline[:4]}, workers=4)
    assert not any("longest answers" in k for k in few)  # four requests on four workers: none share


def test_a_schedule_of_four_workers_never_beats_the_chain_terms() -> None:
    """The terms against a real schedule: four workers, each listing's later pages after its page 1."""
    items = [0.1, 0.6, 0.2]  # page 1, then pages 2 and 3
    stocks = [0.4, 0.3, 0.9]
    # the best a 4-worker server can do: both page 1s at once, then all later pages at once
    makespan = max(items[0] + max(items[1:]), stocks[0] + max(stocks[1:]))
    timeline = [_req(ITEMS, n + 1, s) for n, s in enumerate(items)] + [
        _req(STOCKS, n + 1, s) for n, s in enumerate(stocks)
    ]
    bounds = _latency.wawi_chain_bounds({"max_service_seconds": 0.9, "timeline": timeline})
    assert max(bounds.values()) == pytest.approx(makespan) == pytest.approx(1.3)


def test_shop_bounds_have_the_chains_the_in_flight_limit_and_the_longest_answer() -> None:
    stats = {
        "shop": {
            "busy_seconds": 12.0,
            "max_service_seconds": 5.2,
            "by_route": {PRODUCT_ROUTE: {"requests": 20, "busy_seconds": 4.4}},
        }
    }
    bounds = shop_bounds(stats, 4)
    assert bounds["Shop product pages (cursor chain)"] == 4.4
    assert bounds["Shop requests at 4 in flight (busy time / 4)"] == 3.0
    assert bounds["Shop's longest answer"] == 5.2
    assert shop_bounds({}, 4) == {}


def test_the_runs_own_work_is_a_term_that_binds_only_when_it_is_the_largest() -> None:
    bound = _latency.Bound(
        requests={"wawi": 20},
        bounds={"Wawi workers (busy time / concurrency)": 0.4, "Wawi's longest answer": 0.9},
        bottleneck="Wawi's longest answer",
        seconds=0.9,
        achieved_seconds=2.0,
        rate_limited=0,
        refused=0,
        sustained={},
        stats={},
    )
    warm = _latency.with_floor(bound, 1.6)  # a run that lists every item: its CPU is the floor
    assert (warm.bottleneck, warm.seconds, warm.ratio) == (_latency.OWN_WORK, 1.6, 0.8)
    assert warm.bounds["Wawi's longest answer"] == 0.9 and bound.bounds.keys() == {
        "Wawi workers (busy time / concurrency)",
        "Wawi's longest answer",
    }
    busy = _latency.with_floor(bound, 0.2)  # latency-bound: the APIs' term stays the bound
    assert (busy.bottleneck, busy.seconds) == ("Wawi's longest answer", 0.9)


SUPPLIERS = "/wawi/api/eazybusiness/v1/items/{id}/suppliers"
DEPENDENTS = (("/v1/items", "/items/{id}/suppliers"),)


def _best_makespan(start: float, services: list[float], workers: int) -> float:
    """The optimal schedule of ``services`` on ``workers`` from ``start`` on, by trying every assignment."""
    best = float("inf")
    for assignment in itertools.product(range(workers), repeat=len(services)):
        loads = [0.0] * workers
        for worker, service in zip(assignment, services, strict=True):
            loads[worker] += service
        best = min(best, start + max(loads))
    return best


def test_a_listing_then_its_per_item_reads_is_a_chain_no_schedule_beats() -> None:
    suppliers = [0.5, 0.3, 0.4, 0.2, 0.6]
    timeline = [_req(ITEMS, 1, 0.2), _req(ITEMS, 2, 0.1)] + [_req(SUPPLIERS, None, s) for s in suppliers]
    bounds = _latency.wawi_chain_bounds(
        {"max_service_seconds": 0.6, "timeline": timeline},
        workers=2,
        dependents=DEPENDENTS,
    )
    name = "Wawi chain (items page 1, then its suppliers reads on 2 workers)"
    # page 1 answered at 0.2 at the earliest; then 2.0 s of reads on two workers: 0.2 + 1.0
    assert bounds[name] == pytest.approx(1.2)
    assert bounds[name] == pytest.approx(_best_makespan(0.2, suppliers, 2))  # and a schedule reaches it
    # one long read: it alone, after page 1
    long = [*timeline, _req(SUPPLIERS, None, 3.0)]
    one = _latency.wawi_chain_bounds(
        {"max_service_seconds": 3.0, "timeline": long}, workers=2, dependents=DEPENDENTS
    )
    assert one[name] == pytest.approx(0.2 + 3.0) == pytest.approx(_best_makespan(0.2, [*suppliers, 3.0], 2))
    # no dependent request, or no workers given: no term
    assert not any(
        k.startswith("Wawi chain")
        for k in _latency.wawi_chain_bounds(
            {"max_service_seconds": 0.2, "timeline": timeline[:2]},
            workers=2,
            dependents=DEPENDENTS,
        )
    )
    assert not any(
        k.startswith("Wawi chain")
        for k in _latency.wawi_chain_bounds(
            {"max_service_seconds": 0.6, "timeline": timeline}, dependents=DEPENDENTS
        )
    )


def _best_released_makespan(jobs: list[tuple[float, float]], workers: int) -> float:
    """The optimal schedule of (release, service) jobs on ``workers``, by trying every assignment (each
    worker serving its jobs in release order, as soon as each is released: optimal for one worker)."""
    best = float("inf")
    for assignment in itertools.product(range(workers), repeat=len(jobs)):
        end = 0.0
        for worker in range(workers):
            clock = 0.0
            for release, service in sorted(j for j, w in zip(jobs, assignment, strict=True) if w == worker):
                clock = max(clock, release) + service
            end = max(end, clock)
        best = min(best, end)
    return best


def test_requests_released_late_are_a_bound_no_schedule_beats() -> None:
    lookups, prices = [0.3, 0.1], [0.5, 0.5, 0.4, 0.6]
    groups = [(0.2, lookups), (1.0, prices)]
    jobs = [(0.2, s) for s in lookups] + [(1.0, s) for s in prices]
    # the prices alone from 1.0: 2.0 s on two workers -> 2.0, and a schedule reaches it
    assert released_work_seconds(groups, 2) == pytest.approx(2.0)
    assert _best_released_makespan(jobs, 2) == pytest.approx(2.0)
    # a server taking any number at once: the latest release plus its longest request
    assert released_work_seconds(groups, None) == pytest.approx(1.6)
    # everything released early: the work of all over the workers binds (0.2 + 2.4 / 2)
    assert released_work_seconds([(0.2, lookups + prices)], 2) == pytest.approx(1.4)
    assert released_work_seconds([(0.5, [])], 2) == 0.0
    rng = random.Random(7)
    for _ in range(40):
        releases = [round(rng.uniform(0, 1), 2) for _ in range(2)]
        sizes = [[round(rng.uniform(0.05, 1), 2) for _ in range(rng.randint(0, 3))] for _ in releases]
        workers = rng.randint(1, 3)
        instance = [(r, s) for r, services in zip(releases, sizes, strict=True) for s in services]
        if not instance:
            continue
        bound = released_work_seconds(list(zip(releases, sizes, strict=True)), workers)
        assert bound <= _best_released_makespan(instance, workers) + 1e-9


SALES_ORDERS = "/wawi/api/eazybusiness/v1/salesOrders"
CHANNEL_PRICES = "/wawi/api/eazybusiness/v1/items/{id}/salesChannelPrices"


def test_wawi_reads_that_wait_for_the_shop_follow_its_chains() -> None:
    stats: dict[str, Any] = {
        "shop": {
            "busy_seconds": 5.0,
            "by_route": {
                PRODUCT_ROUTE: {"requests": 20, "busy_seconds": 4.0},
                ORDER_ROUTE: {"requests": 1, "busy_seconds": 0.2},
            },
        },
        "wawi": {
            "timeline": [
                _req(ITEMS, 1, 3.0),  # needs nothing from the shop: not in this term
                _req(STOCKS, 1, 3.0),
                _req(SALES_ORDERS, 1, 0.3),
                _req(SALES_ORDERS, None, 0.1),
                *(_req(CHANNEL_PRICES, None, s) for s in (0.5, 0.5, 0.4, 0.6)),
            ]
        },
    }
    (name,) = after_shop_bounds(stats, 2)
    assert "on 2 workers" in name
    # the channel prices after the product pages: 4.0 + 2.0 / 2; the lookups after the order page end by
    # 0.2 + 0.4 / 2 at the earliest
    assert after_shop_bounds(stats, 2)[name] == pytest.approx(5.0)
    jobs = [(0.2, 0.3), (0.2, 0.1)] + [(4.0, s) for s in (0.5, 0.5, 0.4, 0.6)]
    assert after_shop_bounds(stats, 2)[name] == pytest.approx(_best_released_makespan(jobs, 2))
    # a steady-state run without channel-price reads: the lookups after the order pages
    stats["wawi"]["timeline"] = stats["wawi"]["timeline"][:4]
    assert after_shop_bounds(stats, 4) == {
        "Shop cursor chains, then the Wawi order lookups and channel-price reads they name (on 4 workers)": (
            pytest.approx(0.5)
        )
    }
    stats["wawi"]["timeline"] = stats["wawi"]["timeline"][:2]  # nothing waits for the shop: no term
    assert after_shop_bounds(stats, 4) == {}
    assert after_shop_bounds({"shop": stats["shop"]}, 4) == {}


# --- the in-turn schedule: what a client that cannot see answers' lengths does with its order ---------


def _arrived(route: str, page: int | None, service: float, arrived: float) -> RequestTiming:
    return RequestTiming(route, page, arrived, arrived, arrived + service, service)


def _in_order(*requests: tuple[str, int | None, float]) -> list[RequestTiming]:
    """Requests in this arrival order (a millisecond apart; the schedule uses only the order)."""
    return [
        _arrived(route, page, service, index / 1000) for index, (route, page, service) in enumerate(requests)
    ]


def test_a_listings_long_page_asked_for_in_its_turn_ends_the_run_after_the_pages_before_it() -> None:
    pages = [(ITEMS, 1, 0.1), *((ITEMS, n, 0.2) for n in range(2, 6)), (ITEMS, 6, 1.0)]
    # page 1 answers at 0.1; pages 2-5 take the four workers to 0.3; page 6 runs 0.3 -> 1.3
    assert in_turn_seconds(_in_order(*pages), 4) == pytest.approx(1.3)
    # asked for right after page 1 it ends at 1.1: the chain bound, reachable only by knowing in advance
    first_long = [pages[0], pages[-1], *pages[1:-1]]
    assert in_turn_seconds(_in_order(*first_long), 4) == pytest.approx(1.1)
    assert _latency.wawi_chain_bounds({"max_service_seconds": 1.0, "timeline": _in_order(*pages)})[
        "Wawi listing chain (items: page 1, then its longest later page)"
    ] == pytest.approx(1.1)


def test_requests_that_depend_on_nothing_start_at_once_and_the_arrival_times_do_not_count() -> None:
    late = [_arrived("/wawi/api/eazybusiness/v1/companies", None, 0.5, at) for at in (0.0, 3.0, 9.0)]
    assert in_turn_seconds(late, 2) == pytest.approx(1.0)  # two at once, then the third: no client delay
    assert in_turn_seconds(late, 4) == pytest.approx(0.5)
    assert in_turn_seconds([], 4) == 0.0


def test_dependent_reads_wait_for_a_page_1_of_their_listing() -> None:
    suppliers = "/wawi/api/eazybusiness/v1/items/{id}/suppliers"
    timeline = _in_order((ITEMS, 1, 0.2), (ITEMS, 2, 0.5), (suppliers, None, 0.1), (suppliers, None, 0.1))
    # page 1 0 -> 0.2; then page 2 and both supplier reads at once on 4 workers: 0.2 + 0.5
    assert in_turn_seconds(timeline, 4, [("/items", "/suppliers")]) == pytest.approx(0.7)
    # on one worker everything in turn: 0.2 + 0.5 + 0.1 + 0.1
    assert in_turn_seconds(timeline, 1, [("/items", "/suppliers")]) == pytest.approx(0.9)
    # without the pair the supplier reads may start at once: two of them beside page 1 on 4 workers
    assert in_turn_seconds(timeline, 4) == pytest.approx(0.7)
    # on two, reads of 0.3: with the pair both wait for page 1 (0.2), then run one after the other
    # beside page 2 (0.2 -> 0.5 -> 0.8); without it one starts beside page 1 and the other at 0.3
    slower = _in_order((ITEMS, 1, 0.2), (ITEMS, 2, 0.5), (suppliers, None, 0.3), (suppliers, None, 0.3))
    assert in_turn_seconds(slower, 2, [("/items", "/suppliers")]) == pytest.approx(0.8)
    assert in_turn_seconds(slower, 2) == pytest.approx(0.7)


def test_the_in_turn_schedule_is_never_shorter_than_any_lower_bound_term() -> None:
    rng = random.Random(17)
    for _ in range(200):
        workers = rng.choice((1, 2, 4))
        timeline = _in_order(
            *((ITEMS, n, rng.lognormvariate(-1.9, 1.15)) for n in range(1, rng.randint(2, 12))),
            *((STOCKS, n, rng.lognormvariate(-1.9, 1.15)) for n in range(1, rng.randint(1, 6))),
            *(
                ("/wawi/api/eazybusiness/v1/companies", None, rng.lognormvariate(-1.9, 1.15))
                for _ in range(3)
            ),
        )
        rng.shuffle(timeline)  # any order the client might choose, but no later page before its page 1
        timeline = sorted(timeline, key=lambda r: (r.page or 0) > 1)
        services = [r.service for r in timeline]
        wawi = {"max_service_seconds": max(services), "timeline": timeline}
        terms = [sum(services) / workers, *_latency.wawi_chain_bounds(wawi, workers).values()]
        assert in_turn_seconds(timeline, workers) >= max(terms) - 1e-9


def test_requests_released_by_another_api_wait_for_it_beside_the_rest() -> None:
    prices = "/wawi/api/eazybusiness/v1/items/{id}/salesChannelPrices"
    timeline = _in_order((COMPANIES, None, 0.5), (prices, None, 0.5), (prices, None, 0.5))
    assert in_turn_seconds(timeline, 2) == pytest.approx(1.0)
    # the channel prices only once the shop's pages are read (1.0 s): both then side by side
    assert in_turn_seconds(timeline, 2, released=[("/salesChannelPrices", 1.0)]) == pytest.approx(1.5)
    assert in_turn_seconds(timeline, 1, released=[("/salesChannelPrices", 1.0)]) == pytest.approx(2.0)


def test_the_shop_checks_channel_price_reads_wait_for_the_shops_product_chain_in_turn() -> None:
    prices = "/wawi/api/eazybusiness/v1/items/{id}/salesChannelPrices"
    stats: dict[str, Any] = {
        "shop": {"by_route": {PRODUCT_ROUTE: {"busy_seconds": 1.0}, ORDER_ROUTE: {"busy_seconds": 0.2}}},
        "wawi": {"timeline": _in_order((STOCKS, 1, 0.5), (prices, None, 0.5), (prices, None, 0.5))},
    }
    # the stock page at once; the prices after the product pages' 1.0 s, side by side on two workers
    assert in_turn_after_shop(stats, 2) == pytest.approx(1.5)
    assert in_turn_after_shop(stats, None) == 0.0
    assert in_turn_after_shop({"shop": stats["shop"]}, 2) == 0.0


def test_fastest_of_keeps_the_fastest_repeat_and_each_repeat_starts_from_the_same_draws() -> None:
    from jtl_automator.sandbox.app import SandboxState
    from jtl_automator.sandbox.config import SandboxConfig
    from jtl_automator.sandbox.data import SandboxData

    state = SandboxState(data=SandboxData(), config=SandboxConfig())
    state.runtime.latency.occurrences["GET /items?"] = 4
    seen: list[dict[str, int]] = []
    times = iter([3.0, 1.0, 2.0])

    def run() -> dict[str, Any]:
        seen.append(dict(state.runtime.latency.occurrences))
        state.runtime.latency.occurrences["GET /items?"] += 2  # the run's own requests draw on
        return {"seconds": next(times)}

    best = _latency.fastest_of(state, 3, run)
    assert best == {"seconds": 1.0, "repeats": 3}
    assert seen == [{"GET /items?": 4}] * 3


def _asked(key: str, arrived: float, service: float, route: str = ITEMS + "/{id}/suppliers") -> RequestTiming:
    return RequestTiming(route, None, arrived, arrived, arrived + service, service, key)


def test_a_read_asked_for_twice_counts_once_its_fastest_ask_in_the_bound_its_first_in_turn() -> None:
    """A hedged read (the same GET again before the first ask answered) is one read the run needed: the
    bound keeps the ask served fastest, a client that asks in turn the first. A read asked for again after
    its answer came, and a write sent twice, are requests of their own."""
    stalled = _asked("GET /items/7/suppliers?", 0.0, 10.0)
    second = _asked("GET /items/7/suppliers?", 0.4, 0.1)
    again_later = _asked("GET /items/7/suppliers?", 11.0, 0.2)
    other = _asked("GET /items/8/suppliers?", 0.1, 0.3)
    posts = [_asked("POST /items/9/notes?", t, 1.0, ITEMS + "/{id}/notes") for t in (0.0, 0.5)]
    timeline = [stalled, other, second, again_later, *posts]
    fastest = asked_once(timeline)
    assert stalled not in fastest and second in fastest and again_later in fastest and other in fastest
    assert all(p in fastest for p in posts) and len(fastest) == 5
    first = asked_once(timeline, keep="first")
    assert stalled in first and second not in first and len(first) == 5
    with pytest.raises(ValueError, match="keep"):
        asked_once(timeline, keep="slowest")

    needed = _latency.reads_needed(
        {"timeline": timeline, "busy_seconds": 12.8 + 2.0, "max_service_seconds": 10.0, "requests": 6}
    )
    assert needed["second_asks"] == 1 and needed["asked_in_turn"] == first
    assert needed["max_service_seconds"] == 1.0  # the stall was not waited for: the second ask answered
    # the stalled first ask held its worker whoever waited for it: the workers' busy time counts first asks
    assert needed["busy_seconds"] == pytest.approx(10.0 + 0.3 + 0.2 + 2.0)
    bounds = _latency.wawi_chain_bounds(needed, workers=2)
    assert bounds["Wawi's longest answer"] == 1.0
    page = RequestTiming(ITEMS, 1, 0.0, 0.0, 0.05, 0.05, "GET /items?pageNumber=1")
    listed = _latency.reads_needed({"timeline": [page, *timeline], "busy_seconds": 0.0})
    chains = _latency.wawi_chain_bounds(listed, workers=2, dependents=(("/v1/items", "/suppliers"),))
    # page 1, then the suppliers reads' first asks over 2 workers (10.0 + 0.3 + 0.2), not their fastest
    assert [v for k, v in chains.items() if "chain (items page 1" in k] == [pytest.approx(0.05 + 10.5 / 2)]
    # without them: the fastest asks (0.1 + 0.3 + 0.2) over the 2 workers
    assert dependent_chain_seconds([page, *fastest], "/v1/items", "/suppliers", 2) == pytest.approx(0.35)
    untouched = {"timeline": [other], "busy_seconds": 0.3, "max_service_seconds": 0.3}
    assert _latency.reads_needed(untouched) == {
        **untouched,
        "asked_in_turn": [other],
        "second_asks": 0,
        "asked_ahead": set(),
    }


def _paged(page: int, arrived: float, service: float, route: str = ITEMS) -> RequestTiming:
    return RequestTiming(route, page, arrived, arrived, arrived + service, service, f"GET {route}?p={page}")


def test_a_listing_asked_for_ahead_has_no_chain_of_page_1_then_the_others() -> None:
    """A client that knows a listing's size (its last read) asks for its pages at once: for that route
    page 1 then the longest later page binds nothing, a client asking in turn need not wait for page 1,
    and the per-item reads it names may follow its shortest page."""
    ahead = [_paged(1, 0.0, 0.5), _paged(2, 0.01, 0.4), _paged(3, 0.01, 0.1)]
    waited = [_paged(1, 0.0, 0.5, STOCKS), _paged(2, 0.6, 0.4, STOCKS)]
    found = asked_ahead([*ahead, *waited])
    assert found == {ITEMS}
    assert listing_chain_seconds([*ahead, *waited], found) == {STOCKS: pytest.approx(0.9)}
    assert listing_chain_seconds([*ahead, *waited])[ITEMS] == pytest.approx(0.9)  # not known: 0.5 + 0.4
    assert in_turn_seconds(ahead, 4, ahead=found) == pytest.approx(0.5)  # the three at once
    assert in_turn_seconds(waited, 4, ahead=found) == pytest.approx(0.9)
    reads = [_asked(f"GET /items/{i}/suppliers?", 0.2, 0.3) for i in range(4)]
    chain = dependent_chain_seconds([*ahead, *reads], "/v1/items", "/suppliers", 4, found)
    assert chain == pytest.approx(0.1 + 0.3)
    measured = _latency.reads_needed({"timeline": [*ahead, *waited], "busy_seconds": 1.9})
    assert measured["asked_ahead"] == {ITEMS}
    bounds = _latency.wawi_chain_bounds({**measured, "max_service_seconds": 0.5}, workers=4)
    assert [v for k, v in bounds.items() if "listing chain" in k] == [pytest.approx(0.9)]  # stocks only
