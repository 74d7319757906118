"""The one place where Neo4j records become the port's dataclasses, and plans become rows.

Each function takes a mapping keyed by the names the statements in queries.py RETURN (a
`neo4j.Record` or a plain dict), so the conversions can be tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from app.domain.plan import CustomerInfo, Plan, Snapshot
from app.stores.base import (
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    MergeRecord,
    event_body,
    event_record,
)

Row = Mapping[str, Any]

# The status a new identifier gets; the SQLite schema's column default.
ACTIVE = "active"


# -- records -> port dataclasses ---------------------------------------------------------

def identifier_record(row: Row) -> IdentifierRecord:
    return IdentifierRecord(
        type=row["type"],
        value=row["value"],
        customer_id=row["customer_id"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        sources=tuple(sorted(row["sources"] or ())),
        status=row["status"] or ACTIVE,
    )


def timeline_record(row: Row) -> EventRecord:
    return event_record(row["event_id"], row["type"], row["ts"], row["source"],
                        row["keys"], row["body"])


def link_record(row: Row) -> LinkRecord:
    return LinkRecord(
        a=row["a"],
        b=row["b"],
        count=int(row["count"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        sources=tuple(row["sources"] or ()),
        event_ids=tuple(row["event_ids"] or ()),
    )


def merge_record(row: Row) -> MergeRecord:
    return MergeRecord(
        absorbed=row["absorbed"],
        survivor=row["survivor"],
        at=row["at"],
        event_id=row["event_id"],
        reason=row["reason"],
    )


def snapshot(owner_rows: Iterable[Row], seen: Iterable[str]) -> Snapshot:
    """The Snapshot from SNAPSHOT's `owners` ({key, id, first_seen} maps) and `seen`."""
    snap = Snapshot()
    for row in owner_rows:
        snap.owners[row["key"]] = row["id"]
        snap.customers[row["id"]] = CustomerInfo(row["id"], row["first_seen"])
    snap.seen_events.update(seen)
    return snap


# -- plans -> statement parameters -------------------------------------------------------

def customer_rows(plan: Plan) -> list[dict[str, Any]]:
    return [{"id": c.id, "first_seen": c.first_seen} for c in plan.new_customers]


def merge_rows(plan: Plan) -> list[dict[str, Any]]:
    """In plan order; `index` orders the merges of one plan in the history."""
    return [
        {"index": n, "absorbed": m.absorbed, "survivor": m.survivor, "at": m.at,
         "event_id": m.event_id, "reason": m.reason}
        for n, m in enumerate(plan.merges)
    ]


def first_seen_rows(plan: Plan) -> list[dict[str, Any]]:
    return [{"id": cid, "first_seen": ts} for cid, ts in plan.first_seen.items()]


def identifier_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"key": d.key, "type": d.type, "value": d.value, "first_seen": d.first_seen,
         "last_seen": d.last_seen, "sources": list(d.sources), "customer_id": d.customer_id,
         "status": ACTIVE}
        for d in plan.identifiers
    ]


def link_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"a": d.a, "b": d.b, "count": d.count, "first_seen": d.first_seen,
         "last_seen": d.last_seen, "sources": list(d.sources), "event_ids": list(d.event_ids)}
        for d in plan.links
    ]


def event_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"event_id": e.event_id, "type": e.type, "ts": e.ts, "source": e.source,
         "body": event_body(e), "keys": sorted({i.key for i in e.identifiers})}
        for e in plan.events
    ]


# The plan sections this adapter writes, and those that only report (filled in by the
# decision or by the store). Any other non-empty section makes the adapter refuse the plan
# (the transaction rolls back) instead of applying part of it: newer port versions add
# sections (splits, moves, bans, erasures, ...) that this adapter does not store yet.
APPLIED_SECTIONS = frozenset(
    {"events", "new_customers", "merges", "first_seen", "identifiers", "links"})
REPORT_ONLY_SECTIONS = frozenset({"changes", "dropped", "audit_seqs", "erased"})


def unsupported_sections(plan: Plan) -> list[str]:
    found = [
        f.name for f in fields(plan)
        if f.name not in APPLIED_SECTIONS | REPORT_ONLY_SECTIONS and getattr(plan, f.name)
    ]
    if any(getattr(d, "status", ACTIVE) != ACTIVE or getattr(d, "reason", "")
           for d in plan.identifiers):
        found.append("identifier statuses")
    if any(getattr(d, "customer_id", "") is None for d in plan.identifiers):
        found.append("identifiers without a customer")
    if any(getattr(d, "status", ACTIVE) != ACTIVE or getattr(d, "reason", "")
           for d in plan.links):
        found.append("link statuses")
    return found


def unique(items: Iterable[str]) -> list[str]:
    """Distinct, sorted: the order locks are taken in, and no row read twice."""
    return sorted(set(items))

