"""Journal retention: what goes, what stays, batches, and the archive written before the delete."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from jtl_automator.store import StateStore
from jtl_automator.store.models import InboundCheck, KpiHistoryRow, OrderEvent, OrderLedger
from jtl_automator.store.retention import JOURNALS, count_older, prune

pytestmark = pytest.mark.slow  # PostgreSQL round trips: over a third of a second each

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _populate(store: StateStore) -> None:
    with store.session() as s:
        statuses = (("A-1", "shipped"), ("A-2", "cancelled"), ("A-3", "held"), ("A-4", "imported"))
        for number, status in statuses:
            s.add(OrderLedger(order_number=number, status=status))
        s.flush()
        for number in ("A-1", "A-2", "A-3", "A-4"):
            for age in (500, 450, 10):
                s.add(OrderEvent(order_number=number, event=f"e{age}", at=NOW - timedelta(days=age)))
        for age in range(0, 400, 20):
            s.add(
                InboundCheck(
                    run_id="r", sheet="s", row_key=f"k{age}", status="ok", checked_at=NOW - timedelta(age)
                )
            )
        for year in (2023, 2024, 2026):
            s.add(
                KpiHistoryRow(
                    report="weekly",
                    period=f"{year}-W01",
                    period_start=date(year, 1, 5),
                    period_end=date(year, 1, 11),
                    kpi="revenue",
                    dimension="",
                    value=1.0,
                )
            )


def _events(store: StateStore) -> list[tuple[str, str]]:
    with store.session() as s:
        return sorted((n, e) for n, e in s.execute(sa.select(OrderEvent.order_number, OrderEvent.event)))


def test_order_events_go_only_for_closed_orders_and_only_past_the_cutoff(store_url: str) -> None:
    store = StateStore(store_url)
    _populate(store)
    cutoff = NOW - timedelta(days=400)
    journal = JOURNALS["order_events"]
    assert count_older(store, journal, cutoff) == 4  # two old events each of A-1 (shipped), A-2 (cancelled)
    outcome = prune(store, journal, cutoff, batch_size=3)
    assert (outcome.older, outcome.deleted, outcome.archive) == (4, 4, None)
    left = _events(store)
    assert [e for n, e in left if n in ("A-1", "A-2")] == ["e10", "e10"]
    assert sorted(e for n, e in left if n == "A-3") == ["e10", "e450", "e500"]  # open: its journey stays
    with store.session() as s:  # the ledger itself is kept
        assert s.execute(sa.select(sa.func.count()).select_from(OrderLedger)).scalar_one() == 4
    again = prune(store, journal, cutoff)
    assert (again.older, again.deleted) == (0, 0)


def test_inbound_checks_and_kpi_history_by_their_own_age(store_url: str) -> None:
    store = StateStore(store_url)
    _populate(store)
    checks = prune(store, JOURNALS["inbound_checks"], NOW - timedelta(days=180), batch_size=4)
    assert checks.deleted == len([a for a in range(0, 400, 20) if a > 180])
    kpis = prune(store, JOURNALS["kpi_history"], NOW - timedelta(days=1100))
    assert kpis.deleted == 1  # 2023-W01 ended more than 1,100 days before; 2024-W01 did not
    with store.session() as s:
        periods = sorted(s.execute(sa.select(KpiHistoryRow.period)).scalars())
    assert periods == ["2024-W01", "2026-W01"]


def test_archive_holds_every_pruned_row_before_it_is_deleted(store_url: str, tmp_path: Path) -> None:
    store = StateStore(store_url)
    _populate(store)
    cutoff = NOW - timedelta(days=100)
    outcome = prune(store, JOURNALS["inbound_checks"], cutoff, batch_size=3, archive_dir=tmp_path, tag="t1")
    assert outcome.archive is not None
    with gzip.open(outcome.archive, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    assert len(rows) == outcome.deleted == len([a for a in range(0, 400, 20) if a > 100])
    assert {r["row_key"] for r in rows} == {f"k{a}" for a in range(0, 400, 20) if a > 100}
    assert all(datetime.fromisoformat(r["checked_at"]) < NOW - timedelta(days=100) for r in rows)


def test_a_failing_archive_write_deletes_nothing_of_that_batch(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(store_url)
    _populate(store)
    calls = {"n": 0}
    real_fsync = __import__("os").fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr("jtl_automator.store.retention.os.fsync", failing_fsync)
    journal = JOURNALS["inbound_checks"]
    cutoff = NOW - timedelta(days=100)
    before = count_older(store, journal, cutoff)
    with pytest.raises(OSError, match="disk full"):
        prune(store, journal, cutoff, batch_size=3, archive_dir=tmp_path, tag="t2")
    assert count_older(store, journal, cutoff) == before - 3  # the first batch went, the second stayed


def test_gateway_events_go_after_delivery_only(store_url: str) -> None:
    from jtl_automator.store.models import GatewayEventRow

    store = StateStore(store_url)
    with store.session() as s:
        for n, delivered in enumerate((NOW - timedelta(days=200), None, NOW - timedelta(days=5))):
            s.add(
                GatewayEventRow(
                    source="shop",
                    event_id=f"e{n}",
                    type="custom",
                    data={},
                    received_at=NOW - timedelta(days=300),
                    delivered_at=delivered,
                )
            )
    outcome = prune(store, JOURNALS["gateway_events"], NOW - timedelta(days=90))
    assert outcome.deleted == 1
    with store.session() as s:
        assert sorted(s.execute(sa.select(GatewayEventRow.event_id)).scalars()) == ["e1", "e2"]


def test_shop_sync_incidents_go_once_cleared_long_enough_ago(store_url: str) -> None:
    from jtl_automator.store.models import ShopSyncIncidentRow

    store = StateStore(store_url)
    with store.session() as s:
        for key, cleared in (
            ("old", NOW - timedelta(days=120)),
            ("open", None),
            ("recent", NOW - timedelta(5)),
        ):
            s.add(
                ShopSyncIncidentRow(
                    kind="stuck_order",
                    key=key,
                    open_key=None if cleared else key,
                    first_seen=NOW - timedelta(days=200),
                    last_seen=NOW - timedelta(days=130),
                    cleared_at=cleared,
                )
            )
    journal = JOURNALS["shop_sync_incidents"]
    assert count_older(store, journal, NOW - timedelta(days=90)) == 1
    assert prune(store, journal, NOW - timedelta(days=90)).deleted == 1
    with store.session() as s:
        assert sorted(s.execute(sa.select(ShopSyncIncidentRow.key)).scalars()) == ["open", "recent"]
