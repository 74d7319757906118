"""A rebuild into a store with a trained matcher applies it as loading does: the same
links the matcher makes (with their payloads), the same review queue and the same match
records, so the same customers and ids, on both stores."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.domain.rules import Rules
from app.services.matching import train_from_events
from app.synth import parse_shape, synth_data
from tests.spark.test_rebuild_equivalence import STORES, _fresh, _lines, _read, idgraph


def _events(path: Path) -> tuple[Path, list[dict]]:
    """A small multi-system stream of people with typos, households and twins."""
    data = synth_data(parse_shape("cdp,people=150,seed=4"))
    path.write_text("".join(json.dumps(e) + "\n" for e in data.events))
    return path, data.events


async def _trained(kind: str, db: Path, raws: list[dict]) -> str:
    """An empty store with the matcher trained on `raws` (the same seed each time)."""
    from app.stores import open_store

    url = await _fresh(kind, db)
    store = open_store(url)
    await store.migrate()
    try:
        await train_from_events(store, raws, Rules.default())
    finally:
        await store.close()
    return url


def _matched(found: dict) -> int:
    """How many links the matcher made, in what a store holds."""
    rows = found.get("links") or found["relationships"]
    return sum('"matcher"' in json.dumps(r) or "matcher" in str(r) for r in rows)


@pytest.mark.parametrize("kind", STORES)
def test_a_rebuild_applies_the_stores_matcher_as_loading_does(kind, tmp_path_factory):
    events, raws = _events(tmp_path_factory.mktemp("in") / "events.jsonl")
    load, rebuild = tmp_path_factory.mktemp("load"), tmp_path_factory.mktemp("rebuild")
    url = asyncio.run(_trained(kind, load / "test.db", raws))
    idgraph("load", "--store", url, str(events), "--batch-size", "100000",
            "--rejects", str(load / "rejects.jsonl"))
    reference = asyncio.run(_read(kind, load))
    url = asyncio.run(_trained(kind, rebuild / "test.db", raws))
    idgraph("rebuild", "--store", url, str(events), "--rejects", str(rebuild / "rejects"))
    got = asyncio.run(_read(kind, rebuild))
    assert _matched(reference[0]) > 5, "the data must give the matcher links to make"
    for table in reference[0]:
        assert got[0][table] == reference[0][table], table
    assert got[1] == reference[1]
    assert _lines(rebuild / "rejects" / "rejects.jsonl") == _lines(load / "rejects.jsonl")
