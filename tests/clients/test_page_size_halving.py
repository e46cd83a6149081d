"""Refused page sizes are halved in the pagination layer, once for every list of a client (issue 8).

Neither FFN's ``$top`` nor Wawi's ``pageSize`` has a documented maximum. The iterators get a
:class:`PageSize`; on a 400 that refuses the size they ask for the same item offset with half of it,
and only such a 400: any other error reaches the caller unchanged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from jtl_automator.clients.errors import JtlApiError, NotFound, ValidationFailed
from jtl_automator.clients.ffn import FfnClient
from jtl_automator.clients.ffn.client import top_refused
from jtl_automator.clients.pagination import PageSize, flatten, iterate_odata, iterate_page_number
from jtl_automator.clients.wawi import WawiClient
from jtl_automator.clients.wawi.client import page_size_refused
from jtl_automator.sandbox import oauth
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import asgi_transport
from jtl_automator.sandbox.state import SandboxState
from tests.support.clock import FakeClock, policy_on


def objects(n: int) -> list[dict[str, Any]]:
    return [{"id": f"OBJ{i:05d}", "n": i} for i in range(n)]


def top_error(top: int, maximum: int) -> ValidationFailed:
    """What the sandbox's FFN answers above its maximum (Shared_ModelValidation naming $top)."""
    return ValidationFailed(
        f"GET /things -> 400: $top must not exceed {maximum}",
        status=400,
        code="Shared_ModelValidation",
        messages=("General validation exception", f"$top must not exceed {maximum}"),
        metadata={"$top": top, "MaxTop": maximum},
    )


def page_size_error(maximum: int, **others: str) -> ValidationFailed:
    """Wawi's ErrorResponse for a refused pageSize (and ``others`` members), as the client parses it."""
    members = {"pageSize": f"The page size must be between 1 and {maximum}.", **others}
    return ValidationFailed(
        "GET /items -> 400",
        status=400,
        code="ValidationError",
        messages=tuple(f"{k}: {v}" for k, v in members.items()),
        metadata={"validation_errors": members},
    )


