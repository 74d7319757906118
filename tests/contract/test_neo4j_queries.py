"""The Neo4j adapter without a database: Cypher shape, migrations, record conversion,
the order of work inside `transact`, and error messages.

The contract suite (test_store_contract.py) checks behaviour on a real server; these check
what it cannot see: that values never reach the Cypher text, that writes are batched, that
every lookup is anchored on a constrained or indexed property, and that `transact` locks
before it reads and always releases.
"""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from app.domain.events import format_ts
from app.domain.plan import (
    CustomerInfo,
    IdentifierDelta,
    LinkDelta,
    Merge,
    Plan,
    Snapshot,
)
from app.stores.base import StoreError, StoreUnavailable
from app.stores.neo4j import migrate, queries, records
from app.stores.neo4j.store import Neo4jStore, redact
from tests.helpers import event

QUERIES: dict[str, str] = {
    name: text for name, text in vars(queries).items()
    if name.isupper() and isinstance(text, str)
}
WRITE_CLAUSE = re.compile(r"\b(CREATE|MERGE|SET|DELETE|REMOVE)\b")
# Statements that write one thing, not rows of a plan.
SINGLE_WRITES = {"MIGRATIONS_BOOTSTRAP", "RECORD_MIGRATION"}
# Statements allowed to scan a label: the migrator's handful of SchemaMigration nodes, and
# counts that Neo4j answers from its count store or an index.
SCANS = {"APPLIED_MIGRATIONS", "STATS"}
CLAUSE = re.compile(r"\b(OPTIONAL MATCH|MATCH|MERGE|CREATE|UNWIND|WITH|WHERE|RETURN|SET|"
                    r"REMOVE|DELETE|DETACH|CALL|ORDER BY|LIMIT|UNION|ON CREATE|ON MATCH|FOREACH)\b")
NODE = re.compile(r"\((\w*)(?::(\w+))?\s*(\{[^}]*\})?\)")


def cypher(text: str) -> str:
    """The text without `//` comments."""
    return re.sub(r"//[^\n]*", "", text)


def indexed_properties() -> set[tuple[str, str]]:
    """(label, property) pairs with a constraint or index, from graph_schema/ and the
    migrator's own bootstrap."""
    found = set()
    texts = [s for m in migrate.load() for s in m.statements] + [queries.MIGRATIONS_BOOTSTRAP]
    for statement in texts:
        match = re.search(r"FOR\s*\((\w+):(\w+)\)\s*(?:ON\s*\(\1\.(\w+)\)|REQUIRE\s+\1\.(\w+))",
                          statement)
        if match:
            found.add((match.group(2), match.group(3) or match.group(4)))
    return found


def clauses(text: str) -> list[tuple[str, str]]:
    """(keyword, body) for each clause of a statement, in order."""
    text = cypher(text)
    marks = list(CLAUSE.finditer(text))
    return [(m.group(1), text[m.end(): marks[n + 1].start() if n + 1 < len(marks) else None])
            for n, m in enumerate(marks)]


def test_there_is_a_statement_for_every_port_operation():
    expected = {"LOCK_IDENTIFIERS", "LOCK_CUSTOMERS", "SNAPSHOT", "RELEASE", "CREATE_CUSTOMERS",
                "APPLY_MERGES", "SET_FIRST_SEEN", "UPSERT_IDENTIFIERS", "UPSERT_LINKS",
                "CREATE_EVENTS", "RECORD_MERGES", "CURRENT_IDS", "OWNERS", "IDENTIFIERS_OF",
                "TIMELINE", "LINKS_OF", "MERGES_INTO", "CUSTOMER_PAGE", "STATS"}
    assert expected <= QUERIES.keys()


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_values_are_parameters_never_text(name):
    text = cypher(QUERIES[name])
    assert not re.search(r"'[^']*'|\"[^\"]*\"", text), f"{name} holds a string literal"
    assert not re.search(r"\{\s*\w*\s*\}|%[sdr(]", text), f"{name} holds a format placeholder"
    numbers = {n for n in re.findall(r"(?<![\w.$])\d+(?:\.\d+)?", text)}
    assert numbers <= {"0", "1"}, f"{name} holds literal values {numbers}: use parameters"


