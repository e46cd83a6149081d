"""The rate limit counted in the state database: one limit per client IP across gateway processes.

On SQLite and PostgreSQL: the count, the window, the in-process pre-checks that keep a flood off the
database, the fallback when the database is away, pruning, the migration; and two real gateway
processes on one database over real sockets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from jtl_automator.gateway import Outbox, SharedRateLimiter, prune_rate_counts
from jtl_automator.gateway.ratelimit import SLICES
from jtl_automator.store import StateStore
from jtl_automator.store.models import GatewayRateCountRow
from jtl_automator.store.retention import JOURNALS, prune
from tests.gateway.conftest import ROOT, AsgiGateway, error_of, make_gateway
from tests.support.migrations import database_at, downgrade_to, schema_diff, tables

pytestmark = pytest.mark.slow  # a state database per test

START = 1_800_000_000.0  # a wall-clock second (the slices are unix milliseconds)


class WallClock:
    """Settable wall time in seconds, shared by the limiters of one test (two "processes")."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def store(outbox: Outbox) -> StateStore:
    """The state database of the ``outbox`` fixture: SQLite, and PostgreSQL."""
    return outbox.store


def _rows(store: StateStore) -> list[tuple[str, int]]:
    with store.session() as s:
        found = s.execute(
            sa.select(GatewayRateCountRow.client_ip, GatewayRateCountRow.requests).order_by(
                GatewayRateCountRow.slice_start
            )
        )
        return [(ip, n) for ip, n in found]


def test_the_limit_holds_across_two_processes_and_refusals_are_not_counted(store: StateStore) -> None:
    clock = WallClock()
    other_store = StateStore(store.url, migrate=False)  # a second process: its own engine and memory
    try:
        a = SharedRateLimiter(store, 5, 60, clock=clock)
        b = SharedRateLimiter(other_store, 5, 60, clock=clock)
        waits = [(a if n % 2 else b).allow("198.51.100.1") for n in range(5)]
        assert waits == [0.0] * 5
        refused_a, refused_b = a.allow("198.51.100.1"), b.allow("198.51.100.1")
        assert 60 < refused_a <= 60 + 60 / SLICES and 60 < refused_b <= 60 + 60 / SLICES
        assert a.allow("198.51.100.2") == 0.0  # another address has its own count
        assert sum(n for ip, n in _rows(store) if ip == "198.51.100.1") == 5  # the refusals left no trace
    finally:
        other_store.dispose()


def test_the_window_moves_on_and_counts_again(store: StateStore) -> None:
    clock = WallClock(START + 0.2)  # within the slice that starts at START (slices of 0.5 s here)
    limiter = SharedRateLimiter(store, 2, 10, clock=clock)
    assert [limiter.allow("a"), limiter.allow("a")] == [0.0, 0.0]
    assert limiter.allow("a") == pytest.approx(10.0)  # this process's own log knows it exactly
    clock.advance(10)
    # the shared count holds the whole slice until it leaves the window: 0.3 s more
    assert limiter.allow("a") == pytest.approx(0.3)
    clock.advance(0.3)
    assert limiter.allow("a") == 0.0


def test_a_refused_address_is_answered_from_memory_until_its_retry_after(store: StateStore) -> None:
    clock = WallClock()
    other = SharedRateLimiter(store, 3, 60, clock=clock)  # another process used the address's limit up
    for _ in range(3):
        assert other.allow("flood") == 0.0
    limiter = SharedRateLimiter(store, 3, 60, clock=clock)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        asked = len(statements)
        first = limiter.allow("flood")  # the database says no, once
        after_first = len(statements)
        assert first > 0 and after_first > asked
        clock.advance(1)
        repeats = [limiter.allow("flood") for _ in range(500)]
        assert len(statements) == after_first  # 500 more requests: no statement at all
        assert all(0 < wait <= first - 1 + 1e-6 for wait in repeats)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)


def test_an_address_this_process_alone_filled_is_refused_without_the_database(store: StateStore) -> None:
    clock = WallClock()
    limiter = SharedRateLimiter(store, 3, 60, clock=clock)
    for _ in range(3):
        assert limiter.allow("busy") == 0.0
    assert limiter.precheck("busy") > 0  # known in memory: the database is not asked
    assert limiter.precheck("quiet") == 0.0


