"""The flows against the strict sandbox with Wawi in its Cloud flavour, and through a saved Cloud block.

Strict: FFN refreshes revoke the old access token and refresh tokens expire; the pre-registered Wawi app
holds only the scopes jtl-automator registers for and its X-AppID is checked; the Cloud API wants a
client-credentials token and the tenant, and rate-limits. The shared ``flow_sandbox`` is switched to all
of that in place (its config is read per request), so nothing of the fixture is copied here.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

import pytest

from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, INVOICE_METHOD_ID
from jtl_automator.sandbox.server import credentials_env
from jtl_automator.services.order_processing import OrderProcessingParams
from jtl_automator.settings import get_settings
from jtl_automator.transforms import ValidationParams
from tests.flows.conftest import FlowSandbox

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

SINCE = DEFAULT_BASE_DATE - timedelta(days=11)
PARAMS = OrderProcessingParams(
    chunk_size=4, validation=ValidationParams(invoice_payment_method_ids=frozenset({INVOICE_METHOD_ID}))
)
KEEP = {"sheets_requests_per_minute", "faults", "seed", "extra"}


@pytest.fixture
def strict_cloud(flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch) -> FlowSandbox:
    """The flow sandbox at its strictest, the JTL_WAWI_* environment pointing at its Cloud API."""
    config = flow_sandbox.state.config
    strictest = SandboxConfig.strictest()
    for field in fields(SandboxConfig):
        if field.name not in KEEP:
            setattr(config, field.name, getattr(strictest, field.name))
    config.wawi_cloud_rate_limit = 20  # per endpoint and second: the run may well meet a 429 or two
    config.wawi_cloud_rate_interval_seconds = 1
    key_file = flow_sandbox.tmp / "service-account.json"
    env = credentials_env(flow_sandbox.base_url, config, str(key_file), wawi_flavour="cloud")
    monkeypatch.delenv("JTL_WAWI_API_KEY")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JTL_FFN_RATE_PER_SECOND", "500")
    monkeypatch.setenv("JTL_WAWI_RATE_PER_SECOND", "500")
    get_settings.cache_clear()
    return flow_sandbox


def test_order_processing_on_the_strict_cloud(strict_cloud: FlowSandbox) -> None:
    from flows.order_processing import order_processing

    result = order_processing(since=SINCE, params=PARAMS)
    counts = result["counts"]
    assert (counts["created"], counts["adopted"], counts["held"], counts["failed"]) == (15, 7, 2, 0)
    wawi = strict_cloud.state.runtime.wawi
    assert wawi.rate_windows  # the Wawi side went through the Cloud API ...
    assert strict_cloud.state.runtime.requests["by_status"].get("403", 0) == 0  # ... within its scopes
    written_back = [o for o in strict_cloud.state.data.wawi.sales_orders.values() if o.get("Comment")]
    assert len(written_back) == 24  # every write-back PATCH needed salesorder.updatesalesorder, and had it


def test_connectivity_check_through_a_saved_cloud_block(strict_cloud: FlowSandbox) -> None:
    from blocks import JtlWawiCredentials
    from flows.connectivity_check import connectivity_check

    JtlWawiCredentials.from_settings().save("wawi-cloud", overwrite=True)
    result = connectivity_check(wawi_block="wawi-cloud")
    assert result["wawi"]["warehouses"] and result["ffn"]["user"]
