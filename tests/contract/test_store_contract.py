"""The IdentityStore contract: each test runs on SQLite and on Neo4j."""

from __future__ import annotations

from app.services.customers import CustomerService
from app.services.ingest import IngestService
from tests.helpers import event

T0 = "2024-03-01T10:00:00Z"
T1 = "2024-03-02T10:00:00Z"
T2 = "2024-03-03T10:00:00Z"
T3 = "2024-03-04T10:00:00Z"


async def ingest(store, *events):
    return await IngestService(store).ingest(list(events))


async def owner(store, key):
    return (await store.owners([key])).get(key)


async def test_migrate_is_idempotent(store):
    assert await store.migrate() == []


async def test_identifiers_seen_together_form_one_customer(store):
    await ingest(store, event("e1", T0, "cookie:abc", "email:ann@example.com"))
    await ingest(store, event("e2", T1, "email:ann@example.com", "phone:+31612345678"))
    owners = await store.owners(["cookie:abc", "email:ann@example.com", "phone:+31612345678"])
    assert len(set(owners.values())) == 1
    cid = owners["cookie:abc"]
    records = (await store.identifiers_of([cid]))[cid]
    assert [r.key for r in records] == ["cookie:abc", "email:ann@example.com", "phone:+31612345678"]
    stats = await store.stats()
    assert (stats.customers, stats.identifiers, stats.links, stats.events) == (1, 3, 2, 2)


async def test_separate_people_stay_separate(store):
    await ingest(store, event("e1", T0, "cookie:a"), event("e2", T0, "cookie:b"))
    assert await owner(store, "cookie:a") != await owner(store, "cookie:b")


async def test_merge_keeps_the_first_seen_customer_and_redirects_the_other(store):
    await ingest(store, event("e1", T1, "cookie:late"))
    await ingest(store, event("e2", T0, "email:early@example.com"))
    late, early = await owner(store, "cookie:late"), await owner(store, "email:early@example.com")
    result = await ingest(store, event("e3", T2, "cookie:late", "email:early@example.com"))
    assert result.merges == 1
    assert await owner(store, "cookie:late") == early
    assert await store.current_ids([late, early, "c_unknown"]) == {late: early, early: early}
    history = (await store.merges_into([early]))[early]
    assert [(m.absorbed, m.survivor, m.event_id) for m in history] == [(late, early, "e3")]
    assert "e3" in history[0].reason
    assert (await store.stats()).customers == 1


async def test_redirects_follow_a_chain_of_merges(store):
    await ingest(store, event("e1", T2, "cookie:c"), event("e2", T1, "cookie:b"))
    c, b = await owner(store, "cookie:c"), await owner(store, "cookie:b")
    await ingest(store, event("e3", T3, "cookie:b", "cookie:c"))
    await ingest(store, event("e4", T0, "cookie:a"))
    a = await owner(store, "cookie:a")
    await ingest(store, event("e5", T3, "cookie:a", "cookie:c"))
    assert await store.current_ids([a, b, c]) == {a: a, b: a, c: a}
    history = (await store.merges_into([a]))[a]
    assert {(m.absorbed, m.survivor) for m in history} == {(c, b), (b, a)}


async def test_replaying_events_changes_nothing(store):
    batch = [event("e1", T0, "cookie:a", "email:x@example.com"), event("e2", T1, "cookie:a")]
    await ingest(store, *batch)
    before = await store.stats()
    cid = await owner(store, "cookie:a")
    links_before = await store.links_of(cid)
    result = await ingest(store, *batch, batch[0])
    assert (result.stored, result.duplicates) == (0, 3)
    assert await store.stats() == before
    assert await store.links_of(cid) == links_before


async def test_duplicate_event_ids_within_a_batch_are_stored_once(store):
    result = await ingest(store, event("e1", T0, "cookie:a"), event("e1", T0, "cookie:a"))
    assert (result.stored, result.duplicates) == (1, 1)
    assert (await store.stats()).events == 1


