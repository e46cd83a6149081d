"""Stand-in actions with plausible parameter models, registered for one test and removed after it.

The real actions (plans, webhooks, e-mail) are their own modules; the definition layer is tested
against these so its checks do not depend on them. The stand-ins are taken out of the registry again
after each test, so a test that looks at the real registry never sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

import jtl_automator.workflows.actions as registry
from jtl_automator.store import StateStore
from jtl_automator.workflows.actions import ActionContext, StepResult, register_action
from jtl_automator.workflows.store import WorkflowStore
from tests.workflows.runner_support import Effects, register_effects


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanParams(_Params):
    kind: Literal["restock", "rebalance", "markdown", "supplier_return", "supplier_exchange"]
    warehouses: list[str] = Field(default_factory=list)
    supplier: str | None = None
    period: str = "week"
    deadline: str | date | datetime | timedelta | None = None
    created_by: str = "workflow"


class Fixed(_Params):
    strategy: Literal["fixed"]
    quantity: int = Field(ge=1)


class FillTo(_Params):
    strategy: Literal["fill_to_target"]
    target_units: float | None = Field(default=None, ge=0)
    target_cover_days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> FillTo:
        if (self.target_units is None) == (self.target_cover_days is None):
            raise ValueError("fill_to_target needs exactly one of target_units or target_cover_days")
        return self


class Discount(_Params):
    strategy: Literal["fixed", "score", "recommended"] = "recommended"
    min_cover_days: float = Field(default=120, gt=0)
    floor_pct: float = Field(default=0, ge=0)
    max_discount_pct: float = Field(default=50, gt=0, lt=100)


class AddItemsParams(_Params):
    plan_id: int | None = None
    kind: str | None = None
    skus: list[str] | None = None
    warehouses: Literal["all", "plan"] | list[str] = "plan"
    below_stock: float | None = Field(default=None, ge=0)
    quantity: Annotated[Fixed | FillTo, Field(discriminator="strategy")] | None = None
    discount: Discount | None = None


class WebhookParams(_Params):
    endpoint: str | None = None
    url: str | None = None
    path: str | None = None
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | list[Any] | str | None = None


class EmailParams(_Params):
    to: list[str] = Field(min_length=1)
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    format: Literal["text", "html", "markdown"] = "markdown"


def _run(params: BaseModel, ctx: ActionContext) -> StepResult:
    return StepResult(output=params.model_dump(mode="json"))


STAND_INS: dict[str, type[BaseModel]] = {
    "create_plan": PlanParams,
    "add_items_to_plan": AddItemsParams,
    "call_webhook": WebhookParams,
    "send_email": EmailParams,
}


def _register(monkeypatch: pytest.MonkeyPatch, names: dict[str, type[BaseModel]]) -> None:
    """Register each stand-in such that monkeypatch removes it again at teardown."""
    for name, params in names.items():
        monkeypatch.delitem(registry._ACTIONS, name, raising=False)
        entry = register_action(name, params, _run, f"stand-in {name}")
        del registry._ACTIONS[name]
        monkeypatch.setitem(registry._ACTIONS, name, entry)  # absent before: deleted at teardown


@pytest.fixture
def stub_actions(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, type[BaseModel]]]:
    """The stand-ins under test names (``plan_stub``, ``items_stub``, ``webhook_stub``, ``email_stub``)."""
    names = {
        "plan_stub": PlanParams,
        "items_stub": AddItemsParams,
        "webhook_stub": WebhookParams,
        "email_stub": EmailParams,
    }
    _register(monkeypatch, names)
    yield names


@pytest.fixture
def stand_ins_for_examples(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The stand-ins under the real action names, where those are not registered yet."""
    registry.load_builtin_actions()
    missing = {name: params for name, params in STAND_INS.items() if name not in registry._ACTIONS}
    if not missing:
        pytest.skip("the real actions are registered: test_the_examples_validate checks the examples")
    _register(monkeypatch, missing)
    yield None


@pytest.fixture
def example_actions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The real actions where registered, the stand-ins for the others."""
    registry.load_builtin_actions()
    _register(monkeypatch, {n: p for n, p in STAND_INS.items() if n not in registry._ACTIONS})
    yield None


# -- the runner's and the triggers' tests: a workflow store and a test action that records effects --


@pytest.fixture
def effects(monkeypatch: pytest.MonkeyPatch) -> Effects:
    return register_effects(monkeypatch)


@pytest.fixture
def workflows(store_url: str, effects: Effects) -> Iterator[WorkflowStore]:
    store = StateStore(store_url)
    try:
        yield WorkflowStore(store)
    finally:
        store.dispose()
