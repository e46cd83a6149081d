"""The shop sync check flow end to end: real Prefect, real HTTP to the sandbox's shop and Wawi, SQLite."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import ArtifactSort

from blocks import WebhookEndpoint
from flows.shop_sync import shop_sync_check
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE
from jtl_automator.sandbox.shop import shop_data
from jtl_automator.services.shop_sync import ShopSyncParams
from jtl_automator.settings import get_settings
from jtl_automator.store import StateStore
from jtl_automator.store.shop_sync import ShopSyncStore
from tests.flows.conftest import FlowSandbox

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

NOW = DEFAULT_BASE_DATE + timedelta(minutes=1)


def _artifacts() -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        async with get_client() as client:
            newest_last = reversed(await client.read_artifacts(sort=ArtifactSort.CREATED_DESC))
            return {a.key: a.data for a in newest_last if a.key}

    return anyio.run(read)


def test_dry_run_then_runs_with_history_artifacts_and_one_alert(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JTL_WAWI_RATE_PER_SECOND", "500")
    monkeypatch.setenv("JTL_SHOP_RATE_PER_SECOND", "500")
    get_settings.cache_clear()
    receiver = f"{flow_sandbox.base_url}/_sandbox/receiver/ops"
    WebhookEndpoint(url=receiver).save("shop-alerts", overwrite=True)
    drift = shop_data(flow_sandbox.state).drift
    stuck = {o["orderNO"] for o in drift["missing_orders"] if o["age_minutes"] >= 30}
    params = ShopSyncParams(shop_page_size=50)

    preview = shop_sync_check(dry_run=True, params=params, webhook_block="shop-alerts", as_of=NOW)
    assert preview["dry_run"] and preview["counts"]["stuck_order"] == len(stuck)
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    sync = ShopSyncStore(store)
    assert sync.open_incidents() == [] and flow_sandbox.state.runtime.received == []
    found = _artifacts()
    assert "(dry run" in found["shop-sync-check-summary"]

    first = shop_sync_check(params=params, webhook_block="shop-alerts", as_of=NOW)
    assert {r["key"] for r in first["incidents"] if r["kind"] == "stuck_order"} == stuck
    assert first["alerts"]["raised"] == len(stuck) and len(flow_sandbox.state.runtime.received) == 1
    assert {i.key for i in sync.open_incidents(["stuck_order"])} == stuck
    assert sync.order_cursor() > 0

    later = shop_sync_check(params=params, webhook_block="shop-alerts", as_of=NOW + timedelta(minutes=61))
    assert later["counts"]["stale_stock"] == len(drift["stock_over"]) + len(drift["stock_under"])
    assert len(flow_sandbox.state.runtime.received) == 2  # the newly raised ones, the stuck ones not again
    found = _artifacts()
    summary = found["shop-sync-check-summary"]
    assert "stale stock" in summary and "oversell risk" in summary and "Stuck order" in summary
    assert "shop-sync-check-incidents" in found
    store.dispose()
