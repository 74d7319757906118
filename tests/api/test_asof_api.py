"""`asOf` over HTTP, on every store: a customer and every field under it as of a moment."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.steward import Action
from tests.api.data import ANNA_EMAIL, seed
from tests.helpers import raw_event

BERT = [
    raw_event("web-x1", "2024-01-06T10:00:00Z", "cookie:ck_anna", "email:bert@example.org",
              type_="login", traits={"first_name": "Bert"}),
    raw_event("pos-x1", "2024-01-07T10:00:00Z", "email:bert@example.org", type_="purchase",
              source="pos", properties={"amount": 10}),
]
SPLIT_AT = datetime(2024, 1, 8, tzinfo=UTC)

CUSTOMER = """query($id: ID!, $asOf: DateTime) {
  customer(id: $id, asOf: $asOf) {
    id
    identifiers { type value firstSeen lastSeen sources }
    profile { traits { name value source observedAt } }
    consent { purpose granted observedAt }
    timeline(first: 20) { edges { node { eventId } } }
    segments { segmentId since why }
    mergeHistory { kind at parts }
    identityGraph(depth: 1) { nodes { key customerId } links { a b status } }
    explain(type: "email", value: "bert@example.org") { customerId anchor path { a b } }
  }
}"""


async def seeded(api) -> dict[str, str]:
    services = api.services
    await services.segments.define("buyers", "count(purchase) >= 1")
    ids = await seed(services)
    result = await services.ingest.ingest_raw((e["event_id"], e) for e in BERT)
    assert not result.problems
    services.steward.clock = lambda: SPLIT_AT
    done = await services.steward.act(Action("unlink", "sam", "Bert is someone else",
                                             ("cookie:ck_anna", "email:bert@example.org")))
    [(_, (bert,))] = done.splits
    return {**ids, "bert": bert}


async def test_a_customer_as_of_a_moment_answers_every_field_as_of_then(api):
    ids = await seeded(api)
    data = await api.run("steward", CUSTOMER, id=ids["anna"], asOf="2024-01-03T12:00:00Z")
    anna = data["customer"]
    assert anna["id"] == ids["anna"]
    assert [e["node"]["eventId"] for e in anna["timeline"]["edges"]] == [
        "web-2", "crm-1", "web-1"]
    assert sorted((i["type"], i["value"]) for i in anna["identifiers"]) == [
        ("cookie", "ck_anna"), ("crm_id", "C-1"), ("email", ANNA_EMAIL),
        ("phone", "+31612345678")]
    cookie = next(i for i in anna["identifiers"] if i["type"] == "cookie")
    assert cookie["lastSeen"] == "2024-01-03T10:00:00.000000Z"  # not the later visits
    traits = {t["name"]: (t["value"], t["source"]) for t in anna["profile"]["traits"]}
    assert traits["first_name"] == ("Anna", "crm")
    # she withdrew her consent two days later
    assert anna["consent"] == [{"purpose": "email_marketing", "granted": True,
                                "observedAt": "2024-01-02T10:00:00.000000Z"}]
    assert anna["segments"] == []  # her purchase came the next day
    # her login on the 3rd joined her cookie to her CRM record
    assert anna["mergeHistory"] == [{"kind": "MERGE", "at": "2024-01-03T10:00:00.000000Z",
                                     "parts": None}]
    assert anna["explain"] is None  # Bert was not seen yet
    bought = (await api.run("steward", CUSTOMER, id=ids["anna"],
                            asOf="2024-01-04T10:00:00Z"))["customer"]
    [buyers] = bought["segments"]
    assert (buyers["segmentId"], buyers["since"]) == ("buyers", "2024-01-04T10:00:00.000000Z")


async def test_before_a_split_the_customer_is_whole_and_after_it_split(api):
    ids = await seeded(api)
    whole = (await api.run("steward", CUSTOMER, id=ids["bert"],
                           asOf="2024-01-07T12:00:00Z"))["customer"]
    assert whole["id"] == ids["anna"]  # Bert's id came with the split: then he was Anna's
    assert ("email", "bert@example.org") in {(i["type"], i["value"])
                                             for i in whole["identifiers"]}
    assert whole["explain"]["customerId"] == ids["anna"]
    assert [link["status"] for link in whole["identityGraph"]["links"]
            if "bert" in link["b"] or "bert" in link["a"]] == ["ACTIVE"]
    after = (await api.run("steward", CUSTOMER, id=ids["anna"],
                           asOf="2024-01-08T00:00:00Z"))["customer"]
    assert "email" in {i["type"] for i in after["identifiers"]}
    assert "bert@example.org" not in {i["value"] for i in after["identifiers"]}
    [split] = [e for e in after["mergeHistory"] if e["kind"] == "SPLIT"]
    assert (split["kind"], split["at"], split["parts"]) == (
        "SPLIT", "2024-01-08T00:00:00.000000Z", [ids["bert"]])
    removed = {(link["a"], link["b"]): link["status"]
               for link in after["identityGraph"]["links"]}
    assert removed[("cookie:ck_anna", "email:bert@example.org")] == "REMOVED"
    bert = (await api.run("steward", CUSTOMER, id=ids["bert"],
                          asOf="2024-01-08T00:00:00Z"))["customer"]
    assert bert["id"] == ids["bert"]
    assert [s["segmentId"] for s in bert["segments"]] == ["buyers"]


async def test_by_identifier_as_of_and_before_the_first_event(api):
    ids = await seeded(api)
    query = """query($asOf: DateTime) {
      customerByIdentifier(type: "email", value: "BERT@example.org ", asOf: $asOf) { id }
    }"""
    assert (await api.run("reader", query, asOf="2024-01-06T10:00:00Z"))[
        "customerByIdentifier"] == {"id": ids["anna"]}
    assert (await api.run("reader", query, asOf="2024-01-09T00:00:00+01:00"))[
        "customerByIdentifier"] == {"id": ids["bert"]}
    assert (await api.run("reader", query, asOf="2024-01-05T00:00:00Z"))[
        "customerByIdentifier"] is None
    before = await api.run("reader", CUSTOMER, id=ids["anna"], asOf="2023-12-31T00:00:00Z")
    assert before == {"customer": None}


async def test_a_time_without_an_offset_is_refused_with_what_to_give(api):
    ids = await seeded(api)
    failed = await api.fails("reader", CUSTOMER, id=ids["anna"], asOf="2024-01-03T12:00:00")
    [error] = failed.errors
    assert error["message"] == ("asOf: 2024-01-03T12:00:00 has no offset; give one, as in "
                                "2024-01-03T12:00:00Z or 2024-01-03T12:00:00+01:00")
    assert error["path"] == ["customer"]
    failed = await api.fails("reader", CUSTOMER, id=ids["anna"], asOf="yesterday")
    assert "DateTime" in failed.errors[0]["message"]


async def test_a_reader_sees_a_customer_as_of_then_masked(api):
    ids = await seeded(api)
    data = await api.run("reader", CUSTOMER, id=ids["anna"], asOf="2024-01-03T12:00:00Z")
    text = str(data)
    assert data["customer"]["id"] == ids["anna"]
    for personal in (ANNA_EMAIL, "+31612345678", "Annie", "de Vries", "1988-04-12"):
        assert personal not in text
