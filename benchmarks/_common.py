"""Shared plumbing: results and their markdown, the sandbox server, clients, subprocesses, memory.

Client-side work runs in a fresh (spawned) process while the sandbox serves from a thread of this
one: the client then has its own interpreter (no GIL shared with uvicorn, as with a real remote API)
and its peak memory is its own, not the generated world's.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import re
import resource
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.resilience import RateLimiter
from jtl_automator.sandbox.app import SandboxState, create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData
from jtl_automator.sandbox.server import RunningServer, serve_in_thread

T = TypeVar("T")
RESULTS_FILE = Path(__file__).with_name("RESULTS.md")
#: A rate the limiter never reaches on loopback: throughput runs are bounded by the work, not the bucket.
UNTHROTTLED_RATE = 1_000_000.0


# --- results ---------------------------------------------------------------------------------------------


@dataclass
class Metric:
    """One figure; ``passed`` is None for figures that have no target (context for the others)."""

    name: str
    value: str
    target: str = ""
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else ("pass" if self.passed else "**FAIL**")


@dataclass
class Result:
    """A benchmark's figures, the parameters that produced them, and notes on how to read them."""

    name: str
    title: str
    params: dict[str, Any]
    metrics: list[Metric]
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # the measured numbers, for tests and tooling
    #: The exact command (default: ``python -m benchmarks <name>``); latency modes add their options.
    command: str | None = None

    @property
    def passed(self) -> bool:
        return all(m.passed is not False for m in self.metrics)

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)

    def markdown(self, machine: dict[str, str] | None = None) -> str:
        machine = machine or machine_info()
        params = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in self.params.items())
        lines = [
            f"## {self.title}",
            "",
            f"Command: `{self.command or f'.venv/bin/python -m benchmarks {self.name}'}`  ",
            f"Parameters: {params}  ",
            f"Machine: {machine['machine']}; measured {machine['date']}",
            "",
            "| metric | value | target | result |",
            "|---|---:|---|---|",
        ]
        lines += [f"| {m.name} | {m.value} | {m.target} | {m.verdict} |" for m in self.metrics]
        if self.notes:
            lines += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines)


