"""The bulk port on SQLite (app/stores/bulk.py): exports read the file in batches; the
switch applies every plan of a rebuild with the store's own `_apply`, in one transaction
that holds the file's write lock, so a rebuild killed before its commit leaves the store as
it was (SQLite rolls the transaction back), and one that commits is whole."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING

from app.domain.plan import Plan
from app.stores.bulk import (
    BulkStore,
    PendingSwitch,
    RebuildRecord,
    Row,
    StoreChanged,
    Switch,
)
from app.stores.sqlite.readmodel import DROP_ALL

if TYPE_CHECKING:
    from app.stores.sqlite.store import SQLiteStore

EXPORT_ROWS = 50_000
EXPORT_SQL = {
    "identifiers": "SELECT key, type, value, first_seen, first_event, status, reason, "
                   "customer_id FROM identifiers",
    "links": "SELECT a, b, first_seen, first_event, sources, status, reason FROM links",
    "customers": "SELECT id, first_seen, first_event, first_key, settled, merged_into, "
                 "erased_at IS NOT NULL AS erased FROM customers",
    "history": "SELECT coalesce(c.merged_into, c.id) AS current, m.absorbed, m.survivor, "
               "m.at, m.event_id, m.reason, m.seq FROM merges m "
               "JOIN customers c ON c.id = m.survivor",
    "bans": "SELECT a, b FROM bans",
    "event_ids": "SELECT event_id FROM events",
}
# Counts and sequence numbers that any write a rebuild would miss moves.
FINGERPRINT_SQL = """SELECT
    (SELECT count(*) FROM events), (SELECT count(*) FROM identifiers),
    (SELECT count(*) FROM links), (SELECT count(*) FROM customers),
    (SELECT count(*) FROM bans), (SELECT coalesce(max(seq), 0) FROM audit),
    (SELECT coalesce(max(seq), 0) FROM merges), (SELECT coalesce(max(seq), 0) FROM outbox),
    (SELECT count(*) FROM suppressed)"""


class SQLiteBulk(BulkStore):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.db = store.db

    async def is_empty(self) -> bool:
        row = self.db.execute(
            "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM identifiers) "
            "OR EXISTS (SELECT 1 FROM customers)").fetchone()
        return not row[0]

    async def fingerprint(self) -> str:
        return json.dumps(self.db.execute(FINGERPRINT_SQL).fetchone())

    async def export(self, table: str) -> AsyncIterator[list[Row]]:
        cursor = self.db.execute(EXPORT_SQL[table])
        names = [d[0] for d in cursor.description]
        while rows := cursor.fetchmany(EXPORT_ROWS):
            batch = [dict(zip(names, row, strict=True)) for row in rows]
            if table == "links":
                for row in batch:
                    row["sources"] = json.loads(row["sources"])
            elif table == "customers":
                for row in batch:
                    row["erased"] = bool(row["erased"])
            yield batch

    async def suppressed(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT hash, at FROM suppressed"))

    async def switch(self, switch: Switch) -> None:
        self.store._begin()
        try:
            if await self.fingerprint() != switch.fingerprint:
                raise StoreChanged(
                    "the store changed while the rebuild ran (a load, a steward's action or "
                    "an erasure): nothing was switched; stop the writers and run it again")
            for step, plan in switch.plans:
                self.store._apply(plan)
                if switch.applied is not None:
                    switch.applied(step)
            self.db.execute(DROP_ALL)
            self._record(switch.record)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _record(self, record: RebuildRecord) -> None:
        self.db.execute(
            "INSERT INTO rebuilds (id, started_at, finished_at, inputs, positions, summary) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (record.id, record.started_at, record.finished_at, json.dumps(record.inputs),
             json.dumps(record.positions), json.dumps(record.summary)))

    async def pending_switch(self) -> PendingSwitch | None:
        return None  # a switch is one transaction: it happened whole, or not at all

    async def resume(self, pending: PendingSwitch, plans: Iterable[tuple[int, Plan]],
                     finished_at: str) -> None:
        raise AssertionError("a SQLite switch is never left half-way")

    async def positions(self) -> Mapping[str, dict[int, int]]:
        found: dict[str, dict[int, int]] = {}
        for (text,) in self.db.execute(
                "SELECT positions FROM rebuilds ORDER BY finished_at, id"):
            for topic, offsets in json.loads(text).items():
                found[topic] = {int(p): int(o) for p, o in offsets.items()}
        return found
