"""FFN OAuth2 (authorization-code grant) with single-use, rotating refresh tokens.

JTL: "Refresh_tokens are only valid for a single refresh and you will get a new refresh_token every
single time that you must persist." Spending one twice (two processes, or a crash between refresh
and save) locks the account out until a human re-authorises. Hence, for every refresh:

1. take the store's cross-process lock for this token row,
2. re-read the row inside the lock (another process may already have rotated it, and its access
   token may still be good: then use it, no refresh),
3. POST ``grant_type=refresh_token`` with HTTP Basic client auth,
4. write the new refresh token, access token and expiry to the row before the lock is released and
   before the new access token is handed to anyone.

JTL's server (League OAuth2) also revokes the access token issued with a refresh token when that
refresh token is spent. So a process's access token can die early because another process refreshed:
the API answers 401, :meth:`FfnTokenManager.invalidate` drops the token, and the one retry re-reads
the store, where the other process's new access token already is (or soon will be: the retry waits
for the lock, then re-reads), so it is used as it is, without spending another refresh token.

Tokens are stored as Fernet ciphertext under a key derived (HKDF-SHA256) from the client secret, so the
state database alone never reveals a usable token.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError
from jtl_automator.clients.http import HttpCore
from jtl_automator.clients.oauth import request_token
from jtl_automator.correlation import correlated_logger
from jtl_automator.resilience import RetryPolicy

logger = correlated_logger("jtl_automator.ffn.auth")

DEFAULT_TOKEN_NAME = "ffn"  # noqa: S105 - the name of the token row, not a secret
DEFAULT_SCOPES = ("ffn.merchant.read", "ffn.merchant.write")
_CIPHER_PREFIX = "fernet:"


class TokenRecordLike(Protocol):
    """One stored token row (``jtl_automator.store.TokenRecord`` has exactly these fields)."""

    refresh_token: str | None
    access_token: str | None
    access_expires_at: datetime | None


class TokenStore(Protocol):
    """Where rotated tokens live; implemented by ``jtl_automator.store.StateStore``.

    ``locked_token(name)`` holds a lock that excludes other threads *and processes* for the same name,
    yields the row (fields ``None`` when there is none yet) and saves it when the block exits normally.
    """

    def locked_token(self, name: str) -> AbstractContextManager[TokenRecordLike]:
        """Exclusive access to the row ``name`` across threads and processes; saved on normal exit."""
        ...

    def read_token(self, name: str) -> TokenRecordLike | None:
        """The row ``name`` without locking (``None`` if there is none)."""
        ...


class TokenProvider(Protocol):
    """What an API client needs from an OAuth implementation."""

    def access_token(self) -> str:
        """A bearer token that is valid now."""
        ...

    def invalidate(self, token: str) -> None:
        """The API rejected ``token``; do not hand it out again."""
        ...


@dataclass
class TokenRecord:
    """Plain token row for :class:`InMemoryTokenStore` (same shape as the state store's record)."""

    refresh_token: str | None = None
    access_token: str | None = None
    access_expires_at: datetime | None = None


class InMemoryTokenStore:
    """Thread-safe store for tests and one-off scripts; not shared between processes."""

    def __init__(self) -> None:
        self._rows: dict[str, TokenRecord] = {}
        self._lock = threading.RLock()
        self.saves = 0

    @contextmanager
    def locked_token(self, name: str) -> Iterator[TokenRecord]:
        """Yield a copy of the row under the store lock; write it back if the block succeeds."""
        with self._lock:
            current = self._rows.get(name) or TokenRecord()
            record = TokenRecord(current.refresh_token, current.access_token, current.access_expires_at)
            yield record
            self._rows[name] = record
            self.saves += 1

    def read_token(self, name: str) -> TokenRecord | None:
        """A copy of the row, or ``None``."""
        with self._lock:
            row = self._rows.get(name)
            return (
                None
                if row is None
                else TokenRecord(row.refresh_token, row.access_token, row.access_expires_at)
            )


class TokenCipher:
    """Fernet encryption of stored tokens, keyed by HKDF-SHA256 of the client secret."""

    def __init__(self, client_secret: SecretStr, client_id: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"jtl-automator/token-store/v1",
            info=f"ffn:{client_id}".encode(),
        ).derive(client_secret.get_secret_value().encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, value: str) -> str:
        """Ciphertext safe to store in the database."""
        return _CIPHER_PREFIX + self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str | None) -> str | None:
        """Plain token; :class:`AuthError` if it was encrypted under another secret."""
        if value is None:
            return None
        if not value.startswith(_CIPHER_PREFIX):
            raise AuthError(
                "stored FFN token is not encrypted by jtl-automator; run `jtl-automator auth ffn`"
            )
        try:
            return self._fernet.decrypt(value[len(_CIPHER_PREFIX) :].encode()).decode()
        except InvalidToken:
            raise AuthError(
                "stored FFN token cannot be decrypted (was the client secret changed?); "
                "run `jtl-automator auth ffn` again"
            ) from None

    def __repr__(self) -> str:
        return "TokenCipher(<hidden>)"


