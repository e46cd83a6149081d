"""Credential blocks. Secrets are ``SecretStr``/``SecretDict`` so the UI, the API and reprs mask them.

Each block builds the Prefect-free client of its system (``get_client()``) and can be built from the
``JTL_*`` environment (``from_settings()``), which is the fallback when a flow gets no block name.

The blocks of remote systems carry their timeout and retry values (``timeout_seconds``,
``retry_max_attempts``, ...; defaults: those of ``Settings``). ``from_settings()`` copies the
environment's values into the block; ``get_client()`` uses only the block's, so a saved block behaves
the same wherever a flow runs, whatever ``JTL_*`` variables that machine has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
from prefect.blocks.core import Block
from prefect.types import SecretDict
from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator, model_validator

from blocks.rate_limits import api_limiter
from jtl_automator.settings import (
    WAWI_CLOUD_TOKEN_URL,
    RetrySystem,
    Settings,
    WawiFlavour,
    get_settings,
    retry_setting_names,
    wawi_credential_fields,
)
from jtl_automator.shared_limits import FFN_LIMIT, SHEETS_LIMIT, WAWI_LIMIT

if TYPE_CHECKING:
    from jtl_automator.clients.ffn.client import FfnClient
    from jtl_automator.clients.shop.client import ShopClient
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.notify.mail import EmailSender
    from jtl_automator.notify.webhook import WebhookSender
    from jtl_automator.resilience import RetryPolicy
    from jtl_automator.services.inbound_verification import SheetColumns
    from jtl_automator.sheets.gsheets import GoogleSheetsBackend
    from jtl_automator.store import StateStore

_DOCS = "https://github.com/jtl-automator/jtl-automator#configuration"


def _http_url(value: str) -> str:
    """API roots must be http(s) URLs; a trailing slash is dropped so paths join cleanly."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


HttpUrlText = Annotated[str, AfterValidator(_http_url)]

#: Block field -> (description, exclusive minimum, inclusive minimum).
_RETRY_FIELD_DOCS: dict[str, tuple[str, float | None, float | None]] = {
    "timeout_seconds": ("Timeout of one request, in seconds (per network operation).", 0, None),
    "retry_max_attempts": ("Attempts per request, the first included, on 429/5xx/timeouts.", None, 1),
    "retry_budget_seconds": ("Time budget of one request's retries, in seconds.", 0, None),
    "retry_initial_delay_seconds": ("First backoff delay, in seconds (then doubling).", None, 0),
    "retry_max_delay_seconds": ("Longest backoff delay, in seconds.", None, 0),
    "retry_after_cap_seconds": ("Longest server-requested wait (Retry-After) honoured, in seconds.", None, 0),
}


def _block_field(system: RetrySystem, setting: str) -> str:
    """Block field of a retry setting: the setting's name without its system (``sheets_``...)."""
    return setting.removeprefix(f"{system}_")


def _retry_field(system: RetrySystem, name: str) -> Any:
    """A block field whose default is the ``Settings`` default of ``system``'s value ``name``."""
    setting = next(s for s in retry_setting_names(system).values() if _block_field(system, s) == name)
    description, gt, ge = _RETRY_FIELD_DOCS[name]
    return Field(default=Settings.model_fields[setting].default, description=description, gt=gt, ge=ge)


def _shared_limit_field(name: str) -> Any:
    """The block field naming the Prefect rate limit every worker's client shares (docs/rate-limits.md)."""
    return Field(
        default=name,
        description="Prefect global concurrency limit (with slot decay) shared by every worker's requests; "
        "empty: this process's limiter only.",
    )


def _retry_fields_from(settings: Settings, system: RetrySystem) -> dict[str, Any]:
    """The block fields of ``system``'s timeout and retry values, as ``settings`` has them."""
    return {_block_field(system, s): getattr(settings, s) for s in retry_setting_names(system).values()}


