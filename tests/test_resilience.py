"""The one retry policy (call_with_retry, RetryPolicy, server delays) with fake time: nothing waits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
import requests.structures

from jtl_automator.clients.errors import (
    AuthError,
    ForbiddenError,
    NotFound,
    RateLimited,
    RetryableError,
    TransientError,
    ValidationFailed,
)
from jtl_automator.notify.errors import (
    EmailRejected,
    EmailUnavailable,
    TransientNotifyError,
    WebhookRejected,
    WebhookUnavailable,
)
from jtl_automator.resilience import (
    GaveUp,
    RateLimiter,
    RequestStats,
    Retry,
    RetryPolicy,
    TransientFailure,
    call_with_retry,
    server_delay,
)
from jtl_automator.settings import RETRY_SYSTEMS, Settings, get_settings
from jtl_automator.sheets import (
    HeaderNotFound,
    SheetApiError,
    SheetAuthError,
    SheetPermissionDenied,
    SheetRateLimited,
    SheetUnavailable,
    SpreadsheetNotFound,
    WorksheetNotFound,
)
from tests.support.clock import WALL_CLOCK, FakeClock, policy_on

NOW = WALL_CLOCK


class Boom(Exception):
    pass


class Failing:
    """An attempt that raises the scripted errors in turn, then returns "ok"; records attempt numbers."""

    def __init__(self, *errors: Exception, forever: Exception | None = None) -> None:
        self.errors = list(errors)
        self.forever = forever
        self.calls: list[int] = []

    def __call__(self, attempt: int) -> str:
        self.calls.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        if self.forever is not None:
            raise self.forever
        return "ok"


def always(exc: Exception) -> Retry | None:
    return Retry(type(exc).__name__)


def test_success_after_retries_counts_attempts_from_one(clock: FakeClock) -> None:
    attempt = Failing(Boom(), Boom())
    stats = RequestStats()
    result = call_with_retry(attempt, always, policy_on(clock), what="thing", stats=stats)
    assert result == "ok"
    assert attempt.calls == [1, 2, 3]
    assert clock.sleeps == [0.5, 1.0]  # initial 0.5, doubling, jitter pinned to the ceiling
    assert stats.retries == 2


def test_classifier_says_stop_raises_at_once(clock: FakeClock) -> None:
    error = Boom("permanent")
    attempt = Failing(error)
    with pytest.raises(Boom) as caught:
        call_with_retry(attempt, lambda exc: None, policy_on(clock), what="thing")
    assert caught.value is error
    assert attempt.calls == [1] and clock.sleeps == []


def test_attempt_limit_raises_the_last_error(clock: FakeClock) -> None:
    last = Boom("last")
    attempt = Failing(Boom("1"), Boom("2"), last)
    with pytest.raises(Boom) as caught:
        call_with_retry(attempt, always, policy_on(clock, max_attempts=3), what="thing")
    assert caught.value is last
    assert attempt.calls == [1, 2, 3] and len(clock.sleeps) == 2


def test_time_budget_is_never_overslept(clock: FakeClock) -> None:
    attempt = Failing(forever=Boom())
    policy = policy_on(clock, max_attempts=100, budget_seconds=10, max_delay=4)
    with pytest.raises(Boom):
        call_with_retry(attempt, always, policy, what="thing")
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]  # the next 4 s would end at 11.5 s > 10 s
    assert clock.now - 1000.0 <= 10


def test_time_spent_in_attempts_counts_against_the_budget(clock: FakeClock) -> None:
    def slow(attempt: int) -> str:
        clock.now += 30  # a request that takes until its timeout
        raise Boom()

    with pytest.raises(Boom):
        call_with_retry(slow, always, policy_on(clock, budget_seconds=100), what="thing")
    assert len(clock.sleeps) == 3  # 30 + 0.5 + 30 + 1 + 30 + 2 + 30 = 123.5: no 4th wait


def test_jitter_is_full_jitter_below_the_capped_ceiling(clock: FakeClock) -> None:
    policy = policy_on(clock, jitter=0.25, initial_delay=1, max_delay=4)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.0, 1.0]


def test_server_delay_is_honoured(clock: FakeClock) -> None:
    attempt = Failing(Boom())
    call_with_retry(attempt, lambda exc: Retry("429", delay=7.0), policy_on(clock), what="thing")
    assert clock.sleeps == [7.0]


def test_server_delay_is_capped(clock: FakeClock) -> None:
    attempt = Failing(Boom())
    policy = policy_on(clock, max_retry_after=60)
    call_with_retry(attempt, lambda exc: Retry("429", delay=3600.0), policy, what="thing")
    assert clock.sleeps == [60.0]


def test_server_delay_past_the_budget_gives_up_without_sleeping(clock: FakeClock) -> None:
    attempt = Failing(forever=Boom())
    policy = policy_on(clock, budget_seconds=30, max_retry_after=60)
    with pytest.raises(Boom):
        call_with_retry(attempt, lambda exc: Retry("429", delay=45.0), policy, what="thing")
    assert clock.sleeps == []


def test_throttled_without_server_delay_backs_off_at_least_the_initial_delay(clock: FakeClock) -> None:
    policy = policy_on(clock, jitter=0.0)  # backoff alone would retry at once
    attempt = Failing(Boom(), Boom())
    call_with_retry(attempt, lambda exc: Retry.throttled(None, policy), policy, what="thing")
    assert clock.sleeps == [0.5, 0.5]


def test_limiter_is_acquired_per_attempt_and_paused_on_a_throttled_retry(clock: FakeClock) -> None:
    limiter = RateLimiter(100, burst=1, clock=clock, sleep=clock.sleep)
    acquired: list[float] = []
    paused: list[float] = []
    original_acquire, original_pause = limiter.acquire, limiter.pause

    def acquire() -> float:
        acquired.append(clock.now)
        return original_acquire()

    def pause(seconds: float) -> None:
        paused.append(seconds)
        original_pause(seconds)

    limiter.acquire = acquire  # type: ignore[method-assign]
    limiter.pause = pause  # type: ignore[method-assign]
    policy = policy_on(clock)
    decisions = iter([Retry.throttled(5.0, policy), Retry("503")])
    attempt = Failing(Boom(), Boom())
    call_with_retry(attempt, lambda exc: next(decisions), policy, what="thing", limiter=limiter)
    assert len(acquired) == 3
    assert paused == [5.0]  # the 503 does not hold back the siblings
    assert clock.sleeps == [5.0, 1.0]  # the limiter pause and the retry wait overlap: 5 s, not 10 s


def test_on_give_up_shapes_the_error_without_chaining_the_original(clock: FakeClock) -> None:
    seen: list[GaveUp] = []

    def replace(error: Exception, gave_up: GaveUp) -> Exception:
        seen.append(gave_up)
        return RuntimeError(f"thing failed ({gave_up.note()})")

    attempt = Failing(forever=Boom("secret-bearing library message"))
    with pytest.raises(RuntimeError) as caught:
        call_with_retry(attempt, always, policy_on(clock, max_attempts=2), what="thing", on_give_up=replace)
    assert str(caught.value) == "thing failed (gave up after 2 attempt(s) in 0.5s)"
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    [gave_up] = seen
    assert (gave_up.attempts, gave_up.reason, gave_up.delay) == (2, "Boom", 1.0)


def test_on_give_up_may_amend_and_keep_the_error(clock: FakeClock) -> None:
    error = Boom("x")

    def amend(exc: Exception, gave_up: GaveUp) -> None:
        exc.args = (f"{exc} ({gave_up.note()})",)

    with pytest.raises(Boom, match=r"x \(gave up after 1 attempt\(s\)") as caught:
        call_with_retry(
            Failing(forever=error), always, policy_on(clock, max_attempts=1), what="t", on_give_up=amend
        )
    assert caught.value is error


def test_interrupts_are_not_retried(clock: FakeClock) -> None:
    attempt = Failing(KeyboardInterrupt())  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        call_with_retry(attempt, always, policy_on(clock), what="thing")
    assert attempt.calls == [1]


def test_each_retry_is_logged_once_with_structured_fields(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("tests.resilience")
    with caplog.at_level(logging.WARNING, logger="tests.resilience"):
        call_with_retry(
            Failing(Boom(), Boom()),
            always,
            policy_on(clock),
            what="GET /things",
            log=log,
            log_extra={"path": "/things"},
        )
    records = [r for r in caplog.records if r.name == "tests.resilience"]
    assert [r.getMessage() for r in records] == [
        "retrying GET /things: attempt=1 delay=0.500s reason=Boom",
        "retrying GET /things: attempt=2 delay=1.000s reason=Boom",
    ]
    assert [(r.attempt, r.delay, r.reason, r.path) for r in records] == [  # type: ignore[attr-defined]
        (1, 0.5, "Boom", "/things"),
        (2, 1.0, "Boom", "/things"),
    ]


def test_giving_up_is_logged(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tests.resilience"), pytest.raises(Boom):
        call_with_retry(
            Failing(forever=Boom()),
            always,
            policy_on(clock, max_attempts=1),
            what="GET /x",
            log=logging.getLogger("tests.resilience"),
        )
    assert "giving up GET /x after 1 attempt(s) in 0.0s: reason=Boom" in caplog.text


# -- server-requested delays --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers_type", [httpx.Headers, requests.structures.CaseInsensitiveDict], ids=["httpx", "requests"]
)
def test_server_delay_reads_both_header_mappings(headers_type: type) -> None:
    when = format_datetime(datetime.fromtimestamp(NOW + 12, UTC), usegmt=True)
    now = lambda: NOW  # noqa: E731
    assert server_delay(headers_type({"retry-after": "7"}), now=now) == 7.0
    assert server_delay(headers_type({"Retry-After": when}), now=now) == pytest.approx(12.0)
    exhausted = {"X-RateLimit-Remaining": "0", "X-RateLimit-Interval-Length-Seconds": "9"}
    assert server_delay(headers_type(exhausted), now=now) == 9.0
    left = {"X-RateLimit-Remaining": "3", "X-RateLimit-Interval-Length-Seconds": "9"}
    assert server_delay(headers_type(left), now=now) is None
    assert server_delay(headers_type({"Retry-After": "soon"}), now=now) is None
    assert server_delay(headers_type({}), now=now) is None


# -- per-system values ---------------------------------------------------------------------------------


def test_default_values_per_system_are_the_former_hard_coded_ones() -> None:
    def values(policy: RetryPolicy) -> tuple[float, ...]:
        return (
            policy.max_attempts,
            policy.budget_seconds,
            policy.initial_delay,
            policy.max_delay,
            policy.max_retry_after,
        )

    assert values(RetryPolicy.defaults("http")) == values(RetryPolicy())
    assert values(RetryPolicy.defaults("webhook")) == values(RetryPolicy())
    assert values(RetryPolicy.defaults("sheets")) == (8, 300.0, 1.0, 64.0, 120.0)
    assert values(RetryPolicy.defaults("smtp"))[:4] == (5, 300.0, 2.0, 60.0)
    timeouts = {
        system: Settings.from_values().retry_values(system).timeout_seconds for system in RETRY_SYSTEMS
    }
    assert timeouts == {"http": 30.0, "sheets": 60.0, "smtp": 30.0, "webhook": 30.0}


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_from_settings_reads_each_systems_environment(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("JTL_RETRY_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("JTL_SHEETS_RETRY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("JTL_SHEETS_RETRY_AFTER_CAP_SECONDS", "30")
    monkeypatch.setenv("JTL_SMTP_RETRY_BUDGET_SECONDS", "45")
    monkeypatch.setenv("JTL_WEBHOOK_RETRY_INITIAL_DELAY_SECONDS", "0.25")
    settings = get_settings()
    assert RetryPolicy.from_settings(settings, "http").max_attempts == 2
    sheets = RetryPolicy.from_settings(settings, "sheets")
    assert (sheets.max_attempts, sheets.max_retry_after) == (3, 30.0)
    assert RetryPolicy.from_settings(settings, "smtp").budget_seconds == 45.0
    assert RetryPolicy.from_settings(settings, "webhook").initial_delay == 0.25
    assert RetryPolicy.defaults("sheets").max_attempts == 8  # defaults ignore the environment
    assert Settings.from_values().retry_max_attempts == 6


# -- one marker for "a later attempt may succeed" -------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("GET /x -> 429"),
        TransientError("GET /x -> 503"),
        SheetRateLimited("read -> 429", status=429),
        SheetUnavailable("read -> 503", status=503),
        EmailUnavailable("SMTP h:25 -> 421", status=421),
        WebhookUnavailable("POST https://h/x -> 503", status=503),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_errors_of_every_system_share_the_marker(error: Exception) -> None:
    assert isinstance(error, TransientFailure)
    assert isinstance(error, RetryableError | SheetApiError | TransientNotifyError)


@pytest.mark.parametrize(
    "error",
    [
        AuthError("401"),
        ForbiddenError("403"),
        NotFound("404"),
        ValidationFailed("400"),
        SheetAuthError("token"),
        SheetPermissionDenied("403", status=403),
        SpreadsheetNotFound("404", status=404),
        SheetApiError("400", status=400),
        WorksheetNotFound("Tab", ["Other"]),
        HeaderNotFound(["SKU"], "Tab"),
        EmailRejected("550", status=550),
        WebhookRejected("400", status=400),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_errors_are_not_transient(error: Exception) -> None:
    assert not isinstance(error, TransientFailure)
