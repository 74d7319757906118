"""The SQLite half of the outbox port (app/stores/outbox.py): change events appended in
the transaction that made them, the publisher's cursor and lease, and pending segment
checks.

A segment transaction holds the file's write lock from reading the checks to saving what
`work` decided, so two processes never evaluate one customer at the same time. `work` may
only await this store's reads: they run on the one connection, inside the transaction,
and never give the event loop away, so no other task can start a transaction meanwhile.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from app.domain.changes import Change, membership_change
from app.domain.checks import PendingCheck, inputs_of_text, inputs_text
from app.domain.plan import Erasure, Plan
from app.domain.segments.membership import erased
from app.stores.outbox import (
    CHECKS_PER_TRANSACTION,
    OutboxStatus,
    SegmentWork,
    SegmentWrite,
    erased_texts,
    outbox_change,
    outbox_rows,
)
from app.stores.sqlite.chunks import Transaction, chunks, marks

if TYPE_CHECKING:
    from app.stores.values import CustomerData, CustomerReads, SegmentRecord, SegmentState

CURSOR = "changes"  # the one outbox cursor (outbox_cursor.name)
# The store's clock in Unix seconds: leases are measured by it, not by each process's.
NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_CHECK_COLUMNS = "customer_id, at, since, survivor, split, inputs"
# The two statements that write a plan's sections (app/stores/sqlite/records.WRITTEN_BY).
APPEND_OUTBOX = "INSERT INTO outbox (change_id, customer_id, at, body) VALUES (?, ?, ?, ?)"
# Recorded only while there are segments: without them nothing would ever read the check.
RECORD_CHECK = f"""INSERT INTO segment_pending ({_CHECK_COLUMNS})
    SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM segments)
    ON CONFLICT (customer_id) DO UPDATE SET
      at = max(at, excluded.at), since = min(since, excluded.since),
      survivor = coalesce(survivor, excluded.survivor),
      split = max(split, excluded.split),
      inputs = CASE WHEN inputs IS NULL OR excluded.inputs IS NULL
                      OR length(inputs) > 4000 THEN NULL
                    ELSE inputs || ' ' || excluded.inputs END"""


def _check(row: Sequence[Any]) -> PendingCheck:
    cid, at, since, survivor, split, inputs = row
    return PendingCheck(cid, at, since, survivor, bool(split), inputs_of_text(inputs))


class _Tx:
    """A segment transaction's view for its work (app.stores.outbox.SegmentTx)."""

    def __init__(self, store: SQLiteOutbox, customers: list[str],
                 pending: dict[str, PendingCheck]) -> None:
        self.store = store
        self.customers = customers
        self.pending = pending

    async def read(self, reads: CustomerReads) -> CustomerData:
        return await self.store.read_customers(reads)

    async def definitions(self) -> list[SegmentRecord]:
        return await self.store.segment_definitions()


