"""Poisonous lines in every file format, on both stores: each is rejected with the field and
the reason, and every other line of the file is stored (issue 12: one such line made
`idgraph load` print a traceback and store nothing)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.domain import events as events_module
from app.services.ingest import IngestService
from loaders.csv_mapping import mapping_from_dict
from loaders.dlq import DeadLetter
from loaders.files import Source, load_files
from tests.loaders.hostile import POISONS, good, line
from tests.loaders.streams import create_topic, loader, produce, read_topic, run_loader, unique


def rejected(rejects: io.StringIO | str) -> dict[str, dict]:
    text = rejects if isinstance(rejects, str) else rejects.getvalue()
    found = [json.loads(x) for x in text.splitlines()]
    return {p["position"].rsplit(":", 1)[1]: p for p in found if p["action"] == "event rejected"}


async def stored(store, event_ids: list[str]) -> int:
    """How many of the events the store holds: loading them again finds them all there."""
    again = await IngestService(store).ingest_raw(
        (eid, good(eid)) for eid in event_ids)
    return again.duplicates


async def test_every_poisonous_line_is_rejected_and_every_good_line_stored(store, tmp_path):
    path = tmp_path / "events.jsonl"
    lines, good_ids, poison_at = [], [], {}
    for n, poison in enumerate(POISONS):
        for k in range(3):
            good_ids.append(f"g{n}-{k}")
            lines.append(line(good(good_ids[-1])))
        lines.append(poison.make(f"bad-{n}"))
        poison_at[str(len(lines))] = poison
    path.write_bytes(b"\n".join(lines) + b"\n")
    rejects = io.StringIO()

    result = await load_files(IngestService(store), [path], batch_size=10, rejects=rejects)

    assert (result.stored, result.rejected) == (len(good_ids), len(POISONS))
    problems = rejected(rejects)
    assert set(problems) == set(poison_at)
    for at, poison in poison_at.items():
        assert problems[at]["field"].startswith(poison.field), (poison.name, problems[at])
        assert poison.reason in problems[at]["reason"], (poison.name, problems[at])
    assert await stored(store, good_ids) == len(good_ids)


@pytest.mark.kafka
async def test_the_kafka_loader_dead_letters_each_poisonous_message_and_stores_the_rest(store):
    topic, dlq = await create_topic(unique("events")), unique("dlq")
    good_ids = [f"k{n}" for n in range(30)]
    poisons = {p.make(f"bad-{n}"): p for n, p in enumerate(POISONS)}
    messages = [line(good(eid)) for eid in good_ids]
    for n, value in enumerate(poisons):
        messages.insert(n + 1, value)
    await produce(topic, messages)

    stats = await run_loader(loader(store, topic, dlq_topic=dlq, batch_size=25))

    assert (stats.stored, stats.dead_letters) == (len(good_ids), len(POISONS))
    letters = [DeadLetter.of(m) for m in await read_topic(dlq, len(POISONS))]
    assert {letter.value for letter in letters} == set(poisons)
    for letter in letters:
        poison = poisons[letter.value]
        assert letter.field.startswith(poison.field), (poison.name, letter.field)
        assert poison.reason in letter.reason, (poison.name, letter.reason)
    assert await stored(store, good_ids) == len(good_ids)


@pytest.mark.parametrize("poison", [p for p in POISONS if p.name in (
    "an amount of 1 and 400 zeros", "a timestamp past 9999 in UTC",
    "a timestamp before year 1 in UTC", "a lone surrogate in an identifier", "nesting 5,000 deep",
    "NaN", "a NUL byte in the event id")], ids=lambda p: p.name)
def test_idgraph_load_stores_the_44_good_events_before_a_poisonous_line(tmp_path, poison):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([*(line(good(f"g{n}")) for n in range(44)),
                                 poison.make("bad")]) + b"\n")
    store = f"sqlite:///{tmp_path}/t.db"

    done = CliRunner().invoke(main, ["load", "--store", store, "--rejects",
                                     str(tmp_path / "rejects.jsonl"), str(path)])

    assert done.exit_code == 0, done.output
    assert "│ 44 " in done.output.split("events stored")[1].splitlines()[0]
    [problem] = rejected((tmp_path / "rejects.jsonl").read_text()).values()
    assert problem["position"] == f"{path}:45" and problem["field"].startswith(poison.field)


CSV_MAPPING = {
    "event": {"type": "crm_record", "source": "crm", "timestamp_column": "at",
              "timezone": "Pacific/Kiritimati", "event_id_column": "id"},
    "identifiers": {"crm_id": "customer"},
    "traits": {"city": "city"},
    "properties": {"ltv": {"column": "ltv", "as": "float"}, "orders": {"column": "orders",
                                                                     "as": "int"}},
}


@pytest.mark.parametrize("cells,column,reason", [
    ({"ltv": "nan"}, "ltv", "NaN is not a finite number"),
    ({"ltv": "inf"}, "ltv", "Infinity is not a finite number"),
    ({"ltv": "1e400"}, "ltv", "Infinity is not a finite number"),
    ({"orders": "1" + "0" * 400}, "orders", "a number written with 401 characters"),
    ({"orders": "9" * 5000}, "orders", "a number written with 5,000 characters"),
    ({"orders": str(10**38)}, "orders", "a number of 39 digits is out of range"),
    ({"at": "0001-01-01 00:00:00"}, "at", "outside the accepted range"),  # +14:00 there
    ({"city": "Utr\0echt"}, "city", "NUL"),
    ({"customer": "C\0-1"}, "customer", "NUL"),
])
async def test_a_csv_cell_out_of_bounds_rejects_its_row_by_column(store, tmp_path, cells, column,
                                                                   reason):
    header = "id,customer,city,ltv,orders,at"
    row = {"id": "2", "customer": "C-2", "city": "Utrecht", "ltv": "1.5", "orders": "3",
           "at": "2024-05-01 10:00:00"}
    lines = [header, "1,C-1,Ede,2.5,1,2024-05-01 09:00:00", ",".join({**row, **cells}.values()),
             "3,C-3,Epe,3.5,2,2024-05-01 11:00:00"]
    path = tmp_path / "crm.csv"
    path.write_text("\n".join(lines) + "\n")
    rejects = io.StringIO()

    result = await load_files(IngestService(store), [path], rejects=rejects,
                              source=Source(mapping=mapping_from_dict(CSV_MAPPING)))

    assert (result.stored, result.rejected) == (2, 1)
    problem = rejected(rejects)["3"]
    assert problem["field"] == column and reason in problem["reason"], problem


async def test_a_csv_row_with_bytes_that_are_not_utf8_is_rejected_and_the_file_loads(store,
                                                                                      tmp_path):
    path = tmp_path / "crm.csv"
    path.write_bytes(b"id,customer,city,ltv,orders,at\n"
                     b"1,C-1,Ede,2.5,1,2024-05-01 09:00:00\n"
                     b"2,C-2,Utr\xe9cht,1.5,3,2024-05-01 10:00:00\n"
                     b"3,C-3,Epe,3.5,2,2024-05-01 11:00:00\n")
    rejects = io.StringIO()

    result = await load_files(IngestService(store), [path], rejects=rejects,
                              source=Source(mapping=mapping_from_dict(CSV_MAPPING)))

    assert (result.stored, result.rejected) == (2, 1)
    problem = rejected(rejects)["3"]
    assert problem["field"] == "city" and "not UTF-8" in problem["reason"]


def segment(message_id: str, **extra: object) -> dict[str, object]:
    return {"type": "track", "event": "Order Completed", "messageId": message_id,
            "anonymousId": f"a-{message_id}", "timestamp": "2024-05-01T10:00:00Z", **extra}


@pytest.mark.parametrize("text,field,reason", [
    (line(segment("m2", properties={"total": "@N@"}), N="1" + "0" * 400), "properties.total",
     "number"),
    (line(segment("m2", properties={"total": "@N@"}), N="NaN"), "properties.total",
     "finite number"),
    (line(segment("m2", userId="\ud800")), "userId", "surrogate"),
    (line(segment("m2", context={"traits": {"email": "a\0@b.nl"}})), "context.traits.email",
     "NUL"),
    (line(segment("m2", context={"a": "@N@"}), N="[" * 5000 + "]" * 5000), "message", "nest"),
    (line(segment("m2", context={"a": "@N@"}), N="[" * 40 + "]" * 40), "context.a[0]", "nest"),
    (line(segment("m2", timestamp="9999-12-31T23:59:59-23:59")), "timestamp", "range"),
])
async def test_a_segment_message_out_of_bounds_is_rejected_naming_its_own_field(
        store, tmp_path, text, field, reason):
    path = tmp_path / "segment.jsonl"
    path.write_bytes(b"\n".join([line(segment("m1")), text, line(segment("m3"))]) + b"\n")
    rejects = io.StringIO()

    result = await load_files(IngestService(store), [path], rejects=rejects,
                              source=Source("segment"))

    assert (result.stored, result.rejected) == (2, 1)
    problem = rejected(rejects)["2"]
    assert problem["field"].startswith(field) and reason in problem["reason"], problem


async def test_an_unexpected_fault_while_validating_rejects_that_event_alone_and_is_logged(
        sqlite_store, tmp_path, monkeypatch, caplog):
    """A bug is not hidden: the event is rejected with the exception's type, the traceback
    goes to the log, and the rest of the batch is stored."""
    real = events_module._timestamp

    def flawed(text: str):  # a check with a bug that only one timestamp reaches
        if text.startswith("2024-05-02"):
            raise KeyError("a bug")
        return real(text)

    monkeypatch.setattr(events_module, "_timestamp", flawed)
    path = tmp_path / "events.jsonl"
    second = good("e2", timestamp="2024-05-02T00:00:00Z")
    path.write_bytes(b"\n".join([line(good("e1")), line(second), line(good("e3"))]) + b"\n")
    rejects = io.StringIO()

    with caplog.at_level(logging.ERROR, logger="idgraph.ingest"):
        result = await load_files(IngestService(sqlite_store), [path], rejects=rejects)

    assert (result.stored, result.rejected) == (2, 1)
    problem = rejected(rejects)["2"]
    assert problem["event_id"] == "e2" and "KeyError" in problem["reason"]
    [record] = caplog.records
    assert record.exc_info and record.exc_info[0] is KeyError and "2" in record.getMessage()


async def test_a_file_of_poisonous_lines_only_loads_nothing_and_reports_each(sqlite_store,
                                                                          tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(p.make(f"b{n}") for n, p in enumerate(POISONS)) + b"\n")
    rejects = io.StringIO()

    result = await load_files(IngestService(sqlite_store), [path], rejects=rejects)

    assert (result.stored, result.rejected) == (0, len(POISONS))
    assert (await sqlite_store.stats()).events == 0
