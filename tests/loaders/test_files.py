"""Batch file loads: v1 JSONL, Segment-spec JSONL, CSV with a mapping file, resumable."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from app.services.ingest import IngestService
from loaders.csv_mapping import MappingError, load_mapping, mapping_from_dict, row_to_event
from loaders.files import Source, load_files
from tests.loaders.streams import events_per_person, people_stream

MAPPING = """
[event]
type = "crm_record"
source = "crm"
timestamp_column = "Updated"
timestamp_format = "%d-%m-%Y %H:%M"
timezone = "Europe/Amsterdam"
event_id_column = "RecordId"
event_id_prefix = "crm-"

[csv]
delimiter = ";"

[identifiers]
email = "E-mail"
phone = ["Phone", "Mobile"]
crm_id = "CustomerNo"

[traits]
first_name = "First name"
city = "City"

[properties]
lifetime_value = { column = "LTV", as = "float" }
orders = { column = "Orders", as = "int" }
"""

CSV = """RecordId;CustomerNo;E-mail;Phone;Mobile;First name;City;LTV;Orders;Updated
1;C-1;ann@example.com;020 123 4567;06 12345678;Ann;Utrecht;120.50;3;01-05-2024 14:00
2;C-2;bob@example.com;;;Bob;;;;02-05-2024 09:30
3;C-3;cy@example.com;;;Cy;;lots;1;03-05-2024 10:00
4;C-4;di@example.com;;;Di;;;;yesterday
"""


@pytest.fixture
def crm(tmp_path: Path) -> tuple[Path, Source]:
    (tmp_path / "map.toml").write_text(MAPPING)
    (tmp_path / "crm.csv").write_text(CSV)
    return tmp_path / "crm.csv", Source(mapping=load_mapping(tmp_path / "map.toml"))


async def test_csv_rows_load_through_the_mapping(sqlite_store, crm):
    path, source = crm
    rejects = io.StringIO()

    result = await load_files(IngestService(sqlite_store), [path], source=source,
                              rejects=rejects)

    assert (result.received, result.stored, result.rejected) == (4, 2, 2)
    owners = await sqlite_store.owners(["email:ann@example.com", "phone:+31201234567",
                                        "phone:+31612345678", "crm_id:C-1"])
    assert len(owners) == 4 and len(set(owners.values())) == 1
    [event] = await sqlite_store.timeline(owners["crm_id:C-1"], 10, None)
    assert event.event_id == "crm-1" and event.type == "crm_record" and event.source == "crm"
    assert event.timestamp.startswith("2024-05-01T12:00:00")  # 14:00 in Amsterdam, summer
    assert event.traits == {"first_name": "Ann", "city": "Utrecht"}
    assert event.properties == {"lifetime_value": 120.5, "orders": 3}
    problems = [json.loads(line) for line in rejects.getvalue().splitlines()]
    assert [(p["position"].rsplit(":", 1)[1], p["field"]) for p in problems] == [
        ("4", "LTV"), ("5", "Updated")]
    assert "'lots' is not a float" in problems[0]["reason"]


async def test_loading_a_csv_again_changes_nothing(sqlite_store, crm):
    path, source = crm
    ingest = IngestService(sqlite_store)
    await load_files(ingest, [path], source=source)
    before = await sqlite_store.stats()

    again = await load_files(ingest, [path], source=source)

    assert (again.stored, again.duplicates) == (0, 2)
    assert await sqlite_store.stats() == before


def test_without_an_id_column_the_event_id_derives_from_the_row():
    mapping = mapping_from_dict({"event": {"type": "signup", "source": "shop",
                                           "timestamp_column": "at"},
                                 "identifiers": {"email": "mail"}})
    row = {"mail": "a@b.nl", "at": "2024-01-01 10:00"}

    first, second = row_to_event(mapping, row), row_to_event(mapping, dict(row))

    assert first["event_id"] == second["event_id"] and first["event_id"].startswith("csv-")
    assert first["timestamp"] == "2024-01-01T10:00:00.000000Z"
    assert row_to_event(mapping, {**row, "mail": "c@d.nl"})["event_id"] != first["event_id"]


@pytest.mark.parametrize(("data", "message"), [
    ({"event": {"type": "x", "timestamp_column": "t"}, "identifiers": {"email": "e"}},
     "needs source"),
    ({"event": {"source": "s", "timestamp_column": "t"}, "identifiers": {"email": "e"}},
     "exactly one of type and type_column"),
    ({"event": {"source": "s", "type": "x"}, "identifiers": {"email": "e"}},
     "exactly one of timestamp and timestamp_column"),
    ({"event": {"source": "s", "type": "x", "timestamp_column": "t"}}, "[identifiers]"),
    ({"event": {"source": "s", "type": "x", "timestamp_column": "t", "colour": "red"},
      "identifiers": {"email": "e"}}, "unknown keys: colour"),
    ({"event": {"source": "s", "type": "x", "timestamp_column": "t", "timezone": "Mars/Base"},
      "identifiers": {"email": "e"}}, "not a known time zone"),
    ({"event": {"source": "s", "type": "x", "timestamp_column": "t"},
      "identifiers": {"email": "e"}, "properties": {"n": {"column": "n", "as": "decimal"}}},
     "as must be one of"),
])
def test_a_bad_mapping_says_what_to_fix(data, message):
    with pytest.raises(MappingError, match=message.replace("[", r"\[")):
        mapping_from_dict(data)


async def test_a_csv_missing_a_mapped_column_is_refused_before_loading(sqlite_store, crm):
    path, source = crm
    path.write_text("RecordId;E-mail\n1;a@b.nl\n")
    with pytest.raises(MappingError, match="does not have: City, CustomerNo"):
        await load_files(IngestService(sqlite_store), [path], source=source)
    assert (await sqlite_store.stats()).events == 0


async def test_segment_jsonl_loads_and_auto_tells_it_from_v1(sqlite_store, tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [
        {"type": "identify", "messageId": "s1", "userId": "u1", "timestamp": "2024-01-01T00:00:00Z",
         "traits": {"email": "u1@example.com"}},
        {"type": "track", "messageId": "s2", "anonymousId": "a1", "event": "Clicked",
         "timestamp": "2024-01-01T00:00:01Z"},
        {"event_id": "v1", "type": "page_view", "timestamp": "2024-01-01T00:00:02Z",
         "source": "web", "identifiers": [{"type": "email", "value": "u1@example.com"}]},
        {"type": "track", "messageId": "s3", "userId": "u1", "timestamp": "2024-01-01T00:00:03Z"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    rejects = io.StringIO()

    result = await load_files(IngestService(sqlite_store), [path], rejects=rejects)

    assert (result.stored, result.rejected) == (3, 1)
    assert json.loads(rejects.getvalue())["field"] == "event"  # a track without a name
    owners = await sqlite_store.owners(["user_id:u1", "email:u1@example.com"])
    assert len(set(owners.values())) == 1


async def test_the_original_signature_still_loads_v1_jsonl(sqlite_store, tmp_path):
    path = tmp_path / "events.jsonl"
    stream = people_stream(50, 5)
    path.write_text("\n".join(json.dumps(e) for e in stream.events) + "\n{oops\n")
    result = await load_files(IngestService(sqlite_store), [path], batch_size=7)
    assert (result.stored, result.rejected) == (50, 1)


class Crash(Exception):
    pass


async def test_a_resumed_load_skips_what_is_durable_and_loses_nothing(sqlite_store, tmp_path):
    stream = people_stream(2_000, 100)
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    paths[0].write_text("".join(json.dumps(e) + "\n" for e in stream.events[:1_200]))
    paths[1].write_text("".join(json.dumps(e) + "\n" for e in stream.events[1_200:]))
    checkpoint = tmp_path / "load.checkpoint"
    ingest = IngestService(sqlite_store)
    real, calls = ingest.ingest_raw, 0

    async def crashing(items):  # the real write, then a crash after the 7th batch
        nonlocal calls
        calls += 1
        if calls == 8:
            raise Crash
        return await real(items)

    ingest.ingest_raw = crashing  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await load_files(ingest, paths, batch_size=100, checkpoint=checkpoint)
    ingest.ingest_raw = real  # type: ignore[method-assign]

    resumed = await load_files(ingest, paths, batch_size=100, checkpoint=checkpoint)

    assert (resumed.received, resumed.duplicates) == (2_000 - 700, 0)
    assert await events_per_person(sqlite_store, 100) == stream.per_person()
    done = await load_files(ingest, paths, batch_size=100, checkpoint=checkpoint)
    assert done.received == 0


async def test_a_file_changed_since_its_checkpoint_is_loaded_from_the_start(sqlite_store,
                                                                            tmp_path):
    stream = people_stream(300, 30)
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in stream.events[:200]))
    checkpoint = tmp_path / "load.checkpoint"
    ingest = IngestService(sqlite_store)
    await load_files(ingest, [path], batch_size=50, checkpoint=checkpoint)

    path.write_text("".join(json.dumps(e) + "\n" for e in stream.events))
    again = await load_files(ingest, [path], batch_size=50, checkpoint=checkpoint)

    assert (again.received, again.stored, again.duplicates) == (300, 100, 200)


async def test_a_csv_without_a_mapping_is_refused(sqlite_store, crm):
    path, _ = crm
    with pytest.raises(MappingError, match="needs a mapping file"):
        await load_files(IngestService(sqlite_store), [path])
