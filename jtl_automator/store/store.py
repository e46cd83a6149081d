"""The StateStore: one object per process that owns the engine and the few operations flows need.

Both dialects behave the same: on PostgreSQL row locks (``SELECT ... FOR UPDATE``) and
``INSERT ... ON CONFLICT`` serialise concurrent writers; on SQLite every transaction starts with
``BEGIN IMMEDIATE`` (one writer at a time, others wait on the busy timeout) in WAL mode.
Migrations are applied on first use, under an advisory lock on PostgreSQL so that two processes
starting at once do not race.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Any, cast

import orjson
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util.exc import CommandError
from sqlalchemy import (
    Engine,
    String,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    null,
    select,
    text,
    type_coerce,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from jtl_automator.limits import FFN_TEXT_MAX, ORDER_NUMBER_MAX
from jtl_automator.store.models import (
    InboundCheck,
    KpiHistoryRow,
    Lease,
    OAuthToken,
    OrderEvent,
    OrderLedger,
    OrderLineRow,
    PriceHistoryRow,
    SideEffect,
    Watermark,
    WawiItemCacheRow,
    utcnow,
)

log = logging.getLogger(__name__)

_MIGRATION_LOCK_ID = 0x4A544C41  # "JTLA": advisory lock key for migrations on PostgreSQL
_SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Keys per ``IN (...)`` list of a bulk read or delete (SQLite's variable limit is far above).
_IN_LIST_MAX = 500
#: Rows per statement when the item cache is written or read by key (SQLite's bound-parameter limit).
_ITEM_CACHE_CHUNK = 500
#: The longest value a watermark holds (its column's length).
WATERMARK_VALUE_LENGTH: int = cast(String, Watermark.__table__.c.value.type).length or 0
#: Watermark: when order processing first recorded order lines (every order since has its lines).
ORDER_LINES_MARK = "order-lines:since"
#: Rows fetched per round trip when the order lines are read for the replenishment.
_ORDER_LINES_FETCH = 50_000


@dataclass
class TokenRecord:
    """Mutable view of one token row, handed out under the row lock and written back on exit."""

    refresh_token: str | None = None
    access_token: str | None = None
    access_expires_at: datetime | None = None
    version: int = 0

    def __repr__(self) -> str:
        # Tokens never print, even encrypted ones.
        return f"TokenRecord(version={self.version}, access_expires_at={self.access_expires_at!r})"


class ClaimState(StrEnum):
    """Outcome of claiming a side effect key."""

    NEW = "new"  # first claim: do the side effect, then complete()
    DONE = "done"  # already done: skip it, reuse the stored result
    PENDING = "pending"  # claimed before but never completed (crash?): reconcile with the target system
    FAILED = "failed"  # failed before: may be retried (attempts was incremented)


def iso(moment: datetime) -> str:
    """The one timestamp format of watermarks and reports (UTC, seconds), so marks compare as strings."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(value: str | None) -> datetime | None:
    """A stored watermark back as an aware datetime (naive values are UTC)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ensure_wal(cur: Any) -> None:
    """Switch a SQLite file to WAL (a property of the file, so only its first connection changes it).

    The switch needs a lock SQLite's busy handler does not wait for: a process connecting while another
    migrates the new file gets "database is locked" at once. It retries until the busy timeout.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass(frozen=True)
class Claim:
    """What ``claim()`` found for a key."""

    key: str
    state: ClaimState
    result: dict[str, Any] | None
    attempts: int


def _aware(value: datetime | None) -> datetime | None:
    """SQLite drops tzinfo; every datetime leaving the store is UTC-aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _alembic_config() -> Config:
    script_location = resources.files("jtl_automator.store") / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def _known_revision(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except (ResolutionError, CommandError):  # alembic wraps the lookup error in a command error
        return False


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer jtl-automator than this one; running on would corrupt it."""

    def __init__(self, database: str, revisions: Sequence[str]) -> None:
        self.database, self.revisions = database, tuple(revisions)
        super().__init__(
            f"the state database {database} is at schema revision {', '.join(revisions)}, which this version "
            "of jtl-automator does not know: a newer version migrated it. Upgrade jtl-automator on this "
            "machine to the version the other workers run, or set JTL_DATABASE_URL to another database"
        )


