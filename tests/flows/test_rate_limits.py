"""The API rate limits on a real Prefect server: created idempotently, taken as slots, fallbacks."""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import SecretStr

import blocks.rate_limits as rate_limits
from blocks import GoogleSheetsCredentials, JtlFfnCredentials, JtlWawiCredentials
from blocks.rate_limits import PrefectRateLimitSlots, api_limiter, create_rate_limits, ensure_rate_limits
from jtl_automator.resilience import RateLimiter
from jtl_automator.settings import Settings
from jtl_automator.shared_limits import (
    FFN_LIMIT,
    SHEETS_LIMIT,
    WAWI_LIMIT,
    SharedLimit,
    SharedLimitUnavailable,
    SharedRateLimiter,
)
from jtl_automator.store import StateStore

pytestmark = pytest.mark.prefect  # needs the session's Prefect test server


def _messages(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage().split("] ", 1)[-1] for r in caplog.records if r.name == logger]


@pytest.fixture
def fresh_pools() -> Iterator[None]:
    """Each test starts without the process's pools (they are per process and server)."""
    rate_limits._pools.clear()
    rate_limits._said_local.clear()
    yield
    rate_limits._pools.clear()
    rate_limits._said_local.clear()


def _delete(*names: str) -> None:
    with get_client(sync_client=True) as client:
        for name in names:
            with contextlib.suppress(ObjectNotFound):  # absent already
                client.delete_global_concurrency_limit_by_name(name)


def test_blocks_creates_the_three_limits_then_leaves_them_or_brings_them_up_to_date() -> None:
    _delete(FFN_LIMIT, WAWI_LIMIT, SHEETS_LIMIT)
    settings = Settings.from_values(
        ffn_rate_per_second=20, wawi_rate_per_second=5, sheets_requests_per_minute=60
    )
    assert create_rate_limits(settings) == {
        FFN_LIMIT: "created (20 slots, 20 per second)",
        WAWI_LIMIT: "created (5 slots, 5 per second)",
        SHEETS_LIMIT: "created (10 slots, 1 per second)",
    }
    assert set(create_rate_limits(settings).values()) == {
        "unchanged (20 slots, 20 per second)",
        "unchanged (5 slots, 5 per second)",
        "unchanged (10 slots, 1 per second)",
    }
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(WAWI_LIMIT, GlobalConcurrencyLimitUpdate(active=False))
    faster = settings.model_copy(update={"ffn_rate_per_second": 40.0})
    outcome = create_rate_limits(faster)
    assert outcome[FFN_LIMIT] == "updated (40 slots, 40 per second, was 20 slots, 20 per second)"
    assert outcome[WAWI_LIMIT] == "unchanged (5 slots, 5 per second; inactive, so not shared)"
    with get_client(sync_client=True) as client:
        ffn = client.read_global_concurrency_limit_by_name(FFN_LIMIT)
        wawi = client.read_global_concurrency_limit_by_name(WAWI_LIMIT)
    assert (ffn.limit, ffn.slot_decay_per_second, ffn.active) == (40, 40.0, True)
    assert wawi.active is False  # an operator's decision is not overruled
    off = settings.model_copy(update={"shared_rate_limits": False})
    assert set(create_rate_limits(off).values()) == {"skipped: JTL_SHARED_RATE_LIMITS is false"}
    _delete(FFN_LIMIT, WAWI_LIMIT, SHEETS_LIMIT)


def test_the_prefect_bucket_is_described_and_its_slots_taken() -> None:
    name = f"jtl-test-{uuid.uuid4().hex[:8]}"
    ensure_rate_limits([SharedLimit(name, 10, 0.1)])  # slow decay: the slots taken stay visible
    slots = PrefectRateLimitSlots(name)
    assert slots.describe() == SharedLimit(name, 10, 0.1)
    slots.take(5)
    slots.take(5)
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(name).active_slots >= 9
    # read before the first batch; it had room for two, so the second was asked for unread
    assert (slots.stats["reads"], slots.stats["increments"], slots.stats["refused"]) == (2, 2, 0)
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active=False))
    with pytest.raises(SharedLimitUnavailable, match="inactive"):
        slots.describe()
    _delete(name)
    with pytest.raises(
        SharedLimitUnavailable, match=r"has no global concurrency limit .*jtl-automator blocks"
    ):
        slots.describe()
    with pytest.raises(SharedLimitUnavailable, match="was deleted"):  # asked unread: the limit had room
        slots.take(1)


