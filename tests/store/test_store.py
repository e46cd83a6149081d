"""The same store behaviour on SQLite and PostgreSQL (the postgres variants carry the marker)."""

from __future__ import annotations

import math
import multiprocessing as mp
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from jtl_automator import cli
from jtl_automator.store import CachedItem, ClaimState, SchemaTooNew, StateStore
from jtl_automator.store.models import Base
from tests.support.migrations import database_at


@pytest.mark.slow
def test_migrations_create_every_model_table_and_are_idempotent(store_url: str) -> None:
    store = StateStore(store_url)
    StateStore(store_url).dispose()  # a second open re-runs upgrade: no error, no change
    tables = set(sa.inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    with store.engine.connect() as conn:
        versions = conn.execute(sa.text("select version_num from alembic_version")).scalars().all()
    assert len(versions) == 1
    store.dispose()


@pytest.mark.slow
def test_constraint_names_follow_the_convention(store_url: str) -> None:
    store = StateStore(store_url)
    pk = sa.inspect(store.engine).get_pk_constraint("side_effects")
    if store.dialect == "postgresql":  # SQLite does not keep primary key names
        assert pk["name"] == "pk_side_effects"
    assert pk["constrained_columns"] == ["key"]
    store.dispose()


@pytest.mark.slow
def test_token_round_trip_keeps_utc_and_bumps_version(store_url: str) -> None:
    store = StateStore(store_url)
    assert store.read_token("ffn") is None
    expires = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with store.locked_token("ffn") as rec:
        assert rec.refresh_token is None and rec.version == 0
        rec.refresh_token, rec.access_token, rec.access_expires_at = "r1", "a1", expires
    got = store.read_token("ffn")
    assert got is not None
    assert (got.refresh_token, got.access_token, got.access_expires_at, got.version) == (
        "r1",
        "a1",
        expires,
        1,
    )
    with store.locked_token("ffn") as rec:  # unchanged record: no write, no version bump
        pass
    assert store.read_token("ffn").version == 1  # type: ignore[union-attr]
    store.dispose()


@pytest.mark.slow
def test_token_change_is_rolled_back_when_the_block_fails(store_url: str) -> None:
    store = StateStore(store_url)
    with store.locked_token("ffn") as rec:
        rec.refresh_token = "r1"
    with pytest.raises(RuntimeError), store.locked_token("ffn") as rec:
        rec.refresh_token = "r2"
        raise RuntimeError("refresh call failed")
    assert store.read_token("ffn").refresh_token == "r1"  # type: ignore[union-attr]
    store.dispose()


@pytest.mark.slow
def test_token_record_repr_hides_tokens(store_url: str) -> None:
    store = StateStore(store_url)
    with store.locked_token("ffn") as rec:
        rec.refresh_token, rec.access_token = "secret-refresh", "secret-access"
        assert "secret" not in repr(rec)
    store.dispose()


@pytest.mark.slow
def test_watermark_only_moves_forward(store_url: str) -> None:
    store = StateStore(store_url)
    assert store.get_watermark("orders") is None
    assert store.advance_watermark("orders", "2026-11-20T10:00:00+00:00") == "2026-11-20T10:00:00+00:00"
    assert store.advance_watermark("orders", "2026-11-19T10:00:00+00:00") == "2026-11-20T10:00:00+00:00"
    assert store.advance_watermark("orders", "2026-11-21T00:00:00+00:00") == "2026-11-21T00:00:00+00:00"
    store.reset_watermark("orders", "2026-01-01T00:00:00+00:00")
    assert store.get_watermark("orders") == "2026-01-01T00:00:00+00:00"
    store.reset_watermark("orders", None)
    assert store.get_watermark("orders") is None
    store.dispose()


@pytest.mark.slow
def test_claim_lifecycle(store_url: str) -> None:
    store = StateStore(store_url)
    first = store.claim("outbound:SO-1", "ffn_outbound", run_id="run-1")
    assert first.state is ClaimState.NEW
    # A crash before complete(): the next run sees PENDING and must reconcile, not blindly redo.
    again = store.claim("outbound:SO-1", "ffn_outbound", run_id="run-2")
    assert again.state is ClaimState.PENDING and again.attempts == 2
    store.complete("outbound:SO-1", {"outboundId": "MERC02AXEV"})
    done = store.claim("outbound:SO-1", "ffn_outbound")
    assert done.state is ClaimState.DONE and done.result == {"outboundId": "MERC02AXEV"}
    store.claim("mail:SO-2", "email")
    store.fail("mail:SO-2", "SMTP 451")
    retry = store.claim("mail:SO-2", "email")
    assert retry.state is ClaimState.FAILED and retry.attempts == 2
    assert store.side_effect("missing") is None
    with pytest.raises(KeyError):
        store.complete("never-claimed")
    store.dispose()


@pytest.mark.slow
def test_unfinished_side_effects_are_the_pending_and_the_failed_of_a_kind(store_url: str) -> None:
    store = StateStore(store_url)
    store.claim("grant:A", "grant", intent={"jfsku": "A"})
    store.claim("grant:B", "grant", intent={"jfsku": "B"})
    store.claim("grant:C", "grant")
    store.claim("other:D", "other")
    store.fail("grant:B", "refused")
    store.complete("grant:C")
    found = {c.key: (c.state, c.result) for c in store.unfinished_side_effects("grant")}
    assert found == {
        "grant:A": (ClaimState.PENDING, {"jfsku": "A"}),
        "grant:B": (ClaimState.FAILED, {"jfsku": "B"}),
    }
    store.dispose()


@pytest.mark.slow
def test_inbound_history_is_ordered_per_row(store_url: str) -> None:
    store = StateStore(store_url)
    t0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
    rows = [
        {"row_key": "SKU-1|IN-1", "sku": "SKU-1", "status": "PENDING", "checked_at": t0},
        {"row_key": "SKU-2|IN-1", "sku": "SKU-2", "status": "MATCH", "checked_at": t0},
    ]
    assert store.record_inbound_checks("run-1", "sheet-a", rows) == 2
    later = [{"row_key": "SKU-1|IN-1", "status": "MISMATCH", "checked_at": t0 + timedelta(days=1)}]
    store.record_inbound_checks("run-2", "sheet-a", later)
    store.record_inbound_checks("run-3", "other-sheet", later)
    history = store.inbound_history("sheet-a", ["SKU-1|IN-1", "SKU-2|IN-1", "SKU-9"])
    assert history["SKU-1|IN-1"] == [(t0, "PENDING"), (t0 + timedelta(days=1), "MISMATCH")]
    assert history["SKU-2|IN-1"] == [(t0, "MATCH")]
    assert history["SKU-9"] == []
    assert store.record_inbound_checks("run-4", "sheet-a", []) == 0
    store.dispose()


def test_repr_hides_the_database_password() -> None:
    store = StateStore("postgresql+psycopg2://user:hunter2@db.invalid/x", migrate=False)
    assert "hunter2" not in repr(store)


# -- two processes at once ---------------------------------------------------------------------


def _rotate_tokens(url: str, n: int, start: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    store = StateStore(url)
    start.wait()
    for _ in range(n):
        with store.locked_token("ffn") as rec:
            current = int(rec.refresh_token or "0")
            time.sleep(0.001)  # widen the race window: a lost update would show
            rec.refresh_token = str(current + 1)
    store.dispose()


def _claim_keys(url: str, keys: list[str], start: mp.synchronize.Event, out: mp.Queue) -> None:  # type: ignore[name-defined, type-arg]
    store = StateStore(url)
    start.wait()
    won = [k for k in keys if store.claim(k, "test").state is ClaimState.NEW]
    out.put(won)
    store.dispose()


def _advance(url: str, values: list[str], start: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    store = StateStore(url)
    start.wait()
    for v in values:
        store.advance_watermark("job", v)
    store.dispose()


def _run_both(target, args_a: tuple, args_b: tuple) -> None:  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=target, args=(*a, start)) for a in (args_a, args_b)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_processes_never_lose_a_token_rotation(db: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{db}_url")
    StateStore(url).dispose()
    _run_both(_rotate_tokens, (url, 40), (url, 40))
    assert StateStore(url).read_token("ffn").refresh_token == "80"  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_processes_claim_each_key_exactly_once(db: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{db}_url")
    StateStore(url).dispose()
    keys = [f"k{i}" for i in range(150)]
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_claim_keys, args=(url, keys, start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    won = out.get(timeout=120) + out.get(timeout=120)
    for p in procs:
        p.join(60)
    assert sorted(won) == sorted(keys)  # every key claimed once, none twice


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_processes_migrating_and_advancing_at_once(db: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{db}_url")  # fresh database: both processes run the migration
    a = [f"2026-11-{d:02d}T00:00:00+00:00" for d in range(1, 29, 2)]
    b = [f"2026-11-{d:02d}T00:00:00+00:00" for d in range(2, 29, 2)]
    _run_both(_advance, (url, a), (url, b))
    assert StateStore(url).get_watermark("job") == "2026-11-28T00:00:00+00:00"


@pytest.mark.slow
def test_lease_one_owner_at_a_time_and_expiry(store_url: str) -> None:
    from datetime import timedelta

    store = StateStore(store_url)
    assert store.acquire_lease("orders", "run-a", timedelta(minutes=5))
    assert not store.acquire_lease("orders", "run-b", timedelta(minutes=5))
    assert store.acquire_lease("orders", "run-a", timedelta(minutes=5))  # renewing is fine
    store.release_lease("orders", "run-b")  # not the owner: no effect
    assert not store.acquire_lease("orders", "run-b", timedelta(minutes=5))
    store.release_lease("orders", "run-a")
    assert store.acquire_lease("orders", "run-b", timedelta(seconds=-1))  # already expired on arrival
    assert store.acquire_lease("orders", "run-c", timedelta(minutes=5))  # an expired lease is free
    store.dispose()


@pytest.mark.slow
def test_order_ledger_records_journey(store_url: str) -> None:
    store = StateStore(store_url)
    t = datetime(2026, 11, 20, 9, tzinfo=UTC)
    store.record_orders(
        [
            {"order_number": "AU-1", "wawi_order_id": 1, "status": "imported", "order_date": t},
            {"order_number": "AU-2", "wawi_order_id": 2, "status": "imported", "order_date": t},
        ],
        event="imported",
        run_id="r1",
    )
    store.record_orders(
        [
            {
                "order_number": "AU-1",
                "status": "held",
                "hold_reason": "insufficient_stock",
                "detail": {"jfsku": "X"},
            }
        ],
        event="held",
        run_id="r1",
    )
    store.record_orders(
        [
            {
                "order_number": "AU-2",
                "status": "outbound_created",
                "outbound_id": "MERC02AXEV",
                "warehouse_id": "W1",
            }
        ],
        event="outbound_created",
        run_id="r1",
    )
    got = store.orders(["AU-1", "AU-2", "AU-9"])
    assert set(got) == {"AU-1", "AU-2"}
    assert got["AU-1"].status == "held" and got["AU-1"].hold_reason == "insufficient_stock"
    assert got["AU-1"].order_date == t and got["AU-1"].wawi_order_id == 1
    assert got["AU-2"].outbound_id == "MERC02AXEV"
    assert [o.order_number for o in store.orders_in_status(["held"])] == ["AU-1"]
    assert store.order_events("AU-1") == [("imported", None), ("held", {"jfsku": "X"})]
    store.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_processes_one_lease(db: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{db}_url")
    StateStore(url).dispose()
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_take_lease, args=(url, f"p{i}", start, out)) for i in range(2)]
    for p in procs:
        p.start()
    start.set()
    wins = [out.get(timeout=120), out.get(timeout=120)]
    for p in procs:
        p.join(60)
    assert sorted(wins) == [False, True]


def _take_lease(url: str, owner: str, start: mp.synchronize.Event, out: mp.Queue) -> None:  # type: ignore[name-defined, type-arg]
    from datetime import timedelta

    store = StateStore(url)
    start.wait()
    out.put(store.acquire_lease("job", owner, timedelta(minutes=1)))
    store.dispose()


@pytest.mark.slow
def test_run_once_does_a_side_effect_once_and_records_failures(store_url: str) -> None:
    store = StateStore(store_url)
    sent: list[int] = []
    assert store.run_once("mail:1", "email", lambda: sent.append(1) or {"id": "m1"}, run_id="r1")
    assert not store.run_once("mail:1", "email", lambda: sent.append(2) or {"id": "m2"})
    assert sent == [1] and store.side_effect("mail:1").result == {"id": "m1"}  # type: ignore[union-attr]

    def broken() -> dict[str, str]:
        raise ConnectionError("smtp down")

    with pytest.raises(ConnectionError):
        store.run_once("mail:2", "email", broken)
    assert store.side_effect("mail:2").state is ClaimState.FAILED  # type: ignore[union-attr]
    assert store.run_once("mail:2", "email", lambda: {"id": "m3"})  # a later run retries it
    store.dispose()


@pytest.mark.slow
def test_an_existing_database_upgrades_to_wider_columns_keeping_its_rows(store_url: str) -> None:
    """A state database made before the column lengths followed the APIs keeps every row on upgrade."""
    database_at(
        store_url,
        "303b1cc61b1f",  # the schema before the lengths changed
        "INSERT INTO order_ledger (order_number, status, created_at, updated_at) "
        "VALUES ('AU-1', 'held', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "INSERT INTO order_events (order_number, event, at) VALUES ('AU-1', 'held', CURRENT_TIMESTAMP)",
    )
    store = StateStore(store_url)  # migrates to head
    try:
        assert store.orders(["AU-1"])["AU-1"].status == "held"
        assert [e for e, _ in store.order_events("AU-1")] == ["held"]
        longest = "N" * 255
        store.record_orders(
            [{"order_number": longest, "status": "imported", "outbound_id": "O" * 255}], event="imported"
        )
        assert store.orders([longest])[longest].outbound_id == "O" * 255
        assert store.claim("k" * 512, "email").state is ClaimState.NEW
    finally:
        store.dispose()


@pytest.mark.slow
def test_an_order_number_longer_than_ffn_takes_is_skipped_not_fatal(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        recorded = store.record_orders(
            [{"order_number": "X" * 256, "status": "failed"}, {"order_number": "AU-2", "status": "held"}],
            event="held",
        )
        assert recorded == 1 and store.orders(["AU-2"])["AU-2"].status == "held"
    finally:
        store.dispose()


@pytest.mark.slow
def test_inbound_history_holds_the_longest_keys_the_rules_let_through(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        sku, ref, warehouse = "S" * 255, "R" * 255, "W" * 255
        written = store.record_inbound_checks(
            "run-1",
            "sheet",
            [
                {
                    "row_key": f"{sku}|{ref}|{warehouse}",
                    "sku": sku,
                    "inbound_ref": ref,
                    "status": "MATCH",
                    "note": "",
                }
            ],
        )
        assert written == 1
    finally:
        store.dispose()


@pytest.mark.slow
def test_a_database_migrated_by_a_newer_version_is_refused_with_one_clear_line(store_url: str) -> None:
    StateStore(store_url).dispose()
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dfeed1234'"))
    engine.dispose()
    with pytest.raises(SchemaTooNew) as caught:
        StateStore(store_url)
    message = str(caught.value)
    assert "f00dfeed1234" in message and "Upgrade jtl-automator" in message and "\n" not in message
    url = sa.engine.make_url(store_url)
    if url.password:
        assert url.password not in message
    with engine.connect() as conn:  # nothing was touched: the newer version's tables stay as they are
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "f00dfeed1234"


@pytest.mark.slow
def test_the_cli_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    StateStore(url).dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dfeed1234'"))
    engine.dispose()
    monkeypatch.setenv("JTL_DATABASE_URL", url)
    monkeypatch.setattr(sys, "argv", ["jtl-automator", "plans", "list"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: the state database") and err.count("\n") == 1 and "Traceback" not in err


def test_json_columns_read_back_what_the_standard_library_wrote(tmp_path: Path) -> None:
    """The JSON columns are read with orjson; what it refuses (NaN, integers past 64 bits: both written
    by ``json.dumps``) falls back to the standard library, so nothing stored reads back differently."""
    from jtl_automator.store.store import json_loads

    assert json_loads('[{"a": 1.5, "b": "ü"}]') == [{"a": 1.5, "b": "ü"}]
    assert json_loads(str(2**70)) == 2**70
    assert math.isnan(json_loads('{"x": NaN}')["x"])
    with pytest.raises(ValueError):
        json_loads("{not json")

    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    now = datetime(2026, 11, 27, tzinfo=UTC)
    store.write_item_cache([CachedItem(1, "A", True), CachedItem(2, "B", True)], now, complete=True)
    store.write_item_suppliers(
        {1: [{"SupplierId": 2**70, "Sku": "ü"}], 2: [{"DeliveryTime": float("nan")}]}, now
    )
    rows = {r.item_id: r for r in store.cached_items()}
    assert rows[1].suppliers == [{"SupplierId": 2**70, "Sku": "ü"}]
    assert rows[2].suppliers is not None and math.isnan(rows[2].suppliers[0]["DeliveryTime"])
    assert rows[1].suppliers_at == now and rows[1].seen_at == now
    store.dispose()


@pytest.mark.slow
def test_reads_do_not_wait_for_a_token_refresh_holding_the_writer(store_url: str) -> None:
    """A token refresh holds a write transaction over an HTTP round trip; a read (``reading``) meanwhile
    answers at once on both databases, and sees what was committed before it began. A write through
    ``reading`` fails on SQLite (a read transaction), instead of taking the writer."""
    import threading

    from jtl_automator.store import reporting as q

    store = StateStore(store_url)
    store.advance_watermark("w", "2026-11-27T00:00:00+00:00")
    holding, release = threading.Event(), threading.Event()

    def refresh() -> None:
        with store.locked_token("ffn") as record:
            record.access_token = "new"
            holding.set()
            release.wait(5)

    refresher = threading.Thread(target=refresh)
    refresher.start()
    try:
        assert holding.wait(5)
        started = time.perf_counter()
        with store.reading() as conn:
            value = conn.execute(sa.text("select value from watermarks where job = 'w'")).scalar()
        assert q.first_order_date(store) is None
        took = time.perf_counter() - started
    finally:
        release.set()
        refresher.join()
    assert value == "2026-11-27T00:00:00+00:00"
    assert took < 1.0  # waiting for the refresh would take its 5 s
    if store.dialect == "sqlite":
        with pytest.raises(sa.exc.OperationalError), store.reading() as conn:
            conn.execute(sa.text("delete from watermarks"))
    store.dispose()
