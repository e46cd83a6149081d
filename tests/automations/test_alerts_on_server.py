"""The alert files applied to a real Prefect server: failing, crashed and late runs and breached SLAs
arrive as e-mail (the sandbox's SMTP server) and as webhook calls (the sandbox's receiver).

One server for the module (about 20 s to start); each test waits for what the server's triggers and
actions services deliver, so a broken trigger, template or block shows up as a missing alert.
"""

from __future__ import annotations

import email
import email.policy
import os
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.automations.conftest import ROOT, PrefectServer

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Receivers:
    """The sandbox's SMTP server and webhook receiver, and the secrets the blocks hold."""

    smtp: Any
    sandbox: Any
    base_url: str
    secrets: list[str]

    def mails(self) -> list[email.message.EmailMessage]:
        """Every message the SMTP server received, parsed."""
        return [
            email.message_from_bytes(m.data, policy=email.policy.default)  # type: ignore[misc]
            for m in list(self.smtp.state.messages)
        ]

    def hooks(self) -> list[dict[str, Any]]:
        """Every webhook call the receiver kept (path /alerts)."""
        return [r for r in list(self.sandbox.runtime.received) if r["path"] == "/alerts"]


def _config(folder: Path, late_by: str = "10s") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alerts.yaml").write_text(
        textwrap.dedent(
            f"""\
            channels:
              ops-email: {{type: email, smtp_block: smtp, to: [ops@shop.example, lead@shop.example]}}
              ops-webhook: {{type: webhook, webhook_block: alerts-webhook}}
            business_hours: {{timezone: Europe/Berlin, days: mon-fri, start: "08:00", end: "18:00"}}
            alerts:
              - {{name: run-failed, kind: run-failed, deployments: [order-processing, stock-sync],
                  notify: [ops-email, ops-webhook]}}
              - {{name: run-late, kind: run-late, deployments: all, late_by: {late_by},
                  notify: [ops-email, ops-webhook]}}
              - {{name: order-processing-stale, kind: no-success, deployment: order-processing,
                  window: 30m, notify: [ops-email, ops-webhook]}}
              - {{name: inbound-verification-overdue, kind: done-by, deployment: inbound-verification-daily,
                  deadline: "09:00", notify: [ops-email, ops-webhook]}}
            """
        )
    )
    return folder


@pytest.fixture(scope="module")
def receivers(prefect_server: PrefectServer) -> Iterator[Receivers]:
    """SMTP server and webhook receiver running, their blocks saved on the server."""
    from pydantic import SecretStr

    from jtl_automator.project import use_project_shell
    from jtl_automator.sandbox.app import create_app
    from jtl_automator.sandbox.config import SandboxConfig
    from jtl_automator.sandbox.generator import generate
    from jtl_automator.sandbox.server import serve_in_thread
    from jtl_automator.sandbox.smtp import SmtpTestServer

    use_project_shell()
    from blocks import SmtpServer, WebhookEndpoint

    app = create_app(generate(seed=3, skus=5, orders=2, customers=2, suppliers=1), SandboxConfig())
    hmac_key = secrets.token_hex(32)
    with serve_in_thread(app) as server, SmtpTestServer() as smtp:
        SmtpServer(
            host="127.0.0.1",
            port=smtp.port,
            security="none",
            allow_plaintext_login=True,  # the test server speaks no TLS
            sender="automator@shop.example",
            username=smtp.state.username,
            password=SecretStr(smtp.state.password),
        ).save("smtp", overwrite=True)
        WebhookEndpoint(
            url=SecretStr(f"{server.base_url}/_sandbox/receiver/alerts"),
            auth="hmac",
            secret=SecretStr(hmac_key),
        ).save("alerts-webhook", overwrite=True)
        yield Receivers(smtp, app.state.sandbox, server.base_url, [smtp.state.password, hmac_key])


