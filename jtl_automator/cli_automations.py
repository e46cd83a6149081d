"""``jtl-automator automations …``: the alert files in config/automations as Prefect automations.

Its own module: the main CLI is long. ``check`` reads the files only (no server); ``apply`` and ``list``
talk to the Prefect server in ``PREFECT_API_URL`` (an ephemeral one would keep the automations nowhere).
Every error is one line on stderr: exit 2 for bad input (a file's mistakes, one line each), 1 for a
refused step (a missing block, an unreachable server).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from jtl_automator.alerts.config import AlertsConfig

automations_app = typer.Typer(
    no_args_is_help=True,
    help="Alerts and SLAs as code: config/automations/*.yaml applied to the Prefect server as automations.",
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Folder of the alert files (default: config/automations).")
]


def _fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, no traceback."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _shell() -> None:
    from jtl_automator.project import ProjectNotFound, use_project_shell

    try:
        use_project_shell()
    except ProjectNotFound as exc:
        _fail(str(exc), 2)


def _config(folder: Path | None) -> AlertsConfig:
    """The alert files, or every mistake on its own line and exit 2."""
    from jtl_automator.alerts.config import load_project_alerts
    from jtl_automator.project import ProjectNotFound, project_root
    from jtl_automator.yaml_config import ConfigFileError

    try:
        return load_project_alerts(project_root(), folder)
    except ProjectNotFound as exc:
        _fail(str(exc), 2)
    except ConfigFileError as exc:
        for problem in exc.problems[:-1]:
            typer.echo(f"Error: {problem}", err=True)
        _fail(exc.problems[-1] if exc.problems else str(exc), 2)


def _require_api() -> str:
    url = os.environ.get("PREFECT_API_URL", "")
    if not url:
        _fail(
            "PREFECT_API_URL is not set: automations live on the Prefect server that runs the deployments "
            "(an ephemeral API would keep them nowhere); set it to that server's API",
            2,
        )
    return url


def _api_error(exc: Exception, url: str) -> NoReturn:
    """An unreachable or refusing server: one line with the URL and the cause."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    _fail(f"Prefect API at {url}: {type(exc).__name__}: {first}")


@automations_app.command("check")
def check(config: ConfigOption = None) -> None:
    """Read and check the alert files (no server needed); list the alerts they define."""
    from jtl_automator.alerts.config import DoneByAlert, NoSuccessAlert, RunLateAlert, format_duration

    loaded = _config(config)
    for alert in loaded.alerts:
        if isinstance(alert, RunLateAlert):
            detail = f"late by {format_duration(alert.late_by)}, per {alert.per}"
        elif isinstance(alert, NoSuccessAlert):
            detail = f"{alert.deployment}: a success every {format_duration(alert.window)}"
            detail += " (business hours)" if alert.business_hours_only else ""
        elif isinstance(alert, DoneByAlert):
            detail = f"{alert.deployment} done by {alert.deadline:%H:%M} {alert.timezone}"
        else:
            detail = ", ".join(alert.states)
        state = "" if alert.enabled else " [disabled]"
        typer.echo(f"{alert.name:<32} {alert.kind:<11} {detail} -> {', '.join(alert.notify)}{state}")
    typer.echo(f"{len(loaded.alerts)} alert(s), {len(loaded.channels)} channel(s): the files are valid")


@automations_app.command("apply")
def apply_command(
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Delete automations tagged jtl-automator that the files no longer name."
        ),
    ] = False,
) -> None:
    """Create or update (by name) one automation per alert, and the channels' notification blocks."""
    url = _require_api()
    loaded = _config(config)
    _shell()
    from deployments.automations import ApplyError, apply

    try:
        report = apply(loaded, dry_run=dry_run, prune=prune)
    except ApplyError as exc:
        for problem in exc.problems[:-1]:
            typer.echo(f"Error: {problem}", err=True)
        _fail(exc.problems[-1])
    except Exception as exc:  # the server: unreachable, refusing, or answering something unexpected
        _api_error(exc, url)
    for line in report.lines:
        typer.echo(line)
    typer.echo(report.summary())


@automations_app.command("list")
def list_command() -> None:
    """The server's automations: name, enabled, managed here or not, trigger, actions."""
    url = _require_api()
    _shell()
    from deployments.automations import list_automations

    try:
        rows = list_automations()
    except Exception as exc:
        _api_error(exc, url)
    for row in rows:
        typer.echo(
            f"{row['name']:<32} {row['enabled']:<8} {row['managed']:<7} {row['trigger']} "
            f"-> {row['actions']} action(s)"
        )
    typer.echo(f"{len(rows)} automation(s)")


def run_sla_check(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Evaluate and report; emit no events.")] = False,
    at: Annotated[
        datetime | None, typer.Option(help="Judge this moment instead of now (ISO time, UTC if no zone).")
    ] = None,
) -> None:
    """Evaluate the business-hours and deadline SLAs now; emit an event per breach (its automation alerts)."""
    import json

    _config(config)  # the files' mistakes as lines, before Prefect starts
    _shell()
    from flows.sla_check import sla_check

    try:
        result: dict[str, Any] = sla_check(config_dir=str(config) if config else None, dry_run=dry_run, at=at)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _fail(f"sla-check: {first}")
    for row in result["results"]:
        typer.echo(f"{row['alert']:<32} {row['status']:<8} {row['message']}", err=True)
    typer.echo(json.dumps(result, indent=2, default=str))
