"""How the Wawi client authenticates and where its v1 paths start, per flavour (jtl-apis.md §2.1, §2.2).

- **on-premise**: ``Authorization: Wawi <key>`` (the key an app registration handed out, permanent) and
  paths under ``/v1``;
- **Cloud**: ``Authorization: Bearer <JWT>`` from JTL's token endpoint (OAuth2 client credentials, about
  an hour, no refresh token: a client simply asks again) and the tenant, paths without ``/v1``. The tenant
  goes out as ``X-Tenant-ID`` (what JTL's own samples send) and as ``tenant-id`` (the name the Cloud 1.0
  spec gives it), so either reading of the reference finds it. The spec also lists an ``x-api-key``
  header; JTL's samples authenticate without one and no way to obtain one for the Cloud is documented,
  so none is sent.

Both send the app identity (``X-AppID``, ``X-AppVersion``) that Wawi requires on every call. A strategy
carries its flavour's ``v1_prefix``, so :func:`wawi_auth` is the one place a flavour is turned into headers
and paths.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from jtl_automator.clients.ffn.client import BearerAuth
from jtl_automator.clients.http import AuthStrategy, HttpCore
from jtl_automator.clients.oauth import request_token
from jtl_automator.correlation import correlated_logger
from jtl_automator.resilience import RetryPolicy
from jtl_automator.settings import Settings, wawi_credential_fields

logger = correlated_logger("jtl_automator.wawi.auth")

ONPREM_V1_PREFIX = "/v1"
#: Cloud tokens are fetched again this long before they expire (JTL's samples keep a 5-minute buffer).
CLOUD_TOKEN_MARGIN = timedelta(minutes=5)
_DEFAULT_CLOUD_TTL = 3600


class WawiAuth(AuthStrategy, Protocol):
    """An auth strategy that also knows where its flavour's v1 resources start."""

    #: Prefix of the v1 resource paths: ``/v1`` on-premise, nothing in the Cloud.
    v1_prefix: str


def _app_headers(app_id: str, app_version: str) -> dict[str, str]:
    return {"X-AppID": app_id, "X-AppVersion": app_version}


class WawiKeyAuth:
    """On-premise: ``Authorization: Wawi <key>`` plus the app identity headers."""

    v1_prefix = ONPREM_V1_PREFIX

    def __init__(self, api_key: SecretStr, app_id: str, app_version: str) -> None:
        self._api_key = api_key
        self.app_id = app_id
        self.app_version = app_version

    def headers(self) -> dict[str, str]:
        """The API key and app identity headers."""
        return {
            "Authorization": f"Wawi {self._api_key.get_secret_value()}",
            **_app_headers(self.app_id, self.app_version),
        }

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """Never retry: see below."""
        return False  # a Wawi key does not expire; a 401 means it was revoked or never granted

    def __repr__(self) -> str:
        return f"WawiKeyAuth(app_id={self.app_id!r})"


class CloudTokens:
    """Wawi Cloud access tokens by client credentials, kept in memory and shared by a process's threads.

    Nothing is persisted: a client-credentials token costs one request and spends nothing, so a new
    process simply asks for its own.
    """

    def __init__(
        self,
        http: httpx.Client,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        retry: RetryPolicy | None = None,
        margin: timedelta = CLOUD_TOKEN_MARGIN,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._core = HttpCore(http, token_url, retry=retry)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._margin = margin
        self._now = now
        self._lock = threading.Lock()
        self._cached: tuple[str, datetime] | None = None
        self.requests = 0

    def __repr__(self) -> str:
        return f"CloudTokens(token_url={self.token_url!r}, client_id={self.client_id!r})"

    def _usable(self) -> str | None:
        cached = self._cached
        if cached is not None and cached[1] > self._now():
            return cached[0]
        return None

    def access_token(self) -> str:
        """A bearer token valid for a while yet; asks the token endpoint (once, under a lock) if needed."""
        token = self._usable()
        if token is not None:
            return token
        with self._lock:
            token = self._usable()
            if token is not None:
                return token
            body = request_token(
                self._core, self.client_id, self._client_secret, {"grant_type": "client_credentials"}
            )
            token = str(body["access_token"])
            ttl = _seconds(body.get("expires_in"))
            # Renew ahead of expiry, but never so far ahead that a short-lived token is never used.
            margin = min(self._margin, timedelta(seconds=ttl / 2))
            self._cached = (token, self._now() + timedelta(seconds=ttl) - margin)
            self.requests += 1
            logger.info("fetched a Wawi Cloud access token; valid for %d s", ttl)
            return token

    def invalidate(self, token: str) -> None:
        """The API rejected ``token`` (401): drop it, so the one retry fetches a new one."""
        with self._lock:
            if self._cached is not None and self._cached[0] == token:
                self._cached = None


def _seconds(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return _DEFAULT_CLOUD_TTL


class WawiCloudAuth:
    """Cloud: a Bearer token from :class:`CloudTokens`, the tenant and the app identity headers."""

    v1_prefix = ""

    def __init__(self, tokens: CloudTokens, tenant_id: str, app_id: str, app_version: str) -> None:
        self.tokens = tokens
        self._bearer = BearerAuth(tokens)
        self.tenant_id = tenant_id
        self.app_id = app_id
        self.app_version = app_version

    def headers(self) -> dict[str, str]:
        """Bearer token, tenant (under both names) and app identity."""
        return {
            **self._bearer.headers(),
            "X-Tenant-ID": self.tenant_id,
            "tenant-id": self.tenant_id,
            **_app_headers(self.app_id, self.app_version),
        }

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """A 401 evicts the token (expired early, or revoked): one retry with a fresh one."""
        return self._bearer.on_unauthorized(sent_headers)

    def __repr__(self) -> str:
        return f"WawiCloudAuth(tenant_id={self.tenant_id!r}, app_id={self.app_id!r})"


def wawi_auth(settings: Settings, http: httpx.Client, retry: RetryPolicy | None = None) -> WawiAuth:
    """The auth strategy of ``settings.wawi_flavour``; a clear :class:`ValueError` naming what is missing."""
    missing = [
        f"JTL_{name.upper()}"
        for name in wawi_credential_fields(settings.wawi_flavour)
        if not getattr(settings, name)
    ]
    if settings.wawi_flavour == "cloud":
        if missing:
            raise ValueError(
                f"the Wawi Cloud flavour needs {', '.join(missing)} (the app's OAuth2 client from JTL's "
                "Partner Portal and the tenant it is installed in)"
            )
        assert settings.wawi_client_id and settings.wawi_client_secret and settings.wawi_tenant_id
        tokens = CloudTokens(
            http, settings.wawi_token_url, settings.wawi_client_id, settings.wawi_client_secret, retry=retry
        )
        return WawiCloudAuth(tokens, settings.wawi_tenant_id, settings.wawi_app_id, settings.wawi_app_version)
    if missing or settings.wawi_api_key is None:
        raise ValueError("JTL_WAWI_API_KEY is required; run `jtl-automator auth wawi` to register the app")
    return WawiKeyAuth(settings.wawi_api_key, settings.wawi_app_id, settings.wawi_app_version)
