"""Idempotent reads on a few workers, each asked for a second time when it is overdue and a worker idles.

An on-premise Wawi's answers have a long tail (seconds, and stalls of ten), and its workers are few. When
a run's last reads are on the wire, one slow answer holds the run while the other workers idle. So a read
still unanswered ``HEDGE_AFTER_MEDIANS`` times the median answer so far (and at least ``HEDGE_MIN_SECONDS``)
is asked for again once fewer reads run than there are workers, and the first good answer of the two is
used ("hedged requests", Dean and Barroso, The Tail at Scale). Never more reads on the wire than workers:
a second ask only takes an idle worker's place; each read is asked for at most twice; the slower ask is
left to finish on its own (its answer is dropped). Only for reads: asking twice must change nothing.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

from jtl_automator.correlation import correlated_logger

logger = correlated_logger("jtl_automator.hedged")
K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

#: A read still unanswered this many times the median answer so far is overdue.
HEDGE_AFTER_MEDIANS = 1.5
#: ... and never before this many seconds.
HEDGE_MIN_SECONDS = 0.25
#: How often a caller waiting for answers looks for overdue reads.
HEDGE_POLL_SECONDS = 0.05
#: The median is of this many latest answers (a server that slows down moves it).
DURATIONS_KEPT = 256


class HedgedReads(Generic[K, T]):
    """``read(key)`` for each key submitted, ``workers`` at once; see the module for the second asks.

    :meth:`submit` returns a future of the key's first good answer (an error only when every ask failed).
    A caller waits with :meth:`result` (one key's answer) or :meth:`next_answered` (the keys as they are
    answered), which make the second asks while they wait: only the reads on a worker are looked at, so
    waiting costs the same for ten keys or a hundred thousand. :meth:`close` cancels the reads not
    started and waits for those under way, but the slower asks of answered keys.
    """

    def __init__(self, read: Callable[[K], T], workers: int, name: str) -> None:
        self._read = read
        self._workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._asks: dict[K, list[Future[T]]] = {}
        self._answers: dict[K, Future[T]] = {}
        self._running: dict[Future[T], tuple[K, float]] = {}  # asks on a worker: key, start (monotonic)
        self._durations: deque[float] = deque(maxlen=DURATIONS_KEPT)  # the latest answers' times
        self._answered: queue.SimpleQueue[K] = queue.SimpleQueue()
        self._left: list[Future[T]] = []  # slower asks of keys forgotten
        self.hedged = 0

    def submit(self, key: K) -> Future[T]:
        """Start reading ``key`` (queued behind the reads submitted before it)."""
        answer: Future[T] = Future()
        with self._lock:
            self._answers[key] = answer
            self._asks[key] = []
        self._ask(key)
        return answer

    def _ask(self, key: K) -> None:
        ask: Future[T] = Future()
        with self._lock:
            self._asks[key].append(ask)

        def timed() -> None:
            if not ask.set_running_or_notify_cancel():
                return
            started = time.monotonic()
            self._running[ask] = (key, started)
            try:
                ask.set_result(self._read(key))
            except BaseException as error:
                ask.set_exception(error)
            finally:
                self._running.pop(ask, None)
                self._durations.append(time.monotonic() - started)
            self._settle(key)

        self._pool.submit(timed)

    def _settle(self, key: K) -> None:
        """Answer ``key`` with its first good ask, or with the first error once every ask failed."""
        with self._lock:
            answer, asks = self._answers.get(key), self._asks.get(key, [])
            if answer is None or answer.done():
                return
            finished = [a for a in asks if a.done() and not a.cancelled()]
            good = [a for a in finished if a.exception() is None]
            if good:
                answer.set_result(good[0].result())
            elif len(finished) == len(asks):
                error = finished[0].exception()
                assert error is not None
                answer.set_exception(error)
            else:
                return
        self._answered.put(key)

    def hedge(self) -> None:
        """Ask again for the overdue reads, the longest-running first, while workers idle."""
        if not self._durations or len(self._running) >= self._workers:
            return
        delay = max(HEDGE_MIN_SECONDS, HEDGE_AFTER_MEDIANS * statistics.median(self._durations))
        now = time.monotonic()
        for key, started in sorted(self._running.values(), key=lambda entry: entry[1]):
            if len(self._running) >= self._workers or now - started < delay:
                return
            with self._lock:
                once = len(self._asks.get(key, ())) == 1
            if once:
                logger.info("read %s unanswered after %.2f s: asked for it again", key, now - started)
                self.hedged += 1
                self._ask(key)

    def result(self, key: K) -> T:
        """``key``'s answer, waiting for it."""
        with self._lock:
            answer = self._answers[key]
        while not answer.done():
            wait([answer], timeout=HEDGE_POLL_SECONDS)
            self.hedge()
        return answer.result()

    def next_answered(self) -> K:
        """The next key answered (in the order they are), waiting for one; every key once."""
        while True:
            try:
                return self._answered.get(timeout=HEDGE_POLL_SECONDS)
            except queue.Empty:
                self.hedge()

    def forget(self, key: K) -> None:
        """Drop a key whose answer was taken (its slower ask, if any, finishes on its own)."""
        with self._lock:
            self._answers.pop(key, None)
            self._left.extend(a for a in self._asks.pop(key, ()) if not a.done())

    def close(self) -> None:
        """Cancel the reads not started; wait for those under way, but the slower asks of answered keys."""
        with self._lock:
            keyed = [(self._answers.get(k), asks) for k, asks in self._asks.items()]
        for _, asks in keyed:
            for ask in asks:
                ask.cancel()
        wait(
            [
                a
                for answer, asks in keyed
                if answer is None or not answer.done()
                for a in asks
                if not a.cancelled()
            ]
        )
        for answer, asks in keyed:
            if answer is not None and all(a.cancelled() for a in asks):
                answer.cancel()
        left = any(not a.done() for a in self._left) or any(not a.done() for _, asks in keyed for a in asks)
        self._pool.shutdown(wait=not left, cancel_futures=True)
