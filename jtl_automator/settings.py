"""Runtime settings, read from ``JTL_*`` environment variables (and a ``.env`` file if present).

Secrets are ``SecretStr`` so that they never print in reprs, logs or tracebacks; call
``get_secret_value()`` at the one place that needs the plain value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///jtl_automator_state.db"

#: The Wawi scopes jtl-automator's calls need. ``auth wawi`` registers for them (Wawi scopes cannot be
#: changed after registration), and the strict sandbox grants its pre-registered app exactly these.
WAWI_APP_SCOPES: tuple[str, ...] = (
    "all.read",
    "salesorder.updatesalesorder",
    "stock.stockadjustment",
    "item.updateitem",
    "category.addcategoryitems",
    "item.createitemsaleschannelprice",
    "item.updateitemsaleschannelprice",
    "item.updateitemspecialprice",
)
#: Creating purchase orders (Wawi API v2), which only the plan execution's ``wawi_purchase_orders`` does.
#: Asked for only where a flow is configured to write them: an app holds no write right it does not use.
WAWI_PURCHASE_ORDER_SCOPE = "purchaseorder.createpurchaseorder"


def wawi_app_scopes(*, purchase_orders: bool = False) -> tuple[str, ...]:
    """The scopes to register the Wawi app with: the base set, plus creating purchase orders if asked."""
    return (*WAWI_APP_SCOPES, WAWI_PURCHASE_ORDER_SCOPE) if purchase_orders else WAWI_APP_SCOPES


#: ``onprem``: the Wawi REST server on the merchant's machine (API key, ``/v1`` paths); ``cloud``: JTL's
#: hosted ERP API (OAuth2 client credentials and a tenant id, paths without ``/v1``).
WawiFlavour = Literal["onprem", "cloud"]
WAWI_ONPREM_BASE_URL = "http://127.0.0.1:5883/api/eazybusiness"
WAWI_CLOUD_BASE_URL = "https://api.jtl-cloud.com/erp"
WAWI_CLOUD_TOKEN_URL = "https://auth.jtl-cloud.com/oauth2/token"  # noqa: S105 - a URL, not a secret


def wawi_credential_fields(flavour: WawiFlavour) -> tuple[str, ...]:
    """The ``Settings`` fields a Wawi flavour cannot work without (blocks use them minus ``wawi_``)."""
    if flavour == "cloud":
        return ("wawi_client_id", "wawi_client_secret", "wawi_tenant_id")
    return ("wawi_api_key",)


#: The systems with their own values of the one retry policy (``http``: the FFN and Wawi APIs).
RetrySystem = Literal["http", "sheets", "smtp", "webhook"]
RETRY_SYSTEMS: tuple[RetrySystem, ...] = ("http", "sheets", "smtp", "webhook")


@dataclass(frozen=True)
class RetryValues:
    """One system's timeout and retry values, as configured (seconds unless named otherwise)."""

    timeout_seconds: float
    max_attempts: int
    budget_seconds: float
    initial_delay_seconds: float
    max_delay_seconds: float
    retry_after_cap_seconds: float


def retry_setting_names(system: RetrySystem) -> dict[str, str]:
    """:class:`RetryValues` field -> ``Settings`` field of ``system`` (blocks mirror the left side).

    The FFN/Wawi names predate the other systems (``JTL_HTTP_TIMEOUT_SECONDS``, ``JTL_RETRY_*``); the
    others carry their system as prefix (``JTL_SHEETS_RETRY_*``). SMTP has no server-requested waits,
    so no cap for them.
    """
    prefix = "" if system == "http" else f"{system}_"
    names = {
        "timeout_seconds": f"{system}_timeout_seconds",
        "max_attempts": f"{prefix}retry_max_attempts",
        "budget_seconds": f"{prefix}retry_budget_seconds",
        "initial_delay_seconds": f"{prefix}retry_initial_delay_seconds",
        "max_delay_seconds": f"{prefix}retry_max_delay_seconds",
        "retry_after_cap_seconds": f"{prefix}retry_after_cap_seconds",
    }
    if system == "smtp":
        del names["retry_after_cap_seconds"]
    return names