class ODataServer:
    """An FFN collection refusing ``$top`` above ``maximum``, which may drop after ``lower_after`` pages."""

    def __init__(
        self, data: list[dict[str, Any]], maximum: int, style: str, lower_after: tuple[int, int] | None = None
    ) -> None:
        self.data, self.maximum, self.style, self.lower_after = data, maximum, style, lower_after
        self.requests: list[tuple[int, int]] = []  # (skip, top), refused ones included
        self.served = 0

    def fetch(self, link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        if link:  # a next link carries its own $top and $skip
            query = parse_qs(urlsplit(link).query)
            skip, top = int(query["$skip"][0]), int(query["$top"][0])
        self.requests.append((skip, top))
        if top > self.maximum:
            raise top_error(top, self.maximum)
        self.served += 1
        if self.lower_after is not None and self.served == self.lower_after[0]:
            self.maximum = self.lower_after[1]
        items = self.data[skip : skip + top]
        body: dict[str, Any] = {"items": items, "_page": {"limit": top, "offset": skip}}
        if self.style in ("count", "links"):
            body["count"] = len(self.data)
        if self.style == "links" and skip + top < len(self.data):
            body["nextPageLink"] = f"/api/v1/merchant/things?$top={top}&$skip={skip + top}"
        return body


class WawiServer:
    """A PagedListOf<T> endpoint refusing ``pageSize`` above ``maximum`` (which may drop mid-way)."""

    def __init__(
        self, data: list[dict[str, Any]], maximum: int, lower_after: tuple[int, int] | None = None
    ) -> None:
        self.data, self.maximum, self.lower_after = data, maximum, lower_after
        self.requests: list[tuple[int, int]] = []  # (pageNumber, pageSize), refused ones included
        self.served = 0

    def fetch(self, number: int, size: int) -> Mapping[str, Any]:
        self.requests.append((number, size))
        if size > self.maximum:
            raise page_size_error(self.maximum)
        self.served += 1
        if self.lower_after is not None and self.served == self.lower_after[0]:
            self.maximum = self.lower_after[1]
        pages = math.ceil(len(self.data) / size)
        has_next = number < pages
        return {
            "TotalItems": len(self.data),
            "PageNumber": number,
            "PageSize": size,
            "TotalPages": pages,
            "HasNextPage": has_next,
            "NextPageNumber": number + 1 if has_next else pages,
            "Items": self.data[(number - 1) * size : number * size],
        }


def halved_until(size: int, maximum: int) -> int:
    """The size halving arrives at: the first of size, size // 2, ... that is at most ``maximum``."""
    while size > maximum:
        size //= 2
    return size


# --------------------------------------------------------------------------------------------- iterators
lowering = st.none() | st.tuples(
    st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=40)
)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=400),
    start=st.integers(min_value=1, max_value=300),
    maximum=st.integers(min_value=1, max_value=100),
    style=st.sampled_from(["count", "links", "bare"]),
    lower_after=lowering,
)
@pytest.mark.slow
def test_odata_halving_keeps_the_offset(
    n: int, start: int, maximum: int, style: str, lower_after: tuple[int, int] | None
) -> None:
    data = objects(n)
    server = ODataServer(data, maximum, style, lower_after)
    sizes = PageSize(start, top_refused, what="FFN $top")
    assert list(flatten(iterate_odata(server.fetch, sizes.start(), sizes=sizes))) == data
    assert sizes.current == halved_until(start, server.maximum) or sizes.current == halved_until(
        start, maximum
    )  # a drop after the last page was never seen
    refused = [(skip, top) for skip, top in server.requests if top > maximum]
    assert len(refused) >= (start > maximum)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=400),
    start=st.integers(min_value=1, max_value=300),
    maximum=st.integers(min_value=1, max_value=100),
    lower_after=lowering,
)
@pytest.mark.slow
def test_page_number_halving_neither_skips_nor_repeats(
    n: int, start: int, maximum: int, lower_after: tuple[int, int] | None
) -> None:
    data = objects(n)
    server = WawiServer(data, maximum, lower_after)
    sizes = PageSize(start, page_size_refused, what="Wawi pageSize")
    assert list(flatten(iterate_page_number(server.fetch, sizes.start(), sizes=sizes))) == data
    assert all(size <= start for _, size in server.requests)


def test_page_number_after_halving_starts_at_the_page_holding_the_next_item() -> None:
    server = WawiServer(objects(200), maximum=75, lower_after=(1, 40))
    sizes = PageSize(75, page_size_refused, what="Wawi pageSize")
    pages = list(iterate_page_number(server.fetch, 75, sizes=sizes))
    # 75 items seen; at size 37 item 75 is on page 3 (items 74..110), whose first item was already yielded.
    assert server.requests[:4] == [(1, 75), (2, 75), (3, 37), (4, 37)]
    assert [page[0]["n"] for page in pages[:3]] == [0, 75, 111]
    assert list(flatten(pages)) == objects(200)


def test_odata_after_halving_drops_the_next_link_and_asks_for_the_same_skip() -> None:
    server = ODataServer(objects(30), maximum=10, style="links", lower_after=(1, 4))
    sizes = PageSize(10, top_refused, what="FFN $top")
    assert list(flatten(iterate_odata(server.fetch, 10, sizes=sizes))) == objects(30)
    # The first page's next link says $top=10: after the refusal the same $skip is asked with 5, then 2.
    assert server.requests[:5] == [(0, 10), (10, 10), (10, 5), (10, 2), (12, 2)]
    assert sizes.current == 2


def test_a_refused_size_of_one_is_raised() -> None:
    server = WawiServer(objects(5), maximum=0)
    sizes = PageSize(8, page_size_refused, what="Wawi pageSize")
    with pytest.raises(ValidationFailed, match="400"):
        list(iterate_page_number(server.fetch, 8, sizes=sizes))
    assert server.requests == [(1, 8), (1, 4), (1, 2), (1, 1)]
    assert sizes.current == 1


