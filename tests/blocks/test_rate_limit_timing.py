"""When a batch of shared rate-limit slots is asked for: just past a whole slot's decay on the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse

from blocks.rate_limits import ALIGN_SLOT_FRACTION, decay_wait

WRITTEN = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def limit(
    active: int, *, updated: datetime | None = WRITTEN, size: int = 20, rate: float = 20.0
) -> GlobalConcurrencyLimitResponse:
    return GlobalConcurrencyLimitResponse(
        name="jtl-ffn-api", limit=size, active_slots=active, slot_decay_per_second=rate, updated=updated
    )


def at(seconds_after_write: float) -> float:
    return (WRITTEN + timedelta(seconds=seconds_after_write)).timestamp()


def test_the_wait_ends_just_past_the_slot_that_makes_room() -> None:
    # written with 20 active 0.12 s ago: 2 slots decayed (18 active), room for 10 once 8 more decay,
    # i.e. when 10 slots have decayed since the write, at 0.5 s (+ the margin)
    wait = decay_wait(limit(18), 10, at(0.12))
    assert abs(wait - (0.5 + ALIGN_SLOT_FRACTION / 20 - 0.12)) < 1e-6
    assert wait > (10 - 2) / 20 - 0.12 + 0.4 / 20 - 1e-9  # never before that slot has decayed


def test_with_room_already_it_still_waits_for_the_next_whole_slot() -> None:
    # 5 active, room for 10 now; 0.27 s after the write 5.4 slots decayed: the 6th falls at 0.3 s
    wait = decay_wait(limit(5), 10, at(0.27))
    assert abs(wait - (0.3 + ALIGN_SLOT_FRACTION / 20 - 0.27)) < 1e-6
    assert wait <= 1.5 / 20


def test_an_empty_bucket_is_asked_at_once() -> None:
    assert decay_wait(limit(0), 10, at(5.0)) == 0.0


def test_without_a_trusted_write_time_the_plain_wait_is_used() -> None:
    plain = (10 - (20 - 18)) / 20
    assert decay_wait(limit(18, updated=None), 10, at(0.1)) == plain
    assert decay_wait(limit(18), 10, at(-3.0)) == plain  # the server's clock is ahead of ours
    assert decay_wait(limit(18), 10, at(3600.0)) == plain  # far behind: the aligned wait is nonsense


def test_a_slow_limit_aligns_the_same_way() -> None:
    # Sheets-like: 2 slots a second, a bucket of 20; 15 active 1.2 s after the write (2 decayed)
    wait = decay_wait(limit(15, rate=2.0), 10, at(1.2))
    # room for 10 needs 17 - 10 ... stored 17: 17 + 10 - 20 = 7 slots decayed, at 3.5 s
    assert abs(wait - (3.5 + ALIGN_SLOT_FRACTION / 2 - 1.2)) < 1e-6
