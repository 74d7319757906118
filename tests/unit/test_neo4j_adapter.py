"""The Neo4j adapter's pure code, without a database: Cypher shape, migrations, record
conversion, the order of work inside `transact` (a fake driver records the statements it is
given; it stands in for nothing these tests claim about Neo4j), and error messages.

The contract suite (test_store_contract.py and the other contract files) checks behaviour
on a real server; these check what it cannot see: that values never reach the Cypher text,
that writes are batched, that every lookup is anchored on a constrained or indexed
property, that every plan section is written, and that `transact` locks before it reads
and always releases.
"""

from __future__ import annotations

import re
import socket
from dataclasses import fields
from typing import Any

import pytest

from app.domain.personal import Spellings, identifier_known
from app.domain.plan import (
    CustomerInfo,
    Erased,
    Gather,
    Plan,
    Snapshot,
)
from app.domain.privacy import SuppressionKey
from app.domain.resolution import require_components
from app.stores.errors import StoreError, StoreUnavailable
from app.stores.neo4j import history, migrate, outbox_queries, queries, readmodel, records
from app.stores.neo4j.segments import ERASE_SEGMENT_DATA
from app.stores.neo4j.store import SEARCH_INDEX, Neo4jStore, redact
from tests.unit.plans import KEYS, T, a_plan, full_plan

QUERIES: dict[str, str] = {
    name: text for module in (queries, outbox_queries, history, readmodel)
    for name, text in vars(module).items()
    if name.isupper() and isinstance(text, str)
} | {"ERASE_SEGMENT_DATA": ERASE_SEGMENT_DATA}  # which an erasure runs too
WRITE_CLAUSE = re.compile(r"\b(CREATE|MERGE|SET|DELETE|REMOVE)\b")
# Statements that write one thing, not rows of a plan.
SINGLE_WRITES = {"MIGRATIONS_BOOTSTRAP", "RECORD_MIGRATION", "SAVE_MODEL",
                 # the outbox cursor, and the range of changes it passed
                 "CLAIM", "PUBLISHED", "RELEASE"}
# The erasure scrub rewrites free text wherever it is: a deliberate scan (erasures are
# rare), like SQLite's UPDATE ... WHERE erased_mention(...); it writes back what it found
# by element id. So does the erasure of the unpublished change events, which only the
# outbox's backlog holds.
MAINTENANCE = {"SCRUB_FIND", "SCRUB_WRITE", "ERASE_CHANGES",
               # the profile documents that quote an erased value, and a rebuild's switch
               "DROP_ERASED_DOCUMENTS", "DROP_ALL_DOCUMENTS"}
# Statements allowed to scan a label: the migrator's handful of SchemaMigration nodes,
# counts that Neo4j answers from its count store or an index, the whole-graph reads of
# verification and of a rules change, the suppression list's check at migration and its
# copy for a replay, and the scrub.
SCANS = {"APPLIED_MIGRATIONS", "STATS", "MEMBERSHIP_OWNERS", "MEMBERSHIP_LINKS",
         "LINKS_WITH_STATUS", "SUPPRESSION_HASHES", "SUPPRESSIONS"} | MAINTENANCE
KEY = SuppressionKey(b"k" * 32)
WRITES = sorted(n for n, t in QUERIES.items() if WRITE_CLAUSE.search(re.sub(r"//[^\n]*", "", t)))
READS = sorted(set(QUERIES) - set(WRITES))
# The statements every ingest transaction runs: planned once (`CYPHER replan=skip`).
HOT = {"LOCK_AND_SNAPSHOT", "SNAPSHOT", "APPLY", "RECORD", "RECORD_CHANGES"}
CLAUSE = re.compile(r"\b(OPTIONAL MATCH|MATCH|MERGE|CREATE|UNWIND|WITH|WHERE|RETURN|SET|"
                    r"REMOVE|DELETE|DETACH|CALL|ORDER BY|LIMIT|UNION|ON CREATE|ON MATCH|FOREACH)\b")
NODE = re.compile(r"\((\w*)(?::(\w+))?\s*(\{[^}]*\})?\)")
SCHEMA = re.compile(r"FOR\s*\((\w+):(\w+)\)\s*(?:ON\s*\((?:\1\.(\w+))[^)]*\)|"
                    r"REQUIRE\s+\(?\1\.(\w+)[^;]*?IS UNIQUE)")


def cypher(text: str) -> str:
    """The text without `//` comments."""
    return re.sub(r"//[^\n]*", "", text)


def schema_statements() -> list[str]:
    return [s for m in migrate.load() for s in m.statements] + [queries.MIGRATIONS_BOOTSTRAP]


def indexed_properties() -> set[tuple[str, str]]:
    """(label, property) pairs that lead a constraint or a range index, from graph_schema/
    and the migrator's own bootstrap (for a composite, its first property: the one a
    lookup must give)."""
    found = set()
    for statement in schema_statements():
        if "FULLTEXT" in statement:
            continue
        if match := SCHEMA.search(statement):
            found.add((match.group(2), match.group(3) or match.group(4)))
    return found


