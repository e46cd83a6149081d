"""Blocks are plain pydantic models: tested without a Prefect server (saving/loading is in tests/flows)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites.blocks import BlockStandardTestSuite
from pydantic import SecretStr, ValidationError

from blocks import (
    GoogleSheetsCredentials,
    InboundControlSheet,
    JtlFfnCredentials,
    JtlShopCredentials,
    JtlWawiCredentials,
    ReportDelivery,
    SmtpServer,
    StateDatabase,
    WebhookEndpoint,
)
from jtl_automator.settings import Settings

ALL_BLOCKS = [
    InboundControlSheet,
    GoogleSheetsCredentials,
    JtlFfnCredentials,
    JtlWawiCredentials,
    ReportDelivery,
    SmtpServer,
    StateDatabase,
    WebhookEndpoint,
    JtlShopCredentials,
]


@pytest.mark.parametrize("block", ALL_BLOCKS)
class TestBlockStandards(BlockStandardTestSuite):
    """Prefect's own checks for integration blocks; the logo check needs the internet and is skipped."""

    @pytest.fixture
    def block(self, block: type[Block]) -> type[Block]:  # type: ignore[override]
        return block

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        pytest.skip("logo check downloads an image; no internet here and no logo shipped")


def test_ffn_block_masks_secrets_and_builds_a_client(sqlite_url: str) -> None:
    from jtl_automator.store import StateStore

    block = JtlFfnCredentials(
        client_id="cid",
        client_secret=SecretStr("s3cret"),
        refresh_token=SecretStr("r3fresh"),
        base_url="http://127.0.0.1:1/api/",
        token_url="http://127.0.0.1:1/oauth2/token",
    )
    text = repr(block) + str(block) + json.dumps(block.model_dump(mode="json"))
    assert "s3cret" not in text and "r3fresh" not in text
    client = block.get_client(StateStore(sqlite_url))
    assert client.core.base_url.rstrip("/") == "http://127.0.0.1:1/api"


def test_ffn_block_rejects_non_http_urls() -> None:
    with pytest.raises(ValidationError, match="http"):
        JtlFfnCredentials(client_id="c", client_secret=SecretStr("s"), base_url="ftp://x")


def test_ffn_block_from_settings_needs_client_credentials() -> None:
    with pytest.raises(ValueError, match="JTL_FFN_CLIENT_ID"):
        JtlFfnCredentials.from_settings(Settings())
    block = JtlFfnCredentials.from_settings(Settings(ffn_client_id="c", ffn_client_secret=SecretStr("s")))
    assert block.client_secret.get_secret_value() == "s"


def test_wawi_block(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="JTL_WAWI_API_KEY"):
        JtlWawiCredentials.from_settings(Settings())
    block = JtlWawiCredentials.from_settings(
        Settings(wawi_api_key=SecretStr("k3y"), wawi_base_url="http://h/api/x")
    )
    assert "k3y" not in repr(block)
    client = block.get_client()
    assert "k3y" not in repr(client)


def test_sheets_block_needs_exactly_one_source(tmp_path: object) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        GoogleSheetsCredentials()
    with pytest.raises(ValidationError, match="exactly one"):
        GoogleSheetsCredentials(service_account_info={"a": 1}, service_account_file="/x.json")
    block = GoogleSheetsCredentials(
        service_account_info=json.dumps({"client_email": "x@y", "private_key": "PK"})
    )
    assert block.info()["client_email"] == "x@y"
    assert "PK" not in repr(block)


def test_webhook_block_auth_rules() -> None:
    with pytest.raises(ValidationError, match="needs a secret"):
        WebhookEndpoint(url="https://example.invalid/hook", auth="bearer")
    with pytest.raises(ValidationError, match="username"):
        WebhookEndpoint(url="https://example.invalid/hook", auth="basic", secret=SecretStr("pw"))
    hook = WebhookEndpoint(url="https://example.invalid/hook", auth="hmac", secret=SecretStr("k"))
    assert hook.get_client() is not None


def test_state_database_block_hides_password() -> None:
    block = StateDatabase(url=SecretStr("postgresql+psycopg2://u:hunter2@db/x"))
    assert "hunter2" not in repr(block)


def test_smtp_block_security_modes() -> None:
    with pytest.raises(ValidationError, match="username"):
        SmtpServer(host="mail.invalid", sender="ops@example.invalid", password=SecretStr("pw"))
    mail = SmtpServer(
        host="mail.invalid",
        port=465,
        security="ssl",
        sender="ops@example.invalid",
        username="ops",
        password=SecretStr("pw"),
    ).get_client()
    assert "pw" not in repr(mail)


