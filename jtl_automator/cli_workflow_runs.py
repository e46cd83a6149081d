"""``jtl-automator workflows run NAME [--dry-run]`` and ``workflows simulate NAME``.

Registered on the ``workflows`` command group by ``cli_workflows`` (:func:`register`). ``run``
evaluates the workflow's trigger now (a schedule fires at once, as if its tick were now; a change
source reads the changes since its watermark) and executes the runs in this process, recorded as the
tick flow records them; ``--dry-run`` says which entities would fire and records nothing.
``simulate`` fills every step against live data and prints what each would do, with no side effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from jtl_automator.workflows.entities import EntitySource
    from jtl_automator.workflows.store import WorkflowStore

LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="At most this many entities.")]
NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="The workflow's name (see workflows list).")
]
UrlOption = Annotated[str | None, typer.Option(help="State database URL (default: JTL_DATABASE_URL).")]
EmailBlockOption = Annotated[
    str | None,
    typer.Option(
        "--email-block", help="SmtpServer block for send_email steps that name no smtp: of their own."
    ),
]


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``simulate`` to the ``workflows`` command group."""
    app.command("run")(run)
    app.command("simulate")(simulate)


def _shell() -> None:
    """The project's tasks and blocks (not installed) build the actions' clients, as in the flows."""
    from jtl_automator.project import ProjectNotFound, use_project_shell

    try:
        use_project_shell()
    except ProjectNotFound as exc:
        _fail(str(exc), 2)


def _fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, no traceback (as the other workflows commands)."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _live(
    url: str | None, email_block: str | None = None
) -> Iterator[tuple[WorkflowStore, EntitySource, dict[str, Any]]]:
    """The workflow store, the Wawi entity source and the clients actions use; errors end in one line."""
    from jtl_automator.clients.errors import JtlApiError
    from jtl_automator.clients.ffn.client import FfnClient
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.settings import get_settings
    from jtl_automator.store import open_store
    from jtl_automator.workflows.entities import EntityReadError, WawiEntitySource
    from jtl_automator.workflows.store import WorkflowError, WorkflowStore

    _shell()
    from tasks.resources import workflow_resources

    store = open_store(url)
    try:
        settings = get_settings()
        with (
            WawiClient.from_settings(settings) as wawi,
            FfnClient.from_settings(settings, store) as ffn,
            workflow_resources(store, ffn, wawi, datetime.now(UTC), email_block=email_block) as resources,
        ):
            yield WorkflowStore(store), WawiEntitySource(wawi, store), resources
    except (WorkflowError, EntityReadError) as exc:
        _fail(str(exc))
    except JtlApiError as exc:
        _fail(
            f"{type(exc).__name__}: {' '.join(str(exc).split())}; check the credentials and the API's status"
        )
    except ValueError as exc:  # settings: a missing or malformed JTL_* value
        _fail(
            f"configuration: {' '.join(str(exc).split())[:300]}; set the JTL_* values (see .env.example)", 2
        )
    finally:
        store.dispose()


def run(
    name: NameArgument,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say which entities fire; record nothing.")
    ] = False,
    url: UrlOption = None,
    email_block: EmailBlockOption = None,
) -> None:
    """Evaluate a workflow's trigger now and execute its runs here (a schedule fires at once)."""
    from jtl_automator.workflows.runner import Runner, record_runs
    from jtl_automator.workflows.triggers import evaluate, gateway_feed

    with _live(url, email_block) as (workflows, source, resources):
        version, workflow = workflows.definition(name)
        evaluation = evaluate(
            workflow,
            version,
            source=source,
            store=workflows.store,
            events=gateway_feed(workflows.store),
            manual=True,
        )
        if dry_run:
            keys = [f.entity_key for f in evaluation.firings]
            typer.echo(
                f"{name} v{version}: {len(keys)} of {evaluation.considered} entities would fire"
                + (f" ({evaluation.note})" if evaluation.note else "")
                + (": " + ", ".join(keys[:50]) + (" …" if len(keys) > 50 else "") if keys else "")
            )
            typer.echo("dry run: no run recorded, no watermark moved, no side effect")
            return
        started = record_runs(workflows, evaluation)
        runner = Runner(workflows, resources)
        outcomes = [runner.execute(run_id) for run_id in started.to_run]
    failed = [r for r in outcomes if r.status.value == "failed"]
    typer.echo(
        f"{name} v{version}: {len(started.created)} new runs, {len(started.existing)} seen before; "
        f"{len(outcomes) - len(failed)} completed, {len(failed)} failed"
        + (f" ({started.note})" if started.note else "")
    )
    for item in outcomes:
        typer.echo(
            f"  {item.id}  {item.status.value}  {item.trigger_key}"
            + (f"  {item.error}" if item.error else "")
        )
    if failed:
        _fail(f"{len(failed)} runs failed; see one with: jtl-automator workflows run-show {failed[0].id}")


def simulate(
    name: NameArgument, limit: LimitOption = 5, url: UrlOption = None, email_block: EmailBlockOption = None
) -> None:
    """Fill every step against live data and print what it would do; nothing is done or recorded."""
    from jtl_automator.workflows.runner import simulate as simulate_one
    from jtl_automator.workflows.runner import simulation_text
    from jtl_automator.workflows.triggers import evaluate

    with _live(url, email_block) as (workflows, source, resources):
        version, workflow = workflows.definition(name)
        evaluation = evaluate(workflow, version, source=source, store=workflows.store, manual=True)
        firings = evaluation.firings[:limit]
        simulations = [
            simulate_one(workflow, version, f, store=workflows.store, resources=resources) for f in firings
        ]
    typer.echo(f"{name} v{version}: {len(evaluation.firings)} entities fire now; showing {len(firings)}")
    typer.echo(simulation_text(simulations))
