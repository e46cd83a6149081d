"""A cross-process TokenStore on SQLite (BEGIN IMMEDIATE = a writer lock), standing in for the state store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from jtl_automator.clients.ffn.auth import TokenRecord


class SqliteTokenStore:
    def __init__(self, path: str) -> None:
        self.path = path
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS oauth_tokens (name TEXT PRIMARY KEY, refresh_token TEXT, "
                "access_token TEXT, access_expires_at TEXT)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60, isolation_level=None)

    @staticmethod
    def _record(row: tuple[str | None, str | None, str | None] | None) -> TokenRecord | None:
        if row is None:
            return None
        expires = datetime.fromisoformat(row[2]) if row[2] else None
        return TokenRecord(row[0], row[1], expires)

    def read_token(self, name: str) -> TokenRecord | None:
        db = self._connect()
        try:
            row = db.execute(
                "SELECT refresh_token, access_token, access_expires_at FROM oauth_tokens WHERE name = ?",
                (name,),
            ).fetchone()
        finally:
            db.close()
        return self._record(row)

    @contextmanager
    def locked_token(self, name: str) -> Iterator[TokenRecord]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT refresh_token, access_token, access_expires_at FROM oauth_tokens WHERE name = ?",
                (name,),
            ).fetchone()
            record = self._record(row) or TokenRecord()
            try:
                yield record
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute(
                "INSERT INTO oauth_tokens VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "refresh_token = excluded.refresh_token, access_token = excluded.access_token, "
                "access_expires_at = excluded.access_expires_at",
                (
                    name,
                    record.refresh_token,
                    record.access_token,
                    record.access_expires_at.isoformat() if record.access_expires_at else None,
                ),
            )
            db.execute("COMMIT")
        finally:
            db.close()

    def raw_rows(self) -> list[tuple[str, ...]]:
        db = self._connect()
        try:
            return db.execute("SELECT * FROM oauth_tokens").fetchall()
        finally:
            db.close()