def unique_properties() -> set[tuple[str, str]]:
    return {(m.group(2), m.group(4)) for s in schema_statements()
            if (m := SCHEMA.search(s)) and m.group(4)}


def clauses(text: str) -> list[tuple[str, str]]:
    """(keyword, body) for each clause of a statement, in order."""
    text = cypher(text)
    marks = list(CLAUSE.finditer(text))
    return [(m.group(1), text[m.end(): marks[n + 1].start() if n + 1 < len(marks) else None])
            for n, m in enumerate(marks)]


def lookups(name: str) -> list[tuple[str, str, str, str]]:
    """(keyword, variable, label, first map property) of each node looked up by a map."""
    found = []
    for keyword, body in clauses(QUERIES[name]):
        if keyword in ("MATCH", "OPTIONAL MATCH", "MERGE"):
            for var, label, props in NODE.findall(body):
                if first := re.match(r"\{\s*(\w+)\s*:", props or ""):
                    found.append((keyword, var, label, first.group(1)))
    return found


def test_there_is_a_statement_for_every_port_operation():
    expected = {"LOCK_AND_SNAPSHOT", "LOCK_CUSTOMERS", "SNAPSHOT", "LOCK_KEYS",
                "MATCH_BUCKETS", "MATCH_RECORDS", "COMPONENTS", "APPLY", "ERASE", "SCRUB_FIND",
                "SCRUB_WRITE", "RECORD", "SUPPRESSION_HASHES", "UPGRADE_SUPPRESSIONS",
                "CURRENT_IDS", "OWNERS", "IDENTIFIERS", "CUSTOMER_READS", "TIMELINE",
                "LINKS_OF", "LINKS_TOUCHING", "AUDIT_LOG", "AUDIT_ENTRY",
                "SPLITS_OF", "MERGES_INTO", "CUSTOMER_PAGE", "STATS",
                "MEMBERSHIP_OWNERS", "MEMBERSHIP_LINKS", "REVIEWS", "REVIEW", "SEARCH",
                "LOAD_MODEL", "SAVE_MODEL"}
    assert expected <= QUERIES.keys()


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_values_are_parameters_never_text(name):
    text = cypher(QUERIES[name])
    assert not re.search(r"'[^']*'|\"[^\"]*\"", text), f"{name} holds a string literal"
    assert not re.search(r"\{\s*\w*\s*\}|%[sdr(]", text), f"{name} holds a format placeholder"
    numbers = {n for n in re.findall(r"(?<![\w.$])\d+(?:\.\d+)?", text)}
    assert numbers <= {"0", "1"}, f"{name} holds literal values {numbers}: use parameters"


@pytest.mark.parametrize("name", sorted(set(WRITES) - SINGLE_WRITES - MAINTENANCE))
def test_writes_are_batched_with_unwind(name):
    text = cypher(QUERIES[name])
    unwound = re.findall(r"UNWIND (\$?\w+) AS (\w+)", text)
    assert any(source.startswith("$") or source in ("rows", "owners")
               for source, _ in unwound), f"{name} writes without UNWIND over a list parameter"
    if "row." in text:
        assert any(var == "row" for _, var in unwound), f"{name} reads row.x without UNWIND"


@pytest.mark.parametrize("name", READS)
def test_reads_do_not_write(name):
    """A read runs on a read session (a replica in a cluster): it must not write."""
    assert not WRITE_CLAUSE.search(cypher(QUERIES[name]))


def test_every_plan_section_is_written_by_one_unwind():
    """Each section of a Plan is written (or only reports), and APPLY / RECORD unwind every
    list they are given: a section added to the port fails here until it is stored."""
    assert set(records.WRITTEN_BY) | records.REPORT_ONLY == {f.name for f in fields(Plan)}
    assert not set(records.WRITTEN_BY) & records.REPORT_ONLY
    for statement, params in (("APPLY", records.apply_params(Plan(), KEY)),
                              ("RECORD", records.record_params(Plan()))):
        unwound = set(re.findall(r"UNWIND \$(\w+) AS row", cypher(QUERIES[statement])))
        unwound |= set(re.findall(r"WITH \$(\w+) AS rows", cypher(QUERIES[statement])))
        assert unwound == params.keys(), statement


