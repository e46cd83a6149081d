"""Custom fields (Eigene Felder) of items and sales orders, served from the generated world.

``GET /items/customfields`` and ``GET /salesOrders/customfields`` list the definitions (``CustomField``),
``GET /items/{id}/customfields`` and ``GET /salesOrders/{id}/customfields`` an object's values
(``CustomFieldValue``): plain arrays, checked against the Wawi 1.0 schemas in both flavours; an unknown id
is a 404 ``ErrorResponse``.

The spec types ``Value`` as ``object`` (C#'s ``object``: "should match the custom field type") yet its
own example is a string; values are checked as any JSON value of the field's type instead, and
``CustomFieldValue`` otherwise exactly (required ``CustomFieldId`` and ``Value``, no other type).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openapi_schema_validator import OAS30Validator

from jtl_automator.sandbox import wawi
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from tests.sandbox.test_wawi_api import V1, make_app
from tests.sandbox.test_wawi_conformance import CLOUD, assert_conforms
from tests.support import openapi

#: The JSON type a value has per custom field ``Type`` (3 text, 4 checkbox, 5 list, ...).
VALUE_TYPES = {1: int, 2: (int, float), 3: str, 4: bool, 5: str, 12: str}


def value_validator() -> OAS30Validator:
    """``CustomFieldValue`` with ``Value`` untyped (see the module docstring), the rest as specified."""
    schema = dict(openapi.schemas("wawi")["CustomFieldValue"])
    schema["properties"] = {**schema["properties"], "Value": {"description": "any JSON value"}}
    return OAS30Validator(schema)


def test_the_spec_types_value_as_object_which_its_own_example_is_not() -> None:
    spec_value = openapi.schemas("wawi")["CustomFieldValue"]["properties"]["Value"]
    assert spec_value["type"] == "object" and isinstance(spec_value["example"], str)
    assert openapi.problems(value_validator(), {"CustomFieldId": 1}) != []
    assert openapi.problems(value_validator(), {"CustomFieldId": "x", "Value": 1}) != []


@pytest.fixture(scope="module")
def state() -> SandboxState:
    return SandboxState(data=generate(seed=11, skus=24, orders=20, customers=5), config=SandboxConfig())


@pytest.fixture(params=["onprem", "cloud"])
def api(request: pytest.FixtureRequest, state: SandboxState) -> Iterator[tuple[TestClient, str]]:
    config = state.config
    headers = {"X-AppID": config.wawi_app_id, "X-AppVersion": "1"}
    if request.param == "onprem":
        headers["Authorization"] = f"Wawi {config.wawi_api_key}"
        root = V1
    else:
        token = wawi.issue_cloud_token(state)["access_token"]
        headers.update({"Authorization": f"Bearer {token}", "X-Tenant-ID": config.wawi_cloud_tenant_id})
        root = CLOUD
    with TestClient(make_app(state), headers=headers) as client:
        yield client, root


@pytest.mark.slow
@pytest.mark.parametrize("owner", ["items", "salesOrders"])
def test_definitions_and_values_conform(api: tuple[TestClient, str], state: SandboxState, owner: str) -> None:
    client, root = api
    response = client.get(f"{root}/{owner}/customfields")
    assert response.status_code == 200
    definitions = response.json()
    assert isinstance(definitions, list) and definitions
    for definition in definitions:
        assert_conforms("CustomField", definition)
    known = {d["CustomFieldId"]: d["Type"] for d in definitions}
    ids = sorted(state.data.wawi.items if owner == "items" else state.data.wawi.sales_orders)
    with_values = 0
    for object_id in ids:
        rows = client.get(f"{root}/{owner}/{object_id}/customfields").json()
        assert isinstance(rows, list)
        for row in rows:
            assert openapi.problems(value_validator(), row) == []
            assert isinstance(row["Value"], VALUE_TYPES[known[row["CustomFieldId"]]])
        with_values += bool(rows)
    assert 0 < with_values < len(ids)  # a share of the objects carries values, not all


@pytest.mark.slow
def test_generated_values_are_the_documented_ones(api: tuple[TestClient, str], state: SandboxState) -> None:
    client, root = api
    names = {d["Name"]: d for d in client.get(f"{root}/items/customfields").json()}
    assert {"Saisonartikel", "Lieferantenstatus"} <= set(names)
    assert names["Lieferantenstatus"]["Type"] == 5 and names["Lieferantenstatus"]["PossibleValues"]
    first, second = sorted(state.data.wawi.items)[1:3]
    assert client.get(f"{root}/items/{first}/customfields").json() == [{"CustomFieldId": 1, "Value": True}]
    assert client.get(f"{root}/items/{second}/customfields").json() == [
        {"CustomFieldId": 2, "Value": "gesperrt"}
    ]
    order = sorted(state.data.wawi.sales_orders)[0]
    assert client.get(f"{root}/salesOrders/{order}/customfields").json() == [
        {"CustomFieldId": 11, "Value": True}
    ]


@pytest.mark.slow
@pytest.mark.parametrize("owner", ["items", "salesOrders"])
def test_unknown_ids_are_404(api: tuple[TestClient, str], owner: str) -> None:
    client, root = api
    response = client.get(f"{root}/{owner}/999999/customfields")
    assert response.status_code == 404
    body = response.json()
    assert body["ErrorCode"] == "NotFound" and "999999" in body["ErrorMessage"]
