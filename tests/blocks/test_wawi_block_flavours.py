"""The Wawi credentials block in both flavours: the fields each needs, a client that reaches the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr, ValidationError

from blocks import JtlWawiCredentials
from jtl_automator.clients.wawi import WawiCloudAuth, WawiKeyAuth
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.settings import Settings


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[str, SandboxConfig]]:
    config = SandboxConfig.strictest()
    with serve_in_thread(create_app(generate(seed=3, skus=10, orders=3, customers=3), config)) as server:
        yield server.base_url, config


def settings_for(base_url: str, config: SandboxConfig, flavour: str) -> Settings:
    env = credentials_env(base_url, config, None, wawi_flavour=flavour)  # type: ignore[arg-type]
    return Settings.from_values(**{k.removeprefix("JTL_").lower(): v for k, v in env.items()})


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["onprem", "cloud"])
def test_block_from_the_environment_reaches_the_strict_sandbox(
    sandbox: tuple[str, SandboxConfig], flavour: str
) -> None:
    base_url, config = sandbox
    block = JtlWawiCredentials.from_settings(settings_for(base_url, config, flavour))
    assert block.flavour == flavour
    for secret in (config.wawi_api_key, config.wawi_cloud_client_secret):
        assert secret not in repr(block)
    client = block.get_client()
    assert isinstance(client.auth, WawiCloudAuth if flavour == "cloud" else WawiKeyAuth)
    assert client.info()["Type"] == ("Cloud" if flavour == "cloud" else "OnPremise")
    assert list(client.warehouses.list())


def test_each_flavour_names_the_fields_it_lacks() -> None:
    with pytest.raises(ValidationError, match="onprem flavour needs api_key"):
        JtlWawiCredentials(base_url="http://h/api/eazybusiness")
    with pytest.raises(ValidationError, match="cloud flavour needs client_secret, tenant_id"):
        JtlWawiCredentials(flavour="cloud", base_url="https://api.jtl-cloud.com/erp", client_id="app")
    with pytest.raises(ValueError, match="JTL_WAWI_CLIENT_ID, JTL_WAWI_CLIENT_SECRET, JTL_WAWI_TENANT_ID"):
        JtlWawiCredentials.from_settings(Settings.from_values(wawi_flavour="cloud"))
    cloud = JtlWawiCredentials(
        flavour="cloud",
        base_url="https://api.jtl-cloud.com/erp",
        client_id="app",
        client_secret=SecretStr("s3cret"),
        tenant_id="t-1",
    )
    assert cloud.token_url == "https://auth.jtl-cloud.com/oauth2/token"
    assert cloud.settings().wawi_base_url == "https://api.jtl-cloud.com/erp"


def test_the_block_ignores_the_machines_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JTL_WAWI_FLAVOUR", "cloud")
    monkeypatch.setenv("JTL_WAWI_TENANT_ID", "from-the-environment")
    block = JtlWawiCredentials(base_url="http://h/api/eazybusiness", api_key=SecretStr("k"))
    settings = block.settings()
    assert (settings.wawi_flavour, settings.wawi_tenant_id) == ("onprem", None)
