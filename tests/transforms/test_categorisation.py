"""Categorisation rules: the YAML file with line numbers, first match or priority, every condition kind."""

from __future__ import annotations

import pandas as pd
import pytest

from jtl_automator.transforms.categorisation import (
    CategoryRules,
    assignments,
    categorise,
    category_paths,
    unknown_categories,
)
from jtl_automator.yaml_config import ConfigFileError, parse_yaml_model

CATEGORIES = pd.DataFrame(
    {
        "category_id": [1, 2, 3, 4, 5],
        "name": ["Küche", "Kaffee", "Tee", "Garten", "Sonstiges"],
        "parent_id": [0, 1, 1, None, 0],
    }
)
ITEMS = pd.DataFrame(
    {
        "item_id": [10, 11, 12, 13, 14],
        "sku": ["A", "B", "C", "D", "E"],
        "name": ["Kaffeemühle Edelstahl", "Teekanne Glas", "Gartenschere", "Espresso Tasse", "Schraube"],
        "description": ["<p>Mahlt Bohnen</p>", None, "Für Rosen", "Porzellan, <b>rot</b>", ""],
        "manufacturer": ["Graef", "Bodum", "Gardena", "Graef", None],
    }
)
LINKS = pd.DataFrame(
    {
        "item_id": [12, 13, 13],
        "kind": ["supplier", "property", "supplier"],
        "key": [None, "Farbe", None],
        "value": ["Garten Profi GmbH", "Rot", "Kaffee Großhandel"],
    }
)

RULES = """\
order: first_match
rules:
  - name: mills
    category: küche>kaffee
    match:
      name_regex: '(?i)mühle'
  - name: red cups
    category: Küche > Kaffee
    match:
      properties: {farbe: [rot, rubin]}
      manufacturer: graef
  - name: tea
    category: Küche > Tee
    match: {name: [tee, kanne]}
  - name: garden supplier
    category: Garten
    match: {supplier: garten profi gmbh, description: rosen}
  - name: rest
    category: Sonstiges
    priority: -1
    match: {everything: true}
"""


def rules(text: str = RULES) -> CategoryRules:
    return parse_yaml_model(text, CategoryRules, source="categories.yaml")


def test_paths_from_the_parents() -> None:
    paths = category_paths(CATEGORIES)
    assert paths.to_dict() == {1: "Küche", 2: "Küche > Kaffee", 3: "Küche > Tee", 4: "Garten", 5: "Sonstiges"}
    looped = pd.DataFrame({"category_id": [1, 2], "name": ["a", "b"], "parent_id": [2, 1]})
    assert category_paths(looped).to_dict() == {1: "b > a", 2: "a > b"}


def test_first_match_assigns_keeps_and_lists_items_without_a_rule() -> None:
    memberships = pd.DataFrame({"item_id": [11, 13], "category_id": [3, 1]})
    paths = category_paths(CATEGORIES)
    result = categorise(ITEMS, rules(), paths, memberships, LINKS)
    assert result[["sku", "rule", "category", "status"]].to_numpy().tolist() == [
        ["A", "mills", "Küche > Kaffee", "assign"],
        ["B", "tea", "Küche > Tee", "already"],
        ["C", "garden supplier", "Garten", "assign"],
        ["D", "red cups", "Küche > Kaffee", "assign"],
        ["E", "rest", "Sonstiges", "assign"],
    ]
    assert result.loc[result["sku"] == "D", "current"].tolist() == ["Küche"]
    assert assignments(result) == {2: [10, 13], 4: [12], 5: [14]}
    without_rest = rules(RULES.split("  - name: rest")[0])
    listed = categorise(ITEMS, without_rest, paths, memberships, LINKS)
    assert listed.loc[listed["status"] == "no_rule", "sku"].tolist() == ["E"]
    assert listed.loc[listed["status"] == "no_rule", "category_id"].isna().all()


def test_priority_order() -> None:
    text = RULES.replace("order: first_match", "order: priority").replace(
        "  - name: tea\n", "  - name: tea\n    priority: 5\n"
    )
    text = text.replace("name: [tee, kanne]", "name: [tee, kanne, mühle]")
    result = categorise(
        ITEMS, rules(text), category_paths(CATEGORIES), pd.DataFrame(columns=["item_id", "category_id"])
    )
    assert result.set_index("sku")["rule"].to_dict()["A"] == "tea"  # priority 5 before the mills rule


def test_rules_naming_unknown_categories_are_found() -> None:
    text = RULES.replace("category: Garten\n", "category: Garten > Rosen\n")
    assert unknown_categories(rules(text), category_paths(CATEGORIES)) == [
        (3, "no Wawi category has the path 'Garten > Rosen'")
    ]
    twins = pd.concat([CATEGORIES, pd.DataFrame({"category_id": [6], "name": ["Garten"], "parent_id": [0]})])
    assert unknown_categories(rules(), category_paths(twins)) == [
        (3, "several Wawi categories have the path 'Garten'")
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "rules:\n  - name: a\n    category: X\n    match: {name_regex: '(unclosed'}\n",
            "categories.yaml:4: rules[0].match.name_regex: Value error, not a valid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            "rules:\n  - name: a\n    category: X\n    match: {}\n",
            "categories.yaml:4: rules[0].match: Value error, a rule needs a condition (or everything: true "
            "for a catch-all)",
        ),
        (
            "rules:\n  - name: a\n    category: X\n    match: {name: ['']}\n",
            "categories.yaml:4: rules[0].match.name: Value error, an empty value would match everything",
        ),
        (
            "rules:\n  - name: a\n    category: ' > '\n    match: {everything: true}\n",
            "categories.yaml:3: rules[0].category: Value error, a category path names at least one category",
        ),
        (
            "order: random\nrules:\n  - name: a\n    category: X\n    match: {everything: true}\n",
            "categories.yaml:1: order: Input should be 'first_match' or 'priority'",
        ),
        (
            "rules:\n  - name: a\n    category: X\n    match: {everything: true}\n    prio: 3\n",
            "categories.yaml:5: rules[0].prio: Extra inputs are not permitted",
        ),
        ("rules:\n  - name: a\n   category: X\n", "categories.yaml:3: not valid YAML"),
    ],
)
def test_rule_file_mistakes_name_their_line(text: str, problem: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        rules(text)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_duplicate_rule_names() -> None:
    text = RULES + "  - name: tea\n    category: X\n    match: {name: x}\n"
    with pytest.raises(ConfigFileError, match="rule names must be unique: tea"):
        rules(text)
