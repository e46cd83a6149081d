"""A workflow document as pydantic models, and the checks that need the whole document.

Two passes, so every mistake can be named with its place: the models check shapes, kinds and single
values (a cron that does not parse, an unknown operator, a key that is not allowed); then
:func:`check_workflow` checks what needs the whole document and the action registry (fields the
trigger's entity has, tags it can carry, node ids and their ``needs``, the action names, each node's
``with:`` block against its action's parameter model, and the names templates read). Each problem
comes with its location in the document, which the loader turns into a file line.

Templated values (a text with ``{{``) are known only when a run fills them. At load their template
syntax and the names they read are checked, and the ``with:`` block is validated with every other
value strict; at run time :func:`resolve_params` fills them and validates the parameter model again
with the real values.
"""

from __future__ import annotations

import graphlib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from jtl_automator.workflows.templates import (
    CompiledTemplate,
    Reference,
    RenderError,
    TemplateProblem,
    compile_template,
    render_block,
    render_value,
    templated_fields,
)

Location = tuple[str | int, ...]

# -- Vocabulary ------------------------------------------------------------------------------------


class WorkflowStatus(StrEnum):
    """Only ``active`` workflows run; ``archived`` is final."""

    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


#: Which status may follow which (draft → active; active ↔ paused; anything but archived → archived).
TRANSITIONS: dict[WorkflowStatus, frozenset[WorkflowStatus]] = {
    WorkflowStatus.DRAFT: frozenset({WorkflowStatus.ACTIVE, WorkflowStatus.ARCHIVED}),
    WorkflowStatus.ACTIVE: frozenset({WorkflowStatus.PAUSED, WorkflowStatus.ARCHIVED}),
    WorkflowStatus.PAUSED: frozenset({WorkflowStatus.ACTIVE, WorkflowStatus.ARCHIVED}),
    WorkflowStatus.ARCHIVED: frozenset(),
}


def can_move(current: WorkflowStatus, target: WorkflowStatus) -> bool:
    """Whether ``current`` may become ``target`` (staying where it is counts as allowed)."""
    return current == target or target in TRANSITIONS[current]


EntityType = Literal["item", "child_item", "manufacturer", "inventory_item", "sales_order"]
FieldType = Literal["number", "text", "flag", "datetime", "list"]


@dataclass(frozen=True)
class FieldSpec:
    """A field a trigger's entity has: its type and where its value comes from."""

    type: FieldType
    source: str


_ITEM_FIELDS: dict[str, FieldSpec] = {
    "sku": FieldSpec("text", "Wawi item SKU"),
    "name": FieldSpec("text", "Wawi item Name"),
    "active": FieldSpec("flag", "Wawi item IsActive"),
    "manufacturer": FieldSpec("text", "the name of the item's Wawi manufacturer"),
    "price": FieldSpec("number", "Wawi ItemPriceData.SalesPriceNet (net sales price)"),
    "purchase_price": FieldSpec("number", "Wawi ItemPriceData.PurchasePriceNet"),
    "margin_pct": FieldSpec("number", "(price - purchase_price) / price x 100"),
    "stock": FieldSpec("number", "available units over all warehouses (Wawi stocks, FFN stock levels)"),
    "daily_demand": FieldSpec("number", "units sold per day (the order lines the project records)"),
    "cover_days": FieldSpec("number", "stock / daily_demand (days until it runs out)"),
    "changed": FieldSpec("datetime", "Wawi item Changed"),
    "added": FieldSpec("datetime", "Wawi item Added"),
}

