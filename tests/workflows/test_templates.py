"""Templates: values filled from the trigger and earlier steps, and every known escape refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from jtl_automator.workflows import templates
from jtl_automator.workflows.templates import (
    RenderError,
    TemplateProblem,
    compile_template,
    is_template,
    render_block,
    render_value,
)

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def _context(**trigger: Any) -> dict[str, Any]:
    return {
        "trigger": {"sku": "A-1", "stock": 7, "warehouse": "W1", "cover_days": 12.345, **trigger},
        "steps": {"plan": {"output": {"plan_id": 42, "lines": [{"sku": "A-1"}, {"sku": "B-2"}]}}},
        "workflow": {"name": "saison-restock", "version": 3, "run_id": "r-1"},
        "now": NOW,
    }


def _render(source: str, **trigger: Any) -> Any:
    return render_value(source, _context(**trigger), node="tell", field=("with", "body"))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ trigger.stock }}", 7),
        ("  {{ trigger.stock }}  ", "  7  "),
        ("{{ steps.plan.output.plan_id }}", 42),
        ("{{ trigger.cover_days | round(1) }}", 12.3),
        ("{{ trigger.stock > 5 }}", True),
        ("{{ [trigger.sku, trigger.warehouse] }}", ["A-1", "W1"]),
        ("{{ 7 }}", 7),
        ("{{ '0042' }}", "0042"),  # text stays text (no literal_eval)
        ("stock {{ trigger.stock }} in {{ trigger.warehouse }}", "stock 7 in W1"),
        ("{{ trigger.sku | lower }}-{{ workflow.version }}", "a-1-3"),
        ("{{ now.strftime('%Y-%m-%d') }}", "2026-11-30"),
        ("{{ trigger.sku.lower() }}", "a-1"),
        ("{% for line in steps.plan.output.lines %}{{ line.sku }};{% endfor %}", "A-1;B-2;"),
        ("{{ steps.plan.output.lines | map(attribute='sku') | join(', ') }}", "A-1, B-2"),
        ("{{ trigger.items | length }}", 3),  # a key named like a dict method is the key
        ("{{ trigger.missing | default('none') }}", "none"),
    ],
)
def test_values_are_filled_and_one_expression_keeps_its_type(source: str, expected: Any) -> None:
    assert _render(source, items=[1, 2, 3]) == expected


def test_a_block_keeps_non_text_values_and_walks_nested_dicts_and_lists() -> None:
    block = {
        "quantity": "{{ trigger.stock }}",
        "plan_id": "{{ steps.plan.output.plan_id }}",
        "target": 60,
        "flag": True,
        "skus": ["{{ trigger.sku }}", "B-2"],
        "body": {"text": "sku {{ trigger.sku }}", "none": None},
    }
    assert render_block(block, _context(), node="add") == {
        "quantity": 7,
        "plan_id": 42,
        "target": 60,
        "flag": True,
        "skus": ["A-1", "B-2"],
        "body": {"text": "sku A-1", "none": None},
    }


def test_a_missing_name_is_an_error_naming_node_and_field() -> None:
    with pytest.raises(RenderError) as caught:
        render_block({"body": {"lines": ["ok", "{{ trigger.stok }}"]}}, _context(), node="tell")
    assert str(caught.value) == "node 'tell', field with.body.lines[1]: 'dict object' has no attribute 'stok'"
    with pytest.raises(RenderError, match=r"node 'tell', field with.body: .*'nothing'"):
        _render("{{ steps.plan.output.nothing + 1 }}")


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("{{ ''.__class__.__mro__ }}", "names starting with '_' are not allowed"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "names starting with '_' are not allowed"),
        ("{{ cycler.__init__.__globals__ }}", "names starting with '_'"),
        ("{{ cycler }}", "unknown name 'cycler'"),
        ("{{ joiner }}", "unknown name 'joiner'"),
        ("{{ namespace() }}", "unknown name 'namespace'"),
        ("{{ range(10**9) | list }}", "unknown name 'range'"),
        ("{{ 'x' * 10**9 }}", "refused: the repetition would make more than 100000 items"),
        ("{{ ['x'] * 10**9 }}", "refused: the repetition"),
        ("{{ 9 ** 9 ** 9 }}", "refused: the power is too large"),
        ("{{ '%999999999s' % 1 }}", "refused: the formatted text is longer"),
        ("{{ '%.999999999f' % 1.5 }}", "refused: the formatted text is longer"),
        ("{{ '%*s' % (999999999, 1) }}", "refused: the formatted text is longer"),
        ("{{ trigger.sku.center(10**9) }}", "refused: calling 'center' is not allowed"),
        ("{{ trigger.sku.format(trigger) }}", "refused: calling 'format' is not allowed"),
        ("{{ trigger.sku.zfill(10**9) }}", "refused: calling 'zfill'"),
        ("{{ trigger.sku | replace('A', 'A' * 1000) | replace('A', 'A' * 1000) }}", "refused: replace would"),
        ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('x') }}", "macros are not allowed"),
        ("{% for x in steps recursive %}{{ loop(x) }}{% endfor %}", "recursive loops are not allowed"),
        ("{{ self }}", "unknown name 'self'"),
        ("{{ self._TemplateReference__context }}", "names starting with '_'"),
        ("{{ lipsum(10**6) }}", "unknown name 'lipsum'"),
        ("{{ config.items() }}", "unknown name 'config'"),
        ("{{ request }}", "unknown name 'request'"),
        ("{% include '/etc/passwd' %}", "includes are not allowed"),
        ("{% extends 'x' %}", "extends are not allowed"),
        ("{% import 'x' as y %}", "imports are not allowed"),
        ("{{ trigger.sku | attr('__class__') }}", "No filter named 'attr'"),
        ("{{ trigger.sku | format(1) }}", "No filter named 'format'"),
        ("{{ trigger['__class__'] }}", "names starting with '_'"),
        ("{{ now.__class__.__init__ }}", "names starting with '_'"),
        ("{{ trigger.sku.__len__() }}", "names starting with '_'"),
        ("{% set s = trigger.sku %}{{ s.upper.__self__ }}", "names starting with '_'"),
        ("{{ trigger.sku.upper.__call__ }}", "names starting with '_'"),
        ("{{ now.replace }}", ""),  # reading a method is harmless; calling it is not allowed:
        ("{{ now.replace(year=1) }}", "refused: calling 'replace' is not allowed"),
        ("{{ steps.plan.output.lines.append(1) }}", "refused: calling 'append' is not allowed"),
        ("{{ trigger.items.clear() }}", "refused: calling 'clear' is not allowed"),
        ("{{ (trigger.sku | list | first).__class__ }}", "names starting with '_'"),
    ],
)
def test_hostile_templates_are_refused_with_a_clear_error(source: str, why: str) -> None:
    if not why:
        _render(source, items={"a": 1})
        return
    with pytest.raises(RenderError) as caught:
        _render(source, items={"a": 1})
    message = str(caught.value)
    assert message.startswith("node 'tell', field with.body: ") and why in message
    assert "\n" not in message and "Traceback" not in message


def test_loops_have_an_iteration_budget_and_renders_a_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    many = list(range(200))
    nested = "{% for a in trigger.many %}{% for b in trigger.many %}{% endfor %}{% endfor %}"
    with pytest.raises(RenderError, match="loops more than 10000 times"):
        _render(nested, many=many)
    assert _render("{% for a in trigger.many %}{% endfor %}done", many=many) == "done"
    monkeypatch.setattr(templates, "MAX_SECONDS", 0.0)
    with pytest.raises(RenderError, match="took longer than 0 s"):
        _render("{% for a in trigger.many %}{{ a }}{% endfor %}", many=many)


def test_output_size_is_limited() -> None:
    big = ["x" * 1000] * 9_000
    with pytest.raises(RenderError, match="output is longer than 100000"):
        _render("{% for b in trigger.big %}{{ b }}{% endfor %}", big=big)
    with pytest.raises(RenderError, match="value is longer than 100000"):
        _render("{{ trigger.big | join('') }}", big=big)


def test_hostile_renders_end_quickly() -> None:
    started = time.monotonic()
    for source in (
        "{{ 'x' * 10**9 }}",
        "{{ 9 ** 9 ** 9 }}",
        "{{ trigger.sku.center(10**9) }}",
        "{{ '%999999999s' % 1 }}",
        "{{ '%.999999999f' % 1.5 }}",
    ):
        with pytest.raises(RenderError):
            _render(source)
    assert time.monotonic() - started < 0.3


def test_compiling_reports_references_and_syntax_errors() -> None:
    compiled = compile_template("{{ trigger.sku }} {{ steps.plan.output['plan_id'] }} {{ now }}")
    assert [str(r) for r in compiled.references] == ["trigger.sku", "steps.plan.output.plan_id", "now"]
    assert not compiled.single_expression
    local = compile_template("{% for line in steps.plan.output.lines %}{{ line.sku }}{% endfor %}")
    assert [str(r) for r in local.references] == ["steps.plan.output.lines"]
    with pytest.raises(TemplateProblem, match="template syntax error on its line 1: unexpected '}'"):
        compile_template("{{ trigger.sku }")
    with pytest.raises(TemplateProblem, match="longer than 20000"):
        compile_template("{{ now }}" + "x" * 20_000)


def test_what_counts_as_a_template() -> None:
    assert is_template("{{ a }}") and is_template("{% if a %}x{% endif %}") and is_template("{# note #}")
    assert not is_template("plain { text }") and not is_template(7) and not is_template(None)
