"""Child process of the cross-process rotation test: refresh many times against a shared SQLite store."""

from __future__ import annotations

import os
import sys

import httpx
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError
from jtl_automator.clients.ffn.auth import FfnTokenManager
from jtl_automator.store import StateStore
from tests.clients.oauth_fake import CLIENT_ID, CLIENT_SECRET, INITIAL_REFRESH
from tests.clients.sqlite_token_store import SqliteTokenStore


def main(token_url: str, db: str, rounds: int) -> int:
    # A SQLAlchemy URL means the project's real state store (SQLite or PostgreSQL); a path, the test store.
    store = StateStore(db) if "://" in db else SqliteTokenStore(db)
    with httpx.Client() as http:
        manager = FfnTokenManager(
            http,
            token_url,
            os.environ.get("WORKER_CLIENT_ID", CLIENT_ID),
            SecretStr(os.environ.get("WORKER_CLIENT_SECRET", CLIENT_SECRET)),
            store,
            SecretStr(os.environ.get("WORKER_INITIAL_REFRESH", INITIAL_REFRESH)),
        )
        try:
            for _ in range(rounds):
                manager.access_token()  # expires_in=0 on the server: every call must refresh under the lock
        except AuthError as exc:
            print(f"AUTH ERROR: {exc}", file=sys.stderr)
            return 3
    print(manager.refresh_count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