def _retry_settings_of(block: Block, system: RetrySystem) -> dict[str, Any]:
    """The ``Settings`` fields of ``system``'s timeout and retry values, as ``block`` has them."""
    return {s: getattr(block, _block_field(system, s)) for s in retry_setting_names(system).values()}


def _retry_policy_of(block: Block, system: RetrySystem) -> RetryPolicy:
    """The block's retry policy: its own values only, never the environment's."""
    from jtl_automator.resilience import RetryPolicy

    return RetryPolicy.from_settings(Settings.from_values(**_retry_settings_of(block, system)), system)


class StateDatabase(Block):
    """The state database (tokens, watermarks, idempotency ledger, results).

    Example:
        ```python
        from blocks import StateDatabase
        store = StateDatabase.load("BLOCK_NAME").get_client()
        ```
    """

    _block_type_name = "JTL State Database"
    _block_type_slug = "jtl-state-database"
    _description = "SQLAlchemy URL of the jtl-automator state database (SQLite or PostgreSQL)."
    _documentation_url = _DOCS  # type: ignore[assignment]

    url: SecretStr = Field(description="SQLAlchemy URL, e.g. postgresql+psycopg2://user:pw@host/db.")

    def get_client(self) -> StateStore:
        """Open the store (migrations are applied on first use)."""
        from jtl_automator.store import StateStore

        return StateStore(self.url.get_secret_value())

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> StateDatabase:
        """Block from ``JTL_DATABASE_URL``."""
        settings = settings or get_settings()
        return cls(url=SecretStr(settings.database_url))


class JtlFfnCredentials(Block):
    """OAuth2 client of the JTL-FFN merchant API.

    The refresh token here only seeds the state database once: FFN refresh tokens are single-use, so
    the rotated token lives in the state database from the first refresh on.

    Example:
        ```python
        from blocks import JtlFfnCredentials
        ffn = JtlFfnCredentials.load("BLOCK_NAME").get_client(store)
        ```
    """

    _block_type_name = "JTL-FFN Credentials"
    _block_type_slug = "jtl-ffn-credentials"
    _description = "OAuth2 client credentials of the JTL-FFN (fulfillment network) merchant API."
    _documentation_url = _DOCS  # type: ignore[assignment]

    base_url: HttpUrlText = Field(
        default="https://ffn2.api.jtl-software.com/api", description="API root, ending in /api."
    )
    token_url: HttpUrlText = Field(
        default="https://oauth2.api.jtl-software.com/token", description="OAuth2 token URL."
    )
    authorize_url: HttpUrlText = Field(
        default="https://oauth2.api.jtl-software.com/authorize", description="OAuth2 authorization URL."
    )
    client_id: str = Field(description="OAuth2 client id.")
    client_secret: SecretStr = Field(description="OAuth2 client secret.")
    refresh_token: SecretStr | None = Field(
        default=None,
        description="Initial refresh token (spent on first use; rotations go to the state database).",
    )
    rate_per_second: float = Field(default=20.0, gt=0, description="Client-side request rate limit.")
    shared_rate_limit: str | None = _shared_limit_field(FFN_LIMIT)
    page_size: int = Field(default=1000, ge=1, le=1000, description="Objects per page of paged reads ($top).")
    max_in_flight: int = Field(
        default=8, ge=1, le=64, description="Requests on the wire at once (overlapping reads and writes)."
    )
    timeout_seconds: float = _retry_field("http", "timeout_seconds")
    retry_max_attempts: int = _retry_field("http", "retry_max_attempts")
    retry_budget_seconds: float = _retry_field("http", "retry_budget_seconds")
    retry_initial_delay_seconds: float = _retry_field("http", "retry_initial_delay_seconds")
    retry_max_delay_seconds: float = _retry_field("http", "retry_max_delay_seconds")
    retry_after_cap_seconds: float = _retry_field("http", "retry_after_cap_seconds")

    def settings(self) -> Settings:
        """The block as settings (the client factories take settings); nothing from the environment."""
        return Settings.from_values(
            ffn_page_size=self.page_size,
            ffn_base_url=self.base_url,
            ffn_token_url=self.token_url,
            ffn_authorize_url=self.authorize_url,
            ffn_client_id=self.client_id,
            ffn_client_secret=self.client_secret,
            ffn_refresh_token=self.refresh_token,
            ffn_rate_per_second=self.rate_per_second,
            ffn_max_in_flight=self.max_in_flight,
            **_retry_settings_of(self, "http"),
        )

    def get_client(self, store: StateStore, http: httpx.Client | None = None) -> FfnClient:
        """FFN client whose tokens rotate through ``store``."""
        from jtl_automator.clients.ffn.client import FfnClient

        limiter = api_limiter(self.rate_per_second, max(1, int(self.rate_per_second)), self.shared_rate_limit)
        return FfnClient.from_settings(self.settings(), store, http=http, limiter=limiter)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> JtlFfnCredentials:
        """Block from the ``JTL_FFN_*`` environment."""
        s = settings or get_settings()
        if not s.ffn_client_id or s.ffn_client_secret is None:
            raise ValueError(
                "set JTL_FFN_CLIENT_ID and JTL_FFN_CLIENT_SECRET, or pass an FFN credentials block name"
            )
        return cls(
            base_url=s.ffn_base_url,
            token_url=s.ffn_token_url,
            authorize_url=s.ffn_authorize_url,
            client_id=s.ffn_client_id,
            client_secret=s.ffn_client_secret,
            refresh_token=s.ffn_refresh_token,
            rate_per_second=s.ffn_rate_per_second,
            shared_rate_limit=FFN_LIMIT if s.shared_rate_limits else None,
            page_size=s.ffn_page_size,
            max_in_flight=s.ffn_max_in_flight,
            **_retry_fields_from(s, "http"),
        )


