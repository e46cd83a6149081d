"""The gateway-drain flow against a real Prefect server: outbox rows arrive as Prefect events, in order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

from flows.gateway_drain import gateway_drain
from jtl_automator.gateway import Outbox
from jtl_automator.settings import get_settings
from jtl_automator.store import StateStore

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server


def test_drained_events_arrive_as_prefect_events_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("JTL_DATABASE_URL", url)
    get_settings.cache_clear()
    store = StateStore(url)
    outbox = Outbox(store)
    for n in range(3):
        outbox.append("shop-flowtest", f"evt-{n}", "order.held", {"order_number": f"AU-{n}", "reason": "r"})

    dry = gateway_drain(dry_run=True)
    assert (dry["dry_run"], dry["delivered"], dry["remaining"]) == (True, 0, 3)
    result = gateway_drain()
    assert (result["delivered"], result["remaining"], result["error"]) == (3, 0, None)
    assert outbox.counts().pending == 0

    wanted = EventFilter(
        event=EventNameFilter(prefix=["jtl.gateway."]),
        resource=EventResourceFilter(id=["jtl-automator.gateway.shop-flowtest"]),
    )
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:  # the server's event persister writes in batches
            events = client.read_events(filter=wanted, limit=10).events
            if len(events) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    got = sorted(events, key=lambda e: e.payload["outbox_id"])
    assert [e.event for e in got] == ["jtl.gateway.order.held"] * 3
    assert [e.payload["event_id"] for e in got] == ["evt-0", "evt-1", "evt-2"]
    assert got[0].payload["data"] == {"order_number": "AU-0", "reason": "r"}
    assert got[0].resource["prefect.resource.name"] == "shop-flowtest"
    store.dispose()
