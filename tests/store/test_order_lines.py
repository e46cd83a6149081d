"""The order ledger's item lines: replaced per order, read by day without cancelled orders, both dialects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from jtl_automator.store import ORDER_LINES_MARK, OrderLine, StateStore, iso
from jtl_automator.store import store as store_module
from tests.support.migrations import database_at, downgrade_to, schema_diff, tables

DAY = date(2026, 10, 2)


def _created(
    store: StateStore, number: str, lines: list[OrderLine], *, event: str = "outbound_created"
) -> None:
    store.record_orders(
        [{"order_number": number, "status": "outbound_created", "warehouse_id": "W1", "lines": lines}],
        event=event,
    )


def _line(
    position: int, sku: str, quantity: float = 1.0, day: date = DAY, warehouse: str = "W1"
) -> OrderLine:
    return OrderLine(position, sku, warehouse, quantity, day)


def _all(store: StateStore, start: date = date(2026, 1, 1), end: date = date(2026, 12, 31)) -> list[tuple]:
    """The rows read, the day as a date (SQLite's driver gives ISO text, PostgreSQL's a date)."""
    return sorted(
        (sku, wh, date.fromisoformat(str(day)), q) for sku, wh, day, q in store.iter_order_lines(start, end)
    )


@pytest.mark.slow
def test_recording_an_order_again_replaces_its_lines_never_doubles_them(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        _created(store, "AU-1", [_line(1, "A", 2.0), _line(2, "B", 1.0)])
        _created(store, "AU-2", [_line(1, "A", 5.0)])
        _created(store, "AU-1", [_line(1, "A", 2.0), _line(2, "B", 1.0)], event="outbound_created")  # a rerun
        assert _all(store) == [("A", "W1", DAY, 2.0), ("A", "W1", DAY, 5.0), ("B", "W1", DAY, 1.0)]
        _created(store, "AU-1", [_line(3, "C", 4.0, warehouse="W2")])  # adopted in another warehouse
        assert _all(store) == [("A", "W1", DAY, 5.0), ("C", "W2", DAY, 4.0)]
        store.record_orders(
            [{"order_number": "AU-1", "status": "shipped", "tracking": "T1"}], event="shipped"
        )
        assert [line.sku for line in store.order_lines_of("AU-1")] == ["C"]  # no ``lines``: kept as they are
        _created(store, "AU-2", [])
        assert store.order_lines_of("AU-2") == []
    finally:
        store.dispose()


@pytest.mark.slow
def test_lines_of_cancelled_orders_and_days_outside_the_range_are_not_read(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        before, after = DAY - timedelta(days=1), DAY + timedelta(days=1)
        _created(store, "AU-1", [_line(1, "A", 1.0, day=before)])
        _created(store, "AU-2", [_line(1, "A", 2.0, day=DAY)])
        _created(store, "AU-3", [_line(1, "A", 3.0, day=after)])
        _created(store, "AU-4", [_line(1, "A", 4.0, day=DAY)])
        store.record_orders([{"order_number": "AU-4", "status": "cancelled"}], event="outbound_cancelled")
        assert _all(store, DAY, after) == [
            ("A", "W1", DAY, 2.0),
            ("A", "W1", after, 3.0),
        ]  # both ends included
        assert _all(store, DAY, DAY) == [("A", "W1", DAY, 2.0)]
        assert [line.quantity for line in store.order_lines_of("AU-4")] == [4.0]  # kept, only not read
    finally:
        store.dispose()


@pytest.mark.slow
def test_the_read_streams_in_batches(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_ORDER_LINES_FETCH", 2)
    store = StateStore(store_url)
    try:
        for n in range(5):
            _created(store, f"AU-{n}", [_line(1, f"S{n}", float(n + 1)), _line(2, "X", 1.0)])
        rows = _all(store)
        assert len(rows) == 10 and sum(q for *_, q in rows) == 20.0
    finally:
        store.dispose()


@pytest.mark.slow
def test_the_ledger_covers_the_days_after_it_first_recorded_lines(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        store.record_orders([{"order_number": "AU-1", "status": "imported"}], event="imported")
        assert store.order_lines_cover_from() is None  # no line recorded yet
        started = datetime.now(UTC)
        _created(store, "AU-1", [_line(1, "A")])
        ended = datetime.now(UTC)
        first = store.order_lines_cover_from()
        assert first in {started.date() + timedelta(days=1), ended.date() + timedelta(days=1)}
        mark = store.get_watermark(ORDER_LINES_MARK)
        _created(store, "AU-2", [_line(1, "A")])
        assert store.get_watermark(ORDER_LINES_MARK) == mark  # set once, by the first lines
        # a person who filled the ledger from older records moves it back explicitly
        store.reset_watermark(ORDER_LINES_MARK, iso(datetime(2026, 9, 30, 23, 59, tzinfo=UTC)))
        assert store.order_lines_cover_from() == date(2026, 10, 1)
    finally:
        store.dispose()


@pytest.mark.slow
def test_a_line_the_columns_cannot_hold_is_skipped_not_fatal(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        _created(
            store,
            "AU-1",
            [
                _line(1, "S" * 256),
                _line(2, "A", float("nan")),
                _line(3, "B", warehouse="W" * 256),
                _line(4, "C", 2.0),
                _line(4, "D", 9.0),  # the same position again
                _line(5, "E" * 255, warehouse="W" * 255),
            ],
        )
        assert [(line.position, line.sku[:1]) for line in store.order_lines_of("AU-1")] == [
            (4, "C"),
            (5, "E"),
        ]
        assert store.orders(["AU-1"])["AU-1"].status == "outbound_created"
    finally:
        store.dispose()


@pytest.mark.slow
def test_a_database_at_the_item_cache_migration_upgrades_to_order_lines(store_url: str) -> None:
    database_at(
        store_url,
        "c4e8f2a6b913",
        "INSERT INTO order_ledger (order_number, status, created_at, updated_at) "
        "VALUES ('AU-1', 'shipped', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    )
    assert "order_lines" not in tables(store_url)
    store = StateStore(store_url)  # migrates to head
    try:
        assert store.orders(["AU-1"])["AU-1"].status == "shipped"
        assert store.order_lines_cover_from() is None  # the existing orders have no lines
        inspector = sa.inspect(store.engine)
        assert [ix["column_names"] for ix in inspector.get_indexes("order_lines")] == [["order_day"]]
        assert inspector.get_pk_constraint("order_lines")["constrained_columns"] == [
            "order_number",
            "position",
        ]
        assert schema_diff(store, "order_lines") == []
        if store.dialect == "postgresql":
            assert schema_diff(store) == []
        _created(store, "AU-1", [_line(1, "A")])
    finally:
        store.dispose()
    downgrade_to(store_url, "c4e8f2a6b913")  # and back down: only the lines and their watermark go
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        marks = conn.execute(sa.text("SELECT job FROM watermarks")).scalars().all()
    engine.dispose()
    left = tables(store_url)
    assert "order_lines" not in left and "order_ledger" in left and ORDER_LINES_MARK not in marks
