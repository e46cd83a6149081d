"""The CLI against a sandbox served over real HTTP: sandbox serve, auth ffn, auth wawi, run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from jtl_automator.auth_commands import (
    AuthFlowError,
    authorize_ffn,
    code_from_redirect,
    deployments_write_purchase_orders,
    register_wawi,
    scopes_to_register,
    write_env_secret,
)
from jtl_automator.cli import app
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[str, SandboxConfig]]:
    config = SandboxConfig()
    with serve_in_thread(create_app(generate(seed=2, skus=50, orders=10, customers=5), config)) as server:
        yield server.base_url, config


def _settings(base_url: str, config: SandboxConfig, **extra: object) -> Settings:
    env = credentials_env(base_url, config, None)
    values = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
    return Settings(**{**values, **extra})  # type: ignore[arg-type]


def test_code_from_redirect_checks_state() -> None:
    assert code_from_redirect("http://cb/?code=abc&state=s1", "s1") == "abc"
    with pytest.raises(AuthFlowError, match="whole URL"):
        code_from_redirect("  abc  ", "s1")  # a bare code carries no state
    with pytest.raises(AuthFlowError, match="no state"):
        code_from_redirect("http://cb/?code=abc", "s1")
    with pytest.raises(AuthFlowError, match="state"):
        code_from_redirect("http://cb/?code=abc&state=other", "s1")
    with pytest.raises(AuthFlowError, match="refused"):
        code_from_redirect("http://cb/?error=access_denied&state=s1", "s1")
    with pytest.raises(AuthFlowError, match="no code"):
        code_from_redirect("http://cb/?state=s1", "s1")


@pytest.mark.slow
def test_auth_ffn_pasted_redirect_stores_an_encrypted_token(
    sandbox: tuple[str, SandboxConfig], tmp_path: Path
) -> None:
    base_url, config = sandbox
    settings = _settings(base_url, config, ffn_refresh_token=None)
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    shown: list[str] = []

    def ask(_question: str) -> str:
        # The "person" opens the URL; the sandbox approves at once and redirects with the code.
        redirect = httpx.get(shown[-1], follow_redirects=False)
        return redirect.headers["location"]

    grant = authorize_ffn(settings, store, ask=ask, tell=shown.append)
    assert grant.access_expires_at is not None
    record = store.read_token("ffn")
    assert record is not None and record.refresh_token
    assert not record.refresh_token.startswith("def502")  # stored encrypted, not as issued


def test_auth_ffn_follow_then_the_client_works(sandbox: tuple[str, SandboxConfig], tmp_path: Path) -> None:
    from jtl_automator.clients.ffn.client import FfnClient

    base_url, config = sandbox
    settings = _settings(base_url, config, ffn_refresh_token=None)
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    authorize_ffn(settings, store, ask=lambda _: "", tell=lambda _: None, follow=True)
    ffn = FfnClient.from_settings(settings, store)
    assert ffn.users.current().user_id


def test_auth_wawi_registration_and_env_file(sandbox: tuple[str, SandboxConfig], tmp_path: Path) -> None:
    base_url, config = sandbox
    result = register_wawi(_settings(base_url, config), poll_interval=0.01, timeout=5)
    assert result.api_key.get_secret_value() == config.wawi_api_key
    env = tmp_path / ".env"
    env.write_text("OTHER=1\nJTL_WAWI_API_KEY=old\n")
    write_env_secret(env, "JTL_WAWI_API_KEY", result.api_key)
    assert env.read_text() == f"OTHER=1\nJTL_WAWI_API_KEY={config.wawi_api_key}\n"
    assert oct(env.stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
def test_auth_ffn_follow_explains_a_redirect_uri_the_server_does_not_know(
    sandbox: tuple[str, SandboxConfig], tmp_path: Path
) -> None:
    base_url, config = sandbox
    settings = _settings(base_url, config, ffn_redirect_uri="http://127.0.0.1:9999/elsewhere")
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(AuthFlowError, match=r"401 without a redirect.*invalid_client.*JTL_FFN_REDIRECT_URI"):
        authorize_ffn(settings, store, ask=lambda _: "", tell=lambda _: None, follow=True)
    assert store.read_token("ffn") is None


def test_credentials_name_the_registered_redirect_uri(sandbox: tuple[str, SandboxConfig]) -> None:
    base_url, config = sandbox
    env = credentials_env(base_url, config, None)
    assert env["JTL_FFN_REDIRECT_URI"] == config.ffn_redirect_uri
    cloud = credentials_env(base_url, config, None, wawi_flavour="cloud")
    assert cloud["JTL_WAWI_FLAVOUR"] == "cloud" and "JTL_WAWI_API_KEY" not in cloud
    assert cloud["JTL_WAWI_TENANT_ID"] == config.wawi_cloud_tenant_id


@pytest.fixture
def strict_sandbox() -> Iterator[tuple[str, SandboxConfig]]:
    config = SandboxConfig.strictest()
    with serve_in_thread(create_app(generate(seed=2, skus=20, orders=5, customers=5), config)) as server:
        yield server.base_url, config


@pytest.mark.slow
def test_auth_wawi_against_a_strict_wawi_waits_for_the_window_and_gets_a_key_of_its_own(
    strict_sandbox: tuple[str, SandboxConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.settings import get_settings

    base_url, config = strict_sandbox
    for name, value in credentials_env(base_url, config, None).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JTL_WAWI_API_KEY")
    get_settings.cache_clear()
    env_file = tmp_path / ".env"
    try:
        closed = CliRunner().invoke(app, ["auth", "wawi", "--env-file", str(env_file), "--timeout", "5"])
        assert closed.exit_code == 1
        assert "App-Registrierung" in closed.output and "Traceback" not in closed.output
        assert not env_file.exists()

        httpx.put(f"{base_url}/_sandbox/wawi/registration-window", json={"open": True})
        result = register_wawi(get_settings(), poll_interval=0.01, timeout=5)
    finally:
        get_settings.cache_clear()
    key = result.api_key.get_secret_value()
    assert key != config.wawi_api_key  # strict: every registration gets its own key ...
    wawi = WawiClient.from_settings(_settings(base_url, config, wawi_api_key=key))
    assert list(wawi.warehouses.list())  # ... which works, with the scopes it was granted


PLAN_DEPLOYMENT = """
deployments:
  - name: stock-sync
    entrypoint: flows/stock_sync.py:stock_sync
    parameters: {params: {wawi_purchase_orders: true}}
  - name: plan-execution
    entrypoint: flows/plan_execution.py:plan_execution
    parameters: {params: {send_email: false}}
    schedules:
      - cron: "*/30 * * * *"
        parameters: {params: {wawi_purchase_orders: WAWI}}
