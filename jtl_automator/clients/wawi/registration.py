"""On-premise Wawi app registration: ask once for an API key, a human approves it in the Wawi GUI.

The key is returned exactly once (a second poll gets 410 Gone), so the caller must store it the moment
:func:`register_app` returns; ``jtl-automator auth wawi`` prints it for the ``JTL_WAWI_API_KEY`` block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from jtl_automator.clients.errors import Conflict, ForbiddenError, JtlApiError, NotFound, RegistrationError
from jtl_automator.clients.http import HttpCore
from jtl_automator.clients.json_body import decode_json
from jtl_automator.clients.wawi.models import AppRegistration
from jtl_automator.correlation import correlated_logger
from jtl_automator.resilience import RetryPolicy

logger = correlated_logger("jtl_automator.wawi.registration")

STATUS_PENDING, STATUS_REJECTED, STATUS_ACCEPTED = 0, 1, 2


@dataclass(frozen=True)
class RegistrationResult:
    """The granted key (hidden in reprs) and the scopes the user approved."""

    api_key: SecretStr
    granted_scopes: tuple[str, ...]
    registration_id: str


def _status_info(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        return {}
    info = body.get("RequestStatusInfo", body)  # some builds wrap the status (202 RequestStatusInfo)
    return info if isinstance(info, Mapping) else {}


def register_app(
    http: httpx.Client,
    base_url: str,
    request: AppRegistration,
    challenge_code: str,
    poll_interval: float = 5,
    timeout: float = 600,
    sleep: Callable[[float], None] = time.sleep,
    *,
    clock: Callable[[], float] = time.monotonic,
    path: str = "/authentication",
) -> RegistrationResult:
    """Register the app and wait (polling) until the Wawi user accepts or rejects it."""
    if not 0 < len(challenge_code) <= 30:
        raise ValueError("the challenge code must be 1 to 30 characters")
    core = HttpCore(http, base_url, retry=RetryPolicy(sleep=sleep, clock=clock))
    headers = {"X-ChallengeCode": challenge_code, "api-version": "1.0", "Accept": "application/json"}
    try:
        response = core.request("POST", path, json=request.to_api(), headers=headers)
    except ForbiddenError as exc:
        raise RegistrationError(
            f"{exc.message}. Open Admin > App-Registrierung in JTL-Wawi and start the registration first.",
            status=exc.status,
            code=exc.code,
        ) from None
    except Conflict as exc:
        raise RegistrationError(
            f"{exc.message}. The app id {request.app_id!r} is already registered; remove it in Wawi or "
            "use a new app id.",
            status=exc.status,
            code=exc.code,
        ) from None
    info = _status_info(decode_json(response))
    registration_id = str(info.get("RegistrationRequestId") or "")
    if not registration_id:
        raise RegistrationError(f"POST {path}: the response carries no RegistrationRequestId")
    logger.info("registration %s requested; waiting for approval in JTL-Wawi", registration_id)

    deadline = clock() + timeout
    while True:
        try:
            body = _poll(core, f"{path}/{registration_id}", headers)
        except JtlApiError as exc:
            if exc.status == 410:
                raise RegistrationError(
                    f"{exc.message}. The API key of registration {registration_id} was already collected; "
                    "Wawi hands it out only once. Remove the app in Wawi and register again.",
                    status=410,
                ) from None
            if isinstance(exc, NotFound):
                raise RegistrationError(
                    f"{exc.message}. Wawi does not know this registration.", status=404
                ) from None
            raise
        status = _status_info(body).get("Status")
        if status == STATUS_ACCEPTED:
            token = body.get("Token") if isinstance(body, Mapping) else None
            api_key = token.get("ApiKey") if isinstance(token, Mapping) else None
            if not api_key:
                raise RegistrationError(
                    f"registration {registration_id} was accepted but no API key was returned"
                )
            scopes = tuple(str(s) for s in (body.get("GrantedScopes") or ()))
            return RegistrationResult(SecretStr(str(api_key)), scopes, registration_id)
        if status == STATUS_REJECTED:
            raise RegistrationError(f"registration {registration_id} was rejected in JTL-Wawi")
        if clock() + poll_interval > deadline:
            raise RegistrationError(
                f"registration {registration_id} was not approved within {timeout:.0f}s; "
                "approve it in Wawi and run the command again"
            )
        sleep(poll_interval)


def _poll(core: HttpCore, path: str, headers: Mapping[str, str]) -> Any:
    response = core.request("GET", path, headers=headers)
    return decode_json(response) if response.content else {}
