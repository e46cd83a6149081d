"""The Wawi Cloud token endpoint (``auth.jtl-cloud.com/oauth2/token``): OAuth2 client credentials.

jtl-apis.md §2.2: HTTP Basic client authentication, ``grant_type=client_credentials``, a JWT access token
that lives about an hour and no refresh token (a client simply asks again). Other grant types are 400
``unsupported_grant_type``. Issued tokens live only in ``state.runtime.wawi`` and never appear in reprs.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import parse_qsl

import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from jtl_automator.sandbox.oauth import basic_client, oauth_error
from jtl_automator.sandbox.routing import RouteTable, bound_route_class
from jtl_automator.sandbox.state import SandboxState, StateDep

TOKEN_PATH = "/wawi/cloud/oauth2/token"  # noqa: S105 - a path, not a secret

routes = RouteTable()


def build_router(state: SandboxState) -> APIRouter:
    """The Cloud token endpoint, bound to one sandbox state."""
    router = APIRouter(route_class=bound_route_class(state))
    routes.mount(router)
    return router


def issue_cloud_token(state: SandboxState) -> dict[str, Any]:
    """Mint a Cloud access token directly (tests use it to skip the token request)."""
    runtime = state.runtime.wawi
    config = state.config
    now = runtime.clock()
    ttl = config.wawi_cloud_token_ttl_seconds
    jti = uuid.uuid4().hex
    claims = {
        "aud": config.wawi_cloud_client_id,
        "sub": config.wawi_cloud_client_id,
        "jti": jti,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + ttl,
    }
    token = jwt.encode(claims, runtime.cloud_signing_key, algorithm="HS256")
    with state.data.lock:
        for old, expires_at in list(runtime.cloud_tokens.items()):
            if expires_at <= now:
                del runtime.cloud_tokens[old]
        runtime.cloud_tokens[jti] = now + ttl
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}


def expire_cloud_tokens(state: SandboxState) -> None:
    """Fault injection: every Cloud access token issued so far now answers 401."""
    with state.data.lock:
        state.runtime.wawi.cloud_tokens.clear()


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@routes.post(TOKEN_PATH)
def token(request: Request, state: StateDep, body: bytes = Depends(_raw_body)) -> Response:
    """Client authentication (HTTP Basic), then the client-credentials grant."""
    config = state.config
    client = basic_client(request.headers.get("authorization"))
    if (
        client is None
        or not secrets.compare_digest(client[0].encode(), config.wawi_cloud_client_id.encode())
        or not secrets.compare_digest(client[1].encode(), config.wawi_cloud_client_secret.encode())
    ):
        return oauth_error(401, "invalid_client", "Client authentication failed")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return oauth_error(400, "invalid_request", "Expected an application/x-www-form-urlencoded body")
    form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    grant_type = form.get("grant_type", "")
    if not grant_type:
        return oauth_error(400, "invalid_request", "The request is missing the grant_type parameter")
    if grant_type != "client_credentials":
        return oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )
    return JSONResponse(issue_cloud_token(state))
