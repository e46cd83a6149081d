"""Building clients: a block when the flow got its name, the ``JTL_*`` environment otherwise.

The state store is opened once per process and URL (it owns a connection pool and runs migrations on
first use). API clients are cheap: tasks of short flows build their own; a flow whose tasks share them
(order processing) opens them once with :func:`run_clients`, which closes them when the run ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar, cast

import httpx
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from blocks import (
    GoogleSheetsCredentials,
    JtlFfnCredentials,
    JtlShopCredentials,
    JtlWawiCredentials,
    SmtpServer,
    StateDatabase,
    WebhookEndpoint,
)
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.shop.client import ShopClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlation_id
from jtl_automator.notify.notifier import Notifier
from jtl_automator.sheets.base import SheetBackend
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from jtl_automator.sheets.workbook_file import workbook_path
from jtl_automator.sheets.xlsx import ExcelBackend
from jtl_automator.store import StateStore

B = TypeVar("B")
T = TypeVar("T")


def as_is(value: T) -> T:
    """Hand an object to a task without Prefect walking it (frames, thousands of actions) for futures."""
    return cast(T, quote(value))


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


def shop_client(shop_block: str | None = None) -> ShopClient:
    """JTL-Shop client (read-only) from the block, else the ``JTL_SHOP_*`` environment."""
    block = load_block(JtlShopCredentials, shop_block) if shop_block else JtlShopCredentials.from_settings()
    return block.get_client()


def notifier_from_blocks(
    store: StateStore, run_id: str, email_block: str | None, webhook_block: str | None
) -> Notifier:
    """A notifier for the e-mail and webhook blocks that are named (either may be absent)."""
    return Notifier(
        store,
        run_id,
        email=load_block(SmtpServer, email_block).get_client() if email_block else None,
        webhook=load_block(WebhookEndpoint, webhook_block).get_client() if webhook_block else None,
    )


@dataclass(frozen=True)
class RunBlocks:
    """Names of the blocks a run uses; None means the ``JTL_*`` environment (or: not configured)."""

    ffn: str | None = None
    wawi: str | None = None
    database: str | None = None
    email: str | None = None
    webhook: str | None = None


@dataclass(frozen=True)
class RunClients:
    """Everything one flow run talks to, shared by its tasks (threads of one process)."""

    store: StateStore
    ffn: FfnClient
    wawi: WawiClient
    notifier: Notifier | None


@contextmanager
def run_clients(blocks: RunBlocks, run_id: str) -> Iterator[RunClients]:
    """The run's clients, closed when the run ends (a long-lived worker runs many flows)."""
    store = state_store(blocks.database)
    with ExitStack() as stack:
        ffn = stack.enter_context(ffn_client(store, blocks.ffn))
        wawi = stack.enter_context(wawi_client(blocks.wawi))
        notifier = (
            notifier_from_blocks(store, run_id, blocks.email, blocks.webhook)
            if blocks.email or blocks.webhook
            else None
        )
        yield RunClients(store, ffn, wawi, notifier)


def sheet_backend(sheet: str, sheets_block: str | None = None) -> SheetBackend:
    """An ``.xlsx``/``.xlsm`` path opens the workbook, a Google id the spreadsheet; anything else fails."""
    path = workbook_path(sheet)
    if path is not None:
        return ExcelBackend(path)
    block = (
        load_block(GoogleSheetsCredentials, sheets_block)
        if sheets_block
        else GoogleSheetsCredentials.from_settings()
    )
    return block.get_client(sheet)


def google_sheet(spreadsheet_id: str, sheets_block: str | None = None) -> GoogleSheetsBackend:
    """A Google spreadsheet by id (a report the run writes, so an .xlsx path is refused)."""
    backend = sheet_backend(spreadsheet_id, sheets_block)
    if not isinstance(backend, GoogleSheetsBackend):
        raise ValueError(f"{spreadsheet_id!r} is a file path; give a Google spreadsheet id")
    return backend


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


@contextmanager
def workflow_resources(
    store: StateStore,
    ffn: FfnClient,
    wawi: WawiClient,
    now: datetime,
    *,
    email_block: str | None = None,
    notifier: Notifier | None = None,
) -> Iterator[dict[str, Any]]:
    """What workflow actions ask for by name (docs/workflow-actions.md), built from the run's clients.

    Blocks named in a workflow (``endpoint:``, ``smtp:``) are loaded when a step asks for them, so a
    workflow that sends nothing needs no notification block at all. One HTTP client serves every plain
    ``url:`` webhook of the run (a client per call cost about 60 ms a step in benchmarks/workflow_runner).
    """
    from jtl_automator.workflows.actions.plan_data import LivePlanData

    with httpx.Client() as http:
        resources: dict[str, Any] = {
            "wawi": wawi,
            "ffn": ffn,
            "http": http,
            "plan_data": LivePlanData(ffn, wawi, store, now),
            "webhooks": lambda name: load_block(WebhookEndpoint, name).get_client(),
            "mail_servers": lambda name: load_block(SmtpServer, name).get_client(),
        }
        if email_block:
            resources["mail"] = load_block(SmtpServer, email_block).get_client()
        if notifier is not None:
            resources["notifier"] = notifier
        yield resources
