"""JTL-Wawi REST API: client (on-premise and Cloud), app registration and models."""

from jtl_automator.clients.wawi.auth import CloudTokens, WawiCloudAuth, WawiKeyAuth, wawi_auth
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.clients.wawi.models import AppRegistration
from jtl_automator.clients.wawi.registration import RegistrationResult, register_app

__all__ = [
    "AppRegistration",
    "CloudTokens",
    "RegistrationResult",
    "WawiClient",
    "WawiCloudAuth",
    "WawiKeyAuth",
    "register_app",
    "wawi_auth",
]
