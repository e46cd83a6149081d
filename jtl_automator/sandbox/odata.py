"""The OData subset JTL-FFN list endpoints accept: ``$filter`` and ``$orderBy`` over an allow-list of fields.

A tokenizer plus a recursive-descent parser compile a filter once into a plain Python predicate, so the
sandbox can scan 100,000 objects quickly and cache the result. Field paths use ``/`` (``items/jfsku``);
a path that crosses an array matches when ANY element matches (OData ``any`` semantics, which is how FFN
documents ``items/jfsku``). Every error names the offending token and its position, because the real
API answers a bad filter with a 400 and the client author has to see why.

Grammar::

    filter  := or
    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" filter ")" | compare
    compare := operand OP operand | boolean-path
    operand := path | 'string' | number | true | false | null | date-time
    OP      := eq | ne | gt | ge | lt | le

FFN documents only ``eq``, ``and`` and ``/`` paths; ``parse_filter(..., operators=...)`` narrows the grammar
to a subset (the strict sandbox passes ``{"eq", "and"}``), refusing every other operator by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, TypeVar

FieldType = Literal["string", "number", "boolean", "datetime"]
Predicate = Callable[[Mapping[str, Any]], bool]
Path = tuple[str, ...]
_Obj = TypeVar("_Obj", bound=Mapping[str, Any])

_COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
_ORDERING = frozenset({"gt", "ge", "lt", "le"})
#: Every operator the parser knows; ``parse_filter(operators=...)`` takes a subset of these.
FILTER_OPERATORS = frozenset({*_COMPARISONS, "and", "or", "not"})
#: What the reference documents for FFN's ``$filter`` (jtl-apis.md §1.4), besides ``/`` paths.
DOCUMENTED_FFN_OPERATORS = frozenset({"eq", "and"})
_OPERATOR_ORDER = (*_COMPARISONS, "and", "or", "not")


class ODataError(ValueError):
    """A ``$filter``/``$orderBy`` the sandbox cannot accept; the message is safe to show to the caller."""


class OperatorNotSupported(ODataError):
    """A well-formed ``$filter`` using an operator this parser was narrowed without (strict mode)."""


@dataclass(frozen=True)
class FieldTable:
    """Fields a collection allows in ``$filter``/``$orderBy``, their types and which prefixes are arrays."""

    types: Mapping[str, FieldType]
    arrays: frozenset[str] = field(default_factory=frozenset)
    order_only: Mapping[str, FieldType] = field(default_factory=dict)

    def is_many(self, name: str) -> bool:
        """Whether the path crosses an array, so it yields many values (ANY semantics)."""
        parts = name.split("/")
        return any("/".join(parts[:i]) in self.arrays for i in range(1, len(parts) + 1))


@dataclass(frozen=True)
class OrderKey:
    """One ``$orderBy`` clause."""

    path: Path
    type: FieldType
    descending: bool


# --------------------------------------------------------------------------------------------- tokens
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?(?![\w.]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # lparen rparen comma string datetime number name end
    text: str
    pos: int
    value: Any = None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            if text[pos] == "'":
                raise ODataError(f"unterminated string literal starting at position {pos}")
            raise ODataError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "string":
            tokens.append(_Token("string", raw, pos, raw[1:-1].replace("''", "'")))
        elif kind == "number":
            number: float | int = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(_Token("number", raw, pos, number))
        elif kind == "datetime":
            tokens.append(_Token("datetime", raw, pos, _parse_datetime_literal(raw, pos)))
        elif kind != "ws":
            tokens.append(_Token(kind, raw, pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _parse_datetime_literal(raw: str, pos: int) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(raw))
    except ValueError:
        raise ODataError(f"invalid date-time literal {raw!r} at position {pos}") from None


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are read as UTC, so literals without an offset compare with stored timestamps."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@lru_cache(maxsize=65536)
def parse_timestamp(value: str) -> datetime | None:
    """Stored FFN timestamps parsed once each; unparseable strings compare as absent."""
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------- paths
def _getter(path: Path, many: bool) -> Callable[[Mapping[str, Any]], list[Any]]:
    """Values at ``path``: one (possibly None) for a scalar path, each element's value through arrays."""
    if not many:
        if len(path) == 1:
            (key,) = path

            def get_one(obj: Mapping[str, Any]) -> list[Any]:
                return [obj.get(key)]

            return get_one

        def get_nested(obj: Mapping[str, Any]) -> list[Any]:
            current: Any = obj
            for key in path:
                if not isinstance(current, Mapping):
                    return [None]
                current = current.get(key)
            return [current]

        return get_nested

    def get_many(obj: Mapping[str, Any]) -> list[Any]:
        current: list[Any] = [obj]
        for key in path:
            following: list[Any] = []
            for node in current:
                if isinstance(node, Mapping):
                    value = node.get(key)
                    if isinstance(value, list):
                        following.extend(value)
                    else:
                        following.append(value)
            current = following
        return current

    return get_many


