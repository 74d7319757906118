"""`idgraph rebuild --engine spark` gives what `idgraph load` gives for the same file, on
both stores: every stored row (customers and their ids, identifiers, links with their
evidence and decisions, merge histories, events, search terms), the rejects, and the
customers and histories of a load in small batches."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.conftest import make_store
from tests.spark.compare import contents, outcome
from tests.spark.data import scenario, write_jsonl

STORES = ["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)]


def idgraph(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def store_url(kind: str, path: Path) -> str:
    from tests.conftest import NEO4J_URL

    return f"sqlite:///{path}" if kind == "sqlite" else NEO4J_URL


async def _fresh(kind: str, path: Path) -> str:
    """An empty store of `kind` (Neo4j: the test server, wiped)."""
    store = await make_store(kind, path.parent)
    await store.close()
    return store_url(kind, path.parent / "test.db")


async def _read(kind: str, path: Path) -> tuple[dict, tuple]:
    store = await make_store_kept(kind, path)
    try:
        return await contents(store), await outcome(store)
    finally:
        await store.close()


async def make_store_kept(kind: str, path: Path) -> Any:
    """The store a command wrote (not wiped)."""
    from app.stores import open_store

    store = open_store(store_url(kind, path / "test.db"))
    await store.migrate()
    return store


def loaded(kind: str, tmp: Path, events: Path, batch_size: int) -> tuple[dict, tuple, list]:
    url = asyncio.run(_fresh(kind, tmp / "test.db"))
    rejects = tmp / "load-rejects.jsonl"
    idgraph("load", "--store", url, str(events), "--batch-size", str(batch_size),
            "--rejects", str(rejects))
    found, result = asyncio.run(_read(kind, tmp))
    return found, result, _lines(rejects)


async def _without_documents(kind: str, path: Path) -> list[str]:
    """The current customers that have no profile document."""
    store = await make_store_kept(kind, path)
    try:
        customers = await store.customer_page(None, 1_000_000)
        documents = await store.profile_documents(customers)
        return [c for c in customers if c not in documents]
    finally:
        await store.close()


def rebuilt(kind: str, tmp: Path, events: Path) -> tuple[dict, tuple, list]:
    url = asyncio.run(_fresh(kind, tmp / "test.db"))
    idgraph("rebuild", "--store", url, str(events), "--rejects", str(tmp / "rejects"))
    # the switch replaces the graph the documents were made from; the rebuild writes them
    # again, so that reads after it are served by the read model
    assert asyncio.run(_without_documents(kind, tmp)) == []
    found, result = asyncio.run(_read(kind, tmp))
    return found, result, _lines(tmp / "rejects" / "rejects.jsonl")


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return sorted((json.loads(line) for line in path.read_text().splitlines()), key=repr)


@pytest.mark.parametrize("kind", STORES)
def test_a_rebuild_holds_exactly_what_loading_the_file_holds(kind, tmp_path_factory):
    events = write_jsonl(tmp_path_factory.mktemp("in") / "events.jsonl",
                         scenario(seed=11, universes=40), seed=11)
    reference = loaded(kind, tmp_path_factory.mktemp("load"), events, batch_size=100_000)
    got = rebuilt(kind, tmp_path_factory.mktemp("rebuild"), events)
    for table in reference[0]:
        assert got[0][table] == reference[0][table], table
    assert got[1] == reference[1]
    assert got[2] == reference[2]
    assert len(reference[1][0]) > 60 and sum(map(len, reference[1][1].values())) > 10
    small = loaded(kind, tmp_path_factory.mktemp("small"), events, batch_size=7)
    assert got[1] == small[1], "customers or merge histories differ from a load in batches"
