"""The gateway under test: sources with known secrets, the project's schemas, an outbox per test.

Requests are signed with the project's own outgoing-webhook signer (``HmacAuth``), so these tests also
prove the two ends agree on the scheme.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.gateway import Gateway, GatewayConfig, Outbox, create_app
from jtl_automator.gateway.config import build_gateway
from jtl_automator.notify.webhook import HmacAuth, encode_json
from jtl_automator.store import StateStore

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "config" / "gateway" / "schemas"
SECRETS = {
    "shop": "shop-secret-" + "a" * 40,
    "crm": "crm-secret-" + "b" * 40,
}
ORDER_HELD = {"order_number": "AU-1001", "reason": "payment missing"}


def gateway_config(**overrides: Any) -> GatewayConfig:
    """Two sources: the shop (orders and stock) and a CRM (custom events only)."""
    values: dict[str, Any] = {
        "sources": {
            "shop": {"events": ["order.held", "stock.changed", "item.changed"]},
            "crm": {"events": ["custom"], "secret_env": "CRM_SECRET"},
        },
        **overrides,
    }
    return GatewayConfig.model_validate(values)


def make_gateway(**overrides: Any) -> Gateway:
    """The test gateway with secrets from a fake environment."""
    env = {"JTL_GATEWAY_SECRET_SHOP": SECRETS["shop"], "CRM_SECRET": SECRETS["crm"]}
    return build_gateway(gateway_config(**overrides), SCHEMAS, environ=env)


def event_body(event_type: str = "order.held", data: Any = None, event_id: str | None = "evt-1") -> bytes:
    """An event envelope as a sender sends it (compact JSON, like the project's webhook sender)."""
    document: dict[str, Any] = {"type": event_type, "data": ORDER_HELD if data is None else data}
    if event_id is not None:
        document["id"] = event_id
    return encode_json(document)


def signed(
    body: bytes, source: str = "shop", *, at: float | None = None, secret: str | None = None
) -> dict[str, str]:
    """``X-Timestamp`` and ``X-Signature`` as the project's HmacAuth computes them."""
    headers = {"Content-Type": "application/json"}
    stamp = time.time() if at is None else at
    HmacAuth(SecretStr(secret or SECRETS[source]), clock=lambda: stamp).apply(headers, body)
    return headers


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state database file migrated once per session; tests get copies (migrating costs ~0.5 s)."""
    path = tmp_path_factory.mktemp("gateway-template") / "state.db"
    StateStore(f"sqlite:///{path}").dispose()
    return path


def _fresh_sqlite(template: Path, folder: Path) -> StateStore:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{template}{suffix}").exists():
            shutil.copy(f"{template}{suffix}", folder / f"state.db{suffix}")
    return StateStore(f"sqlite:///{folder / 'state.db'}", migrate=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def outbox(request: pytest.FixtureRequest, migrated_sqlite: Path, tmp_path: Path) -> Iterator[Outbox]:
    """An outbox in a fresh state database: SQLite, and PostgreSQL (slow: a schema migrated per test)."""
    if request.param == "sqlite":
        store = _fresh_sqlite(migrated_sqlite, tmp_path)
    else:
        store = StateStore(str(request.getfixturevalue("postgres_url")))
    try:
        yield Outbox(store)
    finally:
        store.dispose()


@pytest.fixture
def sqlite_outbox(migrated_sqlite: Path, tmp_path: Path) -> Iterator[Outbox]:
    """An outbox on SQLite only (HTTP-level tests, where the dialect is not the point)."""
    store = _fresh_sqlite(migrated_sqlite, tmp_path)
    try:
        yield Outbox(store)
    finally:
        store.dispose()


class AsgiGateway:
    """Requests to the app through ``httpx.ASGITransport`` (no socket), from a chosen client address."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def _send(
        self, client: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        return await client.post(path, content=body, headers=headers)

    def post_many(
        self, requests: Sequence[tuple[str, bytes, dict[str, str]]], ip: str = "203.0.113.7"
    ) -> list[httpx.Response]:
        """Send the requests one after the other from ``ip``."""

        async def run() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=self.app, client=(ip, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                return [await self._send(client, path, body, headers) for path, body, headers in requests]

        return asyncio.run(run())

    def post(
        self, path: str, body: bytes, headers: dict[str, str], ip: str = "203.0.113.7"
    ) -> httpx.Response:
        """One request."""
        return self.post_many([(path, body, headers)], ip=ip)[0]

    def get(self, path: str) -> httpx.Response:
        """One GET."""

        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                return await client.get(path)

        return asyncio.run(run())


@pytest.fixture
def asgi(sqlite_outbox: Outbox) -> AsgiGateway:
    """The default gateway on SQLite, reached through ASGI."""
    return AsgiGateway(create_app(make_gateway(), sqlite_outbox))


def error_of(response: httpx.Response) -> str:
    """The refusal's code (every refusal is JSON with one)."""
    assert response.headers["content-type"].startswith("application/json")
    return str(json.loads(response.content)["error"])
