"""Workflow files: every mistake named with file, line and field, and what is allowed there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from jtl_automator.workflows.actions import action_names
from jtl_automator.workflows.loader import WorkflowFileError, load_file, load_path, parse_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "workflows"

GOOD = """\
name: saison-restock
description: Saison items low in a warehouse go on the restock plan.
status: active
trigger:
  entity: inventory_item
  tags:
    include_any:
      - category: Saison
    exclude:
      - property: {name: Farbe, value: grau}
  conditions:
    - {field: stock, op: lt, value: 10}
  on_change:
    source: stock_changed
nodes:
  - id: plan
    action: plan_stub
    with:
      kind: restock
      deadline: in 3 days
  - id: add
    action: items_stub
    with:
      plan_id: "{{ steps.plan.output.plan_id }}"
      skus: ["{{ trigger.sku }}"]
      quantity: {strategy: fill_to_target, target_cover_days: 60}
  - id: mail
    action: email_stub
    if: "{{ steps.add.output.added > 0 }}"
    with:
      to: [einkauf@example.com]
      subject: "{{ trigger.sku }} low in {{ trigger.warehouse }}"
      body: "Plan {{ steps.plan.output.plan_id }}"
"""


def _problems(text: str, source: str = "w.yaml") -> list[str]:
    with pytest.raises(WorkflowFileError) as caught:
        parse_workflow(text, source=source)
    return caught.value.problems


def test_a_good_file_gives_the_workflow(stub_actions: dict[str, type[BaseModel]]) -> None:
    workflow = parse_workflow(GOOD, source="w.yaml")
    assert workflow.name == "saison-restock" and workflow.status == "active"
    assert workflow.needs_of() == {"plan": (), "add": ("plan",), "mail": ("add",)}
    assert workflow.ancestors()["mail"] == {"plan", "add"}
    assert workflow.nodes[2].if_ == "{{ steps.add.output.added > 0 }}"
    assert workflow.document()["nodes"][1]["with"]["quantity"]["target_cover_days"] == 60


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("    source: stock_changed\n", "    source: [stock_changed\n"),
            "w.yaml:15: not valid YAML",
        ),
        (
            GOOD.replace("  entity: inventory_item\n", "  entity: inventory_item\n entity: x\n"),
            "w.yaml:6: not valid YAML",
        ),
        ("- a\n- list\n", "w.yaml:1: (top level): Input should be a valid dictionary"),
        ("", "w.yaml: name: Field required"),
        (GOOD + "---\nname: second\n", "w.yaml:34: not valid YAML: but found another document"),
    ],
)
def test_malformed_yaml_names_the_line(
    stub_actions: dict[str, type[BaseModel]], text: str, expected: str
) -> None:
    assert _problems(text)[0].startswith(expected)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "status: active",
            "status: active\nowner: anna",
            "w.yaml:4: owner: Extra inputs are not permitted; allowed here: name, description, status, "
            "trigger, nodes",
        ),
        (
            "  on_change:\n",
            "  when: later\n  on_change:\n",
            "w.yaml:13: trigger.when: Extra inputs are not permitted; allowed here: entity, tags, "
            "conditions, "
            "schedule, on_change",
        ),
        (
            "      deadline: in 3 days",
            "      deadline: in 3 days\n      colour: red",
            "w.yaml:21: nodes[0].with.colour: Extra inputs are not permitted; PlanParams takes: kind, "
            "warehouses, "
            "supplier, period, deadline, created_by",
        ),
        (
            "    action: items_stub\n",
            "    action: items_stub\n    retries: 3\n",
            "w.yaml:23: nodes[1].retries: Extra inputs are not permitted; allowed here: id, action, with, "
            "needs, if",
        ),
        (
            "{field: stock, op: lt, value: 10}",
            "{field: stock, op: below, value: 10}",
            "w.yaml:12: trigger.conditions[0].op: Input should be 'lt', 'lte', 'gt',",
        ),
        (
            "status: active",
            "status: live",
            "w.yaml:3: status: Input should be 'draft', 'active', 'paused' or 'archived'",
        ),
        (
            "entity: inventory_item",
            "entity: product",
            "w.yaml:5: trigger.entity: Input should be 'item', 'child_item',",
        ),
        (
            "name: saison-restock",
            "name: Saison Restock",
            "w.yaml:1: name: Value error, 'Saison Restock' is not a valid name",
        ),
        ("  - id: add", "  - id: Add", "w.yaml:21: nodes[1].id: Value error, 'Add' is not a valid node id"),
        (
            "kind: restock",
            "kind: restok",
            "w.yaml:19: nodes[0].with.kind: Input should be 'restock', 'rebalance',",
        ),
        (
            "target_cover_days: 60}",
            "target_cover_days: -6}",
            "w.yaml:26: nodes[1].with.quantity.target_cover_days: Input should be greater than 0",
        ),
        (
            "to: [einkauf@example.com]",
            "to: einkauf@example.com",
            "w.yaml:31: nodes[2].with.to: Input should be a valid list",
        ),
        (
            "      - category: Saison",
            "      - category: Saison\n        property: {name: Farbe}",
            "w.yaml:8: trigger.tags.include_any[0]: Value error, a tag is exactly one of category: NAME, "
            "property: {name, value} or custom_field: {name, value} (got category, property)",
        ),
        (
            "    source: stock_changed",
            "    source: stock_changed\n  schedule: {cron: '0 6 * * 1'}",
            "w.yaml:5: trigger: Value error, a trigger fires on exactly one of schedule",
        ),
        (
            "  on_change:\n    source: stock_changed",
            "  schedule: {cron: '0 25 * * *'}",
            "w.yaml:13: trigger.schedule.cron: Value error, '0 25 * * *' is not a cron expression",
        ),
        (
            "  on_change:\n    source: stock_changed",
            "  schedule: {cron: '0 6 * * 1', timezone: Europe/Berlinn}",
            "w.yaml:13: trigger.schedule.timezone: Value error, 'Europe/Berlinn' is not an IANA timezone",
        ),
    ],
)
@pytest.mark.slow
def test_each_mistake_names_line_field_and_what_is_allowed(
    stub_actions: dict[str, type[BaseModel]], old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    problems = _problems(GOOD.replace(old, new, 1))
    assert len(problems) == 1 and problems[0].startswith(expected), problems


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "{field: stock, op: lt, value: 10}",
            "{field: stok, op: lt, value: 10}",
            "w.yaml:12: trigger.conditions[0].field: inventory_item has no field 'stok'; fields: sku, "
            "name, warehouse, stock,",
        ),
        (
            "{field: stock, op: lt, value: 10}",
            "{field: sku, op: lt, value: 10}",
            "w.yaml:12: trigger.conditions[0].op: sku is text: use one of eq, ne, in, not_in, contains, "
            "starts_with",
        ),
        (
            "{field: stock, op: lt, value: 10}",
            "{field: stock, op: lt, value: ten}",
            "w.yaml:12: trigger.conditions[0].value: stock lt needs a number, not 'ten'",
        ),
        (
            "{field: stock, op: lt, value: 10}",
            "{field: stock, op: in, value: 10}",
            "w.yaml:12: trigger.conditions[0].value: in needs a list of values",
        ),
        (
            "entity: inventory_item",
            "entity: manufacturer",
            "w.yaml:8: trigger.tags.include_any[0].category: a manufacturer has no category tags; it can "
            "carry no tags at all",
        ),
        (
            "    source: stock_changed",
            "    source: order_event",
            "w.yaml:14: trigger.on_change.source: order_event fires for sales_order, not for inventory_item",
        ),
        (
            "    action: items_stub",
            "    action: add_itemz",
            "w.yaml:22: nodes[1].action: unknown action 'add_itemz'; actions: ",
        ),
        (
            'skus: ["{{ trigger.sku }}"]',
            'skus: ["{{ trigger.skuu }}"]',
            "w.yaml:25: nodes[1].with.skus[0]: trigger.skuu: inventory_item triggers have no 'skuu'; they "
            "have: sku, name,",
        ),
        (
            'body: "Plan {{ steps.plan.output.plan_id }}"',
            'body: "{{ steps.mail.output }}"',
            "w.yaml:33: nodes[2].with.body: steps.mail.output: node 'mail' can read only the steps it "
            "needs (directly or through others): add, plan",
        ),
        (
            'body: "Plan {{ steps.plan.output.plan_id }}"',
            'body: "{{ steps.plan.outptu }}"',
            "w.yaml:33: nodes[2].with.body: steps.plan.outptu: a step has output, status",
        ),
        (
            'body: "Plan {{ steps.plan.output.plan_id }}"',
            'body: "{{ workflow.owner }}"',
            "w.yaml:33: nodes[2].with.body: workflow.owner: workflow has only name, version, run_id",
        ),
        (
            'body: "Plan {{ steps.plan.output.plan_id }}"',
            "body: \"{{ ''.__class__ }}\"",
            "w.yaml:33: nodes[2].with.body: '__class__': names starting with '_' are not allowed",
        ),
        (
            'body: "Plan {{ steps.plan.output.plan_id }}"',
            'body: "{{ lipsum() }}"',
            "w.yaml:33: nodes[2].with.body: unknown name 'lipsum'",
        ),
        (
            'body: "Plan {{ steps.plan.output.plan_id }}"',
            'body: "{{ steps.plan.output.plan_id }"',
            "w.yaml:33: nodes[2].with.body: template syntax error on its line 1",
        ),
        (
            'if: "{{ steps.add.output.added > 0 }}"',
            'if: "added: {{ steps.add.output.added }}"',
            "w.yaml:29: nodes[2].if: a condition is one expression",
        ),
        (
            "  - id: mail",
            "  - id: add",
            "w.yaml:27: nodes[2].id: node id 'add' is used twice (first by node 2)",
        ),
    ],
)
@pytest.mark.slow
def test_whole_document_checks_name_line_and_field(
    stub_actions: dict[str, type[BaseModel]], old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    problems = _problems(GOOD.replace(old, new, 1))
    assert problems[0].startswith(expected), problems


def test_templated_values_are_checked_at_run_time_the_rest_strictly_now(
    stub_actions: dict[str, type[BaseModel]],
) -> None:
    """``plan_id`` is an int field: a template there is fine now; a wrong literal beside it is not."""
    text = GOOD.replace("      skus: [", "      below_stock: -1\n      skus: [")
    assert _problems(text) == [
        "w.yaml:25: nodes[1].with.below_stock: Input should be greater than or equal to 0"
    ]
    templated_strategy = GOOD.replace("{strategy: fill_to_target,", '{strategy: "{{ trigger.name }}",')
    assert parse_workflow(templated_strategy).nodes[1].with_["quantity"]["strategy"] == "{{ trigger.name }}"


@pytest.mark.parametrize(
    ("needs", "expected"),
    [
        (
            "[mail]",
            "w.yaml:23: nodes[1].needs[0]: needs 'mail', which comes after it; a node needs only nodes "
            "above it (this makes a cycle: add → mail → add)",
        ),
        ("[add]", "w.yaml:23: nodes[1].needs[0]: node 'add' cannot need itself"),
        ("[plann]", "w.yaml:23: nodes[1].needs[0]: needs 'plann', which is no node; nodes: plan, add, mail"),
    ],
)
def test_needs_refer_to_earlier_nodes_and_cycles_are_named(
    stub_actions: dict[str, type[BaseModel]], needs: str, expected: str
) -> None:
    text = GOOD.replace("    action: items_stub\n", f"    action: items_stub\n    needs: {needs}\n")
    assert _problems(text)[0] == expected


def test_explicit_empty_needs_runs_a_node_from_the_start(stub_actions: dict[str, type[BaseModel]]) -> None:
    text = GOOD.replace("    action: email_stub\n", "    action: email_stub\n    needs: []\n")
    problems = _problems(text)  # and so it may no longer read the steps it does not wait for
    assert problems[0].startswith("w.yaml:30: nodes[2].if: steps.add.output.added: node 'mail' can read only")


def test_several_mistakes_come_top_to_bottom(stub_actions: dict[str, type[BaseModel]]) -> None:
    text = (
        GOOD.replace("status: active", "status: live")
        .replace("op: lt", "op: below")
        .replace("- id: add", "- id: Add")
    )
    assert [int(p.split(":")[1]) for p in _problems(text)] == [3, 12, 21]
    # the whole-document checks run once the shapes are right, and list all they find
    text = GOOD.replace("kind: restock", "kind: x").replace("op: lt, value: 10", "op: lt, value: ten")
    assert [int(p.split(":")[1]) for p in _problems(text)] == [12, 19]


def test_a_folder_is_read_whole_and_names_are_unique(
    stub_actions: dict[str, type[BaseModel]], tmp_path: Path
) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yml").write_text(GOOD.replace("kind: restock", "kind: markdown"), encoding="utf-8")
    (tmp_path / "c.yaml").write_text("name: [broken\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a workflow", encoding="utf-8")
    (tmp_path / ".hidden.yaml").write_text("junk: [", encoding="utf-8")
    with pytest.raises(WorkflowFileError) as caught:
        load_path(tmp_path)
    assert caught.value.problems == [
        f"{tmp_path / 'b.yml'}:1: name: workflow 'saison-restock' is already defined in "
        f"{tmp_path / 'a.yaml'}; each workflow has one file and its own name",
        f"{tmp_path / 'c.yaml'}:2: not valid YAML: expected ',' or ']', but got '<stream end>'",
    ]
    (tmp_path / "b.yml").write_text(GOOD.replace("name: saison-restock", "name: other"), encoding="utf-8")
    (tmp_path / "c.yaml").unlink()
    assert [w.name for w in load_path(tmp_path)] == ["saison-restock", "other"]
    assert [w.name for w in load_path(tmp_path / "b.yml")] == ["other"]


def test_unreadable_and_missing_paths_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkflowFileError, match="no such file or folder; set JTL_WORKFLOWS_DIR"):
        load_path(tmp_path / "nope")
    (tmp_path / "latin1.yaml").write_bytes("name: gr\xfcn\n".encode("latin-1"))
    with pytest.raises(WorkflowFileError, match="not UTF-8 text"):
        load_file(tmp_path / "latin1.yaml")
    (tmp_path / "huge.yaml").write_text("#" * 600_000, encoding="utf-8")
    with pytest.raises(WorkflowFileError, match="a workflow file has at most 512000"):
        load_file(tmp_path / "huge.yaml")


def test_the_default_folder_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from jtl_automator.settings import get_settings

    monkeypatch.setenv("JTL_WORKFLOWS_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert load_path() == []
    finally:
        get_settings.cache_clear()


EXAMPLE_ACTIONS = {"create_plan", "add_items_to_plan", "call_webhook", "send_email"}


def test_the_examples_validate() -> None:
    """The shipped examples against the real actions (skipped until those are registered)."""
    missing = EXAMPLE_ACTIONS - set(action_names())
    if missing:
        pytest.skip(f"actions not registered yet: {', '.join(sorted(missing))}")
    found = {w.name: w.workflow for w in load_path(EXAMPLES)}
    assert set(found) == {"saison-restock", "monday-markdown", "held-address-crm"}


def test_the_examples_fit_the_definition_format(stand_ins_for_examples: None) -> None:
    """Until the real actions land: the examples' triggers, graphs and templates, with stand-in actions."""
    found: dict[str, Any] = {w.name: w.workflow for w in load_path(EXAMPLES)}
    restock, markdown, crm = found["saison-restock"], found["monday-markdown"], found["held-address-crm"]
    assert restock.trigger.on_change.source == "stock_changed" and restock.trigger.entity == "inventory_item"
    assert (
        markdown.trigger.schedule.cron == "0 6 * * 1"
        and markdown.trigger.schedule.timezone == "Europe/Berlin"
    )
    assert crm.trigger.on_change.events == ["held"]
    assert all(w.status == "active" for w in found.values())


def test_yaml_aliases_are_refused_before_they_expand(stub_actions: dict[str, type[BaseModel]]) -> None:
    """Nine lines of anchors would be 10**9 values for the validation to walk (a 'billion laughs')."""
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    started = __import__("time").monotonic()
    assert _problems(laughs) == [
        "w.yaml:2: YAML aliases (*a) are not allowed in a workflow file; write the value out"
    ]
    assert __import__("time").monotonic() - started < 0.5
