"""FFN products client against MockTransport: create at most once per merchantSku, lookups, PATCH, grants."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from jtl_automator.clients.errors import TransientError, ValidationFailed
from jtl_automator.clients.ffn import FfnClient
from jtl_automator.clients.ffn.models import ProductUpdate
from jtl_automator.resilience import RetryPolicy
from tests.clients.conftest import FakeClock, Recorder, json_response
from tests.clients.test_ffn_client import StaticTokens

BASE = "https://ffn.example.test/api"
DUPLICATE = {"errorCode": {"code": "Shared_DuplicateKey"}, "errorMessages": [{"message": "exists"}]}


def client_for(handler: Any, policy: RetryPolicy) -> FfnClient:
    return FfnClient(httpx.Client(transport=httpx.MockTransport(handler)), StaticTokens(), BASE, retry=policy)


class ProductServer:
    """POST /products that may lose its answer after creating, or fail before; GET with $filter."""

    def __init__(self, post_failures: list[str], *, unique: bool = True) -> None:
        self.post_failures = post_failures  # "lost": created, then 503; "down": 503, nothing created
        self.unique = unique
        self.products: list[dict[str, Any]] = []
        self.posts = 0
        self.lookups: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            body = json.loads(request.content)
            failure = self.post_failures.pop(0) if self.post_failures else None
            if self.unique and any(p["merchantSku"] == body["merchantSku"] for p in self.products):
                return httpx.Response(400, json=DUPLICATE)
            if failure != "down":
                self.products.append({"jfsku": f"MERC000000{len(self.products)}", **body})
            if failure == "timeout-lost":
                raise httpx.ReadTimeout("no answer")
            if failure:
                return httpx.Response(503)
            return httpx.Response(201, json=self.products[-1])
        flt = request.url.params["$filter"]
        self.lookups.append(flt)
        wanted = {part.split("eq ", 1)[1].strip("'") for part in flt.split(" or ")}
        found = [p for p in self.products if p["merchantSku"] in wanted]
        return httpx.Response(200, json={"items": found, "count": len(found)})


@pytest.mark.parametrize("failure", ["lost", "timeout-lost"])
def test_a_lost_answer_is_found_by_merchant_sku_never_posted_twice(policy: RetryPolicy, failure: str) -> None:
    server = ProductServer([failure])
    product = client_for(server, policy).products.create({"merchantSku": "A-1", "name": "Tasse"})
    assert product.jfsku == "MERC0000000" and server.posts == 1
    assert server.lookups == ["merchantSku eq 'A-1'"]


def test_a_post_that_created_nothing_is_sent_again(policy: RetryPolicy) -> None:
    server = ProductServer(["down", "down"])
    product = client_for(server, policy).products.create({"merchantSku": "A-1", "name": "Tasse"})
    assert product.name == "Tasse" and server.posts == 3 and len(server.products) == 1


def test_giving_up_within_the_budget_creates_nothing(clock: FakeClock) -> None:
    policy = RetryPolicy(max_attempts=3, sleep=clock.sleep, clock=clock, jitter=lambda: 1.0)
    server = ProductServer(["down"] * 10)
    with pytest.raises(TransientError):
        client_for(server, policy).products.create({"merchantSku": "A-1", "name": "Tasse"})
    assert server.posts == 3 and server.products == []


def test_check_existing_looks_first_and_a_first_duplicate_is_refused(policy: RetryPolicy) -> None:
    server = ProductServer([])
    ffn = client_for(server, policy)
    ffn.products.create({"merchantSku": "A-1", "name": "Tasse"})
    assert ffn.products.create({"merchantSku": "A-1", "name": "X"}, check_existing=True).name == "Tasse"
    assert server.posts == 1
    with pytest.raises(ValidationFailed, match="Shared_DuplicateKey"):
        ffn.products.create({"merchantSku": "A-1", "name": "Tasse"})


def test_two_products_with_one_merchant_sku_are_refused_not_chosen(policy: RetryPolicy) -> None:
    server = ProductServer([], unique=False)
    ffn = client_for(server, policy)
    ffn.products.create({"merchantSku": "A-1", "name": "Tasse"})
    ffn.products.create({"merchantSku": "A-1", "name": "Tasse"})
    with pytest.raises(ValidationFailed, match="carried by several FFN products"):
        ffn.products.find_by_merchant_sku("A-1")
    assert [p["jfsku"] for p in ffn.products.with_merchant_sku("A-1")] == ["MERC0000000", "MERC0000001"]


def test_bulk_lookup_groups_products_per_sku_in_or_chunks(policy: RetryPolicy) -> None:
    server = ProductServer([], unique=False)
    server.products = [
        {"jfsku": "MERC0000001", "merchantSku": "A"},
        {"jfsku": "MERC0000002", "merchantSku": "B"},
        {"jfsku": "MERC0000003", "merchantSku": "B"},
    ]
    found = client_for(server, policy).products.find_by_merchant_skus(["A", "B", "C"])
    assert {sku: [p["jfsku"] for p in ps] for sku, ps in found.items()} == {
        "A": ["MERC0000001"],
        "B": ["MERC0000002", "MERC0000003"],
    }
    assert server.lookups == ["merchantSku eq 'A' or merchantSku eq 'B' or merchantSku eq 'C'"]


def test_update_sends_explicit_nulls_and_is_repeated_only_when_idempotent(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(503), json_response(204))
    ffn = client_for(rec, policy)
    ffn.products.update("MERC0000001", {"identifier": {"ean": None}, "weight": 1.5}, idempotent=True)
    assert len(rec.requests) == 2
    assert json.loads(rec.requests[1].content) == {"identifier": {"ean": None}, "weight": 1.5}
    once = Recorder(json_response(503))
    with pytest.raises(TransientError):
        client_for(once, policy).products.update("MERC0000001", {"name": "x"})
    assert len(once.requests) == 1
    with pytest.raises(ValidationError):
        ProductUpdate.model_validate({"originCountry": "Deutschland"})
    with pytest.raises(ValidationError):
        ProductUpdate.model_validate({"weight": -1})


def test_authorize_is_done_once_whatever_the_server_says_to_a_repeat(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(201, {}), json_response(400, DUPLICATE))
    ffn = client_for(rec, policy)
    assert ffn.products.authorize("MERC0000001", "FULF") is True
    assert ffn.products.authorize("MERC0000001", "FULF") is False
    assert rec.requests[0].url.path == "/api/v1/merchant/products/MERC0000001/authorizations"
    assert json.loads(rec.requests[0].content) == {"fulfillerId": "FULF"}
    lost = Recorder(httpx.ReadTimeout("lost"), json_response(201, {}))
    assert client_for(lost, policy).products.authorize("MERC0000001", "FULF") is True
    assert len(lost.requests) == 2
