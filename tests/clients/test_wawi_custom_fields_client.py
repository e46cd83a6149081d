"""The Wawi client's custom fields (Eigene Felder): definitions and one object's values, typed.

Against MockTransport for the faults (429, 5xx, timeouts, an expired Cloud token, malformed rows) and
against the sandbox's generated world over ASGI.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError, NotFound, TransientError
from jtl_automator.clients.wawi.client import SkippedRow, WawiClient
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import asgi_transport
from tests.clients.conftest import FakeClock, Recorder, json_response
from tests.clients.test_wawi_client import CloudServer, cloud_client, wawi_for

DEFINITIONS = [
    {"CustomFieldId": 1, "GroupName": "Artikel", "Name": "Saisonartikel", "Type": 4, "PossibleValues": []},
    {
        "CustomFieldId": 2,
        "GroupName": "Einkauf",
        "Name": "Lieferantenstatus",
        "Type": 5,
        "PossibleValues": ["a"],
    },
]
VALUES = [{"CustomFieldId": 1, "Value": True}, {"CustomFieldId": 2, "Value": "aktiv"}]


def test_definitions_and_values_are_read_typed_from_both_owners(policy: RetryPolicy) -> None:
    server = Recorder(httpx.Response(200, json=DEFINITIONS), httpx.Response(200, json=VALUES))
    wawi = wawi_for(server, policy)
    assert [(f.custom_field_id, f.name, f.type) for f in wawi.items.custom_fields()] == [
        (1, "Saisonartikel", 4),
        (2, "Lieferantenstatus", 5),
    ]
    values = wawi.sales_orders.custom_field_values(7)
    assert [(v.custom_field_id, v.text()) for v in values] == [(1, "true"), (2, "aktiv")]
    paths = [r.url.path.removeprefix("/api/eazybusiness/v1") for r in server.requests]
    assert paths == ["/items/customfields", "/salesOrders/7/customfields"]


@pytest.mark.parametrize(
    ("value", "text"), [(False, "false"), (12.0, "12"), (2.5, "2.5"), (3, "3"), ("rot", "rot")]
)
def test_values_become_tag_text_as_yaml_reads_it(value: Any, text: str, policy: RetryPolicy) -> None:
    server = Recorder(httpx.Response(200, json=[{"CustomFieldId": 1, "Value": value}]))
    assert [v.text() for v in wawi_for(server, policy).items.custom_field_values(1)] == [text]


@pytest.mark.parametrize(
    "fault",
    [
        json_response(429, None, {"Retry-After": "3"}),
        json_response(503),
        json_response(500, {"ErrorCode": "InternalServerError"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("no answer"),
    ],
    ids=["429", "503", "500", "read-timeout", "connect-timeout"],
)
def test_reads_are_retried_by_the_one_policy(
    policy: RetryPolicy, clock: FakeClock, fault: httpx.Response | Exception
) -> None:
    server = Recorder(fault, httpx.Response(200, json=VALUES))
    values = wawi_for(server, policy).items.custom_field_values(3)
    assert [v.custom_field_id for v in values] == [1, 2]
    assert len(server.requests) == 2 and len(clock.sleeps) == 1
    assert server.requests[0].url == server.requests[1].url


def test_a_server_that_keeps_failing_raises_after_the_budget(policy: RetryPolicy) -> None:
    server = Recorder(json_response(502))
    with pytest.raises(TransientError, match="502"):
        wawi_for(server, policy).sales_orders.custom_fields()
    assert len(server.requests) == policy.max_attempts


def test_an_unknown_object_is_not_found_without_retries(policy: RetryPolicy) -> None:
    server = Recorder(
        json_response(404, {"ErrorCode": "NotFound", "ErrorMessage": "No fields could be found."})
    )
    with pytest.raises(NotFound):
        wawi_for(server, policy).items.custom_field_values(99)
    assert len(server.requests) == 1


def test_an_expired_cloud_token_is_fetched_anew_once_and_a_revoked_one_stops(policy: RetryPolicy) -> None:
    expired = CloudServer(json_response(401), httpx.Response(200, json=VALUES))
    assert len(cloud_client(expired, policy).items.custom_field_values(5)) == 2
    assert [r.headers["Authorization"] for r in expired.api.requests] == ["Bearer jwt-1", "Bearer jwt-2"]
    assert expired.api.requests[0].url.path == "/erp/items/5/customfields"
    revoked = CloudServer(json_response(401))
    with pytest.raises(AuthError):
        cloud_client(revoked, policy).items.custom_fields()


def test_malformed_rows_are_skipped_with_a_clear_reason(policy: RetryPolicy) -> None:
    definitions = [
        DEFINITIONS[0],
        {"CustomFieldId": 3, "Type": 3},
        "junk",
        {"CustomFieldId": "x", "Name": "N"},
    ]
    values = [VALUES[0], {"CustomFieldId": 2}, {"Value": "x"}, 7, {"CustomFieldId": 4, "Value": None}]
    server = Recorder(httpx.Response(200, json=definitions), httpx.Response(200, json=values))
    wawi = wawi_for(server, policy)
    skipped: list[SkippedRow] = []
    assert [f.name for f in wawi.items.custom_fields(skipped=skipped)] == ["Saisonartikel"]
    kept = wawi.items.custom_field_values(1, skipped=skipped)
    assert [(v.custom_field_id, v.value) for v in kept] == [(1, True), (4, None)]
    assert [str(s) for s in skipped] == [
        "GET /items/customfields, row 2: Name: Field required",
        "GET /items/customfields, row 3: not an object but str",
        "GET /items/customfields, row 4: CustomFieldId: Input should be a valid integer, unable to parse "
        "string as an integer",
        "GET /items/1/customfields, row 2: Value: Field required",
        "GET /items/1/customfields, row 3: CustomFieldId: Field required",
        "GET /items/1/customfields, row 4: not an object but int",
    ]


@pytest.mark.slow
def test_the_generated_world_reads_whole_over_asgi(policy: RetryPolicy) -> None:
    data = generate(seed=4, skus=12, orders=10, customers=4)
    app = create_app(data)
    asgi = asgi_transport(app)
    key = SecretStr(app.state.sandbox.config.wawi_api_key)
    with httpx.Client(transport=asgi, timeout=30) as http:
        wawi = WawiClient(http, "http://sandbox/wawi/api/eazybusiness", key, retry=policy)
        names = {f.custom_field_id: f.name for f in wawi.items.custom_fields()}
        assert set(names.values()) >= {"Saisonartikel", "Lieferantenstatus"}
        for item_id in data.wawi.items:
            got = [(v.custom_field_id, v.value) for v in wawi.items.custom_field_values(item_id)]
            stored = data.wawi.item_custom_field_values.get(item_id, [])
            assert got == [(r["CustomFieldId"], r["Value"]) for r in stored]
        order_id = min(data.wawi.sales_orders)
        assert [v.text() for v in wawi.sales_orders.custom_field_values(order_id)] == ["true"]
        with pytest.raises(NotFound):
            wawi.sales_orders.custom_field_values(999_999)
    asgi.close()  # type: ignore[attr-defined]
