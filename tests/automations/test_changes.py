"""The apply plan: create the missing, update what differs (by name), keep or prune the leftovers."""

from __future__ import annotations

from typing import Any

from jtl_automator.alerts.changes import Change, Existing, differing_fields, plan_changes

TAG = "jtl-automator"


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "description": "d",
        "enabled": True,
        "tags": [TAG],
        "trigger": {"type": "event", "expect": ["a"]},
        "actions": [{"type": "send-notification", "body": "b"}],
        "actions_on_trigger": [],
        "actions_on_resolve": [],
        **overrides,
    }


def test_missing_are_created_equal_are_unchanged_different_are_updated_with_their_fields() -> None:
    desired = {"a": body(), "b": body(enabled=False), "c": body()}
    existing = [
        Existing("1", "b", body()),
        Existing("2", "c", body()),
    ]
    plan = plan_changes(desired, existing, managed_tag=TAG)
    assert plan.changes == [
        Change("create", "a"),
        Change("update", "b", "1", ("enabled",)),
        Change("unchanged", "c", "2"),
    ]
    assert plan.changed and plan.counts() == {"create": 1, "update": 1, "unchanged": 1}
    assert plan.changes[1].describe() == "update    b (enabled)"


def test_leftovers_under_our_tag_are_kept_unless_pruned_and_others_are_never_touched() -> None:
    existing = [
        Existing("1", "old-alert", body()),
        Existing("2", "someone-elses", body(tags=["team-x"])),
    ]
    kept = plan_changes({}, existing, managed_tag=TAG)
    assert kept.changes == [Change("extra", "old-alert", "1")] and not kept.changed
    assert "--prune deletes it" in kept.changes[0].describe()
    pruned = plan_changes({}, existing, managed_tag=TAG, prune=True)
    assert pruned.changes == [Change("delete", "old-alert", "1")] and pruned.changed


def test_a_name_twice_on_the_server_keeps_the_oldest_and_reports_the_others() -> None:
    existing = [Existing("1", "a", body(description="old")), Existing("2", "a", body())]
    plan = plan_changes({"a": body()}, existing, managed_tag=TAG)
    assert plan.changes == [Change("update", "a", "1", ("description",)), Change("duplicate", "a", "2")]
    pruned = plan_changes({"a": body()}, existing, managed_tag=TAG, prune=True)
    assert pruned.of("delete") == [Change("delete", "a", "2")]


def test_a_hand_made_automation_of_the_same_name_is_taken_over() -> None:
    plan = plan_changes({"a": body()}, [Existing("9", "a", body(tags=[]))], managed_tag=TAG)
    assert plan.changes == [Change("update", "a", "9", ("tags",))]


def test_a_field_missing_on_one_side_differs() -> None:
    without = body()
    del without["actions_on_resolve"]
    assert differing_fields(body(actions_on_resolve=[]), without) == ("actions_on_resolve",)
    assert differing_fields(body(), body()) == ()
