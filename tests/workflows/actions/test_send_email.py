"""send_email through the real EmailSender to the project's test SMTP server: once per effect key."""

from __future__ import annotations

import email
import email.policy
import json
import logging
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from jtl_automator.notify import EmailRejected, EmailSender
from jtl_automator.notify.mail import message_id_for
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox.smtp import SmtpTestServer
from jtl_automator.store import StateStore
from jtl_automator.workflows.actions.email import SendEmailParams, send_email
from tests.workflows.actions.conftest import MakeCtx

PASSWORD = "s3cret-smtp-password-42"


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        server.state.password = PASSWORD
        yield server


def sender(smtp: SmtpTestServer, sleeps: list[float]) -> EmailSender:
    return EmailSender(
        "127.0.0.1",
        smtp.port,
        "ops@example.com",
        SecretStr(PASSWORD),
        sender="Shop Ops <ops@example.com>",
        starttls=False,
        allow_plaintext_login=True,
        timeout=5,
        retry=RetryPolicy(max_attempts=3, initial_delay=1, sleep=sleeps.append, jitter=lambda: 1.0),
    )


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def params(**values: Any) -> SendEmailParams:
    return SendEmailParams.model_validate(
        {
            "to": "einkauf@example.com; lager@example.com",
            "subject": "Nachbestellen:\n SAISON-1",
            "body": "**SAISON-1** fällt unter 10 Stück in W1.\n\n"
            "| SKU | Menge |\n|---|---|\n| SAISON-1 | 55 |\n",
            **values,
        }
    )


def test_sends_markdown_once_with_a_message_id_from_the_effect_key(
    smtp: SmtpTestServer, make_ctx: MakeCtx, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    key = "wf:saison:v2:SAISON-1@W1:tell-purchasing"
    result = send_email(params(cc="chef@example.com"), make_ctx(key, mail=sender(smtp, sleeps)))
    [received] = smtp.state.messages
    assert received.rcpt_to == ["einkauf@example.com", "lager@example.com", "chef@example.com"]
    msg = parse(received.data)
    assert msg["Subject"] == "Nachbestellen: SAISON-1" and msg["Message-ID"] == message_id_for(
        key, "example.com"
    )
    html = msg.get_body(("html",))
    assert (
        html is not None
        and "<strong>SAISON-1</strong>" in html.get_content()
        and "<table>" in html.get_content()
    )
    out = result.output
    assert out["message_id"] == msg["Message-ID"] and out["refused"] == [] and result.effects == (key,)

    again = send_email(params(cc="chef@example.com"), make_ctx(key, mail=sender(smtp, sleeps)))
    assert len(smtp.state.messages) == 1 and again.repeated == (key,) and again.output == out
    assert PASSWORD not in caplog.text + json.dumps(out) + result.summary


def test_a_transient_smtp_failure_is_retried_and_a_failed_step_sends_on_the_next_run(
    smtp: SmtpTestServer, make_ctx: MakeCtx, store: StateStore
) -> None:
    sleeps: list[float] = []
    smtp.state.script("MAIL", "451 4.7.1 greylisted, try again")
    send_email(params(format="text"), make_ctx("k1", mail=sender(smtp, sleeps)))
    assert len(smtp.state.messages) == 1 and sleeps == [1.0]

    smtp.state.script("RCPT", "550 5.1.1 no such user", times=2)
    with pytest.raises(EmailRejected) as caught:
        send_email(params(format="text"), make_ctx("k2", mail=sender(smtp, sleeps)))
    assert PASSWORD not in str(caught.value)
    claim = store.side_effect("k2")
    assert claim is not None and claim.state.value == "failed"
    send_email(params(format="text"), make_ctx("k2", mail=sender(smtp, sleeps)))
    assert len(smtp.state.messages) == 2


def test_html_body_and_a_named_smtp_block(smtp: SmtpTestServer, make_ctx: MakeCtx) -> None:
    servers = {"purchasing": sender(smtp, [])}
    p = params(
        format="html",
        body="<p>Bitte <b>nachbestellen</b></p>",
        smtp="purchasing",
        reply_to="chef@example.com",
    )
    send_email(p, make_ctx(mail_servers=servers.__getitem__))
    msg = parse(smtp.state.messages[0].data)
    assert msg["Reply-To"] == "chef@example.com"
    text = msg.get_body(("plain",))
    assert text is not None and "Bitte nachbestellen" in text.get_content()


def test_simulation_shows_the_message_and_sends_nothing(
    smtp: SmtpTestServer, make_ctx: MakeCtx, store: StateStore
) -> None:
    result = send_email(params(), make_ctx("k1", simulate=True, mail=sender(smtp, [])))
    would = result.output["would_send"]
    assert (
        would["to"] == ["einkauf@example.com", "lager@example.com"]
        and would["subject"] == "Nachbestellen: SAISON-1"
    )
    assert would["body"].startswith("**SAISON-1**") and would["message_id"] == message_id_for(
        "k1", "example.com"
    )
    assert smtp.state.messages == [] and smtp.state.connections == 0 and store.side_effect("k1") is None


def test_without_a_configured_server_the_error_says_what_to_set_up(make_ctx: MakeCtx) -> None:
    with pytest.raises(LookupError, match=r"'mail'.*not configured"):
        send_email(params(), make_ctx())


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"to": []}, "at least 1"),
        ({"to": "not-an-address"}, "not an e-mail address"),
        ({"to": "a@example.com\r\nBcc: evil@example.com"}, "not an e-mail address"),
        ({"cc": ["x@localhost"]}, "not an e-mail address"),
        ({"to": [f"u{i}@example.com" for i in range(101)]}, "at most 100"),
        ({"subject": "  \n "}, "subject is empty"),
        ({"format": "pdf"}, "format"),
        ({"body": ""}, "at least 1"),
        ({"bcc": "x@example.com"}, "bcc"),
    ],
)
def test_malformed_parameters(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        params(**values)
