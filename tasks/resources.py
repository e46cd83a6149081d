"""Building clients inside tasks: a block when the flow got its name, the ``JTL_*`` environment otherwise.

The state store is opened once per process and URL (it owns a connection pool and runs migrations on
first use); clients are cheap and built per task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar, cast

from prefect.runtime import flow_run

from blocks import GoogleSheetsCredentials, JtlFfnCredentials, JtlWawiCredentials, StateDatabase
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlation_id
from jtl_automator.sheets.base import SheetBackend
from jtl_automator.sheets.xlsx import ExcelBackend
from jtl_automator.store import StateStore

B = TypeVar("B")


def load_block(block_type: type[B], name: str) -> B:
    """``Block.load`` for sync code (its signature also admits a coroutine, for async callers)."""
    return cast(B, block_type.load(name))  # type: ignore[attr-defined]


@lru_cache(maxsize=8)
def _store_for(url: str) -> StateStore:
    return StateStore(url)


def state_store(database_block: str | None = None) -> StateStore:
    """The state database of this deployment."""
    block = load_block(StateDatabase, database_block) if database_block else StateDatabase.from_settings()
    return _store_for(block.url.get_secret_value())


def ffn_client(store: StateStore, ffn_block: str | None = None) -> FfnClient:
    """FFN client whose refresh tokens rotate through ``store``."""
    block = load_block(JtlFfnCredentials, ffn_block) if ffn_block else JtlFfnCredentials.from_settings()
    return block.get_client(store)


def wawi_client(wawi_block: str | None = None) -> WawiClient:
    """Wawi client with the registered app's key."""
    block = load_block(JtlWawiCredentials, wawi_block) if wawi_block else JtlWawiCredentials.from_settings()
    return block.get_client()


def sheet_backend(sheet: str, sheets_block: str | None = None) -> SheetBackend:
    """An ``.xlsx`` path opens the workbook; anything else is a Google spreadsheet id."""
    if sheet.lower().endswith((".xlsx", ".xlsm")):
        return ExcelBackend(Path(sheet).expanduser())
    block = (
        load_block(GoogleSheetsCredentials, sheets_block)
        if sheets_block
        else GoogleSheetsCredentials.from_settings()
    )
    return block.get_client(sheet)


# httpx logs every request URL at INFO; webhook URLs can carry secrets in their path or query.
logging.getLogger("httpx").setLevel(logging.WARNING)


@contextmanager
def correlated() -> Iterator[str]:
    """Tag every outgoing request and client log line of this block with the flow run id."""
    run_id = str(flow_run.get_id() or "local")
    token = correlation_id.set(run_id)
    try:
        yield run_id
    finally:
        correlation_id.reset(token)
