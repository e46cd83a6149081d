"""A run's writes, ``workers`` at a time as they are queued, stopped by the first failure.

Product sync, stock sync and pricing each queue their writes while they still read (a chunk, a SKU, an item
page at a time), and each stops the same way when one write fails (a transient error past the client's
retries, a lost lease, a crash between the call and its record): nothing queued after it is sent, the writes
in flight finish (and record their outcome in the ledger), the error reaches the run. :class:`WritePool` is
that rule, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from enum import Enum
from threading import Lock
from typing import Any, Generic, TypeVar

from jtl_automator.correlation import correlated_logger, in_context

log = correlated_logger("jtl_automator.write_pool")

T = TypeVar("T")
R = TypeVar("R")


class _Skipped(Enum):
    """What a queued write returns when an earlier one failed: it was not sent."""

    SKIPPED = "skipped"


class WritePool(Generic[T, R]):
    """``write`` run on each queued item, ``workers`` at a time; the first failure stops what is queued.

    - A write starts only if no write has failed yet: after a failure the queued ones are not sent
      (:meth:`close` also cancels them); the ones in flight finish.
    - Which error is raised: the first failure *in time* (the first write to raise), whatever its place
      in the queue. A second write failing while the first was in flight is logged, not raised.
    - It is raised by the next :meth:`submit` (nothing more is queued), by :meth:`raise_failure`, and by
      :meth:`results` after every queued write has ended.
    - Each write runs in a copy of the context :meth:`submit` was called in (the correlation id).

    Use as a context manager: leaving it (also by an exception) cancels what is queued and waits for the
    writes in flight.
    """

    def __init__(self, write: Callable[[T], R], workers: int, name: str) -> None:
        self._write = write
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._futures: list[Future[R | _Skipped]] = []
        self._failures: list[BaseException] = []
        self._lock = Lock()

    def __enter__(self) -> WritePool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, item: T) -> None:
        """Queue one write; raises an earlier write's failure instead."""
        self.submit_all([item])

    def submit_all(self, items: Iterable[T]) -> None:
        """Queue the writes in this order; raises an earlier write's failure instead (nothing is queued)."""
        self.raise_failure()
        one = in_context(self._one)
        self._futures += [self._pool.submit(one, item) for item in items]

    def _one(self, item: T) -> R | _Skipped:
        if self._failures:
            return _Skipped.SKIPPED  # a write failed: this one is not sent
        try:
            return self._write(item)
        except BaseException as exc:
            with self._lock:
                self._failures.append(exc)
                later = len(self._failures) > 1
            if later:
                log.warning("another write failed as well (the first failure is raised): %r", exc)
            raise

    @property
    def failed(self) -> bool:
        """Whether a write has failed yet."""
        return bool(self._failures)

    def raise_failure(self) -> None:
        """Raise the first failure (in time), if a write failed yet."""
        if self._failures:
            raise self._failures[0]

    def unfinished(self) -> list[Future[Any]]:
        """The writes queued or in flight (to wait for along with other work)."""
        return [future for future in self._futures if not future.done()]

    def results(self) -> list[R]:
        """Wait for every queued write; their results in queue order, or the first failure raised."""
        wait(self._futures)
        self.raise_failure()
        return [result for future in self._futures if not isinstance(result := future.result(), _Skipped)]

    def close(self) -> None:
        """Cancel what is queued, let the writes in flight finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)
