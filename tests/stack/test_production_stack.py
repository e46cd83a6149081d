"""The production stack, started here: runs complete, the limit holds, a crashed worker ships nothing twice.

One scenario on the stack of ``conftest.py`` (Prefect server on PostgreSQL with basic auth, two process
workers, the deployments registered by ``jtl-automator stack setup``):

1. Two order-processing runs are triggered at once; FFN answers each outbound create after a second (a
   sandbox latency rule), so the fulfilment stage lasts long enough to be hit.
2. While the running order-processing run is in its fulfilment stage, its worker is killed with SIGKILL,
   together with the flow run it started (a machine or container dying). The API still says Running: a
   dead worker reports nothing; the dead run keeps the deployment's slot, so a new run is refused.
3. As Prefect's zombie detection (or an operator) does, the run is marked Crashed; then ``prefect
   flow-run retry`` puts it back and the surviving worker finishes it. A fresh run follows (the next
   schedule) and must create nothing.
4. A run of the every-minute ``gateway-drain`` schedule, due within the test, completes too (then that
   deployment is paused). Order processing's own schedule is switched off for the test, so its runs are
   the ones the test starts.

Checks: every run completed, except runs the deployment's limit of 1 cancelled (CANCEL_NEW) while another run
of it held the slot; no two runs of a deployment were ever running at once (from the API's state history);
each order has exactly one FFN outbound and the order ledger names that outbound.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployments.stack import StackError, check_api
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, INVOICE_METHOD_ID
from jtl_automator.store import StateStore
from tests.stack.conftest import TERMINAL, Stack, parse_time

# The stack's start (2-3.5 min on the loaded build machine) counts against the first test's timeout.
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

ORDER_PARAMS = {
    "since": (DEFAULT_BASE_DATE - timedelta(days=11)).isoformat(),
    "params": {
        "validation": {"invoice_payment_method_ids": [INVOICE_METHOD_ID]},
        # A crashed run's lease in the state database frees itself within 20 s (production: 120 s).
        "lease_ttl_seconds": 20,
        "lease_heartbeat_seconds": 5,
    },
}
SLOW_OUTBOUNDS = FaultProfile(
    name="slow-outbound-creates",
    rules=(
        FaultRule(fault="latency", route="^/api/v1/merchant/outbounds$", methods=("POST",), latency_ms=1000),
    ),
)
LIMIT_MESSAGE = "Deployment concurrency limit reached."


def _outbounds(stack: Stack) -> Counter[str]:
    return Counter(o["merchantOutboundNumber"] for o in list(stack.sandbox.data.ffn.outbounds.values()))


def _intervals(stack: Stack, run: dict[str, Any], types: set[str]) -> list[tuple[datetime, datetime]]:
    """The stretches a run spent in these state types (a retried run has two), from its state history."""
    intervals = []
    start: datetime | None = None
    for state in stack.states(run["id"]):
        moment = parse_time(state["timestamp"])
        if state["type"] in types:
            start = start or moment
        elif start is not None:
            intervals.append((start, moment))
            start = None
    if start is not None:
        intervals.append((start, datetime.now(UTC)))
    return intervals


def _table(stack: Stack, runs: list[dict[str, Any]]) -> str:
    """Runs and their state histories, for a failing assertion."""
    return "\n".join(
        f"{r['name']} {r['deployment_id'][:8]} "
        + " ".join(f"{s['type']}@{s['timestamp'][11:23]}" for s in stack.states(r["id"]))
        for r in runs
    )


class ScheduleWatch(threading.Thread):
    """Waits for a run of a deployment's schedule to complete, then pauses the deployment.

    Pausing deletes its future runs: an every-minute schedule has proved itself after one run, and more
    runs would only load the machine while the rest of the test runs.
    """

    def __init__(self, stack: Stack, deployment_id: str, timeout: float = 420) -> None:
        super().__init__(daemon=True)
        self.stack, self.deployment_id, self.timeout = stack, deployment_id, timeout
        self.completed: dict[str, Any] | None = None

    def run(self) -> None:
        """Poll every 2 s until a due, auto-scheduled run is Completed (or the time is up)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and self.completed is None:
            now = datetime.now(UTC)
            for run in self.stack.flow_runs([self.deployment_id]):
                due = parse_time(run["expected_start_time"])
                if (
                    run["auto_scheduled"]
                    and due is not None
                    and due <= now
                    and run["state_type"] == "COMPLETED"
                ):
                    self.completed = run
                    break
            else:
                time.sleep(2)
        self.stack.call("POST", f"/deployments/{self.deployment_id}/pause_deployment")


