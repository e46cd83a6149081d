"""The generated demo world, served through the API, conforms to the reference schemas too.

The hand-built data of the API tests exercises shapes; this guards the generator (which the demo
and the benchmarks run on) against drifting from what the real API returns.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.generator import generate
from tests.sandbox.test_ffn_conformance import assert_valid

API = "/api/v1/merchant"


@pytest.fixture(scope="module")
def served() -> tuple[TestClient, dict[str, str]]:
    app = create_app(generate(seed=7, skus=150, orders=120, customers=40))
    client = TestClient(app)
    state = app.state.sandbox
    from jtl_automator.sandbox.oauth import issue_token_pair

    token = issue_token_pair(state)["access_token"]
    return client, {"Authorization": f"Bearer {token}"}


def _all(client: TestClient, headers: dict[str, str], path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    skip = 0
    while True:
        body = client.get(f"{API}/{path}", params={"$top": 500, "$skip": skip}, headers=headers).json()
        items += body["items"]
        skip += 500
        if skip >= body["count"]:
            return items


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("products", "Product"),
        ("stocks", "Stock"),
        ("inbounds", "Inbound"),
        ("outbounds", "Outbound"),
        ("warehouses", "Warehouse"),
    ],
)
@pytest.mark.slow
def test_generated_objects_conform(served: tuple[TestClient, dict[str, str]], path: str, schema: str) -> None:
    client, headers = served
    items = _all(client, headers, path)
    assert items, f"the generator made no {path}"
    for item in items:
        assert_valid(schema, item)


def test_generated_shipping_notifications_conform(served: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = served
    shipped = [o for o in _all(client, headers, "outbounds") if o["status"] == "Shipped"]
    assert shipped
    for outbound in shipped[:20]:
        notes = client.get(
            f"{API}/outbounds/{outbound['outboundId']}/shipping-notifications", headers=headers
        ).json()
        assert isinstance(notes, list) and notes
        for note in notes:
            assert_valid("OutboundShippingNotification", note)
