"""JTL-Shop in the connectivity check and in ``jtl-automator blocks``, against the sandbox over real HTTP."""

from __future__ import annotations

import pytest

from blocks import JtlShopCredentials
from deployments.blocks import create_blocks
from jtl_automator.settings import get_settings
from tests.flows.conftest import FlowSandbox

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server


@pytest.mark.slow
def test_the_saved_shop_block_reads_and_the_connectivity_check_includes_the_shop(
    flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.connectivity_check import connectivity_check

    outcome = create_blocks(get_settings())
    assert outcome["shop"] == "saved (JTL-Shop Credentials)"
    shop = JtlShopCredentials.load("shop").get_client()
    assert [g.name for g in shop.check()] == ["Endkunden", "Händler"]
    result = connectivity_check(shop_block="shop")
    assert result["shop"]["configured"] and result["shop"]["customer_groups"] == ["Endkunden", "Händler"]
    assert result["shop"]["sample_product"] == flow_sandbox.state.data.wawi.items[1]["SKU"]
    monkeypatch.delenv("JTL_SHOP_URL")
    get_settings.cache_clear()
    assert connectivity_check()["shop"] == {"configured": False}  # optional: skipped when not set up