@pytest.mark.parametrize("name", sorted(set(QUERIES) - SINGLE_WRITES))
def test_writes_are_batched_with_unwind(name):
    text = cypher(QUERIES[name])
    if not WRITE_CLAUSE.search(text):
        pytest.skip("reads only")
    unwound = re.findall(r"UNWIND \$(\w+) AS", text)
    assert unwound, f"{name} writes without UNWIND over a list parameter"
    if "row." in text:
        assert "UNWIND $rows AS row" in text, f"{name} reads row.x without UNWIND $rows AS row"


@pytest.mark.parametrize("name", sorted(set(QUERIES) - SCANS))
def test_every_lookup_is_anchored_on_an_index(name):
    """Each MATCH/MERGE starts from a node found through a constrained or indexed property
    (in the pattern's map or in the following WHERE), or from a node already bound."""
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
        where = parts[n + 1][1] if n + 1 < len(parts) and parts[n + 1][0] == "WHERE" else ""
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
        assert anchored, f"{name}: `{keyword}{body.strip()[:60]}` scans instead of seeking"
        bound.update(var for var, _, _ in nodes if var)


def test_identifier_customer_and_event_keys_are_unique_constraints():
    text = " ".join(s for m in migrate.load() for s in m.statements)
    for label, prop in [("Identifier", "key"), ("Customer", "id"), ("Event", "event_id")]:
        assert re.search(rf"\(\w+:{label}\)\s*REQUIRE\s+\w+\.{prop}\s+IS UNIQUE", text), label
    assert ("Customer", "merged_into") in indexed_properties()
    assert ("Event", "ts") in indexed_properties()


def test_locks_come_before_reads_and_placeholders_are_cleaned_up():
    lock = cypher(queries.LOCK_IDENTIFIERS)
    assert lock.index("MERGE (i:Identifier {key: key})") < lock.index("ON MATCH SET i._lock")
    assert lock.index("SET i._lock") < lock.index("BELONGS_TO")
    release = cypher(queries.RELEASE)
    assert "REMOVE i._lock" in release and "REMOVE c._lock" in release
    assert re.search(r"WHERE i\.type IS NULL\s+DETACH DELETE i", release)
    # the counter's lock is written before its value is read
    merges = cypher(queries.RECORD_MERGES)
    assert merges.index("SET q._lock") < merges.index("coalesce(q.next")


# -- migrations ----------------------------------------------------------------------

def test_graph_schema_migrations_load_in_order_and_are_idempotent():
    found = migrate.load()
    assert found[0].version == "V0001__constraints"
    assert [m.version for m in found] == sorted(m.version for m in found)
    for m in found:
        for statement in m.statements:
            assert "IF NOT EXISTS" in statement, f"{m.version}: {statement[:60]}"
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
        "last_seen": "t1", "sources": ["web", "app"], "status": "active"})
    assert ident.key == "email:a@x.nl" and ident.sources == ("app", "web")
    link = records.link_record({"a": "cookie:a", "b": "cookie:b", "count": 3, "first_seen": "t0",
                                "last_seen": "t1", "sources": ["app"], "event_ids": ["e9", "e1"]})
    assert link.event_ids == ("e9", "e1") and link.count == 3
    ev = records.timeline_record({"event_id": "e1", "type": "click", "ts": "t", "source": "web",
                                  "keys": ["email:a@x.nl", "cookie:a"],
                                  "body": '{"traits":{},"properties":{"n":1},"consent":{}}'})
    assert [i.key for i in ev.identifiers] == ["cookie:a", "email:a@x.nl"]
    assert ev.properties == {"n": 1}
    snap = records.snapshot([{"key": "cookie:a", "id": "c1", "first_seen": "t0"}], ["e1"])
    assert snap.owners == {"cookie:a": "c1"} and snap.customers["c1"].first_seen == "t0"
    assert snap.seen_events == {"e1"}


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
    """Answers like an empty database and records what was run."""

    def __init__(self, log: list[tuple[str, dict[str, Any]]]) -> None:
        self.log = log

    async def run(self, query: str, **params: Any) -> FakeResult:
        used = set(re.findall(r"\$(\w+)", cypher(query)))
        assert used <= params.keys(), f"missing parameters {used - params.keys()}"
        name = next(n for n, text in QUERIES.items() if text == query)
        self.log.append((name, params))
        answers = {
            "SNAPSHOT": [{"owners": [], "seen": []}],
            "UPSERT_IDENTIFIERS": [{"fresh": len(params.get("rows", [])),
                                    "attached": len(params.get("rows", []))}],
            "APPLY_MERGES": [{"applied": len(params.get("rows", []))}],
            "RECORD_MERGES": [{"recorded": len(params.get("rows", []))}],
        }
        return FakeResult(answers.get(name, []))


