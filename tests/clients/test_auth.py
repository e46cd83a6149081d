"""FFN token manager: seeding, rotation under a lock (threads and processes), encryption at rest."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError
from jtl_automator.clients.ffn.auth import (
    FfnTokenManager,
    InMemoryTokenStore,
    TokenCipher,
    TokenRecord,
    authorization_url,
)
from tests.clients.oauth_fake import CLIENT_ID, CLIENT_SECRET, INITIAL_REFRESH, FakeOAuth
from tests.clients.sqlite_token_store import SqliteTokenStore

TOKEN_URL = "https://oauth2.example.test/token"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Now:
    def __init__(self) -> None:
        self.value = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value


def manager(oauth: FakeOAuth, store: object, now: Now | None = None, initial: str | None = INITIAL_REFRESH):
    http = httpx.Client(transport=httpx.MockTransport(oauth.handle))
    return FfnTokenManager(
        http,
        TOKEN_URL,
        CLIENT_ID,
        SecretStr(CLIENT_SECRET),
        store,  # type: ignore[arg-type]
        SecretStr(initial) if initial else None,
        now=now or Now(),
    )


def test_first_call_seeds_from_the_initial_refresh_token_and_persists_rotation() -> None:
    oauth, store = FakeOAuth(), InMemoryTokenStore()
    mgr = manager(oauth, store)
    assert mgr.access_token() == "access-1-eyJhbGciOi"
    cipher = TokenCipher(SecretStr(CLIENT_SECRET), CLIENT_ID)
    row = store.read_token("ffn")
    assert row is not None
    assert cipher.decrypt(row.refresh_token) == "def502-refresh-1"
    assert INITIAL_REFRESH not in oauth.valid_refresh  # spent


def test_a_later_process_uses_the_stored_token_not_the_spent_initial_one() -> None:
    oauth, store, now = FakeOAuth(), InMemoryTokenStore(), Now()
    manager(oauth, store, now).access_token()
    now.value += timedelta(hours=1)  # the stored access token has expired
    second = manager(oauth, store, now)  # still configured with the (spent) initial token
    assert second.access_token() == "access-2-eyJhbGciOi"
    assert oauth.reuse_attempts == 0


def test_a_still_valid_stored_access_token_is_reused_without_refresh() -> None:
    oauth, store, now = FakeOAuth(), InMemoryTokenStore(), Now()
    manager(oauth, store, now).access_token()
    other = manager(oauth, store, now)
    assert other.access_token() == "access-1-eyJhbGciOi"
    assert other.refresh_count == 0
    assert len(oauth.issued_access) == 1


def test_refresh_happens_within_the_margin_before_expiry() -> None:
    oauth, store, now = FakeOAuth(expires_in=1800), InMemoryTokenStore(), Now()
    mgr = manager(oauth, store, now)
    first = mgr.access_token()
    now.value += timedelta(seconds=1800 - 121)
    assert mgr.access_token() == first
    now.value += timedelta(seconds=2)  # now within 120 s of expiry
    assert mgr.access_token() != first
    assert mgr.refresh_count == 2


def test_invalidate_forces_a_refresh() -> None:
    oauth, store = FakeOAuth(), InMemoryTokenStore()
    mgr = manager(oauth, store)
    first = mgr.access_token()
    mgr.invalidate(first)
    assert mgr.access_token() == "access-2-eyJhbGciOi"


def test_no_token_anywhere_is_a_clear_auth_error() -> None:
    with pytest.raises(AuthError, match="jtl-automator auth ffn"):
        manager(FakeOAuth(), InMemoryTokenStore(), initial=None).access_token()


def test_spent_refresh_token_is_an_auth_error_and_leaves_the_row_untouched() -> None:
    oauth, store = FakeOAuth(), InMemoryTokenStore()
    oauth.valid_refresh.clear()  # someone else spent it
    with pytest.raises(AuthError, match="invalid_grant"):
        manager(oauth, store).access_token()
    assert store.read_token("ffn") is None


def test_tokens_are_encrypted_at_rest() -> None:
    oauth, store = FakeOAuth(), InMemoryTokenStore()
    manager(oauth, store).access_token()
    row = store.read_token("ffn")
    assert row is not None and row.refresh_token and row.access_token
    assert "refresh-1" not in row.refresh_token and "access-1" not in row.access_token
    assert row.refresh_token.startswith("fernet:")


def test_a_store_written_under_another_secret_is_a_clear_error() -> None:
    store = InMemoryTokenStore()
    other = TokenCipher(SecretStr("other-secret"), CLIENT_ID)
    with store.locked_token("ffn") as row:
        row.refresh_token = other.encrypt("def502-x")
    with pytest.raises(AuthError, match="client secret changed"):
        manager(FakeOAuth(), store).access_token()


def test_authorization_url_and_code_exchange() -> None:
    url = authorization_url(
        "https://oauth2.example.test/authorize", CLIENT_ID, "http://127.0.0.1:8765/cb", "st4te"
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "redirect_uri": ["http://127.0.0.1:8765/cb"],
        "scope": ["ffn.merchant.read ffn.merchant.write"],
        "state": ["st4te"],
    }
    oauth, store = FakeOAuth(code="the-code"), InMemoryTokenStore()
    mgr = manager(oauth, store, initial=None)
    grant = mgr.exchange_code("the-code", "http://127.0.0.1:8765/cb")
    assert grant.access_expires_at > datetime(2025, 1, 1, tzinfo=UTC)
    assert mgr.access_token() == "access-1-eyJhbGciOi"
    with pytest.raises(AuthError, match="invalid_grant"):
        mgr.exchange_code("the-code", "http://127.0.0.1:8765/cb")  # codes are single-use


def test_threads_share_one_refresh() -> None:
    oauth, store = FakeOAuth(), InMemoryTokenStore()
    mgr = manager(oauth, store)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(mgr.access_token())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {"access-1-eyJhbGciOi"}
    assert len(oauth.issued_access) == 1


def test_two_managers_in_threads_rotating_constantly_never_replay() -> None:
    """Two managers (as two processes would be) on one store; expires_in=0 forces a refresh per call."""
    oauth, store = FakeOAuth(expires_in=0), InMemoryTokenStore()
    errors: list[Exception] = []

    def worker() -> None:
        mgr = manager(oauth, store, now=None)
        try:
            for _ in range(30):
                mgr.access_token()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert oauth.reuse_attempts == 0
    assert len(oauth.issued_access) == 60


@pytest.mark.slow
def test_two_processes_share_rotation_through_a_sqlite_store(tmp_path: Path) -> None:
    oauth = FakeOAuth(expires_in=0)
    server, token_url = oauth.serve()
    db = tmp_path / "tokens.db"
    SqliteTokenStore(str(db))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.clients.token_worker", token_url, str(db), "15"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        server.shutdown()
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    assert sum(int(out.strip()) for out, _ in outputs) == 30
    assert oauth.reuse_attempts == 0
    rows = SqliteTokenStore(str(db)).raw_rows()
    assert len(rows) == 1 and "def502" not in "".join(str(v) for v in rows[0])


@pytest.mark.slow
def test_a_refresh_answered_slower_than_the_client_timeout_is_waited_for() -> None:
    # The server rotates the token, then answers late: abandoning that answer would spend the only
    # refresh token, so the token call outwaits the client's tight read timeout.
    oauth = FakeOAuth()
    oauth.answer_delay = 0.6
    server, token_url = oauth.serve()
    try:
        http = httpx.Client(timeout=0.2)
        mgr = FfnTokenManager(
            http,
            token_url,
            CLIENT_ID,
            SecretStr(CLIENT_SECRET),
            InMemoryTokenStore(),
            SecretStr(INITIAL_REFRESH),
            now=Now(),
        )
        assert mgr.access_token() == "access-1-eyJhbGciOi"
        assert oauth.reuse_attempts == 0
        with pytest.raises(httpx.ReadTimeout):  # other calls keep the client's own timeout
            http.post(token_url, data={"grant_type": "refresh_token", "refresh_token": "def502-refresh-1"})
    finally:
        server.shutdown()


def test_in_memory_store_does_not_save_on_error() -> None:
    store = InMemoryTokenStore()
    with pytest.raises(RuntimeError), store.locked_token("x") as row:
        row.refresh_token = "changed"
        raise RuntimeError("boom")
    assert store.read_token("x") is None
    assert isinstance(TokenRecord(), TokenRecord)
