"""The gateway file: sources, where their secrets come from (never the file), schemas; clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jtl_automator.gateway import load_gateway
from jtl_automator.gateway.config import default_secret_env
from jtl_automator.yaml_config import ConfigFileError
from tests.gateway.conftest import ROOT, SCHEMAS

GOOD_SECRET = "0123456789abcdef" * 4


def _write(tmp_path: Path, text: str, schemas: bool = True) -> Path:
    if schemas:
        shutil.copytree(SCHEMAS, tmp_path / "gateway" / "schemas")
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


def test_the_example_file_loads_with_its_secrets_from_the_environment_and_a_block() -> None:
    env = {"JTL_GATEWAY_SECRET_SHOP": GOOD_SECRET, "CRM_WEBHOOK_SECRET": GOOD_SECRET[::-1]}
    asked: list[str] = []

    def block(name: str) -> str:
        asked.append(name)
        return "w" * 40

    gateway = load_gateway(ROOT / "config" / "gateway.example.yaml", environ=env, load_block=block)
    assert asked == ["gateway-wawi"]
    assert sorted(gateway.sources) == ["crm", "shop", "wawi"]
    assert gateway.sources["shop"].secret.get_secret_value() == GOOD_SECRET
    assert gateway.sources["wawi"].secret.get_secret_value() == "w" * 40
    assert gateway.sources["shop"].events == {"order.held", "stock.changed"}
    assert set(gateway.validators) == {"order.held", "stock.changed", "item.changed", "custom"}
    assert (gateway.tolerance_seconds, gateway.max_body_bytes, gateway.rate_requests) == (300, 262144, 100)
    assert GOOD_SECRET not in repr(gateway)


def test_the_default_variable_name_of_a_source() -> None:
    assert default_secret_env("shop-de") == "JTL_GATEWAY_SECRET_SHOP_DE"


def test_missing_and_short_secrets_are_named_by_where_they_were_looked_for(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "sources:\n"
        "  shop: {events: [order.held]}\n"
        "  crm: {events: [custom], secret_env: CRM_SECRET}\n"
        "  wawi: {events: [item.changed], secret_block: gateway-wawi}\n",
    )

    def no_block(name: str) -> str:
        raise ValueError(f"Unable to find block document named {name}")

    with pytest.raises(ConfigFileError) as caught:
        load_gateway(path, environ={"CRM_SECRET": "too-short"}, load_block=no_block)
    assert caught.value.problems == [
        "source 'shop': no secret in environment variable JTL_GATEWAY_SECRET_SHOP",
        "source 'crm': the secret in environment variable CRM_SECRET is shorter than 32 characters "
        "(make one with: python -c 'import secrets; print(secrets.token_hex(32))')",
        "source 'wawi': no secret in Secret block 'gateway-wawi' (ValueError)",
    ]
    assert "too-short" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources: {}\n", "sources"),
        ("sources:\n  Shop: {events: [order.held]}\n", "source name 'Shop'"),
        ("sources:\n  shop: {events: []}\n", "events"),
        ("sources:\n  shop: {events: [Order Held]}\n", "event type 'Order Held'"),
        ("sources:\n  shop: {events: [order.held], secret: abc}\n", "secret: Extra inputs are not permitted"),
        ("sources:\n  shop: {events: [order.held], secret_env: A, secret_block: b}\n", "not both"),
        ("sources:\n  shop: {events: [order.held]}\ntolerance_seconds: 0\n", "tolerance_seconds"),
        ("sources:\n  shop: {events: [order.held]}\nmax_body_bytes: 10\n", "max_body_bytes"),
        ("sources:\n  shop: {events: [order.held]}\nrate_limit: {requests: 0}\n", "rate_limit.requests"),
        ("sources: [\n", "not valid YAML"),
    ],
)
def test_mistakes_in_the_file_name_the_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigFileError) as caught:
        load_gateway(path, environ={"JTL_GATEWAY_SECRET_SHOP": GOOD_SECRET})
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_or_broken_schema_stops_the_start(tmp_path: Path) -> None:
    path = _write(tmp_path, "sources:\n  shop: {events: [order.held, stock.changed, order.shipped]}\n")
    schemas = tmp_path / "gateway" / "schemas"
    (schemas / "stock.changed.json").write_text('{"type": "object",\n "required": [}')
    (schemas / "order.held.json").write_text('{"type": "thing"}')
    with pytest.raises(ConfigFileError) as caught:
        load_gateway(path, environ={"JTL_GATEWAY_SECRET_SHOP": GOOD_SECRET})
    problems = caught.value.problems
    assert len(problems) == 3
    assert "order.held.json: not a valid JSON schema" in problems[0]
    assert "order.shipped.json: schema of event type 'order.shipped' cannot be read" in problems[1]
    assert "stock.changed.json:2: not valid JSON" in problems[2]


def test_a_schema_folder_may_be_given_absolute(tmp_path: Path) -> None:
    path = _write(tmp_path, f"sources:\n  shop: {{events: [custom]}}\nschemas: {SCHEMAS}\n", schemas=False)
    gateway = load_gateway(path, environ={"JTL_GATEWAY_SECRET_SHOP": GOOD_SECRET})
    assert set(gateway.validators) == {"custom"}
