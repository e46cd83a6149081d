"""Issue 14: what the gateway's rate limit costs per request when it is counted in the state database.

Two gateways serve from threads of this process on one state database, the same configuration but for
``rate_limit.shared``: one counts per process (the baseline, no database access for the limit), one in
the database (a transaction per request that passes the in-process checks). A spawned client process
sends requests over real sockets, alternating between the two in rounds so a busy machine slows both
alike: unsigned ones (the limiter passes them, the signature check refuses them: 401, no other database
work) and signed events (202: the outbox write as well). The difference of the medians is the shared
count's cost per request. Then the limiter on its own (no HTTP), and a flood: after the database refused
an address, how many transactions its next 1,000 requests cost (none: they are answered from memory).
On SQLite, and on PostgreSQL when one is reachable (``JTL_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import os
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks._common import Metric, Result, in_subprocess

NAME = "gateway_ratelimit"
TITLE = "gateway_ratelimit: the rate limit per client IP counted across gateway processes (issue 14)"
POSTGRES_URL = os.environ.get("JTL_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[1]
KINDS = ("unsigned", "signed")


def _client(bases: dict[str, str], secret: str, requests: int, rounds: int) -> dict[str, list[float]]:
    """Client process: per mode and kind the latency of each request, modes alternating in rounds."""
    import hashlib
    import hmac
    import json

    import httpx

    latencies: dict[str, list[float]] = {f"{mode}/{kind}": [] for mode in bases for kind in KINDS}
    statuses: dict[str, set[int]] = {key: set() for key in latencies}
    per_round = max(1, requests // rounds)
    with httpx.Client() as http:
        for base in bases.values():  # warm-up: connections, the apps' first requests
            for _ in range(20):
                http.post(f"{base}/events/shop", content=b"{}")
        for r in range(rounds):
            for mode, base in bases.items():
                for kind in KINDS:
                    key = f"{mode}/{kind}"
                    for i in range(per_round):
                        if kind == "unsigned":
                            body, headers = b"{}", {"Content-Type": "application/json"}
                        else:
                            event = {
                                "id": f"{key}-{r}-{i}",
                                "type": "order.held",
                                "data": {"order_number": f"AU-{r}-{i}", "reason": "bench"},
                            }
                            body = json.dumps(event, separators=(",", ":")).encode()
                            stamp = str(int(time.time()))
                            digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
                            headers = {
                                "Content-Type": "application/json",
                                "X-Timestamp": stamp,
                                "X-Signature": f"sha256={digest.hexdigest()}",
                            }
                        start = time.perf_counter()
                        answer = http.post(f"{base}/events/shop", content=body, headers=headers)
                        latencies[key].append(time.perf_counter() - start)
                        statuses[key].add(answer.status_code)
    return {**latencies, "statuses": {k: sorted(v) for k, v in statuses.items()}}  # type: ignore[dict-item]


@contextmanager
def _gateways(url: str, secret: str) -> Iterator[dict[str, str]]:
    """The per-process and the shared gateway, served from threads, on the store at ``url``."""
    from jtl_automator.gateway import GatewayConfig, Outbox, create_app
    from jtl_automator.gateway.config import build_gateway
    from jtl_automator.sandbox.server import serve_in_thread
    from jtl_automator.store import StateStore

    store = StateStore(url)
    outbox = Outbox(store)
    apps = {}
    for mode, shared in (("per-process", False), ("shared", True)):
        config = GatewayConfig.model_validate(
            {
                "sources": {"shop": {"events": ["order.held"]}},
                "rate_limit": {"requests": 10**9, "window_seconds": 60, "shared": shared},
            }
        )
        gateway = build_gateway(
            config, ROOT / "config" / "gateway" / "schemas", environ={"JTL_GATEWAY_SECRET_SHOP": secret}
        )
        apps[mode] = create_app(gateway, outbox)
    try:
        with serve_in_thread(apps["per-process"]) as local, serve_in_thread(apps["shared"]) as shared_server:
            yield {"per-process": local.base_url, "shared": shared_server.base_url}
    finally:
        store.dispose()


def _limiter_alone(url: str, calls: int) -> dict[str, float]:
    """The shared count without HTTP (ms per call), and a flood's transactions once an address is refused."""
    from jtl_automator.gateway import RateLimiter, SharedRateLimiter
    from jtl_automator.store import StateStore

    store = StateStore(url, migrate=False)
    try:
        local = RateLimiter(10**9, 60)
        start = time.perf_counter()
        for i in range(calls):
            local.allow(f"10.0.{i % 200}.1")
        local_ms = (time.perf_counter() - start) / calls * 1000
        shared = SharedRateLimiter(store, 10**9, 60)
        start = time.perf_counter()
        for i in range(calls):
            shared.allow_shared(f"10.1.{i % 200}.1")
        shared_ms = (time.perf_counter() - start) / calls * 1000
        flood = SharedRateLimiter(store, 100, 60)
        other = SharedRateLimiter(store, 100, 60)  # another process filled the address's window
        for _ in range(100):
            other.allow("203.0.113.66")
        transactions = 0

        def count(*args: Any) -> None:
            nonlocal transactions
            transactions += 1

        sa.event.listen(store.engine, "begin", count)
        start = time.perf_counter()
        refused = sum(1 for _ in range(1001) if flood.allow("203.0.113.66") > 0)
        flood_us = (time.perf_counter() - start) / 1001 * 1e6
        sa.event.remove(store.engine, "begin", count)
        return {
            "local_ms": local_ms,
            "shared_ms": shared_ms,
            "flood_refused": refused,
            "flood_transactions": transactions,
            "flood_us": flood_us,
        }
    finally:
        store.dispose()


