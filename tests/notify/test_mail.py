"""EmailSender against a real (tiny) SMTP server on loopback: formats, retries, permanent errors, secrets."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from jtl_automator.notify import EmailRejected, EmailSender, EmailUnavailable
from jtl_automator.notify.mail import html_to_text, markdown_text, message_id_for
from jtl_automator.resilience import RetryPolicy, TransientFailure
from jtl_automator.sandbox.smtp import SmtpTestServer

PASSWORD = "s3cret-smtp-password-42"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def smtp():
    with SmtpTestServer() as server:
        server.state.password = PASSWORD
        yield server


@pytest.fixture
def sleeps():
    return Sleeps()


def sender_for(smtp, sleeps, **overrides) -> EmailSender:
    settings = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "username": "ops@example.com",
        "password": SecretStr(PASSWORD),
        "sender": "Shop Ops <ops@example.com>",
        "starttls": False,
        "allow_plaintext_login": True,  # the test server speaks no TLS
        "timeout": 5.0,
        "retry": RetryPolicy(
            max_attempts=4, initial_delay=2.0, max_delay=60.0, sleep=sleeps, jitter=lambda: 1.0
        ),
    }
    settings.update(overrides)
    return EmailSender(**settings)


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(msg: EmailMessage) -> list[EmailMessage]:
    payload = msg.get_payload()
    assert isinstance(payload, list)
    return [p for p in payload if isinstance(p, EmailMessage)]


def test_text_email(smtp, sleeps):
    sent = sender_for(smtp, sleeps).send(
        ["lager@example.com", "buchhaltung@example.com"],
        "Wareneingang geprüft: 3 Abweichungen",
        "Grüße aus dem Lager\nSKU 00123: erwartet 12, gebucht 10\n",
        idempotency_key="inbound-check:2024-05-01:INB-1",
    )
    assert sent.attempts == 1 and sent.refused == {}
    [received] = smtp.state.messages
    assert received.mail_from == "ops@example.com"
    assert received.rcpt_to == ["lager@example.com", "buchhaltung@example.com"]
    msg = parse(received.data)
    assert msg["Subject"] == "Wareneingang geprüft: 3 Abweichungen"
    assert (
        msg["Message-ID"]
        == sent.message_id
        == message_id_for("inbound-check:2024-05-01:INB-1", "example.com")
    )
    assert msg["X-Idempotency-Key"] == "inbound-check:2024-05-01:INB-1"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == "Grüße aus dem Lager\nSKU 00123: erwartet 12, gebucht 10\n"
    assert "AUTH" in smtp.state.commands


def test_html_email_has_a_text_alternative(smtp, sleeps):
    html = (
        "<h1>Bestellung 4711</h1><p>Status: <b>versendet</b></p><ul><li>SKU 00123</li><li>SKU A-1</li></ul>"
    )
    sender_for(smtp, sleeps).send("kunde@example.com", "Versand", html, format="html", idempotency_key="k1")
    msg = parse(smtp.state.messages[0].data)
    assert msg.get_content_type() == "multipart/alternative"
    text, rich = parts(msg)
    assert text.get_content_type() == "text/plain" and rich.get_content_type() == "text/html"
    assert rich.get_content().strip() == html
    assert text.get_content() == "Bestellung 4711\nStatus: versendet\n\n- SKU 00123\n- SKU A-1\n"


def test_markdown_email_is_rendered(smtp, sleeps):
    body = (
        "# Nachbestellung\n\n**3 Artikel** unter Mindestbestand:\n\n"
        "| SKU | Bestand |\n|---|---|\n| 00123 | 2 |\n"
    )
    sender_for(smtp, sleeps).send(
        "einkauf@example.com", "Reorder", body, format="markdown", idempotency_key="k2"
    )
    msg = parse(smtp.state.messages[0].data)
    text, rich = parts(msg)
    assert text.get_content() == body
    html = rich.get_content()
    assert "<h1>Nachbestellung</h1>" in html
    assert "<strong>3 Artikel</strong>" in html
    assert "<td>00123</td>" in html  # tables come from the "extra" extension


def test_idempotency_key_decides_the_message_id():
    sender = EmailSender("localhost", sender="ops@example.com")
    a = sender.build_message("x@example.com", "s", "b", idempotency_key="order-1:shipped")
    b = sender.build_message("x@example.com", "s", "other body", idempotency_key="order-1:shipped")
    c = sender.build_message("x@example.com", "s", "b", idempotency_key="order-2:shipped")
    assert a["Message-ID"] == b["Message-ID"] != c["Message-ID"]
    with pytest.raises(ValueError, match="idempotency_key"):
        sender.build_message("x@example.com", "s", "b", idempotency_key="")
    injected = sender.build_message(
        "x@example.com", "AU-1\r\nBcc: evil@example.com", "b", idempotency_key="k"
    )
    assert injected["Subject"] == "AU-1 Bcc: evil@example.com" and injected["Bcc"] is None  # one line


@pytest.mark.parametrize("to", ["x@example.com\r\nBcc: evil@example.com", "no-at-sign", "a@b.de\n"])
def test_a_broken_recipient_is_refused_as_a_permanent_failure_naming_no_address(to: str) -> None:
    sender = EmailSender("localhost", sender="ops@example.com")
    with pytest.raises(EmailRejected, match="invalid recipient address") as caught:
        sender.build_message(to, "s", "b", idempotency_key="k")
    assert "example.com" not in str(caught.value).replace("ops@example.com", "")


def test_keys_of_any_text_become_safe_header_values() -> None:
    sender = EmailSender("localhost", sender="ops@example.com")
    msg = sender.build_message("x@example.com", "s", "b", idempotency_key="order:Bestellung-Ä1\r\n:email")
    assert msg["X-Idempotency-Key"] == "order:Bestellung-%C3%841%0D%0A:email"


def test_customer_text_cannot_inject_html_or_links_into_the_html_part() -> None:
    name = '<a href="https://evil.example">Pay here</a> [Pay here](https://evil.example)'
    body = f"Hello {markdown_text(name)},\n\n<script>alert(1)</script>"
    sender = EmailSender("localhost", sender="ops@example.com")
    html = sender.build_message("x@example.com", "s", body, format="markdown", idempotency_key="k")
    part = html.get_body(("html",)).get_content()
    assert "<a " not in part and "<script>" not in part  # shown as text, never as a tag or a link
    assert "[Pay here](https://evil.example)" in part and "\\" not in part  # no stray backslashes


def test_a_password_over_a_plain_connection_is_refused_unless_meant() -> None:
    with pytest.raises(ValueError, match="password in clear"):
        EmailSender(
            "smtp.example.com", username="u", password=SecretStr("p"), sender="a@b.de", starttls=False
        )
    EmailSender(
        "relay.lan",
        username="u",
        password=SecretStr("p"),
        sender="a@b.de",
        starttls=False,
        allow_plaintext_login=True,
    )


def test_transient_421_greeting_then_success(smtp, sleeps):
    smtp.state.script("GREETING", "421 4.3.2 Service not available, try later", times=2)
    sent = sender_for(smtp, sleeps).send("x@example.com", "s", "b", idempotency_key="k3")
    assert sent.attempts == 3
    assert sleeps == [2.0, 4.0]
    assert smtp.state.connections == 3 and len(smtp.state.messages) == 1


def test_transient_451_on_mail_from_is_retried(smtp, sleeps):
    smtp.state.script("MAIL", "451 4.7.1 Greylisted, please try again")
    sent = sender_for(smtp, sleeps).send("x@example.com", "s", "b", idempotency_key="k4")
    assert sent.attempts == 2 and len(smtp.state.messages) == 1


def test_permanent_550_is_not_retried(smtp, sleeps):
    smtp.state.script("RCPT", "550 5.1.1 <nobody@example.com>: user unknown")
    with pytest.raises(EmailRejected) as caught:
        sender_for(smtp, sleeps).send("nobody@example.com", "s", "b", idempotency_key="k5")
    assert caught.value.status == 550
    assert not isinstance(caught.value, TransientFailure)
    assert "user unknown" in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert sleeps == [] and smtp.state.connections == 1 and smtp.state.messages == []


def test_transient_errors_give_up_after_the_attempt_limit(sleeps):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = EmailSender(
        "127.0.0.1",
        port,
        sender="ops@example.com",
        starttls=False,
        timeout=2.0,
        retry=RetryPolicy(max_attempts=3, initial_delay=1.0, sleep=sleeps, jitter=lambda: 1.0),
    )
    with pytest.raises(EmailUnavailable, match="gave up after 3 attempt") as caught:
        sender.send("x@example.com", "s", "b", idempotency_key="k6")
    assert sleeps == [1.0, 2.0]
    assert isinstance(caught.value, TransientFailure)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_starttls_required_but_not_offered_never_sends_credentials(smtp, sleeps):
    with pytest.raises(EmailRejected, match="STARTTLS"):
        sender_for(smtp, sleeps, starttls=True).send("x@example.com", "s", "b", idempotency_key="k7")
    assert "AUTH" not in smtp.state.commands and sleeps == []


def test_password_never_in_repr_logs_or_errors(smtp, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    sender = sender_for(smtp, sleeps)
    assert PASSWORD not in repr(sender) and "***" in repr(sender)
    sender.send("x@example.com", "s", "b", idempotency_key="k8")

    smtp.state.script("AUTH", f"535 5.7.8 Authentication failed for password {PASSWORD}")
    with pytest.raises(EmailRejected) as caught:
        sender.send("x@example.com", "s", "b", idempotency_key="k9")
    assert caught.value.status == 535
    assert PASSWORD not in str(caught.value) and "***" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert PASSWORD not in caplog.text


def test_non_ascii_password(smtp, sleeps):
    smtp.state.password = "Passwört-für-Jörg"
    sender = sender_for(smtp, sleeps, password=SecretStr("Passwört-für-Jörg"))
    sender.send("x@example.com", "s", "b", idempotency_key="k10")
    assert len(smtp.state.messages) == 1
    with pytest.raises(EmailRejected, match="535"):
        sender_for(smtp, sleeps, password=SecretStr("Passwört-falsch")).send(
            "x@example.com", "s", "b", idempotency_key="k11"
        )


def test_password_must_be_secret():
    with pytest.raises(TypeError, match="SecretStr"):
        EmailSender("localhost", username="u", password=PASSWORD, sender="ops@example.com")  # type: ignore[arg-type]


def test_html_to_text_skips_scripts_and_styles():
    assert html_to_text("<style>p{}</style><p>a &amp; b</p><script>x()</script>") == "a & b\n"


def test_each_smtp_retry_is_logged_with_the_code(smtp, sleeps, caplog):
    smtp.state.script("GREETING", "421 4.3.2 Service not available, try later")
    with caplog.at_level(logging.WARNING, logger="jtl_automator.notify.email"):
        sender_for(smtp, sleeps).send("x@example.com", "s", "b", idempotency_key="k12")
    [line] = [r.getMessage() for r in caplog.records if r.name == "jtl_automator.notify.email"]
    assert line.endswith(f"via 127.0.0.1:{smtp.port}: attempt=1 delay=2.000s reason=421")


def test_attachments_arrive_as_files_next_to_the_body(smtp, sleeps) -> None:
    from jtl_automator.notify.mail import Attachment

    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sender_for(smtp, sleeps).send(
        "supplier@example.com",
        "Bestellung PO-1",
        "**Bitte liefern**",
        format="markdown",
        idempotency_key="po:1",
        attachments=[Attachment("Bestellung PO-1\r\n.xlsx", b"PK\x03\x04binary", xlsx)],
    )
    msg = parse(smtp.state.messages[0].data)
    files = list(msg.iter_attachments())
    assert [(f.get_filename(), f.get_content_type(), f.get_content()) for f in files] == [
        ("Bestellung PO-1 .xlsx", xlsx, b"PK\x03\x04binary")
    ]
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and "Bitte liefern" in body.get_content()
