"""Queries over HTTP with the gql client, on SQLite and Neo4j."""

from __future__ import annotations

import json

from tests.api.data import ANNA_EMAIL, ANNA_PHONE, ANNA_TIMELINE, seed
from tests.helpers import raw_event

PROFILE = """query($id: ID!) { customer(id: $id) {
  id
  profile { traits { name value source observedAt rule observations } }
  consent { purpose granted source observedAt }
  identifiers { type value firstSeen lastSeen sources status }
  segments { segmentId }
} }"""


async def test_a_customer_is_found_by_id_by_any_spelling_and_in_batches(api):
    ids = await seed(api.services)
    found = await api.run("reader", """query($id: ID!, $phone: String!) {
        byId: customer(id: $id) { id }
        byPhone: customerByIdentifier(type: "phone", value: $phone) { id }
        byEmail: customerByIdentifier(type: "email", value: " Anna.deVries@EXAMPLE.com") { id }
        unknown: customerByIdentifier(type: "cookie", value: "never-seen") { id }
        missing: customer(id: "c_nope") { id }
    }""", id=ids["anna"], phone="06-12345678")
    assert found == {"byId": {"id": ids["anna"]}, "byPhone": {"id": ids["anna"]},
                     "byEmail": {"id": ids["anna"]}, "unknown": None, "missing": None}
    batch = await api.run("reader", """query($ids: [IdentifierInput!]!) {
        customers(identifiers: $ids) { id } }""", ids=[
        {"type": "cookie", "value": "ck_bob"}, {"type": "cookie", "value": "nobody"},
        {"type": "phone", "value": "0031612345678"}, {"type": "cookie", "value": "ck_carl"}])
    assert batch["customers"] == [{"id": ids["bob"]}, None, {"id": ids["anna"]},
                                  {"id": ids["carl"]}]


async def test_a_merged_customer_id_finds_the_survivor_with_its_merge_history(api):
    ids = await seed(api.services)
    done = await api.run("steward", """mutation($events: [JSON!]!) { ingestEvents(events: $events) {
        ... on IngestSuccess { stored merges affectedCustomers { id } } } }""",
                         events=[raw_event("web-3", "2024-03-02T10:00:00Z", "cookie:ck_carl",
                                           "cookie:ck_anna")])
    assert done["ingestEvents"]["merges"] == 1
    [survivor] = [c["id"] for c in done["ingestEvents"]["affectedCustomers"]]
    absorbed = ({ids["anna"], ids["carl"]} - {survivor}).pop()
    data = await api.run("reader", """query($id: ID!) { customer(id: $id) {
        id mergeHistory { kind at reason absorbedId survivorId eventId } } }""", id=absorbed)
    customer = data["customer"]
    assert customer["id"] == survivor
    # Anna's CRM record joined her cookie when she logged in (web-2), then web-3 tied Carl
    login, merge = customer["mergeHistory"]
    assert (login["kind"], login["eventId"], login["survivorId"]) == ("MERGE", "web-2", survivor)
    assert login["at"] < merge["at"]
    assert merge["kind"] == "MERGE" and merge["eventId"] == "web-3"
    assert (merge["absorbedId"], merge["survivorId"]) == (absorbed, survivor)
    assert merge["reason"]


async def test_the_profile_follows_the_survivorship_rules_with_source_and_time(api):
    ids = await seed(api.services)
    customer = (await api.run("steward", PROFILE, id=ids["anna"]))["customer"]
    traits = {t["name"]: t for t in customer["profile"]["traits"]}
    # the CRM outranks the web's later "Annie"
    assert traits["first_name"] | {"observations": 2} == {
        "name": "first_name", "value": "Anna", "source": "crm", "rule": "SOURCE_PRIORITY",
        "observedAt": "2024-01-02T10:00:00.000000Z", "observations": 2}
    assert traits["city"]["value"] == "Amsterdam" and traits["city"]["rule"] == "MOST_RECENT"
    # the most recent consent answer wins
    assert customer["consent"] == [{"purpose": "email_marketing", "granted": False,
                                    "source": "app", "observedAt": "2024-01-05T10:00:00.000000Z"}]
    identifiers = {(i["type"], i["value"]): i for i in customer["identifiers"]}
    assert set(identifiers) == {("cookie", "ck_anna"), ("crm_id", "C-1"), ("email", ANNA_EMAIL),
                                ("phone", ANNA_PHONE)}
    email = identifiers[("email", ANNA_EMAIL)]
    assert (email["firstSeen"], email["lastSeen"]) == ("2024-01-02T10:00:00.000000Z",
                                                       "2024-01-05T10:00:00.000000Z")
    assert set(email["sources"]) == {"crm", "web", "app"} and email["status"] == "ACTIVE"
    # no segment is defined
    assert customer["segments"] == []


