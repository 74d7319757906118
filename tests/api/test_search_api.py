"""`searchCustomers` over HTTP, on every store: a typo still finds the customer, a minimum
score leaves weak results out, every result can be paged to, and customers of one name are
told apart by their city or a contact masked for readers."""

from __future__ import annotations

from tests.api.data import ANNA_EMAIL, seed
from tests.helpers import raw_event

SEARCH = """query($q: String!, $first: Int! = 10, $after: String, $min: Float! = 0) {
  searchCustomers(query: $q, first: $first, after: $after, minScore: $min) {
    edges { score matched hint node { id } } pageInfo { hasNextPage endCursor } } }"""

NAMESAKES = [
    raw_event("j-1", "2024-04-01T10:00:00Z", "crm_id:J-1", type_="crm_record", source="crm",
              traits={"first_name": "Jan", "last_name": "Smit", "city": "Utrecht"}),
    raw_event("j-2", "2024-04-02T10:00:00Z", "crm_id:J-2", "email:jan.smit@example.net",
              type_="crm_record", source="crm", traits={"first_name": "Jan",
                                                        "last_name": "Smit"}),
]
MANY = [raw_event(f"k-{n}", f"2024-05-01T10:{n:02}:00Z", f"crm_id:K-{n}", type_="crm_record",
                  source="crm", traits={"first_name": "Kim", "last_name": "Jansen"})
        for n in range(13)]


async def ids_found(api, role: str = "reader", **variables) -> list[str]:
    page = (await api.run(role, SEARCH, **variables))["searchCustomers"]
    return [e["node"]["id"] for e in page["edges"]]


async def test_an_e_mail_or_a_phone_number_with_one_typo_finds_the_customer(api):
    ids = await seed(api.services)
    for typo in ("anna.devires@example.com", "ana.devries@example.com",
                 "anna.devries@exmaple.com", "+31612345687"):
        assert (await ids_found(api, q=typo))[:1] == [ids["anna"]], typo


async def test_a_minimum_score_leaves_weak_results_out_and_is_bounded(api):
    ids = await seed(api.services)
    everything = await ids_found(api, q="anna bob")
    assert {ids["anna"], ids["bob"]} <= set(everything)
    close = (await api.run("reader", SEARCH, q=ANNA_EMAIL, min=95))["searchCustomers"]
    assert [e["node"]["id"] for e in close["edges"]] == [ids["anna"]]
    assert all(e["score"] >= 95 for e in close["edges"])
    failed = await api.fails("reader", SEARCH, q="anna", min=101)
    assert failed.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert failed.errors[0]["message"].startswith("minScore:")


async def test_every_result_can_be_paged_to(api):
    await api.services.ingest.ingest_raw((e["event_id"], e) for e in MANY)
    first = (await api.run("reader", SEARCH, q="kim jansen"))["searchCustomers"]
    assert len(first["edges"]) == 10 and first["pageInfo"]["hasNextPage"]
    rest = (await api.run("reader", SEARCH, q="kim jansen",
                          after=first["pageInfo"]["endCursor"]))["searchCustomers"]
    assert len(rest["edges"]) == 3 and not rest["pageInfo"]["hasNextPage"]
    assert len({e["node"]["id"] for e in first["edges"] + rest["edges"]}) == 13


async def test_namesakes_are_told_apart_by_city_or_a_contact_masked_for_readers(api):
    result = await api.services.ingest.ingest_raw((e["event_id"], e) for e in NAMESAKES)
    assert not result.problems
    for role, contact in (("reader", "j***@example.net"), ("steward", "jan.smit@example.net")):
        page = (await api.run(role, SEARCH, q="jan smit"))["searchCustomers"]
        assert sorted(e["hint"] for e in page["edges"]) == sorted(["Utrecht", contact]), role