def authorization_url(
    authorize_url: str,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
) -> str:
    """Where the merchant logs in once to grant access (step 1 of the authorization-code grant)."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
        }
    )
    return f"{authorize_url}{'&' if '?' in authorize_url else '?'}{query}"


@dataclass(frozen=True)
class TokenGrant:
    """What a successful exchange tells the caller, without the tokens themselves."""

    access_expires_at: datetime
    scope: str | None = None


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes; we always write UTC


class FfnTokenManager:
    """Check-and-refresh token provider for :class:`~jtl_automator.clients.ffn.client.FfnClient`.

    Threads of one process share a cached access token; processes coordinate through ``store``.
    """

    def __init__(
        self,
        http_for_token: httpx.Client,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        store: TokenStore,
        initial_refresh_token: SecretStr | None = None,
        *,
        name: str = DEFAULT_TOKEN_NAME,
        refresh_margin: timedelta = timedelta(seconds=120),
        retry: RetryPolicy | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._core = HttpCore(http_for_token, token_url, retry=retry)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._store = store
        self._initial_refresh_token = initial_refresh_token
        self.name = name
        self._margin = refresh_margin
        self._now = now
        self._cipher = TokenCipher(client_secret, client_id)
        self._lock = threading.Lock()
        self._cached: tuple[str, datetime] | None = None
        self._rejected: set[str] = set()
        self.refresh_count = 0

    def __repr__(self) -> str:
        return (
            f"FfnTokenManager(token_url={self.token_url!r}, client_id={self.client_id!r}, name={self.name!r})"
        )

    def _usable(self, token: str | None, expires_at: datetime | None) -> bool:
        expires_at = _utc(expires_at)
        return (
            token is not None
            and token not in self._rejected
            and expires_at is not None
            and expires_at - self._margin > self._now()
        )

    def access_token(self) -> str:
        """A bearer token valid for at least the refresh margin; refreshes (once, under lock) if needed."""
        cached = self._cached
        if cached is not None and self._usable(*cached):
            return cached[0]
        with self._lock:
            cached = self._cached
            if cached is not None and self._usable(*cached):
                return cached[0]
            row = self._store.read_token(self.name)
            if row is not None and row.access_token is not None:
                token = self._cipher.decrypt(row.access_token)
                if self._usable(token, row.access_expires_at):
                    assert token is not None and row.access_expires_at is not None
                    self._cached = (token, _utc(row.access_expires_at) or row.access_expires_at)
                    return token
            return self._refresh_locked()

    def invalidate(self, token: str) -> None:
        """The API rejected ``token`` (401): never hand it out again.

        The next :meth:`access_token` re-reads the store: a token another process stored meanwhile is
        used as it is; only if the store still holds ``token`` is a refresh spent.
        """
        with self._lock:
            self._rejected.add(token)
            if len(self._rejected) > 16:
                self._rejected.pop()
            if self._cached is not None and self._cached[0] == token:
                self._cached = None

    def _refresh_locked(self) -> str:
        with self._store.locked_token(self.name) as record:
            # Another process may have rotated the row while we waited for the lock.
            stored_access = self._cipher.decrypt(record.access_token)
            if self._usable(stored_access, record.access_expires_at):
                assert stored_access is not None and record.access_expires_at is not None
                self._cached = (stored_access, _utc(record.access_expires_at) or record.access_expires_at)
                return stored_access
            refresh_token = self._cipher.decrypt(record.refresh_token)
            if refresh_token is None:
                if self._initial_refresh_token is None:
                    raise AuthError(
                        f"no FFN refresh token stored under {self.name!r}; run `jtl-automator auth ffn` "
                        "or set JTL_FFN_REFRESH_TOKEN once"
                    )
                logger.info("seeding FFN token row %r from the configured initial refresh token", self.name)
                refresh_token = self._initial_refresh_token.get_secret_value()
            payload = self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
            access, expires_at = self._save(record, payload)
        self.refresh_count += 1
        self._cached = (access, expires_at)
        logger.info("refreshed FFN access token %r; valid until %s", self.name, expires_at.isoformat())
        return access

    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        try:
            return request_token(self._core, self.client_id, self._client_secret, form)
        except AuthError as exc:
            if form.get("grant_type") == "refresh_token" and exc.code == "invalid_grant":
                # Spent (by a process that ignored the lock), revoked or expired (JTL's server lets a
                # refresh token live a limited time): only a new authorisation helps.
                exc.message = (
                    f"{exc.message}. The stored FFN refresh token {self.name!r} is expired, revoked or "
                    "already spent; run `jtl-automator auth ffn` to authorise again"
                )
                exc.args = (exc.message,)
            raise

    def _save(self, record: TokenRecordLike, payload: dict[str, Any]) -> tuple[str, datetime]:
        access = str(payload["access_token"])
        expires_in = payload.get("expires_in")
        expires_at = self._now() + timedelta(seconds=float(1800 if expires_in is None else expires_in))
        new_refresh = payload.get("refresh_token")
        if new_refresh:
            record.refresh_token = self._cipher.encrypt(str(new_refresh))
        record.access_token = self._cipher.encrypt(access)
        record.access_expires_at = expires_at
        return access, expires_at

    def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant:
        """Step 2 of the authorization-code grant: trade the one-time code and store the token pair."""
        with self._lock, self._store.locked_token(self.name) as record:
            payload = self._token_request(
                {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
            )
            if not payload.get("refresh_token"):
                raise AuthError("the FFN token endpoint returned no refresh_token for the authorization code")
            access, expires_at = self._save(record, payload)
            self._rejected.clear()
            self._cached = (access, expires_at)
        return TokenGrant(access_expires_at=expires_at, scope=payload.get("scope"))
