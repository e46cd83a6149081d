"""Values filled from the trigger and earlier steps: ``{{ trigger.sku }}``, safely.

A workflow is written by a merchant, not by us, and its templates run inside the flows with their
credentials at hand; so a template may read data and shape it, never reach Python. Layers, each one
enough on its own for the well-known escapes:

- jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` (no ``_`` attributes, no unsafe callables);
- before anything runs, the parsed template is checked: only the names ``trigger``, ``steps``,
  ``workflow`` and ``now`` (no ``self``, ``range``, ``lipsum``, ``cycler``, ``config`` …), no
  attribute or key starting with ``_``, no macros, includes, imports, blocks or recursive loops;
- the engine has no globals, a short list of filters, and calls only a few plain methods of text,
  dates and mappings (``str.format``, ``center`` and the like can build gigabytes from a few bytes);
- ``*``, ``**`` and ``%`` refuse results larger than the output limit; loops count their iterations;
  the render stops at the output size limit and at the time limit.

A missing name is an error that names the node and the field (StrictUndefined), never an empty string.
A template that is exactly one expression (``"{{ trigger.stock }}"``) gives the value itself (an int
stays an int); any other template gives text.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

#: The names a template may start from.
ROOTS: tuple[str, ...] = ("trigger", "steps", "workflow", "now")
#: At most this many characters of output (and of any one value a ``*``, ``**`` or ``%`` makes).
MAX_OUTPUT = 100_000
#: At most this many loop iterations per render, all loops together.
MAX_ITERATIONS = 10_000
#: A render that takes longer than this stops.
MAX_SECONDS = 1.0
#: Templates longer than this are refused before parsing.
MAX_SOURCE = 20_000

_SAFE_FILTERS = [
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "wordcount",
]
#: Plain methods a template may call, by the type they belong to.
_SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        [
            "lower",
            "upper",
            "strip",
            "lstrip",
            "rstrip",
            "startswith",
            "endswith",
            "split",
            "rsplit",
            "title",
            "capitalize",
            "casefold",
            "isdigit",
            "isalpha",
            "isalnum",
            "isspace",
            "islower",
            "isupper",
            "count",
            "find",
            "rfind",
            "removeprefix",
            "removesuffix",
        ]
    ),
    datetime: frozenset(["isoformat", "strftime", "date", "weekday", "isoweekday", "timestamp"]),
    date: frozenset(["isoformat", "strftime", "weekday", "isoweekday"]),
    dict: frozenset(["get", "keys", "values", "items"]),
    list: frozenset(["index", "count"]),
}
_FORBIDDEN_NODES: dict[type[nodes.Node], str] = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Include: "includes",
    nodes.Import: "imports",
    nodes.FromImport: "imports",
    nodes.Extends: "extends",
    nodes.Block: "blocks",
    nodes.FilterBlock: "filter blocks",
    nodes.Scope: "scopes",
    nodes.ScopedEvalContextModifier: "autoescape blocks",
    nodes.EvalContextModifier: "autoescape blocks",
    nodes.AssignBlock: "set blocks",
}
_MARK = re.compile(r"{{|{%|{#")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")


class TemplateProblem(ValueError):
    """A template that cannot be used or could not be filled; the message says where and why."""


def is_template(value: object) -> bool:
    """A string with template syntax (``{{``, ``{%`` or ``{#``); anything else is taken literally."""
    return isinstance(value, str) and _MARK.search(value) is not None


@dataclass
class _Budget:
    deadline: float
    iterations: int = 0


_local = threading.local()


def _budget() -> _Budget | None:
    found: _Budget | None = getattr(_local, "budget", None)
    return found


def _tick(count: int = 1) -> None:
    """Spend loop iterations and check the clock; raises SecurityError past either limit."""
    budget = _budget()
    if budget is None:
        return
    budget.iterations += count
    if budget.iterations > MAX_ITERATIONS:
        raise SecurityError(f"the template loops more than {MAX_ITERATIONS} times")
    if time.monotonic() > budget.deadline:
        raise SecurityError(f"the template took longer than {MAX_SECONDS:g} s")


def _counted(iterable: Any) -> Iterator[Any]:
    """What a ``for`` loop iterates over, one tick per item (the loops' budget)."""
    if isinstance(iterable, Undefined):
        iter(iterable)  # StrictUndefined: the clear "is undefined" error
    for item in iterable:
        _tick()
        yield item


def _size(value: object) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


def _safe_replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    """``replace`` that refuses a result over the output limit before making it."""
    text = str(value)
    times = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        times = min(times, count)
    if len(text) + times * (len(new) - len(old)) > MAX_OUTPUT:
        raise SecurityError(f"replace would make more than {MAX_OUTPUT} characters")
    return text.replace(old, new, -1 if count is None else count)


class WorkflowEnvironment(SandboxedEnvironment):
    """The sandbox with the limits above (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.globals.clear()
        kept = {name: self.filters[name] for name in _SAFE_FILTERS}
        kept["replace"] = _safe_replace
        kept["__counted__"] = _counted
        self.filters.clear()
        self.filters.update(kept)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**`` and ``%`` with the size of the result checked before it is made."""
        _tick(0)
        if operator == "**":
            big = isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0
            if big and right * math.log2(abs(left)) > 256:
                raise SecurityError("the power is too large (at most 256 bits)")
            return left**right
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                repeated = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if repeated and len(seq) * times > MAX_OUTPUT:
                    raise SecurityError(f"the repetition would make more than {MAX_OUTPUT} items")
            ints = isinstance(left, int) and isinstance(right, int)
            if ints and left.bit_length() + right.bit_length() > 4096:
                raise SecurityError("the product is too large")
            return left * right
        if isinstance(left, str):  # "%": a width or precision can make a huge text from a few bytes
            for width, precision in _PERCENT_SPEC.findall(left):
                sizes = [int(n) for n in (width, precision) if n.isdigit()]
                if "*" in (width, precision) or any(n > MAX_OUTPUT for n in sizes):
                    raise SecurityError(f"the formatted text is longer than {MAX_OUTPUT} characters")
        result = left % right
        if _size(result) > MAX_OUTPUT:
            raise SecurityError(f"the formatted text is longer than {MAX_OUTPUT} characters")
        return result

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Only the plain methods of :data:`_SAFE_METHODS`; nothing else is callable from a template."""
        _tick(0)
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "?")
        allowed = next(
            (names for kind, names in _SAFE_METHODS.items() if owner is not None and type(owner) is kind),
            frozenset(),
        )
        if name not in allowed:
            raise SecurityError(f"calling {name!r} is not allowed in a workflow template")
        result = __obj(*args, **kwargs)
        if _size(result) > MAX_OUTPUT:
            raise SecurityError(f"{name}() made more than {MAX_OUTPUT} characters")
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``a.b`` reads a mapping's key first (``trigger.items`` is data, not ``dict.items``)."""
        _tick(0)
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Subscription, which also checks the clock."""
        _tick(0)
        return super().getitem(obj, argument)


class _NativeEnvironment(WorkflowEnvironment):
    """The same sandbox, compiling an expression's output without turning it into text."""

    code_generator_class = NativeCodeGenerator


_ENV = WorkflowEnvironment()
_NATIVE_ENV = _NativeEnvironment()


@dataclass(frozen=True)
class Reference:
    """A name path a template reads: ``("steps", "plan", "output", "id")``."""

    path: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.path)


def _chain(node: nodes.Node) -> tuple[str, ...] | None:
    """The constant name path of ``a.b["c"][0]``, or None where part of it is computed."""
    if isinstance(node, nodes.Name):
        return (node.name,)
    if isinstance(node, nodes.Getattr):
        head = _chain(node.node)
        return None if head is None else (*head, node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        head = _chain(node.node)
        return None if head is None else (*head, str(node.arg.value))
    return None


def _references(node: nodes.Node, roots: set[str], found: list[Reference]) -> None:
    """The longest constant paths rooted at one of ``roots`` (the template's free names)."""
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
        path = _chain(node)
        if path is not None and path[0] in roots:
            found.append(Reference(path))
            return
    for child in node.iter_child_nodes():
        _references(child, roots, found)


def _check_tree(tree: nodes.Template) -> None:
    """Refuse what a workflow value never needs and an attacker would use (see the module docstring)."""
    for node in tree.find_all(nodes.Node):
        for kind, what in _FORBIDDEN_NODES.items():
            if isinstance(node, kind):
                raise TemplateProblem(f"{what} are not allowed in a workflow template")
        if isinstance(node, nodes.For) and node.recursive:
            raise TemplateProblem("recursive loops are not allowed in a workflow template")
        name: object = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateProblem(f"{name!r}: names starting with '_' are not allowed in a workflow template")
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name == "self":
            raise TemplateProblem(_unknown("self"))
        if isinstance(node, nodes.Filter | nodes.Test) and node.name == "__counted__":
            raise TemplateProblem("unknown filter '__counted__'")
    unknown = sorted(meta.find_undeclared_variables(tree) - set(ROOTS))
    if unknown:
        raise TemplateProblem(_unknown(unknown[0]))


def _unknown(name: str) -> str:
    return f"unknown name {name!r}; a workflow template reads only {', '.join(ROOTS)}"


@dataclass(frozen=True)
class CompiledTemplate:
    """A checked template: its source, the names it reads, and whether it is one expression."""

    source: str
    references: tuple[Reference, ...]
    single_expression: bool
    _text: Any
    _native: Any

    def render(self, context: Mapping[str, Any]) -> Any:
        """The value: native for a single expression, else text; limits enforced (SecurityError)."""
        _local.budget = _Budget(deadline=time.monotonic() + MAX_SECONDS)
        try:
            if self.single_expression:
                value = self._native.render(dict(context))
                if isinstance(value, Undefined):
                    str(value)  # raises the StrictUndefined error
                if _size(value) > MAX_OUTPUT or len(str(value)) > MAX_OUTPUT:
                    raise SecurityError(f"the value is longer than {MAX_OUTPUT} characters")
                return value
            out: list[str] = []
            length = 0
            for chunk in self._text.generate(dict(context)):
                length += len(chunk)
                if length > MAX_OUTPUT:
                    raise SecurityError(f"the output is longer than {MAX_OUTPUT} characters")
                out.append(chunk)
                _tick(0)
            return "".join(out)
        finally:
            _local.budget = None


@dataclass(frozen=True)
class _Const:
    """A single expression that is a literal: its value, without rendering."""

    value: Any

    def render(self, context: Mapping[str, Any]) -> Any:
        return self.value


class _NativeOne(Template):
    """A template of one expression whose value is returned as it is (no literal_eval of text)."""

    def render(self, *args: Any, **kwargs: Any) -> Any:
        ctx = self.new_context(dict(*args, **kwargs))
        values = list(self.root_render_func(ctx))
        return values[0] if values else ""


@functools.lru_cache(maxsize=2048)
def compile_template(source: str) -> CompiledTemplate:
    """Parse and check ``source``; a syntax error or a refused construct raises :class:`TemplateProblem`."""
    if len(source) > MAX_SOURCE:
        raise TemplateProblem(f"the template is longer than {MAX_SOURCE} characters")
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        first = (exc.message or str(exc)).splitlines()[0]
        raise TemplateProblem(f"template syntax error on its line {exc.lineno}: {first}") from None
    references: list[Reference] = []
    _references(tree, set(ROOTS), references)
    single = (
        len(tree.body) == 1
        and isinstance(tree.body[0], nodes.Output)
        and len(tree.body[0].nodes) == 1
        and not isinstance(tree.body[0].nodes[0], nodes.TemplateData)
    )
    try:
        _check_tree(tree)
        for loop in tree.find_all(nodes.For):  # every loop spends the iteration budget
            loop.iter = nodes.Filter(loop.iter, "__counted__", [], [], None, None, lineno=loop.lineno)
        return _compiled(source, tree, tuple(dict.fromkeys(references)), single)
    except TemplateSyntaxError as exc:  # an unknown filter or test is found when compiling
        first = (exc.message or str(exc)).splitlines()[0]
        raise TemplateProblem(f"{first} Filters allowed: {', '.join(_SAFE_FILTERS)}") from None


def _compiled(
    source: str, tree: nodes.Template, references: tuple[Reference, ...], single: bool
) -> CompiledTemplate:
    text = _ENV.from_string(tree)
    if not single:
        return CompiledTemplate(source, references, False, text, None)
    expr = tree.body[0].nodes[0]  # type: ignore[attr-defined]
    try:  # a literal ({{ 7 }}, {{ [1, 2] }}): jinja2 would make it text
        return CompiledTemplate(source, references, True, text, _Const(expr.as_const(EvalContext(_ENV))))
    except nodes.Impossible:
        pass
    native = _NativeOne.from_code(
        _NATIVE_ENV, _NATIVE_ENV.compile(_NATIVE_ENV.parse(source)), _NATIVE_ENV.make_globals(None), None
    )
    return CompiledTemplate(source, references, True, text, native)


class RenderError(ValueError):
    """A value could not be filled at run time; the message names the node and the field."""


def _where(node: str, field: Sequence[str | int]) -> str:
    path = ""
    for step in field:
        path += f"[{step}]" if isinstance(step, int) else (f".{step}" if path else str(step))
    return f"node {node!r}, field {path or '(whole block)'}"


def render_value(source: str, context: Mapping[str, Any], *, node: str, field: Sequence[str | int]) -> Any:
    """One template filled; any problem becomes one :class:`RenderError` line naming node and field."""
    try:
        return compile_template(source).render(context)
    except TemplateProblem as exc:
        raise RenderError(f"{_where(node, field)}: {exc}") from None
    except UndefinedError as exc:
        raise RenderError(f"{_where(node, field)}: {exc.message}") from None
    except SecurityError as exc:
        raise RenderError(f"{_where(node, field)}: refused: {exc}") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise RenderError(f"{_where(node, field)}: {type(exc).__name__}: {exc}") from None


def render_block(
    block: Any, context: Mapping[str, Any], *, node: str, field: Sequence[str | int] = ("with",)
) -> Any:
    """A whole ``with:`` block filled: dicts and lists walked, non-text kept, templates rendered."""
    if isinstance(block, Mapping):
        return {
            key: render_block(value, context, node=node, field=(*field, key)) for key, value in block.items()
        }
    if isinstance(block, list | tuple):
        return [render_block(value, context, node=node, field=(*field, i)) for i, value in enumerate(block)]
    if is_template(block):
        return render_value(block, context, node=node, field=field)
    return block


def templated_fields(
    block: Any, field: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every template in a block with its location (``("body",)``, ``("headers", "X-Sku")`` …)."""
    if isinstance(block, Mapping):
        for key, value in block.items():
            yield from templated_fields(value, (*field, str(key)))
    elif isinstance(block, list | tuple):
        for i, value in enumerate(block):
            yield from templated_fields(value, (*field, i))
    elif is_template(block):
        yield field, block


def check_references(template: CompiledTemplate, allowed: Callable[[Reference], str | None]) -> list[str]:
    """What is wrong with the names ``template`` reads, by ``allowed`` (None: fine, else why not)."""
    problems = [allowed(ref) for ref in template.references]
    return [p for p in problems if p is not None]
