"""One fake clock for every test that involves time: it moves only when someone sleeps, so nothing waits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jtl_automator.resilience import RetryPolicy

#: A wall-clock instant for HTTP dates and signatures (2023-11-14 22:13:20 UTC).
WALL_CLOCK = 1_700_000_000.0


@dataclass
class FakeClock:
    """Monotonic time that only moves when someone sleeps (or a test advances it); records every sleep."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        """Let time pass without anyone sleeping (a quota window runs out, a token expires)."""
        self.now += seconds


def policy_on(clock: FakeClock, *, jitter: float = 1.0, **values: Any) -> RetryPolicy:
    """The real retry policy on fake time; jitter pinned (default: the ceiling) so delays are predictable."""
    return RetryPolicy(
        **values, sleep=clock.sleep, clock=clock, jitter=lambda: jitter, wall_clock=lambda: WALL_CLOCK
    )
