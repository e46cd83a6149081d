"""Migration tests: a database stopped at an older revision with rows of its time, and the schema diff.

Each migration is tested the same way: build the database up to the revision before it, insert rows as
that version wrote them, let ``StateStore`` migrate to head, check the rows survived and the new tables
equal the models, then migrate back down. These helpers are the shared steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from jtl_automator.store import StateStore
from jtl_automator.store.models import Base
from jtl_automator.store.store import _alembic_config


@contextmanager
def _migrating(url: str) -> Iterator[tuple[Any, sa.Connection]]:
    engine = sa.create_engine(url)
    cfg = _alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            yield cfg, conn
    finally:
        engine.dispose()


def database_at(url: str, revision: str, *statements: str) -> None:
    """The database at ``url`` migrated up to ``revision`` only, with ``statements`` run in it."""
    with _migrating(url) as (cfg, conn):
        command.upgrade(cfg, revision)
        for statement in statements:
            conn.execute(sa.text(statement))


def downgrade_to(url: str, revision: str) -> None:
    """The database at ``url`` migrated back down to ``revision``."""
    with _migrating(url) as (cfg, _):
        command.downgrade(cfg, revision)


def tables(url: str) -> set[str]:
    """The table names of the database at ``url``."""
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_diff(store: StateStore, about: str = "") -> list[object]:
    """What the migrated database and the models disagree on (each change once), where ``about`` is named.

    SQLite keeps older tables' old column lengths, so tests look at the tables a migration made
    (``about``) there and at the whole diff on PostgreSQL.
    """
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    flat: list[object] = []
    for item in diff:
        flat.extend(item if isinstance(item, list) else [item])
    return [d for d in flat if about in repr(d)]
