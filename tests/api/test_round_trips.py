"""No N+1: the frontend profile query makes the same, small number of store calls for 5
customers as for 50. The store is wrapped in a counting proxy that delegates to the real
store (conftest.CountingStore), so this runs against SQLite and Neo4j themselves."""

from __future__ import annotations

from app.stores.base import IdentityStore
from tests.helpers import raw_event

FRONTEND = """query($ids: [IdentifierInput!]!) { customers(identifiers: $ids) {
  id
  profile { traits { name value source observedAt } }
  consent { purpose granted }
  identifiers { type value firstSeen lastSeen sources }
  timeline(first: 20) { edges { cursor node { eventId type timestamp source
                                              identifiers { type value } properties } }
                        pageInfo { hasNextPage endCursor } }
  segments { segmentId }
  mergeHistory { kind at }
} }"""
BY_ID = "query {{ {fields} }}"


def people(n: int) -> list[dict]:
    events = []
    for p in range(n):
        email, cookie = f"email:person{p}@example.com", f"cookie:ck{p}"
        events.append(raw_event(f"p{p}-crm", "2024-01-01T00:00:00Z", email, f"crm_id:P{p}",
                                source="crm", traits={"first_name": f"Name{p}", "city": "Delft"},
                                consent={"email_marketing": True}))
        events += [raw_event(f"p{p}-web{k}", f"2024-02-{k + 1:02d}T00:00:00Z", cookie, email)
                   for k in range(24)]
    return events


def single_reads(api, *names: str) -> dict[str, int]:
    """The customer fields' reads go through one read_customers: an adapter's own makes
    them in one round trip, the port's default makes the single reads (counted too), each
    once."""
    own = type(api.counting._store).read_customers is not IdentityStore.read_customers
    return {"read_customers": 1} if own else {"read_customers": 1, **dict.fromkeys(names, 1)}


async def calls_for(api, n: int) -> dict[str, int]:
    ids = [{"type": "cookie", "value": f"ck{p}"} for p in range(n)]
    api.counting.reset()
    data = await api.run("reader", FRONTEND, ids=ids)
    customers = data["customers"]
    assert len(customers) == n and all(customers)
    assert all(len(c["timeline"]["edges"]) == 20 and c["timeline"]["pageInfo"]["hasNextPage"]
               for c in customers)
    assert all(c["profile"]["traits"] and len(c["identifiers"]) == 3 for c in customers)
    return dict(api.counting.calls)


async def test_the_frontend_query_makes_the_same_few_store_calls_for_5_or_50_customers(api):
    result = await api.services.ingest.ingest_raw((e["event_id"], e) for e in people(50))
    assert result.stored == 50 * 25
    five, fifty = await calls_for(api, 5), await calls_for(api, 50)
    assert five == fifty, (five, fifty)
    # the owners and their profile documents in one lookup (app/stores/readmodel.py)
    assert fifty == {"owner_documents": 1, "merges_into": 1, "splits_of": 1}


async def test_without_the_read_model_the_fields_make_one_graph_read(store, api_with):
    async with api_with(store, api_read_model=False) as api:
        await api.services.ingest.ingest_raw((e["event_id"], e) for e in people(50))
        five, fifty = await calls_for(api, 5), await calls_for(api, 50)
    assert five == fifty, (five, fifty)
    assert fifty == {"owners": 1, "merges_into": 1, "splits_of": 1, **single_reads(
        api, "profile_observations", "identifiers_of", "timelines", "segment_states")}


async def test_a_selection_the_documents_do_not_hold_reads_the_graph_for_it_alone(api):
    await api.services.ingest.ingest_raw((e["event_id"], e) for e in people(5))
    ids = [{"type": "cookie", "value": f"ck{p}"} for p in range(5)]
    api.counting.reset()
    query = """query($ids: [IdentifierInput!]!) { customers(identifiers: $ids) {
      identifiers { type } timeline(first: 2, types: ["page_view"]) { edges { cursor } } } }"""
    data = await api.run("reader", query, ids=ids)
    assert all(len(c["timeline"]["edges"]) == 2 and len(c["identifiers"]) == 3
               for c in data["customers"])
    assert dict(api.counting.calls) == {"owner_documents": 1, **single_reads(api, "timelines")}


async def test_customers_fetched_by_id_under_aliases_are_batched_too(api):
    await api.services.ingest.ingest_raw((e["event_id"], e) for e in people(30))
    owners = await api.services.store.owners([f"cookie:ck{p}" for p in range(30)])

    async def calls(n: int) -> dict[str, int]:
        fields = " ".join(
            f'c{p}: customer(id: "{owners[f"cookie:ck{p}"]}") {{ id identifiers {{ type }} '
            f"timeline(first: 5) {{ edges {{ cursor }} }} profile {{ traits {{ name }} }} }}"
            for p in range(n))
        api.counting.reset()
        data = await api.run("reader", BY_ID.format(fields=fields))
        assert len(data) == n and all(data.values())
        return dict(api.counting.calls)

    assert await calls(3) == await calls(30) == {"current_ids": 1, "profile_documents": 1}
