"""The typed state: per-API bookkeeping fields, and the old ``runtime[key]`` reads that still work."""

from __future__ import annotations

from collections import Counter

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData
from jtl_automator.sandbox.state import LEGACY_KEYS, Runtime, SandboxState, StateDep


def test_legacy_keys_read_and_write_the_typed_fields() -> None:
    runtime = Runtime()
    assert runtime["faults"] is runtime.fault_counters and set(runtime["faults"]) >= {"error", "drop"}
    assert runtime["requests"] is runtime.requests
    runtime.sheets.requests["values.get"] += 2
    assert runtime.get("sheets_requests") == {"values.get": 2}
    runtime["sheets_requests"] = Counter()
    assert runtime.sheets.requests == Counter() and runtime.get("sheets_requests", "absent") == "absent"
    runtime["sheets_tokens"] = {"ya29.x": 1.0}
    assert runtime.sheets.tokens == {"ya29.x": 1.0}

    def clock() -> float:
        return 5.0

    runtime["sheets_clock"] = clock
    assert runtime.sheets.clock is clock and runtime["sheets_clock"] is clock
    assert runtime.pop("sheets_clock") is clock and runtime.sheets.clock is None


def test_a_legacy_key_is_present_once_its_field_holds_something() -> None:
    runtime = Runtime()
    assert set(runtime) == {"faults", "requests"}
    assert "sheets_requests" not in runtime and "sheets_quota" not in runtime
    runtime.sheets.quota.append(1.0)
    assert "sheets_quota" in runtime
    assert runtime.pop("sheets_quota", None) is not None and not runtime.sheets.quota
    assert runtime.pop("sheets_quota", None) is None
    with pytest.raises(KeyError):
        del runtime["sheets_tokens"]
    assert set(LEGACY_KEYS) >= set(runtime)


def test_other_keys_are_scratch_space() -> None:
    runtime = Runtime()
    runtime["handled"] = 0
    runtime["handled"] += 1
    assert runtime["handled"] == 1 and runtime.scratch == {"handled": 1} and len(runtime) == 3
    del runtime["handled"]
    assert "handled" not in runtime


def test_a_handler_without_a_bound_state_fails_loudly() -> None:
    app = FastAPI()

    @app.get("/x")
    def handler(state: StateDep) -> dict[str, int]:
        return {"items": len(state.data.wawi.items)}

    with (
        TestClient(app, raise_server_exceptions=True) as client,
        pytest.raises(RuntimeError, match="no sandbox"),
    ):
        client.get("/x")


def test_state_starts_with_empty_bookkeeping() -> None:
    state = SandboxState(data=SandboxData(), config=SandboxConfig())
    assert state.runtime.ffn is None and state.runtime.oauth is None and state.runtime.fault_engine is None
    assert state.runtime.requests == {"total": 0, "by_api": {}, "by_status": {}}
    assert state.runtime.wawi.registrations == {}
