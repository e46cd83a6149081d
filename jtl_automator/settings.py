"""Runtime settings, read from ``JTL_*`` environment variables (and a ``.env`` file if present).

Secrets are ``SecretStr`` so that they never print in reprs, logs or tracebacks; call
``get_secret_value()`` at the one place that needs the plain value.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///jtl_automator_state.db"


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

    # JTL-Wawi REST API (on-premise style).
    wawi_base_url: str = "http://127.0.0.1:5883/api/eazybusiness"
    wawi_api_key: SecretStr | None = None
    wawi_app_id: str = "jtl-automator/prefect/v1"
    wawi_app_version: str = "1.0.0"
    wawi_rate_per_second: float = Field(default=20.0, gt=0)

    # Google Sheets: a service-account JSON (inline or a file path) and, for the sandbox, an API root.
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

    inbound_sheet: str | None = Field(
        default=None, description="The Inbound Control sheet: a Google spreadsheet id or an .xlsx path."
    )

    http_timeout_seconds: float = Field(default=30.0, gt=0)
    retry_max_attempts: int = Field(default=6, ge=1)
    retry_budget_seconds: float = Field(default=120.0, gt=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are read once per process; tests clear the cache after changing the environment."""
    return Settings()
