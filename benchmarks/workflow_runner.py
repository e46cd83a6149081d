"""Issue 14: a schedule-triggered workflow over ``skus`` items with 5 steps, against the sandbox over HTTP.

Part 1 evaluates the trigger (every item fires) and counts the Wawi requests the entity read made
against the lower bound: one paged listing each of items, stocks and categories (ceil(n / 1000)) and
one of manufacturers. Part 2 records a sample of those firings as runs whose 5 steps each call a
webhook (``call_webhook``: one real HTTP side effect per step, to a counting receiver on loopback) and
executes them three ways: the same 5 actions called directly (effect key, nothing recorded), the
runner without Prefect, and the real ``workflow-run`` flow under Prefect's test harness (one flow run
per workflow run, each step a task run; fewer runs, as every flow run pays Prefect's own overhead).
The per-step differences are the runner's overhead (reading the run, templates, recording each step)
and Prefect's on top. Part 3 runs more firings through Prefect batched as the tick runs them
(``workflow-batch``: up to ``batch_size`` runs per flow run, one task run per node across the batch),
and, to decide between the two shapes, a sample as one flow run with a task run per step of every run;
each way's wall time per workflow run and the Prefect server's CPU per workflow run (read from /proc,
including the backlog its task-run recorder works off after the flow returned). Every request of the
whole benchmark is counted: the sandbox's Wawi and FFN counters plus the receiver's, which must equal
the lower bound plus one per side effect done.
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
    fmt_x,
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


def _server_pids() -> list[int]:
    """The harness's server: processes whose parent is this one."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me:
                found.append(int(entry.name))
    return found


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` so far (0 for one that is gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _settled_cpu(pids: list[int], limit: float = 300.0) -> float:
    """The server's CPU once it went quiet (its task-run recorder works off a backlog after a flow)."""
    deadline = time.monotonic() + limit
    before = _cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(2.0)
        now = _cpu_seconds(pids)
        if now - before < 0.1:
            return now
        before = now
    return before


def _with_prefect(
    env: dict[str, str],
    run_ids: list[str],
    per_step_ids: list[str],
    batch_ids: list[str],
    batch_size: int,
) -> dict[str, Any]:
    """Client process: the three ways through Prefect under the test harness (start-up untimed).

    One ``workflow-run`` flow run per workflow run (what the tick did before batching); one flow run with
    a task run per step of every run (the shape not chosen); ``workflow-batch`` flow runs of
    ``batch_size`` runs (what the tick does).
    """
    os.environ.update(env)
    import logging

    from prefect import flow
    from prefect.runtime import flow_run
    from prefect.testing.utilities import prefect_test_harness

    from flows.workflows import workflow_batch, workflow_run
    from jtl_automator.workflows.runner import Runner
    from jtl_automator.workflows.store import WorkflowStore
    from tasks.resources import RunBlocks, as_is, run_clients, workflow_resources
    from tasks.workflows import workflow_begin, workflow_finish, workflow_step

    @flow(name="workflow-per-step-tasks")
    def per_step_tasks(ids: list[str]) -> dict[str, int]:
        flow_id = str(flow_run.get_id() or "")
        with (
            run_clients(RunBlocks(None, None, None, None, None), flow_id) as clients,
            workflow_resources(clients.store, clients.ffn, clients.wawi, datetime.now(UTC)) as resources,
        ):
            runner = Runner(WorkflowStore(clients.store), resources)
            counts: dict[str, int] = {}
            for run_id in ids:
                for node in workflow_begin(as_is(runner), run_id, flow_id):
                    workflow_step(as_is(runner), run_id, node)
                status = workflow_finish(as_is(runner), run_id).status.value
                counts[status] = counts.get(status, 0) + 1
        return counts

    logging.getLogger("prefect").setLevel(logging.WARNING)
    out: dict[str, Any] = {}
    with prefect_test_harness(server_startup_timeout=180):
        server = _server_pids()
        cpu = _settled_cpu(server)
        seconds: list[float] = []
        statuses: dict[str, int] = {}
        for run_id in run_ids:
            start = time.perf_counter()
            result = workflow_run(run_id)
            seconds.append(time.perf_counter() - start)
            statuses[result["status"]] = statuses.get(result["status"], 0) + 1
        after = _settled_cpu(server)
        out.update(seconds=seconds, statuses=statuses, server_cpu=after - cpu)
        if per_step_ids:
            start = time.perf_counter()
            out["per_step_statuses"] = per_step_tasks(per_step_ids)
            out["per_step_seconds"] = time.perf_counter() - start
            cpu, after = after, _settled_cpu(server)
            out["per_step_server_cpu"] = after - cpu
        batch_seconds: list[float] = []
        batch_statuses: dict[str, int] = {}
        for start_at in range(0, len(batch_ids), batch_size):
            chunk = batch_ids[start_at : start_at + batch_size]
            start = time.perf_counter()
            summary = workflow_batch("bench", 1, chunk)
            batch_seconds.append(time.perf_counter() - start)
            for key in ("completed", "failed", "other"):
                batch_statuses[key] = batch_statuses.get(key, 0) + int(summary[key])
        if batch_ids:
            cpu, after = after, _settled_cpu(server)
            out.update(
                batch_seconds=batch_seconds, batch_statuses=batch_statuses, batch_server_cpu=after - cpu
            )
    return out


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


def run(
    skus: int = 100_000,
    runs: int = 300,
    prefect_runs: int = 60,
    batch_runs: int = 2000,
    batch_size: int = 200,
    per_step_runs: int = 200,
) -> Result:
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
        evaluation.firings = evaluation.firings[: runs + prefect_runs + per_step_runs + batch_runs]
        start = time.perf_counter()
        started = record_runs(workflows, evaluation)
        raw["record_seconds"] = time.perf_counter() - start
        run_ids = list(started.to_run)
        by_runner, by_prefect = run_ids[:runs], run_ids[runs : runs + prefect_runs]
        rest = run_ids[runs + prefect_runs :]
        by_per_step, by_batch = rest[:per_step_runs], rest[per_step_runs : per_step_runs + batch_runs]
        raw["runs"], raw["prefect_runs"] = len(by_runner), len(by_prefect)
        raw["per_step_runs"], raw["batch_runs"], raw["batch_size"] = (
            len(by_per_step),
            len(by_batch),
            batch_size,
        )

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

        if by_prefect or by_per_step or by_batch:
            with tempfile.TemporaryDirectory(prefix="bench-prefect-home-") as home:
                flow = in_subprocess(
                    _with_prefect, _prefect_env(env, home), by_prefect, by_per_step, by_batch, batch_size
                )
        if by_prefect:
            raw["prefect_seconds"] = sum(flow["seconds"])
            raw["prefect_first_seconds"] = flow["seconds"][0]
            raw["prefect_flow_statuses"] = flow["statuses"]
            raw["prefect_statuses"] = _statuses(workflows, by_prefect)
            raw["prefect_server_cpu"] = flow["server_cpu"]
        if by_per_step:
            raw["per_step_seconds"] = flow["per_step_seconds"]
            raw["per_step_server_cpu"] = flow["per_step_server_cpu"]
            raw["per_step_statuses"] = _statuses(workflows, by_per_step)
        if by_batch:
            raw["batch_seconds"] = sum(flow["batch_seconds"])
            raw["batch_first_seconds"] = flow["batch_seconds"][0]
            raw["batch_flow_runs"] = len(flow["batch_seconds"])
            raw["batch_server_cpu"] = flow["batch_server_cpu"]
            raw["batch_statuses"] = _statuses(workflows, by_batch)
        served = served_by_api(state) - served_before
        raw["served"] = dict(served)
        raw["receiver_requests"] = receiver.requests
        raw["receiver_keys"] = len(receiver.keys)
        store.dispose()
    through_prefect = raw["prefect_runs"] + raw["per_step_runs"] + raw["batch_runs"]
    raw["side_effects"] = (raw["runs"] * 2 + through_prefect) * STEPS
    raw["requests_total"] = sum(raw["served"].values()) + raw["receiver_requests"]
    expected = lower + raw["side_effects"]
    sizes = {
        "skus": skus,
        "runs": runs,
        "prefect_runs": prefect_runs,
        "batch_runs": batch_runs,
        "batch_size": batch_size,
        "per_step_runs": per_step_runs,
    }
    return _result(sizes, raw, expected)


def _per_step_ms(seconds: float, runs: int) -> float:
    return seconds / max(1, runs * STEPS) * 1000


def _result(params: dict[str, int], raw: dict[str, Any], expected: int) -> Result:
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
            "side effects done (webhook calls: direct + runner + the ways through Prefect)",
            f"{fmt_int(raw['side_effects'])} ({raw['runs']:,} + {raw['runs']:,} + {raw['prefect_runs']:,} + "
            f"{raw['per_step_runs']:,} + {raw['batch_runs']:,} runs x {STEPS})",
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
    metrics += _prefect_ways(raw)
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
        f"Through Prefect, per workflow run: {raw['prefect_runs']:,} runs as a flow run each (the tick "
        f"before batching), {raw['per_step_runs']:,} as one flow run with a task run per step of every "
        f"run (7 per run), {raw['batch_runs']:,} as workflow-batch flow runs of {raw['batch_size']:,} "
        "(what the tick does: begin, a task run per node across the batch, finish, the artifact).",
        "Server CPU: the harness server's user + system time from /proc, read once it went quiet after "
        "each way (its task-run recorder works off a backlog after the flows return), per workflow run.",
    ]
    return Result(NAME, TITLE, dict(params), metrics, notes, raw)


def _prefect_ways(raw: dict[str, Any]) -> list[Metric]:
    """Per workflow run through Prefect: a flow run each, a task run per step, batched."""
    metrics: list[Metric] = []
    ways = [
        ("a flow run each", "prefect_runs", "prefect_seconds", "prefect_server_cpu", "prefect_statuses"),
        (
            "one flow run, a task run per step",
            "per_step_runs",
            "per_step_seconds",
            "per_step_server_cpu",
            "per_step_statuses",
        ),
        (
            f"batched, {raw.get('batch_size', 0):,} per flow run, a task run per node",
            "batch_runs",
            "batch_seconds",
            "batch_server_cpu",
            "batch_statuses",
        ),
    ]
    per_run: dict[str, float] = {}
    for label, count, seconds, cpu, statuses in ways:
        n = raw.get(count, 0)
        if not n:
            continue
        per_run[count] = raw[seconds] / n
        metrics.append(
            Metric(
                f"runs completed: {label}",
                ", ".join(f"{k} {v:,}" for k, v in raw[statuses].items()),
                f"all {n:,}",
                raw[statuses] == {"completed": n},
            )
        )
        metrics.append(
            Metric(
                f"through Prefect, {label}: per workflow run (wall / server CPU)",
                f"{fmt_s(per_run[count])} / {raw[cpu] / n * 1000:.0f} ms",
            )
        )
    if "batch_runs" in per_run:
        metrics.append(
            Metric(
                "workflow-batch flow run: first / mean",
                f"{fmt_s(raw['batch_first_seconds'])} / "
                f"{fmt_s(raw['batch_seconds'] / raw['batch_flow_runs'])}",
            )
        )
        if "prefect_runs" in per_run:
            ratio = per_run["prefect_runs"] / per_run["batch_runs"]
            metrics.append(
                Metric(
                    "batched vs a flow run each, per workflow run",
                    fmt_x(ratio),
                    "faster",
                    ratio > 1,
                )
            )
    return metrics
