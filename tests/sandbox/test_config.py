"""Strict mode: one switch for every behaviour the reference leaves open, each knob still its own field."""

from __future__ import annotations

from jtl_automator.sandbox.config import SandboxConfig


def test_strictest_is_strict_and_takes_overrides() -> None:
    lenient = SandboxConfig()
    strict = SandboxConfig.strictest(seed=7, faults="flaky")
    assert not lenient.strict and strict.strict
    assert (strict.seed, strict.faults) == (7, "flaky")
    assert strict.ffn_client_id == lenient.ffn_client_id  # documented behaviour is the same in both
