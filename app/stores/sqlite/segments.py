"""The SQLite half of the segment port: definitions, memberships, check times, history."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from app.domain.changes import Change, membership_change
from app.domain.segments.membership import Membership, MembershipChange
from app.stores.sqlite.chunks import Transaction, chunks, marks
from app.stores.values import SegmentRecord, SegmentState


class SQLiteSegments:
    db: sqlite3.Connection

    if TYPE_CHECKING:  # the outbox's (app/stores/sqlite/outbox.py)
        def _append_outbox(self, changes: Sequence[Change]) -> None: ...

        async def _rewrite_documents(self, customer_ids: Collection[str]) -> int: ...

    async def segment_definitions(self) -> list[SegmentRecord]:
        rows = self.db.execute(
            "SELECT name, text, created_at, updated_at FROM segments ORDER BY name")
        return [SegmentRecord(*row) for row in rows]

    async def save_segment(self, record: SegmentRecord) -> None:
        self.db.execute(
            "INSERT INTO segments (name, text, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET text = excluded.text, "
            "updated_at = excluded.updated_at",
            (record.name, record.text, record.created_at, record.updated_at),
        )

    async def delete_segment(self, name: str, changes: Sequence[MembershipChange]) -> None:
        with self._segment_tx():
            self.db.execute("DELETE FROM segment_members WHERE segment = ?", (name,))
            self.db.execute("DELETE FROM segments WHERE name = ?", (name,))
            self._append_history(changes)
            await self._rewrite_documents({c.customer_id for c in changes})

    async def segment_states(self, customer_ids: Collection[str]) -> dict[str, SegmentState]:
        found: dict[str, SegmentState] = {}
        members: dict[str, dict[str, Membership]] = defaultdict(dict)
        for chunk in chunks(customer_ids):
            places = marks(len(chunk))
            for cid, segment, since, why in self.db.execute(
                "SELECT customer_id, segment, since, why FROM segment_members "
                f"WHERE customer_id IN ({places})", chunk):
                members[cid][segment] = Membership(segment, since, tuple(json.loads(why)))
            for cid, checked_at, next_check in self.db.execute(
                "SELECT customer_id, checked_at, next_check FROM segment_checks "
                f"WHERE customer_id IN ({places})", chunk):
                found[cid] = SegmentState(members.get(cid, {}), checked_at, next_check)
        for cid, held in members.items():  # memberships without a check row: still state
            found.setdefault(cid, SegmentState(held))
        return found

    async def save_segment_states(
        self, states: dict[str, SegmentState | None], changes: Sequence[MembershipChange]
    ) -> None:
        with self._segment_tx():
            self._write_states(states, changes)
            await self._rewrite_documents(states)

    def _write_states(self, states: dict[str, SegmentState | None],
                      changes: Sequence[MembershipChange]) -> None:
        db = self.db
        for chunk in chunks(states):
            places = marks(len(chunk))
            db.execute(f"DELETE FROM segment_members WHERE customer_id IN ({places})", chunk)
            db.execute(f"DELETE FROM segment_checks WHERE customer_id IN ({places})", chunk)
        kept = [(cid, s) for cid, s in states.items() if s is not None]
        db.executemany(
            "INSERT INTO segment_members (segment, customer_id, since, why) "
            "VALUES (?, ?, ?, ?)",
            [(m.segment, cid, m.since, json.dumps(list(m.why)))
             for cid, s in kept for m in s.memberships.values()],
        )
        db.executemany(
            "INSERT INTO segment_checks (customer_id, checked_at, next_check) "
            "VALUES (?, ?, ?)",
            [(cid, s.checked_at, s.next_check) for cid, s in kept],
        )
        self._append_history(changes)

    def _append_history(self, changes: Sequence[MembershipChange]) -> None:
        """The changes, in the history and, as change events, in the outbox."""
        self.db.executemany(
            "INSERT INTO segment_history (customer_id, segment, change, at, why) "
            "VALUES (?, ?, ?, ?, ?)",
            [(c.customer_id, c.segment, c.change, c.at, json.dumps(list(c.why)))
             for c in changes],
        )
        self._append_outbox([membership_change(c) for c in changes])

    async def segment_members(
        self, segment: str, first: int, after: str | None
    ) -> list[tuple[str, Membership]]:
        rows = self.db.execute(
            "SELECT customer_id, since, why FROM segment_members "
            "WHERE segment = ? AND customer_id > ? ORDER BY customer_id LIMIT ?",
            (segment, after or "", first),
        )
        return [(cid, Membership(segment, since, tuple(json.loads(why))))
                for cid, since, why in rows]

    async def segment_sizes(self) -> dict[str, int]:
        return dict(self.db.execute(
            "SELECT segment, count(*) FROM segment_members GROUP BY segment"))

    async def membership_history(
        self, customer_ids: Collection[str], first: int
    ) -> dict[str, list[MembershipChange]]:
        found: dict[str, list[MembershipChange]] = {}
        for cid in sorted(set(customer_ids)):
            rows = self.db.execute(
                "SELECT segment, change, at, why FROM segment_history WHERE customer_id = ? "
                "ORDER BY at DESC, seq DESC LIMIT ?", (cid, first))
            history = [MembershipChange(cid, seg, change, at, tuple(json.loads(why)))
                       for seg, change, at, why in rows]
            if history:
                found[cid] = history
        return found

    async def erase_segment_data(self, customer_ids: Collection[str]) -> None:
        with self._segment_tx():
            self._erase_segment_data(customer_ids)
            await self._rewrite_documents(customer_ids)

    def _erase_segment_data(self, customer_ids: Collection[str]) -> None:
        """Memberships, check times, history and pending checks (the outbox's)."""
        for chunk in chunks(customer_ids):
            places = marks(len(chunk))
            for table in ("segment_members", "segment_checks", "segment_history",
                          "segment_pending"):
                self.db.execute(f"DELETE FROM {table} WHERE customer_id IN ({places})", chunk)

    def _segment_tx(self) -> Transaction:
        return Transaction(self.db)