#: The fields each entity type offers to conditions and templates (``trigger.<field>``).
ENTITY_FIELDS: dict[str, dict[str, FieldSpec]] = {
    "item": _ITEM_FIELDS,
    "child_item": {**_ITEM_FIELDS, "parent_sku": FieldSpec("text", "the SKU of the Wawi parent item")},
    "manufacturer": {
        "name": FieldSpec("text", "Wawi manufacturer Name"),
        "item_count": FieldSpec("number", "how many items name it as their manufacturer"),
    },
    "inventory_item": {
        "sku": FieldSpec("text", "Wawi item SKU"),
        "name": FieldSpec("text", "Wawi item Name"),
        "warehouse": FieldSpec(
            "text", "the FFN warehouse id (a Wawi FFN warehouse's Code), else the Wawi warehouse Id"
        ),
        "stock": FieldSpec("number", "available units in this warehouse"),
        "stock_total": FieldSpec("number", "units in this warehouse, reserved ones included"),
        "reserved": FieldSpec("number", "units locked for shipment or in pick lists"),
        "daily_demand": FieldSpec("number", "units sold per day from this warehouse"),
        "cover_days": FieldSpec("number", "stock / daily_demand in this warehouse"),
        "price": FieldSpec("number", "Wawi ItemPriceData.SalesPriceNet"),
        "purchase_price": FieldSpec("number", "Wawi ItemPriceData.PurchasePriceNet"),
    },
    "sales_order": {
        "order_number": FieldSpec("text", "Wawi sales order Number"),
        "status": FieldSpec("text", "the order's status in the project's order ledger (imported, held, …)"),
        "hold_reason": FieldSpec("text", "why the order is held (the ledger's reason)"),
        "hold_codes": FieldSpec("list", "the failure codes of the hold (ADDRESS_INCOMPLETE, …)"),
        "country": FieldSpec("text", "shipping address CountryIso"),
        "total_gross": FieldSpec("number", "SalesOrderPaymentDetails.TotalGrossAmount"),
        "payment_status": FieldSpec("number", "SalesOrderPaymentDetails.PaymentStatus (0, 1, 2 = paid)"),
        "sales_channel": FieldSpec("text", "Wawi SalesChannelId"),
        "warehouse": FieldSpec("text", "the FFN warehouse of its outbound"),
        "order_date": FieldSpec("datetime", "Wawi SalesOrderDate"),
        "cancelled": FieldSpec("flag", "Wawi IsCancelled"),
    },
}

#: What every trigger carries besides its entity's fields.
TRIGGER_META: dict[str, str] = {
    "entity": "the entity type",
    "key": "the entity's key (SKU, SKU@warehouse, order number, manufacturer name)",
    "source": "schedule, or the change source that fired",
    "fired_at": "when the trigger fired (UTC)",
    "tags": "the entity's tags as text (category:…, property:…=…, custom_field:…=…)",
}
#: ``trigger.event`` / ``trigger.payload`` exist where an event fired the run.
EVENT_META: dict[str, str] = {"event": "the event's name", "payload": "the event's body (gateway events)"}

TagKind = Literal["category", "property", "custom_field"]
#: The tags each entity type can carry (see docs/workflows.md for the Wawi data each one reads).
TAG_KINDS: dict[str, frozenset[str]] = {
    "item": frozenset({"category", "property", "custom_field"}),
    "child_item": frozenset({"category", "property", "custom_field"}),
    "inventory_item": frozenset({"category", "property", "custom_field"}),
    "manufacturer": frozenset(),
    "sales_order": frozenset({"custom_field"}),
}

#: The order events order processing records in the state database (``order_events.event``).
ORDER_EVENTS: dict[str, str] = {
    "imported": "a new Wawi order entered the ledger",
    "held": "put on hold (an address, a payment, stock: see hold_codes)",
    "duplicate_held": "held because another order has the same number",
    "on_hold_wawi": "a person put it on hold in Wawi",
    "released": "a held order became an outbound",
    "failed": "could not be processed (see hold_reason)",
    "outbound_created": "its FFN outbound was created (or adopted)",
    "shipped": "FFN shipped it",
    "writeback_failed": "writing the result back to Wawi failed",
    "changed_after_outbound": "cancelled or re-addressed in Wawi after its outbound",
    "change_alerted": "a person was told about such a change",
    "outbound_cancelled": "its outbound was cancelled after the order was",
    "outbound_readdressed": "its outbound got the new address",
    "skipped_delivered": "an order it had open was delivered completely in Wawi another way (closed)",
}

