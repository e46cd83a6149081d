"""A real Prefect server on PostgreSQL and process workers, on loopback, for tests of several workers.

Only tests that need more than the session's harness use this (the harness is one SQLite server in the
test process's control): a server of their own, a database of their own, workers as separate
processes, all stopped (and the database dropped) when the context ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

#: Environment every Prefect process of these tests gets: quiet, no telemetry, quick polling.
PREFECT_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
    "PREFECT_WORKER_QUERY_SECONDS": "1",
    "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the process group (a worker ignores one SIGTERM when idle), then SIGKILL it."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(grace if sig != signal.SIGKILL else 30)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class PrefectStack:
    """A running server (``api_url``) and the environment its clients and workers need."""

    api_url: str
    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    _files: list[IO[bytes]] = field(default_factory=list)

    def spawn(
        self, name: str, args: list[str], extra_env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[Any]:
        """Start ``python -m <args>`` in its own process group, logging to ``logs/<name>.log``."""
        log = (self.logs / f"{name}.log").open("wb")
        self._files.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start_worker(
        self, pool: str, name: str, extra_env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[Any]:
        """A process worker on ``pool`` that runs one flow run at a time."""
        args = [
            "prefect",
            "worker",
            "start",
            "--pool",
            pool,
            "--type",
            "process",
            "--limit",
            "1",
            "--name",
            name,
        ]
        return self.spawn(name, args, extra_env)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        """The end of a process's log, for assertion messages."""
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def close(self) -> None:
        """Stop every process (workers first, the server last) and close the logs."""
        for process in reversed(self.processes):
            stop(process)
        for log in self._files:
            log.close()


def _wait_healthy(api_url: str, server: subprocess.Popen[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with {server.returncode}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server was not healthy within {timeout:.0f} s")


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one Prefect server; its asyncpg URL; dropped afterwards."""
    import sqlalchemy as sa

    name = f"jtl_prefect_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            sa.make_url(admin_url)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def prefect_stack(
    home: Path, database_url: str, *, root: Path, startup_timeout: float = 300.0
) -> Iterator[PrefectStack]:
    """A Prefect server on ``database_url`` (loopback, a free port); workers are started on the result."""
    home.mkdir(parents=True, exist_ok=True)
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JTL_"))},
        **PREFECT_ENV,
        "PREFECT_HOME": str(home / "prefect-home"),
        "PREFECT_API_URL": api_url,
        "PYTHONPATH": str(root),
    }
    stack = PrefectStack(api_url, env, logs)
    try:
        server = stack.spawn(
            "server",
            ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            {"PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url},
        )
        try:
            _wait_healthy(api_url, server, startup_timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{stack.log_tail('server')}") from None
        yield stack
    finally:
        stack.close()
