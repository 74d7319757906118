"""`read_customers`, the reads of a query's customer fields at once: each test runs on SQLite
and on Neo4j. It answers each part as the single reads answer it (identifiers_of,
profile_observations, timelines per window, segment_states)."""

from __future__ import annotations

from app.bootstrap import build_services
from app.config import Settings
from app.stores.values import CustomerData, CustomerReads, SegmentState, TimelineWindow
from tests.api.data import ANNA_TIMELINE, seed
from tests.contract.test_segment_store_contract import T0, VIP_C1, state

NEWEST_TWO = TimelineWindow(2)
OLDER_LOGINS = TimelineWindow(10, ("2024-01-05T00:00:00.000000Z", ""), ("login", "purchase"))
NONE_AT_ALL = TimelineWindow(0)
BETWEEN = TimelineWindow(10, since="2024-01-02T10:00:00.000000Z",
                         until="2024-01-04T10:00:00.000000Z")


async def seeded(store) -> dict[str, str]:
    ids = await seed(build_services(Settings(store=store.url), store=store))
    await store.save_segment_states({ids["anna"]: state(VIP_C1, checked_at=T0),
                                     ids["carl"]: SegmentState({}, T0)}, [])
    return ids


async def single_reads(store, reads: CustomerReads) -> CustomerData:
    return CustomerData(
        await store.identifiers_of(reads.identifiers),
        await store.profile_observations(reads.observations),
        {window: await store.timelines(ids, window.first, window.after, types=window.types,
                                       since=window.since, until=window.until)
         for window, ids in reads.timelines.items()},
        await store.segment_states(reads.segment_states))


async def test_every_part_answers_as_its_single_read(store):
    ids = await seeded(store)
    everyone = {ids["anna"], ids["bob"], ids["carl"], "c_nobody"}
    reads = CustomerReads(identifiers=set(everyone), observations=set(everyone),
                          timelines={NEWEST_TWO: set(everyone), OLDER_LOGINS: {ids["anna"]},
                                     NONE_AT_ALL: {ids["bob"]}, BETWEEN: set(everyone)},
                          segment_states=set(everyone))
    data = await store.read_customers(reads)
    assert data == await single_reads(store, reads)
    anna = ids["anna"]
    assert [r.key for r in data.identifiers[anna]] == sorted(r.key for r in data.identifiers[anna])
    assert "c_nobody" not in data.identifiers and "c_nobody" not in data.observations
    assert [e.event_id for e in data.timelines[NEWEST_TWO][anna]] == ANNA_TIMELINE[:2]
    assert [e.event_id for e in data.timelines[OLDER_LOGINS][anna]] == ["pos-1", "web-2"]
    assert [e.event_id for e in data.timelines[BETWEEN][anna]] == ["web-2", "crm-1"]
    assert data.timelines[NONE_AT_ALL] == {}
    assert {o.event_id for o in data.observations[anna]} == {"crm-1", "web-2", "app-1"}
    assert data.segment_states == {anna: state(VIP_C1, checked_at=T0),
                                   ids["carl"]: SegmentState({}, T0)}


async def test_an_empty_request_reads_nothing(store):
    await seeded(store)
    assert await store.read_customers(CustomerReads()) == CustomerData()


async def test_parts_read_only_what_they_name(store):
    ids = await seeded(store)
    data = await store.read_customers(CustomerReads(segment_states={ids["anna"]},
                                                    timelines={NEWEST_TWO: {ids["carl"]}}))
    assert (data.identifiers, data.observations) == ({}, {})
    assert list(data.segment_states) == [ids["anna"]]
    assert [e.event_id for e in data.timelines[NEWEST_TWO][ids["carl"]]] == ["web-c1"]
