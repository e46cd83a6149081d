"""A real HTTP receiver for webhook tests (stdlib ``http.server`` in a thread) that counts deliveries.

``script(status, headers, delay, body)`` queues the next answers; later requests get 200 with a JSON
echo of what arrived. Every request is kept (method, path, headers, body), so a test sees retries and
repeats exactly as a receiver would, and ``deliveries()`` counts the distinct idempotency keys answered 2xx.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes | None = None


class Receiver:
    """Context manager: ``with Receiver() as r: r.url``."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.answers: deque[Answer] = deque()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    answer = receiver.answers.popleft() if receiver.answers else Answer()
                if answer.delay:
                    time.sleep(answer.delay)
                headers = dict(self.headers.items())
                with receiver.lock:
                    receiver.requests.append(Seen(self.command, self.path, headers, body, answer.status))
                payload = answer.body
                if payload is None:
                    payload = json.dumps(
                        {"received": self.command, "path": self.path, "headers": headers}
                    ).encode()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def script(self, *answers: Answer) -> None:
        with self.lock:
            self.answers.extend(answers)

    def deliveries(self) -> int:
        """Distinct idempotency keys the receiver accepted (2xx): what a deduplicating receiver processed."""
        with self.lock:
            return len({r.headers.get("Idempotency-Key") for r in self.requests if 200 <= r.status < 300})

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
