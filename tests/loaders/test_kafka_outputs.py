"""What the loader writes to Kafka besides the store: change events, dead letters and
their replay; and the producer for tests and demos."""

from __future__ import annotations

import json

import pytest

from app.outbound import SCHEMA
from app.services.segments import SegmentService
from loaders.dlq import REPLAYED_FROM, DeadLetter, replay
from loaders.kafka import produce_file
from tests.conftest import KAFKA_BOOTSTRAP
from tests.helpers import raw_event
from tests.loaders.streams import create_topic, loader, produce, read_topic, run_loader, unique

pytestmark = pytest.mark.kafka


def encoded(*events: dict) -> list[bytes]:
    return [json.dumps(e).encode() for e in events]


async def test_a_merge_is_published_with_survivor_absorbed_and_lineage(store):
    topic, changes = await create_topic(unique("events")), unique("changes")
    group = unique("group")
    await produce(topic, encoded(raw_event("e1", "2024-01-01T00:00:00Z", "cookie:ck-1"),
                                 raw_event("e2", "2024-01-02T00:00:00Z", "email:b@example.com")))
    await run_loader(loader(store, topic, group_id=group, changes_topic=changes, idle_exit_s=2))
    before = await store.owners(["cookie:ck-1", "email:b@example.com"])
    await produce(topic, encoded(raw_event("e3", "2024-01-03T00:00:00Z", "cookie:ck-1",
                                           "email:b@example.com")))

    stats = await run_loader(loader(store, topic, group_id=group, changes_topic=changes,
                                    idle_exit_s=2))

    published = await read_topic(changes, stats.changes + 4)
    messages = [json.loads(m.value) for m in published]
    created = [m for m in messages if m["kind"] == "customer_created"]
    [merged] = [m for m in messages if m["kind"] == "customer_merged"]
    assert sorted(m["customer_id"] for m in created) == sorted(before.values())
    survivor = before["cookie:ck-1"]  # first seen
    absorbed = before["email:b@example.com"]
    assert merged["data"]["survivor"] == merged["customer_id"] == survivor
    assert merged["data"]["absorbed"] == absorbed
    assert merged["lineage"] == {"event_ids": ["e3"], "from_customers": [absorbed, survivor]}
    assert merged["schema"] == SCHEMA and merged["change_id"]
    [message] = [m for m in published if json.loads(m.value)["kind"] == "customer_merged"]
    assert message.key == survivor.encode()
    assert len({m["change_id"] for m in messages}) == len(messages)


async def test_a_split_a_profile_change_and_segment_entries_are_published(store):
    topic, changes = await create_topic(unique("events")), unique("changes")
    group = unique("group")
    segments = SegmentService(store)
    await segments.define("named", "trait(first_name) exists")
    hub = "phone:+31207654321"
    first = [raw_event(f"p{n}", f"2024-01-01T00:00:{n:02}Z", hub, f"email:p{n}@x.com",
                       traits={"first_name": f"P{n}"}) for n in range(10)]
    second = [raw_event(f"q{n}", f"2024-01-02T00:00:{n:02}Z", hub, f"email:q{n}@x.com")
              for n in range(10)]
    published: list[dict] = []
    for batch in (first, second):  # the hub is quarantined by the second batch
        await produce(topic, encoded(*batch))
        instance = loader(store, topic, group_id=group, changes_topic=changes, idle_exit_s=2)
        instance.ingest.segments = segments
        stats = await run_loader(instance)
        published = [json.loads(m.value) for m in
                     await read_topic(changes, len(published) + stats.changes)]
    kinds = [m["kind"] for m in published]
    [profile] = [m for m in published if m["kind"] == "profile_changed"]
    assert profile["lineage"]["event_ids"] == [f"p{n}" for n in range(10)]
    [entered] = [m for m in published if m["kind"] == "segment_entered"
                 and m["customer_id"] == profile["customer_id"]]
    assert entered["data"]["segment"] == "named"
    assert entered["data"]["why"][0].startswith('trait(first_name) exists (value: "P')
    [split] = [m for m in published if m["kind"] == "customer_split"]
    assert split["customer_id"] == profile["customer_id"] and len(split["data"]["parts"]) >= 9
    assert split["data"]["reason"] == "a conflict between rules re-evaluated the component"
    # each part is evaluated at the split: the ten p-people are named, the q-people not
    owners = await store.owners([f"email:p{n}@x.com" for n in range(10)])
    members = {cid for cid, _ in await store.segment_members("named", 100, None)}
    assert members == set(owners.values()) and len(members) == 10
    assert kinds.count("segment_entered") == 10  # one before the split, nine parts after
    assert len({m["change_id"] for m in published}) == len(published)


