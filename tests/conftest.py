"""Store fixtures: every contract test runs on SQLite and on the real Neo4j.

Neo4j comes from `scripts/services up`; set IDGRAPH_TEST_NEO4J to use another server.
A test that needs Neo4j fails, rather than skips, when it is not running.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings

from app.stores import IdentityStore, open_store

# Property tests draw the same examples on every run (derandomize), so that a run's
# verdict does not depend on its luck; IDGRAPH_PROPERTY_EXAMPLES=N (the tests that read
# it) or IDGRAPH_HYPOTHESIS=explore draws new random examples to look for more.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("IDGRAPH_PROPERTY_EXAMPLES") or
                      os.environ.get("IDGRAPH_HYPOTHESIS") == "explore" else "repeatable")

NEO4J_URL = os.environ.get("IDGRAPH_TEST_NEO4J", "neo4j://neo4j:idgraph-dev@127.0.0.1:7687")
KAFKA_BOOTSTRAP = os.environ.get("IDGRAPH_TEST_KAFKA", "127.0.0.1:9092")


@pytest.fixture(autouse=True, scope="session")
def suppression_key_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A Neo4j store's default suppression key file lives in the user's configuration
    folder (app/stores/keys.py): the tests, and the commands they start, use one of their
    own."""
    os.environ.setdefault("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


async def wipe_neo4j(store: IdentityStore) -> None:
    async with store.driver.session(database=store.database) as session:  # type: ignore[attr-defined]
        await session.run("MATCH (n) DETACH DELETE n")


async def make_store(kind: str, tmp_path) -> IdentityStore:
    if kind == "sqlite":
        store = open_store(f"sqlite:///{tmp_path}/test.db")
    else:
        store = open_store(NEO4J_URL)
        await store.ping()
        await wipe_neo4j(store)
    await store.migrate()
    return store


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)])
async def store(request, tmp_path) -> AsyncIterator[IdentityStore]:
    s = await make_store(request.param, tmp_path)
    yield s
    await s.close()


@pytest.fixture
async def sqlite_store(tmp_path) -> AsyncIterator[IdentityStore]:
    s = await make_store("sqlite", tmp_path)
    yield s
    await s.close()


async def dump_sqlite(store) -> str:
    db = store.db  # type: ignore[attr-defined]
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")]
    return "\n".join(str(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"'))


async def dump_neo4j(store) -> str:
    async with store.driver.session(database=store.database) as session:  # type: ignore[attr-defined]
        result = await session.run(
            "MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN properties(n) AS n, properties(r) AS r")
        return "\n".join([str(record.data()) async for record in result])


@pytest.fixture
def dump_store():
    """Every value a store holds, as one text, to search for what must not be there."""

    async def dump(store) -> str:
        return await (dump_sqlite(store) if hasattr(store, "db") else dump_neo4j(store))

    return dump


@pytest.fixture
def corrupt_owner():
    """Move one identifier to another customer behind the service's back, as a crash or a
    hand edit might: the drift that `resolve --verify` exists to find."""

    async def corrupt(store, key: str, customer_id: str) -> None:
        if hasattr(store, "db"):
            store.db.execute("UPDATE identifiers SET customer_id = ? WHERE key = ?",
                             (customer_id, key))
            return
        async with store.driver.session(database=store.database) as session:
            await session.run(
                "MATCH (i:Identifier {key: $key})-[r:BELONGS_TO]->() DELETE r "
                "WITH i MATCH (c:Customer {id: $cid}) CREATE (i)-[:BELONGS_TO]->(c)",
                key=key, cid=customer_id)

    return corrupt
