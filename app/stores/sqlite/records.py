"""Rows and models: the one place where the SQLite store's rows become models, and where a
Plan becomes the rows of the statements that write it (queries.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from app.domain.plan import (
    AuditEntry,
    CustomerInfo,
    IdentifierStatus,
    LinkStatus,
    Merge,
    Plan,
    ReviewStatus,
    Split,
    StoredIdentifier,
)
from app.domain.privacy import SuppressionKey
from app.domain.profile import Observation
from app.stores.values import (
    AuditRecord,
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    ReviewRecord,
    event_body,
    event_record,
)

Row = Sequence[Any]


# -- rows -> models ---------------------------------------------------------------------
def identifier(row: Row) -> IdentifierRecord:
    type_, value, cid, first, last, sources, status, reason = row
    return IdentifierRecord(
        type_, value, cid, first, last, tuple(json.loads(sources)), IdentifierStatus(status),
        reason
    )


def stored_identifier(row: Row) -> StoredIdentifier:
    key, status, customer_id, first_seen, first_event = row
    return StoredIdentifier(key, IdentifierStatus(status), customer_id, first_seen, first_event)


def link(row: Row) -> LinkRecord:
    a, b, n, first, last, sources, event_ids, status, reason, match = row
    return LinkRecord(
        a,
        b,
        n,
        first,
        last,
        tuple(json.loads(sources)),
        tuple(json.loads(event_ids)),
        LinkStatus(status),
        reason,
        json.loads(match) if match else None,
    )


def audit(row: Row) -> AuditRecord:
    seq, actor, action, target, reason, at, details, undo, undone_by = row
    return AuditRecord(
        seq, actor, action, target, reason, at, json.loads(details), json.loads(undo), undone_by
    )


def review(row: Row) -> ReviewRecord:
    review_id, a, b, score, weights, status, created_at = row
    return ReviewRecord(review_id, a, b, score, json.loads(weights), ReviewStatus(status),
                        created_at)


def event(row: Row) -> EventRecord:
    event_id, type_, ts, source, body, keys = row
    return event_record(event_id, type_, ts, source, keys.split("\x1f"), body)


def observation(row: Row) -> Observation:
    event_id, ts, source, body = row
    data = json.loads(body)
    return Observation(event_id, ts, source, data.get("traits", {}), data.get("consent", {}))


def split(row: Row) -> Split:
    customer_id, parts, at, reason = row
    return Split(customer_id, tuple(json.loads(parts)), at, reason)


def merge(row: Row) -> Merge:
    return Merge(*row)


# -- plans -> rows ----------------------------------------------------------------------
def customer_row(c: CustomerInfo) -> tuple[str, str, str, str, str]:
    return (c.id, c.first_seen, c.first_event, c.first_key, c.settled)


def json_array(items: Sequence[str]) -> str:
    """Written as SQLite's json_group_array writes it, so that an unchanged list compares
    equal to the stored text and the upserts skip their merge."""
    return orjson.dumps(items).decode()


def customer_update_rows(plan: Plan) -> list[tuple[str, ...]]:
    return [(*customer_row(c)[1:], c.id) for c in plan.customer_updates.values()]


def merge_rows(merges: Sequence[Merge]) -> list[tuple[str, str, str, str, str]]:
    return [(m.absorbed, m.survivor, m.at, m.event_id, m.reason) for m in merges]


def history_rows(plan: Plan) -> list[tuple[str, str, str, str, str]]:
    return merge_rows([m for merges in plan.history.values() for m in merges])


def split_rows(plan: Plan) -> list[tuple[str, str, str, str]]:
    return [(s.customer_id, json.dumps(s.parts), s.at, s.reason) for s in plan.splits]


def identifier_rows(plan: Plan) -> list[tuple[Any, ...]]:
    return [(d.key, d.type, d.value, d.first_seen, d.last_seen, json_array(d.sources),
             d.customer_id, d.status, d.reason, d.first_event) for d in plan.identifiers]


def link_rows(plan: Plan) -> list[tuple[Any, ...]]:
    return [(d.a, d.b, d.count, d.first_seen, d.last_seen, json_array(d.sources),
             json_array(d.event_ids), d.status, d.reason,
             json.dumps(d.match) if d.match else None, d.first_event) for d in plan.links]


def audit_row(entry: AuditEntry) -> tuple[str, ...]:
    return (entry.actor, entry.action, entry.target, entry.reason, entry.at,
            json.dumps(entry.details, ensure_ascii=False),
            json.dumps(entry.undo, ensure_ascii=False))


def event_rows(plan: Plan) -> list[tuple[Any, ...]]:
    return [(e.event_id, e.type, e.ts, e.source, event_body(e), bool(e.traits or e.consent))
            for e in plan.events]


def observation_rows(plan: Plan) -> list[tuple[str, str, str]]:
    return [(i.key, e.ts, e.event_id) for e in plan.events for i in e.identifiers]


def match_record_rows(plan: Plan) -> list[tuple[str, str]]:
    return [(key, json.dumps(traits)) for key, traits, _ in plan.match_records]


def match_block_rows(plan: Plan) -> list[tuple[str, str]]:
    return [(block, key) for key, _, blocks in plan.match_records for block in blocks]


def review_rows(plan: Plan) -> list[tuple[Any, ...]]:
    return [(r.a, r.b, r.score, json.dumps(r.weights), r.created_at) for r in plan.reviews]


def unsuppress_rows(plan: Plan, suppression: SuppressionKey) -> list[tuple[str]]:
    return [(suppression.hash(k),) for k in plan.unsuppress]


# Which statements (queries.py, or the outbox's in outbox.py) write each section of a Plan,
# and the sections that only report (a store fills them in, or the caller reads them): a
# section added to Plan fails tests/unit/test_sqlite_adapter.py until it is here.
WRITTEN_BY: dict[str, tuple[str, ...]] = {
    "history_reset": ("RESET_HISTORY",),
    "new_customers": ("CREATE_CUSTOMER",),
    "merges": ("MOVE_ABSORBED", "REDIRECT_ABSORBED"),
    "renames": ("MOVE_ABSORBED", "REDIRECT_ABSORBED", "RECORD_RENAME"),
    "customer_updates": ("UPDATE_CUSTOMER",),
    "history": ("HISTORY_REDIRECT", "RECORD_MERGE"),
    "splits": ("RECORD_SPLIT",),
    "identifiers": ("UPSERT_IDENTIFIER",),
    "moves": ("MOVE_IDENTIFIER",),
    "statuses": ("SET_IDENTIFIER_STATUS",),
    "links": ("UPSERT_LINK",),
    "link_statuses": ("SET_LINK_STATUS",),
    "bans": ("ADD_BAN",),
    "match_records": ("SAVE_MATCH_RECORD", "FILE_MATCH_BLOCK"),
    "unbans": ("REMOVE_BAN",),
    "audit": ("APPEND_AUDIT", "MARK_UNDONE"),
    "events": ("INSERT_EVENT", "OBSERVE"),
    "search_terms": ("ADD_SEARCH_TERM", "INDEX_SEARCH_TERMS"),
    "unsuppress": ("UNSUPPRESS",),
    "reviews": ("QUEUE_REVIEW",),
    "review_updates": ("RESOLVE_REVIEW",),
    "erasures": ("MARK_ERASED", "SUPPRESS"),
    "changes": ("outbox.APPEND_OUTBOX",),
    "segment_checks": ("outbox.RECORD_CHECK",),
}
REPORT_ONLY = frozenset({"trait_problems", "dropped"})
