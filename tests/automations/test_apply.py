"""The alert files as Prefect automations, applied to an in-memory stand-in for the server's API.

The triggers and templates are checked for what each alert means; the stand-in keeps automations the way
the server answers them (Prefect's own models, new ids), so applying twice must change nothing. The
real server is in test_alerts_on_server.py.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest

from jtl_automator.alerts.config import deployment_names, load_project_alerts
from jtl_automator.project import use_project_shell

ROOT = use_project_shell()

from prefect.client.schemas.sorting import AutomationSort  # noqa: E402
from prefect.events.schemas.automations import Automation, AutomationCore, Posture  # noqa: E402

from deployments.automations import (  # noqa: E402
    MANAGED_TAG,
    apply_automations,
    automation_body,
    build_trigger,
    channel_block_name,
    describe_trigger,
    desired_automations,
)

DEPLOYMENTS = deployment_names(ROOT / "prefect.yaml")
CONFIG = load_project_alerts(ROOT)  # read once: prefect.yaml is long


class FakeAutomationsApi:
    """The four calls ``apply`` makes, over a list: pages newest first, as ``CREATED_DESC`` asks."""

    def __init__(self) -> None:
        self.items: list[Automation] = []
        self.calls: list[str] = []

    def read_automations(
        self, *, sort: AutomationSort | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Automation]:
        assert sort == AutomationSort.CREATED_DESC
        newest_first = list(reversed(self.items))
        return newest_first[offset : offset + limit if limit else None]

    def create_automation(self, automation: AutomationCore) -> uuid.UUID:
        self.calls.append(f"create {automation.name}")
        new = Automation(id=uuid.uuid4(), **automation.model_dump(mode="json"))  # as the server answers it
        self.items.append(new)
        return new.id

    def update_automation(self, automation_id: uuid.UUID, automation: AutomationCore) -> None:
        self.calls.append(f"update {automation.name}")
        index = next(i for i, a in enumerate(self.items) if a.id == automation_id)
        self.items[index] = Automation(id=automation_id, **automation.model_dump(mode="json"))

    def delete_automation(self, automation_id: uuid.UUID) -> None:
        self.calls.append(f"delete {automation_id}")
        self.items = [a for a in self.items if a.id != automation_id]


def _desired(**changes: Any) -> dict[str, AutomationCore]:
    alerts = [a.model_copy(update=changes.get(a.name, {})) for a in CONFIG.alerts]
    config = dataclasses.replace(CONFIG, alerts=alerts)
    ids = {channel_block_name(c): uuid.uuid5(uuid.NAMESPACE_DNS, c) for c in config.channels}
    return desired_automations(config, ids, DEPLOYMENTS)


def test_the_first_apply_creates_and_the_second_changes_nothing() -> None:
    api = FakeAutomationsApi()
    first = apply_automations(api, _desired())
    assert first.counts() == {"create": 4} and all(c.id for c in first.changes)
    assert api.calls == [
        "create run-failed",
        "create run-late",
        "create order-processing-stale",
        "create inbound-verification-overdue",
    ]
    second = apply_automations(api, _desired())
    assert second.counts() == {"unchanged": 4} and len(api.calls) == 4


def test_a_changed_threshold_updates_that_automation_in_place_and_a_dry_run_writes_nothing() -> None:
    api = FakeAutomationsApi()
    apply_automations(api, _desired())
    ids = {a.name: a.id for a in api.items}
    changed = _desired(**{"run-late": {"late_by": timedelta(minutes=20)}})
    preview = apply_automations(api, changed, dry_run=True)
    assert [c.describe() for c in preview.of("update")] == ["update    run-late (trigger, actions)"]
    assert len(api.calls) == 4
    apply_automations(api, changed)
    assert api.calls[-1] == "update run-late" and {a.name: a.id for a in api.items} == ids
    assert next(a for a in api.items if a.name == "run-late").trigger.within == timedelta(minutes=20)  # type: ignore[union-attr]


def test_an_alert_removed_from_the_files_is_kept_unless_pruned_and_a_foreign_one_is_left_alone() -> None:
    api = FakeAutomationsApi()
    apply_automations(api, _desired())
    trigger = build_trigger(CONFIG.alerts[0], DEPLOYMENTS)
    api.create_automation(AutomationCore(name="team-x-alert", trigger=trigger, actions=[]))
    fewer = {k: v for k, v in _desired().items() if k != "run-late"}
    plan = apply_automations(api, fewer)
    assert [(c.action, c.name) for c in plan.of("extra")] == [("extra", "run-late")]
    assert len(api.items) == 5
    apply_automations(api, fewer, prune=True)
    assert sorted(a.name for a in api.items) == sorted([*fewer, "team-x-alert"])


def test_run_failed_watches_every_project_deployment_per_deployment() -> None:
    automation = _desired()["run-failed"]
    trigger = automation.trigger
    assert trigger.posture == Posture.Reactive and trigger.expect == {  # type: ignore[union-attr]
        "prefect.flow-run.Failed",
        "prefect.flow-run.Crashed",
    }
    related = trigger.match_related  # type: ignore[union-attr]
    assert isinstance(related, list)
    spec = related[0].model_dump() if hasattr(related[0], "model_dump") else dict(related[0])
    names = spec.get("prefect.resource.name")
    assert spec.get("prefect.resource.role") == "deployment" and sorted(names) == sorted(DEPLOYMENTS)
    assert {"order-processing", "sla-check", "gateway-drain"} <= set(names)
    assert trigger.for_each == {"related:deployment:prefect.resource.id"}  # type: ignore[union-attr]
    assert trigger.within == timedelta(minutes=30)  # type: ignore[union-attr]
    assert automation.tags == [MANAGED_TAG] and len(automation.actions) == 2
    assert "config/automations/alerts.yaml" in automation.description


def test_run_late_waits_for_a_run_of_the_deployment_to_leave_late() -> None:
    trigger = _desired()["run-late"].trigger
    assert trigger.posture == Posture.Proactive and trigger.after == {"prefect.flow-run.Late"}  # type: ignore[union-attr]
    assert trigger.expect == {  # type: ignore[union-attr]
        "prefect.flow-run.Pending",
        "prefect.flow-run.Running",
        "prefect.flow-run.Cancelling",
        "prefect.flow-run.Cancelled",
    }
    assert trigger.for_each == {"related:deployment:prefect.resource.id"}  # type: ignore[union-attr]
    assert trigger.within == timedelta(minutes=15)  # type: ignore[union-attr]
    assert describe_trigger(_desired()["run-late"]).startswith(
        "proactive: after prefect.flow-run.Late, expect"
    )
    body = _desired()["run-late"].actions[0].body  # type: ignore[union-attr]
    assert "none started in the 15m after. One alert per deployment and 15m while this lasts." in body
    per_run = _desired(**{"run-late": {"per": "run"}})["run-late"]
    assert per_run.trigger.for_each == {"prefect.resource.id"}  # type: ignore[union-attr]
    assert "has not started 15m later" in per_run.actions[0].body  # type: ignore[union-attr]


def test_the_sla_alerts_react_to_their_own_breach_event() -> None:
    desired = _desired()
    for name, window in (
        ("order-processing-stale", timedelta(hours=1)),
        ("inbound-verification-overdue", timedelta(hours=4)),
    ):
        trigger = desired[name].trigger
        assert trigger.expect == {"jtl-automator.sla.breached"}  # type: ignore[union-attr]
        assert trigger.match.model_dump() == {"prefect.resource.id": f"jtl-automator.sla.{name}"} or dict(
            trigger.match  # type: ignore[union-attr]
        ) == {"prefect.resource.id": f"jtl-automator.sla.{name}"}
        assert trigger.posture == Posture.Reactive and trigger.within == window  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name", ["run-failed", "run-late", "order-processing-stale", "inbound-verification-overdue"]
)
def test_every_template_is_valid_jinja_and_names_its_alert(name: str) -> None:
    automation = _desired()[name]
    environment = jinja2.Environment()  # noqa: S701 (parsed only; Prefect's server renders plain text)
    for action in automation.actions:
        environment.parse(action.subject)  # type: ignore[union-attr]
        environment.parse(action.body)  # type: ignore[union-attr]
        assert f"Alert {name}" in action.body and "docs/alerts.md" in action.body  # type: ignore[union-attr]
        assert "__" not in action.body  # every placeholder filled  # type: ignore[union-attr]


def test_bodies_compare_equal_after_a_round_trip_through_the_api_models() -> None:
    for automation in _desired().values():
        served = Automation(id=uuid.uuid4(), **automation.model_dump(mode="json"))
        assert automation_body(served) == automation_body(automation)


def test_the_alerts_folder_can_be_given(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(
        "channels: {hook: {type: webhook, webhook_block: h}}\n"
        "alerts: [{name: only-failed, kind: run-failed, deployments: [order-processing], notify: [hook]}]\n"
    )
    config = load_project_alerts(ROOT, tmp_path)
    desired = desired_automations(config, {"alert-hook": uuid.uuid4()}, DEPLOYMENTS)
    assert list(desired) == ["only-failed"] and "one.yaml" in desired["only-failed"].description


def test_the_summary_counts_what_changed_in_the_right_tense() -> None:
    from deployments.automations import ApplyReport
    from jtl_automator.alerts.changes import Change, Plan

    preview = Plan([Change("create", "a"), Change("unchanged", "b", "1"), Change("extra", "c", "2")])
    assert ApplyReport([], preview, dry_run=True).summary() == (
        "automations: 1 to create, 0 to update, 1 unchanged, 1 extra; channel blocks: 0 to write "
        "(dry run: nothing written)"
    )
    pruned = Plan([Change("delete", "c", "2")])
    assert ApplyReport([], pruned, dry_run=False).summary() == (
        "automations: 0 created, 0 updated, 0 unchanged, 1 deleted; channel blocks: 0 written"
    )