@pytest.mark.parametrize(
    "error",
    [
        ValidationFailed("bad filter", status=400, messages=("Invalid query",), metadata={"$filter": "x"}),
        ValidationFailed("negative", status=400, messages=("$top and $skip must not be negative",)),
        ValidationFailed("two", status=400, messages=("$top must not exceed 10", "$filter: unknown field")),
        NotFound("gone", status=404, metadata={"$top": 10}),
        RuntimeError("$top must not exceed 10"),
    ],
    ids=["filter", "skip", "top-and-filter", "404", "not-an-api-error"],
)
def test_other_ffn_errors_are_not_taken_for_a_page_size(error: Exception) -> None:
    calls: list[int] = []

    def fetch(link: str | None, skip: int, top: int) -> Mapping[str, Any]:
        calls.append(top)
        raise error

    sizes = PageSize(100, top_refused, what="FFN $top")
    with pytest.raises(type(error)):
        list(iterate_odata(fetch, 100, sizes=sizes))
    assert calls == [100] and sizes.current == 100


@pytest.mark.parametrize(
    "error",
    [
        ValidationFailed("n", status=400, metadata={"validation_errors": {"pageNumber": "must be >= 1"}}),
        page_size_error(10, pageNumber="must be >= 1"),
        ValidationFailed("no members", status=400, messages=("pageSize is too large",)),
        JtlApiError("conflict", status=409, metadata={"validation_errors": {"pageSize": "too large"}}),
    ],
    ids=["page-number", "page-size-and-number", "no-validation-errors", "409"],
)
def test_other_wawi_errors_are_not_taken_for_a_page_size(error: Exception) -> None:
    calls: list[int] = []

    def fetch(number: int, size: int) -> Mapping[str, Any]:
        calls.append(size)
        raise error

    sizes = PageSize(100, page_size_refused, what="Wawi pageSize")
    with pytest.raises(type(error)):
        list(iterate_page_number(fetch, 100, sizes=sizes))
    assert calls == [100] and sizes.current == 100


def test_the_sandbox_refusals_are_recognised() -> None:
    assert top_refused(top_error(1000, 100))
    assert page_size_refused(page_size_error(100))


# --------------------------------------------------------------------------------------------- clients
SKUS = 450


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxState, httpx.Client]]:
    """The sandbox with small maxima (strictest()'s), whatever ``--sandbox`` says."""
    app = create_app(
        generate(seed=5, skus=SKUS, orders=10), SandboxConfig(ffn_max_top=100, wawi_max_page_size=100)
    )
    transport = asgi_transport(app)
    with httpx.Client(transport=transport, timeout=30) as http:
        yield app.state.sandbox, http
    transport.close()


class StaticToken:
    """A bearer minted by the sandbox: these tests are about paging, not OAuth."""

    def __init__(self, state: SandboxState) -> None:
        self.token = str(oauth.issue_token_pair(state)["access_token"])

    def access_token(self) -> str:
        return self.token

    def invalidate(self, token: str) -> None:
        """Nothing to refresh."""


def ffn_client(state: SandboxState, http: httpx.Client, page_size: int) -> FfnClient:
    return FfnClient(http, StaticToken(state), "http://sandbox/api", page_size=page_size)


def wawi_client(state: SandboxState, http: httpx.Client, page_size: int) -> WawiClient:
    config = state.config
    return WawiClient(
        http,
        "http://sandbox/wawi/api/eazybusiness",
        SecretStr(config.wawi_api_key),
        config.wawi_app_id,
        config.wawi_app_version,
        page_size=page_size,
    )


@pytest.mark.slow
def test_ffn_client_halves_a_refused_top_once_for_its_life(
    sandbox: tuple[SandboxState, httpx.Client], caplog: pytest.LogCaptureFixture
) -> None:
    state, http = sandbox
    ffn = ffn_client(state, http, page_size=1000)
    with caplog.at_level(logging.DEBUG, logger="jtl_automator.pagination"):
        jfskus = [p["jfsku"] for p in flatten(ffn.products.iter_pages())]
    assert len(jfskus) == SKUS and len(set(jfskus)) == SKUS
    assert ffn.page_size.current == 62  # 1000 -> 500 -> 250 -> 125 -> 62
    assert ffn.stats.by_status[400] == ffn.page_size.refusals == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "1000" in warnings[0].getMessage()
    stocks = [s["jfsku"] for s in flatten(ffn.stocks.iter_pages())]  # another collection, same client
    assert sorted(stocks) == sorted(jfskus)
    assert ffn.stats.by_status[400] == 4  # nothing refused again
    assert ffn.stats.by_status[200] == math.ceil(SKUS / 62) * 2


