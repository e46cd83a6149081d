"""The Bestellvorschlag e-mail: the workbook attached, once per week and version, over a real SMTP server."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from pydantic import SecretStr

from jtl_automator.notify.errors import EmailRejected
from jtl_automator.notify.mail import EmailSender
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox.smtp import SmtpTestServer
from jtl_automator.services.replenishment.mail import mail_key, mail_purchasing
from jtl_automator.store import StateStore
from jtl_automator.store.store import ClaimState

TO = "einkauf@example.com"


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield state
    state.dispose()


def _mailer(smtp: SmtpTestServer) -> EmailSender:
    return EmailSender(
        "127.0.0.1",
        smtp.port,
        "ops@example.com",
        SecretStr(smtp.state.password),
        sender="Disposition <ops@example.com>",
        starttls=False,
        allow_plaintext_login=True,
        timeout=5.0,
        retry=RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.01),
    )


def _result(tmp_path: Path, units: int = 40, dry_run: bool = False) -> dict[str, Any]:
    book = Workbook()
    book.active.title = "Low stock"
    book.active.append(["SKU", "Warehouse", "Cover days"])
    book.active.append(["SKU-1", "W1", 2])
    path = tmp_path / "bestellvorschlag-2026-W48.xlsx"
    book.save(path)
    return {
        "dry_run": dry_run,
        "period": "2026-W48",
        "statuses": {"order": 3, "sufficient": 10},
        "low_stock": 1,
        "plans": [
            {"plan_id": 1, "supplier_name": "Müller *GmbH*", "lines": 3, "units": units, "skipped": ""}
        ],
        "workbook": str(path),
    }


def _messages(smtp: SmtpTestServer) -> list[EmailMessage]:
    out = []
    for received in smtp.state.messages:
        msg = email.message_from_bytes(received.data.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def test_the_workbook_goes_out_once_per_version_of_the_proposal(
    tmp_path: Path, smtp: SmtpTestServer, store: StateStore
) -> None:
    mailer = _mailer(smtp)
    first = mail_purchasing(store, mailer, TO, _result(tmp_path), run_id="r1")
    assert first["sent"] is True
    (msg,) = _messages(smtp)
    assert msg["To"] == TO and msg["Subject"] == "Bestellvorschlag 2026-W48"
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "bestellvorschlag-2026-W48.xlsx"
    sheet = load_workbook(BytesIO(attachment.get_content())).worksheets[0]
    assert sheet.title == "Low stock" and sheet["A2"].value == "SKU-1"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Müller \\*GmbH\\*" in text and "plans approve-from" in text  # supplier text escaped

    again = mail_purchasing(store, mailer, TO, _result(tmp_path), run_id="r2")  # tomorrow, same proposal
    assert again["sent"] is False and len(_messages(smtp)) == 1
    changed = mail_purchasing(store, mailer, TO, _result(tmp_path, units=48), run_id="r3")
    assert changed["sent"] is True and changed["key"] != first["key"] and len(_messages(smtp)) == 2
    assert store.side_effect(first["key"]) is not None


def test_a_dry_run_sends_nothing(tmp_path: Path, smtp: SmtpTestServer, store: StateStore) -> None:
    outcome = mail_purchasing(store, _mailer(smtp), TO, _result(tmp_path, dry_run=True), run_id="r1")
    assert outcome["sent"] is False and _messages(smtp) == []


@pytest.mark.slow
def test_a_refused_recipient_is_recorded_and_the_next_run_tries_again(
    tmp_path: Path, smtp: SmtpTestServer, store: StateStore
) -> None:
    smtp.state.script("RCPT", "550 5.1.1 no such user")
    result = _result(tmp_path)
    with pytest.raises(EmailRejected):
        mail_purchasing(store, _mailer(smtp), TO, result, run_id="r1")
    record = store.side_effect(mail_key(result))
    assert record is not None and record.state is ClaimState.FAILED
    assert mail_purchasing(store, _mailer(smtp), TO, result, run_id="r2")["sent"] is True
    assert len(_messages(smtp)) == 1
