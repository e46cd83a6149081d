"""Serving the sandbox: uvicorn in a thread, the in-process transport, credentials and the admin hooks."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import asgi_transport, credentials_env, serve_forever, serve_in_thread

CHUNK = b"x" * 65536


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        return {
            "body": (await request.body()).decode(),
            "query": request.url.query,
            "h": request.headers.get("x-a"),
        }

    @app.get("/big")
    def big(chunks: int = 64) -> StreamingResponse:
        return StreamingResponse((CHUNK for _ in range(chunks)), media_type="application/octet-stream")

    @app.get("/boom")
    def boom() -> None:
        raise ValueError("bug in the app")

    return app


def test_serve_in_thread_starts_on_a_free_port_and_stops() -> None:
    with serve_in_thread(echo_app()) as server:
        assert server.port > 0 and server.base_url == f"http://127.0.0.1:{server.port}"
        response = httpx.post(f"{server.base_url}/echo?a=1", content="hallo", headers={"x-a": "b"})
        assert response.json() == {"body": "hallo", "query": "a=1", "h": "b"}
    assert not server.thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/big", timeout=1)


def test_in_process_transport_round_trips_requests_and_streams_large_bodies() -> None:
    transport = asgi_transport(echo_app())
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        assert client.post("/echo?q=%C3%A4", content="ü", headers={"x-a": "c"}).json() == {
            "body": "ü",
            "query": "q=%C3%A4",
            "h": "c",
        }
        assert len(client.get("/big", params={"chunks": 200}).content) == 200 * len(CHUNK)
        with client.stream("GET", "/big", params={"chunks": 10_000}) as response:
            first = next(response.iter_raw())  # 650 MB would not fit the test budget if it were buffered
            assert first == CHUNK
        with pytest.raises(ValueError, match="bug in the app"):
            client.get("/boom")
        assert client.post("/echo", content="again").json()["body"] == "again"  # still usable
    transport.close()


@pytest.mark.slow
def test_in_process_transport_is_thread_safe() -> None:
    transport = asgi_transport(echo_app())
    results: list[str] = []
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:

        def work(n: int) -> None:
            for i in range(20):
                results.append(client.post("/echo", content=f"{n}-{i}").json()["body"])

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    transport.close()
    assert sorted(results) == sorted(f"{n}-{i}" for n in range(4) for i in range(20))


def test_credentials_env_points_every_client_at_the_sandbox() -> None:
    config = SandboxConfig()
    env = credentials_env("http://127.0.0.1:8123/", config, "/tmp/sa.json")
    assert env == {
        "JTL_FFN_BASE_URL": "http://127.0.0.1:8123/api",
        "JTL_FFN_TOKEN_URL": "http://127.0.0.1:8123/oauth2/token",
        "JTL_FFN_AUTHORIZE_URL": "http://127.0.0.1:8123/oauth2/authorize",
        "JTL_FFN_CLIENT_ID": config.ffn_client_id,
        "JTL_FFN_CLIENT_SECRET": config.ffn_client_secret,
        "JTL_FFN_REFRESH_TOKEN": config.ffn_initial_refresh_token,
        "JTL_FFN_REDIRECT_URI": config.ffn_redirect_uri,
        "JTL_WAWI_FLAVOUR": "onprem",
        "JTL_WAWI_BASE_URL": "http://127.0.0.1:8123/wawi/api/eazybusiness",
        "JTL_WAWI_API_KEY": config.wawi_api_key,
        "JTL_WAWI_APP_ID": config.wawi_app_id,
        "JTL_WAWI_APP_VERSION": config.wawi_app_version,
        "JTL_SHEETS_API_URL": "http://127.0.0.1:8123/sheets",
        "JTL_SHOP_URL": "http://127.0.0.1:8123/shop",
        "JTL_SHOP_API_KEY": config.shop_api_key,
        "JTL_GOOGLE_SERVICE_ACCOUNT_FILE": "/tmp/sa.json",
    }
    assert "JTL_GOOGLE_SERVICE_ACCOUNT_FILE" not in credentials_env("http://h", config, None)


@pytest.mark.slow
def test_serve_forever_writes_credentials_once_the_port_is_known(tmp_path: Path) -> None:
    stop = threading.Event()
    ready: dict[str, Any] = {}
    out = tmp_path / "creds" / "sandbox.json"

    def on_ready(server: Any, env: dict[str, str] | None) -> None:
        ready["url"], ready["env"] = server.base_url, env
        ready["health"] = httpx.get(f"{server.base_url}/_sandbox/health").json()
        ready["faults"] = httpx.get(f"{server.base_url}/_sandbox/faults").json()["profile"]
        stop.set()

    kwargs = {"credentials_out": out, "skus": 30, "on_ready": on_ready, "stop_event": stop, "faults": "slow"}
    thread = threading.Thread(target=serve_forever, args=(0, 9, None), kwargs=kwargs)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    written = json.loads(out.read_text())
    assert written == ready["env"] and written["JTL_FFN_BASE_URL"] == f"{ready['url']}/api"
    service_account = json.loads(Path(written["JTL_GOOGLE_SERVICE_ACCOUNT_FILE"]).read_text())
    assert service_account["type"] == "service_account"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert ready["health"]["status"] == "ok" and ready["health"]["ffn"]["products"] == 30
    assert ready["faults"] == "slow"


def test_serve_forever_rejects_unknown_fault_profile() -> None:
    with pytest.raises(ValueError, match="unknown fault profile"):
        serve_forever(0, faults="sometimes")


@pytest.mark.slow
def test_admin_hooks_drive_the_emulated_apis() -> None:
    data = generate(seed=2, skus=40, orders=30, customers=10, suppliers=3)
    pending = next(i for i in data.ffn.inbounds.values() if i["status"] == "Pending")
    open_outbound = next(o for o in data.ffn.outbounds.values() if o["status"] != "Shipped")
    jfsku = pending["items"][0]["jfsku"]
    before = data.ffn.stocks[jfsku]["stockLevel"]
    transport = asgi_transport(create_app(data, SandboxConfig()))
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        received = client.post(f"/_sandbox/ffn/inbounds/{pending['inboundId']}/receive", json={jfsku: 2})
        assert received.status_code == 200, received.text
        assert data.ffn.stocks[jfsku]["stockLevel"] == before + 2
        missing = client.post("/_sandbox/ffn/inbounds/MERC03NOPE/receive", json={jfsku: 1})
        assert (
            missing.status_code == 404 and missing.json()["errorCode"]["code"] == "Inbounds_InboundNotFound"
        )
        shipped = client.post(f"/_sandbox/ffn/outbounds/{open_outbound['outboundId']}/ship", json={})
        assert shipped.status_code == 200, shipped.text
        assert data.ffn.outbounds[open_outbound["outboundId"]]["status"] == "Shipped"
        warehouse = open_outbound["warehouseId"]
        adjustment = {"jfsku": jfsku, "warehouseId": warehouse, "quantity": 3, "note": "found"}
        adjusted = client.post("/_sandbox/ffn/stocks/adjustments", json=adjustment)
        assert adjusted.status_code == 201, adjusted.text
        assert adjusted.json()["changeType"] == "Adjustment" and adjusted.json()["quantity"] == 3
        assert data.ffn.stocks[jfsku]["stockLevel"] == before + 5
        too_many = client.post("/_sandbox/ffn/stocks/adjustments", json={**adjustment, "quantity": -(10**6)})
        assert too_many.status_code == 400 and too_many.json()["errorCode"]["code"] == "Stocks_NotEnoughStock"
        assert client.post("/_sandbox/ffn/stocks/adjustments", json=[]).status_code == 400
        assert client.post("/_sandbox/ffn/expire-tokens").json() == {"expired": True}
        assert client.post("/_sandbox/wawi/registrations/unknown/accept").status_code == 404
        assert client.get("/_sandbox/stats").json()["requests"]["total"] == 0  # admin calls are not counted
    transport.close()
