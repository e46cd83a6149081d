"""The Prefect emitter when the API is away: an EmitterUnavailable, so the drainer keeps the rows."""

from __future__ import annotations

import socket

import pytest

from jtl_automator.gateway import EmitterUnavailable, FakeEmitter, Outbox, drain

pytestmark = pytest.mark.slow  # imports Prefect


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_prefect_api_keeps_the_events(sqlite_outbox: Outbox) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tasks.gateway import PrefectEmitter

    sqlite_outbox.append("shop", "e1", "order.held", {"order_number": "A", "reason": "r"})
    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{_closed_port()}/api"}):
        with pytest.raises(EmitterUnavailable, match="unreachable"):
            PrefectEmitter().emit(sqlite_outbox.pending())
        report = drain(sqlite_outbox, PrefectEmitter())
    assert (report.remaining, report.attempts, report.delivered) == (1, 1, [])
    assert "Prefect API unreachable" in (sqlite_outbox.counts().head_error or "")
    emitter = FakeEmitter()
    drain(sqlite_outbox, emitter, force=True)
    assert [e.event_id for e in emitter.emitted] == ["e1"]
