"""The guard in front of every Wawi route: who calls (per flavour), may they, and how often.

Both flavours the reference shows are served from the same handlers (jtl-apis.md §2.1, §2.2, §2.5):

- on-premise, ``/wawi/api/eazybusiness/v1/…``: ``Authorization: Wawi <key>``, the key an app
  registration handed out;
- Cloud, ``/wawi/cloud/erp/…`` (no ``/v1``): ``Authorization: Bearer <JWT>`` from the Cloud token
  endpoint (:mod:`~jtl_automator.sandbox.wawi.cloud`, client credentials) plus the tenant, sent as
  ``X-Tenant-ID`` (JTL's samples) or ``tenant-id`` (the 1.0 spec's name); every response carries
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Interval-Length-Seconds``, and past
  the limit the answer is 429 without ``Retry-After`` (the reference mentions none).

The checks run before the body is parsed, in the order a real server answers: (Cloud: rate limit, then
tenant) key or token 401, licence 402, app headers 400, the app id (``wawi_check_app_id``) 401, scope
403. Scopes are always enforced, as documented: an operation needs one of the scopes the 1.0 spec lists
for it (``specs/wawi_scopes.json``; ``all.read`` is among them for reads). The 2.x purchase-order scopes
are not in any reference and inferred from the naming scheme [I].
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal

import jwt
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from jtl_automator.sandbox.ratelimit import take_slot
from jtl_automator.sandbox.state import RouteHandler, SandboxState, WawiApp, bind
from jtl_automator.sandbox.wawi.common import PREFIX, WawiError

Flavour = Literal["onprem", "cloud"]
ONPREM_ROOT = PREFIX
CLOUD_ROOT = "/wawi/cloud/erp"

#: [I] The 2.x purchase-order endpoints are not in the 1.0 spec; scopes after its ``<area>.<verb>`` scheme.
_V2_SCOPES: dict[str, tuple[str, ...]] = {
    "GET /v2/purchase-orders": ("purchaseorder.querypurchaseorders", "all.read"),
    "GET /v2/purchase-orders/{}": ("purchaseorder.getpurchaseorder", "all.read"),
    "POST /v2/purchase-orders": ("purchaseorder.createpurchaseorder",),
    "POST /v2/purchase-orders/{}/line-items": ("purchaseorder.createpurchaseorderlineitem",),
}
_NO_TENANT = "The tenant-id (X-Tenant-ID) header is required."
_PARAMETER = re.compile(r"\{[^}]*\}")


def _operation(method: str, path: str) -> str:
    """``GET /salesOrders/{}``: the operation key, whatever its path parameters are called."""
    return f"{method.upper()} {_PARAMETER.sub('{}', path)}"


@cache
def scope_table() -> dict[str, tuple[str, ...]]:
    """Operation -> the scopes of which it needs one (empty: none), from the shipped spec extract."""
    text = resources.files("jtl_automator.sandbox").joinpath("specs/wawi_scopes.json").read_text("utf-8")
    operations: dict[str, list[str]] = json.loads(text)["operations"]
    table = {_operation(*key.split(" ", 1)): tuple(scopes) for key, scopes in operations.items()}
    table.update(_V2_SCOPES)
    return table


def required_scopes(method: str, path: str) -> tuple[str, ...]:
    """The scopes of which ``method path`` (relative to the API root) needs one; () if it needs none."""
    return scope_table().get(_operation(method, path), ())


# --------------------------------------------------------------------------------------------------
# Who is calling


def configured_app(state: SandboxState) -> WawiApp:
    """The app registered before the sandbox started: the configured key's and the Cloud client's."""
    return WawiApp(state.config.wawi_app_id, state.config.wawi_app_scopes)


def app_of_key(state: SandboxState, key: str) -> WawiApp | None:
    """The app an on-premise API key belongs to, or ``None`` for an unknown key."""
    registered = state.runtime.wawi.api_keys.get(key)
    if registered is not None:
        return registered
    return configured_app(state) if key and key == state.config.wawi_api_key else None


def registration_window_open(state: SandboxState) -> bool:
    """Whether a Wawi user has the Admin > App-Registrierung listener open right now."""
    current = state.runtime.wawi.window_open
    return state.config.wawi_registration_window_open if current is None else current


def set_registration_window(state: SandboxState, open_: bool) -> None:
    """The user starts (or stops) the registration listener in Wawi."""
    state.runtime.wawi.window_open = open_


def _onprem_app(state: SandboxState, request: Request) -> WawiApp | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return app_of_key(state, key.strip()) if scheme.lower() == "wawi" else None


def _cloud_app(state: SandboxState, request: Request) -> WawiApp | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    runtime = state.runtime.wawi
    try:
        claims: dict[str, Any] = jwt.decode(
            token.strip(),
            runtime.cloud_signing_key,
            algorithms=["HS256"],
            audience=state.config.wawi_cloud_client_id,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    expires_at = runtime.cloud_tokens.get(str(claims.get("jti")))
    if expires_at is None or runtime.clock() >= expires_at:
        return None
    return configured_app(state)


def tenant_of(headers: Mapping[str, str]) -> str | None:
    """The tenant a Cloud request names: ``X-Tenant-ID`` or the spec's ``tenant-id``."""
    return headers.get("x-tenant-id") or headers.get("tenant-id") or None


