"""Parquet input (v1 columns, traits as JSON text): a rebuild of the events as Parquet
holds what loading them as JSONL holds, and a row a load would reject goes to the rejects
with its row number and reason."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.spark.data import scenario, write_jsonl
from tests.spark.test_rebuild_equivalence import _fresh, _lines, _read, idgraph, loaded

BAD = {"event_id": "pq-bad", "type": "page_view", "timestamp": "2024-03-01T10:00:00Z",
       "source": "web", "identifiers": [{"type": "cookie", "value": "pq"}],
       "traits": "{not json"}


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    traits = raw.get("traits")
    return {**raw, "traits": json.dumps(traits) if isinstance(traits, dict) else traits}


def write_parquet(path: Path, raws: list[dict[str, Any]]) -> Path:
    schema = pa.schema([("event_id", pa.string()), ("type", pa.string()),
                        ("timestamp", pa.string()), ("source", pa.string()),
                        ("identifiers", pa.list_(pa.struct([("type", pa.string()),
                                                            ("value", pa.string())]))),
                        ("traits", pa.string())])
    pq.write_table(pa.Table.from_pylist([_row(r) for r in raws], schema=schema), path)
    return path


def _reasons(rejects: list[dict[str, Any]]) -> list[tuple]:
    """Each reject without its position (a line number in JSONL, a row number in Parquet)."""
    return sorted((r.get("event_id"), r.get("field"), r.get("reason")) for r in rejects)


@pytest.mark.parametrize("kind", ["sqlite"])
def test_a_rebuild_of_parquet_holds_what_loading_the_same_events_holds(kind,
                                                                       tmp_path_factory):
    raws = scenario(seed=13, universes=25)
    inputs = tmp_path_factory.mktemp("in")
    events = write_jsonl(inputs / "events.jsonl", raws, seed=13, junk=False)
    parquet = write_parquet(inputs / "events.parquet", [*raws[:40], BAD, *raws[40:]])
    reference = loaded(kind, tmp_path_factory.mktemp("load"), events, batch_size=100_000)
    tmp = tmp_path_factory.mktemp("rebuild")
    url = asyncio.run(_fresh(kind, tmp / "test.db"))
    idgraph("rebuild", "--store", url, str(parquet), "--rejects", str(tmp / "rejects"))
    got = asyncio.run(_read(kind, tmp))
    for table in reference[0]:
        assert got[0][table] == reference[0][table], table
    assert got[1] == reference[1]
    rejects = _lines(tmp / "rejects" / "rejects.jsonl")
    bad = [r for r in rejects if r.get("event_id") == "pq-bad"]
    assert len(bad) == 1 and bad[0]["field"] == "traits", bad
    assert bad[0]["position"] == f"{parquet}:row 41"
    assert _reasons([r for r in rejects if r is not bad[0]]) == _reasons(reference[2])
