"""``jtl-automator workflows …``: check, load and steer the declarative workflows, and read their runs.

Its own module: the main CLI is long. Imports are deferred into the commands, as there, and every
error is one line on stderr (what, where, how to fix it) with exit code 2 for bad input and 1 for a
refused step.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from jtl_automator.workflows.loader import LoadedWorkflow
    from jtl_automator.workflows.store import Run, WorkflowStore

workflows_app = typer.Typer(
    no_args_is_help=True,
    help="Declarative workflows: YAML files in config/workflows (JTL_WORKFLOWS_DIR), their status and runs.",
)

PathArgument = Annotated[
    Path | None,
    typer.Argument(
        metavar="[PATH]", help="A workflow file or folder (default: JTL_WORKFLOWS_DIR, config/workflows)."
    ),
]
NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="The workflow's name (see workflows list).")
]
UrlOption = Annotated[str | None, typer.Option(help="State database URL (default: JTL_DATABASE_URL).")]

_CELL = 60


def _fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, no traceback."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _load(path: Path | None) -> list[LoadedWorkflow]:
    """The workflow files, or every mistake on its own line and exit 2."""
    from jtl_automator.workflows.loader import WorkflowFileError, load_path

    try:
        return load_path(path)
    except WorkflowFileError as exc:
        for problem in exc.problems[:-1]:
            typer.echo(f"Error: {problem}", err=True)
        _fail(exc.problems[-1] if exc.problems else str(exc), 2)


@contextmanager
def _store(url: str | None) -> Iterator[WorkflowStore]:
    """The workflows of the state database; a refused step or unknown name ends in one line."""
    from jtl_automator.store import open_store
    from jtl_automator.workflows.store import WorkflowError, WorkflowStore

    store = open_store(url)
    try:
        yield WorkflowStore(store)
    except WorkflowError as exc:
        _fail(str(exc))
    finally:
        store.dispose()


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table whose columns line up."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = " ".join(str(value).split())
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _json(value: Any, limit: int = 2000) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@workflows_app.command("validate")
def validate(path: PathArgument = None) -> None:
    """Check workflow files: every mistake with its file, line and field. Writes nothing."""
    from jtl_automator.workflows.definition import describe_trigger

    loaded = _load(path)
    if not loaded:
        typer.echo("no workflow files found")
        return
    for item in loaded:
        workflow = item.workflow
        typer.echo(
            f"ok  {workflow.name}  ({workflow.status.value}; {describe_trigger(workflow.trigger)}; "
            f"{len(workflow.nodes)} node(s))  {item.path}"
        )


@workflows_app.command("load")
def load(path: PathArgument = None, url: UrlOption = None) -> None:
    """Load the workflow files into the state database: new workflows, new versions where changed."""
    loaded = _load(path)
    with _store(url) as workflows:
        result = workflows.sync(loaded)
    for change in result.changes:
        note = f"  ({change.note})" if change.note else ""
        typer.echo(
            f"{change.change:<13} {change.name}  version {change.version}, {change.status.value}{note}"
        )
    for name in result.without_file:
        typer.echo(
            f"no file      {name}  (kept as it is; archive it with: jtl-automator workflows archive {name})"
        )
    if not result.changes and not result.without_file:
        typer.echo("no workflow files found")


@workflows_app.command("list")
def list_workflows(
    status: Annotated[
        str | None, typer.Option(help="Only this status (draft, active, paused, archived).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """The workflows in the state database, by name."""
    from jtl_automator.workflows.definition import describe_trigger

    wanted = _status(status) if status is not None else None
    with _store(url) as workflows:
        found = workflows.list_workflows(wanted)
        triggers = {w.name: describe_trigger(workflows.definition(w.name)[1].trigger) for w in found}
    if not found:
        typer.echo(
            "no workflows" + (" match" if wanted else "; load the files with: jtl-automator workflows load")
        )
        return
    typer.echo(
        _table(
            ["name", "status", "version", "trigger", "updated"],
            [(w.name, w.status.value, w.current_version, triggers[w.name], w.updated_at) for w in found],
        )
    )


def _status(text: str) -> Any:
    from jtl_automator.workflows.definition import WorkflowStatus

    try:
        return WorkflowStatus(text)
    except ValueError:
        _fail(f"unknown status {text!r}; use one of: {', '.join(s.value for s in WorkflowStatus)}", 2)


@workflows_app.command("show")
def show(
    name: NameArgument,
    version: Annotated[int | None, typer.Option(help="This version (default: the current one).")] = None,
    url: UrlOption = None,
) -> None:
    """One workflow: status, versions, and the document of its current (or a given) version."""
    import yaml

    from jtl_automator.workflows.definition import describe_trigger

    with _store(url) as workflows:
        detail = workflows.get(name)
        chosen, workflow = workflows.definition(name, version)
        runs = workflows.list_runs(name, limit=5)
    info = detail.info
    typer.echo(f"workflow {info.name}: {info.status.value}, version {info.current_version}")
    if info.description:
        typer.echo(f"  {info.description}")
    typer.echo(f"  trigger: {describe_trigger(workflow.trigger)}")
    typer.echo(f"  loaded from: {info.source or '-'}")
    typer.echo("versions:")
    for v in detail.versions:
        mark = "*" if v.version == info.current_version else " "
        typer.echo(f" {mark} {v.version:>3}  {v.created_at:%Y-%m-%d %H:%M}  {v.content_hash[:12]}")
    typer.echo(f"recent runs: {', '.join(f'{r.id[:12]} {r.status.value}' for r in runs) or 'none'}")
    typer.echo(f"document (version {chosen}):")
    typer.echo(yaml.safe_dump(workflow.document(), sort_keys=False, allow_unicode=True).rstrip())


def _move(name: str, target: str, url: str | None) -> None:
    from jtl_automator.workflows.definition import WorkflowStatus

    with _store(url) as workflows:
        info = workflows.set_status(name, WorkflowStatus(target))
    typer.echo(f"workflow {info.name} is {info.status.value} (version {info.current_version})")


@workflows_app.command("activate")
def activate(name: NameArgument, url: UrlOption = None) -> None:
    """A draft or paused workflow runs from now on."""
    _move(name, "active", url)


@workflows_app.command("pause")
def pause(name: NameArgument, url: UrlOption = None) -> None:
    """An active workflow stops running until activated again."""
    _move(name, "paused", url)


@workflows_app.command("archive")
def archive(name: NameArgument, url: UrlOption = None) -> None:
    """A workflow stops for good (archived is final; its runs stay readable)."""
    _move(name, "archived", url)


@workflows_app.command("runs")
def runs(
    name: NameArgument,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many runs.")] = 20,
    status: Annotated[
        str | None, typer.Option(help="Only this status (pending, running, completed, failed, cancelled).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """A workflow's runs, newest first."""
    from jtl_automator.workflows.store import RunStatus

    wanted: RunStatus | None = None
    if status is not None:
        try:
            wanted = RunStatus(status)
        except ValueError:
            _fail(f"unknown run status {status!r}; use one of: {', '.join(s.value for s in RunStatus)}", 2)
    with _store(url) as workflows:
        found = workflows.list_runs(name, limit=limit, status=wanted)
    if not found:
        typer.echo(f"no runs of {name}" + (" match" if wanted else " yet"))
        return
    typer.echo(
        _table(
            ["id", "status", "version", "trigger", "created", "finished", "error"],
            [
                (r.id, r.status.value, r.version, r.trigger_key, r.created_at, r.finished_at, r.error)
                for r in found
            ],
        )
    )