class JtlWawiCredentials(Block):
    """Credentials of the JTL-Wawi REST API: on-premise (a registered app's API key) or Cloud.

    Cloud apps authenticate with an OAuth2 client from JTL's Partner Portal (client credentials) and
    the tenant they are installed in.

    Example:
        ```python
        from blocks import JtlWawiCredentials
        wawi = JtlWawiCredentials.load("BLOCK_NAME").get_client()
        ```
    """

    _block_type_name = "JTL-Wawi Credentials"
    _block_type_slug = "jtl-wawi-credentials"
    _description = "Base URL, app id and credentials (on-premise API key or Cloud client) of JTL-Wawi."
    _documentation_url = _DOCS  # type: ignore[assignment]

    flavour: WawiFlavour = Field(
        default="onprem",
        description="onprem: Wawi's own REST server (API key, /v1 paths); cloud: JTL's hosted ERP API.",
    )
    base_url: HttpUrlText = Field(
        description="API root, e.g. http://127.0.0.1:5883/api/eazybusiness or https://api.jtl-cloud.com/erp."
    )
    api_key: SecretStr | None = Field(
        default=None, description="On-premise: the key granted at registration."
    )
    client_id: str | None = Field(default=None, description="Cloud: the app's OAuth2 client id.")
    client_secret: SecretStr | None = Field(
        default=None, description="Cloud: the app's OAuth2 client secret."
    )
    tenant_id: str | None = Field(default=None, description="Cloud: the tenant the app is installed in.")
    token_url: HttpUrlText = Field(default=WAWI_CLOUD_TOKEN_URL, description="Cloud: the OAuth2 token URL.")
    app_id: str = Field(default="jtl-automator/prefect/v1", description="The registered AppId (X-AppID).")
    app_version: str = Field(default="1.0.0", description="The app version (X-AppVersion).")
    rate_per_second: float = Field(default=20.0, gt=0, description="Client-side request rate limit.")
    shared_rate_limit: str | None = _shared_limit_field(WAWI_LIMIT)
    page_size: int = Field(
        default=1000, ge=1, le=1000, description="Objects per page of paged reads (pageSize)."
    )
    max_in_flight: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Requests on the wire at once: at most what the Wawi server serves (a PC: a few).",
    )
    timeout_seconds: float = _retry_field("http", "timeout_seconds")
    retry_max_attempts: int = _retry_field("http", "retry_max_attempts")
    retry_budget_seconds: float = _retry_field("http", "retry_budget_seconds")
    retry_initial_delay_seconds: float = _retry_field("http", "retry_initial_delay_seconds")
    retry_max_delay_seconds: float = _retry_field("http", "retry_max_delay_seconds")
    retry_after_cap_seconds: float = _retry_field("http", "retry_after_cap_seconds")

    @model_validator(mode="after")
    def _credentials_of_the_flavour(self) -> JtlWawiCredentials:
        fields = [name.removeprefix("wawi_") for name in wawi_credential_fields(self.flavour)]
        missing = [name for name in fields if not getattr(self, name)]
        if missing:
            raise ValueError(f"the {self.flavour} flavour needs {', '.join(missing)}")
        return self

    def settings(self) -> Settings:
        """The block as settings (the client factory takes settings); nothing from the environment."""
        return Settings.from_values(
            wawi_flavour=self.flavour,
            wawi_base_url=self.base_url,
            wawi_api_key=self.api_key,
            wawi_client_id=self.client_id,
            wawi_client_secret=self.client_secret,
            wawi_tenant_id=self.tenant_id,
            wawi_token_url=self.token_url,
            wawi_app_id=self.app_id,
            wawi_app_version=self.app_version,
            wawi_rate_per_second=self.rate_per_second,
            wawi_page_size=self.page_size,
            wawi_max_in_flight=self.max_in_flight,
            **_retry_settings_of(self, "http"),
        )

    def get_client(self, http: httpx.Client | None = None) -> WawiClient:
        """Wawi client with these credentials and this block's timeout and retry values."""
        from jtl_automator.clients.wawi.client import WawiClient

        limiter = api_limiter(self.rate_per_second, max(1, int(self.rate_per_second)), self.shared_rate_limit)
        return WawiClient.from_settings(self.settings(), http=http, limiter=limiter)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> JtlWawiCredentials:
        """Block from the ``JTL_WAWI_*`` environment."""
        s = settings or get_settings()
        missing = [
            f"JTL_{name.upper()}" for name in wawi_credential_fields(s.wawi_flavour) if not getattr(s, name)
        ]
        if missing:
            hint = "see `jtl-automator auth wawi`" if s.wawi_flavour == "onprem" else "the Cloud app's client"
            raise ValueError(f"set {', '.join(missing)} ({hint}), or pass a Wawi block name")
        return cls(
            flavour=s.wawi_flavour,
            base_url=s.wawi_base_url,
            api_key=s.wawi_api_key,
            client_id=s.wawi_client_id,
            client_secret=s.wawi_client_secret,
            tenant_id=s.wawi_tenant_id,
            token_url=s.wawi_token_url,
            app_id=s.wawi_app_id,
            app_version=s.wawi_app_version,
            rate_per_second=s.wawi_rate_per_second,
            shared_rate_limit=WAWI_LIMIT if s.shared_rate_limits else None,
            page_size=s.wawi_page_size,
            max_in_flight=s.wawi_max_in_flight,
            **_retry_fields_from(s, "http"),
        )


