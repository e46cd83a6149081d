"""One event to every configured channel (e-mail, webhook), each at most once per idempotency key.

Keys: ``<key>:email`` and ``<key>:webhook`` in the state store's side-effect ledger, so a retried task
or a rerun sends a channel again only if it did not go out. Channels are independent: a failing e-mail
does not keep the webhook from being called. Failures come back in the result instead of being raised,
so each caller decides: order processing records them and goes on (the outbound exists either way), the
notify task raises the transient ones for Prefect to retry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jtl_automator.correlation import correlated_logger
from jtl_automator.notify.errors import NotifyError, TransientNotifyError
from jtl_automator.store import StateStore

log = correlated_logger("jtl_automator.notify")


class MailSender(Protocol):
    """What :class:`jtl_automator.notify.mail.EmailSender` offers (tests pass their own)."""

    def send(
        self, to: str | Sequence[str], subject: str, body: str, *, format: Any = ..., idempotency_key: str
    ) -> Any:
        """Send one message; its Message-ID derives from ``idempotency_key``."""
        ...


class HookSender(Protocol):
    """What :class:`jtl_automator.notify.webhook.WebhookSender` offers."""

    def send(self, payload: Mapping[str, Any] | None = None, *, idempotency_key: str) -> Any:
        """Deliver one payload with an ``Idempotency-Key`` header."""
        ...


@dataclass(frozen=True)
class Deliveries:
    """Per channel: sent this time (False: not configured or sent before), or the error that stopped it."""

    sent: dict[str, bool] = field(default_factory=lambda: {"email": False, "webhook": False})
    errors: dict[str, NotifyError] = field(default_factory=dict)

    def raise_failures(self) -> None:
        """Raise a transient failure first (a retry may fix it), else a permanent one, else nothing."""
        errors = list(self.errors.values())
        failures = [e for e in errors if isinstance(e, TransientNotifyError)] or errors
        if failures:
            raise failures[0]


@dataclass
class Notifier:
    """Sends through whatever is configured; the side-effect ledger makes every message once-only."""

    store: StateStore
    run_id: str
    email: MailSender | None = None
    webhook: HookSender | None = None

    def _once(self, key: str, kind: str, send: Callable[[], Mapping[str, Any]], result: Deliveries) -> None:
        try:
            result.sent[kind] = self.store.run_once(key, kind, send, run_id=self.run_id)
        except NotifyError as exc:  # recorded as failed by run_once; a later run may send it
            log.warning("notification %s failed: %s", key, exc)
            result.errors[kind] = exc

    def event(
        self,
        key: str,
        payload: Mapping[str, Any],
        *,
        recipients: Sequence[str] = (),
        subject: str = "",
        markdown: str = "",
    ) -> Deliveries:
        """Webhook with ``payload``; one e-mail of ``markdown`` to ``recipients`` when there are any."""
        result = Deliveries()
        email, hook = self.email, self.webhook
        to = [r for r in recipients if r]
        if email is not None and to:
            self._once(
                f"{key}:email",
                "email",
                lambda: {
                    "message_id": str(
                        getattr(
                            email.send(
                                to, subject, markdown, format="markdown", idempotency_key=f"{key}:email"
                            ),
                            "message_id",
                            "",
                        )
                    )
                },
                result,
            )
        if hook is not None:
            self._once(
                f"{key}:webhook",
                "webhook",
                lambda: {
                    "status": int(
                        getattr(hook.send(dict(payload), idempotency_key=f"{key}:webhook"), "status_code", 0)
                    )
                },
                result,
            )
        return result


__all__ = ["Deliveries", "HookSender", "MailSender", "Notifier"]