@workflows_app.command("run-show")
def run_show(
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run's id (see workflows runs NAME).")],
    url: UrlOption = None,
) -> None:
    """One run with its steps: what each was given, what it gave back, its error and log."""
    with _store(url) as workflows:
        run = workflows.get_run(run_id)
    typer.echo(_run_detail(run))


def _run_detail(run: Run) -> str:
    lines = [
        f"run {run.id}: {run.workflow} version {run.version}, {run.status.value}",
        f"  trigger: {run.trigger_key}  {_json(run.trigger, 500) if run.trigger else ''}".rstrip(),
        f"  created {_cell(run.created_at)}; started {_cell(run.started_at) or '-'}; "
        f"finished {_cell(run.finished_at) or '-'}",
    ]
    if run.flow_run_id:
        lines.append(f"  Prefect flow run: {run.flow_run_id}")
    if run.error:
        lines.append(f"  error: {_cell(run.error)}")
    lines.append(
        _table(
            ["step", "action", "status", "attempts", "started", "finished"],
            [(s.node, s.action, s.status.value, s.attempts, s.started_at, s.finished_at) for s in run.steps],
        )
    )
    for step in run.steps:
        if step.inputs is None and step.output is None and not step.error and not step.logs:
            continue
        lines.append(f"{step.node}:")
        if step.inputs is not None:
            lines.append(f"  inputs: {_json(step.inputs)}")
        if step.output is not None:
            lines.append(f"  output: {_json(step.output)}")
        if step.error:
            lines.append(f"  error: {step.error}")
        lines += [f"  log: {line}" for line in step.logs]
    return "\n".join(lines)


from jtl_automator.cli_workflow_runs import register as _register_runs  # noqa: E402

_register_runs(workflows_app)  # workflows run, workflows simulate (the runner's commands)