class SQLiteOutbox:
    db: sqlite3.Connection

    if TYPE_CHECKING:  # the store's and the segment half's
        def _begin(self) -> None: ...

        def _write_states(self, states: dict[str, SegmentState | None],
                          changes: Sequence[Any]) -> None: ...

        def _erase_segment_data(self, customer_ids: Collection[str]) -> None: ...

        async def read_customers(self, reads: CustomerReads) -> CustomerData: ...

        async def _rewrite_documents(self, customer_ids: Collection[str]) -> int: ...

        async def segment_definitions(self) -> list[SegmentRecord]: ...

    # -- inside other transactions ------------------------------------------------------
    def _append_outbox(self, changes: Sequence[Change]) -> None:
        self.db.executemany(APPEND_OUTBOX, outbox_rows(changes))

    def _apply_outbox(self, plan: Plan) -> tuple[Change, ...]:
        """The end of a plan's transaction: what its erasures leave of segments, its
        segment checks (recorded only while there are segments), its change events; the
        change events written."""
        changes = [*plan.changes]
        for erasure in plan.erasures:
            changes.extend(self._erase_segments(erasure))
        self.db.executemany(RECORD_CHECK, [(c.customer_id, c.at, c.since, c.survivor, c.split,
                                            inputs_text(c.inputs))
                                           for c in plan.segment_checks])
        self._append_outbox(changes)
        return tuple(changes)

    def _erase_segments(self, erasure: Erasure) -> list[Change]:
        """Forget the erased customer's (and those merged into it) memberships, history,
        checks and unpublished change events, scrub the erased identifiers from the other
        unpublished events; the customer's exits, for audiences downstream."""
        db, cid = self.db, erasure.customer_id
        ids = [cid, *(r[0] for r in db.execute(
            "SELECT id FROM customers WHERE merged_into = ?", (cid,)))]
        held = [r[0] for r in db.execute(
            "SELECT segment FROM segment_members WHERE customer_id = ?", (cid,))]
        self._erase_segment_data(ids)
        for chunk in chunks(ids):
            db.execute(f"DELETE FROM outbox WHERE customer_id IN ({marks(len(chunk))})", chunk)
        for text in erased_texts(erasure.keys):
            db.execute("UPDATE outbox SET body = replace(body, ?1, '[erased]') "
                       "WHERE instr(body, ?1) > 0", (text,))
        return [membership_change(c) for c in erased(cid, held, erasure.at)]

    # -- segment transactions -------------------------------------------------------------
    async def segment_transaction(
        self, work: SegmentWork, customer_ids: Collection[str] | None = None, *,
        pending_only: bool = False, limit: int = CHECKS_PER_TRANSACTION,
        marked_until: str | None = None,
    ) -> SegmentWrite:
        if customer_ids is None and not self._oldest_checks(1, marked_until):
            return SegmentWrite()  # the common case, without the write lock
        self._begin()
        try:
            if customer_ids is None:
                pending = self._oldest_checks(limit, marked_until)
                customers = sorted(pending)
            else:
                customers = sorted(set(customer_ids))
                pending = await self.pending_checks(customers)
                customers = sorted(pending) if pending_only else customers
            write = SegmentWrite()
            if customers:
                write = await work(_Tx(self, customers, pending))
                self._write_states(write.states, write.changes)
                await self._rewrite_documents(write.states)
                for chunk in chunks(pending):
                    self.db.execute(f"DELETE FROM segment_pending WHERE customer_id IN "
                                    f"({marks(len(chunk))})", chunk)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return write

    def _oldest_checks(self, limit: int, marked_until: str | None) -> dict[str, PendingCheck]:
        rows = self.db.execute(
            f"SELECT {_CHECK_COLUMNS} FROM segment_pending WHERE since <= ? "
            f"ORDER BY since LIMIT ?", (marked_until or "\uffff", limit))
        return {row[0]: _check(row) for row in rows}

    async def pending_checks(self, customer_ids: Collection[str]) -> dict[str, PendingCheck]:
        found: dict[str, PendingCheck] = {}
        for chunk in chunks(customer_ids):
            rows = self.db.execute(f"SELECT {_CHECK_COLUMNS} FROM segment_pending "
                                   f"WHERE customer_id IN ({marks(len(chunk))})", chunk)
            found.update((row[0], _check(row)) for row in rows)
        return found

    # -- publishing -------------------------------------------------------------------------
    async def claim_outbox(self, holder: str, destination: str, lease_s: float) -> int | None:
        row = self.db.execute(f"SELECT holder, expires > {NOW} FROM outbox_cursor "
                              f"WHERE name = ?", (CURSOR,)).fetchone()
        if row is not None and row[0] not in (None, holder) and row[1]:
            return None  # another holder's lease runs: no write lock needed to know
        with Transaction(self.db):
            taken = self.db.execute(
                f"""INSERT INTO outbox_cursor (name, destination, holder, expires)
                    VALUES (?1, ?2, ?3, {NOW} + ?4)
                    ON CONFLICT (name) DO UPDATE SET destination = ?2, holder = ?3,
                      expires = {NOW} + ?4
                    WHERE holder IS NULL OR holder = ?3 OR expires <= {NOW}""",
                (CURSOR, destination, holder, lease_s)).rowcount
            row = self.db.execute("SELECT published FROM outbox_cursor WHERE name = ?",
                                  (CURSOR,)).fetchone()
        return int(row[0]) if taken else None

    async def outbox_after(self, seq: int, limit: int) -> list[tuple[int, Change]]:
        rows = self.db.execute(
            "SELECT seq, change_id, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit))
        return [(n, outbox_change(cid, body)) for n, cid, body in rows]

    async def outbox_published(self, holder: str, through: int, lease_s: float) -> bool:
        with Transaction(self.db):
            held = self.db.execute(
                f"UPDATE outbox_cursor SET published = max(published, ?), "
                f"expires = {NOW} + ? WHERE name = ? AND holder = ?",
                (through, lease_s, CURSOR, holder)).rowcount
            if held:
                self.db.execute("DELETE FROM outbox WHERE seq <= ?", (through,))
        return bool(held)

    async def release_outbox(self, holder: str) -> None:
        self.db.execute("UPDATE outbox_cursor SET holder = NULL, expires = 0 "
                        "WHERE name = ? AND holder = ?", (CURSOR, holder))

    async def outbox_status(self) -> OutboxStatus:
        db = self.db
        cursor = db.execute(f"SELECT published, destination, holder, expires - {NOW} "
                            f"FROM outbox_cursor WHERE name = ?", (CURSOR,)).fetchone()
        published, destination, holder, left = cursor or (0, None, None, 0.0)
        (newest,) = db.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence "
                               "WHERE name = 'outbox'").fetchone()
        count, oldest = db.execute(
            "SELECT count(*), (SELECT at FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT 1) "
            "FROM outbox WHERE seq > ?1", (published,)).fetchone()
        (pending,) = db.execute("SELECT count(*) FROM segment_pending").fetchone()
        return OutboxStatus(int(newest), int(published), int(count), oldest, destination,
                            holder, float(left) if holder else 0.0, int(pending))