def machine_info() -> dict[str, str]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    cpu = platform.processor() or platform.machine()
    return {
        "machine": (
            f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
            f"load average at start {load}"
        ),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def fmt_int(value: float) -> str:
    return f"{round(value):,}"


def fmt_s(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds:,.0f} s ({seconds / 60:,.1f} min)"
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def fmt_x(ratio: float) -> str:
    return f"{ratio:,.2f}x" if ratio < 100 else f"{ratio:,.0f}x"


_SECTION = re.compile(r"<!-- bench:(?P<name>[\w-]+) -->\n.*?<!-- /bench:(?P=name) -->\n", re.S)


def write_results(results: list[Result], path: Path = RESULTS_FILE) -> None:
    """Replace the sections of the given benchmarks in RESULTS.md, keeping the others."""
    machine = machine_info()
    text = path.read_text() if path.exists() else ""
    sections = {m["name"]: m.group(0) for m in _SECTION.finditer(text)}
    for result in results:
        sections[result.name] = (
            f"<!-- bench:{result.name} -->\n{result.markdown(machine)}\n<!-- /bench:{result.name} -->\n"
        )
    from benchmarks import BENCHMARKS  # order of the file = order of the registry

    # A benchmark's latency modes (``<name>-latency-<profile>``) follow its loopback section.
    ordered = [
        sections[key]
        for n in BENCHMARKS
        for key in [n, *sorted(k for k in sections if k.startswith(f"{n}-latency-"))]
        if key in sections
    ]
    header = (
        "# Benchmark results\n\n"
        "Produced by `.venv/bin/python -m benchmarks --write-results` (or with benchmark names to refresh\n"
        "only those sections). Each section names its exact command, machine and date. Targets come from\n"
        "issues 3, 4, 5, 9 and 11; every ratio is against a baseline measured in the same run. Sections\n"
        "named `<benchmark>-latency-<profile>` (`--profile`, issue 17) run against the sandbox's latency\n"
        "profiles and compare with the bound the APIs' limits allow (docs/latency.md).\n\n"
    )
    path.write_text(header + "\n".join(ordered))


# --- sandbox and clients -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SandboxInfo:
    """What a client process needs to reach the sandbox (its credentials are sandbox-only values)."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    service_account: dict[str, Any] | None = field(default=None, repr=False)


@contextmanager
def serve_sandbox(
    data: SandboxData, config: SandboxConfig, *, service_account: bool = False
) -> Iterator[tuple[SandboxInfo, SandboxState, RunningServer]]:
    """The sandbox over real loopback HTTP (uvicorn in a thread of this process)."""
    from jtl_automator.sandbox.sheets import make_service_account_info

    app = create_app(data, config)
    state: SandboxState = app.state.sandbox
    with serve_in_thread(app) as server:
        info = SandboxInfo(
            base_url=server.base_url,
            client_id=config.ffn_client_id,
            client_secret=config.ffn_client_secret,
            refresh_token=config.ffn_initial_refresh_token,
            service_account=make_service_account_info(server.base_url) if service_account else None,
        )
        yield info, state, server


def ffn_client(
    info: SandboxInfo, db_dir: str, rate_per_second: float = UNTHROTTLED_RATE, burst: int = 1
) -> FfnClient:
    """An FfnClient built the way flows build it (settings + SQLite token store)."""
    from pydantic import SecretStr

    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore

    settings = Settings(
        _env_file=None,
        ffn_base_url=f"{info.base_url}/api",
        ffn_token_url=f"{info.base_url}/oauth2/token",
        ffn_client_id=info.client_id,
        ffn_client_secret=SecretStr(info.client_secret),
        ffn_refresh_token=SecretStr(info.refresh_token),
        ffn_rate_per_second=rate_per_second,
    )
    store = StateStore(f"sqlite:///{Path(db_dir) / 'state.db'}")
    return FfnClient.from_settings(settings, store, limiter=RateLimiter(rate_per_second, burst=burst))


def client_env(info: SandboxInfo, config: SandboxConfig, db_dir: str, **extra: str) -> dict[str, str]:
    """The ``JTL_*`` environment of a spawned client process: sandbox credentials, SQLite in ``db_dir``,
    client rate limits unthrottled (the benchmark measures the work, not the bucket), then ``extra``."""
    from jtl_automator.sandbox.server import credentials_env

    env = credentials_env(info.base_url, config, None)
    env.update(
        JTL_DATABASE_URL=f"sqlite:///{db_dir}/state.db",
        JTL_FFN_RATE_PER_SECOND=str(UNTHROTTLED_RATE),
        JTL_WAWI_RATE_PER_SECOND=str(UNTHROTTLED_RATE),
    )
    env.update(extra)
    return env


def served_by_api(state: SandboxState) -> Counter[str]:
    """Requests the sandbox answered so far, per API (its own counter, independent of the client's)."""
    return Counter(state.runtime.get("requests", {}).get("by_api", {}))


def ffn_requests(state: SandboxState) -> int:
    """FFN API requests the sandbox received so far (its own counter, independent of the client's)."""
    return served_by_api(state)["ffn"]


# --- processes and memory ------------------------------------------------------------------------------


def in_subprocess(func: Callable[..., T], *args: Any) -> T:
    """Run ``func(*args)`` in a freshly spawned interpreter and return its (picklable) result.

    The interpreter starts as a flow's process does (``jtl_automator.runtime.prepare_process``).
    """
    from jtl_automator.runtime import prepare_process

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1, maxtasksperchild=1, initializer=prepare_process) as pool:
        return pool.apply(func, args)


def _status_kb(field_name: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's high-water resident set size since exec (or since :func:`reset_peak_rss`).

    Linux's VmHWM, not ``ru_maxrss``: the latter survives exec, so a process spawned by a big parent
    would report the parent's size.
    """
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm / 1024
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def reset_peak_rss() -> bool:
    """Restart the high-water mark at the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def rss_mb() -> float:
    """The current resident set size."""
    current = _status_kb("VmRSS")
    return current / 1024 if current is not None else peak_rss_mb()
