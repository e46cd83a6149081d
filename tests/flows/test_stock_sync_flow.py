"""The stock sync flow end to end: real Prefect, real HTTP to the sandbox, a real SQLite ledger."""

from __future__ import annotations

import copy
from typing import Any

import anyio
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import ArtifactSort

from flows.stock_sync import stock_sync
from jtl_automator.sandbox.ffn.stock import adjust_stock
from jtl_automator.services.stock_sync import WATERMARK
from jtl_automator.settings import get_settings
from jtl_automator.store import StateStore
from tests.flows.conftest import FlowSandbox

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server


def test_dry_run_then_full_then_incremental_with_artifacts(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JTL_WAWI_RATE_PER_SECOND", "500")
    monkeypatch.setenv("JTL_FFN_RATE_PER_SECOND", "500")
    get_settings.cache_clear()
    wawi = flow_sandbox.state.data.wawi
    before = copy.deepcopy(wawi.stocks)

    proposed = stock_sync(full=True, dry_run=True)
    assert proposed["adjustments"] and proposed["outcomes"] == {} and wawi.stocks == before

    done = stock_sync(full=True)
    assert done["outcomes"] == {"applied": len(proposed["adjustments"])}
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    assert store.get_watermark(WATERMARK) is not None

    again = stock_sync()  # incremental from the watermark: nothing changed in FFN since
    assert again["mode"] == "incremental" and again["outcomes"] == {}

    # The fulfiller finds units of two SKUs: read, planned and adjusted per item, exactly once each.
    ffn = flow_sandbox.state.data.ffn
    stocked = sorted(
        (s["merchantSku"], s["jfsku"], row["warehouseId"])
        for s in ffn.stocks.values()
        for row in s["warehouses"]
        if row["stockLevel"] >= 1
    )[:2]
    for _, jfsku, warehouse in stocked:
        adjust_stock(flow_sandbox.state, jfsku, warehouse, 3)
    changed = stock_sync()
    assert changed["mode"] == "incremental" and changed["outcomes"] == {"applied": 2}
    assert {(r["merchant_sku"], r["delta"]) for r in changed["adjustments"]} == {
        (sku, 3) for sku, _, _ in stocked
    }

    async def artifacts() -> dict[str, Any]:
        async with get_client() as client:
            newest_last = reversed(await client.read_artifacts(sort=ArtifactSort.CREATED_DESC))
            return {a.key: a.data for a in newest_last if a.key}

    found = anyio.run(artifacts)
    assert {"stock-sync-summary", "stock-sync-adjustments", "stock-sync-largest-deltas"} <= set(found)
    assert "stock-sync-unknown-skus" in found
