"""The one-time authorisation steps behind ``jtl-automator auth ffn`` and ``jtl-automator auth wawi``.

Kept apart from the CLI wiring so tests can drive them with injected input and HTTP clients.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml
from pydantic import SecretStr

from jtl_automator.clients.ffn.auth import FfnTokenManager, TokenGrant, authorization_url
from jtl_automator.clients.wawi.models import AppRegistration
from jtl_automator.clients.wawi.registration import RegistrationResult, register_app
from jtl_automator.settings import WAWI_APP_SCOPES, Settings, wawi_app_scopes
from jtl_automator.store import StateStore

# A transparent 1x1 PNG: the registration dialog needs an icon.
APP_ICON = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


class AuthFlowError(RuntimeError):
    """The authorisation could not be completed (wrong state, missing code, rejected grant)."""


def code_from_redirect(answer: str, expected_state: str) -> str:
    """The code from the pasted redirect URL, whose ``state`` must be the one this request sent.

    A bare code or a URL without ``state`` is refused: only the state proves that the answer belongs to
    this request and not to a link someone else started (which would connect their FFN account).
    """
    answer = answer.strip()
    if "://" not in answer and "code=" not in answer:
        raise AuthFlowError(
            "paste the whole URL you were redirected to: its state proves it answers this request"
            if answer
            else "no redirect URL given"
        )
    query = parse_qs(urlsplit(answer).query if "://" in answer else answer.lstrip("?"))
    if query.get("error"):
        raise AuthFlowError(f"authorization refused: {query['error'][0]}")
    state = query.get("state")
    if not state:
        raise AuthFlowError("the redirect URL carries no state; start again with `jtl-automator auth ffn`")
    if not secrets.compare_digest(state[0], expected_state):
        raise AuthFlowError("the redirect's state does not match this request (a stale or foreign link?)")
    codes = query.get("code")
    if not codes:
        raise AuthFlowError("the redirect URL carries no code")
    return codes[0]


def authorize_ffn(
    settings: Settings,
    store: StateStore,
    ask: Callable[[str], str],
    tell: Callable[[str], None],
    *,
    http: httpx.Client | None = None,
    follow: bool = False,
) -> TokenGrant:
    """Authorization-code grant: show the login URL, take the code, store the first token pair.

    ``follow`` fetches the authorize URL itself and reads the code from the redirect: that only works
    where the authorization server approves without a login page (the sandbox).
    """
    if not settings.ffn_client_id or settings.ffn_client_secret is None:
        raise AuthFlowError("set JTL_FFN_CLIENT_ID and JTL_FFN_CLIENT_SECRET first")
    http = http or httpx.Client(timeout=settings.http_timeout_seconds)
    state = secrets.token_urlsafe(16)
    url = authorization_url(
        settings.ffn_authorize_url, settings.ffn_client_id, settings.ffn_redirect_uri, state
    )
    if follow:
        response = http.get(url, follow_redirects=False)
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307) or not location:
            raise AuthFlowError(_authorize_refusal(response, settings.ffn_redirect_uri))
        code = code_from_redirect(location, state)
    else:
        tell("Open this URL, log in with the JTL account and approve the access:")
        tell(url)
        code = code_from_redirect(ask("Paste the whole URL you were redirected to"), state)
    manager = FfnTokenManager(
        http, settings.ffn_token_url, settings.ffn_client_id, settings.ffn_client_secret, store
    )
    return manager.exchange_code(code, settings.ffn_redirect_uri)


def _authorize_refusal(response: httpx.Response, redirect_uri: str) -> str:
    """Why the authorization server answered with a page instead of a redirect (its OAuth error code)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    error, reason = body.get("error"), body.get("hint") or body.get("error_description")
    text = f"the authorize URL answered {response.status_code} without a redirect"
    if error:
        text += f" ({error}: {reason})" if reason else f" ({error})"
    if error == "invalid_client":
        text += (
            f"; check JTL_FFN_CLIENT_ID and that JTL_FFN_REDIRECT_URI ({redirect_uri}) is exactly the "
            "callback URI registered for the client"
        )
    return text


def register_wawi(
    settings: Settings,
    *,
    challenge_code: str | None = None,
    scopes: Sequence[str] = WAWI_APP_SCOPES,
    http: httpx.Client | None = None,
    poll_interval: float = 5,
    timeout: float = 600,
    tell: Callable[[str], None] = lambda _: None,
) -> RegistrationResult:
    """Register jtl-automator as a Wawi app and wait until a Wawi user accepts it (on-premise only)."""
    if settings.wawi_flavour == "cloud":
        raise AuthFlowError(
            "Wawi Cloud apps are not registered through the API: create the app in JTL's Partner Portal "
            "and set JTL_WAWI_CLIENT_ID, JTL_WAWI_CLIENT_SECRET and JTL_WAWI_TENANT_ID"
        )
    http = http or httpx.Client(timeout=settings.http_timeout_seconds)
    code = challenge_code or secrets.token_hex(8)
    request = AppRegistration(
        app_id=settings.wawi_app_id,
        display_name="jtl-automator",
        description="Prefect pipelines for orders, inventory and inbound verification.",
        version=settings.wawi_app_version,
        provider_name="jtl-automator",
        provider_website="https://github.com/jtl-automator/jtl-automator",
        mandatory_api_scopes=list(scopes),
        app_icon=APP_ICON,
    )
    tell("In JTL-Wawi open Admin > App-Registrierung and accept the request from 'jtl-automator'.")
    tell(f"Challenge code: {code} (waiting up to {int(timeout)} s)")
    return register_app(
        http, settings.wawi_base_url, request, code, poll_interval=poll_interval, timeout=timeout
    )


def deployments_write_purchase_orders(prefect_yaml: Path) -> bool:
    """Whether a deployment in ``prefect.yaml`` runs the plan execution with ``wawi_purchase_orders`` on.

    Looks at the deployment's parameters and at each schedule's (a schedule's parameters override them).
    """
    config = yaml.safe_load(prefect_yaml.read_text(encoding="utf-8")) or {}
    for deployment in config.get("deployments") or []:
        if not str(deployment.get("entrypoint", "")).startswith("flows/plan_execution.py:"):
            continue
        layers = [deployment.get("parameters") or {}]
        layers += [s.get("parameters") or {} for s in deployment.get("schedules") or []]
        for parameters in layers:
            params = parameters.get("params") if isinstance(parameters, dict) else None
            if isinstance(params, dict) and params.get("wawi_purchase_orders") is True:
                return True
    return False


def scopes_to_register(purchase_orders: bool | None, prefect_yaml: Path | None) -> tuple[str, ...]:
    """The scopes the configured flows need: ``purchase_orders`` if given, else what the deployments do."""
    if purchase_orders is None:
        purchase_orders = prefect_yaml is not None and deployments_write_purchase_orders(prefect_yaml)
    return wawi_app_scopes(purchase_orders=purchase_orders)


def write_env_secret(path: Path, name: str, value: SecretStr) -> None:
    """Add or replace ``NAME=value`` in a dotenv file readable by its owner only."""
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [line for line in lines if not line.startswith(f"{name}=")] + [
        f"{name}={value.get_secret_value()}"
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