def test_a_full_plan_fills_every_section_it_writes():
    plan = full_plan()
    for name in records.WRITTEN_BY:
        assert getattr(plan, name), f"full_plan() leaves {name} empty"
    rows = {**records.apply_params(plan, KEY), **records.record_params(plan)}
    assert all(rows.values()), [k for k, v in rows.items() if not v]
    assert rows["match_blocks"] == [{"index": 0, "block": "b1", "key": "cookie:a"},
                                    {"index": 1, "block": "b2", "key": "cookie:a"}]
    assert rows["audit"][0]["undoes"] == 7 and rows["audit"][0]["details"] == (
        '{"keys": ["cookie:a"]}')
    assert rows["moves"][1] == {"key": "email:y@example.com", "customer_id": None}
    assert rows["reviews"][0]["status"] == "open"
    assert rows["unsuppress"] == [{"hash": KEY.hash("email:back@example.com")}]


@pytest.mark.parametrize("name", sorted(set(QUERIES) - SCANS))
def test_every_lookup_is_anchored_on_an_index(name):
    """Each MATCH/MERGE starts from a node found through a constrained or indexed property
    (in the pattern's map or in the following WHERE), or from a node already bound, or it
    only counts a label (answered from the count store)."""
    indexed = indexed_properties()
    bound: set[str] = set()
    parts = clauses(QUERIES[name])
    for n, (keyword, body) in enumerate(parts):
        bound.update(re.findall(r"\bAS (\w+)", body))
        if keyword == "CALL" and (scope := re.match(r"\s*\(([\w\s,]*)\)", body)):
            bound.update(v.strip() for v in scope.group(1).split(",") if v.strip())
        if keyword not in ("MATCH", "OPTIONAL MATCH", "MERGE"):
            continue
        nodes = NODE.findall(body)
        following = parts[n + 1] if n + 1 < len(parts) else ("", "")
        where = following[1] if following[0] == "WHERE" else ""
        anchored = False
        for var, label, props in nodes:
            if var and var in bound and not label:
                anchored = True
            first = re.match(r"\{\s*(\w+)\s*:", props) if props else None
            if first:
                assert (label, first.group(1)) in indexed, (
                    f"{name}: ({var}:{label} {{{first.group(1)}: ...}}) has no index in "
                    f"graph_schema/")
                anchored = True
            elif label and var and re.search(rf"\b{var}\.(\w+)\s*[<>=]", where):
                prop = re.search(rf"\b{var}\.(\w+)\s*[<>=]", where).group(1)
                assert (label, prop) in indexed, f"{name}: {var}.{prop} has no index"
                anchored = True
            elif (len(nodes) == 1 and label and var and following[0] in ("WITH", "RETURN")
                  and re.match(rf"\s*count\({var}\)", following[1])):
                anchored = True  # a count of a label: the count store answers it
        assert anchored, f"{name}: `{keyword}{body.strip()[:60]}` scans instead of seeking"
        bound.update(var for var, _, _ in nodes if var)


@pytest.mark.parametrize("name", sorted(HOT))
def test_hot_statements_are_planned_once_with_plans_that_do_not_depend_on_statistics(name):
    """A plan kept for the server's lifetime must not hinge on statistics: a non-unique
    index lookup is pinned by a hint, and a filter on an indexed property of a node reached
    by expansion must not be a MATCH predicate (the planner may turn it into an index
    seek joined back to the expansion: once for every row). Filter in a pattern
    comprehension, which always expands from its bound node."""
    text = cypher(QUERIES[name])
    assert text.lstrip().startswith("CYPHER replan=skip")
    unique, indexed = unique_properties(), indexed_properties()
    for _, var, label, prop in lookups(name):
        if (label, prop) not in unique:
            assert re.search(rf"USING INDEX {var}:{label}\({prop}\)", text), (
                f"{name}: ({var}:{label} {{{prop}: ...}}) needs a USING INDEX hint")
    parts = clauses(QUERIES[name])
    for n, (keyword, body) in enumerate(parts[:-1]):
        if keyword not in ("MATCH", "OPTIONAL MATCH") or parts[n + 1][0] != "WHERE":
            continue
        for var, label, props in NODE.findall(body):
            for prop in re.findall(rf"\b{var}\.(\w+)\s*(?:[<>=]|IN\b)", parts[n + 1][1]):
                if label and not props and (label, prop) in indexed:
                    assert re.search(rf"USING INDEX {var}:{label}\({prop}\)", text), (
                        f"{name}: WHERE {var}.{prop} may become an index seek per row")


def test_identifier_customer_and_event_keys_are_unique_constraints():
    text = " ".join(s for m in migrate.load() for s in m.statements)
    for label, prop in [("Identifier", "key"), ("Customer", "id"), ("Event", "event_id"),
                        ("AuditEntry", "seq"), ("Split", "seq"), ("Review", "id"),
                        ("Suppressed", "hash"), ("MatchRecord", "key"), ("Model", "name")]:
        assert re.search(rf"\(\w+:{label}\)\s*REQUIRE\s+\w+\.{prop}\s+IS UNIQUE", text), label
    for label, props in [("Ban", "a, x.b"), ("Review", "a, r.b"), ("SearchTerm", "key, t.term")]:
        assert re.search(rf"\(\w+:{label}\)\s*REQUIRE\s+\(\w+\.{props}\)\s+IS UNIQUE", text), label
    assert ("Customer", "merged_into") in indexed_properties()
    assert ("Event", "ts") in indexed_properties()
    assert re.search(r"CREATE FULLTEXT INDEX search_term_text IF NOT EXISTS\s+"
                     r"FOR \(t:SearchTerm\) ON EACH \[t\.term\]", text)
    assert re.search(rf"FULLTEXT INDEX {SEARCH_INDEX} ", text)


