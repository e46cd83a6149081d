"""The lookups the clients own: chunked ``$filter`` lookups, inbounds by reference, Wawi's unpaged lists."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import TransientError
from jtl_automator.clients.ffn import FfnClient
from jtl_automator.clients.ffn.client import FILTER_CLAUSES_MAX, any_of_filters
from jtl_automator.clients.pagination import chunked
from jtl_automator.clients.wawi import WawiClient
from jtl_automator.resilience import RetryPolicy
from tests.clients.conftest import Recorder, json_response

FFN = "https://ffn.example.test/api"
WAWI = "http://127.0.0.1:5883/api/eazybusiness"
_EQ = re.compile(r"(\w+) eq '((?:[^']|'')*)'")


class Tokens:
    def access_token(self) -> str:
        return "tok"

    def invalidate(self, token: str) -> None:
        """Never called here."""


def filtering(objects: list[dict[str, Any]]) -> Any:
    """A handler that evaluates ``a eq 'x' or b eq 'y'`` filters like FFN and pages by $top/$skip."""

    def handler(request: httpx.Request) -> httpx.Response:
        expression = request.url.params.get("$filter")
        items = objects
        if expression:
            clauses = [(f, v.replace("''", "'")) for f, v in _EQ.findall(expression)]
            items = [o for o in objects if any(str(o.get(f)) == v for f, v in clauses)]
        top, skip = int(request.url.params["$top"]), int(request.url.params["$skip"])
        return json_response(200, {"items": items[skip : skip + top], "count": len(items)})

    return handler


def ffn_for(handler: Any, policy: RetryPolicy, page_size: int = 1000) -> tuple[FfnClient, Recorder]:
    recorder = Recorder(handler)
    return FfnClient(recorder.client(), Tokens(), FFN, retry=policy, page_size=page_size), recorder


def test_chunked_slices_and_refuses_a_zero_size() -> None:
    assert [list(c) for c in chunked([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert list(chunked([], 3)) == []
    with pytest.raises(ValueError, match="size"):
        list(chunked([1], 0))


def test_any_of_filters_stay_within_the_clause_limit_and_quote_values() -> None:
    filters = list(
        any_of_filters(("inboundId", "merchantInboundNumber"), [f"R{i}" for i in range(45)] + ["O'B"])
    )
    assert all(expr.count(" eq ") <= FILTER_CLAUSES_MAX for _, expr in filters)
    assert sum(len(values) for values, _ in filters) == 46
    assert any("'O''B'" in expr for _, expr in filters)


def test_outbounds_by_numbers_costs_one_request_per_forty_and_keeps_only_exact_matches(
    policy: RetryPolicy,
) -> None:
    outbounds = [
        {"outboundId": f"OB{i}", "merchantOutboundNumber": f"AU{i}", "status": "Pending", "warehouseId": "W1"}
        for i in range(100)
    ] + [{"outboundId": "X", "merchantOutboundNumber": "au1 ", "status": "Pending"}]
    ffn, recorder = ffn_for(filtering(outbounds), policy)
    wanted = [f"AU{i}" for i in range(0, 100, 2)] + ["AU1000", "It's"]  # 52 numbers, 2 unknown
    found = ffn.outbounds.find_by_merchant_numbers(wanted + wanted[:5])  # duplicates cost nothing
    assert set(found) == {f"AU{i}" for i in range(0, 100, 2)}
    assert found["AU4"]["outboundId"] == "OB4"
    assert len(recorder.requests) == 2  # ceil(52 / 40)


def test_outbounds_by_numbers_with_nothing_to_look_up_sends_nothing(policy: RetryPolicy) -> None:
    ffn, recorder = ffn_for(filtering([]), policy)
    assert ffn.outbounds.find_by_merchant_numbers([]) == {}
    assert recorder.requests == []


def test_inbounds_by_reference_filter_both_keys_and_list_all_above_the_threshold(policy: RetryPolicy) -> None:
    inbounds = [
        {"inboundId": f"IB{i}", "merchantInboundNumber": f"WE-{i // 2}", "items": []} for i in range(300)
    ]
    ffn, recorder = ffn_for(filtering(inbounds), policy, page_size=50)
    found = ffn.inbounds.find_by_references(["IB7", "WE-10", " WE-10 ", "", "missing"])
    assert sorted(i["inboundId"] for i in found) == ["IB20", "IB21", "IB7"]  # a shared number: both
    assert len(recorder.requests) == 1 and "$filter" in recorder.requests[0].url.params

    recorder.requests.clear()
    many = [f"IB{i}" for i in range(0, 202, 2)]  # 101 references: one listing beats six filter requests
    found = ffn.inbounds.find_by_references(many)
    assert len(found) == 101
    assert len(recorder.requests) == 6 and all("$filter" not in r.url.params for r in recorder.requests)


def wawi_for(recorder: Recorder, policy: RetryPolicy) -> WawiClient:
    return WawiClient(recorder.client(), WAWI, SecretStr("key"), "app/v1", "1.0", retry=policy)


@pytest.mark.parametrize(
    "body", [[{"Id": 1, "Name": "Warte auf Ware"}], {"Items": [{"Id": 1, "Name": "Warte auf Ware"}]}]
)
def test_on_hold_reasons_accept_a_bare_array_or_an_items_envelope(policy: RetryPolicy, body: Any) -> None:
    recorder = Recorder(json_response(200, body))
    assert wawi_for(recorder, policy).on_hold_reasons() == [{"Id": 1, "Name": "Warte auf Ware"}]
    assert recorder.requests[0].url.path.endswith("/v1/onHoldReasons")


def test_raw_line_items_keep_unruly_entries_for_the_frame_to_judge(policy: RetryPolicy) -> None:
    lines = [{"Id": 1, "Quantity": "zwei"}, "garbage", None]
    recorder = Recorder(json_response(200, lines))
    assert wawi_for(recorder, policy).sales_orders.raw_line_items(7) == lines
    assert recorder.requests[0].url.path.endswith("/v1/salesOrders/7/lineitems")


def test_a_patch_is_repeated_after_a_5xx_only_when_the_caller_says_it_is_idempotent(
    policy: RetryPolicy,
) -> None:
    recorder = Recorder(json_response(503), json_response(204))
    with pytest.raises(TransientError):
        wawi_for(recorder, policy).sales_orders.update(7, {"Comment": "x"})
    assert len(recorder.requests) == 1

    recorder = Recorder(json_response(503), json_response(204))
    assert wawi_for(recorder, policy).sales_orders.update(7, {"Comment": "x"}, idempotent=True) is None
    assert len(recorder.requests) == 2


def test_closing_a_client_closes_its_connection_pool(policy: RetryPolicy) -> None:
    recorder = Recorder(json_response(200, {"Version": "1.0"}))
    with wawi_for(recorder, policy) as wawi:
        wawi.info()
    assert wawi.core.http.is_closed