def test_sheets_block_limits_the_request_rate() -> None:
    from jtl_automator.sandbox.sheets import make_service_account_info

    block = GoogleSheetsCredentials(
        service_account_info=make_service_account_info("http://127.0.0.1:9"),
        api_url="http://127.0.0.1:9/sheets",
        requests_per_minute=120,
    )
    backend = block.get_client("sheet-id")
    limiter = backend._http.limiter  # type: ignore[attr-defined]
    assert limiter is not None and limiter.rate_per_second == 2.0


def test_inbound_control_sheet_block_columns_and_settings() -> None:
    block = InboundControlSheet(sheet="1AbC", sku_column="B", status_column="Ergebnis", inbound_column=None)
    columns = block.columns()
    assert (columns.sku, columns.status, columns.inbound, columns.units) == ("B", "Ergebnis", None, "Units")
    with pytest.raises(ValueError, match="JTL_INBOUND_SHEET"):
        InboundControlSheet.from_settings(Settings())
    assert InboundControlSheet.from_settings(Settings(inbound_sheet="control.xlsx")).sheet == "control.xlsx"


# -- timeouts and retry values come from the block, never silently from the JTL_* environment -------------

ENV_VALUES = {
    "JTL_HTTP_TIMEOUT_SECONDS": "1",
    "JTL_RETRY_MAX_ATTEMPTS": "2",
    "JTL_RETRY_BUDGET_SECONDS": "3",
    "JTL_SHEETS_TIMEOUT_SECONDS": "1",
    "JTL_SHEETS_RETRY_MAX_ATTEMPTS": "2",
    "JTL_SMTP_TIMEOUT_SECONDS": "1",
    "JTL_SMTP_RETRY_MAX_ATTEMPTS": "2",
    "JTL_WEBHOOK_TIMEOUT_SECONDS": "1",
    "JTL_WEBHOOK_RETRY_MAX_ATTEMPTS": "2",
}


