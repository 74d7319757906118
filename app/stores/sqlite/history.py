"""The SQLite half of the history port (app/stores/history.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from app.stores.base import Cursor, EventRecord, event_record
from app.stores.history import Suppression

_EVENT_COLUMNS = """e.event_id, e.type, e.ts, e.source, e.body,
    (SELECT group_concat(o.key, char(31)) FROM observations o WHERE o.event_id = e.event_id)"""


def _event(row: Sequence[Any]) -> EventRecord:
    event_id, type_, ts, source, body, keys = row
    return event_record(event_id, type_, ts, source, (keys or "").split("\x1f"), body)


class SQLiteHistory:
    db: sqlite3.Connection

    async def events_observing(self, keys: Collection[str], until: str, limit: int
                               ) -> list[EventRecord]:
        # The keys go in a table of this connection's own: a region holds thousands. The
        # CROSS JOIN reads observations by key from it: the planner, knowing nothing of a
        # temporary table, would scan every observation instead.
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS history_keys (key TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM history_keys")
        self.db.executemany("INSERT OR IGNORE INTO history_keys VALUES (?)",
                            [(k,) for k in keys])
        rows = self.db.execute(
            f"""SELECT {_EVENT_COLUMNS} FROM events e WHERE e.event_id IN (
                    SELECT o.event_id FROM history_keys k
                    CROSS JOIN observations o ON o.key = k.key AND o.ts <= ?)
                ORDER BY e.ts, e.event_id LIMIT ?""",
            (until, limit),
        )
        return [_event(row) for row in rows]

    async def events_after(self, after: Cursor | None, limit: int, until: str | None = None
                           ) -> list[EventRecord]:
        ts, event_id = after or ("", "")
        rows = self.db.execute(
            f"""SELECT {_EVENT_COLUMNS} FROM events e
                WHERE (e.ts, e.event_id) > (?, ?) AND e.ts <= ?
                ORDER BY e.ts, e.event_id LIMIT ?""",
            (ts, event_id, until if until is not None else "\uffff", limit),
        )
        return [_event(row) for row in rows]

    async def suppressions(self) -> list[Suppression]:
        return [(h, at) for h, at in self.db.execute(
            "SELECT hash, at FROM suppressed ORDER BY hash")]

    async def add_suppressions(self, rows: Sequence[Suppression]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR IGNORE INTO suppressed (hash, at) VALUES (?, ?)",
                                rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