def _crash_and_retry(stack: Stack, run_id: str) -> None:
    """Mark a run whose process died Crashed (as zombie detection does); ``prefect flow-run retry`` it."""
    with stack.api() as http:
        crashed = http.post(
            f"/flow_runs/{run_id}/set_state",
            json={"state": {"type": "CRASHED", "message": "its worker was killed"}, "force": True},
        )
    assert crashed.status_code in (200, 201) and crashed.json()["status"] == "ACCEPT", crashed.text
    retried = stack.prefect("flow-run", "retry", run_id)
    assert retried.returncode == 0, retried.stdout + retried.stderr


def test_stack_refuses_anonymous_calls_and_keeps_secrets_in_blocks(production_stack: Stack) -> None:
    stack = production_stack
    api = stack.api_url
    assert httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).status_code == 401
    assert (
        httpx.post(f"{api}/flow_runs/filter", json={}, auth=("stack-admin", "wrong"), timeout=10).status_code
        == 401
    )
    assert httpx.get(f"{api}/health", timeout=10).status_code == 200  # probes stay open, nothing else
    with stack.api() as http:
        assert http.post("/flow_runs/filter", json={"limit": 1}).status_code == 200
        ffn = http.post(
            "/block_documents/filter", json={"block_documents": {"name": {"any_": ["ffn"]}}}
        ).json()
    secret = stack.sandbox_env["JTL_FFN_CLIENT_SECRET"]
    assert ffn and secret not in str(ffn)  # the API masks block secrets
    for worker in stack.workers:
        environ = f"/proc/{worker.popen.pid}/environ"
        with open(environ, "rb") as handle:
            assert secret.encode() not in handle.read()  # workers get the blocks' names, never the secrets
    setup_log = (stack.tmp / "setup.log").read_text()
    assert "(refuses calls without credentials)" in setup_log and secret not in setup_log


