"""The order processing flow end to end: real Prefect, real HTTP to the sandbox, a real SQLite ledger."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.order_processing import order_processing
from jtl_automator.clients.errors import AuthError
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, INVOICE_METHOD_ID
from jtl_automator.services.order_processing import OrderProcessingParams
from jtl_automator.settings import get_settings
from jtl_automator.store import StateStore
from jtl_automator.transforms import ValidationParams
from tests.flows.conftest import FlowSandbox, run_concurrently

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server

SINCE = DEFAULT_BASE_DATE - timedelta(days=11)
PARAMS = OrderProcessingParams(
    chunk_size=4, validation=ValidationParams(invoice_payment_method_ids=frozenset({INVOICE_METHOD_ID}))
)


@pytest.fixture
def sandbox(flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch) -> FlowSandbox:
    """The flow sandbox with client-side rate limits above what a 40-order world needs."""
    monkeypatch.setenv("JTL_FFN_RATE_PER_SECOND", "500")
    monkeypatch.setenv("JTL_WAWI_RATE_PER_SECOND", "500")
    get_settings.cache_clear()
    return flow_sandbox


def per_number(sandbox: FlowSandbox) -> Counter[str]:
    return Counter(o["merchantOutboundNumber"] for o in sandbox.state.data.ffn.outbounds.values())


def test_end_to_end_artifacts_and_idempotent_rerun(sandbox: FlowSandbox) -> None:
    state = order_processing(since=SINCE, params=PARAMS, return_state=True)
    result = state.result()
    counts = result["counts"]
    assert (counts["created"], counts["adopted"], counts["held"], counts["failed"]) == (15, 7, 2, 0)
    assert {row["order_number"] for row in result["held"]} == {"AU100008", "AU100028"}
    assert set(per_number(sandbox).values()) == {1}
    store = StateStore(f"sqlite:///{sandbox.tmp / 'state.db'}")
    assert store.orders(["AU100040"])["AU100040"].status == "outbound_created"
    assert store.get_watermark("orders:wawi") is not None

    async def artifacts() -> dict[str, Any]:
        """This run's artifacts only: other tests on the shared Prefect server publish the same keys."""
        this_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        async with get_client() as client:
            return {a.key: a.data for a in await client.read_artifacts(artifact_filter=this_run) if a.key}

    found = anyio.run(artifacts)
    assert "| created | 15 |" in str(found["order-processing-summary"])
    assert "POSTCODE_INVALID" in str(found["order-processing-held"])

    again = order_processing(params=PARAMS)  # from the watermark: the open (held) orders only
    assert again["counts"]["created"] == 0 and again["counts"]["held"] == 2
    assert set(per_number(sandbox).values()) == {1}


def test_dry_run_writes_nothing(sandbox: FlowSandbox) -> None:
    outbounds = len(sandbox.state.data.ffn.outbounds)
    result = order_processing(since=SINCE, params=PARAMS, dry_run=True)
    assert result["dry_run"] and result["counts"]["created"] == 15
    assert len(sandbox.state.data.ffn.outbounds) == outbounds
    assert all(not o.get("Comment") for o in sandbox.state.data.wawi.sales_orders.values())
    store = StateStore(f"sqlite:///{sandbox.tmp / 'state.db'}")
    assert store.get_watermark("orders:wawi") is None and store.orders(["AU100040"]) == {}


def test_two_runs_at_once_never_double_process(sandbox: FlowSandbox) -> None:
    results = run_concurrently(lambda: order_processing(since=SINCE, params=PARAMS))
    created = sum(r["counts"].get("created", 0) for r in results)
    assert created == 15 and set(per_number(sandbox).values()) == {1}
    # Usually the second run finds the lease taken; if it started after the first finished, it skipped
    # every order the first one recorded.
    second = min(results, key=lambda r: r["counts"].get("created", 0))
    assert second.get("skipped") or second["counts"]["skipped_existing"] == 22


def test_auth_error_fails_the_run_at_once_and_alerts(
    sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blocks import WebhookEndpoint
    from jtl_automator.services import order_processing as svc

    WebhookEndpoint(url="http://127.0.0.1:9/alerts").save("ops-alerts", overwrite=True)
    alerts: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        svc.Notifier, "event", lambda self, key, payload, **kw: alerts.append((key, dict(payload))) or {}
    )
    monkeypatch.setenv("JTL_WAWI_API_KEY", "revoked-key")
    get_settings.cache_clear()
    with pytest.raises(AuthError):
        order_processing(since=SINCE, params=PARAMS, webhook_block="ops-alerts")
    assert not sandbox.state.data.ffn.outbounds or set(per_number(sandbox).values()) == {1}
    assert len(alerts) == 1 and alerts[0][1]["event"] == "order_processing.failed"
    store = StateStore(f"sqlite:///{sandbox.tmp / 'state.db'}")
    assert store.get_watermark("orders:wawi") is None
    assert store.acquire_lease("order-processing", "next-run", timedelta(minutes=1))  # released


def test_params_workers_bounds_the_chunk_tasks_in_flight(
    sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from jtl_automator.services import order_processing as svc

    real = svc.apply_actions
    lock = threading.Lock()
    running, peak = 0, 0

    def counted(ctx: Any, actions: Any) -> Any:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.2)
            return real(ctx, actions)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(svc, "apply_actions", counted)
    result = order_processing(since=SINCE, params=PARAMS.model_copy(update={"chunk_size": 2, "workers": 2}))
    assert result["counts"]["created"] == 15
    assert peak == 2  # 12 chunks, never more than two at once


def test_a_run_skipped_for_a_lease_held_too_long_alerts_once(
    sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    from blocks import WebhookEndpoint
    from jtl_automator.notify.notifier import Notifier

    WebhookEndpoint(url="http://127.0.0.1:9/alerts").save("ops-alerts", overwrite=True)
    alerts: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        Notifier, "event", lambda self, key, payload, **kw: alerts.append((key, dict(payload)))
    )
    store = StateStore(f"sqlite:///{sandbox.tmp / 'state.db'}")
    assert store.acquire_lease("order-processing", "run-hung", timedelta(minutes=10))
    with store.engine.begin() as conn:  # a run that took it 40 minutes ago and is still renewing it
        conn.execute(
            sa.text("UPDATE leases SET acquired_at = :t"), {"t": datetime.now(UTC) - timedelta(minutes=40)}
        )
    for _ in range(2):
        result = order_processing(since=SINCE, params=PARAMS, webhook_block="ops-alerts")
        assert (
            result["skipped"].startswith("another run holds the lease")
            and result["lease_owner"] == "run-hung"
        )
    assert [payload["event"] for _, payload in alerts] == ["order_processing.lease_stuck"] * 2
    assert {key for key, _ in alerts} == {"order-processing:lease-stuck:run-hung"}  # one key: sent once
    assert sandbox.state.data.ffn.outbounds == {} or set(per_number(sandbox).values()) == {1}