ChangeSource = Literal["wawi_items_changed", "stock_changed", "order_event", "gateway_event"]
#: The entity types each change source can fire for.
SOURCE_ENTITIES: dict[str, frozenset[str]] = {
    "wawi_items_changed": frozenset({"item", "child_item"}),
    "stock_changed": frozenset({"item", "child_item", "inventory_item"}),
    "order_event": frozenset({"sales_order"}),
    "gateway_event": frozenset({"item", "child_item", "manufacturer", "inventory_item", "sales_order"}),
}

Operator = Literal[
    "lt", "lte", "gt", "gte", "eq", "ne", "in", "not_in", "contains", "not_contains", "starts_with",
    "older_than_days", "within_days",
]  # fmt: skip
#: The operators each field type allows.
OPERATORS: dict[str, tuple[str, ...]] = {
    "number": ("lt", "lte", "gt", "gte", "eq", "ne", "in", "not_in"),
    "text": ("eq", "ne", "in", "not_in", "contains", "starts_with"),
    "flag": ("eq", "ne"),
    "datetime": ("older_than_days", "within_days"),
    "list": ("contains", "not_contains"),  # a list value: any of them
}


def _pattern(pattern: str, what: str, longest: int) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value) or len(value) > longest:
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return AfterValidator(check)