class GoogleSheetsCredentials(Block):
    """A Google service account, given inline (JSON) or as a key file path: exactly one of the two.

    Example:
        ```python
        from blocks import GoogleSheetsCredentials
        sheet = GoogleSheetsCredentials.load("BLOCK_NAME").get_client("1AbC...spreadsheet-id")
        ```
    """

    _block_type_name = "Google Sheets Credentials"
    _block_type_slug = "google-sheets-credentials"
    _description = "Service-account credentials used to read and write Google Sheets."
    _documentation_url = _DOCS  # type: ignore[assignment]

    service_account_info: SecretDict | None = Field(default=None, description="The key file's JSON content.")
    service_account_file: str | None = Field(default=None, description="Path to the key file.")
    api_url: str | None = Field(
        default=None, description="Override of https://sheets.googleapis.com (the sandbox uses this)."
    )
    requests_per_minute: int = Field(
        default=60, gt=0, description="Client-side limit of Sheets API requests per minute (Google's quota)."
    )
    shared_rate_limit: str | None = _shared_limit_field(SHEETS_LIMIT)
    timeout_seconds: float = _retry_field("sheets", "timeout_seconds")
    retry_max_attempts: int = _retry_field("sheets", "retry_max_attempts")
    retry_budget_seconds: float = _retry_field("sheets", "retry_budget_seconds")
    retry_initial_delay_seconds: float = _retry_field("sheets", "retry_initial_delay_seconds")
    retry_max_delay_seconds: float = _retry_field("sheets", "retry_max_delay_seconds")
    retry_after_cap_seconds: float = _retry_field("sheets", "retry_after_cap_seconds")

    @field_validator("service_account_info", mode="before")
    @classmethod
    def _json_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value)
        return value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> GoogleSheetsCredentials:
        if (self.service_account_info is None) == (self.service_account_file is None):
            raise ValueError("give exactly one of service_account_info or service_account_file")
        return self

    def info(self) -> dict[str, Any]:
        """The service-account JSON (read from the file when given as a path)."""
        if self.service_account_info is not None:
            return dict(self.service_account_info.get_secret_value())
        assert self.service_account_file is not None
        return dict(json.loads(Path(self.service_account_file).expanduser().read_text()))

    def get_client(self, spreadsheet_id: str) -> GoogleSheetsBackend:
        """Sheets backend for one spreadsheet, with this block's rate, timeout and retry values."""
        from jtl_automator.sheets.gsheets import GoogleSheetsBackend

        # A short burst for the read-then-write of a run; the long-run rate stays under the quota.
        limiter = api_limiter(
            self.requests_per_minute / 60, max(1, self.requests_per_minute // 6), self.shared_rate_limit
        )
        return GoogleSheetsBackend(
            spreadsheet_id,
            self.info(),
            api_url=self.api_url,
            retry=_retry_policy_of(self, "sheets"),
            limiter=limiter,
            timeout=self.timeout_seconds,
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> GoogleSheetsCredentials:
        """Block from ``JTL_GOOGLE_SERVICE_ACCOUNT_JSON`` or ``JTL_GOOGLE_SERVICE_ACCOUNT_FILE``."""
        s = settings or get_settings()
        info = (
            json.loads(s.google_service_account_json.get_secret_value())
            if s.google_service_account_json
            else None
        )
        return cls(
            service_account_info=SecretDict(info) if info else None,
            service_account_file=s.google_service_account_file if info is None else None,
            api_url=s.sheets_api_url,
            requests_per_minute=s.sheets_requests_per_minute,
            shared_rate_limit=SHEETS_LIMIT if s.shared_rate_limits else None,
            **_retry_fields_from(s, "sheets"),
        )


class SmtpServer(Block):
    """An SMTP server to send e-mail through.

    Example:
        ```python
        from blocks import SmtpServer
        mail = SmtpServer.load("BLOCK_NAME").get_client()
        ```
    """

    _block_type_name = "SMTP Server"
    _block_type_slug = "jtl-smtp-server"
    _description = "SMTP host, port, login and sender address for notification e-mails."
    _documentation_url = _DOCS  # type: ignore[assignment]

    host: str = Field(description="SMTP host name.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    username: str | None = Field(default=None, description="Login name, if the server needs one.")
    password: SecretStr | None = Field(default=None, description="Login password.")
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="Transport security."
    )
    allow_plaintext_login: bool = Field(
        default=False,
        description="With security 'none', send the login in clear anyway (a relay on a trusted network).",
    )
    sender: str = Field(description="The From address.")
    timeout_seconds: float = _retry_field("smtp", "timeout_seconds")
    retry_max_attempts: int = _retry_field("smtp", "retry_max_attempts")
    retry_budget_seconds: float = _retry_field("smtp", "retry_budget_seconds")
    retry_initial_delay_seconds: float = _retry_field("smtp", "retry_initial_delay_seconds")
    retry_max_delay_seconds: float = _retry_field("smtp", "retry_max_delay_seconds")

    @model_validator(mode="after")
    def _password_needs_username(self) -> SmtpServer:
        if self.password is not None and not self.username:
            raise ValueError("a password needs a username")
        if self.password is not None and self.security == "none" and not self.allow_plaintext_login:
            raise ValueError(
                "security 'none' would send the password in clear: use starttls or ssl, or set "
                "allow_plaintext_login for a relay on a trusted network"
            )
        return self

    def get_client(self) -> EmailSender:
        """E-mail sender for this server, with this block's timeout and retry values."""
        from jtl_automator.notify.mail import EmailSender

        return EmailSender(
            self.host,
            self.port,
            self.username,
            self.password,
            sender=self.sender,
            use_tls=self.security == "ssl",
            starttls=self.security == "starttls",
            allow_plaintext_login=self.allow_plaintext_login,
            timeout=self.timeout_seconds,
            retry=_retry_policy_of(self, "smtp"),
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **fields: Any) -> SmtpServer:
        """Block from the ``JTL_SMTP_*`` environment (server, login, sender, timeout and retries).

        ``fields`` override it. Without a host and a sender there is no server to save: ValueError naming
        the variables. A refused combination (a password without a username, ...) is one line that never
        holds the password.
        """
        s = settings or get_settings()
        server = {
            "host": s.smtp_host,
            "port": s.smtp_port,
            "security": s.smtp_security,
            "username": s.smtp_username,
            "password": s.smtp_password,
            "sender": s.smtp_sender,
            "allow_plaintext_login": s.smtp_allow_plaintext_login,
        }
        given = {k: v for k, v in server.items() if v is not None}
        values = {**given, **_retry_fields_from(s, "smtp"), **fields}
        missing = [f"JTL_SMTP_{name.upper()}" for name in ("host", "sender") if not values.get(name)]
        if missing:
            raise ValueError(f"set {' and '.join(missing)} (the SMTP server e-mails go through)")
        try:
            return cls(**values)
        except ValidationError as exc:
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            raise ValueError(f"JTL_SMTP_*: {reasons}") from None


class WebhookEndpoint(Block):
    """An HTTP endpoint to notify, with optional bearer, basic or HMAC authentication.

    Example:
        ```python
        from blocks import WebhookEndpoint
        hook = WebhookEndpoint.load("BLOCK_NAME").get_client()
        ```
    """

    _block_type_name = "Webhook Endpoint"
    _block_type_slug = "jtl-webhook-endpoint"
    _description = "URL, method, headers and authentication of a webhook to call on events."
    _documentation_url = _DOCS  # type: ignore[assignment]

    url: SecretStr = Field(
        description="The webhook URL. Kept secret: many carry a token in their path or query string."
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        default="POST", description="HTTP method."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra (non-secret) headers.")
    auth: Literal["none", "bearer", "basic", "hmac"] = Field(
        default="none", description="Authentication scheme."
    )
    username: str | None = Field(default=None, description="User for basic authentication.")
    secret: SecretStr | None = Field(
        default=None, description="Bearer token, basic-auth password or HMAC signing key."
    )
    timeout_seconds: float = _retry_field("webhook", "timeout_seconds")
    retry_max_attempts: int = _retry_field("webhook", "retry_max_attempts")
    retry_budget_seconds: float = _retry_field("webhook", "retry_budget_seconds")
    retry_initial_delay_seconds: float = _retry_field("webhook", "retry_initial_delay_seconds")
    retry_max_delay_seconds: float = _retry_field("webhook", "retry_max_delay_seconds")
    retry_after_cap_seconds: float = _retry_field("webhook", "retry_after_cap_seconds")

    @model_validator(mode="after")
    def _auth_needs_secret(self) -> WebhookEndpoint:
        if self.auth != "none" and self.secret is None:
            raise ValueError(f"auth '{self.auth}' needs a secret")
        if self.auth == "basic" and not self.username:
            raise ValueError("basic auth needs a username")
        return self

    def get_client(self, http: httpx.Client | None = None) -> WebhookSender:
        """Webhook sender for this endpoint, with this block's timeout and retry values."""
        from jtl_automator.notify.webhook import BasicAuth, BearerAuth, HmacAuth, WebhookAuth, WebhookSender

        auth: WebhookAuth | None = None
        if self.secret is not None:
            if self.auth == "bearer":
                auth = BearerAuth(self.secret)
            elif self.auth == "basic":
                auth = BasicAuth(self.username or "", self.secret)
            elif self.auth == "hmac":
                auth = HmacAuth(self.secret)
        return WebhookSender(
            http or httpx.Client(timeout=self.timeout_seconds),
            self.url,
            self.method,
            self.headers,
            auth,
            self.timeout_seconds,
            retry=_retry_policy_of(self, "webhook"),
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **fields: Any) -> WebhookEndpoint:
        """Block of ``fields`` (url, auth, ...) with the ``JTL_WEBHOOK_*`` timeout and retry values."""
        s = settings or get_settings()
        return cls(**{**_retry_fields_from(s, "webhook"), **fields})


class InboundControlSheet(Block):
    """Where the Inbound Control sheet is and how its columns are laid out (no secrets).

    Example:
        ```python
        from blocks import InboundControlSheet
        settings = InboundControlSheet.load("BLOCK_NAME")
        ```
    """

    _block_type_name = "Inbound Control Sheet"
    _block_type_slug = "jtl-inbound-control-sheet"
    _description = "The Inbound Control sheet of the inbound verification: location, tab, mode and columns."
    _documentation_url = _DOCS  # type: ignore[assignment]

    sheet: str = Field(description="Google spreadsheet id, or path of an .xlsx workbook.")
    worksheet: str | None = Field(
        default=None, description="Tab name (default: 'Inbound Control' or the first)."
    )
    mode: Literal["inbound", "stock"] | None = Field(
        default=None, description="inbound or stock (default: inbound when the sheet has an inbound column)."
    )
    sku_column: str = Field(
        default="SKU",
        description="Header of the merchant SKU (any case and spacing), or letter:B for column B.",
    )
    units_column: str = Field(default="Units", description="Header of the units sent, or letter:C.")
    status_column: str = Field(default="Status", description="Header of the column to write the status to.")
    note_column: str = Field(default="Note", description="Header of the column to write the note to.")
    inbound_column: str | None = Field(
        default="Inbound",
        description="Header of the inbound reference (id or merchant number), or letter:D.",
    )
    warehouse_column: str | None = Field(default=None, description="Header of a warehouse id, or letter:F.")
    checked_column: str | None = Field(
        default="Checked", description="Header of a column for the run timestamp, if the sheet has one."
    )

    def columns(self) -> SheetColumns:
        """The column mapping the flow takes."""
        from jtl_automator.services.inbound_verification import SheetColumns

        return SheetColumns(
            sku=self.sku_column,
            units=self.units_column,
            status=self.status_column,
            note=self.note_column,
            inbound=self.inbound_column,
            warehouse=self.warehouse_column,
            checked_at=self.checked_column,
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> InboundControlSheet:
        """Block from ``JTL_INBOUND_SHEET`` (the default layout)."""
        s = settings or get_settings()
        if not s.inbound_sheet:
            raise ValueError("set JTL_INBOUND_SHEET (a spreadsheet id or an .xlsx path)")
        return cls(sheet=s.inbound_sheet)


class JtlShopCredentials(Block):
    """The JTL-Shop 5 REST API (read-only): the shop's URL and an API key from its backend.

    The key is created under Administration > API keys in the shop backend (only shown when the shop
    defines ``SHOW_REST_API`` as true); the client needs the GET permission and nothing else, since
    JTL-Shop 5.4 answers every create, update and delete with 501.

    Example:
        ```python
        from blocks import JtlShopCredentials
        shop = JtlShopCredentials.load("BLOCK_NAME").get_client()
        ```
    """

    _block_type_name = "JTL-Shop Credentials"
    _block_type_slug = "jtl-shop-credentials"
    _description = "URL and API key (X-API-KEY) of a JTL-Shop 5 REST API, read-only."
    _documentation_url = _DOCS  # type: ignore[assignment]

    shop_url: HttpUrlText = Field(description="The shop's URL (URL_SHOP); the API is its /api/v1.")
    api_key: SecretStr = Field(description="An API key of the shop with the GET permission.")
    page_size: int = Field(
        default=Settings.model_fields["shop_page_size"].default,
        ge=1,
        description="limit of the cursor-paged reads (no maximum; larger pages take the shop longer).",
    )
    rate_per_second: float = Field(
        default=Settings.model_fields["shop_rate_per_second"].default,
        gt=0,
        description="Client-side request rate limit.",
    )
    max_in_flight: int = Field(
        default=Settings.model_fields["shop_max_in_flight"].default,
        ge=1,
        le=64,
        description="Requests on the wire at once (a shop on shared hosting serves a few PHP workers).",
    )
    timezone: str = Field(default="Europe/Berlin", description="The shop's SHOP_TIMEZONE.")
    timeout_seconds: float = Field(
        default=Settings.model_fields["shop_timeout_seconds"].default,
        gt=0,
        description="Timeout of one request, in seconds (a large page of products takes a while).",
    )
    retry_max_attempts: int = _retry_field("http", "retry_max_attempts")
    retry_budget_seconds: float = _retry_field("http", "retry_budget_seconds")
    retry_initial_delay_seconds: float = _retry_field("http", "retry_initial_delay_seconds")
    retry_max_delay_seconds: float = _retry_field("http", "retry_max_delay_seconds")
    retry_after_cap_seconds: float = _retry_field("http", "retry_after_cap_seconds")

    def settings(self) -> Settings:
        """The block as settings (the client factory takes settings); nothing from the environment."""
        retry = {k: v for k, v in _retry_settings_of(self, "http").items() if k != "http_timeout_seconds"}
        return Settings.from_values(
            shop_url=self.shop_url,
            shop_api_key=self.api_key,
            shop_page_size=self.page_size,
            shop_rate_per_second=self.rate_per_second,
            shop_max_in_flight=self.max_in_flight,
            shop_timezone=self.timezone,
            shop_timeout_seconds=self.timeout_seconds,
            **retry,
        )

    def get_client(self, http: httpx.Client | None = None) -> ShopClient:
        """Shop client with this URL and key and this block's timeout and retry values."""
        from jtl_automator.clients.shop.client import ShopClient

        return ShopClient.from_settings(self.settings(), http=http)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> JtlShopCredentials:
        """Block from ``JTL_SHOP_URL`` and ``JTL_SHOP_API_KEY``."""
        s = settings or get_settings()
        if not s.shop_url or s.shop_api_key is None:
            raise ValueError("set JTL_SHOP_URL and JTL_SHOP_API_KEY, or pass a JTL-Shop block name")
        retry = _retry_fields_from(s, "http")
        retry.pop("timeout_seconds", None)
        return cls(
            shop_url=s.shop_url,
            api_key=s.shop_api_key,
            page_size=s.shop_page_size,
            rate_per_second=s.shop_rate_per_second,
            max_in_flight=s.shop_max_in_flight,
            timezone=s.shop_timezone,
            timeout_seconds=s.shop_timeout_seconds,
            **retry,
        )
