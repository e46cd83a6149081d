"""A small literal order ledger in a state database: the data the report queries are checked against."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from jtl_automator.store import OrderLine, StateStore
from jtl_automator.store.models import OrderEvent


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def line(
    position: int,
    sku: str,
    quantity: float,
    net: float | None,
    gross: float | None,
    cost: float | None,
    day: date,
    warehouse: str = "W1",
) -> OrderLine:
    return OrderLine(position, sku, warehouse, quantity, day, net, gross, cost)


def add_order(
    store: StateStore,
    number: str,
    ordered: datetime,
    status: str,
    *,
    warehouse: str | None = None,
    reason: str | None = None,
    lines: Sequence[OrderLine] | None = None,
) -> None:
    update: dict[str, Any] = {
        "order_number": number,
        "status": status,
        "order_date": ordered,
        "warehouse_id": warehouse,
        "hold_reason": reason,
    }
    if lines is not None:
        update["lines"] = list(lines)
    store.record_orders([update], event="seeded")


def add_events(store: StateStore, events: Sequence[tuple[str, str, datetime]]) -> None:
    """Journal entries at the given moments (``record_orders`` stamps them with now)."""
    with store.session() as s:
        for number, event, moment in events:
            s.add(OrderEvent(order_number=number, event=event, at=moment))


def seed_week(store: StateStore) -> None:
    """Orders around 2026-W47 (Berlin, UTC+1): see tests/reports/test_queries.py for the hand-made sums."""
    d16, d15, d17 = date(2026, 11, 16), date(2026, 11, 15), date(2026, 11, 17)
    add_order(
        store,
        "A0",
        at(2026, 11, 15, 22, 30),
        "shipped",
        warehouse="W1",
        lines=[line(1, "S1", 1, 10.0, 11.9, 4.0, d15)],
    )
    add_order(
        store,
        "A1",
        at(2026, 11, 16, 8),
        "shipped",
        warehouse="W1",
        lines=[line(1, "S1", 1, 20.0, 23.8, 8.0, d16), line(2, "S2", 2, 30.0, 35.7, 12.0, d16)],
    )
    add_order(
        store,
        "A2",
        at(2026, 11, 17, 23, 30),
        "outbound_created",
        warehouse="W2",
        lines=[line(1, "S2", 1, 30.0, 35.7, None, d17, "W2")],
    )
    add_order(
        store,
        "A3",
        at(2026, 11, 15, 23, 30),
        "shipped",
        warehouse="W1",
        lines=[line(1, "S1", 2, 20.0, 23.8, 8.0, d15)],
    )
    add_order(store, "A4", at(2026, 11, 18, 9), "held", reason="ADDRESS_INVALID: street")
    add_order(
        store,
        "A5",
        at(2026, 11, 19, 9),
        "cancelled",
        warehouse="W1",
        lines=[line(1, "S3", 4, 100.0, 119.0, 50.0, date(2026, 11, 19))],
    )
    add_order(store, "A6", at(2026, 11, 19, 10), "outbound_created", warehouse="W1")
    add_events(
        store,
        [
            ("A0", "outbound_created", at(2026, 11, 15, 23)),
            ("A0", "shipped", at(2026, 11, 16, 12)),
            ("A1", "outbound_created", at(2026, 11, 16, 10)),
            ("A1", "shipped", at(2026, 11, 17, 10)),
            ("A2", "outbound_created", at(2026, 11, 18, 1)),
            ("A3", "held", at(2026, 11, 16, 1)),
            ("A3", "outbound_created", at(2026, 11, 16, 2)),
            ("A3", "shipped", at(2026, 11, 16, 20)),
            ("A4", "held", at(2026, 11, 18, 9, 5)),
        ],
    )
