"""The Notifier: each channel once per key, channels independent, failures returned for the caller."""

from __future__ import annotations

from typing import Any

import pytest

from jtl_automator.notify.errors import EmailRejected, WebhookUnavailable
from jtl_automator.notify.notifier import Deliveries, Notifier
from jtl_automator.store import StateStore


class Mail:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[tuple[Any, str]] = []

    def send(self, to: Any, subject: str, body: str, *, format: Any = "text", idempotency_key: str) -> Any:
        if self.error is not None:
            raise self.error
        self.sent.append((to, idempotency_key))
        return type("Sent", (), {"message_id": f"<{idempotency_key}>"})()


class Hook:
    def __init__(self, errors: list[Exception] | None = None) -> None:
        self.errors = list(errors or [])
        self.sent: list[str] = []

    def send(self, payload: Any = None, *, idempotency_key: str) -> Any:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(idempotency_key)
        return type("Response", (), {"status_code": 202})()


@pytest.fixture
def store(tmp_path: Any) -> StateStore:
    return StateStore(f"sqlite:///{tmp_path / 'state.db'}")


def test_each_channel_once_per_key(store: StateStore) -> None:
    mail, hook = Mail(), Hook()
    notifier = Notifier(store, "run-1", email=mail, webhook=hook)
    first = notifier.event("k", {"event": "x"}, recipients=["a@example.org"], subject="s", markdown="m")
    again = notifier.event("k", {"event": "x"}, recipients=["a@example.org"], subject="s", markdown="m")
    assert first.sent == {"email": True, "webhook": True} and not first.errors
    assert again.sent == {"email": False, "webhook": False}
    assert mail.sent == [(["a@example.org"], "k:email")] and hook.sent == ["k:webhook"]


def test_without_recipients_no_email_is_attempted(store: StateStore) -> None:
    mail = Mail()
    result = Notifier(store, "run-1", email=mail).event("k", {}, recipients=["", None])  # type: ignore[list-item]
    assert result.sent == {"email": False, "webhook": False} and mail.sent == []


def test_a_failing_email_does_not_keep_the_webhook_from_going_out(store: StateStore) -> None:
    hook = Hook()
    notifier = Notifier(store, "run-1", email=Mail(EmailRejected("SMTP -> 550", status=550)), webhook=hook)
    result = notifier.event("k", {"event": "x"}, recipients=["a@example.org"])
    assert result.sent["webhook"] and hook.sent == ["k:webhook"]
    assert isinstance(result.errors["email"], EmailRejected)
    assert store.side_effect("k:email").state.value == "failed"  # type: ignore[union-attr]


def test_raise_failures_prefers_the_transient_one() -> None:
    rejected, unavailable = EmailRejected("550"), WebhookUnavailable("503")
    with pytest.raises(WebhookUnavailable):
        Deliveries(errors={"email": rejected, "webhook": unavailable}).raise_failures()
    with pytest.raises(EmailRejected):
        Deliveries(errors={"email": rejected}).raise_failures()
    Deliveries().raise_failures()  # nothing failed: nothing raised


def test_a_failed_channel_is_sent_by_the_next_attempt_and_the_sent_one_is_not_repeated(
    store: StateStore,
) -> None:
    mail, hook = Mail(), Hook([WebhookUnavailable("503")])
    notifier = Notifier(store, "run-1", email=mail, webhook=hook)
    first = notifier.event("k", {}, recipients=["a@example.org"])
    second = notifier.event("k", {}, recipients=["a@example.org"])
    assert "webhook" in first.errors and second.sent == {"email": False, "webhook": True}
    assert len(mail.sent) == 1 and hook.sent == ["k:webhook"]
