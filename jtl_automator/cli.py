"""The ``jtl-automator`` command line: sandbox, demo, auth helpers, blocks and ad-hoc flow runs.

Imports are deferred into the commands: ``import prefect`` alone costs seconds, and
``jtl-automator sandbox serve`` should not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="JTL operations pipelines on Prefect 3.")
sandbox_app = typer.Typer(
    no_args_is_help=True, help="The local emulator of JTL-FFN, JTL-Wawi and Google Sheets."
)
db_app = typer.Typer(no_args_is_help=True, help="The state database.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(db_app, name="db")


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8800,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 42,
    skus: Annotated[int, typer.Option(help="Number of generated SKUs.")] = 500,
    orders: Annotated[int, typer.Option(help="Number of generated sales orders.")] = 200,
    fixture: Annotated[
        Path | None, typer.Option(help="Load this fixture folder instead of generating.")
    ] = None,
    faults: Annotated[str, typer.Option(help="Fault profile: none, slow, flaky, ratelimited, ...")] = "none",
    credentials_out: Annotated[
        Path | None,
        typer.Option("--credentials-out", help="Write the JTL_* variables a client needs (JSON)."),
    ] = None,
) -> None:
    """Serve the sandbox until interrupted."""
    from jtl_automator.sandbox.server import serve_forever

    serve_forever(
        port=port,
        seed=seed,
        fixture_dir=fixture,
        faults=faults,
        credentials_out=credentials_out,
        skus=skus,
        orders=orders,
    )


@db_app.command("upgrade")
def db_upgrade(url: Annotated[str | None, typer.Option(help="Defaults to JTL_DATABASE_URL.")] = None) -> None:
    """Apply the state database migrations (also done automatically on first use)."""
    from jtl_automator.store import open_store

    store = open_store(url)
    typer.echo(f"state database at head: {store!r}")
    store.dispose()


@app.command("demo")
def demo(
    output: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("demo-output"),
    skus: Annotated[int, typer.Option(help="Generated catalogue size.")] = 500,
) -> None:
    """Run the main job end to end on the embedded default (sandbox, SQLite, ephemeral Prefect)."""
    from jtl_automator.demo import run_demo

    run_demo(output=output, skus=skus)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