def _denied(
    state: SandboxState, request: Request, flavour: Flavour, api_path: str, v2: bool
) -> Response | None:
    """The first check the request fails, answered as Wawi would; ``None`` when it may pass."""
    if flavour == "cloud":
        tenant = tenant_of(request.headers)
        if tenant is None:
            return WawiError(412, "MissingTenant", _NO_TENANT).response(v2=v2)
        app = _cloud_app(state, request)
        if app is None or tenant != state.config.wawi_cloud_tenant_id:
            return Response(status_code=401)
    else:
        app = _onprem_app(state, request)
        if app is None:
            return Response(status_code=401)
    if not state.config.wawi_license_ok:
        return Response(status_code=402)
    missing = {
        name: f"The {name} header is required."
        for name in ("X-AppID", "X-AppVersion")
        if not request.headers.get(name)
    }
    if missing:
        reason = "Required request headers are missing."
        return WawiError(400, "MissingHeader", reason, missing).response(v2=v2)
    if state.config.wawi_check_app_id and request.headers.get("X-AppID") != app.app_id:
        return Response(status_code=401)  # the key or token belongs to another app
    needed = required_scopes(request.method, api_path)
    if needed and app.scopes is not None and not set(needed) & set(app.scopes):
        operation = f"{request.method} {api_path}"
        reason = f"The app {app.app_id} lacks the scope for {operation}: one of {', '.join(needed)}."
        return WawiError(403, "Forbidden", reason).response(v2=v2)
    return None


# --------------------------------------------------------------------------------------------------
# Cloud rate limits


def _take_rate_slot(state: SandboxState, key: tuple[str, str]) -> tuple[bool, dict[str, str]]:
    """Count one request in its fixed window; (allowed, the three X-RateLimit-* headers)."""
    config = state.config
    limit, interval = config.wawi_cloud_rate_limit, config.scaled(config.wawi_cloud_rate_interval_seconds)
    runtime = state.runtime.wawi
    with state.data.lock:
        return take_slot(runtime.rate_windows, key, runtime.clock(), limit, interval)


# --------------------------------------------------------------------------------------------------
# The route class


def _error_location(err: Any) -> str:
    """ASP.NET names the offending member, or ``$`` for the body as a whole."""
    names = [str(part) for part in err.get("loc", ())[1:] if isinstance(part, str)]
    return ".".join(names) or "$"


def _api_path(path_format: str, root: str, v2: bool) -> str:
    """The route's path relative to the API root (``/salesOrders/{order_id}``, ``/v2/purchase-orders``).

    Depending on the FastAPI version an included route carries its full path or only its own.
    """
    if path_format.startswith(root + "/"):
        relative = path_format.removeprefix(root)
        return relative.removeprefix("/v1") if relative.startswith("/v1/") else relative
    return ("/v2" if v2 else "") + path_format


def route_class(
    state: SandboxState,
    *,
    flavour: Flavour = "onprem",
    root: str = ONPREM_ROOT,
    registration: bool = False,
    v2: bool = False,
) -> type[APIRoute]:
    """The route class of one Wawi router whose API root (before ``/v1`` or ``/v2``) is ``root``.

    Registration routes check only the licence (and the registration window), v2 writes camelCase.
    """

    class WawiRoute(APIRoute):
        """Runs the checks before body parsing and maps errors to Wawi's bodies, not FastAPI's."""

        def get_route_handler(self) -> RouteHandler:
            handler = super().get_route_handler()
            api_path = _api_path(self.path_format, root, v2)
            operation = _operation(next(iter(self.methods or {"GET"})), api_path)

            async def answer(request: Request) -> Response:
                if registration:
                    if not state.config.wawi_license_ok:
                        return Response(status_code=402)
                else:
                    denied = _denied(state, request, flavour, api_path, v2)
                    if denied is not None:
                        return denied
                try:
                    return await handler(request)
                except WawiError as exc:
                    return exc.response(v2=v2)
                except RequestValidationError as exc:
                    errors = {_error_location(err): str(err.get("msg")) for err in exc.errors()}
                    return WawiError(
                        400, "ValidationError", "One or more validation errors occurred.", errors
                    ).response(v2=v2)

            async def guarded(request: Request) -> Response:
                bind(request, state)
                request.state.wawi_flavour = flavour
                if flavour != "cloud":
                    return await answer(request)
                tenant = tenant_of(request.headers)
                known = tenant if tenant == state.config.wawi_cloud_tenant_id else "-"  # bounded keys
                allowed, headers = _take_rate_slot(state, (known, operation))
                response = (
                    await answer(request)
                    if allowed
                    else WawiError(429, "TooManyRequests", "Too Many Requests").response(v2=v2)
                )
                response.headers.update(headers)
                return response

            return guarded

    return WawiRoute
