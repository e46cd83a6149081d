"""The real clients against the sandbox, in-process (ASGI) and over real HTTP on loopback.

Skipped with the reason if the sandbox cannot be imported, so a half-built sandbox never breaks the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError, LicenseError, NotFound, ValidationFailed
from jtl_automator.clients.ffn import FfnClient, FfnTokenManager, InMemoryTokenStore, authorization_url
from jtl_automator.clients.ffn.models import OutboundCreate
from jtl_automator.clients.wawi import AppRegistration, WawiClient, register_app
from jtl_automator.resilience import RateLimiter, RetryPolicy
from jtl_automator.store import StateStore

try:
    from jtl_automator.sandbox import faults
    from jtl_automator.sandbox import ffn as ffn_sandbox
    from jtl_automator.sandbox.app import create_app
    from jtl_automator.sandbox.config import SandboxConfig
    from jtl_automator.sandbox.generator import generate
    from jtl_automator.sandbox.server import asgi_transport, serve_in_thread
except Exception as exc:  # pragma: no cover - only while the sandbox is being written
    pytest.skip(f"sandbox not importable: {exc!r}", allow_module_level=True)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SKUS = 3000
REDIRECT = "http://127.0.0.1:8765/callback"


@dataclass
class Sandbox:
    app: Any
    config: Any
    http: httpx.Client
    base: str
    store: InMemoryTokenStore

    @property
    def state(self) -> Any:
        return self.app.state.sandbox

    def tokens(self, initial: bool = True) -> FfnTokenManager:
        cfg = self.config
        return FfnTokenManager(
            self.http,
            f"{self.base}/oauth2/token",
            cfg.ffn_client_id,
            SecretStr(cfg.ffn_client_secret),
            self.store,
            SecretStr(cfg.ffn_initial_refresh_token) if initial else None,
            retry=RetryPolicy(max_delay=0.2, max_retry_after=2),
        )

    def ffn(self, tokens: FfnTokenManager | None = None, **kwargs: Any) -> FfnClient:
        kwargs.setdefault("retry", RetryPolicy(max_delay=0.2, max_retry_after=2, max_attempts=8))
        return FfnClient(self.http, tokens or self.tokens(), f"{self.base}/api", **kwargs)

    def wawi(self, key: str | None = None, **kwargs: Any) -> WawiClient:
        cfg = self.config
        kwargs.setdefault("retry", RetryPolicy(max_delay=0.2, max_retry_after=3, max_attempts=8))
        return WawiClient(
            self.http,
            f"{self.base}/wawi/api/eazybusiness",
            SecretStr(key or cfg.wawi_api_key),
            cfg.wawi_app_id,
            cfg.wawi_app_version,
            **kwargs,
        )


# Real HTTP is the slow twin of ASGI: the full suite runs both, the inner loop ASGI only.
@pytest.fixture(params=["asgi", pytest.param("http", marks=pytest.mark.slow)])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    config = SandboxConfig()
    app = create_app(generate(seed=7, skus=SKUS, orders=60), config)
    if request.param == "asgi":
        transport = asgi_transport(app)
        with httpx.Client(transport=transport, timeout=30) as http:
            yield Sandbox(app, config, http, "http://sandbox", InMemoryTokenStore())
        transport.close()
    else:
        with serve_in_thread(app) as server, httpx.Client(timeout=30) as http:
            yield Sandbox(app, config, http, server.base_url, InMemoryTokenStore())


@pytest.mark.slow
def test_authorization_code_flow_then_api_calls(sandbox: Sandbox) -> None:
    url = authorization_url(f"{sandbox.base}/oauth2/authorize", sandbox.config.ffn_client_id, REDIRECT, "st8")
    redirect = sandbox.http.get(url, follow_redirects=False)
    assert redirect.status_code == 302
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    assert query["state"] == ["st8"]
    tokens = sandbox.tokens(initial=False)
    tokens.exchange_code(query["code"][0], REDIRECT)
    assert sandbox.ffn(tokens).users.current().user_id
    with pytest.raises(AuthError, match="invalid_grant"):
        tokens.exchange_code(query["code"][0], REDIRECT)  # single-use code


@pytest.mark.slow
def test_refresh_rotation_keeps_working_and_old_tokens_die(sandbox: Sandbox) -> None:
    first = sandbox.tokens()
    ffn = sandbox.ffn(first)
    ffn.users.current()
    faults.expire_access_tokens(sandbox.state)
    ffn.users.current()  # 401 -> invalidate -> refresh (rotating) -> retry
    assert first.refresh_count == 2
    later = sandbox.tokens()  # a "new process" configured with the spent initial token still works
    assert sandbox.ffn(later).users.current().user_id


@pytest.mark.slow
def test_paging_thousands_of_products_and_stocks_at_the_request_lower_bound(sandbox: Sandbox) -> None:
    ffn = sandbox.ffn()
    ffn.users.current()
    before = ffn.stats.requests
    pages = list(ffn.products.iter_pages(top=1000))
    assert sum(len(p) for p in pages) == SKUS
    assert ffn.stats.requests - before == SKUS // 1000
    jfskus = {s.jfsku for s in ffn.stocks.list(top=1000)}
    assert jfskus == {p["jfsku"] for page in pages for p in page}


@pytest.mark.slow
def test_odata_filter(sandbox: Sandbox) -> None:
    ffn = sandbox.ffn()
    some = next(iter(ffn.products.list(top=5)))
    assert some.merchant_sku
    found = list(ffn.products.list(filter=f"merchantSku eq '{some.merchant_sku}'"))
    assert [p.jfsku for p in found] == [some.jfsku]
    assert list(ffn.products.list(filter="merchantSku eq 'does-not-exist'")) == []


@pytest.mark.slow
def test_ffn_errors(sandbox: Sandbox) -> None:
    ffn = sandbox.ffn()
    with pytest.raises(NotFound, match="404"):
        ffn.products.get("MERCNOPE000")
    with pytest.raises(ValidationFailed) as info:
        ffn.outbounds.create(outbound(ffn, "SO-BAD", warehouse="FULF04XX-00000-9999"))
    assert info.value.code


@pytest.mark.slow
def test_stock_feed_and_changes_read_what_the_warehouse_did(sandbox: Sandbox) -> None:
    ffn = sandbox.ffn()
    before = datetime.now(UTC) - timedelta(seconds=1)
    stock = next(s for s in ffn.stocks.list(top=50) if s.warehouses)
    warehouse = stock.warehouses[0].warehouse_id
    level = stock.warehouses[0].stock_level
    ffn_sandbox.adjust_stock(sandbox.state, stock.jfsku, warehouse, 4, note="found")
    after = datetime.now(UTC) + timedelta(seconds=1)
    fed = list(ffn.stocks.updates(before, after))
    assert [(c["changeType"], c["quantity"], c["stockLevel"]) for c in fed] == [("Adjustment", 4, level + 4)]
    listed = list(ffn.stocks.changes(filter=f"stockChangeId/jfsku eq '{stock.jfsku}'"))
    assert [c["stockChangeId"]["stockVersion"] for c in listed] == [fed[0]["stockChangeId"]["stockVersion"]]
    then = next(s for s in ffn.stocks.as_of(before) if s.jfsku == stock.jfsku)
    assert then.warehouses[0].stock_level == level


def outbound(ffn: FfnClient, number: str, warehouse: str | None = None) -> OutboundCreate:
    product = next(iter(ffn.products.list(top=1)))
    warehouse = warehouse or next(iter(ffn.warehouses.list())).warehouse_id
    return OutboundCreate.model_validate(
        {
            "merchantOutboundNumber": number,
            "warehouseId": warehouse,
            "shippingType": "Standard",
            "shippingAddress": {
                "lastname": "Muster",
                "street": "Hauptstr. 1",
                "zip": "10115",
                "city": "Berlin",
                "country": "DE",
            },
            "items": [
                {"outboundItemId": "1", "jfsku": product.jfsku, "quantity": 1, "price": 9.9, "vat": 19}
            ],
        }
    )


@pytest.mark.slow
def test_outbound_create_and_lookup(sandbox: Sandbox) -> None:
    ffn = sandbox.ffn()
    created = ffn.outbounds.create(outbound(ffn, "SO-CLIENT-1"), oversale=True)
    assert created.outbound_id
    found = ffn.outbounds.find_by_merchant_number("SO-CLIENT-1")
    assert found is not None and found.outbound_id == created.outbound_id
    assert ffn.outbounds.get(created.outbound_id).merchant_outbound_number == "SO-CLIENT-1"


@pytest.mark.slow
def test_wawi_paging_filters_and_errors(sandbox: Sandbox) -> None:
    wawi = sandbox.wawi(page_size=1000)
    items = list(wawi.items.iter_pages())
    assert sum(len(p) for p in items) == len(sandbox.state.data.wawi.items)
    orders = list(wawi.sales_orders.list(page_size=25))
    assert len(orders) == len(sandbox.state.data.wawi.sales_orders)
    assert wawi.sales_orders.raw_line_items(orders[0].id)
    assert wawi.suppliers.list()
    item_id = min(sandbox.state.data.wawi.items)
    rows = wawi.items.suppliers(item_id)
    assert rows == sandbox.state.data.wawi.item_suppliers[item_id] and rows[0]["IsStandard"] is True
    assert rows[0]["DeliveryTime"] > 0 and rows[0]["MinimumPurchaseQuantity"] >= 1
    with pytest.raises(NotFound):
        wawi.items.suppliers(987654321)
    with pytest.raises(NotFound):
        wawi.items.get(987654321)
    with pytest.raises(AuthError):
        sandbox.wawi(key="00000000-0000-4000-8000-000000000000").items.get(1)
    sandbox.config.wawi_license_ok = False
    with pytest.raises(LicenseError):
        wawi.items.get(1)


@pytest.mark.slow
def test_wawi_purchase_order_create(sandbox: Sandbox) -> None:
    wawi = sandbox.wawi()
    supplier = wawi.suppliers.list()[0]
    item_id = next(iter(sandbox.state.data.wawi.items))
    po = wawi.purchase_orders.create(
        {"supplier_id": supplier.id, "line_items": [{"item_id": item_id, "quantity": 5}]}
    )
    assert po.id and po.line_items[0].item_id == item_id
    assert wawi.purchase_orders.get(po.id).supplier_id == supplier.id


@pytest.mark.slow
def test_wawi_app_registration(sandbox: Sandbox) -> None:
    request = AppRegistration(
        app_id="tests/clients/v1",
        display_name="client tests",
        description="registration test",
        version="1.0.0",
        provider_name="jtl-automator",
        provider_website="https://example.com",
        mandatory_api_scopes=["all.read"],
        app_icon="iVBORw0KGgo=",
    )
    result = register_app(
        sandbox.http, f"{sandbox.base}/wawi/api/eazybusiness", request, "chal-1", poll_interval=0.01
    )
    assert result.api_key.get_secret_value() == sandbox.config.wawi_api_key
    assert "all.read" in result.granted_scopes


@pytest.mark.slow
def test_fault_profile_ratelimited_is_absorbed(sandbox: Sandbox) -> None:
    faults.set_profile(sandbox.state, "ratelimited")
    ffn = sandbox.ffn()
    # Small pages, so the client asks far faster than 20/s on any machine and the sandbox must push back.
    assert sum(len(p) for p in ffn.products.iter_pages(top=40)) == SKUS
    assert ffn.stats.rate_limited > 0  # the sandbox (20/s) did push back, and every 429 was retried


@pytest.mark.slow
def test_client_limiter_below_the_server_limit_causes_no_429(sandbox: Sandbox) -> None:
    faults.set_profile(sandbox.state, "ratelimited")
    ffn = sandbox.ffn(limiter=RateLimiter(15, burst=1))
    assert sum(len(p) for p in ffn.products.iter_pages(top=300)) == SKUS
    assert ffn.stats.rate_limited == 0


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["flaky", "expiring-tokens"])
def test_fault_profiles_on_reads(sandbox: Sandbox, profile: str) -> None:
    faults.set_profile(sandbox.state, profile)
    tokens = sandbox.tokens()
    ffn = sandbox.ffn(tokens)
    assert sum(len(p) for p in ffn.products.iter_pages(top=100)) == SKUS
    if profile == "expiring-tokens":
        assert tokens.refresh_count > 1
    else:
        assert ffn.stats.retries > 0
    wawi = sandbox.wawi()
    assert sum(1 for _ in wawi.items.list(page_size=100)) == len(sandbox.state.data.wawi.items)


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_token_rotation_across_two_processes_over_http(db: str, request: pytest.FixtureRequest) -> None:
    """Two processes share the real state store; neither ever spends a refresh token twice."""
    config = SandboxConfig(access_token_ttl_seconds=1)  # within the 120 s margin: every call refreshes
    app = create_app(generate(seed=3, skus=10, orders=1), config)
    url = request.getfixturevalue(f"{db}_url")
    store = StateStore(url)  # migrated once here, so the workers race on tokens, not on the schema
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "WORKER_CLIENT_ID": config.ffn_client_id,
        "WORKER_CLIENT_SECRET": config.ffn_client_secret,
        "WORKER_INITIAL_REFRESH": config.ffn_initial_refresh_token,
    }
    with serve_in_thread(app) as server:
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.clients.token_worker",
                    f"{server.base_url}/oauth2/token",
                    url,
                    "10",
                ],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    assert sum(int(out.strip()) for out, _ in outputs) == 20
    record = store.read_token("ffn")
    assert record is not None and record.version == 20  # every refresh persisted, none lost
    assert record.refresh_token and "def502" not in record.refresh_token  # kept encrypted
