"""The production stack on this machine, loopback only: what docs/production.md tells an operator to run.

A Prefect server whose own database is a fresh PostgreSQL database, with basic auth on; a fresh PostgreSQL
state database; the sandbox serving generated JTL data over real HTTP; ``jtl-automator stack setup`` (the
operator's command: migrations, work pool, blocks, the real ``prefect deploy``); two ``prefect worker
start`` processes. Every process has its own ``PREFECT_HOME`` and analytics off; both databases are
dropped afterwards. The fixture is session-scoped and lazy: only tests that ask for it pay (2-3.5 min
measured on the loaded 2-core build machine, load average 11-17).

Reuse: ``production_stack`` gives a :class:`Stack` (API helpers, the workers, the sandbox and the state
database); ``Stack.setup(...)`` deploys more, ``Stack.start_worker()`` adds a worker.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]
POOL = "jtl-process"
#: The deployments the stack test needs: one with work to crash (orders) and one on a schedule that is due
#: every minute (the gateway outbox); both have the concurrency limit of 1 every scheduled deployment has.
STACK_DEPLOYMENTS = ("order-processing", "gateway-drain")
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
#: Test-only speed-ups: workers poll every 2 s instead of 10 (the production default is kept elsewhere).
WORKER_QUERY_SECONDS = "2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sqlalchemy_can_schedule() -> str | None:
    """Prefect 3.8's scheduler inserts runs with a hybrid ``state`` key SQLAlchemy 2.1 refuses in bulk."""
    import prefect
    import sqlalchemy
    from packaging.version import Version

    if Version(prefect.__version__) < Version("3.9") and Version(sqlalchemy.__version__) >= Version("2.1"):
        return (
            f"SQLAlchemy {sqlalchemy.__version__} with Prefect {prefect.__version__}: the server's scheduler "
            "fails on every insert (InvalidRequestError: Can't evaluate bulk DML statement), so no schedule "
            "would ever fire; pyproject.toml pins sqlalchemy<2.1, reinstall: pip install -e '.[dev]'"
        )
    return None