class Settings(BaseSettings):
    """Everything a flow or CLI command needs that is not a block."""

    model_config = SettingsConfigDict(env_prefix="JTL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the state database (SQLite file by default; PostgreSQL in prod).",
    )

    # JTL-FFN merchant API and its OAuth2 server.
    ffn_base_url: str = "https://ffn2.api.jtl-software.com/api"
    ffn_token_url: str = "https://oauth2.api.jtl-software.com/token"  # noqa: S105 - a URL, not a secret
    ffn_authorize_url: str = "https://oauth2.api.jtl-software.com/authorize"
    ffn_client_id: str | None = None
    ffn_client_secret: SecretStr | None = None
    ffn_refresh_token: SecretStr | None = None
    ffn_redirect_uri: str = "http://127.0.0.1:8765/callback"
    ffn_rate_per_second: float = Field(default=20.0, gt=0)
    ffn_max_in_flight: int = Field(
        default=8,
        ge=1,
        le=64,
        description="FFN requests on the wire at once (threads overlapping independent reads and writes).",
    )
    ffn_page_size: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="$top of FFN's paged reads (fewer, larger pages are cheaper); halved while FFN "
        "refuses it as too large.",
    )

    # JTL-Wawi REST API: on-premise (API key from app registration) or Cloud (OAuth2 client credentials).
    wawi_flavour: WawiFlavour = "onprem"
    wawi_base_url: str = Field(
        default=WAWI_ONPREM_BASE_URL,
        description=f"Wawi REST root; when unset and the flavour is cloud: {WAWI_CLOUD_BASE_URL}.",
    )
    wawi_api_key: SecretStr | None = None
    wawi_tenant_id: str | None = Field(default=None, description="Cloud: the tenant (X-Tenant-ID).")
    wawi_client_id: str | None = Field(default=None, description="Cloud: OAuth2 client id of the app.")
    wawi_client_secret: SecretStr | None = None
    wawi_token_url: str = WAWI_CLOUD_TOKEN_URL
    wawi_app_id: str = "jtl-automator/prefect/v1"
    wawi_app_version: str = "1.0.0"
    wawi_rate_per_second: float = Field(default=20.0, gt=0)
    wawi_max_in_flight: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Wawi requests on the wire at once: no more than the Wawi server serves at once (an "
        "on-premise Wawi on a PC: a few; docs/latency.md).",
    )
    wawi_page_size: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="pageSize of Wawi's paged reads (fewer, larger pages are cheaper); halved while Wawi "
        "refuses it as too large.",
    )

    # JTL-Shop 5 REST API (read-only): the shop's URL (the API is {URL_SHOP}/api/v1) and an API key.
    shop_url: str | None = Field(default=None, description="The shop's URL (URL_SHOP); /api/v1 is added.")
    shop_api_key: SecretStr | None = None
    shop_page_size: int = Field(
        default=250,
        ge=1,
        description="limit of the Shop's cursor-paged reads (the Shop has no maximum, but every product "
        "row loads its stock, prices and other children: see docs/shop.md for the measured trade-off).",
    )
    shop_rate_per_second: float = Field(default=10.0, gt=0)
    shop_max_in_flight: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Shop requests on the wire at once (carts read side by side): a shop on shared hosting "
        "serves a few PHP workers; the Shop documents no limit.",
    )
    shop_timeout_seconds: float = Field(default=60.0, gt=0)
    shop_timezone: str = Field(
        default="Europe/Berlin", description="The shop's SHOP_TIMEZONE: dates without a zone are read in it."
    )

    # Google Sheets: a service-account JSON (inline or a file path) and, for the sandbox, an API root.
    bestellvorschlag_sheet: str | None = Field(
        default=None, description="Google spreadsheet id the replenishment writes its tabs into."
    )
    google_service_account_json: SecretStr | None = None
    google_service_account_file: str | None = None
    sheets_api_url: str | None = Field(
        default=None, description="Override of https://sheets.googleapis.com (the sandbox sets this)."
    )
    sheets_requests_per_minute: int = Field(
        default=60,
        gt=0,
        description="Client-side limit of Sheets API requests (Google's default quota: 60/min).",
    )
    shared_rate_limits: bool = Field(
        default=True,
        description="Share the FFN, Wawi and Sheets rate limits across workers through the Prefect "
        "server's global concurrency limits (docs/rate-limits.md); false: each process limits itself.",
    )

    inbound_sheet: str | None = Field(
        default=None, description="The Inbound Control sheet: a Google spreadsheet id or an .xlsx path."
    )

    # The reports (``jtl-automator blocks`` saves them as the block ``reports``).
    reports_dir: str = Field(
        default="reports", description="Folder of the report workbooks: <dir>/<report>/<period>.xlsx."
    )
    reports_sheet: str | None = Field(
        default=None, description="Google spreadsheet id the reports write their tabs into (one per report)."
    )
    reports_recipients: str | None = Field(
        default=None, description="Comma-separated e-mail addresses the reports go to."
    )

    # Declarative workflows: the folder of their YAML files (``jtl-automator workflows validate``).
    workflows_dir: str = Field(
        default="config/workflows", description="Folder of the workflow files, one workflow per file."
    )

    # The SMTP server e-mails go through (``jtl-automator blocks`` saves it as the block ``smtp``).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str | None = Field(default=None, description="The From address.")
    smtp_allow_plaintext_login: bool = Field(
        default=False, description="With security 'none', send the login in clear (a trusted relay)."
    )

    # The one retry policy, with values per system (README "Configuration" has the worst cases).
    # FFN and Wawi APIs (and the FFN token endpoint).
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    retry_max_attempts: int = Field(default=6, ge=1)
    retry_budget_seconds: float = Field(default=120.0, gt=0)
    retry_initial_delay_seconds: float = Field(default=0.5, ge=0)
    retry_max_delay_seconds: float = Field(default=8.0, ge=0)
    retry_after_cap_seconds: float = Field(default=60.0, ge=0)
    # Google Sheets: Google asks for truncated exponential backoff up to 64 s on its per-minute quota.
    sheets_timeout_seconds: float = Field(default=60.0, gt=0)
    sheets_retry_max_attempts: int = Field(default=8, ge=1)
    sheets_retry_budget_seconds: float = Field(default=300.0, gt=0)
    sheets_retry_initial_delay_seconds: float = Field(default=1.0, ge=0)
    sheets_retry_max_delay_seconds: float = Field(default=64.0, ge=0)
    sheets_retry_after_cap_seconds: float = Field(default=120.0, ge=0)
    # SMTP: greylisting and "421 try again later" want tens of seconds.
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_retry_max_attempts: int = Field(default=5, ge=1)
    smtp_retry_budget_seconds: float = Field(default=300.0, gt=0)
    smtp_retry_initial_delay_seconds: float = Field(default=2.0, ge=0)
    smtp_retry_max_delay_seconds: float = Field(default=60.0, ge=0)
    # Webhooks (every method is retried: each request carries an Idempotency-Key).
    webhook_timeout_seconds: float = Field(default=30.0, gt=0)
    webhook_retry_max_attempts: int = Field(default=6, ge=1)
    webhook_retry_budget_seconds: float = Field(default=120.0, gt=0)
    webhook_retry_initial_delay_seconds: float = Field(default=0.5, ge=0)
    webhook_retry_max_delay_seconds: float = Field(default=8.0, ge=0)
    webhook_retry_after_cap_seconds: float = Field(default=60.0, ge=0)

    # A Dask cluster for the heavy pandas stages (docs/production.md, "Heavy stages on Dask").
    dask_address: str | None = Field(
        default=None, description="Dask scheduler the heavy stages run on, e.g. tcp://10.0.0.5:8786."
    )
    dask_partitions: int = Field(
        default=0, ge=0, le=4096, description="SKU partitions per heavy stage; 0: one per worker thread."
    )
    dask_connect_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long to wait for the scheduler before the run fails."
    )

    @model_validator(mode="after")
    def _cloud_base_url(self) -> Settings:
        """The Cloud API root is the default for the cloud flavour (the on-prem one for on-prem)."""
        if self.wawi_flavour == "cloud" and "wawi_base_url" not in self.model_fields_set:
            self.wawi_base_url = WAWI_CLOUD_BASE_URL
        return self

    def retry_values(self, system: RetrySystem) -> RetryValues:
        """The timeout and retry values of one system."""
        names = retry_setting_names(system)
        values: dict[str, Any] = {key: getattr(self, name) for key, name in names.items()}
        values.setdefault("retry_after_cap_seconds", self.retry_after_cap_seconds)  # unused by SMTP
        return RetryValues(**values)

    @classmethod
    def from_values(cls, **values: Any) -> Settings:
        """These values over the defaults, ignoring the ``JTL_*`` environment and ``.env``.

        Blocks build their clients on this, so a block's values are the only ones that count.
        """
        return _ExplicitSettings(**values)


class _ExplicitSettings(Settings):
    """Settings from constructor arguments and defaults only (see :meth:`Settings.from_values`)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the caller passed."""
        return (init_settings,)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are read once per process; tests clear the cache after changing the environment."""
    return Settings()
