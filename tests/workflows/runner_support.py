"""Test actions for the runner: a side effect through the state store's ledger, and a switchable failure.

``effect`` does its effect with ``store.run_once`` under the step's effect key, so a test sees exactly
how many times a side effect happened (``Effects.done``) whatever the runner does around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

import jtl_automator.workflows.actions as registry
from jtl_automator.workflows.actions import ActionContext, StepResult, register_action


class EffectParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1)
    amount: int = Field(default=1, ge=1)
    fail: bool = False


@dataclass
class Effects:
    """What the test actions did: effects by key, calls (also simulated ones), and switchable failures."""

    done: list[tuple[str, str, int]] = field(default_factory=list)
    calls: list[tuple[str, bool]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)


def make_actions(effects: Effects) -> dict[str, Any]:
    def effect(params: EffectParams, ctx: ActionContext) -> StepResult:
        effects.calls.append((params.label, ctx.simulate))
        if params.fail or params.label in effects.failing:
            raise RuntimeError(f"the receiver refused {params.label}")
        if ctx.simulate:
            return StepResult(
                output={"label": params.label, "total": params.amount * 2}, summary="would do it"
            )

        def do() -> dict[str, Any]:
            effects.done.append((ctx.effect_key, params.label, params.amount))
            return {"amount": params.amount}

        fresh = ctx.store.run_once(ctx.effect_key, "workflow_test", do, run_id=ctx.run_id)
        return StepResult(
            output={"label": params.label, "total": params.amount * 2},
            effects=(ctx.effect_key,) if fresh else (),
            repeated=() if fresh else (ctx.effect_key,),
            summary=f"did {params.label}",
        )

    return {"effect": (EffectParams, effect)}


def register_effects(monkeypatch: pytest.MonkeyPatch) -> Effects:
    """The test actions registered (``effect``) for one test; monkeypatch removes them after it."""
    found = Effects()
    for name, (params, run) in make_actions(found).items():
        monkeypatch.delitem(registry._ACTIONS, name, raising=False)
        entry = register_action(name, params, run, f"test {name}")
        del registry._ACTIONS[name]
        monkeypatch.setitem(registry._ACTIONS, name, entry)
    return found
