"""What every module of the SQLite adapter shares: parameter lists cut below SQLite's limit
with their placeholders, and a write transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable

# SQLite's default limit on host parameters is 32766; stay well below it.
CHUNK = 900


def chunks(items: Collection[str]) -> Iterable[list[str]]:
    seq = list(items)
    for start in range(0, len(seq), CHUNK):
        yield seq[start : start + CHUNK]


def marks(n: int) -> str:
    return ",".join("?" * n)


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")
