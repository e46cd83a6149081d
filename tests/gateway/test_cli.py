"""``jtl-automator gateway``: check, events, drain (one-line errors), and serve as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from jtl_automator.cli import app
from jtl_automator.gateway import Outbox
from jtl_automator.store import StateStore
from tests.gateway.conftest import ROOT, event_body, signed

EXAMPLE = ROOT / "config" / "gateway.example.yaml"
SHOP = "s" * 48
ENV = {"JTL_GATEWAY_SECRET_SHOP": SHOP, "CRM_WEBHOOK_SECRET": "c" * 48}


def _only_env_sources(tmp_path: Path) -> Path:
    """The example without the source that needs a Prefect Secret block."""
    text = EXAMPLE.read_text().replace(
        "schemas: gateway/schemas", f"schemas: {ROOT / 'config' / 'gateway' / 'schemas'}"
    )
    start, end = text.index("  wawi:"), text.index("  crm:")
    path = tmp_path / "gateway.yaml"
    path.write_text(text[:start] + text[end:])
    return path


def test_check_lists_the_sources_and_never_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["gateway", "check", "--config", str(_only_env_sources(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "source shop: secret found; events order.held, stock.changed" in result.output
    assert "100 requests per 60 s per client IP" in result.output
    assert SHOP not in result.output


def test_a_missing_secret_is_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", "c" * 48)
    result = CliRunner().invoke(app, ["gateway", "check", "--config", str(_only_env_sources(tmp_path))])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: source 'shop': no secret in environment variable JTL_GATEWAY_SECRET_SHOP "
        "(see docs/gateway.md)"
    ]


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["gateway", "check", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "nope.yaml: cannot be read" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_events_lists_and_drain_dry_run_shows_without_delivering(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(url)
    outbox = Outbox(store)
    outbox.append("shop", "e1", "order.held", {"order_number": "A", "reason": "r"})
    outbox.append("crm", "c1", "custom", {"name": "lead.won"})
    runner = CliRunner()
    listed = runner.invoke(app, ["gateway", "events", "--url", url, "--type", "custom"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].split("\t")[:4] == ["2", "crm", "custom", "c1"] and lines[-1] == "2 pending, 0 delivered"
    dry = runner.invoke(app, ["gateway", "drain", "--url", url, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1\tshop\tjtl.gateway.order.held\te1" in dry.output
    assert "dry run: 2 event(s) would be delivered (2 pending)" in dry.output
    assert outbox.counts().pending == 2
    store.dispose()


def test_drain_without_a_prefect_api_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["gateway", "drain", "--url", f"sqlite:///{tmp_path / 's.db'}"])
    assert result.exit_code == 2
    assert (
        result.output.startswith("Error: PREFECT_API_URL is not set") and len(result.output.splitlines()) == 1
    )


@pytest.mark.slow
def test_serve_accepts_a_signed_event_into_the_database(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"sqlite:///{tmp_path / 'state.db'}"
    config = str(_only_env_sources(tmp_path))
    command = ["gateway", "serve", "--config", config, "--port", str(port), "--url", url]
    proc = subprocess.Popen(
        [sys.executable, "-m", "jtl_automator.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **ENV, "PYTHONPATH": str(ROOT)},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "gateway did not start"
            time.sleep(0.2)
        body = event_body()
        accepted = httpx.post(f"{base}/events/shop", content=body, headers=signed(body, secret=SHOP))
        assert accepted.status_code == 202, accepted.text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"gateway on http://127.0.0.1:{port}/events/{{source}} (2 source(s))" in out
    assert SHOP not in out
    store = StateStore(url)
    assert [e.event_id for e in Outbox(store).since(0)] == ["evt-1"]
    store.dispose()


@pytest.mark.slow
def test_prune_deletes_old_delivered_events_only(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(url)
    outbox = Outbox(store)
    old = outbox.append("shop", "old", "order.held", {}).id
    outbox.append("shop", "pending", "order.held", {})
    outbox.mark_delivered([old], datetime.now(UTC) - timedelta(days=40))
    result = CliRunner().invoke(app, ["gateway", "prune", "--days", "30", "--url", url])
    assert result.exit_code == 0, result.output
    assert "deleted 1 delivered event(s) older than 30 day(s)" in result.output
    assert [e.event_id for e in outbox.since(0)] == ["pending"]
    refused = CliRunner().invoke(app, ["gateway", "prune", "--days", "0", "--url", url])
    assert refused.exit_code == 2
    store.dispose()
