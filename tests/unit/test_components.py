"""A component read by a store is the same whatever was gathered with it."""

from __future__ import annotations

from app.domain.plan import Component, LinkFacts, StoredIdentifier
from app.stores.ports.graph import add_neighbours

T = "2024-03-01T10:00:00.000000Z"


def ident(key: str, customer: str | None) -> StoredIdentifier:
    return StoredIdentifier(key, "active", customer, T)


def component(customer: str, *keys: str) -> Component:
    found = Component(identifiers={k: ident(k, customer) for k in keys})
    found.links[("cookie:c0", "crm_id:C1")] = LinkFacts(
        "cookie:c0", "crm_id:C1", T, ("web",), "rejected", "limit")
    return found


def test_a_neighbour_owned_by_a_customer_gathered_with_it_stays_a_neighbour():
    alone = {"a": component("a", "cookie:c0")}
    add_neighbours(alone, {"crm_id:C1": ident("crm_id:C1", "b")})
    together = {"a": component("a", "cookie:c0"), "b": component("b", "crm_id:C1")}
    add_neighbours(together, {})
    assert together["a"].neighbours == alone["a"].neighbours == {
        "crm_id:C1": ident("crm_id:C1", "b")}
    assert together["b"].neighbours == {"cookie:c0": ident("cookie:c0", "a")}