async def test_dead_letters_are_replayed_to_their_topic_after_a_fix(sqlite_store):
    """Segment messages arrive on a topic read as v1: dead-lettered. The loader is fixed
    (format auto) and the letters replayed: they load, and a second replay sends none."""
    topic, dlq = await create_topic(unique("events")), unique("dlq")
    group = unique("group")
    segment = [{"type": "identify", "messageId": f"s{i}", "userId": f"u{i}",
                "timestamp": "2024-01-01T00:00:00Z"} for i in range(3)]
    await produce(topic, encoded(*segment, raw_event("v1", "2024-01-01T00:00:00Z", "cookie:x")))
    first = await run_loader(loader(sqlite_store, topic, group_id=group, dlq_topic=dlq))
    assert (first.stored, first.dead_letters) == (1, 3)
    originals = {m.value for m in await read_topic(dlq, 3)}
    assert originals == set(encoded(*segment))

    report = await replay(KAFKA_BOOTSTRAP, dlq, group=unique("replay"), timeout_s=60)
    fixed = await run_loader(loader(sqlite_store, topic, group_id=group, dlq_topic=dlq,
                                    input_format="auto"))

    assert (report.replayed, report.by_topic) == (3, {topic: 3})
    assert (fixed.messages, fixed.stored, fixed.dead_letters) == (3, 3, 0)
    replayed = [m for m in await read_topic(topic, 7) if REPLAYED_FROM in dict(m.headers)]
    assert {m.value for m in replayed} == originals
    assert all(dict(m.headers)[REPLAYED_FROM].startswith(dlq.encode()) for m in replayed)


async def test_a_replay_resumes_where_the_last_one_ended(sqlite_store):
    topic, dlq = await create_topic(unique("events")), unique("dlq")
    await produce(topic, [b"{broken 1"])
    await run_loader(loader(sqlite_store, topic, dlq_topic=dlq, idle_exit_s=2))
    group, target = unique("replay"), unique("fixed")

    first = await replay(KAFKA_BOOTSTRAP, dlq, group=group, to_topic=target, timeout_s=60)
    second = await replay(KAFKA_BOOTSTRAP, dlq, group=group, to_topic=target, timeout_s=60)

    assert (first.replayed, second.replayed) == (1, 0)
    [message] = await read_topic(target, 1)
    letter = DeadLetter.of(message)  # the replayed message carries no dead-letter headers
    assert letter.value == b"{broken 1" and letter.reason == ""


async def test_produce_sends_each_line_as_it_is_keyed_by_the_first_identifier(tmp_path):
    topic = await create_topic(unique("produced"), partitions=1)
    lines = [
        json.dumps(raw_event("e1", "2024-01-01T00:00:00Z", "email:Ann@Example.COM",
                             "cookie:c1")),
        json.dumps({"type": "track", "messageId": "m1", "anonymousId": "anon-1",
                    "userId": "u1", "event": "x", "timestamp": "2024-01-01T00:00:00Z"}),
        "{not json",
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n\n")

    sent = await produce_file(KAFKA_BOOTSTRAP, topic, path)

    messages = await read_topic(topic, 3)
    assert sent == 3
    assert [m.value.decode() for m in messages] == lines
    assert [m.key for m in messages] == [b"email:ann@example.com", b"cookie:anon-1", None]
