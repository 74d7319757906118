"""A steward's split, on every store: the component is decided again whole, so a link the
per-type limit rejected only because of the part split off links once that part is gone
(docs/resolution.md: a split removes the links between the part and the rest, and only a
ban keeps a pair apart for good)."""

from __future__ import annotations

import random

import pytest

from app.domain.steward import Action
from tests.helpers import event
from tests.histories import Done, export, play, services_of

SPLIT_AT = "2024-03-02T10:00:00Z"
EVENTS = [
    *(event(f"e{n}", f"2024-03-01T0{n}:00:00Z", "cookie:c0") for n in range(5)),
    event("e9", "2024-03-01T10:00:00Z", "cookie:c0", "crm_id:C0", "crm_id:C1"),
]


def groups(customers: dict[str, list[str]]) -> list[list[str]]:
    return sorted(keys for keys in customers.values() if keys)


@pytest.mark.parametrize("seed", range(3))  # batches and their order vary with the seed
async def test_a_split_lets_the_link_the_limit_rejected_join_the_rest(store, seed):
    services = services_of(store)
    split = Action("split", "sam", "not the same person", ("crm_id:C0",))
    # one crm_id per customer: the equally strong links of c0 to C0 and C1 are taken in
    # key order, so C0 joins c0 and C1 stays alone
    await play(services, EVENTS, [], random.Random(seed), done=[])
    assert groups(await export(store)) == [["cookie:c0", "crm_id:C0"], ["crm_id:C1"]]

    await play(services, [], [], random.Random(seed), done=[Done(SPLIT_AT, action=split)])

    # the split removed c0-C0 only; c0-C1 no longer joins two crm_ids, so it links, and
    # C0-C1 still would
    assert groups(await export(store)) == [["cookie:c0", "crm_id:C1"], ["crm_id:C0"]]
    owner = (await store.owners(["cookie:c0"]))["cookie:c0"]
    statuses = {(link.a, link.b): link.status for link in await store.links_of(owner)}
    assert statuses == {("cookie:c0", "crm_id:C0"): "removed",
                        ("cookie:c0", "crm_id:C1"): "active",
                        ("crm_id:C0", "crm_id:C1"): "rejected"}
