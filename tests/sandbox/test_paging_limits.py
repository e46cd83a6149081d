"""Page-size maxima and FFN rate limits of the sandbox (issue 8): each API answers in its own error body.

Neither maximum is documented (jtl-apis.md §1.4, §2.3), nor is an FFN rate limit (§1.6): lenient keeps
the generous defaults, ``strictest()`` switches to small maxima and FFN ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox import oauth
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.ffn.common import runtime as ffn_runtime
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.state import SandboxState

FFN = "/api/v1/merchant"
WAWI_V1 = "/wawi/api/eazybusiness/v1"
WAWI_V2 = "/wawi/api/eazybusiness/v2"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Interval-Length-Seconds")


class Served:
    """A sandbox app with a test client, FFN bearer and Wawi key headers at hand."""

    def __init__(self, config: SandboxConfig) -> None:
        self.app = create_app(generate(seed=3, skus=150, orders=20), config)
        self.client = TestClient(self.app, base_url="http://sandbox.test")

    @property
    def state(self) -> SandboxState:
        state: SandboxState = self.app.state.sandbox
        return state

    def ffn_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {oauth.issue_token_pair(self.state)['access_token']}"}

    def wawi_headers(self) -> dict[str, str]:
        config = self.state.config
        return {
            "Authorization": f"Wawi {config.wawi_api_key}",
            "X-AppID": config.wawi_app_id,
            "X-AppVersion": config.wawi_app_version,
        }

    def ffn_get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{FFN}{path}", params=params, headers=self.ffn_headers())

    def wawi_get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.wawi_headers())


@pytest.fixture
def strict() -> Iterator[Served]:
    served = Served(SandboxConfig.strictest())
    with served.client:
        yield served


def test_strictest_uses_small_maxima_and_ffn_rate_headers_lenient_does_not() -> None:
    lenient, strict = SandboxConfig(), SandboxConfig.strictest()
    assert (strict.ffn_max_top, strict.wawi_max_page_size) == (100, 100)
    assert lenient.ffn_max_top > strict.ffn_max_top and lenient.wawi_max_page_size > strict.wawi_max_page_size
    assert lenient.ffn_rate_limit is None and strict.ffn_rate_limit is not None
    assert strict.ffn_rate_limit_retry_after is False


@pytest.mark.slow
@pytest.mark.parametrize("collection", ["products", "stocks", "warehouses", "outbounds", "inbounds"])
def test_ffn_top_above_the_maximum_is_a_validation_envelope(strict: Served, collection: str) -> None:
    maximum = strict.state.config.ffn_max_top
    assert strict.ffn_get(f"/{collection}", **{"$top": maximum}).status_code == 200
    refused = strict.ffn_get(f"/{collection}", **{"$top": maximum + 1})
    assert refused.status_code == 400
    body = refused.json()
    assert body["errorCode"]["code"] == "Shared_ModelValidation"
    assert any("$top" in entry["message"] for entry in body["errorMessages"])
    assert body["errorMetadata"]["$top"] == maximum + 1


@pytest.mark.slow
def test_lenient_ffn_takes_a_thousand_per_page() -> None:
    served = Served(SandboxConfig())
    with served.client:
        page = served.ffn_get("/products", **{"$top": 1000}).json()
    assert page["_page"]["limit"] == 1000 and len(page["items"]) == page["count"]


@pytest.mark.slow
def test_wawi_page_size_above_the_maximum_is_an_error_response(strict: Served) -> None:
    maximum = strict.state.config.wawi_max_page_size
    assert strict.wawi_get(f"{WAWI_V1}/items", pageSize=maximum).status_code == 200
    refused = strict.wawi_get(f"{WAWI_V1}/items", pageSize=maximum + 1)
    assert refused.status_code == 400
    body = refused.json()
    assert body["ErrorCode"] == "ValidationError"
    assert set(body["ValidationErrors"]) == {"pageSize"}
    assert str(maximum) in body["ValidationErrors"]["pageSize"]
    v2 = strict.wawi_get(f"{WAWI_V2}/purchase-orders", pageSize=maximum + 1)
    assert v2.status_code == 400 and set(v2.json()["validationErrors"]) == {"pageSize"}


@pytest.mark.slow
def test_ffn_rate_limit_headers_on_every_answer_and_429_without_retry_after(strict: Served) -> None:
    strict.state.config.ffn_rate_limit = 3
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    ffn_runtime(strict.state).clock = lambda: now
    answers = [strict.ffn_get("/products") for _ in range(3)]
    unauthenticated = strict.client.get(f"{FFN}/products")
    for answer in [*answers, unauthenticated]:
        assert all(name in answer.headers for name in RATE_HEADERS)
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0].headers["X-RateLimit-Interval-Length-Seconds"] == "60"
    assert unauthenticated.status_code == 429  # counted before authentication, as a gateway would
    assert "Retry-After" not in unauthenticated.headers
    assert unauthenticated.json()["errorCode"]["code"] == "Shared_TooManyRequests"
    other = strict.ffn_get("/warehouses")  # a window per endpoint
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "2"
    now += timedelta(seconds=60)
    again = strict.ffn_get("/products")
    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "2"


@pytest.mark.slow
def test_ffn_rate_limit_lenient_reading_names_the_wait() -> None:
    served = Served(SandboxConfig(ffn_rate_limit=1, ffn_rate_interval_seconds=30))
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    ffn_runtime(served.state).clock = lambda: now
    with served.client:
        assert served.ffn_get("/products").status_code == 200
        now += timedelta(seconds=10)
        refused = served.ffn_get("/products")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20"
    assert refused.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.slow
def test_ffn_without_a_rate_limit_sends_no_rate_headers() -> None:
    served = Served(SandboxConfig())
    with served.client:
        answer = served.ffn_get("/products")
    assert answer.status_code == 200
    assert not any(name in answer.headers for name in RATE_HEADERS)


@pytest.mark.slow
def test_a_wawi_page_past_the_last_is_empty_or_in_strict_mode_a_400(strict: Served) -> None:
    """The reference is silent on a page past the last: lenient answers it empty, strict refuses it in
    Wawi's own error body (page 1 of an empty list is still an empty page)."""
    size = 100
    last = strict.wawi_get(f"{WAWI_V1}/items", pageSize=size).json()["TotalPages"]
    assert strict.wawi_get(f"{WAWI_V1}/items", pageSize=size, pageNumber=last).status_code == 200
    past = strict.wawi_get(f"{WAWI_V1}/items", pageSize=size, pageNumber=last + 1)
    assert past.status_code == 400 and set(past.json()["ValidationErrors"]) == {"pageNumber"}
    empty = strict.wawi_get(f"{WAWI_V1}/items", pageSize=size, changedSince="2999-01-01T00:00:00Z")
    assert empty.status_code == 200 and empty.json()["Items"] == []
    lenient = Served(SandboxConfig())
    with lenient.client:
        page = lenient.wawi_get(f"{WAWI_V1}/items", pageSize=size, pageNumber=last + 1).json()
    assert page["Items"] == [] and page["PageNumber"] == last + 1


@pytest.mark.slow
def test_an_ffn_skip_past_the_last_item_is_empty_or_in_strict_mode_a_400(strict: Served) -> None:
    """The reference is silent on a ``$skip`` past the last item: lenient answers an empty page, strict
    refuses it in FFN's error body (the first page of an empty result is still an empty page)."""
    count = strict.ffn_get("/products", **{"$top": 100}).json()["count"]
    assert strict.ffn_get("/products", **{"$top": 100, "$skip": count - 1}).status_code == 200
    past = strict.ffn_get("/products", **{"$top": 100, "$skip": count})
    assert past.status_code == 400 and "$skip" in past.text
    none = strict.ffn_get("/products", **{"$filter": "merchantSku eq 'no-such-sku'", "$skip": 0})
    assert none.status_code == 200 and none.json()["items"] == []
    lenient = Served(SandboxConfig())
    with lenient.client:
        page = lenient.ffn_get("/products", **{"$top": 100, "$skip": count}).json()
    assert page["items"] == [] and page["count"] == count
