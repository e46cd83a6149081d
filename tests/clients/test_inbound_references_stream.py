"""Inbounds by reference, page by page: the inbound verification of a million-row sheet needs this."""

from __future__ import annotations

from jtl_automator.resilience import RetryPolicy
from tests.clients.test_lookups import ffn_for, filtering


def test_iter_by_references_holds_one_page_and_yields_each_inbound_once(policy: RetryPolicy) -> None:
    inbounds = [
        {"inboundId": f"IB{i}", "merchantInboundNumber": f"WE-{i // 2}", "items": []} for i in range(300)
    ]
    ffn, recorder = ffn_for(filtering(inbounds), policy, page_size=50)
    many = [f"IB{i}" for i in range(0, 300, 2)] + [f"WE-{i}" for i in range(10)]  # some named twice
    stream = ffn.inbounds.iter_by_references(many)
    first = next(stream)
    assert first["inboundId"] == "IB0" and len(recorder.requests) == 1  # only the first page so far
    found = [first, *stream]
    assert len(recorder.requests) == 6  # the full listing (300 / 50), read as it is consumed
    ids = [i["inboundId"] for i in found]
    assert len(ids) == len(set(ids)) == 150 + 10  # the even ones, plus IB1..IB19 odd via WE-0..WE-9
    assert sorted(ids) == sorted(i["inboundId"] for i in ffn.inbounds.find_by_references(many))
    assert list(ffn.inbounds.iter_by_references(["", "  "])) == []
