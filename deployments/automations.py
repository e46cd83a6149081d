"""``jtl-automator automations``: the alert files become Prefect automations on the configured server.

``apply`` first saves one notification block per channel (``alert-<channel>``: an ``EmailAlert`` or
``WebhookAlert`` referring to the named SmtpServer / WebhookEndpoint block), then creates or updates one
automation per alert, matched by name (:mod:`jtl_automator.alerts.changes`). Applying twice changes
nothing the second time. ``--dry-run`` reads the server and writes nothing.

How each alert kind is expressed (docs/alerts.md says why):

* ``run-failed``: reactive trigger on ``prefect.flow-run.Failed``/``Crashed`` of runs whose deployment
  is one of the listed names; ``repeat_after`` becomes the trigger's window per deployment.
* ``run-late``: proactive trigger: after ``prefect.flow-run.Late``, expect the run to leave Late
  (Pending, Running or an end state) within ``late_by``, per flow run.
* ``no-success`` and ``done-by``: reactive trigger on ``jtl-automator.sla.breached`` for the resource
  ``jtl-automator.sla.<alert>``, which the scheduled ``sla-check`` flow emits; ``repeat_after`` is the
  window in which a repeated breach is not sent again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import AutomationSort
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import Automation, AutomationCore, EventTrigger, Posture

from blocks import EmailAlert, SmtpServer, WebhookAlert, WebhookEndpoint
from jtl_automator.alerts.changes import Change, Existing, Plan, plan_changes
from jtl_automator.alerts.config import (
    AlertsConfig,
    DoneByAlert,
    EmailChannel,
    NoSuccessAlert,
    RunFailedAlert,
    RunLateAlert,
    deployment_names,
    format_duration,
    load_project_alerts,
)
from jtl_automator.alerts.sla import BREACHED_EVENT, RESOURCE_PREFIX
from jtl_automator.project import project_root

#: Every automation this command writes carries this tag; ``--prune`` deletes only tagged ones.
MANAGED_TAG = "jtl-automator"
#: The run states after Late that mean "it started or ended": the late alert waits for one of them.
#: A Late run moves to Pending when a worker takes it, or to Cancelling/Cancelled (by hand, or CANCEL_NEW);
#: end states are left out, so another run of the deployment that merely finishes does not count.
LEFT_LATE = ("Pending", "Running", "Cancelling", "Cancelled")
PAGE = 200


class ApplyError(RuntimeError):
    """The files cannot be applied to this server (a block they name is missing); one line per reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def load_config(folder: Path | None = None) -> AlertsConfig:
    """The alert files (default ``config/automations``), deployment names checked against ``prefect.yaml``."""
    return load_project_alerts(project_root(), folder)


def channel_block_name(channel: str) -> str:
    """The notification block document saved for a channel."""
    return f"alert-{channel}"


# -- notification blocks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockChange:
    """What happens to one channel's notification block."""

    name: str
    action: str  # create | update | unchanged
    detail: str
    block: EmailAlert | WebhookAlert

    def describe(self) -> str:
        """One line for the command's output."""
        return f"{self.action:<9} block {self.name} ({self.detail})"


def _reference_id(block: Any) -> uuid.UUID | None:
    return cast(uuid.UUID | None, getattr(block, "_block_document_id", None))


def plan_channel_blocks(config: AlertsConfig) -> list[BlockChange]:
    """The notification block each channel needs, compared with the saved one; missing targets are refused."""
    changes: list[BlockChange] = []
    problems: list[str] = []
    for channel_name, channel in config.channels.items():
        name = channel_block_name(channel_name)
        wanted: EmailAlert | WebhookAlert
        try:
            if isinstance(channel, EmailChannel):
                target = channel.smtp_block
                wanted = EmailAlert(smtp=SmtpServer.load(target), to=list(channel.to))
                detail = f"e-mail to {', '.join(channel.to)} via SmtpServer {target!r}"
            else:
                target = channel.webhook_block
                wanted = WebhookAlert(endpoint=WebhookEndpoint.load(target))
                detail = f"webhook via WebhookEndpoint {target!r}"
        except ValueError:
            kind = "SmtpServer" if isinstance(channel, EmailChannel) else "WebhookEndpoint"
            problems.append(
                f"channel {channel_name!r}: no {kind} block {target!r} on this Prefect server "
                f"(create it first; see docs/alerts.md)"
            )
            continue
        action = "create"
        block_type: Any = type(wanted)
        try:
            saved = block_type.load(name)
        except ValueError:
            saved = None
        if saved is not None:
            action = "unchanged" if _same_block(saved, wanted) else "update"
            wanted._block_document_id = _reference_id(saved)
        changes.append(BlockChange(name, action, detail, wanted))
    if problems:
        raise ApplyError(problems)
    return changes