TIMELINE = """query($id: ID!, $first: Int!, $after: String, $types: [String!],
                     $since: DateTime, $until: DateTime) {
  customer(id: $id) { timeline(first: $first, after: $after, types: $types, since: $since,
                               until: $until) {
    edges { cursor node { id eventId type timestamp source identifiers { type value } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""


async def test_the_timeline_pages_newest_first_and_filters_by_type_and_time(api):
    ids = await seed(api.services)
    seen, after = [], None
    while True:
        page = (await api.run("reader", TIMELINE, id=ids["anna"], first=2, after=after)
                )["customer"]["timeline"]
        seen += [e["node"]["eventId"] for e in page["edges"]]
        info = page["pageInfo"]
        assert (info["startCursor"], info["endCursor"]) == (page["edges"][0]["cursor"],
                                                            page["edges"][-1]["cursor"])
        assert info["hasPreviousPage"] == (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ANNA_TIMELINE

    async def ids_of(**filters):
        page = await api.run("reader", TIMELINE, id=ids["anna"], first=10, **filters)
        return [e["node"]["eventId"] for e in page["customer"]["timeline"]["edges"]]

    assert await ids_of(types=["page_view"]) == ["app-1", "web-1"]
    assert await ids_of(since="2024-01-02T10:00:00Z", until="2024-01-04T10:00:00Z") == [
        "web-2", "crm-1"]
    assert await ids_of(types=["purchase", "login"], since="2024-01-03T12:00:00+00:00") == [
        "pos-1"]


async def test_search_finds_customers_by_name_email_and_phone_best_first(api):
    ids = await seed(api.services)
    query = """query($q: String!, $first: Int!, $after: String) {
        searchCustomers(query: $q, first: $first, after: $after) {
            edges { cursor score matched node { id } } pageInfo { hasNextPage endCursor } } }"""
    by_name = (await api.run("steward", query, q="anna de vries", first=5))["searchCustomers"]
    assert by_name["edges"][0]["node"]["id"] == ids["anna"]
    by_email = (await api.run("steward", query, q="bob@example", first=5))["searchCustomers"]
    assert by_email["edges"][0]["node"]["id"] == ids["bob"]
    by_phone = (await api.run("steward", query, q="612345678", first=5))["searchCustomers"]
    assert by_phone["edges"][0]["node"]["id"] == ids["anna"]
    both = (await api.run("steward", query, q="anna bob", first=1))["searchCustomers"]
    assert both["pageInfo"]["hasNextPage"]
    rest = (await api.run("steward", query, q="anna bob", first=5,
                          after=both["pageInfo"]["endCursor"]))["searchCustomers"]
    assert {e["node"]["id"] for e in both["edges"] + rest["edges"]} == {ids["anna"], ids["bob"]}


async def test_an_identifier_shows_its_customer_links_and_status(api):
    ids = await seed(api.services)
    data = await api.run("steward", """{ identifier(type: "email", value: "bob@example.org") {
        type value status customerId customer { id } firstSeen sources
        links { a b status count sources sampleEventIds } }
        unknown: identifier(type: "cookie", value: "nobody") { status } }""")
    ident = data["identifier"]
    assert ident["status"] == "ACTIVE" and ident["customer"]["id"] == ids["bob"]
    assert {(link["a"], link["b"], link["status"]) for link in ident["links"]} == {
        ("cookie:ck_bob", "email:bob@example.org", "ACTIVE"),
        ("crm_id:C-2", "email:bob@example.org", "ACTIVE")}
    assert all(link["count"] == 1 and link["sampleEventIds"] for link in ident["links"])
    assert data["unknown"] is None


async def test_a_reader_sees_personal_data_masked_and_a_steward_sees_it_all(api):
    ids = await seed(api.services)
    query = """query($id: ID!) {
      customer(id: $id) {
        profile { traits { name value } }
        identifiers { type value }
        timeline(first: 10) { edges { node { eventId identifiers { type value } traits
                                               properties } } }
        identityGraph { nodes { key value } links { a b } }
        explain(type: "phone", value: "+31612345678") { identifier anchor path { a b } }
      }
      identifier(type: "email", value: "anna.devries@example.com") { value links { a b } }
      searchCustomers(query: "anna devries", first: 1) { edges { matched } }
    }"""
    reader = await api.run("reader", query, id=ids["anna"])
    text = json.dumps(reader)
    for secret in (ANNA_EMAIL, ANNA_PHONE, "de Vries", "1988-04-12", "1016 GV", "Anna\"",
                   "0612345678", "annadevries"):
        assert secret not in text, secret
    customer = reader["customer"]
    identifiers = {i["type"]: i["value"] for i in customer["identifiers"]}
    assert identifiers == {"cookie": "ck_anna", "crm_id": "C-1", "email": "a***@example.com",
                           "phone": "***5678"}
    traits = {t["name"]: t["value"] for t in customer["profile"]["traits"]}
    assert traits == {"first_name": "A.", "last_name": "d.", "birth_date": "1988",
                      "postcode": "***", "city": "Amsterdam"}
    pos = next(e["node"] for e in customer["timeline"]["edges"] if e["node"]["eventId"] == "pos-1")
    assert pos["properties"] == {"amount": 25, "note": "receipt sent to a***@example.com"}
    assert reader["identifier"]["value"] == "a***@example.com"

    steward = json.dumps(await api.run("steward", query, id=ids["anna"]))
    for secret in (ANNA_EMAIL, ANNA_PHONE, "de Vries", "1988-04-12", "1016 GV"):
        assert secret in steward, secret


async def test_explain_gives_the_evidence_path_and_the_graph_its_links(api):
    ids = await seed(api.services)
    data = await api.run("steward", """query($id: ID!) { customer(id: $id) {
        explain(type: "phone", value: "+31 6 1234 5678") { identifier customerId anchor
            path { a b status count sources sampleEventIds } stopped { a b } }
        unknown: explain(type: "cookie", value: "nobody") { identifier }
        identityGraph(depth: 0) { customerId depth truncated
            nodes { key type value status customerId hops }
            links { a b status count firstSeen lastSeen sources sampleEventIds } } } }""",
                         id=ids["anna"])
    explained = data["customer"]["explain"]
    assert explained["identifier"] == f"phone:{ANNA_PHONE}"
    assert explained["customerId"] == ids["anna"] and explained["anchor"] == "cookie:ck_anna"
    # phone -> (crm-1) -> email -> (web-2) -> cookie, the first-seen identifier
    hops = [(link["a"], link["b"]) for link in explained["path"]]
    assert hops[0][0] == f"phone:{ANNA_PHONE}" or hops[0][1] == f"phone:{ANNA_PHONE}"
    assert all(link["status"] == "ACTIVE" and link["sampleEventIds"] for link in
               explained["path"])
    assert explained["stopped"] == [] and data["customer"]["unknown"] is None
    graph = data["customer"]["identityGraph"]
    assert graph["customerId"] == ids["anna"] and not graph["truncated"]
    assert {n["key"] for n in graph["nodes"]} == {"cookie:ck_anna", "crm_id:C-1",
                                                  f"email:{ANNA_EMAIL}", f"phone:{ANNA_PHONE}"}
    assert all(n["hops"] == 0 and n["customerId"] == ids["anna"] for n in graph["nodes"])
    pairs = {(link["a"], link["b"]) for link in graph["links"]}
    assert ("cookie:ck_anna", f"email:{ANNA_EMAIL}") in pairs and len(pairs) == 4
