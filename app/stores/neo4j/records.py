"""The one place where Neo4j records become the port's dataclasses, and plans become rows.

Each function takes a mapping keyed by the names the statements in queries.py RETURN (a
`neo4j.Record` or a plain dict), so the conversions can be tested without a server.
JSON documents (audit details and undo, review weights, match payloads and traits,
models) are stored as JSON text properties.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from app.domain.personal import Spellings
from app.domain.plan import (
    ACTIVE,
    LINKED,
    Component,
    CustomerInfo,
    IdentifierStatus,
    LinkFacts,
    LinkStatus,
    Merge,
    Plan,
    ReviewStatus,
    Snapshot,
    Split,
    StoredIdentifier,
)
from app.domain.privacy import ERASED_MARK, SuppressionKey
from app.domain.profile import Observation
from app.domain.segments.membership import Membership
from app.stores.ports.graph import add_neighbours
from app.stores.values import (
    AuditRecord,
    Cursor,
    CustomerData,
    CustomerReads,
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    ReviewRecord,
    SegmentState,
    TimelineWindow,
    event_body,
    event_record,
)

Row = Mapping[str, Any]

# What an erased key or value is replaced with in free text.
NEWEST: Cursor = ("\uffff", "")  # a cursor before every event


def dumps(value: Any) -> str:
    """JSON text as stored. Unlike SQLite's json.dumps it keeps non-ASCII characters as
    they are, so the erasure scrub finds an erased value inside a JSON document too."""
    return json.dumps(value, ensure_ascii=False)


def loads(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default


# -- records -> port dataclasses ---------------------------------------------------------

def identifier_record(row: Row) -> IdentifierRecord:
    return IdentifierRecord(
        type=row["type"],
        value=row["value"],
        customer_id=row["customer_id"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        sources=tuple(sorted(row["sources"] or ())),
        status=IdentifierStatus(row["status"] or ACTIVE),
        reason=row.get("reason") or "",
    )


def timeline_record(row: Row) -> EventRecord:
    return event_record(row["event_id"], row["type"], row["ts"], row["source"],
                        row["keys"], row["body"])


def observation(row: Row) -> Observation:
    body = loads(row["body"], {})
    return Observation(row["event_id"], row["ts"], row["source"], body.get("traits", {}),
                       body.get("consent", {}))


def membership(segment: str, since: str, why: str | None) -> Membership:
    return Membership(segment, since, tuple(loads(why, [])))


def segment_state(row: Row) -> SegmentState:
    held = (membership(m["segment"], m["since"], m["why"]) for m in row["members"])
    return SegmentState({m.segment: m for m in held}, row["checked_at"], row["next_check"])


def customer_reads_params(reads: CustomerReads) -> dict[str, Any]:
    """CUSTOMER_READS' parameters; a timeline window is numbered by its place in
    `reads.timelines`. A window starts before the older of its cursor and `until`."""
    windows = []
    for n, (window, ids) in enumerate(reads.timelines.items()):
        until = (window.until, "") if window.until is not None else NEWEST
        ts, event_id = min(window.after or NEWEST, until)
        windows.append({"window": n, "ids": unique(ids), "first": window.first, "ts": ts,
                        "event_id": event_id, "since": window.since or "",
                        "types": sorted(set(window.types))})
    return {"identifiers": unique(reads.identifiers),
            "observations": unique(reads.observations), "timelines": windows,
            "segment_states": unique(reads.segment_states)}


def customer_data(row: Row, windows: Iterable[TimelineWindow]) -> CustomerData:
    """CUSTOMER_READS' one row; `windows` in the order the parameters numbered them. As the
    single reads answer: a customer without rows is missing."""
    data = CustomerData()
    identifiers: defaultdict[str, list[IdentifierRecord]] = defaultdict(list)
    for item in row["identifiers"]:
        identifiers[item["customer_id"]].append(identifier_record(item))
    data.identifiers = dict(identifiers)
    observations: defaultdict[str, list[Observation]] = defaultdict(list)
    for item in row["observations"]:
        observations[item["customer_id"]].append(observation(item))
    data.observations = dict(observations)
    numbered = list(windows)
    data.timelines = {window: {} for window in numbered}
    for item in row["timelines"]:
        if item["events"]:
            data.timelines[numbered[item["window"]]][item["customer_id"]] = [
                timeline_record(event) for event in item["events"]]
    data.segment_states = {item["customer_id"]: segment_state(item)
                           for item in row["segment_states"]}
    return data


def link_record(row: Row) -> LinkRecord:
    return LinkRecord(
        a=row["a"],
        b=row["b"],
        count=int(row["count"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        sources=tuple(row["sources"] or ()),
        event_ids=tuple(row["event_ids"] or ()),
        status=LinkStatus(row.get("status") or LINKED),
        reason=row.get("reason") or "",
        match=loads(row.get("match")),
    )


def merge_record(row: Row) -> Merge:
    return Merge(
        absorbed=row["absorbed"],
        survivor=row["survivor"],
        at=row["at"],
        event_id=row["event_id"],
        reason=row["reason"],
    )


def split_record(row: Row) -> Split:
    return Split(row["customer_id"], tuple(row["parts"] or ()), row["at"], row["reason"])


def audit_record(row: Row) -> AuditRecord:
    return AuditRecord(
        seq=int(row["seq"]),
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        reason=row["reason"],
        at=row["at"],
        details=loads(row["details"], {}),
        undo=loads(row["undo"], {}),
        undone_by=row["undone_by"],
    )


def review_record(row: Row) -> ReviewRecord:
    return ReviewRecord(
        id=int(row["id"]),
        a=row["a"],
        b=row["b"],
        score=float(row["score"]),
        weights=loads(row["weights"], {}),
        status=ReviewStatus(row["status"]),
        created_at=row["created_at"],
    )


def snapshot(row: Row) -> Snapshot:
    """The Snapshot from one SNAPSHOT row (see queries.SNAPSHOT for the fields)."""
    snap = Snapshot()
    customers = {c["id"]: customer_info(c) for c in row["customers"]}
    for ident in row["identifiers"]:
        if ident is None:  # a placeholder: a key not stored yet
            continue
        status = IdentifierStatus(ident["status"] or ACTIVE)
        if status != ACTIVE:
            snap.statuses[ident["key"]] = (status, ident["reason"] or "")
        if ident["id"] is not None:
            snap.owners[ident["key"]] = ident["id"]
            snap.customers[ident["id"]] = customers[ident["id"]]
    snap.seen_events.update(row["seen"])
    for count in row["type_counts"]:
        snap.type_counts.setdefault(count["id"], {})[count["type"]] = int(count["n"])
    snap.degrees.update(Counter(row["hub_ends"]))
    snap.link_status.update({(x["a"], x["b"]): LinkStatus(x["status"] or LINKED)
                            for x in row["links"]})
    for ban in row["bans"]:
        snap.bans.add((ban["a"], ban["b"]))
        for end, owner in ((ban["a"], ban["a_owner"]), (ban["b"], ban["b_owner"])):
            if owner is not None:
                snap.ban_owners[end] = owner
    return snap


def add_suppressed(snap: Snapshot, hashes: Mapping[str, str],
                   found: Iterable[Mapping[str, str]]) -> None:
    """`hashes`: suppression hash -> batch key; `found`: the hashes on the list, each with
    when it was erased."""
    snap.suppressed.update((hashes[f["hash"]], f["at"]) for f in found)


def add_buckets(snap: Snapshot, row: Row) -> None:
    """The blocking buckets from the MATCH_BUCKETS row."""
    for bucket in row["buckets"]:
        if bucket["keys"]:
            snap.match_buckets[bucket["block"]] = list(bucket["keys"])


def add_match_records(snap: Snapshot, row: Row) -> None:
    """Candidates' traits and owners from the MATCH_RECORDS row; a batch key keeps the
    owner the snapshot read for it."""
    for record in row["records"]:
        if record["traits"] is not None:
            snap.match_records[record["key"]] = loads(record["traits"])
        if record["id"] is not None:
            snap.owners.setdefault(record["key"], record["id"])
            snap.customers.setdefault(record["id"], customer_info(record))


def components(rows: Iterable[Row], customer_ids: Iterable[str]) -> dict[str, Component]:
    """Components from COMPONENTS rows, like the SQLite adapter's `_components`: each
    customer's identifiers and every link touching them, and the identifiers at the far
    end of those links that are not its own."""
    found = {cid: Component() for cid in customer_ids}
    rows = list(rows)
    owner_of: dict[str, str] = {}
    for row in rows:
        component = found[row["id"]]
        component.customer = customer_info(row["customer"])
        for ident in row["identifiers"]:
            component.identifiers[ident["key"]] = stored_identifier(ident, row["id"])
            owner_of[ident["key"]] = row["id"]
    far: dict[str, StoredIdentifier] = {}
    for row in rows:
        for link in (link for ident in row["identifiers"] for link in ident["links"]):
            stored = LinkFacts(link["a"], link["b"], link["first_seen"],
                                tuple(link["sources"] or ()), LinkStatus(link["status"] or LINKED),
                                link["reason"] or "", link["first_event"] or "")
            found[row["id"]].links[(stored.a, stored.b)] = stored
            if link["other"]["key"] not in owner_of:
                other = link["other"]
                far[other["key"]] = stored_identifier(other, other["customer_id"])
    add_neighbours(found, far)
    return found


def stored_identifier(row: Row, customer_id: str | None) -> StoredIdentifier:
    return StoredIdentifier(row["key"], IdentifierStatus(row["status"] or ACTIVE), customer_id,
                            row["first_seen"], row["first_event"] or "")


# -- plans -> statement parameters -------------------------------------------------------

def customer_info(row: Row) -> CustomerInfo:
    return CustomerInfo(row["id"], row["first_seen"], row["first_event"] or "",
                        row["first_key"] or "", row["settled"] or "")


def _customer_row(c: CustomerInfo) -> dict[str, Any]:
    return {"id": c.id, "first_seen": c.first_seen, "first_event": c.first_event,
            "first_key": c.first_key, "settled": c.settled}


def customer_rows(plan: Plan) -> list[dict[str, Any]]:
    return [_customer_row(c) for c in plan.new_customers]


def customer_update_rows(plan: Plan) -> list[dict[str, Any]]:
    return [_customer_row(c) for c in plan.customer_updates.values()]


def merge_rows(merges: Iterable[Merge]) -> list[dict[str, Any]]:
    """In order; `index` orders the entries of one plan in the history."""
    return [
        {"index": n, "absorbed": m.absorbed, "survivor": m.survivor, "at": m.at,
         "event_id": m.event_id, "reason": m.reason}
        for n, m in enumerate(merges)
    ]


def history_entries(plan: Plan) -> list[Merge]:
    return [m for merges in plan.history.values() for m in merges]


def history_id_rows(plan: Plan) -> list[dict[str, Any]]:
    return [{"id": cid, "final": final, "at": at} for cid, final, at in plan.history_redirects()]


def split_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"index": n, "customer_id": s.customer_id, "parts": list(s.parts), "at": s.at,
         "reason": s.reason}
        for n, s in enumerate(plan.splits)
    ]


def identifier_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"key": d.key, "type": d.type, "value": d.value, "first_seen": d.first_seen,
         "last_seen": d.last_seen, "sources": list(d.sources), "customer_id": d.customer_id,
         "status": d.status, "reason": d.reason, "first_event": d.first_event}
        for d in plan.identifiers
    ]


def move_rows(plan: Plan) -> list[dict[str, Any]]:
    return [{"key": key, "customer_id": cid} for key, cid in plan.moves.items()]


def status_rows(plan: Plan) -> list[dict[str, Any]]:
    return [{"key": s.key, "status": s.status, "reason": s.reason} for s in plan.statuses]


def link_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"a": d.a, "b": d.b, "count": d.count, "first_seen": d.first_seen,
         "last_seen": d.last_seen, "sources": list(d.sources), "event_ids": list(d.event_ids),
         "status": d.status, "reason": d.reason,
         "match": dumps(d.match) if d.match else None, "first_event": d.first_event}
        for d in plan.links
    ]


def link_status_rows(plan: Plan) -> list[dict[str, Any]]:
    return [{"a": s.a, "b": s.b, "status": s.status, "reason": s.reason}
            for s in plan.link_statuses]


def pair_rows(pairs: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"a": a, "b": b} for a, b in pairs]


def match_record_rows(plan: Plan) -> list[dict[str, Any]]:
    """The last record of a key wins, like SQLite's INSERT OR REPLACE in plan order."""
    latest = {key: traits for key, traits, _ in plan.match_records}
    return [{"key": key, "traits": dumps(traits)} for key, traits in latest.items()]