def test_locks_come_before_reads_and_everything_is_released():
    lock = cypher(queries.LOCK_AND_SNAPSHOT)
    # a lock is the removal of a property no node has: it writes nothing, and needs no undo
    assert lock.index("MERGE (i:Identifier {key: key})") < lock.index(
        "ON MATCH SET i._lock = null")
    assert lock.index("SET i._lock") < lock.index("BELONGS_TO")
    # owners are locked in id order, before anything else is read
    assert lock.index("ORDER BY c.id") < lock.index("SET c._lock = null") < lock.index(
        "MATCH (e:Event")
    assert "c.first_seen" not in lock[:lock.index("SET c._lock")]
    record = cypher(queries.RECORD)
    release = record.index("WHERE i.type IS NULL")
    assert release > max(m.start() for m in re.finditer(r"MergeSequence", record))
    assert re.search(r"WHERE i\.type IS NULL\s+DETACH DELETE i", record)
    assert not re.search(r"\b[ic]\._lock = true|REMOVE [ic]\._lock", lock + record)
    # each counter's lock is written before its value is read, and only when it is used
    for block in re.split(r"\nCALL \(\) \{", record):
        if "MergeSequence" in block:
            assert re.search(r"WHERE size\((rows|fresh)\) > 0\s+MERGE \(q:MergeSequence", block)
            assert block.index("SET q._lock") < block.index("coalesce(q.next")
    for name in ("LOCK_CUSTOMERS", "LOCK_KEYS"):
        assert "SET" in QUERIES[name] and "_lock = null" in QUERIES[name]


def test_counters_are_taken_in_one_order_and_last():
    record = cypher(queries.RECORD)
    sequences = re.findall(r"MergeSequence \{name: \$(\w+)\}", record)
    assert sequences == ["merge_sequence", "split_sequence", "audit_sequence",
                         "review_sequence", "match_block_sequence"]
    # the outbox's, after RECORD's (transact runs RECORD_CHANGES last), and last in it
    changes = cypher(outbox_queries.RECORD_CHANGES)
    assert re.findall(r"MergeSequence \{name: \$(\w+)\}", changes) == ["outbox_sequence"]
    assert changes.index("MergeSequence") > changes.index("SegmentPending")
    for name in set(QUERIES) - {"RECORD", "RECORD_CHANGES", "STATUS"}:
        assert "MergeSequence" not in QUERIES[name], name


# -- migrations ----------------------------------------------------------------------

def test_graph_schema_migrations_load_in_order_and_are_idempotent():
    found = migrate.load()
    assert found[0].version == "V0001__constraints"
    assert [m.version for m in found] == sorted(m.version for m in found)
    assert len(found) >= 2  # V0001 is applied somewhere: later changes go in new files
    for m in found:
        for statement in m.statements:
            # a schema statement is IF NOT EXISTS; a data statement fills only what is missing
            assert "IF NOT EXISTS" in statement or re.search(r"WHERE \w+\.\w+ IS NULL",
                                                             statement), (
                f"{m.version}: {statement[:60]}")
            assert not statement.lstrip().startswith("//")


def test_migration_files_are_validated(tmp_path):
    (tmp_path / "V0002__more.cypher").write_text(
        "// comment; not a statement\nCREATE INDEX a IF NOT EXISTS FOR (n:A) ON (n.x);\n\n"
        "CREATE INDEX b IF NOT EXISTS FOR (n:B) ON (n.y);\n")
    (tmp_path / "V0001__first.cypher").write_text("CREATE INDEX c IF NOT EXISTS FOR (n:C) ON (n.z)")
    (tmp_path / "notes.md").write_text("ignored")
    loaded = migrate.load(tmp_path)
    assert [m.version for m in loaded] == ["V0001__first", "V0002__more"]
    assert len(loaded[1].statements) == 2
    (tmp_path / "V2__again.cypher").write_text("CREATE INDEX d IF NOT EXISTS FOR (n:D) ON (n.w)")
    with pytest.raises(migrate.MigrationError, match="V<number>"):
        migrate.load(tmp_path)
    (tmp_path / "V2__again.cypher").unlink()
    (tmp_path / "V0002__clash.cypher").write_text("CREATE INDEX e IF NOT EXISTS FOR (n:E) ON (n.v)")
    with pytest.raises(migrate.MigrationError, match="version 2"):
        migrate.load(tmp_path)


