"""compose.yaml, Dockerfile and .env.example say what docs/production.md says, and hold no secret.

Where no container engine runs (CI), this is the check the compose file gets: its services, images,
networks and ports, the environment each service sees (only setup gets the JTL_* credentials, workers only
the API and its password) and that every variable name is one Prefect or the project really reads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from jtl_automator.project import SHELL_PACKAGES
from jtl_automator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PROJECT_IMAGE = "${STACK_IMAGE:-jtl-automator:local}"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|AUTH_STRING|TOKEN|API_KEY")
INTERPOLATION = re.compile(r"^\$\{[A-Z_]+(:[?-][^}]*)?\}$")
URL_PASSWORD = re.compile(r"://[^:/@]+:([^@]+)@")


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def test_the_stack_has_its_services_and_two_workers() -> None:
    assert set(SERVICES) == {"postgres", "prefect-server", "setup", "worker", "gateway"}
    assert SERVICES["worker"]["deploy"]["replicas"] >= 2
    assert SERVICES["postgres"]["image"] == "postgres:15"
    for name in set(SERVICES) - {"postgres"}:
        assert SERVICES[name]["image"] == PROJECT_IMAGE and SERVICES[name]["build"] == ".", name
    assert SERVICES["gateway"]["profiles"] == ["gateway"]


def test_the_services_start_in_order() -> None:
    assert SERVICES["prefect-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["setup"]["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    for name in ("worker", "gateway"):
        assert SERVICES[name]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert SERVICES["setup"]["restart"] == "no"
    assert SERVICES["setup"]["command"] == ["jtl-automator", "stack", "setup"]


def test_the_server_runs_on_postgresql_with_basic_auth() -> None:
    env = _env("prefect-server")
    assert env["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert env["PREFECT_SERVER_DATABASE_CONNECTION_URL"].endswith("@postgres:5432/prefect")
    assert env["PREFECT_SERVER_API_AUTH_STRING"].startswith("${PREFECT_AUTH_STRING:?")
    # The clients send the very same variable's value.
    for name in ("setup", "worker"):
        assert _env(name)["PREFECT_API_AUTH_STRING"] == env["PREFECT_SERVER_API_AUTH_STRING"]
        assert _env(name)["PREFECT_API_URL"] == "http://prefect-server:4200/api"


def test_workers_see_the_api_only_and_the_gateway_no_prefect() -> None:
    assert set(_env("worker")) == {"PREFECT_API_URL", "PREFECT_API_AUTH_STRING"}
    assert "env_file" not in SERVICES["worker"]
    assert SERVICES["setup"]["env_file"] == [".env"]  # the credentials go into blocks here, only here
    assert set(_env("gateway")) == {"JTL_DATABASE_URL"} and SERVICES["gateway"]["env_file"] == ["gateway.env"]
    pool = yaml.safe_load((ROOT / "prefect.yaml").read_text())["definitions"]["work_pools"]["process"]["name"]
    command = SERVICES["worker"]["command"]
    assert command[:3] == ["prefect", "worker", "start"] and command[command.index("--pool") + 1] == pool


def test_nothing_is_published_beyond_loopback_and_the_databases_not_at_all() -> None:
    assert "ports" not in SERVICES["postgres"] and SERVICES["postgres"]["networks"] == ["backend"]
    assert COMPOSE["networks"]["backend"]["internal"] is True
    published = [port for service in SERVICES.values() for port in service.get("ports") or []]
    assert published and all(str(port).startswith("127.0.0.1:") for port in published)


def test_no_secret_value_is_written_in_the_compose_file() -> None:
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_NAME.search(key):
                assert INTERPOLATION.match(value), f"{name}: {key} must come from .env, not the file"
            match = URL_PASSWORD.search(value)
            if match:
                assert match.group(1) == "${POSTGRES_PASSWORD}", f"{name}: {key} has a password in it"
    assert not re.search(
        r"(?i)(password|secret)\s*[:=]\s*['\"]?[A-Za-z0-9]{8,}", (ROOT / "compose.yaml").read_text()
    )


def _prefect_setting_exists(name: str) -> bool:
    import prefect.settings

    return hasattr(prefect.settings, name)


@pytest.mark.parametrize("name", sorted({k for s in SERVICES.values() for k in s.get("environment") or {}}))
def test_every_variable_is_one_prefect_or_the_project_reads(name: str) -> None:
    if name.startswith("PREFECT_"):
        assert _prefect_setting_exists(name), name
    elif name.startswith("JTL_"):
        assert name.removeprefix("JTL_").lower() in Settings.model_fields, name
    else:
        assert name.startswith("POSTGRES_"), name  # the postgres image's own


def test_the_env_template_names_real_settings_and_holds_no_credential() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    assignments = [line.lstrip("# ").split("=", 1) for line in lines if re.match(r"^#? ?[A-Z_]+=", line)]
    names = {name for name, _ in assignments}
    assert {"POSTGRES_PASSWORD", "PREFECT_AUTH_STRING", "JTL_FFN_CLIENT_ID", "JTL_FFN_REFRESH_TOKEN"} <= names
    for name, value in assignments:
        if name.startswith("JTL_"):
            assert name.removeprefix("JTL_").lower() in Settings.model_fields, name
        if SECRET_NAME.search(name):
            assert value in ("", "change-me", "admin:change-me"), name
    init = (ROOT / "deploy" / "postgres" / "10-jtl-state.sql").read_text()
    assert "CREATE DATABASE jtl_state;" in init
    assert _env("setup")["JTL_DATABASE_URL"].endswith("@postgres:5432/jtl_state")


def test_the_image_runs_as_an_unprivileged_user_with_the_project_installed() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line.split()[0] for line in dockerfile.splitlines() if re.match(r"^[A-Z]+ ", line)]
    assert instructions[-3:] == ["USER", "EXPOSE", "CMD"] and "USER jtl\n" in dockerfile
    assert "COPY pyproject.toml README.md LICENSE /tmp/src/" in dockerfile
    assert "RUN pip install /tmp/src" in dockerfile
    for folder in SHELL_PACKAGES:
        assert f"COPY {folder} ./{folder}" in dockerfile
    assert "COPY prefect.yaml ./" in dockerfile and "COPY config ./config" in dockerfile
    assert (
        "JTL_AUTOMATOR_HOME=/opt/jtl-automator" in dockerfile and "WORKDIR /opt/jtl-automator" in dockerfile
    )
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", "*.env", ".venv", ".git", "tests"} <= ignored