Slug = Annotated[
    str,
    _pattern(
        r"[a-z0-9][a-z0-9_-]*",
        "name: use lower-case letters, digits, - and _ (e.g. saison-restock), at most 100 characters",
        100,
    ),
]
NodeId = Annotated[
    str,
    _pattern(r"[a-z][a-z0-9_]*", "node id: use lower-case letters, digits and _ (e.g. tell_purchasing)", 64),
]
EventType = Annotated[
    str,
    _pattern(
        r"[a-z0-9][a-z0-9_.-]*",
        "event type: lower-case letters, digits, ., - and _ (e.g. crm.contact_updated)",
        100,
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- Tags -------------------------------------------------------------------------------------------

TagKey = tuple[str, ...]


def _text(value: object) -> str:
    """A tag value as text: YAML reads ``ja`` as text but ``yes`` as true and ``10`` as a number."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class NamedValue(_Strict):
    """A property or custom field, and optionally the value it must have (none: any value)."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    value: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        return None if value is None else _text(value)


class TagRef(_Strict):
    """One tag: ``category: Saison``, ``property: {name: Farbe, value: rot}`` or ``custom_field: {…}``."""

    category: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    property_: NamedValue | None = Field(default=None, alias="property")
    custom_field: NamedValue | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TagRef:
        given = [k for k in ("category", "property_", "custom_field") if getattr(self, k) is not None]
        given = [k.rstrip("_") for k in given]
        if len(given) != 1:
            raise ValueError(
                "a tag is exactly one of category: NAME, property: {name, value} or "
                f"custom_field: {{name, value}} (got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def kind(self) -> TagKind:
        """Which kind of tag this is."""
        if self.category is not None:
            return "category"
        return "property" if self.property_ is not None else "custom_field"

    def key(self) -> TagKey:
        """``("category", name)`` or ``(kind, name, value)``; value None means any value."""
        if self.category is not None:
            return ("category", self.category)
        named = self.property_ or self.custom_field
        assert named is not None
        return (self.kind, named.name) if named.value is None else (self.kind, named.name, named.value)

    def matches(self, tags: Iterable[TagKey]) -> bool:
        """Whether an entity with ``tags`` carries this tag (a category by its name or full path)."""
        mine = self.key()
        return any(tag == mine or (len(mine) == 2 and tag[:2] == mine) for tag in tags)

    def __str__(self) -> str:
        key = self.key()
        return f"{key[0]}:{key[1]}" + (f"={key[2]}" if len(key) > 2 else "")


class TagFilter(_Strict):
    """Which tags an entity must carry: any of, all of, none of."""

    include_any: list[TagRef] = Field(default_factory=list)
    include_all: list[TagRef] = Field(default_factory=list)
    exclude: list[TagRef] = Field(default_factory=list)

    def refs(self) -> Iterable[tuple[str, int, TagRef]]:
        """Every tag with the list it is in and its position."""
        for part in ("include_any", "include_all", "exclude"):
            for i, ref in enumerate(getattr(self, part)):
                yield part, i, ref

    def matches(self, tags: Iterable[TagKey]) -> bool:
        """Any of ``include_any`` (if given), all of ``include_all``, none of ``exclude``."""
        have = list(tags)
        if self.include_any and not any(ref.matches(have) for ref in self.include_any):
            return False
        if not all(ref.matches(have) for ref in self.include_all):
            return False
        return not any(ref.matches(have) for ref in self.exclude)


# -- Conditions -------------------------------------------------------------------------------------

Scalar = str | int | float | bool


class Condition(_Strict):
    """``{field: stock, op: lt, value: 10}``: a field of the trigger's entity compared to a value."""

    field: Annotated[str, Field(min_length=1, max_length=100)]
    op: Operator
    value: Scalar | list[Scalar]

    def check(self, entity: str) -> list[tuple[Location, str]]:
        """What is wrong with this condition for ``entity`` (empty: fine)."""
        fields = ENTITY_FIELDS[entity]
        spec = fields.get(self.field)
        if spec is None:
            return [(("field",), f"{entity} has no field {self.field!r}; fields: {', '.join(fields)}")]
        allowed = OPERATORS[spec.type]
        if self.op not in allowed:
            return [(("op",), f"{self.field} is {spec.type}: use one of {', '.join(allowed)}")]
        many = self.op in ("in", "not_in")
        either = spec.type == "list"  # contains one code, or any of several
        if not either and many != isinstance(self.value, list):
            want = "a list of values" if many else "one value"
            return [(("value",), f"{self.op} needs {want}")]
        values = self.value if isinstance(self.value, list) else [self.value]
        for value in values:
            if spec.type in ("number", "datetime"):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    what = "a number of days" if spec.type == "datetime" else "a number"
                    return [(("value",), f"{self.field} {self.op} needs {what}, not {value!r}")]
                if spec.type == "datetime" and value < 0:
                    return [(("value",), "a number of days is 0 or more")]
            elif spec.type == "flag" and not isinstance(value, bool):
                return [(("value",), f"{self.field} is a flag: the value is true or false")]
            elif spec.type in ("text", "list") and not isinstance(value, str | int | float):
                return [(("value",), f"{self.field} is compared with text, not {value!r}")]
        return []

    def matches(self, record: Mapping[str, Any], now: datetime | None = None) -> bool:
        """Whether ``record`` (an entity's fields) satisfies this; a missing value never does."""
        actual = record.get(self.field)
        if actual is None:
            return False
        op, value = self.op, self.value
        if op in ("older_than_days", "within_days"):
            assert isinstance(value, int | float)
            when = actual if isinstance(actual, datetime) else datetime.fromisoformat(str(actual))
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            age = (now or datetime.now(UTC)) - when
            limit = timedelta(days=float(value))
            return age > limit if op == "older_than_days" else age <= limit
        if op in ("contains", "not_contains") and isinstance(actual, list | tuple | set):
            have = {_text(a) for a in actual}
            wanted = value if isinstance(value, list) else [value]
            found = any(_text(v) in have for v in wanted)
            return found if op == "contains" else not found
        if isinstance(actual, str) or isinstance(value, str):
            a = _text(actual)
            if op == "contains":
                return _text(value) in a
            if op == "starts_with":
                return a.startswith(_text(value))
            if op in ("in", "not_in"):
                inside = a in {_text(v) for v in value} if isinstance(value, list) else False
                return inside if op == "in" else not inside
            if op in ("eq", "ne"):
                return (a == _text(value)) == (op == "eq")
        if op in ("in", "not_in"):
            inside = actual in value if isinstance(value, list) else False
            return inside if op == "in" else not inside
        comparisons = {
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "eq": lambda a, b: a == b,
            "ne": lambda a, b: a != b,
        }
        try:
            return bool(comparisons[op](actual, value))
        except (KeyError, TypeError):
            return False


# -- Trigger ---------------------------------------------------------------------------------------


class Schedule(_Strict):
    """A cron schedule in a timezone (Europe/Berlin unless named)."""

    cron: str
    timezone: str = "Europe/Berlin"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronSim(value, datetime(2026, 1, 1))
        except CronSimError as exc:
            raise ValueError(
                f"{value!r} is not a cron expression ({exc}); five fields: minute hour day month "
                "weekday, e.g. '0 6 * * 1' for Mondays at 06:00"
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA timezone (e.g. Europe/Berlin, UTC)") from None
        return value

    def next_after(self, moment: datetime) -> datetime:
        """The first time after ``moment`` this schedule fires (aware, in its timezone)."""
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone).replace(tzinfo=None)
        return next(iter(CronSim(self.cron, local))).replace(tzinfo=zone)


class OnChange(_Strict):
    """A change that fires the trigger: Wawi items, stock, the order events recorded, or a gateway event."""

    source: ChangeSource
    events: list[str] | None = None
    event_type: EventType | None = None

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str] | None) -> list[str] | None:
        for event in value or ():
            if event not in ORDER_EVENTS:
                raise ValueError(f"{event!r} is no order event; order events: {', '.join(ORDER_EVENTS)}")
        return value

    @model_validator(mode="after")
    def _fits_source(self) -> OnChange:
        if self.events is not None and self.source != "order_event":
            raise ValueError("events: only with source order_event (the order events to fire on)")
        if self.events is not None and not self.events:
            raise ValueError("events: name at least one order event, or leave it out for all of them")
        if self.source == "gateway_event" and self.event_type is None:
            raise ValueError("source gateway_event needs event_type: the name the sender gives its event")
        if self.source != "gateway_event" and self.event_type is not None:
            raise ValueError("event_type: only with source gateway_event")
        return self


class Trigger(_Strict):
    """Which entities, filtered by tags and conditions, and when: a schedule or a change."""

    entity: EntityType
    tags: TagFilter | None = None
    conditions: list[Condition] = Field(default_factory=list)
    schedule: Schedule | None = None
    on_change: OnChange | None = None

    @model_validator(mode="after")
    def _one_firing(self) -> Trigger:
        if (self.schedule is None) == (self.on_change is None):
            raise ValueError(
                "a trigger fires on exactly one of schedule: {cron, timezone} or on_change: {source}"
            )
        return self

    def fields(self) -> dict[str, str]:
        """The names ``trigger.<name>`` may read: the entity's fields and the trigger's own."""
        names = {name: spec.source for name, spec in ENTITY_FIELDS[self.entity].items()}
        names.update(TRIGGER_META)
        if self.on_change is not None and self.on_change.source in ("order_event", "gateway_event"):
            names.update(EVENT_META)
        return names

    def matches(
        self, record: Mapping[str, Any], tags: Iterable[TagKey] = (), now: datetime | None = None
    ) -> bool:
        """Whether an entity (its fields and tags) passes the tag filter and every condition."""
        if self.tags is not None and not self.tags.matches(tags):
            return False
        return all(c.matches(record, now) for c in self.conditions)


def describe_trigger(trigger: Trigger) -> str:
    """One line for people: ``inventory_item on stock_changed; tags: category:Saison; stock lt 10``."""
    if trigger.schedule is not None:
        when = f"cron '{trigger.schedule.cron}' ({trigger.schedule.timezone})"
    else:
        assert trigger.on_change is not None
        change = trigger.on_change
        when = f"on {change.source}"
        if change.events:
            when += f" ({', '.join(change.events)})"
        if change.event_type:
            when += f" ({change.event_type})"
    parts = [f"{trigger.entity} {when}"]
    if trigger.tags is not None:
        tags = [f"{'not ' if part == 'exclude' else ''}{ref}" for part, _, ref in trigger.tags.refs()]
        parts.append(f"tags: {', '.join(tags)}")
    parts += [f"{c.field} {c.op} {c.value}" for c in trigger.conditions]
    return "; ".join(parts)


# -- Nodes and the workflow --------------------------------------------------------------------------


class Node(_Strict):
    """One step: an action, its parameters (``with:``), the nodes it waits for and an optional guard."""

    id: NodeId
    action: Annotated[str, Field(min_length=1, max_length=100)]
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    needs: list[str] | None = None  # None: the node before it (none for the first)
    if_: str | None = Field(default=None, alias="if")


class Workflow(_Strict):
    """A workflow document."""

    name: Slug
    description: str = Field(default="", max_length=2000)
    status: WorkflowStatus = WorkflowStatus.DRAFT
    trigger: Trigger
    nodes: Annotated[list[Node], Field(min_length=1, max_length=50)]

    def needs_of(self) -> dict[str, tuple[str, ...]]:
        """Each node's ``needs`` with the default filled in (the node before it)."""
        out: dict[str, tuple[str, ...]] = {}
        previous: str | None = None
        for node in self.nodes:
            out[node.id] = (
                tuple(node.needs) if node.needs is not None else (() if previous is None else (previous,))
            )
            previous = node.id
        return out

    def ancestors(self) -> dict[str, frozenset[str]]:
        """Each node's direct and indirect ``needs`` (the steps whose output it may read)."""
        needs = self.needs_of()
        found: dict[str, frozenset[str]] = {}
        for node in self.nodes:  # needs point backwards (checked), so one pass suffices
            seen: set[str] = set()
            for parent in needs[node.id]:
                seen.add(parent)
                seen |= found.get(parent, frozenset())
            found[node.id] = frozenset(seen)
        return found

    def document(self) -> dict[str, Any]:
        """The document as JSON-ready data (what a version stores)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def content_hash(self) -> str:
        """sha256 of the document without its status: a status change is not a new version."""
        body = {k: v for k, v in self.document().items() if k != "status"}
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# -- Whole-document checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One mistake: where in the document (``("nodes", 1, "with", "quantity")``) and what is wrong."""

    location: Location
    message: str


def check_workflow(workflow: Workflow) -> list[Problem]:
    """Everything :class:`Workflow` alone cannot check (see the module docstring), in document order."""
    problems = _check_trigger(workflow.trigger)
    graph = _check_graph(workflow)
    problems += graph
    # With a node id used twice, which step a template reads is unclear: its names are checked later.
    duplicates = any(p.location[-1] == "id" for p in graph)
    ancestors = workflow.ancestors()
    for i, node in enumerate(workflow.nodes):
        where: Location = ("nodes", i)
        problems += _check_node(workflow, node, ancestors[node.id], where, references=not duplicates)
    return problems


def _check_trigger(trigger: Trigger) -> list[Problem]:
    problems: list[Problem] = []
    for i, condition in enumerate(trigger.conditions):
        for loc, message in condition.check(trigger.entity):
            problems.append(Problem(("trigger", "conditions", i, *loc), message))
    if trigger.tags is not None:
        kinds = TAG_KINDS[trigger.entity]
        for part, i, ref in trigger.tags.refs():
            if ref.kind not in kinds:
                allowed = ", ".join(sorted(kinds)) if kinds else "no tags at all"
                problems.append(
                    Problem(
                        ("trigger", "tags", part, i, ref.kind),
                        f"a {trigger.entity} has no {ref.kind} tags; it can carry {allowed}",
                    )
                )
    if trigger.on_change is not None:
        entities = SOURCE_ENTITIES[trigger.on_change.source]
        if trigger.entity not in entities:
            problems.append(
                Problem(
                    ("trigger", "on_change", "source"),
                    f"{trigger.on_change.source} fires for {', '.join(sorted(entities))}, "
                    f"not for {trigger.entity}",
                )
            )
    return problems


def _check_graph(workflow: Workflow) -> list[Problem]:
    problems: list[Problem] = []
    position: dict[str, int] = {}
    for i, node in enumerate(workflow.nodes):
        if node.id in position:
            problems.append(
                Problem(
                    ("nodes", i, "id"),
                    f"node id {node.id!r} is used twice (first by node {position[node.id] + 1})",
                )
            )
        else:
            position[node.id] = i
    if problems:
        return problems
    needs = workflow.needs_of()
    graph = {node_id: set(parents) & set(position) for node_id, parents in needs.items()}
    cycle: list[str] = []
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
    for i, node in enumerate(workflow.nodes):
        for j, parent in enumerate(node.needs or []):
            where: Location = ("nodes", i, "needs", j)
            if parent not in position:
                problems.append(
                    Problem(where, f"needs {parent!r}, which is no node; nodes: {', '.join(position)}")
                )
            elif parent == node.id:
                problems.append(Problem(where, f"node {node.id!r} cannot need itself"))
            elif position[parent] > i:
                text = f"needs {parent!r}, which comes after it; a node needs only nodes above it"
                if node.id in cycle:
                    text += f" (this makes a cycle: {' → '.join(cycle)})"
                problems.append(Problem(where, text))
    return problems


def _check_node(
    workflow: Workflow, node: Node, ancestors: frozenset[str], where: Location, *, references: bool
) -> list[Problem]:
    from jtl_automator.workflows.actions import action_names, get_action

    problems: list[Problem] = []
    allowed = _reference_rule(workflow, node, ancestors) if references else (lambda ref: None)
    templated: list[Location] = []
    for loc, source in templated_fields(node.with_):
        templated.append(loc)
        problems += _check_template(source, allowed, (*where, "with", *loc))
    if node.if_ is not None:
        problems += _check_template(node.if_, allowed, (*where, "if"), single=True)
    if node.action not in action_names():
        known = ", ".join(action_names()) or "none registered"
        problems.append(Problem((*where, "action"), f"unknown action {node.action!r}; actions: {known}"))
        return problems
    params = get_action(node.action).params
    try:
        params.model_validate(node.with_)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = data_path(node.with_, error["loc"])
            if any(_overlaps(loc, t) for t in templated):
                continue  # known only when a run fills the template: validated then
            problems.append(Problem((*where, "with", *loc), _explain(error, params)))
    return problems


def data_path(data: Any, loc: Iterable[Any]) -> Location:
    """Pydantic's error location as a path in ``data``: union member names (``fixed``, ``int``) left out."""
    path: list[str | int] = []
    current, missing = data, False
    for step in loc:
        if missing:
            path.append(step)
        elif isinstance(current, Mapping) and isinstance(step, str):
            if step in current:
                current = current[step]
                path.append(step)
            elif not _is_member(step, current):
                missing = True  # a key the data lacks (a missing field)
                path.append(step)
        elif isinstance(current, list) and isinstance(step, int) and 0 <= step < len(current):
            current = current[step]
            path.append(step)
        # else: a member name of a union over a value that is here (``deadline.str``): not a place
    return tuple(path)


def _is_member(step: str, mapping: Mapping[str, Any]) -> bool:
    """Whether ``step`` names a union member (a discriminator's value, ``function-after[…]``)."""
    return "[" in step or any(step == v for v in mapping.values() if isinstance(v, str))


def _overlaps(a: Location, b: Location) -> bool:
    """One location lies within the other (the error is about a templated value or what holds it)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _explain(error: Mapping[str, Any], params: type[BaseModel]) -> str:
    """Pydantic's message, plus what is allowed where it says only what is not."""
    message = str(error["msg"])
    if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
        message += f"; {params.__name__} takes: {', '.join(params.model_fields)}"
    return message


def _check_template(source: str, allowed: Any, where: Location, *, single: bool = False) -> list[Problem]:
    try:
        template = compile_template(source)
    except TemplateProblem as exc:
        return [Problem(where, str(exc))]
    problems = [Problem(where, why) for ref in template.references if (why := allowed(ref)) is not None]
    if single and not template.single_expression:
        problems.append(
            Problem(where, 'a condition is one expression, e.g. "{{ steps.plan.output.lines > 0 }}"')
        )
    return problems


def _reference_rule(workflow: Workflow, node: Node, ancestors: frozenset[str]) -> Any:
    """The check of one name a template of ``node`` reads (None: allowed; else why not)."""
    trigger_fields = workflow.trigger.fields()

    def allowed(ref: Reference) -> str | None:
        path = ref.path
        root = path[0]
        if root == "trigger" and len(path) > 1 and path[1] not in trigger_fields:
            return (
                f"{ref}: {workflow.trigger.entity} triggers have no {path[1]!r}; "
                f"they have: {', '.join(trigger_fields)}"
            )
        if root == "workflow" and len(path) > 1 and path[1] not in WORKFLOW_FIELDS:
            return f"{ref}: workflow has only {', '.join(WORKFLOW_FIELDS)}"
        if root == "steps" and len(path) > 1:
            if path[1] not in ancestors:
                earlier = ", ".join(sorted(ancestors)) or "none"
                return (
                    f"{ref}: node {node.id!r} can read only the steps it needs (directly or through "
                    f"others): {earlier}"
                )
            if len(path) > 2 and path[2] not in STEP_FIELDS:
                return f"{ref}: a step has {', '.join(STEP_FIELDS)}"
        return None

    return allowed


#: ``workflow.<name>`` and ``steps.<id>.<name>`` in templates.
WORKFLOW_FIELDS: tuple[str, ...] = ("name", "version", "run_id")
STEP_FIELDS: tuple[str, ...] = ("output", "status")


# -- Run time ----------------------------------------------------------------------------------------


class ParamsError(ValueError):
    """A node's ``with:`` block, filled, does not fit its action's parameters (one line per field)."""


def resolve_params(
    node: Node, params: type[BaseModel], context: Mapping[str, Any]
) -> tuple[dict[str, Any], BaseModel]:
    """The node's filled ``with:`` block and its validated parameters (RenderError / ParamsError)."""
    filled = render_block(node.with_, context, node=node.id)
    try:
        return filled, params.model_validate(filled)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            loc = ".".join(str(step) for step in data_path(filled, error["loc"]))
            filled_value = _short(error.get("input"))
            lines.append(f"node {node.id!r}, field with.{loc}: {error['msg']} (filled value: {filled_value})")
        raise ParamsError("; ".join(lines)) from None


def evaluate_if(node: Node, context: Mapping[str, Any]) -> bool:
    """Whether the node runs: its ``if`` filled and taken as true or false (no ``if``: it runs)."""
    if node.if_ is None:
        return True
    return bool(render_value(node.if_, context, node=node.id, field=("if",)))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def template_context(
    *,
    trigger: Mapping[str, Any],
    steps: Mapping[str, Mapping[str, Any]],
    workflow: Mapping[str, Any],
    now: datetime,
    visible: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The names templates read, built the one way the runner and ``simulate`` both use.

    ``visible``: the step ids a node may read (its ancestors, see :meth:`Workflow.ancestors`); the
    other steps are left out, so a computed ``steps[name]`` cannot reach them either.
    """
    shown = None if visible is None else set(visible)
    return {
        "trigger": dict(trigger),
        "steps": {k: dict(v) for k, v in steps.items() if shown is None or k in shown},
        "workflow": dict(workflow),
        "now": now,
    }


__all__ = [
    "ENTITY_FIELDS",
    "EVENT_META",
    "OPERATORS",
    "ORDER_EVENTS",
    "SOURCE_ENTITIES",
    "TAG_KINDS",
    "TRANSITIONS",
    "TRIGGER_META",
    "CompiledTemplate",
    "Condition",
    "FieldSpec",
    "Node",
    "OnChange",
    "ParamsError",
    "Problem",
    "RenderError",
    "Schedule",
    "TagFilter",
    "TagRef",
    "Trigger",
    "Workflow",
    "WorkflowStatus",
    "can_move",
    "check_workflow",
    "evaluate_if",
    "resolve_params",
    "template_context",
]
