"""The profile read model on every store: after random histories of ingests (merges,
splits through late evidence), steward actions (link, unlink, ban, merge, split,
quarantine, release, undo), erasures and segment changes, every customer's document
answers exactly what the graph reads answer, and no customer without identifiers keeps
one."""

from __future__ import annotations

import asyncio
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.profile import Observation
from app.domain.steward import Action
from app.services.views import Views
from app.stores.base import IdentityStore
from app.stores.readmodel import DOCUMENT_WINDOW, document_reads, serve
from app.stores.values import CustomerData, TimelineWindow
from tests.conftest import make_store
from tests.helpers import event
from tests.histories import (
    ACTION_MOMENTS,
    HUB_EMAILS,
    KINDS,
    POOL,
    build,
    events_strategy,
    play,
    services_of,
)

SEGMENTS = {"seen": "count(page_view) >= 1", "regular": "count(page_view) >= 3",
            "named": "has(first_name)"}
# steward actions, erasures ("forget") among them
planned_strategy = st.lists(
    st.tuples(st.sampled_from(ACTION_MOMENTS), st.sampled_from((*KINDS, "forget"))),
    max_size=6)


async def every_id(store: IdentityStore) -> list[str]:
    """Every current customer, and every id merged into one or split off one."""
    current: list[str] = []
    after = None
    while page := await store.customer_page(after, 500):
        current += page
        after = page[-1]
    merges = await store.merges_into(current)
    splits = await store.splits_of(current)
    more = {x for found in merges.values() for m in found for x in (m.absorbed, m.survivor)}
    more |= {x for found in splits.values() for s in found for x in (s.customer_id, *s.parts)}
    return sorted(set(current) | more)


def observed(o: Observation) -> tuple[str, str]:
    return o.timestamp, o.event_id


def in_profile_order(data: CustomerData) -> CustomerData:
    data.observations = {c: sorted(o, key=observed) for c, o in data.observations.items()}
    return data


async def assert_documents_agree(store: IdentityStore) -> int:
    """Every customer's document answers the profile reads as the graph does (the first
    page, and a shorter one); a customer holding no identifier has none. The number of
    documents compared."""
    ids = await every_id(store)
    stored = await store.profile_documents(ids)
    reads = document_reads(ids)
    reads.timelines[TimelineWindow(3)] = set(ids)
    graph = await store.read_customers(reads)
    served, rest = serve(reads, stored)
    for cid in ids:
        if graph.identifiers.get(cid):
            assert cid in stored, f"{cid} holds identifiers and has no document"
        else:
            assert cid not in stored, f"{cid} holds no identifier and keeps a document"
    assert not (rest.identifiers & stored.keys())
    assert served.identifiers == {c: r for c, r in graph.identifiers.items() if c in stored}
    # in the order the profile reads them (the graph read's order is the store's)
    assert served.observations == {c: sorted(o, key=observed)
                                   for c, o in graph.observations.items() if c in stored}
    assert served.segment_states == {c: s for c, s in graph.segment_states.items()
                                     if c in stored}
    for window in (DOCUMENT_WINDOW, TimelineWindow(3)):
        assert served.timelines[window] == {c: e for c, e in graph.timelines[window].items()
                                            if c in stored}
    # customerByIdentifier's lookup: each identifier's owner with the owner's document
    keys = [*POOL, *HUB_EMAILS, "email:never@x.com"]
    owners = await store.owners(keys)
    assert await store.owner_documents(keys) == {k: (c, stored.get(c)) for k, c in owners.items()}
    return len(stored)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def test_documents_equal_the_graph_after_any_history(kind, tmp_path_factory):
    examples = int(os.environ.get("IDGRAPH_PROPERTY_EXAMPLES", 25 if kind == "sqlite" else 8))

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    # without segments no segment check rewrites a document: the plans' rewrites alone
    @given(drawn=events_strategy, with_hub=st.booleans(), planned=planned_strategy,
           seed=st.integers(0, 2**16), with_segments=st.booleans())
    def check(drawn, with_hub: bool, planned, seed: int, with_segments: bool) -> None:
        async def run() -> None:
            store = await make_store(kind, tmp_path_factory.mktemp("readmodel"))
            try:
                services = services_of(store)
                for name, text in SEGMENTS.items() if with_segments else ():
                    await services.segments.define(name, text)
                await play(services, build(drawn, with_hub), planned, random.Random(seed))
                await assert_documents_agree(store)
                for name, text in SEGMENTS.items() if not with_segments else ():
                    await services.segments.define(name, text)
                await services.segments.refresh()
                await assert_documents_agree(store)
                await services.segments.delete("regular")
                await assert_documents_agree(store)
            finally:
                await store.close()

        asyncio.run(run())

    check()


