"""Running the sandbox: over real HTTP on loopback (uvicorn in a thread) or in-process (an httpx transport).

Real HTTP is what the demo and end-to-end tests use (and the only way gspread's own session reaches it);
the in-process transport is for fast unit tests of the clients. Both go through the same middleware, so
faults behave alike: a dropped connection is an ``httpx.RemoteProtocolError`` either way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import unquote

import anyio.from_thread
import httpx
import uvicorn
from starlette.types import ASGIApp, Message

from jtl_automator.sandbox import sheets, wawi
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.faults import PROFILES, quiet_uvicorn_drop_logs
from jtl_automator.sandbox.fixtures import load_fixture_dir
from jtl_automator.sandbox.generator import generate
from jtl_automator.settings import WawiFlavour


class RunningServer:
    """A uvicorn server in a daemon thread; a context manager that stops and joins it on exit."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, host: str, port: int) -> None:
        self.server = server
        self.thread = thread
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit (it finishes in-flight requests) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> RunningServer:
    """Start ``app`` on ``host:port`` (0 = a free port) and return once it accepts connections."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    quiet_uvicorn_drop_logs()  # after uvicorn.Config configured its loggers
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as exc:  # surfaced to the caller below instead of dying silently
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"sandbox-uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"sandbox server failed to start on {host}:{port}") from (
                errors[0] if errors else None
            )
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"sandbox server did not start within {startup_timeout} s")
        time.sleep(0.01)
    bound_port = port
    for listener in server.servers:
        for sock in listener.sockets:
            bound_port = sock.getsockname()[1]
            break
    return RunningServer(server, thread, host, bound_port)


class InProcessTransport(httpx.BaseTransport):
    """Sync httpx transport that runs the ASGI app in this process, on one long-lived event-loop thread.

    Written here rather than borrowed from ``starlette.testclient`` (whose transport is private and now
    deprecated for httpx). Response bodies stream chunk by chunk through a zero-size channel, so a large
    page is produced only as fast as the client reads it. A ``httpx.TransportError`` raised by the app
    (the drop fault's ``ConnectionDropped``) reaches the caller as is; other exceptions from the app are
    re-raised too when ``raise_app_exceptions`` (the default, so bugs fail tests loudly), otherwise an
    unanswered request becomes a bare 500. Thread-safe: several threads may send requests at once.
    """

    def __init__(self, app: ASGIApp, *, raise_app_exceptions: bool = True, client_port: int = 50000) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.client = ("127.0.0.1", client_port)
        self._stack = contextlib.ExitStack()
        self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())

    def _scope(self, request: httpx.Request) -> dict[str, Any]:
        url = request.url
        port = url.port or {"http": 80, "https": 443}.get(url.scheme, 80)
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.multi_items()
        ]
        if "host" not in request.headers:
            headers.insert(0, (b"host", url.netloc))
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "query_string": url.query,
            "root_path": "",
            "headers": headers,
            "client": self.client,
            "server": (url.host, port),
            "extensions": {},
            "state": {},
        }

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run the app for one request; the body streams while the caller reads it."""
        body = request.read()
        portal = self._portal
        exchange = portal.call(_Exchange.create)
        portal.start_task_soon(exchange.run, self.app, self._scope(request), body)
        start: Message | None = None
        while start is None:
            kind, payload = portal.call(exchange.next)
            if kind == "message" and payload["type"] == "http.response.start":
                start = payload
            elif kind == "error":
                portal.call(exchange.finish)
                if self.raise_app_exceptions or isinstance(payload, httpx.TransportError):
                    raise payload
                return httpx.Response(500, request=request)
            elif kind == "end":
                portal.call(exchange.finish)
                raise httpx.RemoteProtocolError(
                    "the app returned without sending a response", request=request
                )
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]
        stream = _BodyStream(portal, exchange, self.raise_app_exceptions, request)
        return httpx.Response(start["status"], headers=headers, stream=stream, request=request)

    def close(self) -> None:
        """Stop the event-loop thread (call after the client is done)."""
        self._stack.close()


class _Exchange:
    """One request's channel between the app task (event-loop thread) and the caller's thread."""

    def __init__(self) -> None:
        self.tx, self.rx = anyio.create_memory_object_stream[tuple[str, Any]](0)
        self.cancel_scope = anyio.CancelScope()
        self.disconnected = anyio.Event()
        self.finished = anyio.Event()

    @classmethod
    async def create(cls) -> _Exchange:
        return cls()

    async def run(self, app: ASGIApp, scope: dict[str, Any], body: bytes) -> None:
        body_sent = False

        async def receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await self.disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            await self.tx.send(("message", message))

        try:
            async with self.tx:
                with self.cancel_scope:
                    try:
                        await app(scope, receive, send)
                    except Exception as exc:  # handed to the caller's thread
                        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                            await self.tx.send(("error", exc))
        finally:
            self.finished.set()

    async def next(self) -> tuple[str, Any]:
        try:
            return await self.rx.receive()
        except anyio.EndOfStream:
            return ("end", None)

    async def finish(self) -> None:
        """Let the app see the disconnect, cancel it if it is still producing, and wait until it ends."""
        self.disconnected.set()
        if not self.finished.is_set():
            self.cancel_scope.cancel()
        await self.rx.aclose()
        await self.finished.wait()


