"""Email over SMTP: text, HTML or markdown (rendered), with retries and an idempotency-derived Message-ID.

Retries follow SMTP's own split: 4xx replies and dropped/refused connections are transient (the server
asks us to come back), 5xx replies are permanent and raise at once. The ``Message-ID`` is a hash of the
idempotency key, so if a retry after an ambiguous failure (connection lost after DATA) delivers twice,
both copies carry the same id and mail clients and the team can recognise the duplicate. Not sending
twice *across runs* is the caller's job (the state store's ledger); this class only carries the key.
"""

from __future__ import annotations

import base64
import hashlib
import re
import smtplib
import ssl
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any, Literal, Protocol
from urllib.parse import quote

import markdown as markdown_lib
from pydantic import SecretStr

from jtl_automator.correlation import correlated_logger, correlation_id
from jtl_automator.notify.errors import EmailRejected, EmailUnavailable, redact
from jtl_automator.resilience import GaveUp, Retry, RetryPolicy, call_with_retry

logger = correlated_logger("jtl_automator.notify.email")

BodyFormat = Literal["text", "html", "markdown"]

#: The ``smtp`` values of the one policy (``JTL_SMTP_RETRY_*`` defaults). SMTP waits are longer than
#: HTTP ones: greylisting and "421 try again later" want tens of seconds.
DEFAULT_SMTP_RETRY = RetryPolicy.defaults("smtp")

_MARKDOWN_EXTENSIONS = ["extra", "sane_lists"]


def message_id_for(idempotency_key: str, domain: str) -> str:
    """Stable ``<hash@domain>`` for a key, so duplicates of one logical email share their Message-ID."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain or 'jtl-automator.invalid'}>"


class _TextExtractor(HTMLParser):
    """Plain-text alternative of an HTML body: text content, line breaks at block ends, links kept."""

    _BLOCKS = frozenset({"p", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """A readable text part for clients that do not render HTML."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


class _NoRawHtml(markdown_lib.Extension):
    """Raw HTML in the markdown is shown as text, never passed through: bodies quote customer data."""

    def extendMarkdown(self, md: markdown_lib.Markdown) -> None:
        """Drop the block and inline raw-HTML handlers, so ``<a href=…>`` arrives escaped."""
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


def render_markdown(body: str) -> str:
    """Markdown to a minimal HTML document (tables and fenced code via ``extra``; raw HTML escaped)."""
    inner = markdown_lib.markdown(
        body, extensions=[*_MARKDOWN_EXTENSIONS, _NoRawHtml()], output_format="html"
    )
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{inner}\n</body></html>\n'


# The characters a backslash escapes in this Markdown (its own list, with the extensions we use).
_ESCAPABLE = "".join(markdown_lib.Markdown(extensions=_MARKDOWN_EXTENSIONS).ESCAPED_CHARS)
_MARKDOWN_SPECIAL = re.compile(f"([{re.escape(_ESCAPABLE)}])")


