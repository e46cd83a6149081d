"""An upgrade as an operator does it: a populated database of an older version, copied, the copy upgraded.

The database is built at ``OLD`` (the revision before the last four migrations: price history, report
amounts and the KPI history, the gateway outbox, the workflows) and filled with a few weeks of realistic
rows in every table that exists then, written the way that version wrote them (SQLAlchemy inserts into
the tables as they were). It is copied the way an operator copies (SQLite's online backup;
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), the copy is opened with ``StateStore`` (which migrates to
head, as every deployment does on start), and then: every old row is still there with every old value,
the stores read them, the new tables take and give back rows, and the original is untouched.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from jtl_automator.gateway.outbox import Outbox
from jtl_automator.plans import PlanStatus, PlanStore
from jtl_automator.store import KpiValue, OrderLine, PriceChange, StateStore
from jtl_automator.workflows.store import WorkflowStore
from tests.conftest import POSTGRES_URL
from tests.support.migrations import database_at, schema_diff, tables

pytestmark = pytest.mark.slow  # two databases and every migration since OLD

OLD = (
    "a54654d2b843"  # order lines for demand; after it: e7b41c9d2f60, fc857173a450, b7d3e5a1c2f4, b8d3f1a9c6e2
)
NEW_TABLES = {
    "price_history",
    "kpi_history",
    "gateway_events",
    "workflows",
    "workflow_runs",
    "workflow_steps",
}
START = datetime(2026, 10, 26, 6, 0, tzinfo=UTC)
WAREHOUSES = ("FULF04XX-04109-0001", "FULF04XX-36251-0002")
ORDERS = 120


@dataclass
class Databases:
    """A database to build at ``OLD`` and how to copy it; both dropped at the end."""

    source: str
    copy: Callable[[], str]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    if request.param == "sqlite":
        source, target = tmp_path / "state.db", tmp_path / "state-copy.db"

        def copy_file() -> str:
            with sqlite3.connect(source) as old, sqlite3.connect(target) as new:
                old.backup(new)  # the online backup API: consistent even while the database is in use
            return f"sqlite:///{target}"

        yield Databases(f"sqlite:///{source}", copy_file)
        return
    name = f"jtl_upgrade_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    server = sa.engine.make_url(POSTGRES_URL)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def copy_database() -> str:
        with admin.connect() as conn:  # a template must have no other session: the builders disposed theirs
            conn.execute(sa.text(f'CREATE DATABASE "{name}_copy" TEMPLATE "{name}"'))
        return server.set(database=f"{name}_copy").render_as_string(hide_password=False)

    try:
        yield Databases(server.set(database=name).render_as_string(hide_password=False), copy_database)
    finally:
        with admin.connect() as conn:
            for database in (f"{name}_copy", name):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _old_rows() -> dict[str, list[dict[str, Any]]]:
    """A few weeks of operations as the version at ``OLD`` recorded them, in every table it had."""
    ledger: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    effects: list[dict[str, Any]] = []
    statuses = ("shipped", "shipped", "shipped", "outbound_created", "held", "cancelled", "imported")
    for i in range(ORDERS):
        number, at = f"AU-2026-{10_000 + i}", START + timedelta(hours=6 * i)
        status = statuses[i % len(statuses)]
        ledger.append(
            {
                "order_number": number,
                "wawi_order_id": 500_000 + i,
                "status": status,
                "hold_reason": "address: Hausnummer fehlt" if status == "held" else None,
                "outbound_id": f"MERC{i:08X}" if status in ("shipped", "outbound_created") else None,
                "warehouse_id": WAREHOUSES[i % 2],
                "tracking": f'{{"carrier": "DHL", "codes": ["00340434{i:010d}"]}}'
                if status == "shipped"
                else None,
                "order_date": at,
                "created_at": at + timedelta(minutes=5),
                "updated_at": at + timedelta(hours=30),
                "sent_fingerprint": uuid.UUID(int=i).hex,
                "change_seen": None,
            }
        )
        for step, event in enumerate(("imported", "validated", status)):
            events.append(
                {
                    "order_number": number,
                    "event": event,
                    "detail": {"step": step, "warehouse": WAREHOUSES[i % 2], "note": "Straße ß ä"},
                    "run_id": f"run-{i // 10}",
                    "at": at + timedelta(minutes=5 + step),
                }
            )
        for position in range(1, 2 + i % 3):
            lines.append(
                {
                    "order_number": number,
                    "position": position,
                    "sku": f"KAF-{(i * 7 + position) % 40:05d}",
                    "warehouse_id": WAREHOUSES[(i + position) % 2],
                    "quantity": float(1 + (i + position) % 4),
                    "order_day": at.date(),
                }
            )
        if status in ("shipped", "outbound_created"):
            effects.append(
                {
                    "key": f"ffn-outbound:{number}",
                    "kind": "ffn_outbound",
                    "status": "done",
                    "result": {"outboundId": f"MERC{i:08X}", "merchantOutboundNumber": number},
                    "error": None,
                    "attempts": 1 + i % 2,
                    "run_id": f"run-{i // 10}",
                    "claimed_at": at + timedelta(minutes=6),
                    "completed_at": at + timedelta(minutes=7),
                }
            )
    effects.append(
        {
            "key": "stock-push:2026-11-20:KAF-00001",
            "kind": "wawi_stock",
            "status": "failed",
            "result": None,
            "error": "TransientFailure: 503 after 6 attempts",
            "attempts": 6,
            "run_id": "run-stock-1",
            "claimed_at": START,
            "completed_at": None,
        }
    )
    checks = [
        {
            "run_id": f"inbound-run-{run}",
            "sheet": "1AbCinboundControlSheetId",
            "row_key": f"KAF-{k:05d}|ANL-2026-{k:05d}",
            "sku": f"KAF-{k:05d}",
            "inbound_ref": f"ANL-2026-{k:05d}",
            "units_expected": 24 * (k + 1),
            "units_received": 24 * (k + 1) - (k % 3) * run,
            "status": "MATCH" if k % 3 == 0 or run == 0 else "MISMATCH",
            "note": ""
            if k % 3 == 0
            else f"received {24 * (k + 1) - k % 3} of {24 * (k + 1)} (difference -{k % 3})",
            "checked_at": START + timedelta(days=run, hours=k),
        }
        for run in range(2)
        for k in range(25)
    ]
    scope = {"warehouses": [WAREHOUSES[0]], "supplier": "Lieferant 7"}
    plans = [
        {
            "id": 1,
            "kind": "restock",
            "scope_hash": "a" * 64,
            "scope": scope,
            "period": "2026-W47",
            "status": "approved",
            "deadline": None,
            "created_by": "flow-run-1",
            "approved_by": "einkauf@example.com",
            "approved_at": START + timedelta(days=22),
            "execution_started_at": None,
            "done_at": None,
            "cancelled_by": None,
            "cancelled_at": None,
            "note": "Bestellvorschlag KW 47",
            "created_at": START + timedelta(days=21),
            "updated_at": START + timedelta(days=22),
        },
        {
            "id": 2,
            "kind": "markdown",
            "scope_hash": "b" * 64,
            "scope": {},
            "period": "2026-11-23",
            "status": "draft",
            "deadline": START + timedelta(days=30),
            "created_by": "workflow:monday-markdown",
            "approved_by": None,
            "approved_at": None,
            "execution_started_at": None,
            "done_at": None,
            "cancelled_by": None,
            "cancelled_at": None,
            "note": None,
            "created_at": START + timedelta(days=28),
            "updated_at": START + timedelta(days=28),
        },
    ]
    plan_lines = [
        {
            "plan_id": 1 + k % 2,
            "sku": f"KAF-{k:05d}",
            "warehouse": WAREHOUSES[0],
            "quantity": 12 * (1 + k),
            "unit_price": f"{4.5 + k / 8:.4f}",
            "reason": "position below reorder point 40.0; cover 6.2 d",
            "score": 3.5 - k / 10,
            "details": {"daily_demand": 2.5 + k, "lead_time_days": 14},
            "status": "approved" if k % 2 == 0 else "proposed",
            "approved_by": "einkauf@example.com" if k % 2 == 0 else None,
            "approved_at": START + timedelta(days=22) if k % 2 == 0 else None,
            "purchase_order_number": None,
            "inbound_id": None,
            "execution": None,
            "created_at": START + timedelta(days=21),
            "updated_at": START + timedelta(days=22),
        }
        for k in range(10)
    ]
    return {
        "oauth_tokens": [
            {
                "name": "ffn",
                "refresh_token": "rt-" + "x" * 60,
                "access_token": "at-" + "y" * 200,
                "access_expires_at": START + timedelta(days=29, hours=1),
                "version": 417,
                "updated_at": START + timedelta(days=29),
            }
        ],
        "watermarks": [
            {"job": "order-import:wawi", "value": "2026-11-24T05:45:00+00:00", "updated_at": START},
            {"job": "order-lines:since", "value": START.isoformat(), "updated_at": START},
            {"job": "stock-sync:ffn", "value": "2026-11-24T05:50:00+00:00", "updated_at": START},
        ],
        "order_ledger": ledger,
        "order_events": events,
        "order_lines": lines,
        "side_effects": effects,
        "inbound_checks": checks,
        "leases": [
            {
                "name": "order-processing",
                "owner": "worker-a:4711",
                "expires_at": START + timedelta(days=30),
                "acquired_at": START + timedelta(days=29),
            }
        ],
        "plans": plans,
        "plan_lines": plan_lines,
        "plan_runs": [
            {
                "id": "plan-run-1",
                "workflow": "saison-restock",
                "status": "succeeded",
                "trigger": {"sku": "KAF-00003", "warehouse": WAREHOUSES[1]},
                "started_at": START + timedelta(days=20),
                "finished_at": START + timedelta(days=20, minutes=1),
            }
        ],
        "plan_steps": [
            {
                "run_id": "plan-run-1",
                "node": node,
                "status": "succeeded",
                "inputs": {"kind": "restock"},
                "output": {"plan_id": 1},
                "error": None,
                "attempts": 1,
                "started_at": START + timedelta(days=20),
                "finished_at": START + timedelta(days=20, seconds=2),
            }
            for node in ("plan", "items", "mail")
        ],
        "wawi_item_cache": [
            {
                "item_id": 9000 + k,
                "sku": f"KAF-{k:05d}",
                "inventory_managed": k % 5 != 0,
                "procurement_time": None if k % 3 else 7.0,
                "changed": f"2026-11-{10 + k % 15:02d}T08:00:00",
                "seen_at": START + timedelta(days=29),
                "suppliers": [{"SupplierId": 7, "DeliveryTime": 5, "PurchasePriceNet": 4.5 + k}],
                "suppliers_at": START + timedelta(days=29),
            }
            for k in range(40)
        ],
    }


def _build_old(url: str) -> None:
    """The database at ``OLD`` with the rows that version wrote (through the tables as they were then)."""
    database_at(url, OLD)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            for table, rows in _old_rows().items():  # parents before children (the dict's order)
                conn.execute(meta.tables[table].insert(), rows)
    finally:
        engine.dispose()


def _snapshot(url: str, names: set[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the given tables, the columns they had at ``OLD`` only, in primary-key order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            meta = sa.MetaData()
            meta.reflect(conn, only=sorted(names))
            out = {}
            for name in sorted(names):
                table = meta.tables[name]
                columns = [c for c in table.columns if c.name in _OLD_COLUMNS[name]]
                key = list(table.primary_key.columns) or columns
                out[name] = [tuple(r) for r in conn.execute(sa.select(*columns).order_by(*key))]
            return out
    finally:
        engine.dispose()


_OLD_COLUMNS = {table: set(rows[0]) | {"id"} for table, rows in _old_rows().items()}


def _version(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()


def test_a_populated_database_of_an_older_version_upgrades_on_a_copy(databases: Databases) -> None:
    _build_old(databases.source)
    old_tables = tables(databases.source)
    assert set(_old_rows()) <= old_tables and not NEW_TABLES & old_tables
    before = _snapshot(databases.source, set(_old_rows()))
    assert sum(map(len, before.values())) > 800  # populated: orders, their lines and events, checks, plans

    copy = databases.copy()
    store = StateStore(copy)  # migrates to head, as every deployment does on start
    try:
        assert _version(copy) != OLD and tables(copy) >= NEW_TABLES
        if store.dialect == "postgresql":  # (SQLite keeps older tables' column lengths: see schema_diff)
            assert schema_diff(store) == []
        # every old row, every old value
        assert _snapshot(copy, set(_old_rows())) == before

        # the stores read the old rows
        shipped = [o["order_number"] for o in _old_rows()["order_ledger"] if o["status"] == "shipped"]
        orders = store.orders(shipped)
        assert len(orders) == len(shipped) and {o.status for o in orders.values()} == {"shipped"}
        first = shipped[0]
        assert [e for e, _ in store.order_events(first)] == ["imported", "validated", "shipped"]
        assert store.order_events(first)[0][1] == {
            "step": 0,
            "warehouse": WAREHOUSES[0],
            "note": "Straße ß ä",
        }
        assert [(line.position, line.net_amount) for line in store.order_lines_of(first)] == [(1, None)]
        assert store.order_lines_cover_from() == START.date() + timedelta(days=1)
        demand = list(store.iter_order_lines(date(2026, 10, 1), date(2026, 12, 31)))
        cancelled = {o["order_number"] for o in _old_rows()["order_ledger"] if o["status"] == "cancelled"}
        old_lines = [line for line in _old_rows()["order_lines"] if line["order_number"] not in cancelled]
        assert len(demand) == len(old_lines)
        token = store.read_token("ffn")
        assert token is not None and token.version == 417 and token.refresh_token == "rt-" + "x" * 60
        assert store.get_watermark("order-import:wawi") == "2026-11-24T05:45:00+00:00"
        done = store.side_effect(f"ffn-outbound:{first}")
        assert done is not None and done.result == {
            "outboundId": "MERC00000000",
            "merchantOutboundNumber": first,
        }
        keys = [c["row_key"] for c in _old_rows()["inbound_checks"][:25]]
        history = store.inbound_history("1AbCinboundControlSheetId", keys)
        assert [s for _, s in history[keys[1]]] == ["MATCH", "MISMATCH"]
        lease = store.lease("order-processing")
        assert lease is not None and lease.owner == "worker-a:4711"
        plans = PlanStore(store)
        approved = plans.get(1)
        assert approved.status is PlanStatus.APPROVED and len(approved.lines) == 5
        assert approved.scope.supplier == "Lieferant 7" and approved.approved_by == "einkauf@example.com"
        assert [p.id for p in plans.list_plans(kind="markdown")] == [2]
        assert len(store.cached_items()) == 40 and store.cached_items(["KAF-00003"])[0].suppliers

        # the new tables work next to them
        store.record_price_change(
            PriceChange(item_id=9003, sku="KAF-00003", target="special", before=7.5, after=6.0, plan_id=2)
        )
        assert store.price_history(item_ids=[9003])[0].plan_id == 2  # a plan the old version made
        written = store.replace_kpis(
            "weekly", "2026-W47", date(2026, 11, 16), date(2026, 11, 22), [KpiValue("orders", 118.0)]
        )
        assert written == 1 and store.kpi_history("weekly", kpis=["orders"])[0].value == 118.0
        day = START.date()
        store.record_orders(
            [
                {
                    "order_number": first,
                    "lines": [OrderLine(1, "KAF-00008", WAREHOUSES[0], 2.0, day, 19.9, 23.68, 9.0)],
                }
            ],
            event="lines_recorded",
        )
        assert store.order_lines_of(first)[0].gross_amount == 23.68
        outbox = Outbox(store)
        appended = outbox.append("wawi", "evt-1", "order.created", {"orderNumber": "AU-2026-99999"})
        assert [e.id for e in outbox.pending()] == [appended.id]
        workflows = WorkflowStore(store)
        synced = workflows.sync_folder(Path(__file__).parents[2] / "config" / "workflows")
        assert synced.changes and all(c.change == "new" for c in synced.changes)
        run, created = workflows.create_run("saison-restock", "KAF-00003|" + WAREHOUSES[1])
        assert created and run.steps
    finally:
        store.dispose()

    # the original is untouched: its revision, its tables, its rows
    assert _version(databases.source) == OLD
    assert tables(databases.source) == old_tables
    assert _snapshot(databases.source, set(_old_rows())) == before
