"""Test-wide setup: an isolated Prefect home, the PostgreSQL switch and store fixtures for both dialects.

Prefect-related environment must be set before anything imports prefect, so it happens at import.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.clock import FakeClock

_PREFECT_HOME = tempfile.mkdtemp(prefix="jtl-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# Unit tests must never start an ephemeral Prefect server by accident (15 s each); flow tests use the harness.
os.environ["PREFECT_SERVER_EPHEMERAL_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
for _name in [n for n in os.environ if n.startswith("JTL_") and n != "JTL_TEST_POSTGRES_URL"]:
    del os.environ[_name]

POSTGRES_URL = os.environ.get("JTL_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _postgres_unreachable_reason() -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        return f"PostgreSQL not reachable at JTL_TEST_POSTGRES_URL ({type(exc).__name__}: {first_line})"
    return None


_PG_REASON: str | None = None
_PG_CHECKED = False


def postgres_skip_reason() -> str | None:
    """Checked once per session; the reason is printed in the skip summary."""
    global _PG_CHECKED, _PG_REASON
    if not _PG_CHECKED:
        _PG_REASON = _postgres_unreachable_reason()
        _PG_CHECKED = True
    return _PG_REASON


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--sandbox strict`` runs the sandbox-backed tests against ``SandboxConfig.strictest()``."""
    parser.addoption(
        "--sandbox",
        choices=("lenient", "strict"),
        default=os.environ.get("JTL_TEST_SANDBOX", "lenient"),
        help="lenient: the sandbox's documented defaults; strict: where the reference is silent, the "
        "strictest plausible behaviour (make test runs the flow and service tests both ways)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``postgres`` tests with the reason when no server is reachable (CI always has one)."""
    if not any(item.get_closest_marker("postgres") for item in items):
        return
    reason = postgres_skip_reason()
    if reason is None:
        return
    if os.environ.get("JTL_REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError(f"JTL_REQUIRE_POSTGRES=1 but {reason}")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards; the URL selects it via search_path."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    """A SQLite file in the test's temporary folder."""
    return f"sqlite:///{tmp_path}/state.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same store tests run on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> FakeClock:
    """Fake time shared by a test's clients, policies and sandbox (see tests/support/clock.py)."""
    return FakeClock()


@pytest.fixture
def sandbox_config(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Builds the SandboxConfig of this test run: lenient, or strictest with ``--sandbox strict``."""
    from jtl_automator.sandbox.config import SandboxConfig

    strict = request.config.getoption("--sandbox") == "strict"

    def make(**overrides: Any) -> SandboxConfig:
        return SandboxConfig.strictest(**overrides) if strict else SandboxConfig(**overrides)

    return make


@pytest.fixture(autouse=True)
def _fresh_or_filter_detection() -> Iterator[None]:
    """Each test starts in a process that has not yet seen FFN refuse ``or`` filters (strict sandbox)."""
    from jtl_automator.clients.ffn.client import reset_or_filter_detection

    reset_or_filter_detection()
    yield
    reset_or_filter_detection()
