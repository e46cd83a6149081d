"""Reads asked for a second time when overdue while a worker idles: every key answered once, never more
reads at once than workers, errors only when every ask failed, nothing started after close."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from jtl_automator.clients.hedged import HedgedReads, answer_wanted, hedged_map


class Server:
    """Answers ``key * 10`` after ``delay``; the first ask of a key in ``stall`` hangs until released,
    of one in ``fail_late`` fails after 0.6 s; counts asks and how many run at once."""

    def __init__(
        self,
        delay: float = 0.02,
        stall: frozenset[int] = frozenset(),
        fail_late: frozenset[int] = frozenset(),
    ) -> None:
        self.delay, self.stall, self.fail_late = delay, set(stall), set(fail_late)
        self.asks: list[int] = []
        self.running = self.peak = 0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, key: int) -> int:
        with self._lock:
            self.asks.append(key)
            first = self.asks.count(key) == 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if first and key in self.stall:
                self.release.wait(10)
            if first and key in self.fail_late:
                time.sleep(0.6)
                raise ConnectionError(f"lost answer for {key}")
            time.sleep(self.delay)
            return key * 10
        finally:
            with self._lock:
                self.running -= 1


def _all_answered(reads: HedgedReads[int, Any], keys: range) -> dict[int, Any]:
    for key in keys:
        reads.submit(key)
    answered: dict[int, Any] = {}
    for _ in keys:
        key = reads.next_answered()
        assert key not in answered
        answered[key] = reads.result(key)
        reads.forget(key)
    return answered


@pytest.mark.slow
def test_a_stalled_read_is_asked_again_once_workers_idle_and_never_waited_for() -> None:
    server = Server(stall=frozenset({5, 17}))
    reads: HedgedReads[int, int] = HedgedReads(server, 4, "test")
    started = time.perf_counter()
    try:
        answered = _all_answered(reads, range(20))
        reads.close()
        took = time.perf_counter() - started
    finally:
        server.release.set()
    assert answered == {k: k * 10 for k in range(20)}
    assert server.asks.count(5) == server.asks.count(17) == 2 and len(server.asks) == 22
    assert reads.hedged == 2 and server.peak <= 4
    assert took < 2.0  # a stall holds for 10 s


@pytest.mark.slow
def test_a_late_failure_is_answered_by_the_second_ask_and_two_failures_raise() -> None:
    server = Server(fail_late=frozenset({3}))
    reads: HedgedReads[int, int] = HedgedReads(server, 3, "test")
    assert _all_answered(reads, range(8))[3] == 30
    reads.close()

    class AlwaysFails(Server):
        def __call__(self, key: int) -> int:
            super().__call__(key)
            raise ConnectionError("down")

    failing: HedgedReads[int, int] = HedgedReads(AlwaysFails(delay=0.4), 2, "test")
    failing.submit(1)
    with pytest.raises(ConnectionError, match="down"):
        failing.result(1)
    failing.close()


@pytest.mark.slow
def test_one_worker_never_asks_twice_and_close_starts_nothing_more() -> None:
    server = Server(stall=frozenset({0}))
    reads: HedgedReads[int, int] = HedgedReads(server, 1, "test")
    for key in range(5):
        reads.submit(key)
    time.sleep(0.3)  # past the least delay of a second ask: none, the one worker is busy
    closing = threading.Thread(target=reads.close)  # cancels 1 to 4, waits for 0 (under way)
    closing.start()
    time.sleep(0.05)
    assert closing.is_alive()
    server.release.set()
    closing.join(5)
    assert server.asks == [0] and server.peak == 1 and reads.hedged == 0


@pytest.mark.slow
def test_no_second_ask_once_a_read_was_retried() -> None:
    """A read waiting between attempts (the server refused it: 429, 5xx, a timeout) is not slow, it is
    told to wait: neither it nor any later read of the batch is asked for a second time."""
    from jtl_automator.resilience import note_retry

    class Refusing(Server):
        def __call__(self, key: int) -> int:
            if key == 5 and self.asks.count(5) == 0:
                note_retry()  # what call_with_retry does before it waits out a 429
            return super().__call__(key)

    server = Refusing(stall=frozenset({5, 17}))
    reads: HedgedReads[int, int] = HedgedReads(server, 4, "test")
    for key in range(20):
        reads.submit(key)
    time.sleep(1.0)  # every other read answered long ago, 5 and 17 overdue
    for key in range(20):
        if key not in (5, 17):
            reads.result(key)
    assert reads.hedged == 0 and len(server.asks) == 20
    server.release.set()
    assert reads.result(5) == 50 and reads.result(17) == 170
    reads.close()


@pytest.mark.slow
def test_a_stalled_read_is_asked_again_while_the_caller_is_busy() -> None:
    """The idle workers make the second asks: a caller planning what came back (not waiting on the
    reads) does not hold them back."""
    server = Server(stall=frozenset({2}))
    reads: HedgedReads[int, int] = HedgedReads(server, 3, "test")
    try:
        for key in range(6):
            reads.submit(key)
        time.sleep(0.6)  # busy elsewhere: no result() or next_answered() meanwhile
        assert server.asks.count(2) == 2 and reads.hedged == 1
        assert reads.result(2) == 20
    finally:
        server.release.set()
        reads.close()


@pytest.mark.slow
def test_hedged_map_answers_in_order_and_does_not_wait_for_a_stalled_first_ask() -> None:
    """Keys that are not numbers, answers in their order; a stalled read among them is asked again."""
    server = Server(stall=frozenset({7}))
    started = time.perf_counter()
    try:
        answers = hedged_map(lambda key: server(int(key)), [str(k) for k in range(12)], 4, "test")
        took = time.perf_counter() - started
    finally:
        server.release.set()
    assert answers == [k * 10 for k in range(12)]
    assert server.asks.count(7) == 2 and server.peak <= 4 and took < 2.0


def test_hedged_map_raises_the_first_error_and_reads_one_by_one_with_one_worker() -> None:
    def read(key: int) -> int:
        if key == 3:
            raise ValueError("key 3 is bad")
        return key

    with pytest.raises(ValueError, match="key 3"):
        hedged_map(read, list(range(8)), 3, "test")
    seen: list[int] = []

    def in_turn(key: int) -> int:
        seen.append(key)
        return key

    assert hedged_map(in_turn, [2, 1, 0], 1, "test") == [2, 1, 0] and seen == [2, 1, 0]


def test_a_dropped_key_is_not_asked_for_when_queued_and_not_waited_for_when_under_way() -> None:
    server = Server(stall=frozenset({1}))
    reads: HedgedReads[int, int] = HedgedReads(server, 2, "test")
    for key in (0, 1, 2):
        reads.submit(key)
    assert reads.result(0) == 0
    time.sleep(0.05)  # key 1 is under way (stalled); key 2 on the other worker
    assert reads.result(2) == 20
    reads.submit(3)
    reads.drop(1)
    reads.drop(3)  # queued or just started: either way not waited for
    started = time.perf_counter()
    reads.close()  # does not wait for the stalled, dropped key 1
    assert time.perf_counter() - started < 1.0 and server.asks.count(1) == 1
    server.release.set()


@pytest.mark.slow
def test_the_slower_ask_of_an_answered_read_is_told_its_answer_is_not_wanted() -> None:
    """What a read sees (:func:`answer_wanted`) after its server answered: only the stalled first ask
    of key 5, answered meanwhile by its second ask, is told no; outside the reads, always yes."""
    server = Server(stall=frozenset({5}))
    seen: list[tuple[int, bool]] = []

    def read(key: int) -> int:
        value = server(key)
        seen.append((key, answer_wanted()))
        return value

    reads: HedgedReads[int, int] = HedgedReads(read, 4, "test")
    try:
        assert _all_answered(reads, range(8)) == {k: k * 10 for k in range(8)}
    finally:
        server.release.set()
    reads.close()
    deadline = time.monotonic() + 5
    while len(seen) < 9 and time.monotonic() < deadline:  # the stalled ask ends once released
        time.sleep(0.01)
    assert sorted(seen) == [*((k, True) for k in range(5)), (5, False), (5, True), (6, True), (7, True)]
    assert answer_wanted()


@pytest.mark.slow
def test_a_hedged_get_leaves_the_slower_answer_undecoded() -> None:
    """Through the HTTP core: the stalled page's late answer is read but not decoded (a 1,000-item
    page is tens of milliseconds of decoding), and nothing of it reaches the caller."""
    from jtl_automator.clients import http as http_module
    from jtl_automator.clients.http import HttpCore

    release = threading.Event()
    first_of_page_3 = threading.Event()

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page == 3 and not first_of_page_3.is_set():
            first_of_page_3.set()
            release.wait(10)
        else:
            time.sleep(0.02)
        return httpx.Response(200, json={"page": page})

    decoded: list[Any] = []
    original = http_module.decode_json

    def counting(response: httpx.Response) -> Any:
        decoded.append(response.request.url.params["page"])
        return original(response)

    core = HttpCore(httpx.Client(transport=httpx.MockTransport(answer)), "https://api.example.test")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(http_module, "decode_json", counting)
        try:
            pages = hedged_map(lambda page: core.get_json("/pages", {"page": page}), list(range(6)), 3, "t")
        finally:
            release.set()
        time.sleep(0.2)  # the released first ask of page 3 ends
    assert pages == [{"page": p} for p in range(6)]
    assert sorted(decoded) == ["0", "1", "2", "3", "4", "5"]  # page 3 once: its second ask's answer