@pytest.mark.slow
def test_ffn_client_does_not_swallow_another_400(sandbox: tuple[SandboxState, httpx.Client]) -> None:
    state, http = sandbox
    ffn = ffn_client(state, http, page_size=50)
    with pytest.raises(ValidationFailed, match="Invalid query"):
        list(ffn.products.iter_pages(filter="noSuchField eq 'x'"))
    assert ffn.page_size.current == 50 and ffn.stats.requests == 1


@pytest.mark.slow
def test_wawi_client_halves_a_refused_page_size_once_for_its_life(
    sandbox: tuple[SandboxState, httpx.Client],
) -> None:
    state, http = sandbox
    wawi = wawi_client(state, http, page_size=1000)
    ids = [item["Id"] for item in flatten(wawi.items.iter_pages())]
    assert ids == sorted(state.data.wawi.items)
    assert wawi.page_size.current == 62
    assert wawi.stats.by_status[400] == wawi.page_size.refusals == 4
    assert len(list(wawi.sales_orders.list())) == len(state.data.wawi.sales_orders)
    assert wawi.stats.by_status[400] == 4


@pytest.mark.slow
def test_wawi_client_does_not_swallow_another_400(sandbox: tuple[SandboxState, httpx.Client]) -> None:
    state, http = sandbox
    wawi = wawi_client(state, http, page_size=50)
    with pytest.raises(ValidationFailed, match="categoryId"):
        list(wawi.items.iter_pages(category_id="abc"))
    assert wawi.page_size.current == 50 and wawi.stats.requests == 1


# --------------------------------------------------------------------------------------------- FFN 429
@pytest.mark.slow
def test_ffn_429_without_retry_after_waits_out_the_sandbox_window(
    sandbox: tuple[SandboxState, httpx.Client], clock: FakeClock
) -> None:
    from datetime import UTC, datetime

    from jtl_automator.sandbox.ffn.common import runtime

    state, http = sandbox
    state.config.ffn_rate_limit = 2
    state.config.ffn_rate_interval_seconds = 30
    state.config.ffn_rate_limit_retry_after = False
    runtime(state).clock = lambda: datetime.fromtimestamp(clock.now, UTC)
    ffn = FfnClient(http, StaticToken(state), "http://sandbox/api", retry=policy_on(clock))
    for _ in range(3):
        ffn.users.current()
    assert clock.sleeps == [30.0]  # X-RateLimit-Remaining 0: the interval, no backoff guess
    assert ffn.stats.rate_limited == 1 and ffn.stats.requests == 4


def mock_ffn(*answers: httpx.Response, clock: FakeClock) -> tuple[FfnClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return FfnClient(http, StaticTokenText(), "https://ffn.example.test/api", retry=policy_on(clock)), seen


class StaticTokenText:
    def access_token(self) -> str:
        return "tok"

    def invalidate(self, token: str) -> None:
        """Nothing to refresh."""


OK = {"userId": "MERC"}


def test_ffn_429_with_only_the_interval_header_waits_the_interval(clock: FakeClock) -> None:
    limited = httpx.Response(429, headers={"X-RateLimit-Interval-Length-Seconds": "45"})
    ffn, seen = mock_ffn(limited, httpx.Response(200, json=OK), clock=clock)
    assert ffn.users.current().user_id == "MERC"
    assert clock.sleeps == [45.0] and len(seen) == 2


def test_ffn_429_without_any_hint_backs_off_exponentially(clock: FakeClock) -> None:
    bare = [httpx.Response(429) for _ in range(3)]
    ffn, seen = mock_ffn(*bare, httpx.Response(200, json=OK), clock=clock)
    assert ffn.users.current().user_id == "MERC"
    policy = policy_on(clock)
    assert clock.sleeps == [policy.initial_delay * 2**k for k in range(3)]  # jitter pinned to the ceiling
    assert len(seen) == 4