def match_block_rows(plan: Plan) -> list[dict[str, Any]]:
    rows = [(block, key) for key, _, blocks in plan.match_records for block in blocks]
    return [{"index": n, "block": block, "key": key} for n, (block, key) in enumerate(rows)]


def audit_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"index": n, "actor": e.actor, "action": e.action, "target": e.target,
         "reason": e.reason, "at": e.at, "details": dumps(e.details), "undo": dumps(e.undo),
         "undoes": e.undoes}
        for n, e in enumerate(plan.audit)
    ]


def event_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"event_id": e.event_id, "type": e.type, "ts": e.ts, "source": e.source,
         "body": event_body(e), "keys": sorted({i.key for i in e.identifiers}),
         "profile": bool(e.traits or e.consent)}
        for e in plan.events
    ]


def search_term_rows(plan: Plan) -> list[dict[str, Any]]:
    return [{"key": key, "term": term} for key, term in dict.fromkeys(plan.search_terms)]


def unsuppress_rows(plan: Plan, suppression: SuppressionKey) -> list[dict[str, Any]]:
    return [{"hash": suppression.hash(k)} for k in dict.fromkeys(plan.unsuppress)]


def review_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"index": n, "a": r.a, "b": r.b, "score": float(r.score), "weights": dumps(r.weights),
         "status": ReviewStatus.OPEN.value, "created_at": r.created_at}
        for n, r in enumerate(plan.reviews)
    ]


