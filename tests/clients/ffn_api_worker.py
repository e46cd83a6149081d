"""Child process of the token hand-over test: an FFN client on the shared state store, driven step by step.

Reads one command per line from stdin and answers each with one JSON line on stdout:
``call`` (``GET /users/current``), ``rotate`` (spend a refresh token now, as a process whose access token
ran into its refresh margin would) and ``quit``. Every answer carries the counters the test checks.
"""

from __future__ import annotations

import json
import sys

import httpx
from pydantic import SecretStr

from jtl_automator.clients.errors import JtlApiError
from jtl_automator.clients.ffn import FfnClient, FfnTokenManager
from jtl_automator.resilience import RetryPolicy
from jtl_automator.store import StateStore


def main(base_url: str, db_url: str, client_id: str, client_secret: str, initial_refresh: str) -> int:
    store = StateStore(db_url)
    with httpx.Client(timeout=30) as http:
        tokens = FfnTokenManager(
            http,
            f"{base_url}/oauth2/token",
            client_id,
            SecretStr(client_secret),
            store,
            SecretStr(initial_refresh),
        )
        ffn = FfnClient(http, tokens, f"{base_url}/api", retry=RetryPolicy(max_attempts=1))
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            answer: dict[str, object] = {"command": command}
            try:
                if command == "call":
                    answer["user"] = ffn.users.current().user_id
                elif command == "rotate":
                    tokens.invalidate(tokens.access_token())
                    tokens.access_token()
                else:
                    answer["error"] = f"unknown command {command!r}"
            except JtlApiError as exc:
                answer["error"] = f"{type(exc).__name__}: {exc}"
            answer["refreshes"] = tokens.refresh_count
            answer["unauthorized"] = ffn.stats.by_status[401]
            print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
