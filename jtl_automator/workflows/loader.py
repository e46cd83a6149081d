"""Workflow files: one YAML document per file, a folder of them in the project's configuration.

Every mistake names the file, the line and the field and says what is allowed
(``restock.yaml:14: nodes[1].with.quantity: Input should be greater than 0``), through the one YAML
reader the project's rule files share (:mod:`jtl_automator.yaml_config`). A folder is read whole: the
mistakes of all its files come together, and two files may not name the same workflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from jtl_automator.settings import get_settings
from jtl_automator.workflows.definition import Workflow, check_workflow
from jtl_automator.yaml_config import ConfigFileError, line_of, parse_yaml_model

#: The file names a folder's workflows have.
SUFFIXES = (".yaml", ".yml")
#: Larger files are refused before parsing (a workflow is a page, not a data dump).
MAX_FILE_BYTES = 512_000


@dataclass(frozen=True)
class LoadedWorkflow:
    """A valid workflow and the file it came from."""

    path: Path
    workflow: Workflow

    @property
    def name(self) -> str:
        """The workflow's name."""
        return self.workflow.name


class WorkflowFileError(ConfigFileError):
    """One or more workflow files that cannot be used; ``problems`` holds one line per mistake."""


def _checks(workflow: Workflow) -> Iterable[tuple[Sequence[int | str], str]]:
    return [(p.location, p.message) for p in check_workflow(workflow)]


def _refuse_aliases(text: str, source: str) -> None:
    """Anchors and aliases (``&a``, ``*a``) are refused: a few lines of them expand to billions of values."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                where = f"{source}:{event.start_mark.line + 1}" if event.start_mark else source
                raise WorkflowFileError(
                    source,
                    [
                        f"{where}: YAML aliases (*{event.anchor}) are not allowed in a workflow file; "
                        "write the value out"
                    ],
                )
    except yaml.YAMLError:
        return  # the reader below names the syntax error with its line


def parse_workflow(text: str, *, source: str = "<text>") -> Workflow:
    """A workflow from YAML text, checked whole; mistakes raise :class:`WorkflowFileError` with lines."""
    _refuse_aliases(text, source)
    try:
        return parse_yaml_model(text, Workflow, source=source, check=_checks, allowed_keys=True)
    except ConfigFileError as exc:
        raise WorkflowFileError(source, exc.problems) from None


def load_file(path: Path) -> LoadedWorkflow:
    """One workflow file (see :func:`parse_workflow`); an unreadable file is one clear error."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise WorkflowFileError(
                str(path), [f"{path}: {size} bytes; a workflow file has at most {MAX_FILE_BYTES}"]
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkflowFileError(str(path), [f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise WorkflowFileError(str(path), [f"{path}: not UTF-8 text; save it as UTF-8"]) from None
    return LoadedWorkflow(path, parse_workflow(text, source=str(path)))


def workflow_files(folder: Path) -> list[Path]:
    """The folder's workflow files, by name (sub-folders are not read; files starting with . neither)."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith(".")
    )


def load_path(path: Path | None = None) -> list[LoadedWorkflow]:
    """A file, or every workflow file of a folder (default: the configured workflows folder).

    All files are read before anything is refused, so one run of ``workflows validate`` lists every
    mistake; a workflow name used by two files is a mistake of the second one.
    """
    path = default_folder() if path is None else path
    if path.is_file():
        return [load_file(path)]
    if not path.is_dir():
        raise WorkflowFileError(
            str(path), [f"{path}: no such file or folder; set JTL_WORKFLOWS_DIR or name the folder"]
        )
    loaded: list[LoadedWorkflow] = []
    problems: list[str] = []
    first: dict[str, Path] = {}
    for file in workflow_files(path):
        try:
            item = load_file(file)
        except WorkflowFileError as exc:
            problems.extend(exc.problems)
            continue
        if item.name in first:
            text = file.read_text(encoding="utf-8")
            line = line_of(text, ["name"]) or 1
            problems.append(
                f"{file}:{line}: name: workflow {item.name!r} is already defined in {first[item.name]}; "
                "each workflow has one file and its own name"
            )
            continue
        first[item.name] = file
        loaded.append(item)
    if problems:
        raise WorkflowFileError(str(path), problems)
    return loaded


def default_folder() -> Path:
    """The configured workflows folder (``JTL_WORKFLOWS_DIR``, default ``config/workflows``)."""
    return Path(get_settings().workflows_dir)
