"""FFN's side of a product sync, read in the background (``FfnRead``): what waits for it and its failures."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from jtl_automator.services.product_sync.reads import FfnRead

PRODUCT = {"jfsku": "J1", "merchantSku": "A-1", "name": "Box", "identifier": {"ean": None}, "bundles": []}


def test_the_side_is_read_once_on_its_own_thread_and_framed() -> None:
    calls: list[str] = []

    def read() -> list[dict[str, Any]]:
        calls.append(threading.current_thread().name)
        return [PRODUCT]

    with ThreadPoolExecutor(1, thread_name_prefix="ffn-side") as pool:
        pending = FfnRead(read, pool)
        side = pending.side()
        assert pending.side() is side
    assert len(calls) == 1 and calls[0].startswith("ffn-side")
    assert side.products == 1 and side.frame["merchant_sku"].tolist() == ["A-1"]
    assert side.snapshots == {"J1": {"identifier": {"ean": None}, "specifications": None, "bundles": []}}


def test_a_failed_read_raises_once_then_is_read_again_when_asked_again() -> None:
    """A retried task asks again: it must read again, not meet the first attempt's error forever."""
    answers: list[Any] = [ConnectionError("FFN unreachable"), [PRODUCT]]

    def read() -> list[dict[str, Any]]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return list(answer)

    with ThreadPoolExecutor(1) as pool:
        pending = FfnRead(read, pool)
        with pytest.raises(ConnectionError, match="FFN unreachable"):
            pending.side()
    assert pending.side().products == 1 and answers == []


def test_a_read_not_started_is_cancelled_with_a_failed_load_s_pool() -> None:
    """``load_inputs`` shuts its pool down with ``cancel_futures`` when the load fails: a queued FFN read
    never starts."""
    gate = threading.Event()
    started: list[int] = []
    pool = ThreadPoolExecutor(1)
    pool.submit(gate.wait)  # the one thread is busy: the read is queued
    FfnRead(lambda: started.append(1) or [], pool)
    gate.set()
    pool.shutdown(wait=True, cancel_futures=True)
    assert started == []
