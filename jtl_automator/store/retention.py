"""Retention: journals older than their keep-age leave the state database, optionally into an archive file.

What grows without bound is the journals, not the state: order events, inbound check results, KPI
history, the gateway's delivered events and its rate-limit counts, the shop check's cleared incidents.
The order ledger and its lines stay (they are the replenishment's demand and the reports' sales, and an
order number must never be processed twice), as do plans, prices and the side-effect ledger.
Order events are pruned only for orders that are closed (shipped, cancelled): an open order's journey is
what order processing reads to decide its next step.

Rows go in batches by primary key, oldest first. With an archive folder each batch is written (gzip JSON
lines, fsynced) before it is deleted: a crash between the two leaves the rows in the database, and the next
run archives them again into its own file, so an archive may hold a row twice but never lose one.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

from jtl_automator.store.models import (
    CLOSED_ORDER_STATUSES,
    Base,
    GatewayEventRow,
    GatewayRateCountRow,
    InboundCheck,
    KpiHistoryRow,
    OrderEvent,
    OrderLedger,
    ShopSyncIncidentRow,
)
from jtl_automator.store.store import StateStore


@dataclass(frozen=True)
class Journal:
    """A table that only grows: its key column, the column its age is read from, and what else must hold."""

    name: str
    model: type[Base]
    key_name: str = "id"
    age_name: str = "at"
    #: Whether the age column is a date (compared with the cut-off's date) rather than a timestamp.
    by_date: bool = False
    condition: Callable[[], sa.ColumnElement[bool]] | None = None

    @property
    def table(self) -> sa.Table:
        """The journal's table."""
        return cast(sa.Table, self.model.__table__)

    @property
    def key(self) -> sa.Column[Any]:
        """The primary key batches are taken by."""
        return self.table.c[self.key_name]

    @property
    def age(self) -> sa.Column[Any]:
        """The column a row's age is read from."""
        return self.table.c[self.age_name]


def _closed_orders() -> sa.ColumnElement[bool]:
    closed = sa.select(OrderLedger.order_number).where(OrderLedger.status.in_(CLOSED_ORDER_STATUSES))
    return OrderEvent.order_number.in_(closed)


JOURNALS: dict[str, Journal] = {
    "order_events": Journal("order_events", OrderEvent, age_name="at", condition=_closed_orders),
    "inbound_checks": Journal("inbound_checks", InboundCheck, age_name="checked_at"),
    "kpi_history": Journal("kpi_history", KpiHistoryRow, age_name="period_end", by_date=True),
    # Undelivered events have no delivery time, and NULL is never older than anything: they stay.
    "gateway_events": Journal("gateway_events", GatewayEventRow, age_name="delivered_at"),
    # A rate-limit slice counts for one window (at most an hour); the gateway deletes them as it goes too.
    "gateway_rate_counts": Journal("gateway_rate_counts", GatewayRateCountRow, age_name="ends_at"),
    # An open incident has no clearing time, and NULL is never older than anything: it stays.
    "shop_sync_incidents": Journal("shop_sync_incidents", ShopSyncIncidentRow, age_name="cleared_at"),
}


@dataclass(frozen=True)
class Pruned:
    """One journal's outcome: rows older than the cut-off, how many left the database, and where they went."""

    journal: str
    cutoff: datetime
    older: int
    deleted: int
    archive: str | None


def _older(journal: Journal, cutoff: datetime) -> sa.ColumnElement[bool]:
    bound: date | datetime = cutoff.date() if journal.by_date else cutoff
    clause = journal.age < bound
    if journal.condition is not None:
        clause = sa.and_(clause, journal.condition())
    return clause


def count_older(store: StateStore, journal: Journal, cutoff: datetime) -> int:
    """Rows a prune would remove (the dry run's figure)."""
    stmt = sa.select(sa.func.count()).select_from(journal.table).where(_older(journal, cutoff))
    with store.session() as s:
        return int(s.execute(stmt).scalar_one())


def _plain(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # SQLite hands back the UTC the store wrote without its zone
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def prune(
    store: StateStore,
    journal: Journal,
    cutoff: datetime,
    *,
    batch_size: int = 5000,
    archive_dir: Path | None = None,
    tag: str = "run",
) -> Pruned:
    """Delete ``journal``'s rows older than ``cutoff`` in batches, archiving each batch first when asked."""
    older = count_older(store, journal, cutoff)
    deleted = 0
    archive: Path | None = None
    handle: gzip.GzipFile | None = None
    raw: Any = None
    with ExitStack() as files:
        while True:
            with store.session() as s:
                rows = (
                    s.execute(
                        sa.select(journal.table)
                        .where(_older(journal, cutoff))
                        .order_by(journal.key)
                        .limit(batch_size)
                    )
                    .mappings()
                    .all()
                )
                if not rows:
                    break
                if archive_dir is not None:
                    if handle is None:
                        archive_dir.mkdir(parents=True, exist_ok=True)
                        archive = archive_dir / f"{journal.name}-before-{cutoff:%Y%m%d}-{tag}.jsonl.gz"
                        raw = files.enter_context(archive.open("ab"))
                        handle = files.enter_context(gzip.GzipFile(fileobj=raw, mode="ab"))
                    for row in rows:
                        line = json.dumps({k: _plain(v) for k, v in row.items()}, sort_keys=True) + "\n"
                        handle.write(line.encode("utf-8"))
                    handle.flush()  # a gzip sync flush: what is written so far decompresses on its own
                    raw.flush()
                    os.fsync(raw.fileno())
                keys = [row[journal.key.name] for row in rows]
                s.execute(sa.delete(journal.table).where(journal.key.in_(keys)))
                deleted += len(keys)
    return Pruned(journal.name, cutoff, older, deleted, str(archive) if archive else None)


def table_sizes(store: StateStore) -> dict[str, int]:
    """Row counts of every table (the artifact shows what the database holds after the prune)."""
    sizes: dict[str, int] = {}
    with store.engine.connect() as conn:
        for table in sorted(Base.metadata.sorted_tables, key=lambda t: t.name):
            sizes[table.name] = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    return sizes


__all__ = ["CLOSED_ORDER_STATUSES", "JOURNALS", "Journal", "Pruned", "count_older", "prune", "table_sizes"]