def test_with_the_database_away_each_process_counts_on_its_own(caplog: pytest.LogCaptureFixture) -> None:
    clock = WallClock()
    away = StateStore("sqlite:////nonexistent-folder/state.db", migrate=False)
    try:
        limiter = SharedRateLimiter(away, 2, 60, clock=clock)
        assert limiter.allow("a") == 0.0 and limiter.allow("a") == 0.0
        assert limiter.allow("a") > 0  # the per-process limit still holds
    finally:
        away.dispose()
    warnings = [r for r in caplog.records if "shared rate limit unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per window, not per request


def test_passed_slices_are_pruned_by_the_gateway_the_cli_and_housekeeping(store: StateStore) -> None:
    clock = WallClock()
    limiter = SharedRateLimiter(store, 100, 60, clock=clock)
    limiter.allow("old")
    clock.advance(121)  # two windows later: the old slice counts for nothing
    limiter.allow("new")
    clock.advance(60)  # the next request after a window sweeps
    limiter.allow("new")
    assert [ip for ip, _ in _rows(store)] == ["new", "new"]
    soon = datetime.fromtimestamp(clock.now + 10, UTC)
    assert prune_rate_counts(store, soon) == 2
    limiter.allow("later")
    outcome = prune(store, JOURNALS["gateway_rate_counts"], soon + timedelta(days=1))
    assert (outcome.older, outcome.deleted) == (1, 1) and _rows(store) == []


def test_concurrent_requests_from_two_processes_never_pass_more_than_the_limit(store: StateStore) -> None:
    other_store = StateStore(store.url, migrate=False)
    limiters = [SharedRateLimiter(s, 40, 60) for s in (store, other_store, store, other_store)]
    passed: list[int] = []
    lock = threading.Lock()

    def hammer(limiter: SharedRateLimiter) -> None:
        ok = sum(1 for _ in range(25) if limiter.allow_shared("203.0.113.50") == 0.0)
        with lock:
            passed.append(ok)

    threads = [threading.Thread(target=hammer, args=(limiter,)) for limiter in limiters]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sum(passed) == 40  # 100 tries, 4 threads, 2 engines: exactly the limit
    finally:
        other_store.dispose()


def test_the_app_counts_in_the_database_unless_told_otherwise(store: StateStore) -> None:
    outbox = Outbox(store)
    two = {"requests": 2, "window_seconds": 60}
    first, second = (AsgiGateway(_app(make_gateway(rate_limit=two), outbox)) for _ in range(2))
    answers = [*first.post_many([("/events/shop", b"{}", {})] * 2), second.post("/events/shop", b"{}", {})]
    assert [r.status_code for r in answers] == [401, 401, 429]  # two apps, one count
    assert error_of(answers[-1]) == "rate_limited"
    alone = AsgiGateway(_app(make_gateway(rate_limit={**two, "shared": False}), outbox))
    assert [r.status_code for r in alone.post_many([("/events/shop", b"{}", {})] * 3)] == [401, 401, 429]
    assert sum(n for _, n in _rows(store)) == 2  # the per-process app wrote nothing


def _app(gateway: Any, outbox: Outbox) -> Any:
    from jtl_automator.gateway import create_app

    return create_app(gateway, outbox)


BEFORE = "3ce7b9bc7561"  # the shop sync check, the revision this one follows


def test_the_migration_adds_the_counts_and_removes_them_again(store_url: str) -> None:
    database_at(store_url, BEFORE)
    assert "gateway_rate_counts" not in tables(store_url)
    store = StateStore(store_url)
    try:
        assert SharedRateLimiter(store, 1, 60).allow("a") == 0.0
        assert schema_diff(store, "gateway_rate_counts") == []
    finally:
        store.dispose()
    downgrade_to(store_url, BEFORE)
    assert "gateway_rate_counts" not in tables(store_url)


# -- two gateway processes over real sockets ------------------------------------------------------------

SHOP = "s" * 48


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp_path: Path, shared: bool) -> Path:
    path = tmp_path / f"gateway-{shared}.yaml"
    path.write_text(
        "sources:\n  shop:\n    events: [order.held]\n"
        f"schemas: {ROOT / 'config' / 'gateway' / 'schemas'}\n"
        f"rate_limit: {{requests: 30, window_seconds: 60, shared: {str(shared).lower()}}}\n"
    )
    return path


@pytest.fixture
def two_gateways(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """Two ``jtl-automator gateway serve`` processes on one state database (``request.param``: shared)."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    if getattr(request, "param", ("sqlite", True))[0] == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    StateStore(url).dispose()  # migrated once, before both start
    shared = getattr(request, "param", ("sqlite", True))[1]
    config = _config(tmp_path, shared)
    procs, bases = [], []
    env = {**os.environ, "JTL_GATEWAY_SECRET_SHOP": SHOP, "PYTHONPATH": str(ROOT)}
    for _ in range(2):
        port = _free_port()
        command = ["gateway", "serve", "--config", str(config), "--port", str(port), "--url", url]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "jtl_automator.cli", *command],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        for proc, base in zip(procs, bases, strict=True):
            while True:
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "a gateway did not start"
                time.sleep(0.2)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def _flood(bases: list[str], total: int) -> list[int]:
    """``total`` requests from this address, spread over both gateways from four threads at once."""
    codes: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with httpx.Client() as http:
            for i in range(total // 4):
                answer = http.post(f"{bases[(n + i) % 2]}/events/shop", content=b"{}")
                with lock:
                    codes.append(answer.status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return codes


@pytest.mark.parametrize(
    "two_gateways",
    [("sqlite", True), pytest.param(("postgres", True), marks=pytest.mark.postgres)],
    indirect=True,
    ids=["sqlite", "postgres"],
)
def test_two_gateway_processes_share_one_limit(two_gateways: list[str]) -> None:
    codes = _flood(two_gateways, 80)
    assert len(codes) == 80
    assert codes.count(401) == 30 and codes.count(429) == 50  # 30 per 60 s in all, not 30 per process


@pytest.mark.parametrize("two_gateways", [("sqlite", False)], indirect=True, ids=["per-process"])
def test_counted_per_process_two_gateways_let_twice_the_limit_through(two_gateways: list[str]) -> None:
    codes = _flood(two_gateways, 80)
    assert codes.count(401) == 60 and codes.count(429) == 20  # what shared: false (the old way) allows
