"""The sandbox's mail server: a small real SMTP server (stdlib ``socketserver``) with scriptable replies.

It speaks enough ESMTP for ``smtplib``: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA (with dot-unstuffing),
RSET, NOOP, QUIT. ``script(command, reply)`` makes the next occurrence of a command (or ``"GREETING"``
for the next connection) answer ``reply`` instead, e.g. a transient ``421`` or a permanent ``550``.
"""

from __future__ import annotations

import base64
import socketserver
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field


@dataclass
class Received:
    """One message as it arrived: envelope and the raw DATA."""

    mail_from: str
    rcpt_to: list[str]
    data: bytes


@dataclass
class SmtpState:
    """The server's login, what it received, and the replies scripted for the next commands."""

    username: str = "ops@example.com"
    password: str = "s3cret-smtp-password-42"  # noqa: S105 (the sandbox's own made-up login)
    offer_starttls: bool = False
    messages: list[Received] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    connections: int = 0
    scripted: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, command: str, reply: str, times: int = 1) -> None:
        """The next ``times`` occurrences of ``command`` answer ``reply`` (a fault)."""
        with self.lock:
            self.scripted[command.upper()].extend([reply] * times)

    def take(self, command: str) -> str | None:
        """The scripted reply for ``command``, if any is left."""
        with self.lock:
            queue = self.scripted.get(command)
            return queue.popleft() if queue else None


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        state = self.server.state
        with state.lock:
            state.connections += 1
        greeting = state.take("GREETING")
        if greeting is not None:
            self.reply(greeting)
            return
        self.reply("220 localhost ESMTP test server")
        mail_from, rcpts = "", list[str]()
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            key = {"MAIL": "MAIL", "RCPT": "RCPT"}.get(verb, verb)
            with state.lock:
                state.commands.append(key)
            scripted = state.take(key)
            if scripted is not None:
                self.reply(scripted)
                if scripted.startswith("421"):
                    return
                continue
            if verb in ("EHLO", "HELO"):
                lines = ["250-localhost", "250-AUTH PLAIN", "250-8BITMIME", "250-SMTPUTF8"]
                if state.offer_starttls:
                    lines.append("250-STARTTLS")
                self.reply("\r\n".join([*lines, "250 SIZE 10000000"]))
            elif verb == "AUTH":
                parts = line.split()
                if len(parts) < 3 or parts[1].upper() != "PLAIN":
                    self.reply("504 5.5.4 only AUTH PLAIN with an initial response")
                    continue
                _, user, password = base64.b64decode(parts[2]).decode().split("\0")
                if (user, password) == (state.username, state.password):
                    self.reply("235 2.7.0 Authentication successful")
                else:
                    self.reply("535 5.7.8 Authentication credentials invalid")
            elif verb == "MAIL":
                mail_from, rcpts = line.split(":", 1)[1].split()[0].strip("<>"), []
                self.reply("250 2.1.0 OK")
            elif verb == "RCPT":
                rcpts.append(line.split(":", 1)[1].split()[0].strip("<>"))
                self.reply("250 2.1.5 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                chunks = []
                while True:
                    data_line = self.rfile.readline()
                    if data_line in (b".\r\n", b".\n", b""):
                        break
                    chunks.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                with state.lock:
                    state.messages.append(Received(mail_from, rcpts, b"".join(chunks)))
                self.reply("250 2.0.0 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 2.0.0 OK")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 command not recognised")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: SmtpState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class SmtpTestServer:
    """Context manager: ``with SmtpTestServer() as smtp: smtp.port, smtp.state``."""

    def __init__(self) -> None:
        self.state = SmtpState()
        self._server = _Server(self.state)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> SmtpTestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
