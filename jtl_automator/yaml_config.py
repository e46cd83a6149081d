"""Rule files people write by hand (price rules, categorisation rules): YAML read into pydantic models.

A mistake in such a file must say where it is: every error names the file, the line and the field
(``pricing.yaml:14: rules[2].markup_pct: Input should be greater than 0``). PyYAML's composed node
tree keeps each value's position; a pydantic error's location is walked down that tree to the deepest
node it reaches.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def parse_yaml_model(text: str, model: type[Model], *, source: str = "<text>") -> Model:
    """``text`` as a ``model``; a YAML or validation mistake raises :class:`ConfigFileError` with lines."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigFileError(source, [f"{where}: not valid YAML: {exc.problem or exc}"]) from None
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        found: list[tuple[int, str]] = []
        for error in exc.errors(include_url=False):
            location = [step for step in error["loc"] if isinstance(step, int | str)]
            line = _line_of(node, location)
            where = f"{source}:{line}" if line is not None else source
            found.append((line or 0, f"{where}: {_dotted(location)}: {error['msg']}"))
        found.sort(key=lambda item: item[0])  # top to bottom, as the file is read
        raise ConfigFileError(source, [text for _, text in found]) from None


def load_yaml_model(path: Path, model: type[Model]) -> Model:
    """The file at ``path`` as a ``model`` (see :func:`parse_yaml_model`); a missing file: one clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(str(path), [f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    return parse_yaml_model(text, model, source=str(path))
