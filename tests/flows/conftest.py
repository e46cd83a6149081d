"""Flow tests share ONE Prefect test server per session (~20 s to start); nothing else starts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Start Prefect's test harness once, with a generous start-up timeout for loaded 2-core machines."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _use_harness(prefect_harness: None) -> None:
    """Every test in tests/flows runs against the shared harness."""


# -- a sandbox for flows ---------------------------------------------------------------------------

import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


@dataclass
class FlowSandbox:
    """A running sandbox the flow's clients reach through the ``JTL_*`` environment."""

    state: Any
    base_url: str
    tmp: Path

    def sheets_requests(self, endpoint: str) -> int:
        """How often the sandbox Sheets API served ``endpoint`` (e.g. values.batchUpdate)."""
        return int(self.state.runtime.get("sheets_requests", {}).get(endpoint, 0))

    def set_faults(self, profile: Any) -> None:
        """Switch the sandbox's fault profile."""
        from jtl_automator.sandbox.faults import set_profile

        set_profile(self.state, profile)


@pytest.fixture
def flow_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, sandbox_config: Any
) -> Iterator[FlowSandbox]:
    """Generated data served over real HTTP; a fresh SQLite state database per test.

    The sandbox follows ``--sandbox`` (lenient or strict); parametrize it indirectly with a
    ``SandboxConfig`` (e.g. ``SandboxConfig.strictest()``) to pin one test to other settings, or with a
    dict of field overrides applied on top of the ``--sandbox`` config.
    """
    from jtl_automator.sandbox.app import create_app
    from jtl_automator.sandbox.generator import generate
    from jtl_automator.sandbox.server import credentials_env, serve_in_thread
    from jtl_automator.sandbox.sheets import make_service_account_info
    from jtl_automator.settings import get_settings

    param = getattr(request, "param", None)
    if isinstance(param, dict):
        config = sandbox_config(**{"sheets_requests_per_minute": 10_000, **param})
    else:
        config = param or sandbox_config(sheets_requests_per_minute=10_000)
    app = create_app(generate(seed=5, skus=150, orders=40, customers=30), config)
    with serve_in_thread(app) as server:
        key_file = tmp_path / "service-account.json"
        key_file.write_text(json.dumps(make_service_account_info(server.base_url)))
        for name, value in credentials_env(server.base_url, config, str(key_file)).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("JTL_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
        monkeypatch.setenv("JTL_RETRY_BUDGET_SECONDS", "60")
        get_settings.cache_clear()
        yield FlowSandbox(app.state.sandbox, server.base_url, tmp_path)
    get_settings.cache_clear()


def save_smtp_block(name: str, smtp: Any, sender: str) -> None:
    """Save an SmtpServer block for the test SMTP server (``jtl_automator.sandbox.smtp.SmtpTestServer``)."""
    from pydantic import SecretStr

    from blocks import SmtpServer

    SmtpServer(
        host="127.0.0.1",
        port=smtp.port,
        security="none",
        allow_plaintext_login=True,  # the test server speaks no TLS
        sender=sender,
        username=smtp.state.username,
        password=SecretStr(smtp.state.password),
    ).save(name, overwrite=True)


def run_concurrently(run: Any, times: int = 2, timeout: float = 180) -> list[Any]:
    """Call ``run()`` from ``times`` threads at once; every result, or the first error re-raised."""
    import threading

    results: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(run())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
    assert len(results) == times, "a run did not finish in time"
    return results
