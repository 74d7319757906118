"""The SQLite half of the profile read model (app/stores/readmodel.py): a table of
documents keyed by customer id, rewritten inside the transaction of every write."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from app.domain.plan import Plan, Snapshot
from app.stores.readmodel import (
    before,
    document_reads,
    documents,
    patched,
    plan_keys,
    read_whole,
    touched_customers,
)
from app.stores.sqlite.chunks import Transaction, chunks, marks
from app.stores.sqlite.queries import IDENTIFIER_COLUMNS
from app.stores.values import CustomerData, CustomerReads

READ = "SELECT customer_id, body FROM profile_documents WHERE customer_id IN ({marks})"
OWNER_DOCUMENTS = ("SELECT i.key, i.customer_id, d.body FROM identifiers i "
                   "LEFT JOIN profile_documents d ON d.customer_id = i.customer_id "
                   "WHERE i.key IN ({marks}) AND i.customer_id IS NOT NULL")
WRITE = ("INSERT INTO profile_documents (customer_id, body) VALUES (?, ?) "
         "ON CONFLICT (customer_id) DO UPDATE SET body = excluded.body")
# identifiers_of's rows, as a document holds them (app/stores/readmodel.py)
DOCUMENT_IDENTIFIERS = (f"SELECT customer_id, {IDENTIFIER_COLUMNS} FROM identifiers "
                        "WHERE customer_id IN ({marks}) ORDER BY type, value")
DROP = "DELETE FROM profile_documents WHERE customer_id IN ({marks})"
OWNERS = ("SELECT key, customer_id FROM identifiers WHERE key IN ({marks}) "
          "AND customer_id IS NOT NULL")
# A rebuild's switch replaces the graph the documents were made from; the rebuild writes
# them again once it has settled (app/services/spark_rebuild.py).
DROP_ALL = "DELETE FROM profile_documents"


class SQLiteReadModel:
    db: sqlite3.Connection

    if TYPE_CHECKING:  # the store's (app/stores/base.py)
        async def read_customers(self, reads: CustomerReads) -> CustomerData: ...

        def _rows(self, statement: str, values: Collection[str]) -> Iterable[Any]: ...

    async def profile_documents(self, customer_ids: Collection[str]) -> dict[str, str]:
        return dict(self._rows(READ, customer_ids))

    async def owner_documents(self, keys: Collection[str]) -> dict[str, tuple[str, str | None]]:
        return {key: (cid, body) for key, cid, body in self._rows(OWNER_DOCUMENTS, keys)}

    async def build_profile_documents(self, customer_ids: Collection[str]) -> int:
        with Transaction(self.db):
            return await self._rewrite_documents(customer_ids)

    async def _rewrite_after(self, plan: Plan, snapshot: Snapshot, dropped: Collection[str]
                             ) -> None:
        """Inside the plan's transaction, after it was applied: the documents of the
        customers it touched and of those whose documents its erasures dropped. Those it
        only adds events and sightings to are patched (their identifiers read in one
        statement); the others are read whole."""
        owners_after: dict[str, str] = dict(self._rows(OWNERS, plan_keys(plan)))
        ids = touched_customers(plan, snapshot) | set(owners_after.values()) | set(dropped)
        whole = read_whole(plan, snapshot, owners_after)
        stored = before(plan, whole, await self.profile_documents(ids - whole))
        identifiers: dict[str, list[list[Any]]] = {cid: [] for cid in stored}
        for cid, *row in self._rows(DOCUMENT_IDENTIFIERS, stored):
            row[5] = orjson.loads(row[5])  # the sources
            identifiers[cid].append(row)
        built = patched(stored, identifiers, plan.events, owners_after)
        self._write_documents(built)
        await self._rewrite_documents(ids - built.keys())

    async def _rewrite_documents(self, customer_ids: Collection[str]) -> int:
        """Inside the caller's transaction (whose write lock keeps every other writer out):
        the documents of these customers as the graph holds them now."""
        ids = sorted(set(customer_ids))
        if not ids:
            return 0
        return self._write_documents(documents(ids, await self.read_customers(
            document_reads(ids))))

    def _write_documents(self, built: Mapping[str, str | None]) -> int:
        """Write these documents; None drops a customer's."""
        gone = [cid for cid, body in built.items() if body is None]
        for chunk in chunks(gone):
            self.db.execute(DROP.format(marks=marks(len(chunk))), chunk)
        kept = [(cid, body) for cid, body in built.items() if body is not None]
        self.db.executemany(WRITE, kept)
        return len(kept)