def _cli(server: PrefectServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_API_URL": server.api_url,
            "PREFECT_HOME": str(server.home / "client"),
            "PYTHONPATH": str(ROOT),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "jtl_automator.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def applied(
    prefect_server: PrefectServer, receivers: Receivers, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The alert files applied once through the command line."""
    folder = _config(tmp_path_factory.mktemp("alerts"))
    done = _cli(prefect_server, "automations", "apply", "--config", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 created" in done.stdout and "channel blocks: 2 written" in done.stdout, done.stdout
    return folder


def _wait_for(what: str, found: Callable[[], Any], server: PrefectServer, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what} did not arrive within {timeout:.0f} s; server log:\n{server.log_tail()}")


def _deployment(name: str) -> Any:
    """A deployment called ``name`` of the probe flow (no work pool: the tests run its runs themselves)."""
    from prefect import get_client

    from tests.automations.probe import probe

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow(probe)
        return client.create_deployment(flow_id=flow_id, name=name)


def test_applying_again_changes_nothing_and_a_changed_file_updates_in_place(
    prefect_server: PrefectServer, applied: Path
) -> None:
    from deployments.automations import apply, list_automations, load_config

    again = apply(load_config(applied))
    assert again.plan.counts() == {"unchanged": 4} and {b.action for b in again.blocks} == {"unchanged"}
    changed = _config(applied.parent / "changed", late_by="20s")
    preview = apply(load_config(changed), dry_run=True)
    assert (
        "update    run-late (trigger, actions)" in preview.lines and preview.plan.counts()["unchanged"] == 3
    )
    assert "within 10s" in {row["name"]: row for row in list_automations()}["run-late"]["trigger"]
    done = apply(load_config(changed))
    assert "0 created, 1 updated, 3 unchanged" in done.summary()
    listed = _cli(prefect_server, "automations", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "proactive: after prefect.flow-run.Late" in listed.stdout and "within 20s" in listed.stdout
    assert "4 automation(s)" in listed.stdout and listed.stdout.count(" managed ") == 4
    back = apply(load_config(applied))
    assert back.plan.counts() == {"update": 1, "unchanged": 3}


def test_the_channel_blocks_refer_to_the_connection_blocks_instead_of_copying_their_secrets(
    prefect_server: PrefectServer, receivers: Receivers, applied: Path
) -> None:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        smtp = client.read_block_document_by_name("smtp", "jtl-smtp-server")
        hook = client.read_block_document_by_name("alerts-webhook", "jtl-webhook-endpoint")
        mail = client.read_block_document_by_name("alert-ops-email", "jtl-alert-email", include_secrets=False)
        call = client.read_block_document_by_name(
            "alert-ops-webhook", "jtl-alert-webhook", include_secrets=False
        )
    assert mail.block_document_references["smtp"]["block_document"]["id"] == str(smtp.id)
    assert call.block_document_references["endpoint"]["block_document"]["id"] == str(hook.id)
    assert mail.data["to"] == ["ops@shop.example", "lead@shop.example"]


def test_a_failing_and_a_crashed_run_arrive_as_mail_and_webhook(
    prefect_server: PrefectServer, receivers: Receivers, applied: Path
) -> None:
    from prefect import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Crashed

    from tests.automations.probe import probe

    deployment_id = _deployment("order-processing")
    with get_client(sync_client=True) as client:
        failing = client.create_flow_run_from_deployment(deployment_id)
    state = run_flow(probe, flow_run=failing, return_type="state")
    assert state.is_failed()  # type: ignore[union-attr]

    def failed_mail() -> list[Any]:
        return [m for m in receivers.mails() if failing.name in str(m["Subject"])]

    mail = _wait_for("the failed run's e-mail", failed_mail, prefect_server)[0]
    assert mail["Subject"] == f"[jtl-automator] order-processing: run {failing.name} Failed"
    assert mail["To"] == "ops@shop.example, lead@shop.example"
    text = mail.get_content()
    assert "boom: the probe failed on purpose" in text and str(failing.id) in text
    assert "Alert run-failed" in text and "docs/alerts.md" in text
    hook = _wait_for(
        "the failed run's webhook",
        lambda: [h for h in receivers.hooks() if failing.name in h["body"]["subject"]],
        prefect_server,
    )[0]
    assert hook["signed"] and hook["body"]["source"] == "jtl-automator" and "boom" in hook["body"]["text"]

    with get_client(sync_client=True) as client:
        crashed = client.create_flow_run_from_deployment(_deployment("stock-sync"))
        client.set_flow_run_state(crashed.id, Crashed(message="worker process killed"), force=True)
    mail = _wait_for(
        "the crashed run's e-mail",
        lambda: [m for m in receivers.mails() if crashed.name in str(m["Subject"])],
        prefect_server,
    )[0]
    assert mail["Subject"] == f"[jtl-automator] stock-sync: run {crashed.name} Crashed"
    assert "worker process killed" in mail.get_content()
    for message in receivers.mails():
        assert not any(s in message.as_string() for s in receivers.secrets)
    assert not any(s in str(h) for h in receivers.hooks() for s in receivers.secrets)


def test_a_deployment_whose_run_stays_late_arrives_as_mail_and_webhook(
    prefect_server: PrefectServer, receivers: Receivers, applied: Path
) -> None:
    from prefect import get_client
    from prefect.states import Running, Scheduled

    due = datetime.now(UTC) - timedelta(minutes=2)
    with get_client(sync_client=True) as client:
        late = client.create_flow_run_from_deployment(
            _deployment("replenishment"), state=Scheduled(scheduled_time=due)
        )
        started = client.create_flow_run_from_deployment(
            _deployment("pricing"), state=Scheduled(scheduled_time=due)
        )

        def marked_late() -> bool:
            return client.read_flow_run(started.id).state_name == "Late"

        _wait_for("the Late state", marked_late, prefect_server, timeout=60)
        client.set_flow_run_state(started.id, Running(), force=True)  # a worker took this one in time
    mail = _wait_for(
        "the late deployment's e-mail",
        lambda: [m for m in receivers.mails() if "replenishment" in str(m["Subject"])],
        prefect_server,
    )[0]
    assert mail["Subject"] == f"[jtl-automator] replenishment: run {late.name} is late"
    text = mail.get_content()
    assert "runs of replenishment (flow alert-probe) are not starting" in text
    assert f"Latest late run: {late.name} ({late.id})" in text
    _wait_for(
        "the late deployment's webhook",
        lambda: [h for h in receivers.hooks() if late.name in h["body"]["subject"]],
        prefect_server,
    )
    time.sleep(15)  # the pricing window (late_by) has passed: its run started, so no alert
    assert not [m for m in receivers.mails() if "pricing" in str(m["Subject"])]


def test_breached_slas_from_the_sla_check_arrive_as_mail_and_webhook(
    prefect_server: PrefectServer, receivers: Receivers, applied: Path
) -> None:
    from flows.sla_check import sla_check

    monday_ten = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
    result = sla_check(config_dir=str(applied), at=monday_ten)
    assert result["emitted"] == 2
    statuses = {r["alert"]: r["status"] for r in result["results"]}
    assert statuses == {"order-processing-stale": "breached", "inbound-verification-overdue": "breached"}

    def sla_mails() -> list[Any]:
        found = [m for m in receivers.mails() if "SLA" in str(m["Subject"])]
        return found if len(found) >= 2 else []

    mails = {
        str(m["Subject"]).strip(): m.get_content()
        for m in _wait_for("the SLA e-mails", sla_mails, prefect_server)
    }
    stale_subject = "[jtl-automator] SLA order-processing-stale breached (order-processing)"
    assert stale_subject in mails, list(mails)
    stale = mails[stale_subject]
    assert "no successful run of order-processing for 2h of business hours (allowed: 30m)" in stale
    overdue = mails["[jtl-automator] SLA inbound-verification-overdue breached (inbound-verification-daily)"]
    assert "has not completed today by 09:00 Europe/Berlin" in overdue
    _wait_for(
        "the SLA webhooks",
        lambda: len([h for h in receivers.hooks() if "SLA" in h["body"]["subject"]]) >= 2,
        prefect_server,
    )
    quiet = sla_check(config_dir=str(applied), at=datetime(2026, 11, 22, 10, 0, tzinfo=BERLIN))  # a Sunday
    assert quiet["emitted"] == 0 and {r["status"] for r in quiet["results"]} == {"not-due"}