class StateStore:
    """Access to the state database. Thread-safe; create one per process and share it."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = self._create_engine(url)
        # Reads that write nothing: on a SQLite file their own engine, whose transactions start deferred
        # (in WAL mode they neither wait for the writer nor hold it up); else the one engine.
        self._read_engine = self._create_engine(url, immediate=False) if _sqlite_file(url) else self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and every transaction here takes the write lock (BEGIN
        # IMMEDIATE): threads of this process queue on a lock instead of in SQLite's busy handler, which
        # sleeps in growing steps (one claim per order took 170 ms with 8 threads instead of a few ms).
        self._sqlite_writer = threading.RLock() if self.dialect == "sqlite" else None
        if migrate:
            self.migrate()

    def __repr__(self) -> str:
        return f"StateStore({make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @staticmethod
    def _create_engine(url: str, *, immediate: bool = True) -> Engine:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return create_engine(url, pool_pre_ping=True, future=True, json_deserializer=json_loads)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, json_deserializer=json_loads
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" hook own transaction start (pysqlite's implicit BEGIN is deferred).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
            if parsed.database not in (None, "", ":memory:"):
                _ensure_wal(cur)
            cur.execute("PRAGMA foreign_keys = ON")
            if not immediate:  # a reading engine's connection: a write through it is an error
                cur.execute("PRAGMA query_only = ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: no lock upgrades, so no deadlock between writers.
            # A reading engine's transactions are deferred: a snapshot, no write lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN DEFERRED")

        return engine

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent, safe with concurrent processes)."""
        cfg = _alembic_config()
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_ID})
            cfg.attributes["connection"] = conn
            self._refuse_newer_schema(cfg, conn)
            command.upgrade(cfg, "head")

    def _refuse_newer_schema(self, cfg: Config, conn: Any) -> None:
        """Stop before alembic does when the database names a revision our migrations do not have."""
        current = MigrationContext.configure(conn).get_current_heads()
        scripts = ScriptDirectory.from_config(cfg)
        unknown = [rev for rev in current if not _known_revision(scripts, rev)]
        if unknown:
            raise SchemaTooNew(make_url(self.url).render_as_string(hide_password=True), unknown)

    def dispose(self) -> None:
        """Close pooled connections (tests, end of a CLI command)."""
        self.engine.dispose()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for queries that write nothing, its statements in one transaction (a snapshot).

        On a SQLite file the transaction is deferred: in WAL mode it neither waits for a writer (the FFN
        token's refresh holds one over an HTTP round trip) nor keeps one waiting; a write through it fails
        (``query_only``).
        """
        with self._read_engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        writer = self._sqlite_writer
        # past the busy timeout go on without the lock: SQLite then answers as it did before
        queued = writer is not None and writer.acquire(timeout=_SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            with self._sessions() as session, session.begin():
                yield session
        finally:
            if queued:
                assert writer is not None
                writer.release()

    def _insert(self, session: Session) -> Any:
        return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert

    # -- OAuth tokens ---------------------------------------------------------------------------

    def read_token(self, name: str) -> TokenRecord | None:
        """Current token row without locking (for a quick validity check)."""
        with self.session() as s:
            row = s.get(OAuthToken, name)
            if row is None:
                return None
            return TokenRecord(
                row.refresh_token, row.access_token, _aware(row.access_expires_at), row.version
            )

    @contextmanager
    def locked_token(self, name: str) -> Iterator[TokenRecord]:
        """Exclusive, cross-process lock on one token row; changes to the record are saved on exit.

        Refresh tokens are single-use: whoever holds this lock is the only one allowed to spend it,
        and the rotated token is committed before the lock is released.
        """
        with self.session() as s:
            ins = self._insert(s)
            s.execute(
                ins(OAuthToken).values(name=name, version=0, updated_at=utcnow()).on_conflict_do_nothing()
            )
            row = s.execute(select(OAuthToken).where(OAuthToken.name == name).with_for_update()).scalar_one()
            record = TokenRecord(
                row.refresh_token, row.access_token, _aware(row.access_expires_at), row.version
            )
            before = (record.refresh_token, record.access_token, record.access_expires_at)
            yield record
            if (record.refresh_token, record.access_token, record.access_expires_at) != before:
                row.refresh_token = record.refresh_token
                row.access_token = record.access_token
                row.access_expires_at = record.access_expires_at
                row.version = row.version + 1
                row.updated_at = utcnow()
                record.version = row.version

    # -- Watermarks -----------------------------------------------------------------------------

    def get_watermark(self, job: str) -> str | None:
        """Last recorded high-watermark of a job."""
        with self.session() as s:
            row = s.get(Watermark, job)
            return row.value if row else None

    def advance_watermark(self, job: str, value: str) -> str:
        """Move the watermark forward only (ISO timestamps compare as strings); returns the stored value.

        Two runs finishing out of order can never move it back.
        """
        with self.session() as s:
            ins = self._insert(s)
            s.execute(
                ins(Watermark).values(job=job, value=value, updated_at=utcnow()).on_conflict_do_nothing()
            )
            row = s.execute(select(Watermark).where(Watermark.job == job).with_for_update()).scalar_one()
            if value > row.value:
                row.value = value
                row.updated_at = utcnow()
            return row.value

    def reset_watermark(self, job: str, value: str | None) -> None:
        """Set (or with None delete) a watermark explicitly, e.g. for a backfill."""
        with self.session() as s:
            row = s.get(Watermark, job)
            if value is None:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(Watermark(job=job, value=value))
            else:
                row.value = value

    # -- Idempotency ledger ---------------------------------------------------------------------

    def claim(
        self, key: str, kind: str, run_id: str | None = None, *, intent: Mapping[str, Any] | None = None
    ) -> Claim:
        """Claim a side effect before doing it; the answer says whether to do it, skip it or reconcile.

        ``intent`` (what the call is about to do, e.g. a stock delta with the level before and after) is
        stored with a new claim, so a run after a crash can compare the target system with it. A repeated
        claim returns the intent stored before and then stores the new one.
        """
        stored = dict(intent) if intent is not None else None
        with self.session() as s:
            return self._claim_in(s, key, kind, run_id, stored)

    def claim_many(self, keys: Sequence[str], kind: str, run_id: str | None = None) -> dict[str, Claim]:
        """:meth:`claim` for many keys in one transaction: each key gets the answer its own claim would.

        For a batch of side effects done one after the other (a chunk of orders): one write instead of one
        per key. Settle them together with :meth:`settle_claims`.
        """
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        with self.session() as s:
            inserted = s.scalars(
                self._insert(s)(SideEffect)
                .values(
                    [
                        {
                            "key": key,
                            "kind": kind,
                            "status": "claimed",
                            "attempts": 1,
                            "run_id": run_id,
                            "claimed_at": utcnow(),
                            "result": None,
                        }
                        for key in wanted
                    ]
                )
                .on_conflict_do_nothing()
                .returning(SideEffect.key)
            ).all()
            claims = {key: Claim(key, ClaimState.NEW, None, 1) for key in inserted}
            older = [key for key in wanted if key not in claims]
            for part in chunked(older, _IN_LIST_MAX):
                for row in s.scalars(select(SideEffect).where(SideEffect.key.in_(part)).with_for_update()):
                    claims[row.key] = _reclaim(row, run_id, None)
            return {key: claims[key] for key in wanted}

    def settle_claims(
        self,
        done: Mapping[str, Mapping[str, Any] | None],
        failed: Mapping[str, str],
        released: Sequence[str] = (),
    ) -> None:
        """:meth:`complete` and :meth:`fail` for many claims in one transaction.

        ``released`` claims were taken by :meth:`claim_many` as new and never acted on (the run's time
        ran out first): their rows go away again, as if never claimed.
        """
        if not done and not failed and not released:
            return
        with self.session() as s:
            rows: dict[str, SideEffect] = {}
            for part in chunked([*done, *failed], _IN_LIST_MAX):
                found = s.scalars(select(SideEffect).where(SideEffect.key.in_(part)).with_for_update())
                rows.update((row.key, row) for row in found)
            for key, result in done.items():
                _mark_done(rows.get(key), key, result)
            for key, error in failed.items():
                _mark_failed(rows.get(key), key, error)
            if released:
                s.execute(
                    delete(SideEffect).where(
                        SideEffect.key.in_(list(released)),
                        SideEffect.status == "claimed",
                        SideEffect.attempts == 1,
                    )
                )

    def _claim_in(
        self, s: Session, key: str, kind: str, run_id: str | None, stored: dict[str, Any] | None
    ) -> Claim:
        """One claim inside the caller's transaction (see :meth:`claim`)."""
        ins = self._insert(s)
        inserted = s.execute(
            ins(SideEffect)
            .values(
                key=key,
                kind=kind,
                status="claimed",
                attempts=1,
                run_id=run_id,
                claimed_at=utcnow(),
                result=stored,
            )
            .on_conflict_do_nothing()
            .returning(SideEffect.key)
        ).first()
        if inserted is not None:
            return Claim(key, ClaimState.NEW, None, 1)
        row = s.execute(select(SideEffect).where(SideEffect.key == key).with_for_update()).scalar_one()
        return _reclaim(row, run_id, stored)

    def complete(self, key: str, result: Mapping[str, Any] | None = None) -> None:
        """Record that the side effect happened (and what it produced)."""
        with self.session() as s:
            self._complete_in(s, key, result)

    @staticmethod
    def _complete_in(s: Session, key: str, result: Mapping[str, Any] | None) -> None:
        _mark_done(s.get(SideEffect, key, with_for_update=True), key, result)

    def fail(self, key: str, error: str) -> None:
        """Record a failed attempt so a later run may retry it."""
        with self.session() as s:
            self._fail_in(s, key, error)

    @staticmethod
    def _fail_in(s: Session, key: str, error: str) -> None:
        _mark_failed(s.get(SideEffect, key, with_for_update=True), key, error)

    def run_once(
        self,
        key: str,
        kind: str,
        action: Callable[[], Mapping[str, Any] | None],
        run_id: str | None = None,
    ) -> bool:
        """Do a side effect at most once per key: claim it, do it, record it; False if already done.

        A failing action is recorded as failed (a later claim may retry it) and re-raised. A claim left
        pending by a crash is done again: use this where the receiver can spot a repeat by the key
        (e-mail Message-ID, webhook Idempotency-Key); outbounds reconcile with FFN instead.
        """
        if self.claim(key, kind, run_id=run_id).state is ClaimState.DONE:
            return False
        try:
            result = action()
        except Exception as exc:
            self.fail(key, f"{type(exc).__name__}: {exc}")
            raise
        self.complete(key, result)
        return True

    def pending_side_effects(self, kind: str) -> list[Claim]:
        """Claims of one kind never completed nor failed (a crash between the call and its record)."""
        with self.session() as s:
            stmt = (
                select(SideEffect)
                .where(SideEffect.kind == kind, SideEffect.status == "claimed")
                .order_by(SideEffect.claimed_at, SideEffect.key)
            )
            return [Claim(r.key, ClaimState.PENDING, r.result, r.attempts) for r in s.execute(stmt).scalars()]

    def unfinished_side_effects(self, kind: str) -> list[Claim]:
        """Claims of one kind not done: pending (a crash) or failed (a refusal), oldest claim first.

        For side effects a later run tries again by itself (a product's authorisation), not only after a
        crash: the state says which (``PENDING`` or ``FAILED``).
        """
        with self.session() as s:
            stmt = (
                select(SideEffect)
                .where(SideEffect.kind == kind, SideEffect.status != "done")
                .order_by(SideEffect.claimed_at, SideEffect.key)
            )
            return [
                Claim(
                    r.key,
                    ClaimState.FAILED if r.status == "failed" else ClaimState.PENDING,
                    r.result,
                    r.attempts,
                )
                for r in s.execute(stmt).scalars()
            ]

    def side_effect(self, key: str) -> Claim | None:
        """Look a key up without claiming it."""
        with self.session() as s:
            row = s.get(SideEffect, key)
            if row is None:
                return None
            state = {"done": ClaimState.DONE, "failed": ClaimState.FAILED}.get(row.status, ClaimState.PENDING)
            return Claim(key, state, row.result, row.attempts)

    # -- Inbound verification results -----------------------------------------------------------

    def record_inbound_checks(self, run_id: str, sheet: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append one result per row (bulk insert); returns the number of rows written."""
        now = utcnow()
        payload = [
            {
                "run_id": run_id,
                "sheet": sheet,
                "row_key": r["row_key"],
                "sku": r.get("sku"),
                "inbound_ref": r.get("inbound_ref"),
                "units_expected": r.get("units_expected"),
                "units_received": r.get("units_received"),
                "status": r["status"],
                "note": r.get("note"),
                "checked_at": r.get("checked_at", now),
            }
            for r in rows
        ]
        if not payload:
            return 0
        with self.session() as s:
            s.execute(insert(InboundCheck), payload)
        return len(payload)

    def inbound_history(self, sheet: str, row_keys: Iterable[str]) -> dict[str, list[tuple[datetime, str]]]:
        """Per row key, its (checked_at, status) history, oldest first."""
        keys = list(dict.fromkeys(row_keys))
        history: dict[str, list[tuple[datetime, str]]] = {k: [] for k in keys}
        with self.session() as s:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                stmt = (
                    select(InboundCheck.row_key, InboundCheck.checked_at, InboundCheck.status)
                    .where(InboundCheck.sheet == sheet, InboundCheck.row_key.in_(chunk))
                    .order_by(InboundCheck.row_key, InboundCheck.checked_at, InboundCheck.id)
                )
                for key, at, status in s.execute(stmt):
                    history[key].append((_aware(at) or at, status))
        return history

    # -- Leases (one run at a time) ---------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Take the lease if it is free or expired (or already ours); False while another owner holds it."""
        now = utcnow()
        with self.session() as s:
            ins = self._insert(s)
            s.execute(
                ins(Lease)
                .values(name=name, owner=owner, expires_at=now + ttl, acquired_at=now)
                .on_conflict_do_nothing()
            )
            row = s.execute(select(Lease).where(Lease.name == name).with_for_update()).scalar_one()
            expires = _aware(row.expires_at)
            if row.owner != owner and expires is not None and expires > now:
                return False
            row.owner, row.expires_at, row.acquired_at = owner, now + ttl, now
            return True

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease back (only its owner can)."""
        with self.session() as s:
            row = s.get(Lease, name, with_for_update=True)
            if row is not None and row.owner == owner:
                s.delete(row)

    def renew_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Extend our lease by ``ttl`` from now; False when it is not ours any more (expired and taken)."""
        with self.session() as s:
            row = s.get(Lease, name, with_for_update=True)
            if row is None or row.owner != owner:
                return False
            row.expires_at = utcnow() + ttl
            return True

    def lease(self, name: str) -> LeaseInfo | None:
        """Who holds the lease, since when and until when (None when nobody does)."""
        with self.session() as s:
            row = s.get(Lease, name)
            return None if row is None else _lease_info(row)

    def break_lease(self, name: str) -> LeaseInfo | None:
        """Remove the lease whoever holds it (a person's decision, from the command line); what it was."""
        with self.session() as s:
            row = s.get(Lease, name, with_for_update=True)
            if row is None:
                return None
            info = _lease_info(row)
            s.delete(row)
            return info

    # -- Order ledger -------------------------------------------------------------------------------

    def orders(self, numbers: Iterable[str]) -> dict[str, OrderRecord]:
        """Ledger rows of the given order numbers (absent numbers are simply missing)."""
        keys = list(dict.fromkeys(numbers))
        found: dict[str, OrderRecord] = {}
        with self.session() as s:
            for start in range(0, len(keys), 500):
                stmt = select(OrderLedger).where(OrderLedger.order_number.in_(keys[start : start + 500]))
                for row in s.execute(stmt).scalars():
                    found[row.order_number] = _order_record(row)
        return found

    def orders_in_status(self, statuses: Iterable[str]) -> list[OrderRecord]:
        """Every ledger row in one of ``statuses`` (e.g. held orders to look at again)."""
        with self.session() as s:
            stmt = (
                select(OrderLedger)
                .where(OrderLedger.status.in_(list(statuses)))
                .order_by(OrderLedger.order_number)
            )
            return [_order_record(r) for r in s.execute(stmt).scalars()]

    def record_orders(
        self, updates: Iterable[Mapping[str, Any]], *, event: str, run_id: str | None = None
    ) -> int:
        """Create or update ledger rows and journal one ``event`` per order, in one transaction.

        Each update needs ``order_number`` and may set any of the ledger's fields; ``detail`` goes to
        the journal only. ``lines`` (``OrderLine`` s) replace the order's recorded item lines, so a rerun
        or a second record never doubles them; the first lines ever recorded also set the watermark
        ``order-lines:since`` (see :meth:`order_lines_cover_from`).
        """
        kept: list[tuple[str, Mapping[str, Any]]] = []
        for update in updates:
            number = str(update["order_number"])
            if len(number) > ORDER_NUMBER_MAX:
                # The rules report it (ORDER_NUMBER_TOO_LONG); a key the column cannot hold must not
                # take the other orders' updates down with it on PostgreSQL.
                log.warning(
                    "order number of %d characters not recorded (max %d)", len(number), ORDER_NUMBER_MAX
                )
                continue
            kept.append((number, update))
        if not kept:
            return 0
        # In bulk (one read of the rows, one flush, one statement per kind of write): a chunk's 25 orders
        # cost a few statements instead of five each, and the transaction holds SQLite's one write lock
        # that much shorter while the other workers wait for it.
        with self.session() as s:
            numbers = list(dict.fromkeys(number for number, _ in kept))
            rows: dict[str, OrderLedger] = {}
            for part in chunked(numbers, _IN_LIST_MAX):
                found = s.scalars(
                    select(OrderLedger).where(OrderLedger.order_number.in_(part)).with_for_update()
                )
                rows.update((row.order_number, row) for row in found)
            lines: dict[str, Iterable[OrderLine]] = {}
            now = utcnow()
            for number, update in kept:
                row = rows.get(number)
                if row is None:
                    row = OrderLedger(order_number=number, status=str(update.get("status") or "imported"))
                    s.add(row)
                    rows[number] = row
                for name in _ORDER_FIELDS:
                    if name in update:
                        setattr(row, name, update[name])
                row.updated_at = now
                if update.get("lines") is not None:
                    lines[number] = update["lines"]
            s.flush()  # the ledger rows exist before lines and events refer to them
            if lines:
                _replace_order_lines(s, lines)
            s.execute(
                insert(OrderEvent),
                [
                    {"order_number": number, "event": event, "detail": update.get("detail"), "run_id": run_id}
                    for number, update in kept
                ],
            )
            if lines:
                s.execute(
                    self._insert(s)(Watermark)
                    .values(job=ORDER_LINES_MARK, value=iso(utcnow()), updated_at=utcnow())
                    .on_conflict_do_nothing()
                )
        return len(kept)

    def order_lines_cover_from(self) -> date | None:
        """The first whole day (UTC) whose orders all have their lines in the ledger; None: none recorded yet.

        That is the day after order processing first recorded lines: orders of earlier days may have
        become outbounds before (without lines), and the day it started may hold some of them too.
        """
        since = parse_iso(self.get_watermark(ORDER_LINES_MARK))
        return None if since is None else since.astimezone(UTC).date() + timedelta(days=1)

    def iter_order_lines(self, start: date, end: date) -> Iterator[Sequence[Any]]:
        """``(sku, warehouse_id, order_day, quantity)`` rows of the lines with ``order_day`` in [start, end].

        ``order_day`` comes as the driver reads it: a ``date`` (PostgreSQL) or ISO text (SQLite).

        Lines of cancelled orders are left out. Streamed in batches of rows (a server-side cursor on
        PostgreSQL), so millions of lines are never one list. The read is one transaction (on SQLite one
        that holds the write lock, like every transaction here): consume it before using the store again.
        """
        cancelled = select(OrderLedger.order_number).where(OrderLedger.status == "cancelled")
        stmt = select(
            OrderLineRow.sku,
            OrderLineRow.warehouse_id,
            # as the driver gives it (SQLite: ISO text): no per-row conversion, the frame parses it at once
            type_coerce(OrderLineRow.order_day, String),
            OrderLineRow.quantity,
        ).where(
            OrderLineRow.order_day >= start,
            OrderLineRow.order_day <= end,
            OrderLineRow.order_number.not_in(cancelled),  # few orders: no join per line
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=_ORDER_LINES_FETCH).execute(stmt)
            for part in result.partitions():
                yield from part

    def order_lines_of(self, order_number: str) -> list[OrderLine]:
        """The recorded item lines of one order, by position."""
        with self.session() as s:
            stmt = (
                select(OrderLineRow)
                .where(OrderLineRow.order_number == order_number)
                .order_by(OrderLineRow.position)
            )
            return [
                OrderLine(
                    r.position,
                    r.sku,
                    r.warehouse_id,
                    r.quantity,
                    r.order_day,
                    r.net_amount,
                    r.gross_amount,
                    r.cost_amount,
                )
                for r in s.execute(stmt).scalars()
            ]

    def order_events(self, order_number: str) -> list[tuple[str, dict[str, Any] | None]]:
        """The journey of one order, oldest first."""
        with self.session() as s:
            stmt = (
                select(OrderEvent.event, OrderEvent.detail)
                .where(OrderEvent.order_number == order_number)
                .order_by(OrderEvent.id)
            )
            return [(e, d) for e, d in s.execute(stmt)]

    # -- KPI history (reports) --------------------------------------------------------------------

    def replace_kpis(
        self,
        report: str,
        period: str,
        start: date,
        end: date,
        values: Iterable[KpiValue],
        *,
        run_id: str | None = None,
    ) -> int:
        """The figures of ``report`` for ``period`` become ``values`` (other periods are left alone).

        One transaction: a rerun of a period replaces exactly that period's rows, and a failed write
        leaves the previous ones. Returns the rows written.
        """
        now = utcnow()
        rows = [
            {
                "report": report,
                "period": period,
                "period_start": start,
                "period_end": end,
                "kpi": v.kpi,
                "dimension": v.dimension[:FFN_TEXT_MAX],
                "value": _finite_or_none(v.value),
                "missing": v.missing if v.value is None or not math.isfinite(v.value) else None,
                "run_id": run_id,
                "computed_at": now,
            }
            for v in values
        ]
        with self.session() as s:
            s.execute(
                delete(KpiHistoryRow).where(KpiHistoryRow.report == report, KpiHistoryRow.period == period)
            )
            if rows:
                s.execute(insert(KpiHistoryRow), rows)
        return len(rows)

    def kpi_history(
        self,
        report: str,
        *,
        kpis: Iterable[str] | None = None,
        periods: Iterable[str] | None = None,
        start_from: date | None = None,
        start_until: date | None = None,
    ) -> list[KpiRecord]:
        """Stored figures of ``report`` (optionally only these KPIs, periods, period starts), oldest first."""
        stmt = select(KpiHistoryRow).where(KpiHistoryRow.report == report)
        if kpis is not None:
            stmt = stmt.where(KpiHistoryRow.kpi.in_(list(kpis)))
        if periods is not None:
            stmt = stmt.where(KpiHistoryRow.period.in_(list(periods)))
        if start_from is not None:
            stmt = stmt.where(KpiHistoryRow.period_start >= start_from)
        if start_until is not None:
            stmt = stmt.where(KpiHistoryRow.period_start <= start_until)
        stmt = stmt.order_by(KpiHistoryRow.period_start, KpiHistoryRow.kpi, KpiHistoryRow.dimension)
        with self.session() as s:
            return [
                KpiRecord(
                    r.report,
                    r.period,
                    r.period_start,
                    r.period_end,
                    r.kpi,
                    r.dimension,
                    r.value,
                    r.missing,
                    _aware(r.computed_at) or r.computed_at,
                    r.run_id,
                )
                for r in s.scalars(stmt)
            ]

    # -- Wawi item cache ------------------------------------------------------------------------

    def write_item_cache(self, items: Sequence[CachedItem], at: datetime, *, complete: bool) -> int:
        """Insert or update these items, seen at ``at``; returns how many rows were written.

        An item whose ``changed`` differs from the cached one loses its supplier rows' timestamp (they are
        read again); two empty ``changed`` values are the same (an item Wawi never changed keeps its rows).
        ``complete``: the items are every Wawi item, so cached rows not written at ``at`` (items deleted
        in Wawi) are deleted. Rows written at the same ``at`` by earlier calls count as written: a listing
        stored page by page ends with ``write_item_cache([], at, complete=True)``.
        """
        at = at.astimezone(UTC)
        table = WawiItemCacheRow.__table__
        with self.session() as s:
            ins = self._insert(s)(WawiItemCacheRow)
            stmt = ins.on_conflict_do_update(
                index_elements=[table.c.item_id],
                set_={
                    "sku": ins.excluded.sku,
                    "inventory_managed": ins.excluded.inventory_managed,
                    "procurement_time": ins.excluded.procurement_time,
                    "changed": ins.excluded.changed,
                    "seen_at": ins.excluded.seen_at,
                    "suppliers_at": case(
                        (table.c.changed.is_not_distinct_from(ins.excluded.changed), table.c.suppliers_at),
                        else_=None,
                    ),
                },
            )
            for start in range(0, len(items), _ITEM_CACHE_CHUNK):
                rows = [
                    {
                        "item_id": i.item_id,
                        "sku": i.sku,
                        "inventory_managed": i.inventory_managed,
                        "procurement_time": i.procurement_time,
                        "changed": i.changed,
                        "seen_at": at,
                    }
                    for i in items[start : start + _ITEM_CACHE_CHUNK]
                ]
                s.execute(stmt, rows)
            if complete:
                s.execute(delete(WawiItemCacheRow).where(WawiItemCacheRow.seen_at < at))
        return len(items)

    def touch_item_cache(self, item_ids: Sequence[int], at: datetime) -> None:
        """Mark these cached items seen at ``at`` without writing their rows again.

        For a listing that returned them unchanged: only ``seen_at`` moves (what a ``complete`` write keeps),
        at about a fifth of an upsert's cost per row.
        """
        at = at.astimezone(UTC)
        table = WawiItemCacheRow.__table__
        with self.session() as s:
            for start in range(0, len(item_ids), _ITEM_CACHE_CHUNK):
                chunk = item_ids[start : start + _ITEM_CACHE_CHUNK]
                s.execute(
                    sql_update(WawiItemCacheRow)
                    .where(table.c.item_id.in_(chunk))
                    .values(seen_at=at)
                    .execution_options(synchronize_session=False)
                )

    def cached_items(
        self,
        skus: Iterable[str] | None = None,
        *,
        ids: Iterable[int] | None = None,
        suppliers: bool = True,
    ) -> list[CachedItem]:
        """Cached items with one of these SKUs, or of these item ids (neither: all), ordered by item id.

        ``suppliers=False`` leaves the supplier rows out (``None``): a caller that compares listings only
        skips decoding them.
        """
        # Plain rows, not ORM objects: a full run reads the whole catalogue's rows, and the identity map
        # costs more than the query (5,000 rows: about 100 ms against 70 ms).
        table = WawiItemCacheRow.__table__
        columns = [
            table.c[f.name] if suppliers or f.name not in ("suppliers", "suppliers_at") else null()
            for f in fields(CachedItem)
        ]
        query = select(*columns)
        with self.reading() as s:
            if skus is None and ids is None:
                rows = list(s.execute(query.order_by(table.c.item_id)))
            else:
                column, wanted = (
                    (table.c.item_id, sorted(set(ids)))
                    if ids is not None
                    else (table.c.sku, sorted(set(skus or ())))
                )
                rows = []
                for start in range(0, len(wanted), _ITEM_CACHE_CHUNK):
                    chunk = wanted[start : start + _ITEM_CACHE_CHUNK]
                    rows.extend(s.execute(query.where(column.in_(chunk))))
                rows.sort(key=lambda r: r[0])
            return [_cached_item(r) for r in rows]

    def cached_item_count(self) -> int:
        """How many Wawi items the cache holds (the catalogue's size as of the last listing)."""
        with self.reading() as s:
            return int(s.scalar(select(func.count()).select_from(WawiItemCacheRow)) or 0)

    def write_item_suppliers(
        self, suppliers: Mapping[int, Sequence[Mapping[str, Any]]], at: datetime
    ) -> None:
        """Store each item's supplier rows, read at ``at`` (items not cached are skipped)."""
        at = at.astimezone(UTC)
        with self.session() as s:
            for item_id, rows in suppliers.items():
                row = s.get(WawiItemCacheRow, item_id)
                if row is not None:
                    row.suppliers = [dict(r) for r in rows]
                    row.suppliers_at = at

    # -- Price history --------------------------------------------------------------------------

    def record_price_change(
        self, change: PriceChange, *, ledger_key: str | None = None, result: Mapping[str, Any] | None = None
    ) -> None:
        """Keep one written price; with ``ledger_key`` its claim is completed in the same transaction.

        So a price is in the history exactly when its side effect is recorded as done: a crash between
        the write and this call leaves the claim pending and no row, and settling it adds both.
        """
        with self.session() as s:
            if ledger_key is not None:
                row = s.get(SideEffect, ledger_key, with_for_update=True)
                if row is None:
                    raise KeyError(f"side effect {ledger_key!r} was never claimed")
                row.status = "done"
                row.result = dict(result) if result is not None else row.result
                row.error = None
                row.completed_at = utcnow()
            s.add(_price_row(change))

    def price_history(
        self,
        *,
        item_ids: Iterable[int] | None = None,
        source: str | None = None,
        since: datetime | None = None,
        run_id: str | None = None,
        limit: int | None = None,
    ) -> list[PriceChange]:
        """Written prices, newest first; filtered by items, source, time and run."""
        with self.session() as s:
            stmt = select(PriceHistoryRow).order_by(PriceHistoryRow.at.desc(), PriceHistoryRow.id.desc())
            if source is not None:
                stmt = stmt.where(PriceHistoryRow.source == source)
            if since is not None:
                stmt = stmt.where(PriceHistoryRow.at >= since.astimezone(UTC))
            if run_id is not None:
                stmt = stmt.where(PriceHistoryRow.run_id == run_id)
            if limit is not None:
                stmt = stmt.limit(limit)
            if item_ids is None:
                return [_price_change(r) for r in s.scalars(stmt)]
            wanted = sorted(set(item_ids))
            found: list[PriceChange] = []
            for start in range(0, len(wanted), _ITEM_CACHE_CHUNK):
                chunk = wanted[start : start + _ITEM_CACHE_CHUNK]
                found.extend(
                    _price_change(r) for r in s.scalars(stmt.where(PriceHistoryRow.item_id.in_(chunk)))
                )
            found.sort(key=lambda c: c.at or datetime.min.replace(tzinfo=UTC), reverse=True)
            return found


@dataclass(frozen=True)
class PriceChange:
    """One price written to Wawi (a row of ``price_history``); prices are net, rounded to 4 decimals."""

    item_id: int
    target: str
    after: float
    before: float | None = None
    sku: str | None = None
    reason: str | None = None
    rule: str | None = None
    source: str = "rule"
    run_id: str | None = None
    plan_id: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    at: datetime | None = None


def _price(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(float(value), 4)))


def _price_row(change: PriceChange) -> PriceHistoryRow:
    after = _price(change.after)
    assert after is not None
    return PriceHistoryRow(
        item_id=change.item_id,
        sku=change.sku,
        target=change.target,
        before=_price(change.before),
        after=after,
        reason=change.reason,
        rule=(change.rule or None) and str(change.rule)[:100],
        source=change.source,
        run_id=change.run_id,
        plan_id=change.plan_id,
        starts_at=change.starts_at,
        ends_at=change.ends_at,
        at=change.at or utcnow(),
    )


def _price_change(row: PriceHistoryRow) -> PriceChange:
    return PriceChange(
        item_id=row.item_id,
        target=row.target,
        after=float(row.after),
        before=None if row.before is None else float(row.before),
        sku=row.sku,
        reason=row.reason,
        rule=row.rule,
        source=row.source,
        run_id=row.run_id,
        plan_id=row.plan_id,
        starts_at=_aware(row.starts_at),
        ends_at=_aware(row.ends_at),
        at=_aware(row.at),
    )


@dataclass(frozen=True)
class OrderLine:
    """One item line of an order in the ledger (see ``OrderLineRow``): the demand and sales it stands for."""

    position: int
    sku: str
    warehouse_id: str
    quantity: float
    order_day: date
    net_amount: float | None = None
    gross_amount: float | None = None
    cost_amount: float | None = None


def _reclaim(row: SideEffect, run_id: str | None, stored: dict[str, Any] | None) -> Claim:
    """A claim of a key claimed before: DONE as it is, else one more attempt (PENDING or FAILED)."""
    if row.status == "done":
        return Claim(row.key, ClaimState.DONE, row.result, row.attempts)
    previous = row.result
    row.attempts += 1
    row.run_id = run_id
    row.claimed_at = utcnow()
    state = ClaimState.FAILED if row.status == "failed" else ClaimState.PENDING
    row.status = "claimed"
    if stored is not None:
        row.result = stored
    return Claim(row.key, state, previous, row.attempts)


def _mark_done(row: SideEffect | None, key: str, result: Mapping[str, Any] | None) -> None:
    if row is None:
        raise KeyError(f"side effect {key!r} was never claimed")
    row.status = "done"
    row.result = dict(result) if result is not None else None
    row.error = None
    row.completed_at = utcnow()


def _mark_failed(row: SideEffect | None, key: str, error: str) -> None:
    if row is None:
        raise KeyError(f"side effect {key!r} was never claimed")
    row.status = "failed"
    row.error = error[:2000]


def chunked(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most ``size`` values (the keys of one ``IN`` list)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _replace_order_lines(session: Session, orders: Mapping[str, Iterable[OrderLine]]) -> None:
    """Each order's lines become the given ones; a line the columns cannot hold is left out with a warning."""
    numbers = list(orders)
    for part in chunked(numbers, _IN_LIST_MAX):
        session.execute(delete(OrderLineRow).where(OrderLineRow.order_number.in_(part)))
    rows = []
    for number, lines in orders.items():
        positions: set[int] = set()
        for line in lines:
            fits = len(line.sku) <= FFN_TEXT_MAX and len(line.warehouse_id) <= FFN_TEXT_MAX
            if not fits or not math.isfinite(line.quantity) or line.position in positions:
                log.warning(
                    "order %s: line %d not recorded (SKU, warehouse, quantity or position)",
                    number,
                    line.position,
                )
                continue
            positions.add(line.position)
            rows.append(
                {
                    "order_number": number,
                    "position": line.position,
                    "sku": line.sku,
                    "warehouse_id": line.warehouse_id,
                    "quantity": float(line.quantity),
                    "order_day": line.order_day,
                    "net_amount": _finite_or_none(line.net_amount),
                    "gross_amount": _finite_or_none(line.gross_amount),
                    "cost_amount": _finite_or_none(line.cost_amount),
                }
            )
    if rows:
        session.execute(insert(OrderLineRow), rows)


@dataclass(frozen=True)
class KpiValue:
    """One figure a report computed: ``value`` None when it could not be, ``missing`` saying why."""

    kpi: str
    value: float | None
    dimension: str = ""
    missing: str | None = None


@dataclass(frozen=True)
class KpiRecord:
    """One stored figure of the KPI history (see ``KpiHistoryRow``)."""

    report: str
    period: str
    period_start: date
    period_end: date
    kpi: str
    dimension: str
    value: float | None
    missing: str | None
    computed_at: datetime
    run_id: str | None = None


def _finite_or_none(value: float | None) -> float | None:
    """An amount the column can hold: finite, else unknown (None)."""
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class LeaseInfo:
    """A lease as stored: its holder, when it took the lease and when the lease runs out."""

    name: str
    owner: str
    acquired_at: datetime
    expires_at: datetime

    def held_for(self, now: datetime | None = None) -> timedelta:
        """How long the holder has had it."""
        return (now or utcnow()) - self.acquired_at


@dataclass(frozen=True)
class OrderRecord:
    """One order's row of the ledger, as flows read it."""

    order_number: str
    wawi_order_id: int | None
    status: str
    hold_reason: str | None
    outbound_id: str | None
    warehouse_id: str | None
    tracking: str | None
    order_date: datetime | None
    sent_fingerprint: str | None = None
    change_seen: str | None = None


def _order_record(row: OrderLedger) -> OrderRecord:
    return OrderRecord(
        row.order_number,
        row.wawi_order_id,
        row.status,
        row.hold_reason,
        row.outbound_id,
        row.warehouse_id,
        row.tracking,
        _aware(row.order_date),
        row.sent_fingerprint,
        row.change_seen,
    )


_ORDER_FIELDS = (
    "wawi_order_id",
    "status",
    "hold_reason",
    "outbound_id",
    "warehouse_id",
    "tracking",
    "order_date",
    "sent_fingerprint",
    "change_seen",
)


@dataclass(frozen=True)
class CachedItem:
    """One cached Wawi item (see ``WawiItemCacheRow``)."""

    item_id: int
    sku: str | None
    inventory_managed: bool
    procurement_time: float | None = None
    changed: str | None = None
    seen_at: datetime | None = None
    suppliers: list[dict[str, Any]] | None = None
    suppliers_at: datetime | None = None


def _sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")


def json_loads(text: str | bytes) -> Any:
    """The JSON columns decoded with orjson, the standard library where orjson refuses.

    A full product sync reads the item cache's supplier rows back for every item: 50,000 rows took 0.8 s,
    half of it in ``json.loads``. The standard library stays for what it writes and orjson does not read
    (``NaN``, integers past 64 bits), so every stored value reads back as before.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _cached_item(row: Sequence[Any]) -> CachedItem:
    """A cache row (its columns are ``CachedItem``'s fields, in their order) as the services see it.

    Unpacked by position: a full run reads every item's row, and looking each column up by name cost a
    third of the read.
    """
    item_id, sku, managed, procurement, changed, seen_at, suppliers, suppliers_at = row
    return CachedItem(
        item_id,
        sku,
        managed,
        procurement,
        changed,
        _aware(seen_at),
        [dict(r) for r in suppliers] if suppliers is not None else None,
        _aware(suppliers_at),
    )


def open_store(url: str | None = None) -> StateStore:
    """Open the store at ``url`` or ``JTL_DATABASE_URL`` (default: a SQLite file in the working directory)."""
    if url is None:
        from jtl_automator.settings import get_settings

        url = get_settings().database_url
    return StateStore(url)


def _lease_info(row: Lease) -> LeaseInfo:
    acquired, expires = _aware(row.acquired_at), _aware(row.expires_at)
    assert acquired is not None and expires is not None
    return LeaseInfo(row.name, row.owner, acquired, expires)
