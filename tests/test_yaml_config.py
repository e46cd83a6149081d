"""Hand-written rule files: every mistake is named with its file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from jtl_automator.transforms.pricing import PricingRules
from jtl_automator.yaml_config import ConfigFileError, load_yaml_model, parse_yaml_model

GOOD = """\
order: priority
rules:
  - name: coffee
    match: {category: "Küche > Kaffee"}
    strategy: cost_plus
    markup_pct: 80
    endings: [0.99, 0.95]
  - name: rest
    strategy: target_margin
    margin_pct: 35
"""


def test_a_good_file_gives_the_model() -> None:
    rules = parse_yaml_model(GOOD, PricingRules, source="pricing.yaml")
    assert [r.name for r in rules.rules] == ["coffee", "rest"] and rules.rules[0].endings == (0.95, 0.99)


def test_a_wrong_value_is_named_with_its_line_and_field() -> None:
    text = GOOD.replace("markup_pct: 80", "markup_pct: -180")
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml_model(text, PricingRules, source="pricing.yaml")
    assert caught.value.problems == ["pricing.yaml:6: rules[0].markup_pct: Input should be greater than -100"]


def test_several_mistakes_each_get_a_line() -> None:
    text = GOOD.replace("strategy: target_margin", "strategy: guess").replace(
        "order: priority", "order: random"
    )
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml_model(text, PricingRules, source="p.yaml")
    lines = [p.split(":")[1] for p in caught.value.problems]
    assert lines == ["1", "9"] and "rules[1].strategy" in caught.value.problems[1]


def test_an_unknown_key_and_a_missing_one() -> None:
    text = GOOD.replace("    margin_pct: 35\n", "    margn_pct: 35\n")
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml_model(text, PricingRules, source="p.yaml")
    assert caught.value.problems == ["p.yaml:10: rules[1].margn_pct: Extra inputs are not permitted"]
    fixed = text.replace("    margn_pct: 35\n", "")
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml_model(fixed, PricingRules, source="p.yaml")
    assert caught.value.problems == [
        "p.yaml:8: rules[1]: Value error, strategy target_margin needs margin_pct"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules:\n  - name: x\n    strategy: [unclosed\n", "p.yaml:4: not valid YAML"),
        ("rules: {a: 1}\n  b: 2\n", "p.yaml:2: not valid YAML"),
        ("", "p.yaml: rules: Field required"),
        ("- just\n- a list\n", "p.yaml:1: (top level): Input should be a valid dictionary"),
    ],
)
def test_malformed_yaml(text: str, expected: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml_model(text, PricingRules, source="p.yaml")
    assert str(caught.value).startswith(expected)


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot be read"):
        load_yaml_model(tmp_path / "nope.yaml", PricingRules)
    (tmp_path / "ok.yaml").write_text(GOOD, encoding="utf-8")
    assert len(load_yaml_model(tmp_path / "ok.yaml", PricingRules).rules) == 2


class _Cat(BaseModel, extra="forbid"):
    kind: Literal["cat"]
    lives: int = Field(gt=0)


class _Dog(BaseModel, extra="forbid"):
    kind: Literal["dog"]
    bark: Literal["loud", "soft"] | list[str] = "loud"


class _Pets(BaseModel, extra="forbid"):
    pets: list[Annotated[_Cat | _Dog, Field(discriminator="kind")]]


def test_a_tagged_union_member_is_named_by_its_own_line_without_the_tag() -> None:
    text = "pets:\n  - kind: dog\n  - kind: cat\n    lives: 0\n  - kind: cat\n    livs: 9\n"
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml_model(text, _Pets, source="pets.yaml", allowed_keys=True)
    assert caught.value.problems == [
        "pets.yaml:4: pets[1].lives: Input should be greater than 0",
        "pets.yaml:5: pets[2].lives: Field required",
        "pets.yaml:6: pets[2].livs: Extra inputs are not permitted; allowed here: kind, lives",
    ]


def test_a_union_of_types_is_named_at_its_value() -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_yaml_model("pets:\n  - kind: dog\n    bark: 3\n", _Pets, source="pets.yaml")
    assert [p.split(": ")[0:2] for p in caught.value.problems] == [["pets.yaml:3", "pets[0].bark"]] * 2