@pytest.mark.slow
def test_a_refused_unread_batch_goes_back_to_reading_and_waits_for_the_decay() -> None:
    name = f"jtl-test-{uuid.uuid4().hex[:8]}"
    ensure_rate_limits([SharedLimit(name, 4, 0.4)])  # batches of 2; 2 slots decay in 5 s
    slots = PrefectRateLimitSlots(name)
    slots.take(2)  # read: room for two batches
    slots.take(2)  # unread
    slots.take(2)  # unread, refused (full), read, wait for 2 slots to decay, granted
    assert slots.stats["refused"] == 1 and slots.stats["reads"] >= 2
    assert slots.stats["decay_wait_seconds"] > 0
    _delete(name)


def test_a_concurrency_limit_without_decay_is_not_a_rate_limit() -> None:
    name = f"jtl-test-{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, limit=3)
    with pytest.raises(SharedLimitUnavailable, match="no slot decay"):
        PrefectRateLimitSlots(name).describe()
    _delete(name)


def test_block_clients_of_one_process_share_one_pool_per_limit(fresh_pools: None, tmp_path: Path) -> None:
    ffn_block = JtlFfnCredentials(client_id="c", client_secret=SecretStr("s"))
    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    first, second = ffn_block.get_client(store), ffn_block.get_client(store)
    assert isinstance(first.core.limiter, SharedRateLimiter) and isinstance(
        second.core.limiter, SharedRateLimiter
    )
    assert first.core.limiter is not second.core.limiter  # each client paced as before ...
    assert first.core.limiter.pool is second.core.limiter.pool  # ... sharing the process's permits
    wawi = JtlWawiCredentials(base_url="http://127.0.0.1:1/api", api_key=SecretStr("k")).get_client()
    assert (
        isinstance(wawi.core.limiter, SharedRateLimiter) and wawi.core.limiter.pool.source.name == WAWI_LIMIT
    )
    local = JtlFfnCredentials(client_id="c", client_secret=SecretStr("s"), shared_rate_limit=None)
    limiter = local.get_client(store).core.limiter
    assert type(limiter) is RateLimiter and (limiter.rate_per_second, limiter.burst) == (20.0, 20)
    sheets = GoogleSheetsCredentials.from_settings(
        Settings.from_values(google_service_account_file="/x.json")
    )
    assert sheets.shared_rate_limit == SHEETS_LIMIT
    assert (
        JtlFfnCredentials.from_settings(
            Settings.from_values(
                ffn_client_id="c", ffn_client_secret=SecretStr("s"), shared_rate_limits=False
            )
        ).shared_rate_limit
        is None
    )


def test_without_a_prefect_server_each_process_limits_itself_and_says_so_once(
    fresh_pools: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jtl_automator.rate_limits")
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        limiters = [api_limiter(20.0, 20, FFN_LIMIT) for _ in range(3)]
        outcome = create_rate_limits(Settings.from_values())
    assert all(type(limiter) is RateLimiter for limiter in limiters)
    assert _messages(caplog, "jtl_automator.rate_limits") == [
        "rate limit jtl-ffn-api not shared across processes: no Prefect server configured "
        "(PREFECT_API_URL unset); this process limits itself"
    ]
    assert outcome[FFN_LIMIT].startswith("skipped: no Prefect server configured")


@pytest.mark.slow
def test_an_unreachable_server_or_a_missing_limit_falls_back_to_the_local_limiter(
    fresh_pools: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jtl_automator.shared_limits")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{closed_port}/api"}):
        limiter = api_limiter(50.0, 50, FFN_LIMIT)
        assert isinstance(limiter, SharedRateLimiter)
        for _ in range(20):
            limiter.acquire()
        assert not limiter.pool.shared
    _delete("jtl-missing-limit")
    missing = api_limiter(50.0, 50, "jtl-missing-limit")
    assert isinstance(missing, SharedRateLimiter)
    for _ in range(5):
        missing.acquire()
    assert not missing.pool.shared
    assert _messages(caplog, "jtl_automator.shared_limits") == [
        "rate limit jtl-ffn-api not shared across processes: the Prefect server did not answer "
        "(ConnectError); this process limits itself (asking again every 60 s)",
        "rate limit jtl-missing-limit not shared across processes: the Prefect server has no global "
        "concurrency limit 'jtl-missing-limit' (`jtl-automator blocks` creates it); this process limits "
        "itself (asking again every 60 s)",
    ]