def markdown_text(value: object) -> str:
    """Text from outside (a customer's name, an item name) for a markdown body: shown as written.

    Markdown syntax in it is escaped, so ``[Pay here](https://evil.example)`` in a name stays text
    instead of becoming a link, and line breaks become spaces so it cannot start a block of its own.
    """
    text = " ".join(str(value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def header_safe(value: str) -> str:
    """A value for a mail or HTTP header we derive from data (idempotency keys): ASCII, no line breaks.

    Percent-encodes everything outside printable ASCII, so a non-ASCII order number or an injected line
    break cannot break the header; receivers compare the encoded key as they got it.
    """
    return quote(value, safe="!#$&'()*+,/:;=?@[]~-._ ")


@dataclass(frozen=True)
class Attachment:
    """A file sent along with a message (a purchase order as xlsx, say)."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


class AttachmentMailer(Protocol):
    """What :class:`jtl_automator.notify.mail.EmailSender` offers for a message with files."""

    def send(
        self,
        to: str | Sequence[str],
        subject: str,
        body: str,
        *,
        format: Any = ...,
        idempotency_key: str,
        attachments: Sequence[Attachment] = ...,
    ) -> Any:
        """Send one message; its Message-ID derives from ``idempotency_key``."""
        ...


@dataclass(frozen=True)
class SentEmail:
    """What a successful send returns; ``refused`` lists recipients the server rejected (others got it)."""

    message_id: str
    attempts: int
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


class EmailSender:
    """SMTP sender; ``use_tls`` is implicit TLS (port 465), ``starttls`` upgrades a plain connection.

    With ``starttls=True`` a server that does not offer STARTTLS is an error: we never fall back to
    sending credentials or mail in clear. Set ``starttls=False`` only for a trusted local relay; a
    password over such a plain connection is refused unless ``allow_plaintext_login`` says it is meant.
    """

    def __init__(
        self,
        host: str,
        port: int = 587,
        username: str | None = None,
        password: SecretStr | None = None,
        *,
        sender: str,
        use_tls: bool = False,
        starttls: bool = True,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        allow_plaintext_login: bool = False,
    ) -> None:
        if password is not None and not isinstance(password, SecretStr):
            raise TypeError("password must be a pydantic SecretStr")
        if password is not None and username is None:
            raise ValueError("a password needs a username")
        if password is not None and not use_tls and not starttls and not allow_plaintext_login:
            raise ValueError(
                f"SMTP {host}:{port}: a login without TLS sends the password in clear; use starttls or ssl, "
                "or set allow_plaintext_login for a relay on a trusted network"
            )
        _, address = parseaddr(sender)
        if "@" not in address:
            raise ValueError(f"sender must be an email address, got {sender!r}")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.sender = sender
        self.sender_address = address
        self.use_tls = use_tls
        self.starttls = starttls and not use_tls
        self.timeout = timeout
        self.retry = retry or DEFAULT_SMTP_RETRY
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        mode = "tls" if self.use_tls else ("starttls" if self.starttls else "plain")
        return (
            f"EmailSender(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"password={'***' if self._password else None}, mode={mode}, sender={self.sender!r})"
        )

    # -- message -------------------------------------------------------------------------------------

    def build_message(
        self,
        to: str | Sequence[str],
        subject: str,
        body: str,
        *,
        format: BodyFormat = "text",
        idempotency_key: str,
        cc: Sequence[str] = (),
        reply_to: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> EmailMessage:
        """The MIME message: text alone, or multipart/alternative with a text part before the HTML."""
        if not idempotency_key:
            raise ValueError("idempotency_key must not be empty")
        recipients = [to] if isinstance(to, str) else list(to)
        if not recipients:
            raise ValueError("at least one recipient is required")
        for address in [*recipients, *cc, *([reply_to] if reply_to else [])]:
            if "\r" in address or "\n" in address or "@" not in address:
                # Refused, not repaired: a line break in an address is header injection or a typo.
                reason = f"invalid recipient address ({len(address)} characters)"
                raise EmailRejected(self._describe(None, reason))
        subject = " ".join(subject.split())
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(recipients)
        if cc:
            msg["Cc"] = ", ".join(cc)
        if reply_to:
            msg["Reply-To"] = reply_to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = message_id_for(idempotency_key, self.sender_address.rpartition("@")[2])
        msg["X-Idempotency-Key"] = header_safe(idempotency_key)
        msg["X-Correlation-ID"] = correlation_id.get()
        if format == "text":
            msg.set_content(body)
        elif format == "html":
            msg.set_content(html_to_text(body))
            msg.add_alternative(body, subtype="html")
        elif format == "markdown":
            msg.set_content(body if body.endswith("\n") else body + "\n")
            msg.add_alternative(render_markdown(body), subtype="html")
        else:
            raise ValueError(f"format must be 'text', 'html' or 'markdown', got {format!r}")
        for item in attachments:
            maintype, _, subtype = item.mime_type.partition("/")
            filename = " ".join(item.filename.split())  # no line breaks in a header parameter
            msg.add_attachment(
                item.content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename
            )
        return msg

    # -- sending -------------------------------------------------------------------------------------

    def send(
        self,
        to: str | Sequence[str],
        subject: str,
        body: str,
        *,
        format: BodyFormat = "text",
        idempotency_key: str,
        cc: Sequence[str] = (),
        reply_to: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> SentEmail:
        """Send one email, retrying transient failures; raises :class:`EmailRejected`/`EmailUnavailable`."""
        msg = self.build_message(
            to,
            subject,
            body,
            format=format,
            idempotency_key=idempotency_key,
            cc=cc,
            reply_to=reply_to,
            attachments=attachments,
        )
        recipients = [addr for _, addr in getaddresses([msg["To"], *([msg["Cc"]] if cc else [])]) if addr]
        message_id = str(msg["Message-ID"])

        def deliver(attempt: int) -> SentEmail:
            failure: EmailRejected | EmailUnavailable
            try:
                refused = self._send_once(msg, recipients)
            except Exception as exc:
                transient, code, reason = self._classify(exc)
                text = self._describe(code, reason)
                failure = (
                    EmailUnavailable(text, status=code, reason=str(code) if code else reason)
                    if transient
                    else EmailRejected(text, status=code)
                )
            else:
                refused_out = {addr: (int(c), _decode(m)) for addr, (c, m) in refused.items()}
                if refused_out:
                    logger.warning("email %s: %d recipient(s) refused", message_id, len(refused_out))
                delivered = len(recipients) - len(refused_out)
                logger.info("email %s sent to %d recipient(s)", message_id, delivered)
                return SentEmail(message_id=message_id, attempts=attempt, refused=refused_out)
            # Raised outside the except block: the smtplib exception (which may quote the server's
            # reply to our AUTH) is not attached as __context__.
            raise failure

        def classify(error: Exception) -> Retry | None:
            return Retry(error.reason) if isinstance(error, EmailUnavailable) else None

        def gave_up(error: Exception, info: GaveUp) -> Exception | None:
            if not isinstance(error, EmailUnavailable):
                return None
            return EmailUnavailable(
                f"{error.message} ({info.note()})", status=error.status, reason=error.reason
            )

        return call_with_retry(
            deliver,
            classify,
            self.retry,
            what=f"email {message_id} via {self.host}:{self.port}",
            on_give_up=gave_up,
            log=logger,
        )

    def _connect(self) -> smtplib.SMTP:
        if self.use_tls:
            context = self.ssl_context or ssl.create_default_context()
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout,
                context=context,
                local_hostname=self.local_hostname,
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
            )
        try:
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError("server does not offer STARTTLS (starttls=True)")
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.username is not None:
                self._login(smtp, self.username)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _login(self, smtp: smtplib.SMTP, username: str) -> None:
        secret = self._password.get_secret_value() if self._password is not None else ""
        if secret.isascii() and username.isascii():
            smtp.login(username, secret)
            return
        # smtplib encodes AUTH data as ASCII, so "Passwört" fails with UnicodeEncodeError; AUTH PLAIN is
        # defined over UTF-8 (RFC 4616), so send it ourselves.
        if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
            raise smtplib.SMTPNotSupportedError("a non-ASCII username/password needs AUTH PLAIN")
        token = base64.b64encode(f"\0{username}\0{secret}".encode()).decode("ascii")
        code, reply = smtp.docmd("AUTH", "PLAIN " + token)
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def _send_once(self, msg: EmailMessage, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
        smtp = self._connect()
        try:
            return smtp.send_message(msg, from_addr=self.sender_address, to_addrs=recipients)
        finally:
            with suppress(Exception):  # the message is accepted; a failing QUIT must not resend it
                smtp.quit()
            smtp.close()

    @staticmethod
    def _classify(exc: Exception) -> tuple[bool, int | None, str]:
        """(transient?, SMTP code, reason) for an exception raised while sending."""
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [int(code) for code, _ in exc.recipients.values()]
            first = next(iter(exc.recipients.values()), (None, b""))
            reason = f"all recipients refused: {_decode(first[1])}"
            return (bool(codes) and all(400 <= c < 500 for c in codes)), (codes[0] if codes else None), reason
        if isinstance(exc, smtplib.SMTPResponseException):
            code = int(exc.smtp_code)
            return not (500 <= code < 600), code, _decode(exc.smtp_error)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return True, None, "server disconnected"
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return False, None, str(exc)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return False, None, f"TLS certificate verification failed: {exc.verify_message}"
        if isinstance(exc, OSError):
            return True, None, type(exc).__name__
        if isinstance(exc, smtplib.SMTPException):
            return False, None, type(exc).__name__
        raise exc

    def _describe(self, code: int | None, reason: str) -> str:
        secrets = [self._password.get_secret_value()] if self._password is not None else []
        text = f"SMTP {self.host}:{self.port}"
        if code is not None:
            text += f" -> {code}"
        return redact(f"{text}: {reason}", secrets)


def _decode(value: bytes | str) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


__all__ = [
    "Attachment",
    "BodyFormat",
    "EmailSender",
    "SentEmail",
    "header_safe",
    "html_to_text",
    "markdown_text",
    "message_id_for",
    "render_markdown",
]