def test_runs_complete_the_limit_holds_and_a_killed_worker_processes_no_order_twice(
    production_stack: Stack,
) -> None:
    stack = production_stack
    assert stack.online_workers() == ["stack-worker-1", "stack-worker-2"]
    orders = stack.deployment("order-processing", "order-processing")
    drain = stack.deployment("gateway-drain", "gateway-drain")
    scheduled = ScheduleWatch(stack, drain["id"])
    scheduled.start()
    # The schedule under test is the drain's; order processing's (every 10 minutes) would start runs at
    # moments the test does not choose, so it is switched off, and a run it started already ends first.
    stack.deactivate_schedules(orders["id"])
    stack.wait_idle(orders["id"])
    before = _outbounds(stack)
    set_profile(stack.sandbox, SLOW_OUTBOUNDS)

    pair = [stack.run_deployment("order-processing", "order-processing", ORDER_PARAMS) for _ in range(2)]

    # 1-2. Wait for the fulfilment stage (a new outbound exists, more are coming), then kill that worker.
    deadline = time.monotonic() + 180
    while True:
        runs = [stack.flow_run(run_id) for run_id in pair]
        running = [r for r in runs if r["state_type"] == "RUNNING"]
        new = sum((_outbounds(stack) - before).values())
        if running and new >= 1:
            break
        assert not any(r["state_type"] == "COMPLETED" for r in runs), "the run finished before the kill"
        assert time.monotonic() < deadline, "no run reached its fulfilment stage\n" + stack.diagnostics()
        time.sleep(0.2)
    victim = running[0]
    while not victim.get("infrastructure_pid"):  # the worker records the pid just after the start
        time.sleep(0.2)
        victim = stack.flow_run(victim["id"])
    worker = stack.worker_of(victim)
    killed = set(worker.kill_tree())
    at_kill = sum((_outbounds(stack) - before).values())
    assert int(victim["infrastructure_pid"]) in killed
    assert stack.flow_run(victim["id"])["state_type"] == "RUNNING"  # nobody told the server
    set_profile(stack.sandbox, "none")
    # The dead run still holds the deployment's slot: the next run (as the schedule would start) is refused.
    blocked = stack.wait(stack.run_deployment("order-processing", "order-processing", ORDER_PARAMS), 120)
    assert (blocked["state_type"], blocked["state"]["message"]) == ("CANCELLED", LIMIT_MESSAGE)

    # 3. Crashed (what zombie detection sets), then the operator's retry; the other worker takes it. A
    # scheduled drain the killed worker was running is a zombie too and is treated the same way.
    zombies = [
        r
        for r in stack.flow_runs([orders["id"], drain["id"]])
        if r["state_type"] in ("PENDING", "RUNNING")
        and r["infrastructure_pid"]
        and int(r["infrastructure_pid"]) in killed
    ]
    assert victim["id"] in {z["id"] for z in zombies}
    for zombie in zombies:
        _crash_and_retry(stack, zombie["id"])
    assert stack.wait(victim["id"], timeout=240)["state_type"] == "COMPLETED"
    rerun = stack.run_deployment("order-processing", "order-processing", ORDER_PARAMS)
    assert stack.wait(rerun, timeout=180)["state_type"] == "COMPLETED"

    # 4. The gateway outbox's schedule (every minute) fired within the test and its run completed.
    scheduled.join(timeout=240)
    assert scheduled.completed, "no scheduled gateway-drain run completed\n" + stack.diagnostics()

    # Every run completed, or was refused by the limit while another run of its deployment held the slot.
    now = datetime.now(UTC)
    due = [
        r["id"]
        for r in stack.flow_runs([orders["id"], drain["id"]])
        if parse_time(r["expected_start_time"]) <= now
    ]
    runs = [stack.wait(run_id, timeout=120) for run_id in due]
    # A run holds its deployment's slot from Pending until it leaves Running; it runs while Running.
    holding = {r["id"]: _intervals(stack, r, {"PENDING", "RUNNING", "CANCELLING"}) for r in runs}
    running_spans = {r["id"]: _intervals(stack, r, {"RUNNING"}) for r in runs}
    table = _table(stack, runs)
    for run in runs:
        if run["state_type"] in TERMINAL - {"COMPLETED"}:
            assert run["state_type"] == "CANCELLED" and run["state"]["message"] == LIMIT_MESSAGE, table
            refused = parse_time(run["state"]["timestamp"])
            holders = [
                other
                for other in runs
                if other["deployment_id"] == run["deployment_id"]
                and any(a <= refused <= b for a, b in holding[other["id"]])
            ]
            assert holders, f"{run['name']} cancelled while no run of its deployment held the slot\n{table}"
        else:
            assert run["state_type"] == "COMPLETED", table
    assert {stack.flow_run(r)["state_type"] for r in pair} <= {"COMPLETED", "CANCELLED"}
    # The limit of 1 held across both workers: no two runs of one deployment were ever running at once.
    for deployment in (orders["id"], drain["id"]):
        spans = sorted(
            span for r in runs if r["deployment_id"] == deployment for span in running_spans[r["id"]]
        )
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, f"two runs of one deployment were running at once\n{table}"

    # No order processed twice: one outbound per order number, and the ledger names exactly those outbounds.
    after = _outbounds(stack)
    assert set(after.values()) == {1}, [n for n, c in after.items() if c > 1]
    created = sum((after - before).values())
    assert 1 <= at_kill < created  # the kill fell into the fulfilment stage, the retry finished it
    store = StateStore(stack.state_db_url)
    try:
        ledger = {r.order_number: r for r in store.orders_in_status(["outbound_created", "shipped"])}
        by_number = {
            o["merchantOutboundNumber"]: o["outboundId"] for o in stack.sandbox.data.ffn.outbounds.values()
        }
        new_numbers = set(after - before)
        assert new_numbers <= set(ledger)
        assert set(ledger) <= set(by_number)  # every order the ledger says went out has its outbound
        assert all(ledger[n].outbound_id == by_number[n] for n in ledger)
        for number in new_numbers:
            events = [e for e, _ in store.order_events(number) if e == "outbound_created"]
            assert len(events) == 1, (number, events)
    finally:
        store.dispose()
    print(
        f"stack timings (s): {stack.setup_seconds}; killed {worker.name} at {at_kill}/{created} new outbounds"
    )


