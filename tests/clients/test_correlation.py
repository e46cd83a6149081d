"""Every outgoing request and every core log line names the current flow run."""

from __future__ import annotations

import logging

import httpx
import pytest

from jtl_automator.clients.http import HttpCore
from jtl_automator.correlation import correlation_id
from jtl_automator.resilience import RetryPolicy


def test_header_and_log_lines_carry_the_correlation_id(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    calls = iter([503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["X-Correlation-ID"])
        return httpx.Response(next(calls), json={})

    core = HttpCore(
        httpx.Client(transport=httpx.MockTransport(handler)),
        "http://api.test",
        retry=RetryPolicy(max_attempts=3, budget_seconds=5, sleep=lambda _: None),
    )
    token = correlation_id.set("run-42")
    try:
        with caplog.at_level(logging.INFO, logger="jtl_automator"):
            core.get_json("/things")
    finally:
        correlation_id.reset(token)
    assert seen == ["run-42", "run-42"]
    retries = [r for r in caplog.records if r.name == "jtl_automator.http"]
    assert retries, "the retry was not logged"
    assert all(r.getMessage().startswith("[run-42] ") and r.correlation_id == "run-42" for r in retries)  # type: ignore[attr-defined]
