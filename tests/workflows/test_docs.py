"""docs/workflows.md keeps up with the code: every field, event and operator, and a valid example."""

from __future__ import annotations

import re
from pathlib import Path

from jtl_automator.workflows.definition import (
    ENTITY_FIELDS,
    OPERATORS,
    ORDER_EVENTS,
    TRIGGER_META,
    Workflow,
)
from jtl_automator.workflows.loader import parse_workflow

DOC = (Path(__file__).resolve().parents[2] / "docs" / "workflows.md").read_text(encoding="utf-8")


def test_every_field_event_and_operator_is_documented() -> None:
    names = {f"`{name}`" for fields in ENTITY_FIELDS.values() for name in fields}
    names |= {f"`{event}`" for event in ORDER_EVENTS}
    names |= {f"`{op}`" for ops in OPERATORS.values() for op in ops}
    names |= {f"`trigger.{name}`" for name in TRIGGER_META}
    assert sorted(n for n in names if n not in DOC) == []


def test_the_documented_example_is_a_valid_workflow(example_actions: None) -> None:
    block = re.search(r"```yaml\n(.*?)```", DOC, re.S)
    assert block is not None
    workflow = parse_workflow(block.group(1), source="docs/workflows.md")
    assert [n.id for n in workflow.nodes] == ["plan", "add", "tell_purchasing"]
    # what the store keeps (the document as JSON) reads back as the same workflow
    assert Workflow.model_validate(workflow.document()) == workflow