class _BodyStream(httpx.SyncByteStream):
    def __init__(
        self,
        portal: anyio.from_thread.BlockingPortal,
        exchange: _Exchange,
        raise_app_exceptions: bool,
        request: httpx.Request,
    ) -> None:
        self.portal = portal
        self.exchange = exchange
        self.raise_app_exceptions = raise_app_exceptions
        self.request = request
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        complete = False
        while True:
            kind, payload = self.portal.call(self.exchange.next)
            if kind == "message" and payload["type"] == "http.response.body" and not complete:
                if payload.get("body"):
                    yield bytes(payload["body"])
                complete = not payload.get("more_body", False)
            elif kind == "error":
                if self.raise_app_exceptions or isinstance(payload, httpx.TransportError):
                    raise payload
                if not complete:
                    raise httpx.RemoteProtocolError("incomplete response body", request=self.request)
                break
            elif kind == "end":
                if not complete:
                    raise httpx.RemoteProtocolError("incomplete response body", request=self.request)
                break

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.portal.call(self.exchange.finish)


def asgi_transport(app: ASGIApp) -> httpx.BaseTransport:
    """In-process transport for ``httpx.Client(transport=..., base_url="http://sandbox")``; close it after."""
    return InProcessTransport(app)


def credentials_env(
    base_url: str,
    config: SandboxConfig,
    service_account_file: str | None,
    *,
    wawi_flavour: WawiFlavour = "onprem",
) -> dict[str, str]:
    """The ``JTL_*`` environment that points the real clients at a sandbox on ``base_url``.

    ``wawi_flavour`` picks which of the sandbox's two Wawi APIs the client is set up for: on-premise (an
    API key) or Cloud (a client-credentials client and a tenant).
    """
    base = base_url.rstrip("/")
    env = {
        "JTL_FFN_BASE_URL": f"{base}/api",
        "JTL_FFN_TOKEN_URL": f"{base}/oauth2/token",
        "JTL_FFN_AUTHORIZE_URL": f"{base}/oauth2/authorize",
        "JTL_FFN_CLIENT_ID": config.ffn_client_id,
        "JTL_FFN_CLIENT_SECRET": config.ffn_client_secret,
        "JTL_FFN_REFRESH_TOKEN": config.ffn_initial_refresh_token,
        "JTL_FFN_REDIRECT_URI": config.ffn_redirect_uri,
        "JTL_WAWI_FLAVOUR": wawi_flavour,
    }
    if wawi_flavour == "cloud":
        env.update(
            {
                "JTL_WAWI_BASE_URL": f"{base}{wawi.CLOUD_ROOT}",
                "JTL_WAWI_TOKEN_URL": f"{base}{wawi.CLOUD_TOKEN_PATH}",
                "JTL_WAWI_CLIENT_ID": config.wawi_cloud_client_id,
                "JTL_WAWI_CLIENT_SECRET": config.wawi_cloud_client_secret,
                "JTL_WAWI_TENANT_ID": config.wawi_cloud_tenant_id,
            }
        )
    else:
        env.update({"JTL_WAWI_BASE_URL": f"{base}{wawi.PREFIX}", "JTL_WAWI_API_KEY": config.wawi_api_key})
    env.update(
        {
            "JTL_WAWI_APP_ID": config.wawi_app_id,
            "JTL_WAWI_APP_VERSION": config.wawi_app_version,
            "JTL_SHEETS_API_URL": f"{base}/sheets",
            "JTL_SHOP_URL": f"{base}/shop",
            "JTL_SHOP_API_KEY": config.shop_api_key,
        }
    )
    if service_account_file is not None:
        env["JTL_GOOGLE_SERVICE_ACCOUNT_FILE"] = service_account_file
    return env


def _write_private(path: Path, content: Any) -> None:
    """Credentials files are readable by the owner only (they hold the sandbox's secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)
        handle.write("\n")
    os.chmod(path, 0o600)


def write_credentials(
    base_url: str,
    config: SandboxConfig,
    credentials_out: str | Path,
    *,
    wawi_flavour: WawiFlavour = "onprem",
) -> dict[str, str]:
    """Write the credentials JSON and, beside it, a service-account file for the Google client."""
    out = Path(credentials_out).resolve()
    service_account = out.with_name(f"{out.stem}.service-account.json")
    _write_private(service_account, sheets.make_service_account_info(base_url))
    env = credentials_env(base_url, config, str(service_account), wawi_flavour=wawi_flavour)
    _write_private(out, env)
    return env


def serve_forever(
    port: int = 0,
    seed: int = 42,
    fixture_dir: str | Path | None = None,
    faults: str = "none",
    credentials_out: str | Path | None = None,
    skus: int = 500,
    *,
    orders: int = 200,
    host: str = "127.0.0.1",
    strict: bool = False,
    wawi_flavour: WawiFlavour = "onprem",
    on_ready: Callable[[RunningServer, dict[str, str] | None], None] | None = None,
    stop_event: threading.Event | None = None,
) -> None:
    """Build the world (fixture folder or generator), serve it until SIGINT/SIGTERM (or ``stop_event``).

    ``on_ready`` is called once the port is known and the credentials are written, e.g. for the CLI to
    print the URL. ``wawi_flavour`` picks the Wawi API the credentials point at (both are served).
    """
    if faults not in PROFILES:
        raise ValueError(f"unknown fault profile {faults!r} (known: {', '.join(PROFILES)})")
    if fixture_dir is not None:
        data = load_fixture_dir(fixture_dir)
    else:
        data = generate(seed=seed, skus=skus, orders=orders)
    config = (
        SandboxConfig.strictest(faults=faults, seed=seed)
        if strict
        else SandboxConfig(faults=faults, seed=seed)
    )
    app = create_app(data, config)
    stop = stop_event or threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        with serve_in_thread(app, host=host, port=port) as running:
            env = (
                write_credentials(running.base_url, config, credentials_out, wawi_flavour=wawi_flavour)
                if credentials_out
                else None
            )
            if on_ready is not None:
                on_ready(running, env)
            while not stop.wait(0.2):
                if not running.thread.is_alive():
                    raise RuntimeError("sandbox server stopped unexpectedly")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
