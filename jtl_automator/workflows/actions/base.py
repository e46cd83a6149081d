"""What every workflow action shares: its parameter model, the context it runs in, and its result.

An action is registered once by name (``create_plan``, ``call_webhook``, ...). The loader validates a
node's ``with:`` block against the action's ``params`` model, so a typo fails at ``workflows validate``,
not at 3 a.m.; the runner resolves templates, validates again with the real values and calls ``run``.

Side effects are keyed: ``ActionContext.effect_key`` is stable for one step of one triggering change
(workflow, version, trigger key, node), so a retried or re-triggered run finds the effect in the state
store's side-effect ledger and does not repeat it. ``simulate`` resolves everything against live data
and reports what would happen, with no side effect at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from jtl_automator.store import StateStore

P = TypeVar("P", bound=BaseModel)


@dataclass
class ActionContext:
    """Where a step runs: the store, the step's effect key, the clock, and the outside systems.

    ``resources`` holds the clients and senders by name (``wawi``, ``ffn``, ``mail``, ``http``, ...), built
    by the runner from blocks; an action asks for what it needs and gets a clear error when it is missing.
    """

    store: StateStore
    run_id: str
    effect_key: str
    now: datetime
    simulate: bool = False
    resources: Mapping[str, Any] = field(default_factory=dict)

    def resource(self, name: str) -> Any:
        """A configured client or sender, or a one-line error that says which block to set up."""
        try:
            return self.resources[name]
        except KeyError:
            raise LookupError(
                f"this step needs {name!r}, which is not configured; save its block "
                "(`jtl-automator blocks`) or pass it to the runner"
            ) from None


@dataclass(frozen=True)
class StepResult:
    """What a step produced: ``output`` feeds later steps' templates; ``effects`` says what it did.

    ``effects`` lists the side effects done *this time* (keys); an effect found already done is in
    ``repeated`` instead, so a rerun's record shows it did nothing twice.
    """

    output: dict[str, Any]
    effects: tuple[str, ...] = ()
    repeated: tuple[str, ...] = ()
    summary: str = ""


@dataclass(frozen=True)
class RegisteredAction(Generic[P]):
    """A registry entry: the name used in YAML, the parameter model, and the function that runs it."""

    name: str
    params: type[P]
    description: str
    run: Callable[[P, ActionContext], StepResult]
