"""A real ``prefect server start`` for the alert tests: the triggers, actions and late-runs services.

The session's ``prefect_test_harness`` (tests/flows) runs the triggers and actions services too (they are
marked to run in ephemeral servers), but not the late-runs service that turns an unstarted scheduled run
Late, and it is shared by every flow test. So these tests start their own server once per module:
SQLite in a temporary PREFECT_HOME, loopback only, scheduler off (the tests make their runs).

The server must know the project's notification blocks: the package declares them as a Prefect
collection in pyproject.toml. The shared venv's install may predate that declaration, so the server gets
the same entry point, read from pyproject.toml, in a small ``.dist-info`` folder on its PYTHONPATH; once
the install has it, that folder is not written.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUP = "prefect.collections"


@dataclass(frozen=True)
class PrefectServer:
    """A running server: its API URL and where its log goes."""

    api_url: str
    home: Path
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        """The end of the server's log without the access lines, for a failing assertion.

        A failed action says why there (``Action failed: ... No block class found ...``).
        """
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        kept = [line for line in text.splitlines() if not line.startswith("INFO:     127.0.0.1")]
        return "\n".join(kept[-lines:])


def collection_entry_points() -> dict[str, str]:
    """The ``prefect.collections`` entry points pyproject.toml declares."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(project.get("entry-points", {}).get(GROUP, {}))


def installed_entry_points() -> dict[str, str]:
    """The collections of the jtl-automator distribution installed in site-packages.

    Not ``entry_points()``: a build folder in the checkout (``jtl_automator.egg-info``, left by a wheel
    build) may shadow it on this process's path, while the server puts site-packages first (uvicorn's
    ``app_dir``), so the installed one is what the server sees.
    """
    purelib = sysconfig.get_paths()["purelib"]
    found: dict[str, str] = {}
    for dist in distributions(path=[purelib]):
        if (dist.metadata["Name"] or "").lower().replace("_", "-") == "jtl-automator":
            found.update({ep.name: ep.value for ep in dist.entry_points if ep.group == GROUP})
    return found


def entry_point_site(folder: Path) -> Path | None:
    """A folder with a ``.dist-info`` declaring the entry points, unless the installed package has them."""
    declared = collection_entry_points()
    installed = installed_entry_points()
    if all(installed.get(name) == value for name, value in declared.items()):
        return None
    info = folder / "jtl_automator_collection-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: jtl-automator-collection\nVersion: 0.0.0\n")
    lines = [f"[{GROUP}]", *(f"{name} = {value}" for name, value in declared.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (started by this fixture), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """``prefect server start`` on a free loopback port; the test process's Prefect client points at it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    home = tmp_path_factory.mktemp("prefect-server")
    site = entry_point_site(home / "site")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_LOGGING_SERVER_LEVEL": "INFO",
            "JTL_AUTOMATOR_HOME": str(ROOT),
            "PYTHONPATH": os.pathsep.join([str(ROOT), *([str(site)] if site else [])]),
        }
    )
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = PrefectServer(f"http://127.0.0.1:{port}/api", home, log)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"prefect server exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server not healthy within 180 s:\n{server.log_tail()}")
            time.sleep(0.5)
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield server
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)  # the runs' last log lines, while the server still listens
            EventsWorker.drain_all(timeout=10)
    finally:
        _stop(process)