# -- records -------------------------------------------------------------------------

def test_records_become_port_dataclasses():
    ident = records.identifier_record({
        "customer_id": "c1", "type": "email", "value": "a@x.nl", "first_seen": "t0",
        "last_seen": "t1", "sources": ["web", "app"], "status": "blocked", "reason": "test"})
    assert ident.key == "email:a@x.nl" and ident.sources == ("app", "web")
    assert (ident.status, ident.reason) == ("blocked", "test")
    link = records.link_record({"a": "cookie:a", "b": "cookie:b", "count": 3, "first_seen": "t0",
                                "last_seen": "t1", "sources": ["app"], "event_ids": ["e9", "e1"],
                                "status": "rejected", "reason": "limit",
                                "match": '{"score": 3.5}'})
    assert link.event_ids == ("e9", "e1") and link.count == 3
    assert (link.status, link.reason, link.match) == ("rejected", "limit", {"score": 3.5})
    ev = records.timeline_record({"event_id": "e1", "type": "click", "ts": "t", "source": "web",
                                  "keys": ["email:a@x.nl", "cookie:a"],
                                  "body": '{"traits":{},"properties":{"n":1},"consent":{}}'})
    assert [i.key for i in ev.identifiers] == ["cookie:a", "email:a@x.nl"]
    assert ev.properties == {"n": 1}
    audit = records.audit_record({"seq": 4, "actor": "sam", "action": "unlink", "target": "x",
                                  "reason": "r", "at": "t", "details": '{"ban": true}',
                                  "undo": "{}", "undone_by": None})
    assert (audit.seq, audit.details, audit.undo, audit.undone_by) == (4, {"ban": True}, {}, None)
    review = records.review_record({"id": 2, "a": "x", "b": "y", "score": 3, "weights": "{}",
                                    "status": "open", "created_at": "t"})
    assert (review.id, review.score, review.weights) == (2, 3.0, {})


def customer(cid: str, first_seen: str) -> dict[str, Any]:
    return {"id": cid, "first_seen": first_seen, "first_event": "e0", "first_key": "cookie:a",
            "settled": f"{first_seen}|e0"}


def snapshot_row(**overrides: Any) -> dict[str, Any]:
    row = {"locked": [], "identifiers": [], "customers": [], "seen": [], "type_counts": [],
           "links": [], "hub_ends": [], "bans": [], "suppressed": []}
    row.update(overrides)
    return row


def test_a_snapshot_row_becomes_a_snapshot():
    snap = records.snapshot(snapshot_row(
        identifiers=[{"key": "cookie:a", "status": "active", "reason": "", "id": "c1"},
                     {"key": "phone:1", "status": "quarantined", "reason": "hub", "id": None}],
        customers=[customer("c1", "t0")], seen=["e1"],
        type_counts=[{"id": "c1", "type": "crm_id", "n": 1}],
        links=[{"a": "cookie:a", "b": "phone:1", "status": "rejected"}],
        hub_ends=["phone:1", "phone:1", "cookie:a"],
        bans=[{"a": "cookie:a", "b": "cookie:z", "a_owner": "c1", "b_owner": None}]))
    assert snap.owners == {"cookie:a": "c1"} and snap.customers["c1"].first_seen == "t0"
    assert (snap.customers["c1"].first_key, snap.customers["c1"].settled) == ("cookie:a", "t0|e0")
    assert snap.statuses == {"phone:1": ("quarantined", "hub")}
    assert snap.seen_events == {"e1"} and snap.type_counts == {"c1": {"crm_id": 1}}
    assert snap.link_status == {("cookie:a", "phone:1"): "rejected"}
    assert snap.degrees == {"phone:1": 2, "cookie:a": 1}
    assert snap.bans == {("cookie:a", "cookie:z")} and snap.ban_owners == {"cookie:a": "c1"}
    hashes = KEY.hashes(["email:x@y.z"])
    records.add_suppressed(snap, hashes, [{"hash": h, "at": "t1"} for h in hashes])
    assert snap.suppressed == {"email:x@y.z": "t1"}


