"""The product sync flow end to end: real Prefect, real HTTP to the sandbox, a real SQLite ledger."""

from __future__ import annotations

import copy
from typing import Any

import anyio
import openpyxl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import ArtifactSort

from flows.product_sync import product_sync
from jtl_automator.sandbox.ffn.common import mark_changed
from jtl_automator.services.product_sync import WATERMARK
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
    ffn = flow_sandbox.state.data.ffn
    gone = sorted(ffn.products)[:2]
    for jfsku in gone:
        del ffn.products[jfsku]
    mark_changed(flow_sandbox.state)
    before = copy.deepcopy(ffn.products)

    out = flow_sandbox.tmp / "diff.xlsx"
    proposed = product_sync(full=True, dry_run=True, output=str(out))
    assert proposed["counts"]["created"] == 2 and ffn.products == before
    rows = list(openpyxl.load_workbook(out)["Changes"].iter_rows(values_only=True))
    assert rows[0][:5] == ("SKU", "jfsku", "Wawi item", "Action", "Field (FFN)")
    assert len(rows) - 1 == proposed["field_changes"] > 0

    done = product_sync(full=True)
    assert done["counts"]["created"] == 2 and done["counts"]["updated"] == proposed["counts"]["updated"]
    assert done["counts"]["rejected"] == 0 and done["workbook"] is None
    store = StateStore(f"sqlite:///{flow_sandbox.tmp / 'state.db'}")
    assert store.get_watermark(WATERMARK) is not None

    again = product_sync()  # incremental from the watermark: nothing changed in Wawi since
    assert again["mode"] == "incremental" and again["counts"]["created"] == again["counts"]["updated"] == 0

    async def artifacts() -> dict[str, Any]:
        async with get_client() as client:
            newest_last = reversed(await client.read_artifacts(sort=ArtifactSort.CREATED_DESC))
            return {a.key: a.data for a in newest_last if a.key}

    found = anyio.run(artifacts)
    assert {"product-sync-summary", "product-sync-problems"} <= set(found)
    assert "| products | count |" in str(found["product-sync-summary"])  # whichever version is listed last