def _measure(url: str, requests: int, rounds: int, calls: int) -> dict[str, Any]:
    secret = secrets.token_hex(32)
    with _gateways(url, secret) as bases:
        measured = in_subprocess(_client, bases, secret, requests, rounds)
    statuses = measured.pop("statuses")
    found: dict[str, Any] = {"statuses": statuses}
    for key, values in measured.items():
        found[key] = {
            "median_ms": statistics.median(values) * 1000,
            "mean_ms": statistics.fmean(values) * 1000,
        }
    found["alone"] = _limiter_alone(url, calls)
    return found


def run(requests: int = 2000, rounds: int = 10, calls: int = 2000) -> Result:
    """``requests`` per gateway and kind in ``rounds`` alternating rounds; ``calls`` to the limiter alone."""
    measured: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        measured["SQLite"] = _measure(f"sqlite:///{Path(tmp) / 'state.db'}", requests, rounds, calls)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
            measured["PostgreSQL"] = _measure(url, requests, rounds, calls)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    except sa.exc.OperationalError:
        pass  # no PostgreSQL here: SQLite alone
    finally:
        admin.dispose()
    metrics: list[Metric] = []
    for engine, m in measured.items():
        expected = {"unsigned": [401], "signed": [202]}
        answered = all(
            m["statuses"][f"{mode}/{k}"] == expected[k] for mode in ("per-process", "shared") for k in KINDS
        )
        metrics.append(
            Metric(
                f"{engine}: every answer as expected",
                "yes" if answered else str(m["statuses"]),
                "401 / 202",
                answered,
            )
        )
        for kind, what in (("unsigned", "refused at the signature (401)"), ("signed", "accepted (202)")):
            base, shared = m[f"per-process/{kind}"], m[f"shared/{kind}"]
            metrics.append(
                Metric(
                    f"{engine}: {what}, median per request",
                    f"{base['median_ms']:.2f} ms per process → {shared['median_ms']:.2f} ms shared "
                    f"(+{shared['median_ms'] - base['median_ms']:.2f} ms)",
                )
            )
        alone = m["alone"]
        metrics.append(
            Metric(
                f"{engine}: the limiter alone, per call",
                f"{alone['local_ms'] * 1000:.1f} µs in memory, "
                f"{alone['shared_ms']:.2f} ms counted in the database",
            )
        )
        quiet = alone["flood_transactions"] == 1 and alone["flood_refused"] == 1001
        metrics.append(
            Metric(
                f"{engine}: a flood after the limit, 1,001 requests",
                f"{alone['flood_refused']:,} refused, {alone['flood_transactions']} database transaction(s), "
                f"{alone['flood_us']:.1f} µs each",
                "all refused; 1 transaction (the first refusal's)",
                quiet,
            )
        )
    notes = [
        "Both gateways run in threads of the benchmark process on one state database; the client is a "
        "spawned process with one keep-alive connection, sending requests one after the other, the two "
        f"gateways and two kinds alternating in {rounds} rounds (after 20 warm-up requests each). "
        "The limit is set out of reach (10^9 per 60 s) so every request passes it and pays the count.",
        "unsigned: the cheapest request the limiter lets through (no database work but the shared count); "
        "signed: an accepted event, whose outbox write is a transaction of its own.",
        "The flood: another limiter (another process) used an address's 100 up; this one asks the "
        "database once, is refused, and answers the next 1,000 requests from memory until Retry-After.",
    ]
    params = {"requests": requests, "rounds": rounds, "calls": calls}
    return Result(NAME, TITLE, params, metrics, notes, {"measured": measured})