async def test_links_carry_their_evidence(store):
    await ingest(store, event("e1", T0, "cookie:a", "email:x@example.com", source="web"))
    await ingest(store, event("e2", T2, "cookie:a", "email:x@example.com", source="app"))
    await ingest(store, event("e3", T1, "email:x@example.com", "cookie:a", source="web"))
    cid = await owner(store, "cookie:a")
    [link] = await store.links_of(cid)
    assert (link.a, link.b) == ("cookie:a", "email:x@example.com")
    assert link.count == 3
    assert (link.first_seen, link.last_seen) == (
        "2024-03-01T10:00:00.000000Z",
        "2024-03-03T10:00:00.000000Z",
    )
    assert link.sources == ("app", "web")
    assert sorted(link.event_ids) == ["e1", "e2", "e3"]


async def test_link_evidence_keeps_a_bounded_sample_of_event_ids(store):
    events = [event(f"e{n:02}", T0, "cookie:a", "cookie:b") for n in range(25)]
    await ingest(store, *events[:12])
    await ingest(store, *events[12:])
    [link] = await store.links_of(await owner(store, "cookie:a"))
    assert link.count == 25
    assert len(link.event_ids) == 10


async def test_identifiers_record_first_and_last_seen_and_sources(store):
    await ingest(store, event("e1", T1, "cookie:a", source="web"))
    await ingest(store, event("e2", T0, "cookie:a", source="app"))
    await ingest(store, event("e3", T2, "cookie:a", source="web"))
    cid = await owner(store, "cookie:a")
    [record] = (await store.identifiers_of([cid]))[cid]
    assert record.first_seen.startswith("2024-03-01") and record.last_seen.startswith("2024-03-03")
    assert record.sources == ("app", "web")


async def test_timeline_is_newest_first_across_identifiers_and_pages(store):
    await ingest(
        store,
        event("e1", T0, "cookie:a", "email:x@example.com"),
        event("e2", T1, "cookie:a", type_="click"),
        event("e3", T2, "email:x@example.com", type_="purchase"),
        event("e4", T2, "cookie:a"),
        event("e5", T3, "cookie:other"),
    )
    service = CustomerService(store)
    cid = await owner(store, "cookie:a")
    page1 = await service.timeline(cid, 2, None)
    assert [e.event_id for e in page1.events] == ["e4", "e3"] and page1.has_next
    from app.services.customers import encode_cursor

    page2 = await service.timeline(cid, 2, encode_cursor(page1.events[-1].cursor))
    assert [e.event_id for e in page2.events] == ["e2", "e1"] and not page2.has_next
    assert {i.key for i in page2.events[1].identifiers} == {"cookie:a", "email:x@example.com"}


async def test_timeline_keeps_event_attributes(store):
    await ingest(
        store,
        event(
            "e1",
            T0,
            "cookie:a",
            type_="purchase",
            source="pos",
            properties={"amount": 12.5, "currency": "EUR"},
            traits={"first_name": "Ann"},
            consent={"email": True},
        ),
    )
    [record] = await store.timeline(await owner(store, "cookie:a"), 10, None)
    assert (record.type, record.source, record.timestamp) == (
        "purchase",
        "pos",
        "2024-03-01T10:00:00.000000Z",
    )
    assert record.properties == {"amount": 12.5, "currency": "EUR"}
    assert record.traits == {"first_name": "Ann"} and record.consent == {"email": True}


async def test_customer_pages_list_current_customers_in_id_order(store):
    await ingest(store, *[event(f"e{n}", T0, f"cookie:n{n}") for n in range(7)])
    await ingest(store, event("m", T1, "cookie:n0", "cookie:n1"))
    seen, after = [], None
    while page := await store.customer_page(after, 3):
        seen += page
        after = page[-1]
    assert len(seen) == 6 and seen == sorted(seen)


async def test_merge_of_three_customers_in_one_event(store):
    await ingest(
        store, event("e1", T0, "cookie:a"), event("e2", T1, "cookie:b"), event("e3", T2, "cookie:c")
    )
    a = await owner(store, "cookie:a")
    result = await ingest(store, event("e4", T3, "cookie:a", "cookie:b", "cookie:c"))
    assert result.merges == 2
    owners = await store.owners(["cookie:a", "cookie:b", "cookie:c"])
    assert set(owners.values()) == {a}
    assert len(await store.links_of(a)) == 3