# --------------------------------------------------------------------------------------------- parser
@dataclass
class _Operand:
    kind: Literal["path", "literal"]
    token: _Token
    value: Any = None
    field_type: FieldType | None = None  # literal: type of the literal (None for null)


class _Parser:
    def __init__(self, text: str, table: FieldTable, operators: frozenset[str] | None = None) -> None:
        self.text = text
        self.table = table
        self.operators = operators
        self.tokens = _tokenize(text)
        self.index = 0

    def allowed(self, token: _Token) -> str:
        """The operator ``token`` names, or an error naming it when this parser was narrowed without it."""
        op = token.text.lower()
        if self.operators is not None and op not in self.operators:
            accepted = ", ".join(o for o in _OPERATOR_ORDER if o in self.operators)
            raise OperatorNotSupported(
                f"operator {op!r} at position {token.pos} is not supported in $filter (accepted: {accepted})"
            )
        return op

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text.lower() in words

    def parse(self) -> Predicate:
        if self.peek().kind == "end":
            raise ODataError("empty $filter")
        predicate = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            raise ODataError(
                f"unexpected {token.text!r} at position {token.pos}; expected 'and', 'or' or end"
            )
        return predicate

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.at_keyword("or"):
            self.allowed(self.advance())
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda obj: any(part(obj) for part in parts)

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while self.at_keyword("and"):
            self.allowed(self.advance())
            parts.append(self.parse_unary())
        if len(parts) == 1:
            return parts[0]
        return lambda obj: all(part(obj) for part in parts)

    def parse_unary(self) -> Predicate:
        if self.at_keyword("not"):
            self.allowed(self.advance())
            inner = self.parse_unary()
            return lambda obj: not inner(obj)
        if self.peek().kind == "lparen":
            self.advance()
            inner = self.parse_or()
            token = self.advance()
            if token.kind != "rparen":
                raise ODataError(
                    f"expected ')' at position {token.pos}, found {token.text or 'end of input'!r}"
                )
            return inner
        return self.parse_compare()

    def parse_operand(self) -> _Operand:
        token = self.advance()
        if token.kind == "string":
            return _Operand("literal", token, token.value, "string")
        if token.kind == "number":
            return _Operand("literal", token, token.value, "number")
        if token.kind == "datetime":
            return _Operand("literal", token, token.value, "datetime")
        if token.kind == "name":
            word = token.text.lower()
            if word in ("true", "false"):
                return _Operand("literal", token, word == "true", "boolean")
            if word == "null":
                return _Operand("literal", token, None, None)
            if word in _COMPARISONS or word in ("and", "or", "not"):
                raise ODataError(
                    f"expected a field or value at position {token.pos}, found operator {token.text!r}"
                )
            if self.peek().kind == "lparen":
                raise ODataError(f"unsupported function {token.text!r} at position {token.pos}")
            if token.text not in self.table.types:
                raise ODataError(f"unknown or not filterable field {token.text!r} at position {token.pos}")
            return _Operand("path", token, token.text, self.table.types[token.text])
        found = token.text or "end of input"
        raise ODataError(f"expected a field or value at position {token.pos}, found {found!r}")

    def parse_compare(self) -> Predicate:
        left = self.parse_operand()
        if not (self.peek().kind == "name" and self.peek().text.lower() in _COMPARISONS):
            # A bare boolean path is an implicit ``eq true``: not one of the documented forms when narrowed.
            if left.kind == "path" and left.field_type == "boolean" and self.operators is None:
                return _compile_comparison(
                    self.table, left, "eq", _Operand("literal", left.token, True, "boolean")
                )
            token = self.peek()
            found = token.text or "end of input"
            ops = [op for op in _COMPARISONS if self.operators is None or op in self.operators]
            raise ODataError(
                f"expected a comparison operator ({', '.join(ops)}) at position {token.pos}, found {found!r}"
            )
        op = self.allowed(self.advance())
        right = self.parse_operand()
        if left.kind == "path" and right.kind == "literal":
            return _compile_comparison(self.table, left, op, right)
        if left.kind == "literal" and right.kind == "path":
            flipped = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}.get(op, op)
            return _compile_comparison(self.table, right, flipped, left)
        raise ODataError(
            f"comparison at position {left.token.pos} must compare one field with one literal value"
        )