"""


def test_the_registration_asks_for_the_purchase_order_scope_where_a_deployment_writes_them(
    tmp_path: Path,
) -> None:
    from jtl_automator.sandbox.wawi.guard import required_scopes
    from jtl_automator.settings import WAWI_APP_SCOPES, WAWI_PURCHASE_ORDER_SCOPE

    assert required_scopes("POST", "/v2/purchase-orders") == (WAWI_PURCHASE_ORDER_SCOPE,)  # what Wawi checks
    off, on = tmp_path / "off.yaml", tmp_path / "on.yaml"
    off.write_text(PLAN_DEPLOYMENT.replace("WAWI", "false"))  # another flow's params do not count
    on.write_text(PLAN_DEPLOYMENT.replace("WAWI", "true"))  # a schedule's parameters count
    assert not deployments_write_purchase_orders(off) and deployments_write_purchase_orders(on)
    root = Path(__file__).resolve().parents[2]
    assert not deployments_write_purchase_orders(root / "prefect.yaml")  # off in the shipped deployments
    assert scopes_to_register(None, off) == WAWI_APP_SCOPES
    assert scopes_to_register(None, on) == (*WAWI_APP_SCOPES, WAWI_PURCHASE_ORDER_SCOPE)
    assert scopes_to_register(True, None) == scopes_to_register(None, on)
    assert scopes_to_register(False, on) == WAWI_APP_SCOPES


def test_auth_wawi_asks_for_the_scopes_and_names_those_not_granted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jtl_automator.auth_commands as auth_commands
    from jtl_automator.clients.wawi.registration import RegistrationResult
    from jtl_automator.settings import WAWI_APP_SCOPES, WAWI_PURCHASE_ORDER_SCOPE, get_settings

    asked: list[tuple[str, ...]] = []

    def register(settings: Settings, **kwargs: object) -> RegistrationResult:
        asked.append(tuple(kwargs["scopes"]))  # type: ignore[arg-type]
        return RegistrationResult(SecretStr("k3y"), WAWI_APP_SCOPES, "R-1")

    monkeypatch.setattr(auth_commands, "register_wawi", register)
    env = tmp_path / ".env"
    try:
        result = CliRunner().invoke(app, ["auth", "wawi", "--env-file", str(env), "--purchase-orders"])
    finally:
        get_settings.cache_clear()  # the command cached this machine's settings; later tests set their own
    assert result.exit_code == 0, result.output
    assert asked == [(*WAWI_APP_SCOPES, WAWI_PURCHASE_ORDER_SCOPE)]
    assert f"asking for the scopes: {', '.join(asked[0])}" in result.stdout
    assert f"Warning: not granted: {WAWI_PURCHASE_ORDER_SCOPE}" in result.stderr
    assert "k3y" not in result.output and env.read_text() == "JTL_WAWI_API_KEY=k3y\n"


def test_auth_wawi_refuses_the_cloud_flavour(sandbox: tuple[str, SandboxConfig]) -> None:
    base_url, config = sandbox
    settings = _settings(base_url, config, wawi_flavour="cloud")
    with pytest.raises(AuthFlowError, match="Partner Portal"):
        register_wawi(settings)


def test_auth_wawi_needs_a_destination_for_the_key() -> None:
    result = CliRunner().invoke(app, ["auth", "wawi"])
    assert result.exit_code != 0 and "--env-file" in result.output


def test_run_rejects_unknown_mode() -> None:
    result = CliRunner().invoke(app, ["run", "inbound-verification", "--sheet", "x.xlsx", "--mode", "weekly"])
    assert result.exit_code != 0 and "mode" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["onprem", "cloud"])
def test_sandbox_serve_writes_credentials_that_work(tmp_path: Path, flavour: str) -> None:
    creds = tmp_path / "sandbox.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jtl_automator.cli",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--skus",
            "30",
            "--credentials-out",
            str(creds),
            "--wawi-flavour",
            flavour,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 60
        while not creds.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert creds.exists(), "no credentials written"
        time.sleep(0.3)
        env = json.loads(creds.read_text())
        wawi_secret = "JTL_WAWI_API_KEY" if flavour == "onprem" else "JTL_WAWI_CLIENT_SECRET"
        assert {"JTL_FFN_BASE_URL", "JTL_FFN_REFRESH_TOKEN", "JTL_FFN_REDIRECT_URI", wawi_secret} <= set(env)
        assert env["JTL_WAWI_FLAVOUR"] == flavour
        settings = Settings(**{k.removeprefix("JTL_").lower(): v for k, v in env.items()})
        store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
        from jtl_automator.clients.ffn.client import FfnClient
        from jtl_automator.clients.wawi.client import WawiClient

        assert len(list(FfnClient.from_settings(settings, store).products.list())) == 30
        assert list(WawiClient.from_settings(settings).warehouses.list())
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "sandbox serving on http://127.0.0.1:" in out
    assert proc.returncode in (0, -15)


@pytest.mark.slow
def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'state.db'}"
    result = CliRunner().invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert "state database at head" in result.output
    assert {"oauth_tokens", "order_ledger", "leases"} <= set(
        sa.inspect(sa.create_engine(url)).get_table_names()
    )


@pytest.mark.slow
def test_orders_lease_shows_and_breaks_the_lease(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("JTL_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(app, ["orders", "lease"]).output == "lease 'order-processing' is free\n"
    store = StateStore(url)
    assert store.acquire_lease("order-processing", "run-42", timedelta(minutes=2))
    shown = runner.invoke(app, ["orders", "lease"])
    assert shown.exit_code == 0 and "is held by run run-42 for 0 min (expires " in shown.output
    broken = runner.invoke(app, ["orders", "lease", "--break"])
    assert "was held by run run-42" in broken.output and "broken" in broken.output
    assert store.lease("order-processing") is None
    store.dispose()