def _same_block(saved: EmailAlert | WebhookAlert, wanted: EmailAlert | WebhookAlert) -> bool:
    """Same recipients and the same referenced block (by id: its contents are that block's business)."""
    if isinstance(saved, EmailAlert) and isinstance(wanted, EmailAlert):
        return saved.to == wanted.to and _reference_id(saved.smtp) == _reference_id(wanted.smtp)
    if isinstance(saved, WebhookAlert) and isinstance(wanted, WebhookAlert):
        return _reference_id(saved.endpoint) == _reference_id(wanted.endpoint)
    return False


def save_channel_blocks(changes: Sequence[BlockChange]) -> dict[str, uuid.UUID]:
    """Save the changed blocks; every channel's block document id."""
    ids: dict[str, uuid.UUID] = {}
    for change in changes:
        if change.action == "unchanged":
            block_id = _reference_id(change.block)
        else:
            block_id = change.block.save(change.name, overwrite=True)  # type: ignore[assignment]
        assert block_id is not None
        ids[change.name] = block_id
    return ids


def placeholder_ids(changes: Sequence[BlockChange]) -> dict[str, uuid.UUID]:
    """Block ids for a dry run: the saved block's, or a stable stand-in for one not yet created."""
    return {
        c.name: _reference_id(c.block) or uuid.uuid5(uuid.NAMESPACE_URL, f"jtl-automator:{c.name}")
        for c in changes
    }


# -- automations -----------------------------------------------------------------------------------

_RUN_FAILED_SUBJECT = (
    "[jtl-automator] {{ deployment.name }}: run {{ flow_run.name }} "
    "{{ event.resource['prefect.state-name'] }}"
)
_RUN_FAILED_BODY = """\
Alert __ALERT__: a run of the deployment {{ deployment.name }} (flow {{ flow.name }}) ended \
{{ event.resource['prefect.state-name'] }}.

Run:      {{ flow_run.name }} ({{ flow_run.id }})
When:     {{ event.occurred }}
Message:  {{ event.resource['prefect.state-message'] }}
{% set link = flow_run|ui_url %}{% if link %}Open:     {{ link }}
{% endif %}
__REPEAT__
What it means and what to do: docs/alerts.md (run-failed).
"""
_RUN_LATE_SUBJECT = "[jtl-automator] {{ deployment.name }}: run {{ flow_run.name }} is late"
_RUN_LATE_BODY = """\
Alert __ALERT__: __WHAT__

Latest late run: {{ flow_run.name }} ({{ flow_run.id }}), due at {{ flow_run.expected_start_time }},
marked Late at {{ event.occurred }}.

Usually no worker is polling the work pool (prefect worker start --pool jtl-process), or the pool or
the deployment is paused.
{% set link = flow_run|ui_url %}{% if link %}Open:     {{ link }}
{% endif %}
What it means and what to do: docs/alerts.md (run-late).
"""
_LATE_PER_DEPLOYMENT = (
    "runs of {{ deployment.name }} (flow {{ flow.name }}) are not starting: one was marked Late and "
    "none started in the __LATE_BY__ after. One alert per deployment and __LATE_BY__ while this lasts."
)
_LATE_PER_RUN = (
    "the scheduled run {{ flow_run.name }} of {{ deployment.name }} (flow {{ flow.name }}) was marked "
    "Late and has not started __LATE_BY__ later."
)
_SLA_SUBJECT = "[jtl-automator] SLA __ALERT__ breached ({{ event.payload.deployment }})"
_SLA_BODY = """\
Alert __ALERT__: {{ event.payload.message }}

__DESCRIPTION__
Checked by the sla-check flow at {{ event.occurred }}. __REPEAT__
What it means and what to do: docs/alerts.md (__KIND__).
"""


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace(f"__{key.upper()}__", value)
    return template


def _repeat_note(repeat_after: timedelta, per: str) -> str:
    if repeat_after <= timedelta(0):
        return "Every occurrence is sent."
    return f"Further occurrences {per} within {format_duration(repeat_after)} are not sent again."


def _deployments_of(alert: RunFailedAlert | RunLateAlert, all_deployments: Sequence[str]) -> list[str]:
    return sorted(all_deployments) if alert.deployments == "all" else sorted(set(alert.deployments))


def _run_resources(names: list[str]) -> dict[str, Any]:
    return {
        "match": {"prefect.resource.id": "prefect.flow-run.*"},
        "match_related": [{"prefect.resource.role": "deployment", "prefect.resource.name": names}],
    }


