"""The sandbox's webhook receiver (the merchant's CRM or shop): what it keeps, and what it never keeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jtl_automator.sandbox import admin
from jtl_automator.sandbox.state import SandboxState
from tests.sandbox.conftest import make_state


@pytest.fixture
def state() -> SandboxState:
    return make_state()


@pytest.fixture
def client(state: SandboxState) -> Iterator[TestClient]:
    """The ``/_sandbox`` router alone (it is meant to be mountable on its own)."""
    app = FastAPI()
    app.state.sandbox = state
    app.include_router(admin.build_router(state))
    with TestClient(app, base_url="http://sandbox.test") as test_client:
        yield test_client


def test_a_delivery_is_kept_once_per_idempotency_key_without_credentials(
    client: TestClient, state: SandboxState
) -> None:
    headers = {
        "Idempotency-Key": "workflow:held:1:crm",
        "X-Timestamp": "1764150000",
        "X-Signature": "sha256=abc",
        "Authorization": "Bearer top-secret-token",
    }
    first = client.post(
        "/_sandbox/receiver/crm/hooks/address-check?x=1", json={"order": "AU-1"}, headers=headers
    )
    again = client.post(
        "/_sandbox/receiver/crm/hooks/address-check?x=1", json={"order": "AU-1"}, headers=headers
    )
    assert first.json() == {"received": True, "duplicate": False}
    assert again.json() == {"received": True, "duplicate": True}
    kept = client.get("/_sandbox/received").json()
    assert len(kept) == 1 and kept == state.runtime.received
    record = kept[0]
    assert record["path"] == "/crm/hooks/address-check" and record["query"] == {"x": "1"}
    assert record["body"] == {"order": "AU-1"} and record["signed"] and record["authorized"]
    assert "top-secret-token" not in str(record) and "sha256=abc" not in str(record)


def test_text_bodies_and_unkeyed_deliveries_are_each_kept(client: TestClient, state: SandboxState) -> None:
    client.put("/_sandbox/receiver/shop", content=b"not json", headers={"Content-Type": "text/plain"})
    client.put("/_sandbox/receiver/shop", content=b"not json", headers={"Content-Type": "text/plain"})
    assert [r["body"] for r in state.runtime.received] == ["not json", "not json"]
    assert all(r["method"] == "PUT" and not r["signed"] for r in state.runtime.received)
