"""One of the processes of test_two_workers.py's limiter measurement: the limiters clients get.

``python -m tests.ratelimits.contend OUT START SECONDS`` (with ``PREFECT_API_URL`` set) builds the FFN,
Wawi and Sheets limiters as the blocks build them (``blocks.rate_limits.api_limiter``) and, from three
threads per API (one for Sheets), takes permits as fast as they come until ``START + SECONDS``; each
"request" holds its thread 10 ms. Writes the times of the permits and the pools' counters to OUT.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from blocks.rate_limits import api_limiter
from jtl_automator.shared_limits import FFN_LIMIT, SHEETS_LIMIT, WAWI_LIMIT, SharedRateLimiter

#: name, rate and burst of each API's limiter, as the test's blocks have them.
LIMITERS = {
    "ffn": (FFN_LIMIT, 20.0, 20),
    "wawi": (WAWI_LIMIT, 20.0, 20),
    "sheets": (SHEETS_LIMIT, 2.0, 20),
}


def main(out: str, start: float, seconds: float) -> None:
    """Take permits from ``start`` for ``seconds`` and write what happened to ``out``."""
    limiters = {api: api_limiter(rate, burst, name) for api, (name, rate, burst) in LIMITERS.items()}
    stamps: dict[str, list[float]] = {api: [] for api in limiters}
    lock = threading.Lock()
    time.sleep(max(0.0, start - time.time()))

    def send(api: str) -> None:
        limiter = limiters[api]
        while time.time() < start + seconds:
            limiter.acquire()
            with lock:
                stamps[api].append(time.time())
            time.sleep(0.01)

    threads = [
        threading.Thread(target=send, args=(api,))
        for api in limiters
        for _ in range(1 if api == "sheets" else 3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pools = {}
    for api, limiter in limiters.items():
        assert isinstance(limiter, SharedRateLimiter)
        source = limiter.pool.source
        pools[api] = {
            "shared": limiter.pool.shared,
            "batches": limiter.pool.batches,
            "expired": limiter.pool.expired,
            "source": dict(getattr(source, "stats", {})),
        }
    with open(out, "w") as handle:
        json.dump({"stamps": stamps, "pools": pools}, handle)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