@pytest.fixture
def retry_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine whose JTL_* environment says something else than the blocks."""
    from jtl_automator.settings import get_settings

    for name, value in ENV_VALUES.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _sheets_block(**values: Any) -> GoogleSheetsCredentials:
    from jtl_automator.sandbox.sheets import make_service_account_info

    info = make_service_account_info("http://127.0.0.1:9")
    return GoogleSheetsCredentials(service_account_info=info, api_url="http://127.0.0.1:9/sheets", **values)


def _clients(sqlite_url: str, **values: Any) -> dict[str, tuple[Any, float]]:
    """Per block: the retry policy and the timeout of the client it builds (checking they agree inside)."""
    from jtl_automator.store import StateStore

    ffn = JtlFfnCredentials(client_id="c", client_secret=SecretStr("s"), **values).get_client(
        StateStore(sqlite_url)
    )
    assert ffn.token_provider._core.retry is ffn.core.retry  # type: ignore[attr-defined]  # the token endpoint
    wawi = JtlWawiCredentials(base_url="http://h/api", api_key=SecretStr("k"), **values).get_client()
    sheets = _sheets_block(**values).get_client("sheet-id")
    mail = SmtpServer(host="mail.invalid", sender="ops@example.invalid", **values).get_client()
    hook = WebhookEndpoint(url="https://example.invalid/hook", **values).get_client()
    assert hook.http.timeout.read == hook.timeout
    return {
        "ffn": (ffn.core.retry, ffn.core.http.timeout.read),
        "wawi": (wawi.core.retry, wawi.core.http.timeout.read),
        "sheets": (sheets._http.retry, sheets._http.timeout),  # type: ignore[attr-defined]
        "smtp": (mail.retry, mail.timeout),
        "webhook": (hook.retry, hook.timeout),
    }


def test_block_clients_ignore_the_retry_environment(retry_env: None, sqlite_url: str) -> None:
    explicit = _clients(sqlite_url, timeout_seconds=7.0, retry_max_attempts=4, retry_budget_seconds=50.0)
    seen = {name: (p.max_attempts, p.budget_seconds, t) for name, (p, t) in explicit.items()}
    assert seen == dict.fromkeys(("ffn", "wawi", "sheets", "smtp", "webhook"), (4, 50.0, 7.0))
    defaults = _clients(sqlite_url)  # the Settings defaults, not the environment's 2 attempts / 1 s
    assert {name: (p.max_attempts, t) for name, (p, t) in defaults.items()} == {
        "ffn": (6, 30.0),
        "wawi": (6, 30.0),
        "sheets": (8, 60.0),
        "smtp": (5, 30.0),
        "webhook": (6, 30.0),
    }


def test_from_settings_copies_the_retry_environment_into_the_block(retry_env: None) -> None:
    from jtl_automator.settings import get_settings

    s = get_settings().model_copy(
        update={"ffn_client_id": "c", "ffn_client_secret": SecretStr("s"), "wawi_api_key": SecretStr("k")}
    )
    blocks = [
        JtlFfnCredentials.from_settings(s),
        JtlWawiCredentials.from_settings(s),
        GoogleSheetsCredentials.from_settings(
            s.model_copy(update={"google_service_account_file": "/nonexistent.json"})
        ),
        SmtpServer.from_settings(s, host="mail.invalid", sender="ops@example.invalid"),
        WebhookEndpoint.from_settings(s, url="https://example.invalid/hook"),
    ]
    assert [(b.retry_max_attempts, b.timeout_seconds) for b in blocks] == [(2, 1.0)] * 5  # type: ignore[attr-defined]
    assert blocks[0].retry_budget_seconds == 3.0  # type: ignore[attr-defined]
    assert SmtpServer.from_settings(s, host="h", sender="a@b.c", retry_max_attempts=9).retry_max_attempts == 9


def test_a_webhook_url_with_a_token_stays_out_of_reprs_and_the_senders_messages() -> None:
    url = "https://hooks.example.invalid/services/T000/B000/tok3n-in-the-path?token=q-secret"
    block = WebhookEndpoint(url=url)
    assert "tok3n" not in repr(block) and "q-secret" not in repr(block)
    assert "tok3n" not in str(block.model_dump()) and "q-secret" not in str(block.model_dump())
    sender = block.get_client()
    assert sender.display_url == "https://hooks.example.invalid/…" and "tok3n" not in repr(sender)


def test_smtp_security_none_with_a_password_needs_an_explicit_yes() -> None:
    login = {"host": "relay.lan", "sender": "ops@example.com", "username": "u", "password": SecretStr("p")}
    with pytest.raises(ValueError, match="password in clear"):
        SmtpServer(security="none", **login)
    assert SmtpServer(security="none", allow_plaintext_login=True, **login).get_client() is not None


def test_the_smtp_block_comes_from_the_environment_and_never_shows_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jtl_automator.settings import get_settings

    env = {
        "JTL_SMTP_HOST": "mail.example.invalid",
        "JTL_SMTP_PORT": "465",
        "JTL_SMTP_SECURITY": "ssl",
        "JTL_SMTP_USERNAME": "einkauf",
        "JTL_SMTP_PASSWORD": "pa55-smtp",
        "JTL_SMTP_SENDER": "Einkauf <einkauf@example.invalid>",
        "JTL_SMTP_RETRY_MAX_ATTEMPTS": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        block = SmtpServer.from_settings()
        assert (block.host, block.port, block.security, block.username) == (
            "mail.example.invalid",
            465,
            "ssl",
            "einkauf",
        )
        assert block.sender == "Einkauf <einkauf@example.invalid>" and block.retry_max_attempts == 3
        assert block.password is not None and block.password.get_secret_value() == "pa55-smtp"
        assert "pa55-smtp" not in repr(block) + str(block.model_dump(mode="json"))

        monkeypatch.delenv("JTL_SMTP_USERNAME")
        get_settings.cache_clear()
        with pytest.raises(ValueError, match=r"^JTL_SMTP_\*: a password needs a username$") as refused:
            SmtpServer.from_settings()
        assert "pa55-smtp" not in str(refused.value)

        for name in ("JTL_SMTP_HOST", "JTL_SMTP_SENDER"):
            monkeypatch.delenv(name)
        get_settings.cache_clear()
        with pytest.raises(ValueError, match=r"^set JTL_SMTP_HOST and JTL_SMTP_SENDER "):
            SmtpServer.from_settings()
    finally:
        get_settings.cache_clear()


def test_report_delivery_from_the_environment_splits_the_recipients() -> None:
    settings = Settings.from_values(reports_dir="out/r", reports_recipients="a@example.org, b@example.org")
    block = ReportDelivery.from_settings(settings)
    assert block.output_dir == "out/r" and block.recipients == ["a@example.org", "b@example.org"]
    assert block.email_block == "smtp" and block.spreadsheet_id is None and block.sheets_block is None
    assert ReportDelivery.from_settings(Settings.from_values()).recipients == []
