"""Versioned Cypher migrations from graph_schema/ (V0001__constraints.cypher, ...).

Each file holds `;`-separated statements, each idempotent (`... IF NOT EXISTS`), so a
migration that was interrupted can simply run again. Applied versions are recorded as
`(:SchemaMigration {version, applied_at})` nodes. Schema statements cannot share a
transaction with data writes in Neo4j, so each statement runs on its own and the version
is recorded once all of its statements succeeded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from neo4j import AsyncDriver, RoutingControl

from app.domain.events import format_ts
from app.stores.errors import StoreError
from app.stores.neo4j import queries as q

FILE_PATTERN = re.compile(r"^(V(\d{4,})__\w+)\.cypher$")
INDEX_WAIT_SECONDS = 300


class MigrationError(StoreError):
    """graph_schema/ is missing or holds a file that is not a valid migration."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: str  # the file name without .cypher, e.g. "V0001__constraints"
    statements: tuple[str, ...]


def schema_dir() -> Traversable:
    """graph_schema/: inside the installed package (the wheel force-includes it as
    app/graph_schema), else at the repository root next to the app/ package."""
    packaged = resources.files("app") / "graph_schema"
    if packaged.is_dir():
        return packaged
    import app

    repo = Path(app.__file__).resolve().parent.parent / "graph_schema"
    if repo.is_dir():
        return repo
    raise MigrationError(f"graph_schema/ not found (looked in {packaged} and {repo})")


def split_statements(text: str) -> tuple[str, ...]:
    """Statements separated by `;`; whole-line `//` comments are dropped first. (So a
    statement must not contain `;` itself: migrations are schema statements, which
    have no reason to.)"""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    return tuple(s.strip() for s in "\n".join(lines).split(";") if s.strip())


def load(directory: Traversable | None = None) -> list[Migration]:
    """The migrations in version order."""
    directory = directory or schema_dir()
    found: dict[int, Migration] = {}
    for entry in directory.iterdir():
        match = FILE_PATTERN.match(entry.name)
        if not match:
            if entry.name.endswith(".cypher"):
                raise MigrationError(
                    f"graph_schema/{entry.name}: name it V<number>__<words>.cypher")
            continue
        number = int(match.group(2))
        if number in found:
            raise MigrationError(
                f"graph_schema/{entry.name}: version {number} is also "
                f"{found[number].version}.cypher")
        statements = split_statements(entry.read_text(encoding="utf-8"))
        if not statements:
            raise MigrationError(f"graph_schema/{entry.name} holds no statement")
        found[number] = Migration(match.group(1), statements)
    return [found[n] for n in sorted(found)]


async def applied(driver: AsyncDriver, database: str) -> set[str]:
    records, _, _ = await driver.execute_query(
        q.APPLIED_MIGRATIONS, database_=database, routing_=RoutingControl.READ)
    return {r["version"] for r in records}


async def check(driver: AsyncDriver, database: str) -> list[str]:
    """The versions not applied yet, in order; start-up refuses to run unless empty."""
    done = await applied(driver, database)
    return [m.version for m in load() if m.version not in done]


async def migrate(driver: AsyncDriver, database: str) -> list[str]:
    """Apply the pending migrations in order; return the versions applied now."""
    migrations = load()
    async with driver.session(database=database) as session:
        await (await session.run(q.MIGRATIONS_BOOTSTRAP)).consume()
    done = await applied(driver, database)
    now: list[str] = []
    for migration in migrations:
        if migration.version in done:
            continue
        async with driver.session(database=database) as session:
            for statement in migration.statements:
                await (await session.run(statement)).consume()
        await driver.execute_query(
            q.RECORD_MIGRATION,
            {"version": migration.version, "applied_at": format_ts(datetime.now(UTC))},
            database_=database,
        )
        now.append(migration.version)
    if now:
        await driver.execute_query(q.AWAIT_INDEXES, {"seconds": INDEX_WAIT_SECONDS},
                                   database_=database)
    return now