def _coerce_literal(field_name: str, field_type: FieldType, literal: _Operand) -> Any:
    """Check the literal fits the field's type; strings are accepted for date-time fields if they parse."""
    if literal.field_type is None or literal.field_type == field_type:
        return literal.value
    if field_type == "datetime" and literal.field_type == "string":
        parsed = parse_timestamp(literal.value)
        if parsed is None:
            raise ODataError(f"{literal.token.text} at position {literal.token.pos} is not a date-time")
        return parsed
    raise ODataError(
        f"cannot compare {field_type} field {field_name!r} with {literal.field_type} literal "
        f"{literal.token.text} at position {literal.token.pos}"
    )


def _compile_comparison(table: FieldTable, path: _Operand, op: str, literal: _Operand) -> Predicate:
    name: str = path.value
    field_type = table.types[name]
    target = _coerce_literal(name, field_type, literal)
    if op in _ORDERING and target is None:
        raise ODataError(f"cannot use {op!r} with null at position {literal.token.pos}")
    if op in _ORDERING and field_type == "boolean":
        raise ODataError(f"cannot use {op!r} on boolean field {name!r}")
    getter = _getter(tuple(name.split("/")), table.is_many(name))
    match_value = _value_matcher(field_type, op, target)

    def predicate(obj: Mapping[str, Any]) -> bool:
        return any(match_value(value) for value in getter(obj))

    return predicate


def _normaliser(field_type: FieldType) -> Callable[[Any], Any]:
    """Stored values of the wrong type count as absent rather than raising mid-scan."""
    if field_type == "number":
        return lambda v: v if isinstance(v, int | float) and not isinstance(v, bool) else None
    if field_type == "boolean":
        return lambda v: v if isinstance(v, bool) else None
    if field_type == "datetime":
        return lambda v: parse_timestamp(v) if isinstance(v, str) else None
    return lambda v: v if isinstance(v, str) else None


def _value_matcher(field_type: FieldType, op: str, target: Any) -> Callable[[Any], bool]:
    normalise = _normaliser(field_type)

    if op == "eq":
        return lambda value: normalise(value) == target
    if op == "ne":
        return lambda value: normalise(value) != target
    compare: Callable[[Any, Any], bool] = {
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
    }[op]

    def ordered(value: Any) -> bool:
        normalised = normalise(value)
        return normalised is not None and bool(compare(normalised, target))

    return ordered


def parse_filter(text: str, table: FieldTable, operators: frozenset[str] | None = None) -> Predicate:
    """Compile ``$filter`` into a predicate over one JSON object; ODataError names the problem.

    ``operators`` (a subset of :data:`FILTER_OPERATORS`; None: all) is what the server accepts: any
    other operator is an error naming it, as a server that implements only the documented ones answers.
    """
    if operators is not None and not operators <= FILTER_OPERATORS:
        raise ValueError(f"unknown $filter operators: {sorted(operators - FILTER_OPERATORS)}")
    return _Parser(text, table, operators).parse()


def parse_order_by(text: str, table: FieldTable) -> list[OrderKey]:
    """``field [asc|desc], ...``; array paths are rejected because they have no single value to sort by."""
    keys: list[OrderKey] = []
    allowed = {**table.types, **table.order_only}
    for position, part in _split_commas(text):
        words = part.split()
        if not words or len(words) > 2:
            raise ODataError(f"invalid $orderBy clause {part.strip()!r} at position {position}")
        name = words[0]
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise ODataError(f"invalid sort direction {words[1]!r} in $orderBy (use asc or desc)")
        if name not in allowed:
            raise ODataError(f"unknown or not sortable field {name!r} in $orderBy")
        if table.is_many(name):
            raise ODataError(f"cannot order by {name!r}: it is a field of a list")
        keys.append(OrderKey(tuple(name.split("/")), allowed[name], direction == "desc"))
    return keys


def _split_commas(text: str) -> Iterable[tuple[int, str]]:
    if not text.strip():
        raise ODataError("empty $orderBy")
    position = 0
    for part in text.split(","):
        yield position, part
        position += len(part) + 1


def sort_objects(objects: Sequence[_Obj], keys: list[OrderKey]) -> list[_Obj]:
    """Stable multi-key sort; nulls sort first ascending (OData's rule) and last descending."""
    result = list(objects)
    for key in reversed(keys):
        get = _getter(key.path, many=False)
        convert = _normaliser(key.type)

        def sort_key(
            obj: Mapping[str, Any], get: Callable[..., list[Any]] = get, convert: Any = convert
        ) -> Any:
            value = convert(get(obj)[0])
            return (0, 0) if value is None else (1, value)

        result.sort(key=sort_key, reverse=key.descending)
    return result
