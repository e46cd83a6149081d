"""Issue 14: a schedule-triggered workflow over ``skus`` items with 5 steps, against the sandbox over HTTP.

Part 1 evaluates the trigger (every item fires) and counts the Wawi requests the entity read made
against the lower bound: one paged listing each of items, stocks and categories (ceil(n / 1000)) and
one of manufacturers. Part 2 records ``runs`` of those firings and executes them with the runner (no
Prefect: the flow adds a task run per step on top, measured by tests/flows, not here), and calls the
same 5 steps directly (the action with its effect key, nothing recorded) as the baseline; the
difference per step is the runner's overhead: reading the run, filling and validating the templates,
and recording the step's start and end in the state database.
"""

from __future__ import annotations

import math
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from benchmarks._common import Metric, Result, fmt_int, fmt_s, serve_sandbox, served_by_api
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate

NAME = "workflow_runner"
TITLE = "workflow_runner: a schedule-triggered workflow over 100,000 items with 5 steps (issue 14)"
PAGE = 1000
STEPS = 5


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str


def _register() -> str:
    """A local side effect through the ledger (no HTTP: the request count stays the entity read's)."""
    import jtl_automator.workflows.actions as registry
    from jtl_automator.workflows.actions import ActionContext, StepResult, register_action

    name = "benchmark_effect"

    def run(params: _Params, ctx: ActionContext) -> StepResult:
        fresh = ctx.store.run_once(ctx.effect_key, "benchmark", lambda: {"label": params.label})
        return StepResult(output={"label": params.label}, effects=(ctx.effect_key,) if fresh else ())

    if name not in registry._ACTIONS:
        register_action(name, _Params, run, "benchmark side effect")
    return name


def _document(action: str) -> str:
    nodes = "\n".join(
        f'  - id: s{i}\n    action: {action}\n    with: {{label: "{{{{ trigger.sku }}}}-{i}"}}'
        for i in range(STEPS)
    )
    return (
        'name: bench\nstatus: active\ntrigger:\n  entity: item\n  schedule: {cron: "0 6 * * 1"}\n'
        f"nodes:\n{nodes}\n"
    )


def run(skus: int = 100_000, runs: int = 300) -> Result:
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.sandbox.server import credentials_env
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore
    from jtl_automator.workflows.actions import ActionContext, get_action
    from jtl_automator.workflows.entities import WawiEntitySource
    from jtl_automator.workflows.loader import LoadedWorkflow, parse_workflow
    from jtl_automator.workflows.runner import Runner, effect_key, record_runs
    from jtl_automator.workflows.store import WorkflowStore
    from jtl_automator.workflows.triggers import evaluate

    action = _register()
    config = SandboxConfig()
    data = generate(seed=14, skus=skus, orders=10, customers=10)
    items = len(data.wawi.items)
    stock_rows = len(data.wawi.stocks)
    categories = len(data.wawi.categories)
    lower = math.ceil(items / PAGE) + math.ceil(stock_rows / PAGE) + max(1, math.ceil(categories / PAGE)) + 1
    raw: dict[str, Any] = {"items": items, "stock_rows": stock_rows, "lower_bound": lower}
    with tempfile.TemporaryDirectory() as tmp, serve_sandbox(data, config) as (info, state, _):
        env = credentials_env(info.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(wawi_rate_per_second=1_000_000.0, wawi_page_size=PAGE)
        settings = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{Path(tmp) / 'state.db'}")
        workflows = WorkflowStore(store)
        workflows.sync([LoadedWorkflow(Path("/bench.yaml"), parse_workflow(_document(action)))])
        version, workflow = workflows.definition("bench")
        with WawiClient.from_settings(settings) as wawi:
            before = served_by_api(state)["wawi"]
            start = time.perf_counter()
            evaluation = evaluate(
                workflow, version, source=WawiEntitySource(wawi, store), store=store, manual=True
            )
            raw["evaluate_seconds"] = time.perf_counter() - start
            raw["requests"] = served_by_api(state)["wawi"] - before
        raw["firings"] = len(evaluation.firings)
        evaluation.firings = evaluation.firings[:runs]
        started = record_runs(workflows, evaluation)
        runner = Runner(workflows)
        start = time.perf_counter()
        for run_id in started.to_run:
            runner.execute(run_id)
        raw["runner_seconds"] = time.perf_counter() - start
        run_action = get_action(action)
        now = datetime.now(UTC)
        start = time.perf_counter()
        for firing in evaluation.firings:
            for i in range(STEPS):
                ctx = ActionContext(
                    store, "direct", effect_key("direct", 1, firing.trigger_key, f"s{i}"), now
                )
                run_action.run(_Params(label=f"{firing.entity_key}-{i}"), ctx)
        raw["direct_seconds"] = time.perf_counter() - start
        raw["runs"] = len(started.to_run)
        store.dispose()
    steps = max(1, raw["runs"] * STEPS)
    per_runner = raw["runner_seconds"] / steps
    per_direct = raw["direct_seconds"] / steps
    raw["overhead_ms_per_step"] = (per_runner - per_direct) * 1000
    metrics = [
        Metric("items (Wawi)", fmt_int(items)),
        Metric(
            "entity read: Wawi requests",
            fmt_int(raw["requests"]),
            f"= {fmt_int(lower)} (lower bound)",
            raw["requests"] <= lower,
        ),
        Metric("trigger evaluation", fmt_s(raw["evaluate_seconds"])),
        Metric("firings (items with a SKU, no variants)", fmt_int(raw["firings"])),
        Metric("runs executed (5 steps each)", fmt_int(raw["runs"])),
        Metric("runner, per step", f"{per_runner * 1000:.1f} ms"),
        Metric("same steps called directly, per step", f"{per_direct * 1000:.1f} ms"),
        Metric("runner overhead, per step", f"{raw['overhead_ms_per_step']:.1f} ms"),
    ]
    notes = [
        "The overhead is mostly the two writes that record a step (start with its resolved inputs, end "
        "with its output) on SQLite; the direct calls pay only the side-effect ledger's claim and "
        "completion. Prefect adds a task run per step on top (not measured here).",
    ]
    return Result(NAME, TITLE, {"skus": skus, "runs": runs}, metrics, notes, raw)
