"""The transport layer both JTL clients share: auth, correlation id, request stats, typed errors.

*Whether and when* a request is repeated is :mod:`jtl_automator.resilience` (the one retry policy);
this module only says what is worth repeating for the JTL APIs: 429 always (the server did not act on
the request), 5xx/408/timeouts/dropped connections only for idempotent methods (or when the caller
vouches for the request with ``retry_transient=True``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

import httpx

from jtl_automator.clients.errors import (
    JtlApiError,
    RateLimited,
    TransientError,
    describe,
    error_from_response,
    failure_reason,
)
from jtl_automator.clients.hedged import AnswerNotWanted, answer_wanted
from jtl_automator.clients.json_body import decode_json
from jtl_automator.correlation import CORRELATION_HEADER, correlated_logger, correlation_id
from jtl_automator.resilience import (
    GaveUp,
    InFlightLimit,
    RateLimiter,
    RequestStats,
    Retry,
    RetryPolicy,
    call_with_retry,
    server_delay,
)

logger = correlated_logger("jtl_automator.http")

#: Methods whose repetition cannot create a second effect (RFC 9110 §9.2.2); PATCH and POST are not.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Fresh credentials one call may meet refused, each once (a rotation elsewhere revoked it before the retry
# landed); more is a refusal, not a rotation. Eight reads on the wire while tokens are revoked every few
# requests can see a call's fresh token revoked three times in a row, so three was too few.
_MAX_CREDENTIAL_REFRESHES = 6


class AuthStrategy(Protocol):
    """How a client authenticates: headers per request, and whether a 401 is worth one more try."""

    def headers(self) -> dict[str, str]:
        """Headers to send with the next request."""
        ...

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """After a 401: prepare fresh credentials and return True to retry once."""
        ...


class NoAuth:
    """For endpoints that need no credentials (e.g. Wawi app registration)."""

    def headers(self) -> dict[str, str]:
        """No headers."""
        return {}

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """Never retry a 401."""
        return False


class ErrorMapper(Protocol):
    """Builds the typed error of an error response (default: :func:`error_from_response`)."""

    def __call__(
        self, method: str, path: str, response: httpx.Response, *, retry_after: float | None = None
    ) -> JtlApiError:
        """The error to raise (or retry, if it is a :class:`RetryableError`) for ``response``."""
        ...


def _display_path(url: httpx.URL) -> str:
    return url.path


class HttpCore:
    """Sends one logical request through limiter, auth and retry policy; the clients' only way out.

    ``base_url`` is joined here rather than on the injected ``httpx.Client`` so one client (with its
    connection pool) can serve several APIs. Absolute URLs from the API (next links) are re-rooted on
    ``base_url``'s origin, so a credential is never sent to a host we were not configured for.
    """

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        auth: AuthStrategy | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        stats: RequestStats | None = None,
        errors: ErrorMapper | None = None,
        in_flight: InFlightLimit | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        split = urlsplit(self.base_url)
        self._origin = f"{split.scheme}://{split.netloc}"
        self._base_path = split.path.rstrip("/")
        self.auth: AuthStrategy = auth or NoAuth()
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.default_headers = dict(default_headers or {})
        self.stats = stats or RequestStats()
        #: Maps an error response to a typed error (the Shop reads its 403/404/501 bodies its own way).
        self.errors: ErrorMapper = errors or error_from_response
        #: Shared by every thread using this core (and the cores of the same API): requests on the wire.
        self.in_flight = in_flight

    def url(self, path_or_url: str) -> str:
        """Absolute URL for an API path or a link the API returned."""
        if not path_or_url:
            return self.base_url
        if path_or_url.startswith(("http://", "https://")):
            split = urlsplit(path_or_url)
            return self._origin + split.path + (f"?{split.query}" if split.query else "")
        if self._base_path and path_or_url.startswith(self._base_path + "/"):
            return self._origin + path_or_url  # a server-relative link that already carries our prefix
        return self.base_url + "/" + path_or_url.lstrip("/")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_transient: bool | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send and return a 2xx/3xx response, or raise a typed :class:`JtlApiError`.

        ``retry_transient`` overrides the idempotency rule (a caller with its own guard may pass True);
        ``timeout`` overrides the injected client's for calls whose lost answer costs more than a wait.
        """
        method = method.upper()
        url = self.url(path)
        display = _display_path(httpx.URL(url))
        may_retry_transient = method in IDEMPOTENT_METHODS if retry_transient is None else retry_transient
        policy = self.retry
        # Credentials that met a 401 in this call. Each may be refreshed once: with parallel reads a
        # token fetched after one 401 can itself be revoked before its request lands (a rotation by
        # another process), which is a new credential's failure, not this one's refused again.
        refused: set[int] = set()
        # Only what this request's own sends met is retried here: a failed token refresh inside
        # auth.headers() was already retried under its own request and is raised as it is.
        on_wire = False
        # Credentials first (a token refresh, if due, happens here): a rate slot taken while another
        # thread refreshes would be spent in a bunch with the others once the token arrives, and a
        # server's fixed window would see more than the limiter let go in it.
        self.auth.headers()

        def send() -> tuple[httpx.Response, dict[str, str]]:
            nonlocal on_wire
            on_wire = False
            sent = {**self.default_headers, **self.auth.headers(), **(headers or {})}
            sent[CORRELATION_HEADER] = correlation_id.get()
            on_wire = True
            try:
                response = self.http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=sent,
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
                )
            except httpx.TransportError as exc:
                self.stats.record_transport_error()
                raise TransientError(
                    describe(method, display, None, type(exc).__name__, ()), method=method, path=display
                ) from exc
            self.stats.record_response(response.status_code)
            return response, sent

        def attempt(number: int) -> httpx.Response:
            response, sent = send()
            while response.status_code == 401 and len(refused) < _MAX_CREDENTIAL_REFRESHES:
                credential = hash(tuple(sorted(sent.items())))
                if credential in refused or not self.auth.on_unauthorized(sent):
                    break
                refused.add(credential)  # a credential refresh is not a retry of the request
                logger.info("%s %s -> 401, retrying with fresh credentials", method, display)
                if self.limiter is not None:
                    self.limiter.acquire()
                response, sent = send()
            if response.status_code < 400:
                return response
            requested = (
                server_delay(response.headers, now=policy.wall_clock) if response.status_code == 429 else None
            )
            raise self.errors(method, display, response, retry_after=requested)

        def classify(error: Exception) -> Retry | None:
            if not on_wire:
                return None
            if isinstance(error, RateLimited):
                return Retry.throttled(error.retry_after, policy)
            if isinstance(error, TransientError) and may_retry_transient:
                return Retry(failure_reason(error))
            return None

        return call_with_retry(
            attempt,
            classify,
            policy,
            what=f"{method} {display}",
            limiter=self.limiter,
            stats=self.stats,
            on_give_up=_note_give_up,
            log=logger,
            log_extra={"method": method, "path": display},
            in_flight=self.in_flight,
        )

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode the JSON body (``None`` for 204/empty).

        Raises :class:`AnswerNotWanted` instead of decoding an answer a hedged read no longer wants.
        """
        response = self.request("GET", path, params=params)
        if not answer_wanted():
            raise AnswerNotWanted(f"GET {_display_path(response.request.url)}: answered by another ask")
        return _json_or_none(response)


def _note_give_up(error: Exception, gave_up: GaveUp) -> None:
    """Amend the last error: how long we tried, and (429) how long the caller should wait now."""
    if isinstance(error, JtlApiError):
        error.message = f"{error.message} ({gave_up.note()})"
        error.args = (error.message,)
        if isinstance(error, RateLimited):
            error.retry_after = gave_up.delay


def _json_or_none(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    return decode_json(response)


json_or_none = _json_or_none


class ApiClient:
    """What both JTL clients share around their :class:`HttpCore`: counters and closing the pool."""

    core: HttpCore

    @property
    def stats(self) -> RequestStats:
        """Request counters (per status, retries) of this client."""
        return self.core.stats

    def close(self) -> None:
        """Close the connection pool of the ``httpx.Client`` this client sends with (one per flow run)."""
        self.core.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