async def drop_documents(store: IdentityStore) -> None:
    """A store as one written before the read model holds it: no document."""
    if hasattr(store, "db"):
        store.db.execute("DELETE FROM profile_documents")
        return
    async with store.driver.session(database=store.database) as session:  # type: ignore[attr-defined]
        await session.run("MATCH (c:Customer) REMOVE c.profile_document")


async def test_without_documents_reads_go_to_the_graph_until_the_backfill(store):
    services = services_of(store)
    events = build([(["cookie:c1", "email:p1@x.com"], "2024-03-01T10:00:00Z", "web"),
                    (["cookie:c2"], "2024-03-02T10:00:00Z", "app"),
                    (["email:p1@x.com"], "2024-03-03T10:00:00Z", "crm")], with_hub=False)
    await services.segments.define("seen", SEGMENTS["seen"])
    await services.ingest.ingest(events)
    ids = await every_id(store)
    reads = document_reads(ids)
    reads.timelines[TimelineWindow(2, types=("page_view",))] = set(ids)
    expected = in_profile_order(await Views(store, read_model=False).customer_data(reads))
    assert len(expected.identifiers) == 2 and expected.segment_states
    assert in_profile_order(await Views(store).customer_data(reads)) == expected
    assert serve(reads, await store.profile_documents(ids))[1].identifiers == set()

    await drop_documents(store)
    assert await store.profile_documents(ids) == {}
    assert in_profile_order(await Views(store).customer_data(reads)) == expected
    assert await store.build_profile_documents(ids) == 2
    assert in_profile_order(await Views(store).customer_data(reads)) == expected
    assert await assert_documents_agree(store) == 2


async def test_a_document_quoting_an_erased_value_is_written_again(store):
    """After a split, an event of both parts sits on both first pages; erasing one part
    scrubs it from the other's document, which its own transaction writes again (from
    the graph, scrubbed), though the erasure's plan does not name that customer."""
    services = services_of(store)
    await services.ingest.ingest(build(
        [(["cookie:c1", "email:a@x.com"], "2024-03-01T10:00:00Z", "web"),
         (["cookie:c1", "email:b@x.com"], "2024-03-02T10:00:00Z", "crm")], with_hub=False))
    await services.steward.act(Action("split", "sam", "not the same person",
                                      ("email:b@x.com",)))
    owners = await store.owners(["cookie:c1", "email:b@x.com"])
    assert owners["cookie:c1"] != owners["email:b@x.com"]
    await services.privacy.forget(owners["cookie:c1"], "ann", "on request")
    assert owners["email:b@x.com"] in await store.profile_documents(
        [owners["email:b@x.com"]])
    assert await assert_documents_agree(store) == 1


async def test_a_document_holding_an_integer_beyond_64_bits_is_patched_exactly(store):
    """Such an integer only the standard library writes and reads back exactly: a
    document holding one, patched by the customer's next events, still answers as the
    graph does (read as a float, it would not)."""
    services = services_of(store)
    await services.ingest.ingest([event("big", "2024-03-01T10:00:00Z", "cookie:c1",
                                        "email:p1@x.com", traits={"points": 10**20})])
    await services.ingest.ingest([event("next", "2024-03-02T10:00:00Z", "cookie:c1",
                                        properties={"debt": -(2**63) - 1})])
    assert await assert_documents_agree(store) == 1
