"""After an erasure, no spelling of the customer's values is left anywhere idgraph writes:
the store (SQLite: the database file and its write-ahead log, read as bytes; Neo4j: every
property of every node and relationship), the audit log, and the rejects file of a load
that replays the customer's events. Dead letters: tests/loaders/test_erasure_replay.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

from app.domain.privacy import ERASED_MARK
from app.domain.steward import Action
from app.services.ingest import IngestService
from app.services.privacy import PrivacyService
from app.services.segments import SegmentService
from app.services.steward import StewardService
from loaders.files import load_files
from tests.helpers import raw_event
from tests.privacy_data import (
    COOKIE,
    CRM_ID,
    EMAIL,
    ERASED_TRACES,
    NOTE,
    OTHER_COOKIE,
    other_events,
    patterns_found,
    person_events,
    traces,
)

PERSONAL_SEGMENT = ('trait(Last_Name) exists AND trait(date_of_birth) < "2000-01-01" '
                    'AND trait(zip) exists AND trait(street) exists')


async def seed_and_act(store) -> str:
    """The customer's events and the others', steward actions whose reasons spell her
    values (on her identifiers and on Bob's), and segments whose whys hold them."""
    segments = SegmentService(store)
    ingest = IngestService(store, segments=segments)
    await segments.define("personal", PERSONAL_SEGMENT)
    await ingest.ingest_raw((e["event_id"], e) for e in person_events() + other_events())
    steward = StewardService(store, segments=segments)
    for action in (
        Action("link", "sam", NOTE, (f"cookie:{OTHER_COOKIE}", f"crm_id:{CRM_ID}")),
        Action("quarantine", "sam", f"laptop shared with {NOTE}", ("cookie:ck_bob",)),
        Action("release", "sam", "Maartje.VanDijk%40example.com moved out", ("cookie:ck_bob",)),
    ):
        await steward.act(action)
    [owner] = set((await store.owners([f"email:{EMAIL}", f"cookie:{COOKIE}"])).values())
    return owner


async def everything_stored(store) -> str:
    """SQLite: the bytes of the database file and its log; Neo4j: every property."""
    if hasattr(store, "db"):
        files = [Path(store.path), Path(f"{store.path}-wal")]
        return "\n".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
    async with store.driver.session(database=store.database) as session:
        nodes = await session.run("MATCH (n) RETURN labels(n) AS l, properties(n) AS p")
        texts = [json.dumps(r.data(), default=str) async for r in nodes]
        rels = await session.run("MATCH ()-[r]->() RETURN type(r) AS t, properties(r) AS p")
        texts += [json.dumps(r.data(), default=str) async for r in rels]
    return "\n".join(texts)


async def test_an_erased_customer_leaves_no_spelling_anywhere(store, tmp_path):
    cid = await seed_and_act(store)
    before = await everything_stored(store)
    assert patterns_found(before, ERASED_TRACES) == {p.pattern for p in ERASED_TRACES}

    privacy = PrivacyService(store)
    privacy.segments = SegmentService(store)
    receipt = await privacy.forget(cid, "admin", f"GDPR request of {NOTE}")
    assert receipt.customer_id == cid and len(receipt.identifiers) == 6

    # her events replayed, and a new visitor who gives her e-mail address again without
    # consent: it is dropped from the event, and so is every mention of it
    replay = tmp_path / "replay.jsonl"
    late = raw_event("late-1", "2030-01-01T00:00:00Z", "cookie:ck_new", f"email:{EMAIL}",
                     properties={"note": f"mail {EMAIL.upper()}",
                                 "url": "/?u=maartje.vandijk%40example.com"},
                     traits={"contact": EMAIL})
    replay.write_text("".join(json.dumps(e) + "\n" for e in [*person_events(), late]))
    rejects = io.StringIO()
    result = await load_files(IngestService(store), [replay], rejects=rejects)
    assert result.stored == 1 and result.rejected == len(person_events())

    places = {"store": await everything_stored(store),
              "audit log": "\n".join(repr(r) for r in await store.audit_log(100, None)),
              "rejects": rejects.getvalue()}
    for place, text in places.items():
        assert traces(text, ERASED_TRACES) == [], place
    assert "bob@example.org" in places["store"] and "ck_bob" in places["audit log"]
    assert f"email:{ERASED_MARK}" in places["rejects"]
    assert (await store.owners(["cookie:ck_new"])).keys() == {"cookie:ck_new"}


async def test_an_identifier_quarantined_off_the_customer_is_erased_with_it(store):
    """A quarantine takes an identifier off its customer; seen only in her events, it is
    still hers to erase. One that others' events saw too stays."""
    mine = raw_event("mine-1", "2024-01-08T10:00:00Z", f"crm_id:{CRM_ID}", "phone:+31688887777",
                     "phone:+31699990000")
    shared = raw_event("shared-1", "2024-01-07T10:00:00Z", "cookie:ck_bob", "phone:+31699990000")
    ingest = IngestService(store)
    await ingest.ingest_raw((e["event_id"], e) for e in [*person_events(), *other_events(),
                                                          mine, shared])
    steward = StewardService(store)
    for key in ("phone:+31688887777", "phone:+31699990000"):
        await steward.act(Action("quarantine", "sam", "shared line?", (key,)))
    [cid] = set((await store.owners([f"email:{EMAIL}"])).values())

    receipt = await PrivacyService(store).forget(cid, "admin", "GDPR request")

    assert "phone:+31688887777" in receipt.identifiers
    assert "phone:+31699990000" not in receipt.identifiers
    left = await store.identifiers(["phone:+31688887777", "phone:+31699990000"])
    assert left.keys() == {"phone:+31699990000"}
    assert "88887777" not in await everything_stored(store)
