"""Idempotent reads on a few workers, each asked for a second time when it is overdue and a worker idles.

An on-premise Wawi's answers have a long tail (seconds, and stalls of ten), and its workers are few. When
a run's last reads are on the wire, one slow answer holds the run while the other workers idle. So a read
still unanswered ``HEDGE_AFTER_MEDIANS`` times the median answer so far (and at least ``HEDGE_MIN_SECONDS``)
is asked for again once fewer reads run than there are workers, and the first good answer of the two is
used ("hedged requests", Dean and Barroso, The Tail at Scale). Never more reads on the wire than workers:
a second ask only takes an idle worker's place; each read is asked for at most twice; the slower ask is
left to finish on its own (its answer is dropped, and not decoded: :func:`answer_wanted`). Only for
reads: asking twice must change nothing. And only while the server answers: once a read was retried
(refused with 429, failed, timed out), no read of the batch is asked for twice.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.resilience import retries_on

logger = correlated_logger("jtl_automator.hedged")
K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

#: A read still unanswered this many times the median answer so far is overdue.
HEDGE_AFTER_MEDIANS = 1.5
#: ... and never before this many seconds.
HEDGE_MIN_SECONDS = 0.25
#: The median is of this many latest answers (a server that slows down moves it).
DURATIONS_KEPT = 256

_this_ask = threading.local()  # on a worker: whether the read it asks for is still wanted


class AnswerNotWanted(Exception):
    """The read this ask serves was answered by its other ask (or dropped): its body is left undecoded."""


def answer_wanted() -> bool:
    """Whether the answer just received on this thread is still wanted (False: don't decode it).

    True outside :class:`HedgedReads`. On its workers, False once the read the ask serves was answered
    by its other ask, or dropped: a 1,000-item page decodes in tens of milliseconds of the interpreter's
    time, which the answers still wanted need.
    """
    wanted = getattr(_this_ask, "wanted", None)
    return wanted is None or wanted()


class HedgedReads(Generic[K, T]):
    """``read(key)`` for each key submitted, on ``workers`` threads; see the module for the second asks.

    :meth:`submit` queues a key (the first asks go in the order submitted). A caller waits with
    :meth:`result` (one key's answer) or :meth:`next_answered` (the keys as they are answered), or does
    something else meanwhile: the second asks are the idle workers' own (a worker with no first ask to
    make looks at the reads on the other workers), so they go out on time however busy the caller is,
    and a key queued costs a place in a deque. A key's answer is its first good ask's, or the error once
    every ask failed. :meth:`close` drops the keys not started and waits for the reads under way, but
    the slower asks of answered keys.
    """

    def __init__(self, read: Callable[[K], T], workers: int, name: str) -> None:
        self._read = read
        self._cond = threading.Condition()
        self._queued: deque[K] = deque()  # first asks not started, in order
        self._asks: dict[K, int] = {}  # asks made of each started key (1 or 2)
        self._finished: dict[K, int] = {}  # of those, how many ended
        self._results: dict[K, tuple[bool, Any]] = {}  # answered keys: (good, the answer or the error)
        # asks on a worker: key, start (monotonic), the worker's thread and its retries then
        self._running: dict[object, tuple[K, float, int, int]] = {}
        self._pushed_back = False  # a read was retried (refused, failed): no second asks from then on
        self._durations: deque[float] = deque(maxlen=DURATIONS_KEPT)  # the latest answers' times
        self._answered: queue.SimpleQueue[K] = queue.SimpleQueue()
        self._closed = False
        self.hedged = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, key: K) -> None:
        """Queue ``key``'s read (behind the keys submitted before it)."""
        with self._cond:
            self._queued.append(key)
            self._cond.notify()

    def _next(self) -> tuple[K, object] | None:
        """The next ask for this worker, waiting for one; None once closed.

        A first ask while any is queued; else, this worker being idle, a second ask of an overdue read
        (:meth:`_overdue`), waiting until the earliest running read would be overdue.
        """
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._queued:
                    key = self._queued.popleft()
                    self._asks[key] = 1
                    break
                overdue, wait = self._overdue()
                if overdue is not None:
                    key = overdue
                    self._asks[key] = 2
                    self.hedged += 1
                    break
                self._cond.wait(wait)
            token = object()
            ident = threading.get_ident()
            self._running[token] = (key, time.monotonic(), ident, retries_on(ident))
            return key, token

    def _overdue(self) -> tuple[K | None, float | None]:
        """Under the lock, for an idle worker: a read to ask for again, else how long until one may be.

        (None, None): none will be without news (no answer yet to take a median of, every running read
        asked for twice, or a read was retried: the server pushes back, and a second ask would add to its
        load; a read waiting between attempts is not slow, it is told to wait).
        """
        if self._pushed_back or not self._durations:
            return None, None
        if any(retries_on(ident) > retries for _, _, ident, retries in self._running.values()):
            self._pushed_back = True
            logger.info("a read was retried: no read is asked for a second time from now on")
            return None, None
        delay = max(HEDGE_MIN_SECONDS, HEDGE_AFTER_MEDIANS * statistics.median(self._durations))
        now = time.monotonic()
        soonest: float | None = None
        for key, started, _, _ in sorted(self._running.values(), key=lambda entry: entry[1]):
            if self._asks.get(key) != 1 or key in self._results:
                continue
            if now - started >= delay:
                logger.info("read %s unanswered after %.2f s: asked for it again", key, now - started)
                return key, None
            soonest = started + delay - now if soonest is None else min(soonest, started + delay - now)
        return None, soonest

    def _wanted(self, key: K) -> bool:
        """Whether ``key``'s answer is still wanted (not answered by another ask, not dropped)."""
        with self._cond:
            return key in self._asks and key not in self._results

    def _work(self) -> None:
        while (ask := self._next()) is not None:
            key, token = ask
            good = True
            _this_ask.wanted = lambda key=key: self._wanted(key)
            try:
                value: Any = self._read(key)
            except BaseException as error:  # the caller gets it (when no other ask answers)
                good, value = False, error
            finally:
                _this_ask.wanted = None
            with self._cond:
                _, started, ident, retries = self._running.pop(token)
                self._durations.append(time.monotonic() - started)
                self._pushed_back = self._pushed_back or retries_on(ident) > retries
                self._settle(key, good, value)
                self._cond.notify_all()

    def _settle(self, key: K, good: bool, value: Any) -> None:
        """Under the lock: answer ``key`` with its first good ask, or with the error once every ask failed."""
        if key not in self._asks or key in self._results:  # forgotten, or answered by the other ask
            return
        self._finished[key] = self._finished.get(key, 0) + 1
        if good or self._finished[key] >= self._asks[key]:
            self._results[key] = (good, value)
            self._answered.put(key)

    def result(self, key: K) -> T:
        """``key``'s answer (or its error), waiting for it."""
        with self._cond:
            while key not in self._results:
                if self._closed and not any(entry[0] == key for entry in self._running.values()):
                    raise RuntimeError(f"read {key} was dropped: the reads were closed")
                self._cond.wait()
            good, value = self._results[key]
        if not good:
            raise value
        return value  # type: ignore[no-any-return]

    def next_answered(self, *, block: bool = True, timeout: float | None = None) -> K | None:
        """The next key answered (in the order they are), every key once.

        Waits for one (at most ``timeout`` seconds); with ``block`` false, None at once when no key is
        answered yet; None too when the time is up.
        """
        try:
            return self._answered.get(block=block, timeout=timeout if block else None)
        except queue.Empty:
            return None

    def forget(self, key: K) -> None:
        """Drop an answered key (its slower ask, if any, finishes on its own)."""
        with self._cond:
            self._results.pop(key, None)
            self._asks.pop(key, None)
            self._finished.pop(key, None)

    def drop(self, key: K) -> None:
        """Forget a key whose answer is no longer wanted (a page past the end).

        Not asked for if still queued; if under way, its answer is dropped, it is not asked for again, and
        :meth:`close` does not wait for it.
        """
        with self._cond:
            if key in self._queued:
                self._queued.remove(key)
            self.forget(key)

    def close(self) -> None:
        """Drop the keys not started; wait for the reads under way, but the slower asks of answered keys."""
        with self._cond:
            self._closed = True
            self._queued.clear()
            self._cond.notify_all()
            while any(e[0] in self._asks and e[0] not in self._results for e in self._running.values()):
                self._cond.wait()


def readers(workers: int, in_flight: int | None) -> int:
    """Reader threads: ``workers``, never more than the client's in-flight limit (``None``: no limit).

    A reader waiting for a free connection would count the wait in its answer time, which the second
    asks go by, and look busy while it idles.
    """
    return max(1, workers if in_flight is None else min(workers, in_flight))


def hedged_map(read: Callable[[K], T], keys: Sequence[K], workers: int, name: str) -> list[T]:
    """``read`` of each key (one idempotent request each), ``workers`` at once, the answers in order.

    Among the last, a read overdue while a worker idles is asked for a second time (:class:`HedgedReads`).
    The first error (in the keys' order) is raised once the reads under way are done; none queued starts.
    """
    if workers <= 1 or len(keys) <= 1:
        return [read(key) for key in keys]
    reads: HedgedReads[int, T] = HedgedReads(in_context(lambda index: read(keys[index])), workers, name)
    try:
        for index in range(len(keys)):
            reads.submit(index)
        return [reads.result(index) for index in range(len(keys))]
    finally:
        reads.close()
