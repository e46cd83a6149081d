"""A minimal FFN-style OAuth2 token endpoint with single-use rotating refresh tokens.

Used through ``httpx.MockTransport`` (``handle``) or over real HTTP (``serve``) for the cross-process
rotation test. A replayed refresh token gets ``400 invalid_grant``, exactly like the real server.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx

CLIENT_ID = "client-abc"
CLIENT_SECRET = "s3cr3t-client-secret-value"
INITIAL_REFRESH = "def502-initial-refresh-token-XYZ"


class FakeOAuth:
    def __init__(self, expires_in: int = 1800, code: str = "auth-code-1") -> None:
        self.expires_in = expires_in
        self.valid_refresh = {INITIAL_REFRESH}
        self.codes = {code}
        self.issued_access: list[str] = []
        self.reuse_attempts = 0
        self.lock = threading.Lock()
        #: Seconds the served endpoint takes to answer after it has acted (a slow server).
        self.answer_delay = 0.0
        self._ids = itertools.count(1)

    def token(self, authorization: str | None, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != expected:
            return 401, {"error": "invalid_client"}
        with self.lock:
            grant = form.get("grant_type")
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                if token not in self.valid_refresh:
                    self.reuse_attempts += 1
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "The refresh token is invalid.",
                    }
                self.valid_refresh.discard(token)
            elif grant == "authorization_code":
                if form.get("code") not in self.codes:
                    return 400, {"error": "invalid_grant", "error_description": "bad code"}
                self.codes.discard(form["code"])
            else:
                return 401, {"error": "unsupported_grant_type"}
            n = next(self._ids)
            access, refresh = f"access-{n}-eyJhbGciOi", f"def502-refresh-{n}"
            self.valid_refresh.add(refresh)
            self.issued_access.append(access)
        return 200, {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "access_token": access,
            "refresh_token": refresh,
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        status, body = self.token(request.headers.get("Authorization"), form)
        return httpx.Response(status, json=body)

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        oauth = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                status, body = oauth.token(self.headers.get("Authorization"), form)
                time.sleep(oauth.answer_delay)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}/oauth2/token"
