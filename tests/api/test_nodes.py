"""Relay's Node: every type that implements it is refetched by its global id with
`node(id)` and `nodes(ids)`, on SQLite and Neo4j, as the field that gave it out shows it
to the caller; a bad id is null and an error with `extensions.code`, never a 500."""

from __future__ import annotations

import base64

import pytest

from app.domain.steward import Action
from tests.api.data import ANNA_EMAIL, seed

# Identifier.status and Link.status are two enums: one selection set takes them under two names
FIELDS = """__typename id
  ... on Customer { profile { traits { name value } } }
  ... on Identifier { type value status }
  ... on IdentifierInfo { type value status customerId }
  ... on Link { a b linkStatus: status }
  ... on Event { eventId type properties }
  ... on AuditEntry { seq action target }"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ {FIELDS} }} }}"
NODES = f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {FIELDS} }} }}"
# Each kind of node as a field gives it out.
SOURCES = """query($id: ID!, $type: String!, $value: String!) {
  customer(id: $id) { __typename id profile { traits { name value } }
    identifiers { __typename id type value status }
    timeline(first: 2) { edges { node { __typename id eventId type properties } } } }
  identifier(type: $type, value: $value) { __typename id type value status customerId
    links { __typename id a b linkStatus: status } } }"""


async def sources(api, role: str, ids: dict[str, str]) -> list[dict]:
    data = await api.run(role, SOURCES, id=ids["anna"], type="email", value=ANNA_EMAIL)
    customer, identifier = data["customer"], data["identifier"]
    links = identifier.pop("links")
    return [
        {k: v for k, v in customer.items() if k not in ("identifiers", "timeline")},
        *customer["identifiers"], *(e["node"] for e in customer["timeline"]["edges"]),
        identifier, *links]


@pytest.mark.parametrize("role", ["reader", "steward"])
async def test_every_node_refetched_by_its_id_is_what_its_field_gave(api, role):
    ids = await seed(api.services)
    given = await sources(api, role, ids)
    assert {n["__typename"] for n in given} == {"Customer", "Identifier", "IdentifierInfo",
                                                 "Event", "Link"}
    assert len({n["id"] for n in given}) == len(given)  # unique across every type
    for node in given:
        assert (await api.run(role, NODE, id=node["id"]))["node"] == node
    refetched = (await api.run(role, NODES, ids=[n["id"] for n in given]))["nodes"]
    assert refetched == given
    again = await sources(api, role, ids)
    assert [n["id"] for n in again] == [n["id"] for n in given]  # stable


async def test_a_readers_ids_say_nothing_of_personal_values_and_refetch_masked(api):
    ids = await seed(api.services)
    given = await sources(api, "reader", ids)
    for node in given:
        decoded = base64.b64decode(node["id"] + "==").decode(errors="replace") \
            if not node["id"].startswith("c_") else node["id"]
        assert "anna" not in decoded and "devries" not in decoded and "5678" not in decoded
    email = next(n for n in given if n["__typename"] == "IdentifierInfo")
    assert email["value"] != ANNA_EMAIL  # masked, as identifier() shows it to a reader
    assert (await api.run("reader", NODE, id=email["id"]))["node"]["value"] == email["value"]
    steward = next(n for n in await sources(api, "steward", ids)
                   if n["__typename"] == "IdentifierInfo")
    assert steward["id"] == email["id"] and steward["value"] == ANNA_EMAIL


async def test_an_audit_entry_is_a_node_for_stewards_only(api):
    await seed(api.services)
    await api.services.steward.act(Action("quarantine", "sam", "shared", ("cookie:ck_carl",)))
    log = """{ auditLog(first: 1) { ... on AuditConnection { edges { node {
                 __typename id seq action target } } } } }"""
    [edge] = (await api.run("steward", log))["auditLog"]["edges"]
    entry = edge["node"]
    assert (await api.run("steward", NODE, id=entry["id"]))["node"] == entry
    refused = await api.fails("reader", NODE, id=entry["id"])
    assert refused.data == {"node": None}
    assert refused.errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert refused.errors[0]["path"] == ["node"]


@pytest.mark.parametrize(("bad", "code"), [
    ("nonsense", "BAD_USER_INPUT"),
    ("", "BAD_USER_INPUT"),
    (base64.b64encode(b"Review:1").decode(), "BAD_USER_INPUT"),  # not a Node type
    (base64.b64encode(b"Identifier:forged").decode(), "BAD_USER_INPUT"),  # not sealed
    (base64.b64encode(b"AuditEntry:x1").decode(), "BAD_USER_INPUT"),
    (base64.b64encode(b"AuditEntry:99999").decode(), "NOT_FOUND"),
    ("c_0000000000000000", "NOT_FOUND"),
])
async def test_a_bad_or_unknown_id_is_null_and_a_coded_error(api, bad, code):
    await seed(api.services)
    failed = await api.fails("steward", NODE, id=bad)
    assert failed.data == {"node": None}
    [error] = failed.errors
    assert error["extensions"]["code"] == code
    assert error["message"].startswith("id: ")


async def test_one_bad_id_of_many_fails_alone(api):
    ids = await seed(api.services)
    failed = await api.fails("reader", NODES, ids=[ids["anna"], "nonsense", ids["bob"]])
    nodes = failed.data["nodes"]
    assert [n and n["id"] for n in nodes] == [ids["anna"], None, ids["bob"]]
    [error] = failed.errors
    assert (error["path"], error["extensions"]["code"]) == (["nodes", 1], "BAD_USER_INPUT")
    assert error["message"].startswith("ids[1]: ")


async def test_an_id_merged_away_or_erased_names_what_became_of_it(api):
    ids = await seed(api.services)
    await api.services.steward.act(Action("merge", "sam", "same", (),
                                          customers=(ids["bob"], ids["carl"])))
    survivor = (await api.run("reader", "query($id: ID!) { customer(id: $id) { id } }",
                              id=ids["carl"]))["customer"]["id"]
    absorbed = ids["carl"] if survivor == ids["bob"] else ids["bob"]
    failed = await api.fails("reader", NODE, id=absorbed)
    assert failed.data == {"node": None}
    assert failed.errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert survivor in failed.errors[0]["message"]
    assert (await api.run("reader", NODE, id=survivor))["node"]["id"] == survivor


async def test_an_event_id_is_not_its_event_id_and_finds_it(api):
    ids = await seed(api.services)
    query = """query($id: ID!) { customer(id: $id) { timeline(first: 10) {
                 edges { node { id eventId } } } } }"""
    edges = (await api.run("steward", query, id=ids["anna"]))["customer"]["timeline"]["edges"]
    for edge in edges:
        assert edge["node"]["id"] != edge["node"]["eventId"]
        found = (await api.run("steward", NODE, id=edge["node"]["id"]))["node"]
        assert found["eventId"] == edge["node"]["eventId"]


async def test_nodes_costs_what_its_ids_ask_for(api_with, store):
    async with api_with(store, api_max_cost=30) as api:
        ids = await seed(api.services)
        query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
        assert len((await api.run("reader", query, ids=[ids["anna"]] * 20))["nodes"]) == 20
        refused = await api.fails("reader", query, ids=[ids["anna"]] * 40)
        assert refused.errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