def build_trigger(
    alert: RunFailedAlert | RunLateAlert | NoSuccessAlert | DoneByAlert, all_deployments: Sequence[str]
) -> EventTrigger:
    """The Prefect trigger of one alert (see the module docstring)."""
    if isinstance(alert, RunFailedAlert):
        per_deployment = alert.repeat_after > timedelta(0)
        return EventTrigger(
            **_run_resources(_deployments_of(alert, all_deployments)),
            expect={f"prefect.flow-run.{state}" for state in alert.states},
            for_each={"related:deployment:prefect.resource.id" if per_deployment else "prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=alert.repeat_after,
        )
    if isinstance(alert, RunLateAlert):
        return EventTrigger(
            **_run_resources(_deployments_of(alert, all_deployments)),
            after={"prefect.flow-run.Late"},
            expect={f"prefect.flow-run.{state}" for state in LEFT_LATE},
            for_each={
                "related:deployment:prefect.resource.id"
                if alert.per == "deployment"
                else "prefect.resource.id"
            },
            posture=Posture.Proactive,
            threshold=1,
            within=alert.late_by,
        )
    return EventTrigger(
        match={"prefect.resource.id": f"{RESOURCE_PREFIX}{alert.name}"},
        expect={BREACHED_EVENT},
        for_each={"prefect.resource.id"},
        posture=Posture.Reactive,
        threshold=1,
        within=alert.repeat_after,
    )


def _messages(alert: RunFailedAlert | RunLateAlert | NoSuccessAlert | DoneByAlert) -> tuple[str, str]:
    """Subject and body templates (Jinja, rendered by the server with the event, run and deployment)."""
    if isinstance(alert, RunFailedAlert):
        return _RUN_FAILED_SUBJECT, _fill(
            _RUN_FAILED_BODY, alert=alert.name, repeat=_repeat_note(alert.repeat_after, "of this deployment")
        )
    if isinstance(alert, RunLateAlert):
        what = _LATE_PER_DEPLOYMENT if alert.per == "deployment" else _LATE_PER_RUN
        body = _fill(_RUN_LATE_BODY, what=what)
        return _RUN_LATE_SUBJECT, _fill(body, alert=alert.name, late_by=format_duration(alert.late_by))
    return _fill(_SLA_SUBJECT, alert=alert.name), _fill(
        _SLA_BODY,
        alert=alert.name,
        kind=alert.kind,
        description=(alert.description or _sla_meaning(alert)).strip(),
        repeat=_repeat_note(alert.repeat_after, "of this breach"),
    )


def _sla_meaning(alert: NoSuccessAlert | DoneByAlert) -> str:
    if isinstance(alert, NoSuccessAlert):
        hours = " during business hours" if alert.business_hours_only else ""
        return f"{alert.deployment} must complete at least every {format_duration(alert.window)}{hours}."
    return f"{alert.deployment} must complete by {alert.deadline:%H:%M} ({alert.timezone})."


def _description(alert: Any, source: str) -> str:
    own = alert.description.strip()
    managed = (
        f"Managed by jtl-automator from {source}: edit the file and run `jtl-automator automations apply`."
    )
    return f"{own} {managed}" if own else managed


def desired_automations(
    config: AlertsConfig, block_ids: Mapping[str, uuid.UUID], all_deployments: Sequence[str]
) -> dict[str, AutomationCore]:
    """One automation per alert, by name, in the files' order."""
    root = project_root()
    desired: dict[str, AutomationCore] = {}
    for alert in config.alerts:
        path = config.files.get(alert.name)
        # The file as the repository names it; a folder elsewhere (--config) by the file's name only, so
        # the description does not change with where the files were applied from.
        source = (
            str(path.relative_to(root)) if path and path.is_relative_to(root) else (path.name if path else "")
        )
        subject, body = _messages(alert)
        desired[alert.name] = AutomationCore(
            name=alert.name,
            description=_description(alert, source),
            enabled=alert.enabled,
            tags=[MANAGED_TAG],
            trigger=build_trigger(alert, all_deployments),
            actions=[
                SendNotification(
                    block_document_id=block_ids[channel_block_name(channel)], subject=subject, body=body
                )
                for channel in alert.notify
            ],
        )
    return desired


def _without_ids(value: Any) -> Any:
    """Trigger ids are the server's (a new one per update); sets come back in any order."""
    if isinstance(value, dict):
        return {
            k: (
                sorted(v) if k in ("after", "expect", "for_each") and isinstance(v, list) else _without_ids(v)
            )
            for k, v in value.items()
            if k != "id"
        }
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def automation_body(automation: AutomationCore) -> dict[str, Any]:
    """The comparable form of an automation, the same for one read from the server and one built here."""
    data = AutomationCore.model_validate(automation.model_dump(exclude={"id"})).model_dump(mode="json")
    return cast(dict[str, Any], _without_ids(data))


class AutomationsClient(Protocol):
    """The part of Prefect's sync client ``apply`` uses (a fake implements it in the fast tests)."""

    def read_automations(
        self, *, sort: AutomationSort | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Automation]:
        """A page of the server's automations."""
        ...

    def create_automation(self, automation: AutomationCore) -> uuid.UUID:
        """Create one; its id."""
        ...

    def update_automation(self, automation_id: uuid.UUID, automation: AutomationCore) -> None:
        """Replace one in place."""
        ...

    def delete_automation(self, automation_id: uuid.UUID) -> None:
        """Delete one."""
        ...


def read_all_automations(client: AutomationsClient) -> list[Automation]:
    """Every automation on the server, oldest first."""
    found: list[Automation] = []
    while True:
        page = client.read_automations(sort=AutomationSort.CREATED_DESC, limit=PAGE, offset=len(found))
        found.extend(page)
        if len(page) < PAGE:
            return list(reversed(found))


def apply_automations(
    client: AutomationsClient,
    desired: Mapping[str, AutomationCore],
    *,
    dry_run: bool = False,
    prune: bool = False,
) -> Plan:
    """Make the server's automations what ``desired`` says; the plan (carried out unless ``dry_run``)."""
    existing = read_all_automations(client)
    plan = plan_changes(
        {name: automation_body(a) for name, a in desired.items()},
        [Existing(str(a.id), a.name, automation_body(a)) for a in existing],
        managed_tag=MANAGED_TAG,
        prune=prune,
    )
    if dry_run:
        return plan
    done: list[Change] = []
    for change in plan.changes:
        if change.action == "create":
            new_id = client.create_automation(desired[change.name])
            done.append(Change("create", change.name, str(new_id)))
            continue
        if change.action == "update":
            assert change.id is not None
            client.update_automation(uuid.UUID(change.id), desired[change.name])
        elif change.action == "delete":
            assert change.id is not None
            client.delete_automation(uuid.UUID(change.id))
        done.append(change)
    return Plan(done)


@dataclass
class ApplyReport:
    """What ``apply`` did (or would do): the channels' blocks and the automations."""

    blocks: list[BlockChange]
    plan: Plan
    dry_run: bool
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The closing line: counts of what changed (or would), leftovers only when there are some."""
        counts = self.plan.counts()
        tense = 0 if self.dry_run else 1
        words = {"create": ("to create", "created"), "update": ("to update", "updated")}
        words["delete"] = ("to delete", "deleted")
        parts = [f"{counts.get(k, 0)} {words[k][tense]}" for k in ("create", "update")]
        parts.append(f"{counts.get('unchanged', 0)} unchanged")
        parts += [
            f"{counts[k]} {words.get(k, (k, k))[tense]}"
            for k in ("delete", "extra", "duplicate")
            if counts.get(k)
        ]
        blocks = sum(1 for b in self.blocks if b.action != "unchanged")
        text = f"automations: {', '.join(parts)}; channel blocks: {blocks} {('to write', 'written')[tense]}"
        return text + (" (dry run: nothing written)" if self.dry_run else "")


def apply(
    config: AlertsConfig,
    *,
    dry_run: bool = False,
    prune: bool = False,
    all_deployments: Sequence[str] | None = None,
) -> ApplyReport:
    """Save the channel blocks and apply the automations to the configured Prefect server."""
    names = list(all_deployments or deployment_names(project_root() / "prefect.yaml"))
    blocks = plan_channel_blocks(config)
    ids = placeholder_ids(blocks) if dry_run else save_channel_blocks(blocks)
    desired = desired_automations(config, ids, names)
    with get_client(sync_client=True) as client:
        plan = apply_automations(client, desired, dry_run=dry_run, prune=prune)
    report = ApplyReport(blocks, plan, dry_run)
    report.lines = [b.describe() for b in blocks] + [c.describe() for c in plan.changes]
    return report


def describe_trigger(automation: AutomationCore) -> str:
    """A short reading of a trigger for ``automations list``."""
    trigger = automation.trigger
    if not isinstance(trigger, EventTrigger):
        return trigger.type
    within = format_duration(trigger.within)
    expect = ",".join(sorted(trigger.expect)) or "any event"
    if trigger.posture == Posture.Proactive:
        after = ",".join(sorted(trigger.after))
        return f"proactive: after {after}, expect {expect} within {within}"
    return f"reactive: {expect}" + (f" (at most once per {within})" if trigger.within else "")


def list_automations() -> list[dict[str, str]]:
    """The server's automations: name, enabled, whether managed here, trigger, number of actions."""
    with get_client(sync_client=True) as client:
        found = read_all_automations(client)
    return [
        {
            "name": a.name,
            "enabled": "enabled" if a.enabled else "disabled",
            "managed": "managed" if MANAGED_TAG in a.tags else "other",
            "trigger": describe_trigger(a),
            "actions": str(len(a.actions)),
        }
        for a in found
    ]