def test_component_rows_become_components_with_their_neighbours():
    def link(a, b, other, owner):
        return {"a": a, "b": b, "first_seen": "t", "first_event": "e1", "sources": ["web"],
                "status": "active", "reason": "",
                "other": {"key": other, "status": "active", "first_seen": "t",
                          "first_event": "e1", "customer_id": owner}}

    rows = [{"id": "c1", "customer": customer("c1", "t0"), "identifiers": [
        {"key": "cookie:a", "status": "active", "first_seen": "t0", "first_event": "e0",
         "links": [link("cookie:a", "cookie:b", "cookie:b", "c2"),
                   link("cookie:a", "cookie:c", "cookie:c", "c3")]}]},
            {"id": "c2", "customer": customer("c2", "t1"), "identifiers": [
                {"key": "cookie:b", "status": "active", "first_seen": "t1", "first_event": "e1",
                 "links": [link("cookie:a", "cookie:b", "cookie:a", "c1")]}]}]
    found = records.components(rows, ["c1", "c2", "c_gone"])
    assert set(found["c1"].links) == {("cookie:a", "cookie:b"), ("cookie:a", "cookie:c")}
    # cookie:b is c2's, gathered too: still c1's neighbour, so that resolution follows it
    assert set(found["c1"].neighbours) == {"cookie:b", "cookie:c"}
    assert found["c1"].neighbours["cookie:b"].customer_id == "c2"
    assert found["c1"].neighbours["cookie:c"].customer_id == "c3"
    assert set(found["c2"].identifiers) == {"cookie:b"}
    assert set(found["c2"].neighbours) == {"cookie:a"}
    assert not found["c_gone"].identifiers
    assert found["c1"].customer == CustomerInfo("c1", "t0", "e0", "cookie:a", "t0|e0")
    assert found["c1"].links[("cookie:a", "cookie:b")].first_event == "e1"


def test_match_rows_add_buckets_records_and_owners_without_overriding_batch_owners():
    snap = Snapshot(owners={"crm_ref:r1": "c1"})
    records.add_buckets(snap, {"buckets": [{"block": "b1", "keys": ["crm_ref:r2", "crm_ref:r1"]},
                                           {"block": "b2", "keys": []}]})
    records.add_match_records(snap, {
        "records": [{"key": "crm_ref:r1", "traits": '{"city": "x"}', **customer("c9", "t")},
                    {"key": "crm_ref:r2", "traits": None, **customer("c2", "t")}]})
    assert snap.match_buckets == {"b1": ["crm_ref:r2", "crm_ref:r1"]}
    assert snap.match_records == {"crm_ref:r1": {"city": "x"}}
    assert snap.owners == {"crm_ref:r1": "c1", "crm_ref:r2": "c2"}


@pytest.mark.parametrize(("text", "expected"), [
    ("anna de vries", '"anna" OR anna~ OR "vries" OR vries~'),
    ("anna@x.com", '"anna@x.com" OR anna~ OR x.com~'),
    ("+31612345678", '"+31612345678" OR 31612345678~'),
    ('o"neil (x) ann-marie', '"o\\"neil" OR neil~ OR "(x)" OR "ann-marie" OR ann~ OR marie~'),
    ("an de", None),
])
def test_search_text_becomes_an_escaped_fuzzy_lucene_query(text, expected):
    assert records.lucene_query(text) == expected


def test_erased_values_are_scrubbed_in_every_spelling_and_json_stays_json():
    spellings = Spellings([identifier_known("email:anna@x.com"), identifier_known("cookie:k1")])
    found = {"merges": [{"id": "m1", "reason": "event e1 tied ANNA%40x.com to k1"}],
             "audit": [{"id": "a1", "target": "cookie:k1", "reason": "mail anna@x.com",
                        "details": '{"keys": ["email:anna@x.com"], "anna@x.com": 1}',
                        "undo": None}]}
    rows = records.scrubbed_rows(found, spellings)
    assert rows["merges"] == [{"id": "m1", "reason": "event e1 tied [erased] to [erased]"}]
    assert rows["audit"] == [{"id": "a1", "target": "cookie:[erased]", "reason": "mail [erased]",
                              "details": '{"keys": ["email:[erased]"], "[erased]": 1}',
                              "undo": "{}"}]
    assert rows["splits"] == rows["links"] == rows["identifiers"] == []
    pattern = records.scrub_pattern(spellings)
    assert pattern.startswith("(?isuU).*(?:") and pattern.endswith(").*")
    assert records.dumps({"name": "José"}) == '{"name": "José"}'  # findable by the scrub


# -- transact, with a recording fake of the driver -------------------------------------

class FakeResult:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __aiter__(self):
        async def gen():
            for row in self.rows:
                yield row
        return gen()

    async def single(self, strict: bool = False) -> dict[str, Any]:
        assert len(self.rows) == 1
        return self.rows[0]

    async def consume(self) -> None:
        return None


