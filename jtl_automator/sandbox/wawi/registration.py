"""The app-registration handshake (``/authentication``) and the hooks that play the user's part.

A client registers with a challenge code, then polls; once the request is accepted (by the user in Wawi,
here :func:`accept_registration` or the auto-accept after the first poll) one poll hands out the API key
and every later poll answers 410. The registration routes check only the licence, not the API key.

The first call is accepted only while a Wawi user has the registration listener open (Admin >
App-Registrierung); otherwise 403 with the spec's reason (``wawi_registration_window_open``, and
:func:`~jtl_automator.sandbox.wawi.guard.set_registration_window` for the user's click). With
``wawi_registration_new_key`` every accepted registration gets a key of its own that carries exactly the
granted scopes and the registered AppId; otherwise the configured key is handed out, as it is.
"""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import SandboxState, StateDep, WawiApp, WawiRegistration
from jtl_automator.sandbox.wawi.common import JsonBody, WawiError, json_response, validation_error
from jtl_automator.sandbox.wawi.guard import registration_window_open
from jtl_automator.sandbox.wawi.schemas import merge

PENDING, REJECTED, ACCEPTED = 0, 1, 2

routes = RouteTable()


# --------------------------------------------------------------------------------------------------
# Public hooks for the admin API and tests


def accept_registration(state: SandboxState, registration_id: str) -> None:
    """What the user does in Wawi's Admin -> App-Registrierung window: accept a pending request."""
    with state.data.lock:
        registration = state.runtime.wawi.registrations.get(registration_id)
        if registration is None:
            raise KeyError(registration_id)
        if registration.status == PENDING:
            registration.status = ACCEPTED


def reject_registration(state: SandboxState, registration_id: str) -> None:
    """The user declines the request in Wawi; polling then reports Status 1 and never a key."""
    with state.data.lock:
        registration = state.runtime.wawi.registrations.get(registration_id)
        if registration is None:
            raise KeyError(registration_id)
        if registration.status == PENDING:
            registration.status = REJECTED


def pending_registrations(state: SandboxState) -> list[str]:
    """Ids of requests waiting for a decision, oldest first (for the admin hook and the demo)."""
    registrations = state.runtime.wawi.registrations
    return [rid for rid, reg in registrations.items() if reg.status == PENDING]


# --------------------------------------------------------------------------------------------------
# Routes


def register(request: Request, state: StateDep, payload: JsonBody = None) -> Response:
    """``POST /authentication``: file a registration request for the user to accept."""
    if not registration_window_open(state):
        raise WawiError(
            403,
            "Forbidden",
            "There was no application service available to receive and handle the registration request.",
        )
    challenge = request.headers.get("x-challengecode")
    if not challenge:
        raise validation_error({"X-ChallengeCode": "The X-ChallengeCode header is required."})
    if len(challenge) > 30:
        raise validation_error(
            {"X-ChallengeCode": "The X-ChallengeCode must not be longer than 30 characters."}
        )
    errors = merge("CreateAppRegistrationRequest", {}, payload, check_required=True)
    if isinstance(payload, dict):
        for key in ("MandatoryApiScopes",):
            if isinstance(payload.get(key), list) and not payload[key]:
                errors[key] = f"The {key} field is required."
    if errors:
        raise validation_error(errors)
    with state.data.lock:
        registrations = state.runtime.wawi.registrations
        for existing in registrations.values():
            if existing.app_id == payload["AppId"] and existing.status == ACCEPTED and existing.delivered:
                raise WawiError(409, "Conflict", f"The app {payload['AppId']} is already registered.")
        registration_id = str(uuid.uuid4()).upper()
        registrations[registration_id] = WawiRegistration(
            app_id=payload["AppId"],
            challenge=challenge,
            scopes=list(payload["MandatoryApiScopes"]) + list(payload.get("OptionalApiScopes") or []),
        )
    return json_response(
        {"AppId": payload["AppId"], "RegistrationRequestId": registration_id, "Status": PENDING}, 201
    )


def poll(registration_id: str, request: Request, state: StateDep) -> Response:
    """``GET /authentication/{id}``: the request's status, and the API key exactly once when accepted."""
    challenge = request.headers.get("x-challengecode")
    config = state.config
    with state.data.lock:
        registration = state.runtime.wawi.registrations.get(registration_id)
        if registration is None:
            raise WawiError(404, "NotFound", f"No registration request {registration_id} was found.")
        if challenge != registration.challenge:
            raise WawiError(403, "Forbidden", "The X-ChallengeCode does not match the registration request.")
        if registration.delivered:
            raise WawiError(410, "Gone", "", empty_body=True)
        info = {
            "AppId": registration.app_id,
            "RegistrationRequestId": registration_id,
            "Status": registration.status,
        }
        registration.polls += 1
        if registration.status == ACCEPTED:
            registration.delivered = True
            api_key = config.wawi_api_key
            if config.wawi_registration_new_key:
                api_key = str(uuid.uuid4())
                app = WawiApp(registration.app_id, tuple(registration.scopes))
                state.runtime.wawi.api_keys[api_key] = app
            body: JsonObject = {
                "RequestStatusInfo": info,
                "Token": {"ApiKey": api_key},
                "GrantedScopes": registration.scopes,
            }
            return json_response(body)
        if registration.status == PENDING and config.wawi_registration_auto_accept:
            registration.status = ACCEPTED  # "the user clicks accept" right after the first poll
    return json_response({"RequestStatusInfo": info})


for _base in ("", "/v1"):  # the registration endpoints answer with and without the version segment
    routes.post(f"{_base}/authentication")(register)
    routes.get(f"{_base}/authentication/{{registration_id}}")(poll)