class FakeDriver:
    def __init__(self, attempts: int = 1) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.attempts = attempts

    def session(self, database: str):
        driver = self

        class Session:
            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return False

            async def execute_write(self, work):
                for _ in range(driver.attempts):  # a retried transaction runs work again
                    result = await work(FakeTx(driver.log))
                return result

        return Session()


T = format_ts(event("x", "2024-03-01T10:00:00Z", "cookie:a").timestamp)


def a_plan() -> Plan:
    ev = event("e1", "2024-03-01T10:00:00Z", "cookie:a", "email:x@example.com")
    return Plan(
        events=[ev],
        new_customers=[CustomerInfo("c_new", T)],
        merges=[Merge("c_b", "c_a", T, "e1", "why")],
        identifiers=[IdentifierDelta("cookie:a", "cookie", "a", T, T, ("web",), "c_new"),
                     IdentifierDelta("email:x@example.com", "email", "x@example.com", T, T,
                                     ("web",), "c_new")],
        links=[LinkDelta("cookie:a", "email:x@example.com", 1, T, T, ("web",), ("e1",))],
        first_seen={"c_a": T},
    )


async def fake_store(attempts: int = 1) -> Neo4jStore:
    store = Neo4jStore("bolt://127.0.0.1:1", ("neo4j", "secret"))
    await store.driver.close()
    store.driver = FakeDriver(attempts)  # type: ignore[assignment]
    return store


async def test_transact_locks_reads_decides_applies_and_releases_in_order():
    store = await fake_store()
    seen: list[Snapshot] = []
    plan = a_plan()

    def decide(snapshot: Snapshot) -> Plan:
        seen.append(snapshot)
        assert [name for name, _ in store.driver.log] == ["LOCK_IDENTIFIERS", "SNAPSHOT"]
        return plan

    keys = {"email:x@example.com", "cookie:a"}
    assert await store.transact(keys, {"e1"}, decide) is plan
    names = [name for name, _ in store.driver.log]
    assert names == ["LOCK_IDENTIFIERS", "SNAPSHOT", "CREATE_CUSTOMERS", "APPLY_MERGES",
                     "SET_FIRST_SEEN", "UPSERT_IDENTIFIERS", "UPSERT_LINKS", "CREATE_EVENTS",
                     "RECORD_MERGES", "RELEASE"]
    params = dict(store.driver.log)
    assert params["LOCK_IDENTIFIERS"]["keys"] == ["cookie:a", "email:x@example.com"]  # sorted
    assert len(params["CREATE_EVENTS"]["rows"]) == 1  # one statement for the whole section
    assert params["CREATE_EVENTS"]["rows"][0]["keys"] == ["cookie:a", "email:x@example.com"]
    assert params["UPSERT_LINKS"]["sample"] == 10


async def test_an_empty_plan_writes_nothing_but_still_releases():
    store = await fake_store()
    await store.transact({"cookie:a"}, {"e1"}, lambda snapshot: Plan())
    assert [name for name, _ in store.driver.log] == ["LOCK_IDENTIFIERS", "SNAPSHOT", "RELEASE"]
    assert dict(store.driver.log)["RELEASE"]["keys"] == ["cookie:a"]


async def test_a_retried_transaction_decides_again_from_a_fresh_snapshot():
    store = await fake_store(attempts=2)
    calls: list[Snapshot] = []
    await store.transact({"cookie:a"}, {"e1"}, lambda s: calls.append(s) or Plan())
    assert len(calls) == 2 and calls[0] is not calls[1]


async def test_plan_sections_the_adapter_cannot_store_are_refused():
    store = await fake_store()
    plan = a_plan()
    if not hasattr(plan, "bans"):
        pytest.skip("this Plan has no sections beyond the ones the adapter stores")
    plan.bans.append(("cookie:a", "cookie:b"))
    with pytest.raises(StoreError, match="bans"):
        await store.transact({"cookie:a"}, {"e1"}, lambda snapshot: plan)
    assert "CREATE_EVENTS" not in [name for name, _ in store.driver.log]


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
