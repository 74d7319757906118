"""The Neo4j half of the segment port: definitions, memberships, check times, history.

The graph model is in graph_schema/model.md (`Segment`, `SegmentMember`, `SegmentCheck`,
`SegmentChange`), its constraints in graph_schema/V0003__segments.cypher. Every write is
one statement, so one transaction, which `execute_query` re-runs on a transient error
such as a detected deadlock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from neo4j import AsyncManagedTransaction, RoutingControl

from app.domain.changes import Change, membership_change
from app.domain.segments.membership import Membership, MembershipChange
from app.stores.neo4j import outbox_queries as oq
from app.stores.neo4j.errors import translated as _translated
from app.stores.neo4j.part import Neo4jPart
from app.stores.neo4j.queries import numbered
from app.stores.neo4j.readmodel import rewrite_documents
from app.stores.neo4j.records import dumps, loads, membership, unique
from app.stores.outbox import outbox_rows
from app.stores.values import CustomerData, CustomerReads, SegmentRecord, SegmentState

# The counter node (MergeSequence.name) that numbers membership changes.
SEGMENT_CHANGE_SEQUENCE = "segment_changes"

SEGMENT_DEFINITIONS = """
MATCH (s:Segment)
RETURN s.name AS name, s.text AS text, s.created_at AS created_at, s.updated_at AS updated_at
ORDER BY s.name
"""

# created_at is kept when a definition is replaced (like SQLite's ON CONFLICT DO UPDATE).
SAVE_SEGMENT = """
MERGE (s:Segment {name: $name})
ON CREATE SET s.created_at = $created_at
SET s.text = $text, s.updated_at = $updated_at
"""

# `customer_id IS NOT NULL` lets the planner seek the (segment, customer_id) constraint's
# index by its first property; without it, it scans the label.
DELETE_SEGMENT_ONLY = """
CALL () {
  MATCH (m:SegmentMember {segment: $name})
  WHERE m.customer_id IS NOT NULL
  DELETE m
}
CALL () {
  MATCH (s:Segment {name: $name})
  DELETE s
}
"""

# Each customer's SegmentCheck is merged and written first (in customer order): that write
# lock makes a concurrent save of the same customer wait, so the memberships deleted next
# are the committed ones. A customer saved as None loses the check node at the end. The
# changes follow, in the history and, as change events, in the outbox; their counters come
# last and are held only until the commit, like RECORD's counters, so seq follows commit
# order. (Unnumbered: a fragment that SAVE_SEGMENT_STATES and DELETE_SEGMENT end with.)
_save_states = """
CALL () {
  UNWIND $states AS row
  MERGE (s:SegmentCheck {customer_id: row.customer_id})
  SET s.checked_at = row.checked_at, s.next_check = row.next_check
  WITH s, row
  CALL (row) {
    MATCH (m:SegmentMember {customer_id: row.customer_id})
    DELETE m
  }
  CALL (row) {
    UNWIND row.members AS member
    CREATE (:SegmentMember {segment: member.segment, customer_id: row.customer_id,
                            since: member.since, why: member.why})
  }
  WITH s, row
  WHERE NOT row.keep
  DELETE s
}
CALL () {
  NUMBERED $changes BY $sequence
  CREATE (:SegmentChange {seq: base + row.index + 1, customer_id: row.customer_id,
                          segment: row.segment, change: row.change, at: row.at,
                          why: row.why})
}
""" + oq.append_changes

SAVE_SEGMENT_STATES = numbered(_save_states)

# The segment and its memberships removed, then the members' exits recorded, in one
# transaction (the counters last, as everywhere).
DELETE_SEGMENT = numbered(DELETE_SEGMENT_ONLY + _save_states)

SEGMENT_MEMBERS = """
MATCH (m:SegmentMember {segment: $segment})
WHERE m.customer_id > $after
RETURN m.customer_id AS customer_id, m.since AS since, m.why AS why
ORDER BY m.customer_id
LIMIT $first
"""

# Every membership is counted: an index scan, like SQLite's GROUP BY over its table.
SEGMENT_SIZES = """
MATCH (m:SegmentMember)
WHERE m.customer_id IS NOT NULL
RETURN m.segment AS segment, count(m) AS size
"""

MEMBERSHIP_HISTORY = """
UNWIND $ids AS id
CALL (id) {
  MATCH (c:SegmentChange {customer_id: id})
  WITH c
  ORDER BY c.at DESC, c.seq DESC
  LIMIT $first
  RETURN collect(c {.segment, .change, .at, .why}) AS changes
}
WITH id, changes
WHERE size(changes) > 0
RETURN id AS customer_id, changes
"""

# Memberships, check times, history and pending checks (the outbox's SegmentPending).
ERASE_SEGMENT_DATA = """
UNWIND $ids AS id
CALL (id) {
  MATCH (m:SegmentMember {customer_id: id})
  DELETE m
}
CALL (id) {
  MATCH (s:SegmentCheck {customer_id: id})
  DELETE s
}
CALL (id) {
  MATCH (c:SegmentChange {customer_id: id})
  DELETE c
}
CALL (id) {
  MATCH (p:SegmentPending {customer_id: id})
  DELETE p
}
"""


def _state_rows(states: dict[str, SegmentState | None]) -> list[dict[str, Any]]:
    """In customer order: the order their SegmentCheck locks are taken in."""
    rows = []
    for cid in sorted(states):
        state = states[cid]
        rows.append({
            "customer_id": cid,
            "keep": state is not None,
            "checked_at": state.checked_at if state else None,
            "next_check": state.next_check if state else None,
            "members": [{"segment": m.segment, "since": m.since, "why": dumps(list(m.why))}
                        for m in (state.memberships.values() if state else ())],
        })
    return rows


def _change_rows(changes: Sequence[MembershipChange]) -> dict[str, Any]:
    """The parameters of the changes: $changes for the history, $outbox for the outbox."""
    return {
        "changes": [{"index": n, "customer_id": c.customer_id, "segment": c.segment,
                     "change": c.change, "at": c.at, "why": dumps(list(c.why))}
                    for n, c in enumerate(changes)],
        "sequence": SEGMENT_CHANGE_SEQUENCE,
        **outbox_params(membership_change(c) for c in changes),
    }


def outbox_params(changes: Iterable[Change]) -> dict[str, Any]:
    """$outbox and $outbox_sequence, for append_changes."""
    rows = outbox_rows(list(changes))
    return {"outbox": [{"index": n, "change_id": cid, "customer_id": customer, "at": at,
                        "body": body} for n, (cid, customer, at, body) in enumerate(rows)],
            "outbox_sequence": oq.OUTBOX_SEQUENCE}


class Neo4jSegments(Neo4jPart):
    if TYPE_CHECKING:  # the store's
        async def read_customers(self, reads: CustomerReads) -> CustomerData: ...

    async def _write(self, query: str, **params: Any) -> None:
        await self.driver.execute_query(query, params, database_=self.database,
                                        routing_=RoutingControl.WRITE)

    async def _write_rewriting(self, query: str, customer_ids: Collection[str],
                               **params: Any) -> None:
        """`query`, then the documents of `customer_ids` (whose segments it changes),
        in one transaction."""
        async def run(tx: AsyncManagedTransaction) -> None:
            await (await tx.run(query, params)).consume()
            await rewrite_documents(tx, customer_ids)

        async with self.driver.session(database=self.database) as session:
            await session.execute_write(run)

    @_translated
    async def segment_definitions(self) -> list[SegmentRecord]:
        rows = await self._read(SEGMENT_DEFINITIONS)
        return [SegmentRecord(r["name"], r["text"], r["created_at"], r["updated_at"])
                for r in rows]

    @_translated
    async def save_segment(self, record: SegmentRecord) -> None:
        await self._write(SAVE_SEGMENT, name=record.name, text=record.text,
                          created_at=record.created_at, updated_at=record.updated_at)

    @_translated
    async def delete_segment(self, name: str, changes: Sequence[MembershipChange]) -> None:
        await self._write_rewriting(DELETE_SEGMENT, {c.customer_id for c in changes},
                                    name=name, states=[], **_change_rows(changes))

    async def segment_states(self, customer_ids: Collection[str]) -> dict[str, SegmentState]:
        reads = CustomerReads(segment_states=set(customer_ids))
        return (await self.read_customers(reads)).segment_states

    @_translated
    async def save_segment_states(
        self, states: dict[str, SegmentState | None], changes: Sequence[MembershipChange]
    ) -> None:
        if states or changes:
            await self._write_rewriting(SAVE_SEGMENT_STATES, states,
                                        states=_state_rows(states), **_change_rows(changes))

    @_translated
    async def segment_members(
        self, segment: str, first: int, after: str | None
    ) -> list[tuple[str, Membership]]:
        rows = await self._read(SEGMENT_MEMBERS, segment=segment, after=after or "",
                                first=first)
        return [(r["customer_id"], membership(segment, r["since"], r["why"])) for r in rows]

    @_translated
    async def segment_sizes(self) -> dict[str, int]:
        return {r["segment"]: r["size"] for r in await self._read(SEGMENT_SIZES)}

    @_translated
    async def membership_history(
        self, customer_ids: Collection[str], first: int
    ) -> dict[str, list[MembershipChange]]:
        rows = await self._read(MEMBERSHIP_HISTORY, ids=unique(customer_ids), first=first)
        return {r["customer_id"]: [
            MembershipChange(r["customer_id"], c["segment"], c["change"], c["at"],
                             tuple(loads(c["why"], [])))
            for c in r["changes"]] for r in rows}

    @_translated
    async def erase_segment_data(self, customer_ids: Collection[str]) -> None:
        if customer_ids:
            await self._write_rewriting(ERASE_SEGMENT_DATA, customer_ids,
                                        ids=unique(customer_ids))