def review_update_rows(plan: Plan) -> list[dict[str, Any]]:
    return [{"id": review_id, "status": status, "actor": actor}
            for review_id, status, actor in plan.review_updates]


# Where each section of a Plan is written: APPLY, RECORD (numbered records) or ERASE. The
# others only report what the decision found (dropped identifiers, trait problems); what
# the store reports of a plan is in its Receipt.
WRITTEN_BY = {
    "events": "APPLY", "new_customers": "APPLY", "merges": "APPLY", "renames": "APPLY RECORD",
    "customer_updates": "APPLY", "history_reset": "APPLY", "history": "APPLY RECORD",
    "splits": "RECORD", "moves": "APPLY", "identifiers": "APPLY", "statuses": "APPLY",
    "links": "APPLY", "link_statuses": "APPLY", "bans": "APPLY", "unbans": "APPLY",
    "audit": "RECORD", "match_records": "APPLY RECORD",
    "search_terms": "APPLY", "erasures": "ERASE", "reviews": "RECORD",
    "review_updates": "APPLY", "unsuppress": "APPLY",
    "changes": "RECORD_CHANGES", "segment_checks": "RECORD_CHANGES",  # outbox_queries.py
}
REPORT_ONLY = frozenset({"trait_problems", "dropped"})


def apply_params(plan: Plan, suppression: SuppressionKey) -> dict[str, list[dict[str, Any]]]:
    """The parameters of APPLY: one list of rows per plan section."""
    return {
        "history_reset": [{"id": cid} for cid in sorted(plan.history_reset)],
        "customers": customer_rows(plan),
        "merges": merge_rows([*plan.merges, *plan.renames]),
        "customer_updates": customer_update_rows(plan),
        "history_ids": history_id_rows(plan),
        "identifiers": identifier_rows(plan),
        "moves": move_rows(plan),
        "statuses": status_rows(plan),
        "links": link_rows(plan),
        "link_statuses": link_status_rows(plan),
        "bans": pair_rows(plan.bans),
        "unbans": pair_rows(plan.unbans),
        "match_records": match_record_rows(plan),
        "events": event_rows(plan),
        "search_terms": search_term_rows(plan),
        "unsuppress": unsuppress_rows(plan, suppression),
        "review_updates": review_update_rows(plan),
    }


