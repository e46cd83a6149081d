"""The flow two workers run at once in test_two_workers.py: the project's FFN, Wawi and Sheets clients,
built from the project's blocks as every flow builds them (tasks/resources.py), sending requests as fast
as their limiters allow, from several threads each (as the order import does).

The runs meet at a file barrier before sending, so both load the APIs over the same seconds; each
writes what it saw (requests, 429s and 401s its clients got, token refreshes, whether the limits were
shared, batches taken) to a JSON file the test reads.
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow

from jtl_automator.shared_limits import SharedRateLimiter
from tasks.resources import correlated, ffn_client, google_sheet, state_store, wawi_client


def _barrier(folder: Path, name: str, peers: int, timeout: float = 300.0) -> None:
    """Say this run is ready, then wait until ``peers`` runs are."""
    (folder / f"{name}.ready").write_text("ready")
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("*.ready"))) < peers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(folder.glob('*.ready')))} of {peers} runs got ready")
        time.sleep(0.05)


def _pool_view(limiter: Any) -> dict[str, Any]:
    if not isinstance(limiter, SharedRateLimiter):
        return {"shared": False}
    pool = limiter.pool
    return {
        "shared": pool.shared,
        "batches": pool.batches,
        "expired": pool.expired,
        "fetch_seconds": round(pool.fetch_seconds, 3),
        "source": {k: round(v, 3) for k, v in getattr(pool.source, "stats", {}).items()},
    }


@flow(name="rate-limit-load")
def rate_limit_load(
    folder: str,
    name: str,
    peers: int = 2,
    seconds: float = 20.0,
    suffix: str = "",
    spreadsheet_id: str = "inbound-control-demo",
    threads_per_api: int = 2,
) -> None:
    """Send FFN, Wawi and Sheets requests for ``seconds`` after every peer is ready; write the figures."""
    out = Path(folder)
    with correlated():
        store = state_store("state-database")
        ffn = ffn_client(store, f"ffn{suffix}")
        wawi = wawi_client(f"wawi{suffix}")
        sheet = google_sheet(spreadsheet_id, f"google-sheets{suffix}")
        calls: dict[str, Callable[[], object]] = {
            "ffn": lambda: list(ffn.warehouses.list()),
            "wawi": wawi.info,
            "sheets": sheet.worksheet_names,
        }
        sent: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        lock = threading.Lock()
        _barrier(out, name, peers)
        started = time.time()
        until = started + seconds

        def send(api: str) -> None:
            while time.time() < until:
                try:
                    calls[api]()
                except Exception as exc:  # counted and reported: the test expects none
                    with lock:
                        errors[f"{api}: {type(exc).__name__}: {str(exc)[:160]}"] += 1
                    continue
                with lock:
                    sent[api] += 1

        workers = [
            threading.Thread(target=contextvars.copy_context().run, args=(send, api))
            for api in calls
            for _ in range(threads_per_api if api != "sheets" else 1)
        ]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        ended = time.time()
        report = {
            "name": name,
            "started": started,
            "ended": ended,
            "sent": dict(sent),
            "errors": dict(errors),
            "ffn_statuses": dict(ffn.core.stats.by_status),
            "wawi_statuses": dict(wawi.core.stats.by_status),
            "sheets_statuses": dict(sheet.stats.by_status),
            "refreshes": ffn.token_provider.refresh_count,  # type: ignore[attr-defined]
            "pools": {
                "ffn": _pool_view(ffn.core.limiter),
                "wawi": _pool_view(wawi.core.limiter),
                "sheets": _pool_view(sheet._http.limiter),  # type: ignore[attr-defined]
            },
        }
        ffn.close()
        wawi.close()
    (out / f"{name}.json").write_text(json.dumps(report))