@dataclass
class Proc:
    """A process of the stack: its handle and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        """The end of its log, for failure messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def tree(self) -> list[Any]:
        """This process and every descendant (flow runs a worker started), as psutil processes."""
        import psutil

        try:
            me = psutil.Process(self.popen.pid)
            return [me, *me.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill_tree(self) -> list[int]:
        """SIGKILL the process and its descendants at once (a machine or container dying); their pids."""
        import psutil

        victims = self.tree()
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)
        psutil.wait_procs(victims, timeout=30)
        return [p.pid for p in victims]

    def interrupt(self) -> None:
        """Ask it to stop (SIGINT: an idle worker may ignore SIGTERM, prefect-notes)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)

    def stop(self, timeout: float = 10) -> None:
        """Stop gently, then hard."""
        self.interrupt()
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_tree()


@dataclass
class Stack:
    """A running stack: the API (with its credentials), the workers, the sandbox, the state database."""

    api_url: str
    auth_string: str
    state_db_url: str
    tmp: Path
    sandbox: Any  # the sandbox's in-process state (its FFN outbounds, its fault profile)
    sandbox_env: dict[str, str]
    workers: list[Proc] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    setup_seconds: dict[str, float] = field(default_factory=dict)

    # -- processes ---------------------------------------------------------------------------------

    def env(self, name: str, **extra: str) -> dict[str, str]:
        """A client's environment: the API and its credentials, its own PREFECT_HOME, no JTL_* secrets."""
        home = self.tmp / f"home-{name}"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JTL_", "PREFECT_"))}
        env.update(
            {
                "PREFECT_HOME": str(home),
                "PREFECT_API_URL": self.api_url,
                "PREFECT_API_AUTH_STRING": self.auth_string,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                # The flow runs import this checkout (an editable install may point at another one).
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
                "JTL_AUTOMATOR_HOME": str(ROOT),
            }
        )
        env.update(extra)
        return env

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> Proc:
        """Start a process in its own session, output to tmp/<name>.log."""
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str | None = None) -> Proc:
        """``prefect worker start`` on the pool, as an operator runs it (polling every 2 s here)."""
        name = name or f"stack-worker-{len(self.workers) + 1}"
        command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", name]
        command += ["--type", "process"]
        worker = self.spawn(name, command, self.env(name, PREFECT_WORKER_QUERY_SECONDS=WORKER_QUERY_SECONDS))
        self.workers.append(worker)
        return worker

    def cli(
        self, *args: str, name: str = "cli", timeout: float = 300, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """``jtl-automator …`` with this stack's environment (plus ``extra``)."""
        return subprocess.run(
            [sys.executable, "-m", "jtl_automator.cli", *args],
            cwd=ROOT,
            env=self.env(name, **extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def prefect(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The ``prefect`` CLI against this stack."""
        return subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=ROOT,
            env=self.env("prefect-cli"),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def setup_args(self, *deployments: str) -> list[str]:
        """``stack setup --deployment …``."""
        return ["stack", "setup", *(arg for name in deployments for arg in ("--deployment", name))]

    def setup_env(self, **extra: str) -> dict[str, str]:
        """What ``stack setup`` gets: the sandbox's credentials (they go into blocks), the state database."""
        return {**self.sandbox_env, "JTL_DATABASE_URL": self.state_db_url, **extra}

    def setup(self, *deployments: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``jtl-automator stack setup --deployment …`` (deploy more, or again)."""
        return self.cli(*self.setup_args(*deployments), name="setup", timeout=600, **self.setup_env(**extra))

    # -- the API -----------------------------------------------------------------------------------

    def api(self) -> httpx.Client:
        """An HTTP client on the API with the credentials."""
        user, _, password = self.auth_string.partition(":")
        return httpx.Client(base_url=self.api_url, auth=(user, password), timeout=30)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; its JSON."""
        with self.api() as http:
            response = http.request(method, path, **kwargs)
            response.raise_for_status()
            return response.json() if response.content else None

    def deployment(self, flow: str, name: str) -> dict[str, Any]:
        """A deployment by flow and deployment name."""
        found: dict[str, Any] = self.call("GET", f"/deployments/name/{flow}/{name}")
        return found

    def run_deployment(self, flow: str, name: str, parameters: dict[str, Any] | None = None) -> str:
        """Trigger a run now (as the UI's "Quick run" does); its id."""
        deployment = self.deployment(flow, name)
        run = self.call(
            "POST", f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": parameters or {}}
        )
        return str(run["id"])

    def flow_run(self, run_id: str) -> dict[str, Any]:
        """A flow run as the API has it."""
        run: dict[str, Any] = self.call("GET", f"/flow_runs/{run_id}")
        return run

    def flow_runs(self, deployment_ids: list[str]) -> list[dict[str, Any]]:
        """Every run of these deployments."""
        runs: list[dict[str, Any]] = self.call(
            "POST",
            "/flow_runs/filter",
            json={"flow_runs": {"deployment_id": {"any_": deployment_ids}}, "limit": 200},
        )
        return runs

    def states(self, run_id: str) -> list[dict[str, Any]]:
        """A run's state history, oldest first."""
        states: list[dict[str, Any]] = self.call("GET", "/flow_run_states/", params={"flow_run_id": run_id})
        return sorted(states, key=lambda s: s["timestamp"])

    def wait(self, run_id: str, timeout: float, until: set[str] | None = None) -> dict[str, Any]:
        """Poll a run until its state type is in ``until`` (default: terminal)."""
        until = until or TERMINAL
        deadline = time.monotonic() + timeout
        while True:
            run = self.flow_run(run_id)
            if run["state_type"] in until:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"run {run['name']} is {run['state_type']} after {timeout:.0f} s\n" + self.diagnostics()
                )
            time.sleep(1.0)

    def deactivate_schedules(self, deployment_id: str) -> None:
        """Switch a deployment's schedules off (the server drops their future runs); manual runs still go."""
        deployment = self.call("GET", f"/deployments/{deployment_id}")
        for schedule in deployment["schedules"]:
            self.call(
                "PATCH", f"/deployments/{deployment_id}/schedules/{schedule['id']}", json={"active": False}
            )

    def wait_idle(self, deployment_id: str, timeout: float = 180) -> None:
        """Wait until no run of the deployment is due, pending or running (each one ends terminal)."""
        now = datetime.now(UTC)
        for run in self.flow_runs([deployment_id]):
            if (
                run["state_type"] not in TERMINAL
                and datetime.fromisoformat(run["expected_start_time"]) <= now
            ):
                self.wait(run["id"], timeout)

    def online_workers(self) -> list[str]:
        """Names of the pool's workers the server sees as online."""
        workers = self.call("POST", f"/work_pools/{POOL}/workers/filter", json={})
        return sorted(w["name"] for w in workers if w.get("status") == "ONLINE")

    def worker_of(self, run: dict[str, Any]) -> Proc:
        """The worker whose process tree runs this flow run (its infrastructure pid)."""
        pid = int(str(run["infrastructure_pid"]).rsplit(":", 1)[-1])
        for worker in self.workers:
            if pid in {p.pid for p in worker.tree()}:
                return worker
        raise AssertionError(f"no worker runs pid {pid}")

    def diagnostics(self) -> str:
        """The end of every process's log (what a failing assertion shows)."""
        return "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in self.procs)


def _postgres_url(database: str, driver: str) -> str:
    from sqlalchemy.engine import make_url

    return (
        make_url(POSTGRES_URL)
        .set(drivername=f"postgresql+{driver}", database=database)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(scope="session")
def stack_databases() -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases (Prefect's own, the state), dropped with FORCE afterwards."""
    import sqlalchemy as sa

    suffix = uuid.uuid4().hex[:10]
    names = (f"stack_prefect_{suffix}", f"stack_state_{suffix}")
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield _postgres_url(names[0], "asyncpg"), _postgres_url(names[1], "psycopg2")
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def production_stack(
    stack_databases: tuple[str, str], tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """Server (PostgreSQL, basic auth), sandbox, ``stack setup`` of STACK_DEPLOYMENTS, two workers."""
    reason = _sqlalchemy_can_schedule()
    if reason:
        pytest.fail(reason)
    import json

    from jtl_automator.sandbox.app import create_app
    from jtl_automator.sandbox.config import SandboxConfig
    from jtl_automator.sandbox.generator import generate
    from jtl_automator.sandbox.server import credentials_env, serve_in_thread
    from jtl_automator.sandbox.sheets import make_service_account_info

    prefect_db, state_db = stack_databases
    tmp = tmp_path_factory.mktemp("stack")
    port = _free_port()
    auth_string = f"stack-admin:{secrets.token_urlsafe(24)}"
    strict = request.config.getoption("--sandbox") == "strict"
    config = SandboxConfig.strictest() if strict else SandboxConfig()
    app = create_app(generate(seed=5, skus=150, orders=40, customers=30), config)
    started = time.monotonic()
    with serve_in_thread(app) as sandbox:
        key_file = tmp / "service-account.json"
        key_file.write_text(json.dumps(make_service_account_info(sandbox.base_url)))
        stack = Stack(
            api_url=f"http://127.0.0.1:{port}/api",
            auth_string=auth_string,
            state_db_url=state_db,
            tmp=tmp,
            sandbox=app.state.sandbox,
            sandbox_env=credentials_env(sandbox.base_url, config, str(key_file)),
        )
        server_env = {k: v for k, v in os.environ.items() if not k.startswith(("JTL_", "PREFECT_"))}
        server_env.update(
            {
                "PREFECT_HOME": str(tmp / "home-server"),
                "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db,
                "PREFECT_SERVER_API_AUTH_STRING": auth_string,
                "PREFECT_SERVER_API_HOST": "127.0.0.1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
            }
        )
        server = stack.spawn(
            "server",
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            server_env,
        )
        # The setup waits for the API by itself (as in compose): its imports overlap the server's start.
        setup = stack.spawn(
            "setup",
            [sys.executable, "-m", "jtl_automator.cli", *stack.setup_args(*STACK_DEPLOYMENTS)],
            stack.env("setup", **stack.setup_env()),
        )
        try:
            _wait_healthy(stack, server, timeout=240)
            stack.setup_seconds["server_ready"] = round(time.monotonic() - started, 1)
            for _ in range(2):
                stack.start_worker()
            assert setup.popen.wait(timeout=600) == 0, stack.diagnostics()
            stack.setup_seconds["setup_done"] = round(time.monotonic() - started, 1)
            deadline = time.monotonic() + 120
            while len(stack.online_workers()) < 2:
                assert time.monotonic() < deadline, "workers not online\n" + stack.diagnostics()
                time.sleep(1)
            stack.setup_seconds["workers_online"] = round(time.monotonic() - started, 1)
            (tmp / "timings.txt").write_text(repr(stack.setup_seconds))
            yield stack
        finally:
            for proc in stack.procs:
                proc.interrupt()
            deadline = time.monotonic() + 10
            for proc in reversed(stack.procs):
                proc.stop(timeout=max(0.1, deadline - time.monotonic()))


def _wait_healthy(stack: Stack, server: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert server.popen.poll() is None, "prefect server exited\n" + server.tail()
        try:
            if httpx.get(f"{stack.api_url}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "prefect server not healthy\n" + server.tail()
        time.sleep(0.5)


def parse_time(value: str) -> datetime:
    """An API timestamp (aware)."""
    return datetime.fromisoformat(value)