def record_params(plan: Plan | None) -> dict[str, list[dict[str, Any]]]:
    """The rows of RECORD's numbered sections (all empty without a plan to apply)."""
    if plan is None:
        return {"history": [], "renames": [], "splits": [], "audit": [], "reviews": [],
                "match_blocks": []}
    return {
        "history": merge_rows(history_entries(plan)),
        "renames": merge_rows(plan.renames),
        "splits": split_rows(plan),
        "audit": audit_rows(plan),
        "reviews": review_rows(plan),
        "match_blocks": match_block_rows(plan),
    }


def scrub_pattern(spellings: Spellings) -> str:
    """SCRUB_FIND's $pattern: a Java regular expression (Neo4j's =~ matches the whole
    text) that finds what `spellings` finds; the same syntax reads the same in both."""
    return f"(?isuU).*(?:{spellings.source}).*"


# The free text of each kind of record that SCRUB_FIND returns; JSON documents are
# scrubbed value by value, so that they stay JSON.
SCRUBBED_TEXT = {"merges": ("reason",), "splits": ("reason",), "links": ("reason",),
                 "identifiers": ("reason",), "audit": ("target", "reason")}
SCRUBBED_JSON = {"audit": ("details", "undo")}


def scrubbed_rows(found: Mapping[str, list[dict[str, Any]]], spellings: Spellings
                  ) -> dict[str, list[dict[str, Any]]]:
    """SCRUB_WRITE's parameters: the records found, their free text scrubbed."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for kind, fields in SCRUBBED_TEXT.items():
        rows[kind] = []
        for record in found.get(kind, []):
            row = dict(record)
            for name in fields:
                row[name] = spellings.scrub(row[name] or "", ERASED_MARK)
            for name in SCRUBBED_JSON.get(kind, ()):
                row[name] = dumps(spellings.scrub_json(loads(row[name], {}), ERASED_MARK))
            rows[kind].append(row)
    return rows


# -- search ------------------------------------------------------------------------------

_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')
# Roughly what Lucene's standard tokenizer keeps as one token: letters and digits, with
# inner dots and apostrophes ("x.com", "o'neil").
_WORD = re.compile(r"[^\W_]+(?:[.'][^\W_]+)*")


def lucene_query(text: str) -> str | None:
    """A Lucene query for the full-text index: for each whitespace token of three
    characters or more, the token as a phrase (exact hits score best) and a fuzzy term for
    each word of three characters or more in it (typos still find the customer); OR-ed.
    None when the text has no such token."""
    clauses: list[str] = []
    for token in text.lower().split():
        if len(token) < 3:
            continue
        clauses.append('"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"')
        for word in _WORD.findall(token):
            if len(word) >= 3:
                clauses.append(_LUCENE_SPECIAL.sub(r"\\\1", word) + "~")
    return " OR ".join(dict.fromkeys(clauses)) or None


def unique(items: Iterable[str]) -> list[str]:
    """Distinct, sorted: the order locks are taken in, and no row read twice."""
    return sorted(set(items))