def test_setup_checks_the_credentials_against_the_server(production_stack: Stack) -> None:
    url = production_stack.api_url
    with pytest.raises(StackError) as raised:
        check_api(url, "stack-admin:wrong", wait_seconds=10)
    assert str(raised.value) == (
        f"the Prefect API at {url} refused PREFECT_API_AUTH_STRING: it must equal the server's "
        "PREFECT_SERVER_API_AUTH_STRING"
    )
    with pytest.raises(StackError, match="wants credentials: set PREFECT_API_AUTH_STRING"):
        check_api(url, None, wait_seconds=10)
    assert check_api(url, production_stack.auth_string, wait_seconds=10) is True  # anonymous refused


def test_a_run_failing_on_a_worker_raises_the_alert_the_automations_define(
    production_stack: Stack, tmp_path: Path
) -> None:
    """Alerts as code on the production server: applied by the CLI, raised by a worker's failed run."""
    import secrets
    import textwrap

    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings
    from pydantic import SecretStr

    from blocks import WebhookEndpoint

    stack = production_stack
    receiver = stack.sandbox_env["JTL_FFN_BASE_URL"].removesuffix("/api") + "/_sandbox/receiver/alerts"
    key = secrets.token_hex(32)
    with temporary_settings({PREFECT_API_URL: stack.api_url, PREFECT_API_AUTH_STRING: stack.auth_string}):
        WebhookEndpoint(url=SecretStr(receiver), auth="hmac", secret=SecretStr(key)).save(
            "stack-alerts", overwrite=True
        )
    (tmp_path / "alerts.yaml").write_text(
        textwrap.dedent(
            """\
            channels:
              ops-webhook: {type: webhook, webhook_block: stack-alerts}
            alerts:
              - {name: run-failed, kind: run-failed, deployments: [order-processing], notify: [ops-webhook]}
            """
        )
    )
    applied = stack.cli("automations", "apply", "--config", str(tmp_path), name="automations")
    assert applied.returncode == 0, applied.stdout + applied.stderr

    orders = stack.deployment("order-processing", "order-processing")
    stack.deactivate_schedules(orders["id"])
    stack.wait_idle(orders["id"])
    run_id = stack.run_deployment("order-processing", "order-processing", {"wawi_block": "no-such-block"})
    run = stack.wait(run_id, timeout=240)
    assert run["state_type"] == "FAILED", stack.diagnostics()

    deadline = time.monotonic() + 120
    hooks: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not hooks:
        hooks = [
            r
            for r in list(stack.sandbox.runtime.received)
            if r["path"] == "/alerts" and run["name"] in str(r["body"].get("subject", ""))
        ]
        time.sleep(1)
    assert hooks, f"no alert for the failed run {run['name']} within 120 s\n{stack.diagnostics()}"
    assert hooks[0]["signed"] and "order-processing" in hooks[0]["body"]["subject"]
    assert key not in str(hooks)
