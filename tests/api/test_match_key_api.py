"""`Link.matchKey` over HTTP, on every store: a MATCHED link made by a trained matcher reads
its comparisons in one line (`+FIRST_NAME+BIRTH_DATE...`), readers included (the key names
comparisons, not values); a link from events has none."""

from __future__ import annotations

from tests.contract.test_matching_contract import dataset
from tests.helpers import ingest_trained, raw_event

GRAPH = """query($id: ID!) { customer(id: $id) { identityGraph(depth: 0) {
  links { a b weights matchKey } } } }"""


async def test_a_matched_link_reads_its_comparisons_as_a_match_key(api):
    _, events = dataset()
    services = api.services
    await ingest_trained(services, events)
    owners = await services.store.owners(["crm_ref:r0", "crm_ref:r1000"])
    assert owners["crm_ref:r0"] == owners["crm_ref:r1000"]
    keys = {}
    for role in ("steward", "reader"):
        graph = (await api.run(role, GRAPH, id=owners["crm_ref:r0"]))["customer"]
        [link] = graph["identityGraph"]["links"]
        keys[role] = link["matchKey"]
        if role == "steward":
            weights = link["weights"]["weights"]
    key = keys["steward"]
    # the duplicate shares first name and birth date: evidence for one person
    assert key.startswith("+") and "+FIRST_NAME" in key and "+BIRTH_DATE" in key
    for name, weight in weights.items():
        token = f"{'+' if weight > 0 else '-'}{name.upper()}"
        assert (token in key) == (weight != 0), (name, weight, key)
    assert keys["reader"] == key


READER_VIEW = """query($id: ID!) { customer(id: $id) {
  profile { traits { name value } }
  identityGraph(depth: 0) { links { weights } } } }"""


async def test_a_reader_gets_a_matched_links_weights_as_numbers_and_personal_values_masked(api):
    people, events = dataset()
    services = api.services
    await ingest_trained(services, events)
    cid = (await services.store.owners(["crm_ref:r0"]))["crm_ref:r0"]
    seen = {role: (await api.run(role, READER_VIEW, id=cid))["customer"]
            for role in ("steward", "reader")}
    [stewards], [readers] = (seen[r]["identityGraph"]["links"] for r in ("steward", "reader"))
    assert readers["weights"] == stewards["weights"]
    weights = readers["weights"]["weights"]
    assert {"first_name", "birth_date", "postcode"} <= weights.keys()
    assert all(isinstance(w, int | float) for w in weights.values()), weights
    assert isinstance(readers["weights"]["score"], int | float)
    traits = {t["name"]: t["value"] for t in seen["reader"]["profile"]["traits"]}
    person = people[0]
    assert traits["first_name"] == f"{person['first_name'][0]}."
    assert traits["birth_date"] == person["birth_date"][:4]
    assert traits["postcode"] == "***"


async def test_a_link_from_events_has_no_match_key(api):
    services = api.services
    await services.ingest.ingest_raw([("1", raw_event(
        "e1", "2024-01-01T00:00:00Z", "email:a@example.com", "cookie:ck_1"))])
    owner = (await services.store.owners(["email:a@example.com"]))["email:a@example.com"]
    graph = (await api.run("steward", GRAPH, id=owner))["customer"]
    [link] = graph["identityGraph"]["links"]
    assert link["weights"] is None and link["matchKey"] is None
