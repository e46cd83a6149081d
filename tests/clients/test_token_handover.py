"""Two processes, one FFN account, a server that revokes the old access token on every refresh.

JTL's OAuth server (League) revokes the access token issued with a refresh token when that refresh token
is spent. A process whose token another process's refresh killed gets 401; its client must re-read the
state store, take the token the other process stored and retry once, without spending a refresh token
of its own (a second spend of the rotated token would lock the account out). Driven step by step over
real HTTP against the strict sandbox, so every interleaving asserted here is the one that happened.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import serve_in_thread
from jtl_automator.store import StateStore

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """One child process running ``tests.clients.ffn_api_worker``."""

    def __init__(self, base_url: str, db_url: str, config: SandboxConfig) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.clients.ffn_api_worker",
                base_url,
                db_url,
                config.ffn_client_id,
                config.ffn_client_secret,
                config.ffn_initial_refresh_token,
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def do(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            _, err = self.proc.communicate(timeout=30)
            raise AssertionError(f"worker died on {command!r}: {err}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> str:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        _, err = self.proc.communicate(timeout=60)
        return err


def _served(config: SandboxConfig, db_url: str) -> Iterator[tuple[Worker, Worker, Any]]:
    app = create_app(generate(seed=4, skus=5, orders=1, customers=2), config)
    StateStore(db_url)  # migrated here, so the workers do not race on the schema
    with serve_in_thread(app) as server:
        workers = (Worker(server.base_url, db_url, config), Worker(server.base_url, db_url, config))
        try:
            yield workers[0], workers[1], app.state.sandbox
        finally:
            for worker in workers:
                worker.close()


@pytest.fixture
def strict_pair(sqlite_url: str) -> Iterator[tuple[Worker, Worker, Any]]:
    yield from _served(SandboxConfig.strictest(), sqlite_url)


@pytest.mark.slow
def test_a_401_after_another_process_refreshed_takes_the_stored_token(
    strict_pair: tuple[Worker, Worker, Any],
) -> None:
    a, b, state = strict_pair
    first = a.do("call")
    assert "error" not in first and first["refreshes"] == 1  # A seeds the store from the initial token
    assert b.do("call") == {**first, "refreshes": 0}  # B reads A's access token from the store
    issued = state.runtime.oauth.issued_count

    assert a.do("rotate")["refreshes"] == 2  # A spends the refresh token: B's access token is revoked
    answer = b.do("call")
    assert "error" not in answer, answer["error"]
    assert answer["unauthorized"] == 1  # B met the revocation ...
    assert answer["refreshes"] == 0  # ... and took A's stored token instead of refreshing itself

    assert b.do("rotate")["refreshes"] == 1  # now the other way round
    answer = a.do("call")
    assert "error" not in answer, answer["error"]
    assert (answer["unauthorized"], answer["refreshes"]) == (1, 2)
    assert state.runtime.oauth.issued_count == issued + 2  # exactly the two deliberate refreshes


@pytest.mark.slow
def test_a_lenient_server_keeps_the_old_token_alive(sqlite_url: str) -> None:
    """The same steps without revocation: no 401 at all, which is what the strict knob changes."""
    for a, b, _state in _served(SandboxConfig(), sqlite_url):
        a.do("call")
        b.do("call")
        a.do("rotate")
        assert b.do("call")["unauthorized"] == 0
