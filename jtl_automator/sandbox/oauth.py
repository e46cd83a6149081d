"""The FFN OAuth2 server: authorization-code grant with single-use, rotating refresh tokens.

It reproduces what hurts in production (jtl-apis.md §1.2) the way the PHP League OAuth2 server that
JTL runs (its ``def502…`` tokens) answers: a refresh token works exactly once, a replayed one fails
with ``invalid_grant``; ``/authorize`` accepts only the client's registered redirect URI and never
redirects anywhere else (a wrong one is a 401 ``invalid_client`` page, no redirect); grant types other
than the code and refresh-token grants are 400 ``unsupported_grant_type`` (RFC 6749 §5.2); access
tokens are JWTs that expire. Two League behaviours the reference does not spell out are knobs
(:class:`~jtl_automator.sandbox.config.SandboxConfig`, on in ``strictest()``): refreshing revokes the
access token issued with the spent refresh token, and refresh tokens expire (League: one month).
Tokens live only in ``state.runtime.oauth`` and never appear in reprs or messages.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from jtl_automator.sandbox.routing import RouteTable, bound_route_class
from jtl_automator.sandbox.state import Grant, OAuthRuntime, SandboxState, StateDep

AUTH_CODE_TTL_SECONDS = 600
# Scopes a client may ask for besides the configured FFN ones (the goecommerce example requests them).
_OPENID_SCOPES = frozenset({"address", "email", "phone", "profile"})


class BearerError(Exception):
    """A request's bearer token is unusable: 401 (empty body) or 403 (missing scope)."""

    def __init__(self, status_code: int, missing_scope: str | None = None) -> None:
        super().__init__(f"bearer token rejected with {status_code}")
        self.status_code = status_code
        self.missing_scope = missing_scope


def runtime(state: SandboxState) -> OAuthRuntime:
    """The OAuth bookkeeping of this app, created on first use with the configured initial refresh token."""
    current = state.runtime.oauth
    if current is None:
        current = state.runtime.oauth = OAuthRuntime()
        current.refresh_tokens[state.config.ffn_initial_refresh_token] = Grant(
            subject=state.data.ffn.user_id,
            scopes=tuple(state.config.ffn_scopes),
            expires_at=_refresh_expiry(state, current.clock()),
        )
    return current


def _refresh_expiry(state: SandboxState, now: float) -> float | None:
    ttl = state.config.ffn_refresh_token_ttl_seconds
    return None if ttl is None else now + ttl


def issue_token_pair(state: SandboxState, scopes: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Mint an access/refresh pair directly (tests and the demo use it to skip the browser step)."""
    rt = runtime(state)
    with state.data.lock:
        return _issue(state, rt, Grant(state.data.ffn.user_id, scopes or tuple(state.config.ffn_scopes)))


def expire_all_access_tokens(state: SandboxState) -> None:
    """Fault injection: every access token issued so far now answers 401, as if it had expired."""
    rt = runtime(state)
    with state.data.lock:
        rt.access_tokens.clear()


def validate_bearer(state: SandboxState, authorization_header: str | None, write: bool) -> dict[str, Any]:
    """Claims of a valid bearer token; BearerError(401) if missing/invalid/expired, (403) if a scope lacks."""
    if not authorization_header:
        raise BearerError(401)
    scheme, _, token = authorization_header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BearerError(401)
    rt = runtime(state)
    try:
        claims: dict[str, Any] = jwt.decode(
            token.strip(),
            rt.signing_key,
            algorithms=["HS256"],
            audience=state.config.ffn_client_id,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise BearerError(401) from None
    now = rt.clock()
    expires_at = rt.access_tokens.get(str(claims.get("jti")))
    if expires_at is None or now >= expires_at or now >= float(claims.get("exp", 0)):
        raise BearerError(401)
    needed = "ffn.merchant.write" if write else "ffn.merchant.read"
    scopes = claims.get("scopes") or []
    if needed not in scopes:
        raise BearerError(403, missing_scope=needed)
    return claims


def _issue(state: SandboxState, rt: OAuthRuntime, grant: Grant) -> dict[str, Any]:
    now = rt.clock()
    ttl = state.config.access_token_ttl_seconds
    jti = uuid.uuid4().hex
    claims = {
        "aud": state.config.ffn_client_id,
        "jti": jti,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + ttl,
        "sub": grant.subject,
        "scopes": list(grant.scopes),
    }
    access_token = jwt.encode(claims, rt.signing_key, algorithm="HS256")
    for old_jti, exp in list(rt.access_tokens.items()):
        if exp <= now:
            del rt.access_tokens[old_jti]
    rt.access_tokens[jti] = int(now) + ttl
    refresh_token = "def502" + secrets.token_hex(48)
    rt.refresh_tokens[refresh_token] = Grant(
        grant.subject, grant.scopes, expires_at=_refresh_expiry(state, now), access_jti=jti
    )
    rt.issued_count += 1
    return {
        "token_type": "Bearer",
        "expires_in": ttl,
        "access_token": access_token,
        "refresh_token": refresh_token,
    }


def oauth_error(
    status: int, error: str, description: str | None = None, hint: str | None = None
) -> JSONResponse:
    """An RFC 6749 §5.2 error body (League adds the specific reason as ``hint``)."""
    body: dict[str, str] = {"error": error}
    if description:
        body["error_description"] = description
    if hint:
        body["hint"] = hint
    headers = {"WWW-Authenticate": 'Basic realm="oauth2"'} if error == "invalid_client" else None
    return JSONResponse(body, status_code=status, headers=headers)


def basic_client(header: str | None) -> tuple[str, str] | None:
    """(client id, secret) of an HTTP Basic ``Authorization`` header, or ``None``."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


async def _raw_body(request: Request) -> bytes:
    return await request.body()


routes = RouteTable()


def build_router(state: SandboxState) -> APIRouter:
    """``/oauth2/authorize`` and ``/oauth2/token``, bound to one sandbox state."""
    router = APIRouter(route_class=bound_route_class(state))
    runtime(state)  # created now, so the configured initial refresh token works from the first request
    routes.mount(router)
    return router


@routes.get("/oauth2/authorize")
def authorize(request: Request, state: StateDep) -> Response:
    """Approves at once (the sandbox has no user to ask), but only towards the registered redirect URI.

    League's order: the client first, then the redirect URI (an unknown client or a foreign URI is a
    401 ``invalid_client`` answered here, never a redirect: the URI cannot be trusted), then the
    response type (400 ``unsupported_grant_type``, no redirect), then the scopes (an error redirected to
    the registered URI). Without ``redirect_uri`` the registered one is used.
    """
    rt = runtime(state)
    query = request.query_params
    registered = state.config.ffn_redirect_uri
    if not query.get("client_id"):
        return oauth_error(
            400,
            "invalid_request",
            "The request is missing a required parameter.",
            'Check the "client_id" parameter',
        )
    if query.get("client_id") != state.config.ffn_client_id:
        return oauth_error(401, "invalid_client", "Client authentication failed")
    redirect_uri = query.get("redirect_uri") or registered
    if redirect_uri != registered:
        return oauth_error(
            401, "invalid_client", "Client authentication failed", "redirect_uri is not registered"
        )
    if query.get("response_type") != "code":
        return oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
            "Check that all required parameters have been provided",
        )
    extra = {"state": query["state"]} if "state" in query else {}
    requested = tuple((query.get("scope") or "").split())
    allowed = set(state.config.ffn_scopes) | _OPENID_SCOPES
    unknown = [scope for scope in requested if scope not in allowed]
    if unknown:
        error = {"error": "invalid_scope", "error_description": f"Unknown scope {unknown[0]}", **extra}
        return RedirectResponse(_with_query(registered, error), status_code=302)
    code = "def502" + secrets.token_hex(32)
    with state.data.lock:
        rt.codes[code] = Grant(
            subject=state.data.ffn.user_id,
            scopes=requested or tuple(state.config.ffn_scopes),
            redirect_uri=redirect_uri,
            expires_at=rt.clock() + AUTH_CODE_TTL_SECONDS,
        )
    return RedirectResponse(_with_query(registered, {"code": code, **extra}), status_code=302)


