"""The write pool: ``workers`` at a time, results in queue order, the first failure stops what is queued."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from jtl_automator.correlation import correlation_id
from jtl_automator.services.write_pool import WritePool

WAIT = 5.0  # seconds a test waits for another thread before giving up


class First(Exception):
    pass


class Second(Exception):
    pass


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


class Recorder:
    """A write that records which items were sent and finished, and how many ran at once."""

    def __init__(self) -> None:
        self.called: list[int] = []
        self.finished: list[int] = []
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def start(self, item: int) -> None:
        with self.lock:
            self.called.append(item)
            self.running += 1
            self.most = max(self.most, self.running)

    def end(self, item: int) -> None:
        with self.lock:
            self.finished.append(item)
            self.running -= 1


def test_without_failures_every_result_comes_back_in_queue_order() -> None:
    seen = Recorder()

    def write(item: int) -> str:
        seen.start(item)
        time.sleep(0.001 * (item % 3))  # later items often finish first
        seen.end(item)
        return f"done {item}"

    with WritePool(write, 3, "test") as pool:
        pool.submit_all(range(10))
        pool.submit(10)
        assert pool.results() == [f"done {i}" for i in range(11)]
    assert sorted(seen.called) == list(range(11)) and not pool.failed


def test_no_more_than_workers_writes_run_at_once() -> None:
    seen = Recorder()

    def write(item: int) -> int:
        seen.start(item)
        time.sleep(0.005)
        seen.end(item)
        return item

    with WritePool(write, 2, "test") as pool:
        pool.submit_all(range(12))
        assert pool.results() == list(range(12))
    assert seen.most == 2  # two at once, never more


def test_after_a_failure_nothing_queued_is_sent_and_the_write_in_flight_finishes() -> None:
    seen = Recorder()
    pool: WritePool[int, int]

    def write(item: int) -> int:
        seen.start(item)
        if item == 0:  # in flight when item 1 fails: it finishes
            _until(lambda: pool.failed)
        elif item == 1:
            raise First("item 1")
        seen.end(item)
        return item

    with WritePool(write, 2, "test") as pool:
        pool.submit_all(range(10))
        with pytest.raises(First):
            pool.results()
        with pytest.raises(First):  # nothing more is queued
            pool.submit(10)
    assert sorted(seen.called) == [0, 1]  # items 2..10 were never sent
    assert seen.finished == [0]


def test_the_first_failure_in_time_is_raised_not_the_first_in_the_queue(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool: WritePool[int, int]

    def write(item: int) -> int:
        if item == 0:  # first in the queue, fails second
            _until(lambda: pool.failed)
            raise Second("item 0")
        raise First("item 1")

    with caplog.at_level(logging.WARNING, "jtl_automator.write_pool"), WritePool(write, 2, "test") as pool:
        pool.submit_all([0, 1])
        with pytest.raises(First):
            pool.results()
        with pytest.raises(First):
            pool.raise_failure()
    assert "Second('item 0')" in caplog.text  # the later failure is logged, not lost


def test_leaving_the_pool_by_an_error_cancels_the_queue_and_waits_for_the_writes_in_flight() -> None:
    seen = Recorder()
    started = threading.Event()

    def write(item: int) -> int:
        seen.start(item)
        started.set()
        time.sleep(0.02)
        seen.end(item)
        return item

    with pytest.raises(RuntimeError), WritePool(write, 1, "test") as pool:
        pool.submit_all(range(5))
        started.wait(WAIT)
        raise RuntimeError("a read failed")
    assert seen.called == [0] and seen.finished == [0]


def test_each_write_runs_in_the_context_it_was_queued_in() -> None:
    def write(item: int) -> str:
        return correlation_id.get()

    def queue(pool: WritePool[int, str], run: str) -> None:
        correlation_id.set(run)
        pool.submit_all(range(3))

    with WritePool(write, 2, "test") as pool:
        worker = threading.Thread(target=queue, args=(pool, "run-b"))
        token = correlation_id.set("run-a")
        try:
            pool.submit_all(range(3))
        finally:
            correlation_id.reset(token)
        worker.start()
        worker.join(WAIT)
        assert pool.results() == ["run-a"] * 3 + ["run-b"] * 3
