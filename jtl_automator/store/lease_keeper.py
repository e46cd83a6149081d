"""One run at a time, and a crashed run's lease gone within minutes: a short lease kept alive by a heartbeat.

A run takes a lease with a short time to live (two minutes by default) and a daemon thread renews it
every ``heartbeat`` seconds while the run's process lives. When the process dies, nobody renews it and
the next run finds it expired soon after, instead of being blocked for half an hour. A renewal that
fails on a database blip is retried at the next beat; one that finds the lease taken by another run (ours
ran out) marks it lost, and the run's next :meth:`LeaseKeeper.check` stops it before any double work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from jtl_automator.correlation import correlated_logger
from jtl_automator.store.store import LeaseInfo, StateStore

log = correlated_logger("jtl_automator.lease")


class LeaseLost(RuntimeError):
    """Another run took the lease (ours expired): stop before doing anything twice."""


class LeaseKeeper:
    """Takes, keeps and gives back one named lease for one owner (a flow run)."""

    def __init__(
        self,
        store: StateStore,
        name: str,
        owner: str,
        *,
        ttl: timedelta = timedelta(minutes=2),
        heartbeat: float = 30.0,
        release_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if heartbeat <= 0 or timedelta(seconds=heartbeat) >= ttl:
            raise ValueError("the heartbeat must be shorter than the lease's time to live")
        self.store = store
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self.heartbeat = heartbeat
        self.release_attempts = release_attempts
        self._sleep = sleep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False
        self.beats = 0

    @classmethod
    def for_run(
        cls, store: StateStore, name: str, run_id: str, *, ttl_seconds: float, heartbeat_seconds: float
    ) -> LeaseKeeper:
        """A flow run's lease with the merchant's time to live and heartbeat (seconds, from its params)."""
        return cls(store, name, run_id, ttl=timedelta(seconds=ttl_seconds), heartbeat=heartbeat_seconds)

    def take(self) -> LeaseInfo | None:
        """None once the lease is ours; else its holder (a placeholder if it was released meanwhile)."""
        if self.acquire():
            return None
        now = datetime.now(UTC)
        return self.holder() or LeaseInfo(self.name, "another run", now, now)

    def acquire(self) -> bool:
        """Take the lease if it is free or expired, and start renewing it; False while another run has it."""
        if not self.store.acquire_lease(self.name, self.owner, self.ttl):
            return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._keep, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return True

    def holder(self) -> LeaseInfo | None:
        """Who holds the lease now (for the message of a skipped run)."""
        return self.store.lease(self.name)

    def _keep(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                still_ours = self.store.renew_lease(self.name, self.owner, self.ttl)
            except Exception as exc:  # a database blip: the lease lasts a few more beats, try again
                reason = type(exc).__name__
                log.warning(
                    "lease %r not renewed (%s); retrying in %.0f s", self.name, reason, self.heartbeat
                )
                continue
            if not still_ours:
                self.lost = True
                log.error("lease %r was taken by another run; this run stops at its next step", self.name)
                return
            self.beats += 1

    def check(self) -> None:
        """Raise :class:`LeaseLost` when another run holds the lease now."""
        if self.lost:
            raise LeaseLost(f"lease {self.name!r} is held by another run; stopping before any double work")

    def release(self) -> None:
        """Stop renewing and give the lease back; if the database will not have it, the lease expires soon."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat + 5)
        for attempt in range(1, self.release_attempts + 1):
            try:
                self.store.release_lease(self.name, self.owner)
                return
            except Exception as exc:
                if attempt == self.release_attempts:
                    log.warning(
                        "lease %r not released (%s); it expires by itself within %s",
                        self.name,
                        type(exc).__name__,
                        self.ttl,
                    )
                    return
                self._sleep(min(2.0, self.heartbeat))