@routes.post("/oauth2/token")
def token(request: Request, state: StateDep, body: bytes = Depends(_raw_body)) -> Response:
    """Client authentication (HTTP Basic), then the authorization-code or refresh-token grant."""
    client = basic_client(request.headers.get("authorization"))
    if (
        client is None
        or not secrets.compare_digest(client[0].encode(), state.config.ffn_client_id.encode())
        or not secrets.compare_digest(client[1].encode(), state.config.ffn_client_secret.encode())
    ):
        return oauth_error(401, "invalid_client", "Client authentication failed")
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return oauth_error(400, "invalid_request", "Expected an application/x-www-form-urlencoded body")
    form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    grant_type = form.get("grant_type", "")
    if grant_type == "authorization_code":
        return _exchange_code(state, form)
    if grant_type == "refresh_token":
        return _refresh(state, form)
    if not grant_type:
        return oauth_error(400, "invalid_request", "The request is missing the grant_type parameter")
    # RFC 6749 §5.2 and League: 400. (The reference's "401 for client_credentials" is about calling
    # the API with such a token; the token endpoint itself answers 400.)
    return oauth_error(
        400,
        "unsupported_grant_type",
        "The authorization grant type is not supported by the authorization server.",
        "Check that all required parameters have been provided",
    )


def _exchange_code(state: SandboxState, form: dict[str, str]) -> Response:
    """The code must come back with the redirect_uri it was issued to (RFC 6749 §4.1.3)."""
    rt = runtime(state)
    code, redirect_uri = form.get("code"), form.get("redirect_uri")
    if not code or not redirect_uri:
        return oauth_error(
            400, "invalid_request", "The request is missing the code or redirect_uri parameter"
        )
    with state.data.lock:
        grant = rt.codes.pop(code, None)  # single use, even when the rest of the request is wrong
        if grant is None or grant.expires_at is None or rt.clock() >= grant.expires_at:
            return oauth_error(400, "invalid_grant", "Authorization code is invalid, expired or already used")
        if grant.redirect_uri != redirect_uri:
            return oauth_error(400, "invalid_grant", "Authorization code was not issued to this redirect_uri")
        return JSONResponse(_issue(state, rt, grant))


def _refresh(state: SandboxState, form: dict[str, str]) -> Response:
    """Rotation: the old refresh token dies with this request, whatever happens next.

    With ``ffn_revoke_access_token_on_refresh`` the access token issued together with the spent refresh
    token dies too (League's RefreshTokenGrant), so a process still holding it gets 401 from then on.
    """
    rt = runtime(state)
    refresh_token = form.get("refresh_token")
    if not refresh_token:
        return oauth_error(400, "invalid_request", "The request is missing the refresh_token parameter")
    with state.data.lock:
        grant = rt.refresh_tokens.pop(refresh_token, None)  # rotation: the old token dies here
        if grant is None:
            return oauth_error(
                400, "invalid_grant", "The refresh token is invalid.", "Token has been revoked"
            )
        if grant.expires_at is not None and rt.clock() >= grant.expires_at:
            return oauth_error(400, "invalid_grant", "The refresh token is invalid.", "Token has expired")
        if state.config.ffn_revoke_access_token_on_refresh and grant.access_jti is not None:
            rt.access_tokens.pop(grant.access_jti, None)
        return JSONResponse(_issue(state, rt, grant))
