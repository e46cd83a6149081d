"""The notification blocks the automations call: e-mail through an SmtpServer block, JSON to a webhook.

Real SMTP (the sandbox's server) and real HTTP (the sandbox's receiver); a refused or unreachable
receiver becomes Prefect's NotificationError when the action asks for failures, a log line otherwise,
and never carries a password or key.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from jtl_automator.project import use_project_shell
from jtl_automator.sandbox.smtp import SmtpTestServer

use_project_shell()

from prefect.blocks.abstract import NotificationError  # noqa: E402

from blocks import EmailAlert, SmtpServer, WebhookAlert, WebhookEndpoint  # noqa: E402
from blocks.alerts import alert_key  # noqa: E402


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def _smtp_block(server: SmtpTestServer, **fields: Any) -> SmtpServer:
    return SmtpServer(
        host="127.0.0.1",
        port=server.port,
        security="none",
        allow_plaintext_login=True,
        sender="automator@shop.example",
        username=server.state.username,
        password=SecretStr(server.state.password),
        retry_max_attempts=2,
        retry_initial_delay_seconds=0,
        **fields,
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Any]]:
    """The sandbox's webhook receiver over real HTTP."""
    from jtl_automator.sandbox.app import create_app
    from jtl_automator.sandbox.config import SandboxConfig
    from jtl_automator.sandbox.generator import generate
    from jtl_automator.sandbox.server import serve_in_thread

    app = create_app(generate(seed=3, skus=5, orders=2, customers=2, suppliers=1), SandboxConfig())
    with serve_in_thread(app) as server:
        yield server.base_url, app.state.sandbox


def test_an_email_alert_goes_to_every_recipient_through_the_smtp_block(smtp: SmtpTestServer) -> None:
    block = EmailAlert(smtp=_smtp_block(smtp), to=["ops@shop.example", "lead@shop.example"])
    asyncio.run(block.notify("Run x failed.\nMessage: boom", subject="[jtl-automator] run x Failed"))
    (received,) = smtp.state.messages
    assert received.rcpt_to == ["ops@shop.example", "lead@shop.example"]
    mail = email.message_from_bytes(received.data, policy=email.policy.default)
    assert mail["Subject"] == "[jtl-automator] run x Failed" and "Message: boom" in mail.get_content()  # type: ignore[attr-defined]
    assert mail["X-Idempotency-Key"] == alert_key(
        "[jtl-automator] run x Failed", "Run x failed.\nMessage: boom"
    )


def test_a_transient_smtp_reply_is_retried_and_a_refusal_is_a_notification_error(
    smtp: SmtpTestServer,
) -> None:
    block = EmailAlert(smtp=_smtp_block(smtp), to=["ops@shop.example"])
    smtp.state.script("MAIL", "421 4.3.2 try again later")
    asyncio.run(block.notify("body", subject="first"))
    assert len(smtp.state.messages) == 1
    smtp.state.script("RCPT", "550 5.1.1 no such user")
    with block.raise_on_failure(), pytest.raises(NotificationError) as caught:
        asyncio.run(block.notify("body", subject="second"))
    assert "550" in caught.value.log and smtp.state.password not in caught.value.log
    assert len(smtp.state.messages) == 1


def test_without_raise_on_failure_a_refusal_is_logged_not_raised(
    smtp: SmtpTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    block = EmailAlert(smtp=_smtp_block(smtp), to=["ops@shop.example"])
    smtp.state.script("RCPT", "550 5.1.1 no such user")
    with caplog.at_level(logging.ERROR):
        asyncio.run(block.notify("body", subject="s"))
    assert "alert not delivered" in caplog.text and smtp.state.password not in caplog.text


@pytest.mark.slow
def test_a_webhook_alert_posts_signed_json_and_a_refusal_names_no_secret(receiver: tuple[str, Any]) -> None:
    base_url, state = receiver
    key = secrets.token_hex(32)
    block = WebhookAlert(
        endpoint=WebhookEndpoint(
            url=SecretStr(f"{base_url}/_sandbox/receiver/alerts?token=t0ps3cret"),
            auth="hmac",
            secret=SecretStr(key),
        )
    )
    asyncio.run(block.notify("Run y crashed.", subject="[jtl-automator] run y Crashed"))
    (call,) = [r for r in state.runtime.received if r["path"] == "/alerts"]
    assert call["body"] == {
        "source": "jtl-automator",
        "subject": "[jtl-automator] run y Crashed",
        "text": "Run y crashed.",
    }
    assert call["signed"] and call["headers"]["idempotency-key"] == alert_key(
        "[jtl-automator] run y Crashed", "Run y crashed."
    )
    refused = WebhookAlert(
        endpoint=WebhookEndpoint(url=SecretStr(f"{base_url}/_sandbox/no-such-route?token=t0ps3cret"))
    )
    with refused.raise_on_failure(), pytest.raises(NotificationError) as caught:
        asyncio.run(refused.notify("x", subject="y"))
    assert "404" in caught.value.log and "t0ps3cret" not in caught.value.log


@pytest.mark.slow
def test_an_unreachable_webhook_is_retried_then_a_notification_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    block = WebhookAlert(
        endpoint=WebhookEndpoint(
            url=SecretStr(f"http://127.0.0.1:{port}/hook"),
            retry_max_attempts=2,
            retry_initial_delay_seconds=0,
        )
    )
    with block.raise_on_failure(), pytest.raises(NotificationError) as caught:
        asyncio.run(block.notify("x", subject="y"))
    assert "ConnectError" in caught.value.log or "connect" in caught.value.log.lower()
