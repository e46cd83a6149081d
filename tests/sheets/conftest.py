"""A sandbox Sheets API over real loopback HTTP for the gspread backend tests.

Skips (with the reason) when the sandbox's Sheets emulator cannot be imported, so a half-built tree
never breaks the suite. Uses ``create_app`` + ``serve_in_thread`` when they exist; otherwise an app with
only the Sheets router on a uvicorn thread.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.clock import FakeClock


@dataclass
class SheetsSandbox:
    base_url: str
    api_url: str
    state: Any
    service_account: dict[str, Any]
    clock: FakeClock
    full_app: bool = False  # create_app with the fault middleware, not just the Sheets router

    def add_spreadsheet(self, tabs: dict[str, list[list[Any]]], title: str = "Inbound Control") -> str:
        from jtl_automator.sandbox.sheets import new_spreadsheet

        book = new_spreadsheet(title, tabs)
        with self.state.data.lock:
            self.state.data.spreadsheets[book.spreadsheet_id] = book
        return book.spreadsheet_id

    def values(self, spreadsheet_id: str, tab: str) -> list[list[Any]]:
        book = self.state.data.spreadsheets[spreadsheet_id]
        return next(ws.values for ws in book.worksheets if ws.title == tab)

    def requests(self) -> Counter[str]:
        return Counter(self.state.runtime.get("sheets_requests", Counter()))

    def reset_counters(self) -> None:
        self.state.runtime["sheets_requests"] = Counter()
        self.state.runtime.pop("sheets_quota", None)
        self.state.runtime.sheets.write_quota.clear()


def _serve_with_uvicorn(app: Any) -> tuple[str, Any]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(5)

    return f"http://127.0.0.1:{port}", stop


@pytest.fixture(scope="module")
def _sandbox_server() -> Iterator[tuple[str, Any, bool]]:
    try:
        from fastapi import FastAPI

        from jtl_automator.sandbox import sheets
        from jtl_automator.sandbox.app import SandboxState
        from jtl_automator.sandbox.config import SandboxConfig
        from jtl_automator.sandbox.data import SandboxData
    except ImportError as exc:
        pytest.skip(f"sandbox Sheets API not importable: {exc}")
    try:
        from jtl_automator.sandbox.app import create_app
        from jtl_automator.sandbox.server import serve_in_thread
    except ImportError:
        state = SandboxState(data=SandboxData(), config=SandboxConfig())
        app = FastAPI()
        app.include_router(sheets.build_router(state))
        base_url, stop = _serve_with_uvicorn(app)
        try:
            yield base_url, state, False
        finally:
            stop()
        return
    app = create_app(data=SandboxData(), config=SandboxConfig())
    with serve_in_thread(app) as server:
        yield server.base_url, app.state.sandbox, True


@pytest.fixture
def sheets_sandbox(_sandbox_server: tuple[str, Any, bool]) -> Iterator[SheetsSandbox]:
    from jtl_automator.sandbox.sheets import make_service_account_info

    base_url, state, full_app = _sandbox_server
    clock = FakeClock()
    state.runtime["sheets_clock"] = clock
    state.config.sheets_requests_per_minute = 10_000
    sandbox = SheetsSandbox(
        base_url=base_url,
        api_url=f"{base_url}/sheets",
        state=state,
        service_account=make_service_account_info(base_url),
        clock=clock,
        full_app=full_app,
    )
    sandbox.reset_counters()
    try:
        yield sandbox
    finally:
        state.data.spreadsheets.clear()
        state.runtime.pop("sheets_clock", None)
        sandbox.reset_counters()
