"""The daily operations report's "Shop sync" tab, from the shop sync check's incident history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from jtl_automator.reports import parse_period, report_definition
from jtl_automator.reports.data import ReportParams
from jtl_automator.reports.excel import write_workbook
from jtl_automator.reports.model import Report
from jtl_automator.services.reporting import Sources, read_data
from jtl_automator.store import StateStore
from jtl_automator.store.shop_sync import IncidentChange, ShopSyncStore

DAY = "2026-12-02"
AS_OF = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)  # 07:00 in Berlin, the morning after


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield store
    store.dispose()


def _report(store: StateStore, as_of: datetime = AS_OF) -> Report:
    definition = report_definition("daily")
    data = read_data(definition, parse_period(DAY), ReportParams(), Sources(store), as_of=as_of)
    return definition.build(data, ReportParams())


def test_the_tab_says_when_the_check_never_ran(store: StateStore) -> None:
    report = _report(store)
    table = report.table("shop_sync")
    assert table.missing == "the shop sync check has not run against this state database"
    assert report.kpi("shop_sync_incidents").value is None


def test_open_incidents_raised_first_with_since_and_hours_then_the_cleared(
    store: StateStore, tmp_path: Path
) -> None:
    sync = ShopSyncStore(store)
    sync.advance_order_cursor(1042)
    stuck_since = AS_OF - timedelta(hours=5)
    sync.apply(
        [
            IncidentChange(
                "open", "stuck_order", "SHOP-1", stuck_since, True, details={"detail": "not in Wawi"}
            ),
            IncidentChange(
                "open",
                "stale_stock",
                "SKU-9",
                AS_OF - timedelta(minutes=10),
                False,
                details={"detail": "shop 12, Wawi 4", "shop_value": 12.0, "wawi_value": 4.0},
            ),
            IncidentChange("open", "price_drift", "SKU-2/1", AS_OF - timedelta(days=2), True),
        ],
        AS_OF - timedelta(minutes=5),
        "r1",
    )
    drift = next(i for i in sync.open_incidents() if i.kind == "price_drift")
    sync.apply(
        [IncidentChange("clear", "price_drift", "SKU-2/1", drift.first_seen, id=drift.id, clear_reason="ok")],
        AS_OF - timedelta(hours=3),
        "r2",
    )
    report = _report(store)
    table = report.table("shop_sync")
    rows = table.frame
    assert list(rows["key"]) == ["SHOP-1", "SKU-9", "SKU-2/1"]
    assert list(rows["state"]) == ["raised", "watching", "cleared"]
    assert rows["hours_open"].tolist()[0] == 5.0 and rows["hours_open"].tolist()[2] == 45.0
    assert report.kpi("shop_sync_incidents").value == 1.0
    assert "1 stuck order" in (table.note or "")
    book = openpyxl.load_workbook(write_workbook(report, tmp_path / "daily.xlsx"), read_only=True)
    assert "Shop sync" in book.sheetnames
    book.close()


def test_a_report_run_later_for_an_earlier_day_states_the_snapshot_as_missing(store: StateStore) -> None:
    ShopSyncStore(store).advance_order_cursor(1)
    report = _report(store, AS_OF + timedelta(days=5))
    assert "snapshot" in (report.table("shop_sync").missing or "")
