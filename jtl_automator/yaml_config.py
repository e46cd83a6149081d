"""Rule files people write by hand (price rules, categorisation rules): YAML read into pydantic models.

A mistake in such a file must say where it is: every error names the file, the line and the field
(``pricing.yaml:14: rules[2].markup_pct: Input should be greater than 0``). PyYAML's composed node
tree keeps each value's position; a pydantic error's location is walked down that tree to the deepest
node it reaches.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ConfigFileError(ValueError):
    """A rule file that cannot be used; ``problems`` holds one line per mistake, each with its line."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def _line_of(node: yaml.Node | None, location: Sequence[int | str]) -> int | None:
    """The 1-based line of the value at ``location`` (or of the deepest parent the tree has)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for step in location:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                    child = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            child = node.value[step]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _place(node: yaml.Node | None, location: Sequence[int | str]) -> list[int | str]:
    """``location`` as a place in the document: pydantic's union member names left out.

    A tagged union puts the member's tag in the location (``alerts[1].run-late.late_by``), a union of
    types the member's type (``deployments.list[str]``); neither is a key of the file. A step the
    document lacks that is a value of the mapping it stands in (the tag), has brackets, or stands under
    a scalar or a list is such a name; any other missing step is a missing key and is kept.
    """
    place: list[int | str] = []
    missing = node is None
    for step in location:
        if missing:
            place.append(step)
            continue
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                    child = value
                    break
            if child is None:
                tags = {v.value for _, v in node.value if isinstance(v, yaml.ScalarNode)}
                if isinstance(step, str) and ("[" in step or step in tags):
                    continue
                missing = True
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            child = node.value[step]
        elif isinstance(step, str):
            continue
        else:
            missing = True
        place.append(step)
        if child is not None:
            node = child
    return place


def _dotted(location: Sequence[int | str]) -> str:
    text = ""
    for step in location:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "(top level)"


def line_of(text: str, location: Sequence[int | str]) -> int | None:
    """The 1-based line of the value at ``location`` in YAML ``text`` (for checks made after loading)."""
    try:
        return _line_of(yaml.compose(text, Loader=yaml.SafeLoader), location)
    except yaml.YAMLError:
        return None


def _model_at(model: type[BaseModel], location: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that holds the value at ``location`` (through lists, dicts and optionals)."""
    current: Any = model
    for step in location:
        current = _unwrap(current, step)
        if current is None:
            return None
    found = _unwrap(current, None)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def _unwrap(annotation: Any, step: int | str | None) -> Any:
    """One step into ``annotation``: a model's field, a list's item, a dict's value (None: not found)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0], step)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        tagged = [m for m in members if isinstance(step, str) and _tagged(m, step)]
        if len(tagged) == 1:  # the step is a tagged union's tag: it selects the member
            return tagged[0]
        found = [m for m in (_unwrap(a, step) for a in members) if m is not None]
        return found[0] if len(found) == 1 else None
    if step is None:
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(step, str):
        for name, field in annotation.model_fields.items():
            if step in (name, field.alias):
                return field.annotation
        return None
    if origin in (list, tuple, Sequence) and isinstance(step, int):
        return typing.get_args(annotation)[0]
    if origin is dict and isinstance(step, str):
        return typing.get_args(annotation)[1]
    return None


def _tagged(member: Any, tag: str) -> bool:
    """Whether the model ``member`` has a ``Literal`` field allowing ``tag`` (a discriminator's value)."""
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return False
    return any(
        typing.get_origin(f.annotation) is typing.Literal and tag in typing.get_args(f.annotation)
        for f in member.model_fields.values()
    )


def _message(error: Any, model: type[BaseModel], location: Sequence[int | str], allowed_keys: bool) -> str:
    """Pydantic's message; for an unknown key, with the keys that are allowed there."""
    message = str(error["msg"])
    if allowed_keys and error["type"] == "extra_forbidden":
        holder = _model_at(model, location[:-1])
        if holder is not None:
            names = [f.alias or n for n, f in holder.model_fields.items()]
            message += f"; allowed here: {', '.join(names)}"
    return message


#: A check after validation: each problem's location in the document and its message.
Check = Callable[[Model], Iterable[tuple[Sequence[int | str], str]]]


def parse_yaml_model(
    text: str,
    model: type[Model],
    *,
    source: str = "<text>",
    check: Check[Model] | None = None,
    allowed_keys: bool = False,
) -> Model:
    """``text`` as a ``model``; a YAML or validation mistake raises :class:`ConfigFileError` with lines.

    ``check`` looks at the validated model for what needs the whole document; its problems get their
    lines the same way. ``allowed_keys`` adds the keys allowed where an unknown key is.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigFileError(source, [f"{where}: not valid YAML: {exc.problem or exc}"]) from None
    found: list[tuple[int, str]] = []

    def add(location: Sequence[int | str], message: str) -> None:
        place = _place(node, location)
        line = _line_of(node, place)
        where = f"{source}:{line}" if line is not None else source
        found.append((line or 0, f"{where}: {_dotted(place)}: {message}"))

    try:
        value = model.model_validate({} if data is None else data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            location = [step for step in error["loc"] if isinstance(step, int | str)]
            add(location, _message(error, model, location, allowed_keys))
    else:
        for spot, message in check(value) if check is not None else ():
            add(spot, message)
        if not found:
            return value
    found.sort(key=lambda item: item[0])  # top to bottom, as the file is read
    raise ConfigFileError(source, [text for _, text in found]) from None


def load_yaml_model(path: Path, model: type[Model]) -> Model:
    """The file at ``path`` as a ``model`` (see :func:`parse_yaml_model`); a missing file: one clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(str(path), [f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    return parse_yaml_model(text, model, source=str(path))
