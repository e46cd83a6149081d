"""Categorisation rules: the Wawi category of each item, by keyword, pattern, maker, supplier or property.

The merchant writes the rules as YAML (``load_yaml_model(path, CategoryRules)``: every mistake with its
line, see docs/product-enrichment.md). The rule, in full:

1. A rule fits an item when every condition it names holds (and within a condition, any of its values):
   ``name``/``description`` keywords (case-insensitive, anywhere in the text; HTML tags ignored),
   ``name_regex``/``description_regex`` (Python ``re.search``), ``manufacturer`` and ``supplier`` names
   (whole name, ignoring case), ``properties`` (property name → accepted values, ignoring case).
   ``description`` means the item's description and short description together.
2. ``order: first_match`` tries the rules top to bottom; ``order: priority`` highest ``priority`` first
   (ties in file order). The first rule that fits decides; items no rule fits are listed as ``no_rule``.
3. The rule's ``category`` is a Wawi category path (``Küche > Kaffee``, compared ignoring case and the
   spaces around ``>``); it must exist in Wawi (:func:`unknown_categories` says which rules name one that
   does not). An item already in that category is ``already``; the others are ``assign``: the category is
   added through ``POST /categories/{id}/items``. Categories the item is in are never taken away.

Every condition is evaluated once per distinct value of its column (100,000 items share a few thousand
names, a few hundred makers), not once per item.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jtl_automator.transforms.validation import validate_frame

ASSIGN = "assign"
ALREADY = "already"
NO_RULE = "no_rule"
_TAGS = re.compile(r"<[^>]*>")


def category_key(path: str) -> str:
    """A category path compared ignoring case and the spacing around its ``>`` separators."""
    return " > ".join(part.strip().casefold() for part in path.split(">") if part.strip())


class RuleMatch(BaseModel):
    """What an item must have for the rule to fit; every condition given must hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: tuple[str, ...] = Field(default=(), description="Keywords in the item name (any).")
    name_regex: str | None = Field(default=None, description="A pattern found in the item name.")
    description: tuple[str, ...] = Field(
        default=(), description="Keywords in description or short description."
    )
    description_regex: str | None = None
    manufacturer: tuple[str, ...] = Field(default=(), description="Manufacturer names (any).")
    supplier: tuple[str, ...] = Field(default=(), description="Names of any of the item's suppliers (any).")
    properties: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Property name -> accepted values (each property must match)."
    )
    everything: bool = Field(default=False, description="Fits every item (a catch-all, say it explicitly).")

    @field_validator("name", "description", "manufacturer", "supplier", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("name", "description", "manufacturer", "supplier")
    @classmethod
    def _no_blank(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if any(not v.strip() for v in values):
            raise ValueError("an empty value would match everything")
        return tuple(v.strip() for v in values)

    @field_validator("properties", mode="before")
    @classmethod
    def _property_values(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return {k: (v,) if isinstance(v, str | int | float) else v for k, v in value.items()}
        return value

    @field_validator("properties")
    @classmethod
    def _property_texts(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, accepted in value.items():
            if not name.strip() or not accepted:
                raise ValueError(f"property {name!r} needs a name and at least one value")
        return value

    @field_validator("name_regex", "description_regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _some_condition(self) -> RuleMatch:
        given = [
            self.name,
            self.name_regex,
            self.description,
            self.description_regex,
            self.manufacturer,
            self.supplier,
            self.properties,
        ]
        if self.everything and any(given):
            raise ValueError("everything: true takes no other condition")
        if not self.everything and not any(given):
            raise ValueError("a rule needs a condition (or everything: true for a catch-all)")
        return self


class CategoryRule(BaseModel):
    """One rule: its conditions and the category path it assigns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, description="Wawi category path, levels separated by '>'.")
    match: RuleMatch
    priority: int = Field(default=0, description="Higher first under order: priority.")

    @field_validator("category")
    @classmethod
    def _a_path(cls, path: str) -> str:
        if not category_key(path):
            raise ValueError("a category path names at least one category")
        return path


class CategoryRules(BaseModel):
    """The rule file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order: Literal["first_match", "priority"] = "first_match"
    rules: tuple[CategoryRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> CategoryRules:
        names = [rule.name for rule in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must be unique: {', '.join(twice)}")
        return self

    def ordered(self) -> list[tuple[int, CategoryRule]]:
        """(position in the file, rule) in the order they are tried."""
        indexed = list(enumerate(self.rules))
        if self.order == "priority":
            return sorted(indexed, key=lambda pair: -pair[1].priority)
        return indexed


# -- categories -------------------------------------------------------------------------------------------

CATEGORIES_SCHEMA = pa.DataFrameSchema(
    {
        "category_id": pa.Column("int64"),
        "name": pa.Column("string", nullable=True),
        "parent_id": pa.Column("Int64", nullable=True),
    },
    name="wawi_categories",
    unique=["category_id"],
    coerce=True,
)


def category_paths(categories: pd.DataFrame) -> pd.Series:
    """Each category's path from its root (``Küche > Kaffee``), indexed by category id.

    A parent that is missing (or 0) ends the path; a loop in the parents ends it where it repeats.
    """
    categories = CATEGORIES_SCHEMA.validate(categories)
    name_of = dict(zip(categories["category_id"], categories["name"].fillna(""), strict=True))
    parent_of = dict(zip(categories["category_id"], categories["parent_id"], strict=True))
    paths: dict[int, str] = {}
    for category in name_of:
        chain: list[str] = []
        seen: set[int] = set()
        current: int | None = int(category)
        while current is not None and current in name_of and current not in seen:
            seen.add(current)
            chain.append(str(name_of[current]).strip())
            parent = parent_of[current]
            current = None if parent is pd.NA or pd.isna(parent) or parent == 0 else int(parent)
        paths[int(category)] = " > ".join(reversed(chain))
    return pd.Series(paths, dtype="string").rename_axis("category_id")


def path_index(paths: pd.Series) -> dict[str, int | None]:
    """Compared path -> category id; None where two categories share one path (ambiguous)."""
    index: dict[str, int | None] = {}
    for category_id, path in paths.items():
        key = category_key(str(path))
        index[key] = None if key in index else int(str(category_id))
    return index


def unknown_categories(rules: CategoryRules, paths: pd.Series) -> list[tuple[int, str]]:
    """(rule position, problem) for each rule whose category is not one Wawi category."""
    index = path_index(paths)
    problems: list[tuple[int, str]] = []
    for position, rule in enumerate(rules.rules):
        key = category_key(rule.category)
        if key not in index:
            problems.append((position, f"no Wawi category has the path {rule.category!r}"))
        elif index[key] is None:
            problems.append((position, f"several Wawi categories have the path {rule.category!r}"))
    return problems


# -- matching ---------------------------------------------------------------------------------------------

ITEMS_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("int64"),
        "sku": pa.Column("string", nullable=True),
        "name": pa.Column("string", nullable=True),
        "description": pa.Column("string", nullable=True),
        "manufacturer": pa.Column("string", nullable=True),
    },
    name="categorisation_items",
    unique=["item_id"],
    coerce=True,
)
#: The many-valued facts of an item: its suppliers' names and its property values.
LINKS_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column("int64"),
        "kind": pa.Column("string", pa.Check.isin(["supplier", "property"])),
        "key": pa.Column("string", nullable=True),  # the property's name
        "value": pa.Column("string", nullable=True),
    },
    name="categorisation_links",
    coerce=True,
)
MEMBERSHIP_SCHEMA = pa.DataFrameSchema(
    {"item_id": pa.Column("int64"), "category_id": pa.Column("int64")},
    name="category_memberships",
    coerce=True,
)
RESULT_COLUMNS = {
    "item_id": "int64",
    "sku": "string",
    "name": "string",
    "rule": "string",
    "category": "string",
    "category_id": "Int64",
    "status": "string",
    "current": "string",
}


def _by_value(values: pd.Series, test: Callable[[str], bool]) -> np.ndarray:
    """``test`` of each row's text, run once per distinct text (missing text never fits)."""
    codes, labels = pd.factorize(values.astype("string"))
    verdicts = np.asarray([test(str(label)) for label in labels] + [False], dtype=bool)
    chosen: np.ndarray = verdicts[codes]
    return chosen


def _keywords(words: tuple[str, ...]) -> Callable[[str], bool]:
    folded = [w.casefold() for w in words]
    return lambda text: any(word in _TAGS.sub(" ", text).casefold() for word in folded)


def _pattern(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda text: compiled.search(_TAGS.sub(" ", text)) is not None


def _names(names: tuple[str, ...]) -> Callable[[str], bool]:
    folded = {n.casefold() for n in names}
    return lambda text: text.strip().casefold() in folded


def _fits(items: pd.DataFrame, links: pd.DataFrame, match: RuleMatch) -> np.ndarray:
    fits = np.ones(len(items), dtype=bool)
    if match.everything:
        return fits
    for column, words, pattern in (
        ("name", match.name, match.name_regex),
        ("description", match.description, match.description_regex),
    ):
        if words:
            fits &= _by_value(items[column], _keywords(words))
        if pattern is not None:
            fits &= _by_value(items[column], _pattern(pattern))
    if match.manufacturer:
        fits &= _by_value(items["manufacturer"], _names(match.manufacturer))
    if match.supplier:
        suppliers = links[links["kind"] == "supplier"]
        having = suppliers.loc[_by_value(suppliers["value"], _names(match.supplier)), "item_id"]
        fits &= items["item_id"].isin(having).to_numpy()
    for prop, accepted in match.properties.items():
        rows = links[(links["kind"] == "property") & _by_value(links["key"], _names((prop,)))]
        having = rows.loc[_by_value(rows["value"], _names(tuple(str(a) for a in accepted))), "item_id"]
        fits &= items["item_id"].isin(having).to_numpy()
    return fits


def categorise(
    items: pd.DataFrame,
    rules: CategoryRules,
    paths: pd.Series,
    memberships: pd.DataFrame,
    links: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per item: the rule that fits first, its category and ``assign``/``already``/``no_rule`` (see module).

    ``paths`` comes from :func:`category_paths`; a rule whose category is unknown or ambiguous fits no item
    (check :func:`unknown_categories` first). Sorted as ``items``.
    """
    items = validate_frame(ITEMS_SCHEMA, items)
    links = LINKS_SCHEMA.validate(
        links if links is not None else pd.DataFrame(columns=["item_id", "kind", "key", "value"])
    )
    memberships = MEMBERSHIP_SCHEMA.validate(memberships)
    index = path_index(paths)
    n = len(items)
    rule_of = np.full(n, -1, dtype="int64")
    for position, rule in rules.ordered():
        if index.get(category_key(rule.category)) is None:
            continue
        open_rows = rule_of < 0
        if not open_rows.any():
            break
        rule_of[open_rows & _fits(items, links, rule.match)] = position
    names = [rule.name for rule in rules.rules]
    targets = [index.get(category_key(rule.category)) for rule in rules.rules]
    shown = [
        str(paths.get(t, rule.category)) if t is not None else rule.category
        for rule, t in zip(rules.rules, targets, strict=True)
    ]
    has_rule = rule_of >= 0
    pick = np.where(has_rule, rule_of, 0)
    rule_names = np.asarray(names, dtype=object)[pick]
    target = np.asarray([t if t is not None else -1 for t in targets], dtype="int64")[pick]
    member = set(zip(memberships["item_id"], memberships["category_id"], strict=True))
    already = np.fromiter(
        ((int(i), int(t)) in member for i, t in zip(items["item_id"], target, strict=True)),
        dtype=bool,
        count=n,
    )
    current = (
        memberships.assign(path=memberships["category_id"].map(paths))
        .groupby("item_id")["path"]
        .agg(lambda s: "; ".join(sorted(str(p) for p in s.dropna())))
    )
    status = np.where(~has_rule, NO_RULE, np.where(already, ALREADY, ASSIGN))
    chosen = pd.Series(has_rule)
    result = pd.DataFrame(
        {
            "item_id": items["item_id"].to_numpy(),
            "sku": items["sku"].to_numpy(),
            "name": items["name"].to_numpy(),
            "rule": pd.Series(rule_names, dtype="string").where(chosen),
            "category": pd.Series(np.asarray(shown, dtype=object)[pick], dtype="string").where(chosen),
            "category_id": pd.Series(target, dtype="Int64").where(chosen),
            "status": status,
            "current": items["item_id"].map(current).to_numpy(),
        }
    )
    return result.astype(RESULT_COLUMNS)


def assignments(result: pd.DataFrame) -> dict[int, list[int]]:
    """Category id -> the items to add to it (status ``assign``), in item order."""
    todo = result[result["status"] == ASSIGN]
    return {
        int(str(category)): [int(i) for i in group["item_id"]]
        for category, group in todo.groupby("category_id", sort=True)
    }
