"""Issue 14: a schedule-triggered workflow over ``skus`` items with 5 steps, against the sandbox over HTTP.

Part 1 evaluates the trigger (every item fires) and counts the Wawi requests the entity read made
against the lower bound: one paged listing each of items, stocks and categories (ceil(n / 1000)) and
one of manufacturers. Part 2 records a sample of those firings as runs whose 5 steps each call a
webhook (``call_webhook``: one real HTTP side effect per step, to a counting receiver on loopback) and
executes them three ways: the same 5 actions called directly (effect key, nothing recorded), the
runner without Prefect, and the real ``workflow-run`` flow under Prefect's test harness (one flow run
per workflow run, each step a task run; fewer runs, as every flow run pays Prefect's own overhead).
The per-step differences are the runner's overhead (reading the run, templates, recording each step)
and Prefect's on top. Every request of the whole benchmark is counted: the sandbox's Wawi and FFN
counters plus the receiver's, which must equal the lower bound plus one per side effect done.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks._common import (
    Metric,
    Result,
    client_env,
    fmt_int,
    fmt_s,
    in_subprocess,
    serve_sandbox,
    served_by_api,
)
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate

NAME = "workflow_runner"
TITLE = "workflow_runner: a schedule-triggered workflow over 100,000 items with 5 steps (issue 14)"
PAGE = 1000
STEPS = 5


class _Receiver:
    """A webhook receiver on loopback that counts what arrives (deliveries and distinct idempotency keys)."""

    def __init__(self) -> None:
        self.requests = 0
        self.keys: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests += 1
                    receiver.keys.add(self.headers.get("Idempotency-Key", ""))
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def _receiving() -> Iterator[_Receiver]:
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def _document(hook: str) -> str:
    nodes = "\n".join(
        f"  - id: s{i}\n    action: call_webhook\n"
        f'    with: {{url: "{hook}/hook/s{i}", body: {{item: "{{{{ trigger.sku }}}}", step: {i}}}}}'
        for i in range(STEPS)
    )
    return (
        'name: bench\nstatus: active\ntrigger:\n  entity: item\n  schedule: {cron: "0 6 * * 1"}\n'
        f"nodes:\n{nodes}\n"
    )


def _with_prefect(env: dict[str, str], run_ids: list[str]) -> dict[str, Any]:
    """Client process: each run as a ``workflow-run`` flow run under the test harness (start-up untimed)."""
    os.environ.update(env)
    import logging

    from prefect.testing.utilities import prefect_test_harness

    from flows.workflows import workflow_run

    logging.getLogger("prefect").setLevel(logging.WARNING)
    seconds: list[float] = []
    statuses: dict[str, int] = {}
    with prefect_test_harness(server_startup_timeout=180):
        for run_id in run_ids:
            start = time.perf_counter()
            out = workflow_run(run_id)
            seconds.append(time.perf_counter() - start)
            statuses[out["status"]] = statuses.get(out["status"], 0) + 1
    return {"seconds": seconds, "statuses": statuses}


def _prefect_env(base: dict[str, str], home: str) -> dict[str, str]:
    """A throwaway Prefect home with analytics off, as the tests and the demo run Prefect."""
    return {
        **base,
        "PREFECT_HOME": home,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }


def _statuses(workflows: Any, run_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run_id in run_ids:
        status = workflows.get_run(run_id).status.value
        counts[status] = counts.get(status, 0) + 1
    return counts


def run(skus: int = 100_000, runs: int = 300, prefect_runs: int = 60) -> Result:
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore
    from jtl_automator.workflows.actions import ActionContext, get_action
    from jtl_automator.workflows.actions.webhook import CallWebhookParams
    from jtl_automator.workflows.entities import WawiEntitySource
    from jtl_automator.workflows.loader import LoadedWorkflow, parse_workflow
    from jtl_automator.workflows.runner import Runner, effect_key, record_runs
    from jtl_automator.workflows.store import WorkflowStore
    from jtl_automator.workflows.triggers import evaluate

    config = SandboxConfig()
    data = generate(seed=14, skus=skus, orders=10, customers=10)
    items = len(data.wawi.items)
    stock_rows = len(data.wawi.stocks)
    categories = len(data.wawi.categories)
    lower = math.ceil(items / PAGE) + math.ceil(stock_rows / PAGE) + max(1, math.ceil(categories / PAGE)) + 1
    raw: dict[str, Any] = {"items": items, "stock_rows": stock_rows, "lower_bound": lower}
    with (
        tempfile.TemporaryDirectory(prefix="bench-workflows-") as tmp,
        serve_sandbox(data, config) as (info, state, _),
        _receiving() as receiver,
    ):
        env = client_env(info, config, tmp)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(wawi_page_size=PAGE)
        settings = Settings(_env_file=None, **values)
        store = StateStore(settings.database_url)
        workflows = WorkflowStore(store)
        workflows.sync([LoadedWorkflow(Path("/bench.yaml"), parse_workflow(_document(receiver.url)))])
        version, workflow = workflows.definition("bench")
        served_before = served_by_api(state)
        with WawiClient.from_settings(settings) as wawi:
            start = time.perf_counter()
            evaluation = evaluate(
                workflow, version, source=WawiEntitySource(wawi, store), store=store, manual=True
            )
            raw["evaluate_seconds"] = time.perf_counter() - start
            raw["requests"] = served_by_api(state)["wawi"] - served_before["wawi"]
        raw["firings"] = len(evaluation.firings)
        evaluation.firings = evaluation.firings[: runs + prefect_runs]
        started = record_runs(workflows, evaluation)
        run_ids = list(started.to_run)
        by_runner, by_prefect = run_ids[:runs], run_ids[runs : runs + prefect_runs]
        raw["runs"], raw["prefect_runs"] = len(by_runner), len(by_prefect)

        # the same 5 actions called directly: no run, no step records, only the call and its ledger entry
        call = get_action("call_webhook")
        now = datetime.now(UTC)
        start = time.perf_counter()
        for firing in evaluation.firings[:runs]:
            sku = firing.trigger.get("sku", firing.entity_key)
            for i in range(STEPS):
                key = effect_key("direct", 1, firing.trigger_key, f"s{i}")
                params = CallWebhookParams(url=f"{receiver.url}/hook/s{i}", body={"item": sku, "step": i})
                call.run(params, ActionContext(store, "direct", key, now))
        raw["direct_seconds"] = time.perf_counter() - start

        runner = Runner(workflows)
        start = time.perf_counter()
        for run_id in by_runner:
            runner.execute(run_id)
        raw["runner_seconds"] = time.perf_counter() - start
        raw["runner_statuses"] = _statuses(workflows, by_runner)

        if by_prefect:
            with tempfile.TemporaryDirectory(prefix="bench-prefect-home-") as home:
                flow = in_subprocess(_with_prefect, _prefect_env(env, home), by_prefect)
            raw["prefect_seconds"] = sum(flow["seconds"])
            raw["prefect_first_seconds"] = flow["seconds"][0]
            raw["prefect_flow_statuses"] = flow["statuses"]
            raw["prefect_statuses"] = _statuses(workflows, by_prefect)
        served = served_by_api(state) - served_before
        raw["served"] = dict(served)
        raw["receiver_requests"] = receiver.requests
        raw["receiver_keys"] = len(receiver.keys)
        store.dispose()
    raw["side_effects"] = (raw["runs"] * 2 + raw["prefect_runs"]) * STEPS
    raw["requests_total"] = sum(raw["served"].values()) + raw["receiver_requests"]
    expected = lower + raw["side_effects"]
    return _result(skus, runs, prefect_runs, raw, expected)


def _per_step_ms(seconds: float, runs: int) -> float:
    return seconds / max(1, runs * STEPS) * 1000


def _result(skus: int, runs: int, prefect_runs: int, raw: dict[str, Any], expected: int) -> Result:
    per_direct = _per_step_ms(raw["direct_seconds"], raw["runs"])
    per_runner = _per_step_ms(raw["runner_seconds"], raw["runs"])
    raw["overhead_ms_per_step"] = per_runner - per_direct
    completed = raw["runner_statuses"] == {"completed": raw["runs"]}
    metrics = [
        Metric("items (Wawi)", fmt_int(raw["items"])),
        Metric(
            "entity read: Wawi requests",
            fmt_int(raw["requests"]),
            f"= {fmt_int(raw['lower_bound'])} (lower bound)",
            raw["requests"] <= raw["lower_bound"],
        ),
        Metric("trigger evaluation", fmt_s(raw["evaluate_seconds"])),
        Metric("firings (items with a SKU, no variants)", fmt_int(raw["firings"])),
        Metric(
            "side effects done (webhook calls: direct + runner + Prefect)",
            f"{fmt_int(raw['side_effects'])} ({raw['runs']:,} + {raw['runs']:,} + {raw['prefect_runs']:,} "
            f"runs x {STEPS})",
            f"= {fmt_int(raw['receiver_keys'])} distinct keys received",
            raw["receiver_keys"] == raw["side_effects"],
        ),
        Metric(
            "requests of the whole benchmark (sandbox + receiver)",
            f"{fmt_int(raw['requests_total'])} ("
            + ", ".join(f"{k} {v:,}" for k, v in sorted(raw["served"].items()))
            + f", receiver {raw['receiver_requests']:,})",
            f"= {fmt_int(expected)} (lower bound + 1 per side effect)",
            raw["requests_total"] == expected,
        ),
        Metric(
            "runs completed: runner",
            ", ".join(f"{k} {v:,}" for k, v in raw["runner_statuses"].items()),
            f"all {raw['runs']:,}",
            completed,
        ),
        Metric("same steps called directly, per step", f"{per_direct:.1f} ms"),
        Metric("runner without Prefect, per step", f"{per_runner:.1f} ms"),
        Metric("runner overhead (without Prefect), per step", f"{raw['overhead_ms_per_step']:.1f} ms"),
    ]
    if raw["prefect_runs"]:
        per_prefect = _per_step_ms(raw["prefect_seconds"], raw["prefect_runs"])
        raw["prefect_overhead_ms_per_step"] = per_prefect - per_direct
        metrics += [
            Metric(
                "runs completed: workflow-run flow",
                ", ".join(f"{k} {v:,}" for k, v in raw["prefect_statuses"].items()),
                f"all {raw['prefect_runs']:,}",
                raw["prefect_statuses"] == {"completed": raw["prefect_runs"]},
            ),
            Metric("workflow-run flow (Prefect), per step", f"{per_prefect:.1f} ms"),
            Metric(
                "runner overhead with Prefect, per step (vs direct)", f"{per_prefect - per_direct:.1f} ms"
            ),
            Metric("  of which Prefect's (vs the runner without it)", f"{per_prefect - per_runner:.1f} ms"),
            Metric(
                "workflow-run flow run: first / mean",
                f"{fmt_s(raw['prefect_first_seconds'])} / "
                f"{fmt_s(raw['prefect_seconds'] / raw['prefect_runs'])}",
            ),
        ]
    notes = [
        f"The entity read covers all {fmt_int(raw['firings'])} firings; the runs are a sample: "
        f"{raw['runs']:,} runs ({raw['runs'] * STEPS:,} steps) direct and through the runner, "
        f"{raw['prefect_runs']:,} runs ({raw['prefect_runs'] * STEPS:,} steps) through the flow, each its "
        "own flow run with a task run per step plus begin, finish and the artifact.",
        "Each step is a call_webhook to a receiver on loopback (plain url, no shared HTTP client, the same "
        "in all three ways); direct calls pay the call and the side-effect ledger's claim and completion, "
        "the runner adds reading the run, filling and validating templates and recording each step's start "
        "and end on SQLite; the flow adds Prefect's task runs and its clients per flow run. The flow time is "
        "the flow call, the harness's start-up excluded; the per-step figure spreads the whole flow run.",
        "Requests: the sandbox's own counters (Wawi, and FFN or token calls made by the flow's clients) "
        "plus the receiver's deliveries; no retry happened when the total equals lower bound + side effects.",
    ]
    params = {"skus": skus, "runs": runs, "prefect_runs": prefect_runs}
    return Result(NAME, TITLE, params, metrics, notes, raw)
