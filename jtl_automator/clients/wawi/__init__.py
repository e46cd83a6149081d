"""JTL-Wawi REST API: client, app registration and models."""

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.clients.wawi.models import AppRegistration
from jtl_automator.clients.wawi.registration import RegistrationResult, register_app

__all__ = ["AppRegistration", "RegistrationResult", "WawiClient", "register_app"]