class FakeTx:
    """Answers like an empty database (or with `answers`) and records what was run."""

    def __init__(self, log: list[tuple[str, dict[str, Any]]],
                 answers: dict[str, list[list[dict[str, Any]]]]) -> None:
        self.log = log
        self.answers = answers

    async def run(self, query: str, parameters: dict[str, Any] | None = None,
                  **kwargs: Any) -> FakeResult:
        params = {**(parameters or {}), **kwargs}
        used = set(re.findall(r"\$(\w+)", cypher(query)))
        assert used <= params.keys(), f"missing parameters {used - params.keys()}"
        name = next(n for n, text in QUERIES.items() if text == query)
        self.log.append((name, params))
        if self.answers.get(name):
            return FakeResult(self.answers[name].pop(0))
        merges = len(params.get("merges", []))
        default = {
            "LOCK_AND_SNAPSHOT": [snapshot_row()],
            "SNAPSHOT": [snapshot_row()],
            "APPLY": [{"merged": merges, "expected": 0, "attached": 0}],
            "RECORD": [{"recorded": len(params.get("history", [])),
                        "audit_seqs": list(range(1, len(params.get("audit", [])) + 1))}],
            "ERASE": [{"events": 4, "links": 2, "identifiers": 1}],
            "SCRUB_FIND": [{"merges": [], "splits": [], "links": [], "identifiers": [],
                            "audit": [{"id": "a1", "target": "z@example.com", "reason": "",
                                       "details": "{}", "undo": "{}"}]}],
            "ERASED_SEGMENTS": [{"ids": ["c_x"], "held": []}],
            "CUSTOMER_READS": [{"identifiers": [], "observations": [], "timelines": [],
                                "segment_states": []}],
        }
        return FakeResult(default.get(name, []))


class FakeDriver:
    def __init__(self, attempts: int = 1,
                 answers: dict[str, list[list[dict[str, Any]]]] | None = None) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.attempts = attempts
        self.answers = answers or {}

    def session(self, database: str):
        driver = self

        class Session:
            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return False

            async def execute_write(self, work):
                for _ in range(driver.attempts):  # a retried transaction runs work again
                    result = await work(FakeTx(driver.log, driver.answers))
                return result

        return Session()


async def fake_store(attempts: int = 1, **answers: list[list[dict[str, Any]]]) -> Neo4jStore:
    store = Neo4jStore("bolt://127.0.0.1:1", ("neo4j", "secret"), suppression=KEY)
    await store.driver.close()
    store.driver = FakeDriver(attempts, answers)  # type: ignore[assignment]
    return store


def names(store: Neo4jStore) -> list[str]:
    return [name for name, _ in store.driver.log]  # type: ignore[attr-defined]


async def test_transact_locks_reads_decides_applies_and_releases_in_three_statements():
    store = await fake_store()
    plan = a_plan()

    def decide(snapshot: Snapshot) -> Plan:
        assert names(store) == ["LOCK_AND_SNAPSHOT"]
        return plan

    gather = Gather(keys=KEYS, event_ids=frozenset({"e1"}), limited_types=("crm_id",),
                    hub_types=("email",))
    assert (await store.transact(gather, decide)).plan is plan
    # then the profile documents of the customers it touched (app/stores/readmodel.py)
    assert names(store) == ["LOCK_AND_SNAPSHOT", "APPLY", "RECORD", "RECORD_CHANGES",
                            "PLAN_OWNERS", "READ_DOCUMENTS", "CUSTOMER_READS",
                            "WRITE_DOCUMENTS"]
    params = dict(store.driver.log)
    assert params["LOCK_AND_SNAPSHOT"]["keys"] == ["cookie:a", "email:x@example.com"]  # sorted
    assert params["LOCK_AND_SNAPSHOT"]["count_hubs"] is True
    assert len(params["APPLY"]["events"]) == 1  # one statement for the whole section
    assert params["APPLY"]["events"][0]["keys"] == ["cookie:a", "email:x@example.com"]
    assert params["APPLY"]["sample"] == 10 and params["APPLY"]["banned"] == "banned"
    assert params["APPLY"]["merges"][0]["absorbed"] == "c_b"  # merges, then renames
    assert params["APPLY"]["merges"][1]["absorbed"] == "c_old"
    assert params["RECORD"]["history"][0]["absorbed"] == "c_b"
    assert params["RECORD"]["renames"][0]["survivor"] == "c_new"
    assert params["APPLY"]["history_ids"] == [{"id": "c_b", "final": "c_a", "at": T}]
    assert params["RECORD"]["keys"] == ["cookie:a", "email:x@example.com"]


async def test_an_empty_plan_writes_nothing_but_still_releases():
    store = await fake_store(LOCK_AND_SNAPSHOT=[[snapshot_row(
        locked=["c1"], identifiers=[{"key": "cookie:a", "status": "active", "reason": "",
                                     "id": "c1"}], customers=[customer("c1", T)])]])
    await store.transact(Gather(keys=frozenset({"cookie:a"})), lambda snapshot: Plan())
    assert names(store) == ["LOCK_AND_SNAPSHOT", "RECORD"]
    record = dict(store.driver.log)["RECORD"]
    assert record["keys"] == ["cookie:a"] and "customer_ids" not in record
    assert not any(record[k] for k in records.record_params(None))  # no counter is touched


async def test_a_retried_transaction_decides_again_from_a_fresh_snapshot():
    store = await fake_store(attempts=2)
    calls: list[Snapshot] = []
    await store.transact(Gather(keys=frozenset({"cookie:a"})),
                         lambda s: calls.append(s) or Plan())
    assert len(calls) == 2 and calls[0] is not calls[1]


