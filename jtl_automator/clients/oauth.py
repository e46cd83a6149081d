"""What the OAuth2 clients share (FFN's code grant, Wawi Cloud's client credentials): one token request.

A form POST with HTTP Basic client authentication (RFC 6749 §2.3.1), retried under the one policy;
the endpoint's OAuth errors (``invalid_grant``, ``invalid_client``, ``unsupported_grant_type``, ...)
become :class:`~jtl_automator.clients.errors.AuthError`, because no retry can fix a credential. Messages
carry the endpoint, the status and the server's error code, never the form or the Basic header.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError, JtlApiError
from jtl_automator.clients.http import HttpCore
from jtl_automator.clients.json_body import decode_json

#: The least a token request waits for its answer. FFN refresh tokens are single-use: a refresh the
#: server carried out but whose answer we abandoned has spent the stored token, and no retry can get
#: it back (only a new authorisation can). So the token call outwaits a slow server.
TOKEN_READ_TIMEOUT_SECONDS = 30.0

#: OAuth2 error codes (RFC 6749 §5.2) that mean the credentials or the grant are wrong, not the network.
OAUTH_CREDENTIAL_ERRORS = frozenset(
    {"invalid_grant", "invalid_request", "invalid_client", "unauthorized_client", "unsupported_grant_type"}
)


def basic_credentials(client_id: str, client_secret: SecretStr) -> str:
    """The ``Authorization`` value of HTTP Basic client authentication."""
    pair = f"{client_id}:{client_secret.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _patient(timeout: httpx.Timeout) -> httpx.Timeout:
    """The client's timeout with the read (and write) phase stretched to the token minimum."""
    floor = TOKEN_READ_TIMEOUT_SECONDS

    def stretched(seconds: float | None) -> float | None:
        return None if seconds is None else max(seconds, floor)

    return httpx.Timeout(
        connect=timeout.connect,
        read=stretched(timeout.read),
        write=stretched(timeout.write),
        pool=timeout.pool,
    )


def request_token(
    core: HttpCore, client_id: str, client_secret: SecretStr, form: Mapping[str, str]
) -> dict[str, Any]:
    """POST ``form`` to the token endpoint ``core`` points at; the JSON body, or :class:`AuthError`.

    Transient failures are retried: a repeated client-credentials request only mints another token,
    and a refresh that never reached the server (refused connection, 503) is safe to send again. A
    refresh that did reach it spends the token whether or not we hear back, so the read waits at
    least :data:`TOKEN_READ_TIMEOUT_SECONDS` rather than the client's (perhaps tight) timeout.
    """
    try:
        response = core.request(
            "POST",
            "",
            data=dict(form),
            headers={
                "Authorization": basic_credentials(client_id, client_secret),
                "Accept": "application/json",
            },
            retry_transient=True,
            timeout=_patient(core.http.timeout),
        )
    except AuthError:
        raise
    except JtlApiError as exc:
        if exc.code in OAUTH_CREDENTIAL_ERRORS:
            raise AuthError(
                exc.message, method=exc.method, path=exc.path, status=exc.status, code=exc.code
            ) from None
        raise
    body = decode_json(response)
    if not isinstance(body, dict) or not body.get("access_token"):
        raise AuthError(f"POST {core.url('')}: token response without access_token")
    return body