async def test_an_owner_that_changed_before_its_lock_is_locked_and_read_again():
    moved = snapshot_row(identifiers=[{"key": "cookie:a", "status": "active", "reason": "",
                                       "id": "c2"}], customers=[customer("c2", T)])
    store = await fake_store(LOCK_AND_SNAPSHOT=[[{**moved, "locked": ["c1"]}]],
                             SNAPSHOT=[[moved]])
    seen: list[Snapshot] = []
    await store.transact(Gather(keys=frozenset({"cookie:a"})),
                         lambda s: seen.append(s) or Plan())
    assert names(store) == ["LOCK_AND_SNAPSHOT", "LOCK_CUSTOMERS", "SNAPSHOT", "RECORD"]
    assert dict(store.driver.log)["LOCK_CUSTOMERS"]["ids"] == ["c2"]
    assert seen[0].owners == {"cookie:a": "c2"}


async def test_components_are_locked_before_they_are_read():
    store = await fake_store(COMPONENTS=[[{"id": "c7", "customer": customer("c7", T),
                                           "identifiers": []}]])

    def decide(snapshot: Snapshot) -> Plan:
        require_components({"c7"}, snapshot)
        return Plan()

    await store.transact(Gather(keys=frozenset({"cookie:a"})), decide)
    assert names(store) == ["LOCK_AND_SNAPSHOT", "LOCK_CUSTOMERS", "COMPONENTS", "RECORD"]
    assert dict(store.driver.log)["LOCK_CUSTOMERS"]["ids"] == ["c7"]


async def test_steward_sections_are_applied_and_the_receipt_holds_audit_seqs_and_erasures():
    store = await fake_store(ERASED_SEGMENTS=[[{"ids": ["c_x"], "held": ["vip"]}]])
    plan = full_plan()
    result = await store.transact(Gather(keys=KEYS), lambda snapshot: plan)
    assert result.plan is plan
    assert plan.changes == full_plan().changes  # the store writes nothing into the plan
    assert names(store) == ["LOCK_AND_SNAPSHOT", "APPLY", "ERASE", "SCRUB_FIND", "SCRUB_WRITE",
                            "DROP_ERASED_DOCUMENTS", "RECORD", "ERASED_SEGMENTS",
                            "ERASE_SEGMENT_DATA", "ERASE_CHANGES", "RECORD_CHANGES",
                            "PLAN_OWNERS", "READ_DOCUMENTS", "CUSTOMER_READS",
                            "WRITE_DOCUMENTS"]
    assert result.audit_seqs == (1,)
    assert result.erased == Erased(events=4, links=2, identifiers=1)
    # the plan's changes, then the erased customer's exit from the segment it was in
    assert result.changes[:-1] == tuple(plan.changes)
    assert (result.changes[-1].customer_id, result.changes[-1].kind) == ("c_x", "segment_left")
    log = dict(store.driver.log)
    assert log["ERASE"]["hashes"] == [store.suppression.hash("email:z@example.com")]
    assert log["SCRUB_WRITE"]["audit"] == [{"id": "a1", "target": "[erased]", "reason": "",
                                            "details": "{}", "undo": "{}"}]


async def test_a_plan_naming_a_customer_the_store_does_not_hold_is_refused():
    store = await fake_store(APPLY=[[{"merged": 0, "expected": 2, "attached": 2}]])
    with pytest.raises(StoreError, match="merge names a customer"):
        await store.transact(Gather(keys=KEYS), lambda snapshot: a_plan())
    assert "RECORD" not in names(store)  # the transaction rolls back
    store = await fake_store(APPLY=[[{"merged": 2, "expected": 2, "attached": 1}]])
    with pytest.raises(StoreError, match="new identifier names a customer"):
        await store.transact(Gather(keys=KEYS), lambda snapshot: a_plan())


# -- errors --------------------------------------------------------------------------

def test_the_password_never_appears_in_what_the_store_shows():
    url = "neo4j://neo4j:s3cr%40t@db.example.com:7687"
    assert redact(url) == "neo4j://neo4j:***@db.example.com:7687"
    assert redact("bolt://db:7687") == "bolt://db:7687"
    store = Neo4jStore("neo4j://db.example.com:7687", ("neo4j", "s3cr@t"), url=url)
    assert "s3cr" not in repr(store) and "s3cr" not in store.redacted_url


async def test_an_unreachable_server_is_one_clear_line():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = Neo4jStore(f"bolt://127.0.0.1:{port}", ("neo4j", "hunter2"),
                       url=f"bolt://neo4j:hunter2@127.0.0.1:{port}")
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await store.ping()
    finally:
        await store.close()
    message = str(caught.value)
    assert "hunter2" not in message and "\n" not in message
    assert f"127.0.0.1:{port}" in message and "scripts/services up" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
