"""Linking rules in the pure core: blocked values, limits, priority, hubs, bans, splits."""

from __future__ import annotations

import itertools

import pytest

from app.domain.identifiers import Identifier
from app.domain.plan import (
    BANNED,
    REJECTED,
    REMOVED,
    Component,
    CustomerInfo,
    LinkFacts,
    Snapshot,
    StoredIdentifier,
)
from app.domain.resolution import partition, plan_ingest
from app.domain.rules import Rules, RulesError
from tests.helpers import event

NOW = "2024-06-01T00:00:00.000000Z"
RULES = Rules.default()


def types(*keys):
    return {k: k.partition(":")[0] for k in keys}


def groups(result):
    return sorted(sorted(g) for g in result.groups)


@pytest.mark.parametrize("ident", [
    Identifier("email", "test@test.com"), Identifier("email", "noreply@shop.example"),
    Identifier("email", "No-Reply@x.com"), Identifier("crm_id", "unknown"),
    Identifier("cookie", "N/A"), Identifier("phone", "+31600000000"),
    Identifier("device_id", "00000000-0000-0000-0000-000000000000"),
])
def test_default_rules_block_placeholder_values(ident):
    assert RULES.blocked_by(ident) is not None


def test_default_rules_let_real_values_through():
    for ident in [Identifier("email", "ann@shop.example"), Identifier("phone", "+31612345678"),
                  Identifier("cookie", "ck_123")]:
        assert RULES.blocked_by(ident) is None


def test_a_blocked_identifier_is_stored_without_a_customer_and_links_nothing():
    plan = plan_ingest([event("e1", "2024-01-01T00:00:00Z", "email:test@test.com", "cookie:a"),
                        event("e2", "2024-01-02T00:00:00Z", "email:test@test.com", "cookie:b")],
                       Snapshot(), NOW, RULES)
    owners = {d.key: d.customer_id for d in plan.identifiers}
    assert owners["email:test@test.com"] is None
    assert owners["cookie:a"] != owners["cookie:b"]
    blocked = next(d for d in plan.identifiers if d.key == "email:test@test.com")
    assert blocked.status == "blocked" and "test@test.com" in blocked.reason
    assert {(link.status, "blocked" in link.reason) for link in plan.links} == {(REJECTED, True)}


def test_limit_keeps_two_crm_customers_apart_on_a_shared_tablet():
    nodes = types("crm_id:A", "email:a@x.com", "device_id:tab", "email:b@x.com", "crm_id:B")
    links = [LinkFacts("crm_id:A", "email:a@x.com", "2024-01-01", ("crm",)),
             LinkFacts("crm_id:B", "email:b@x.com", "2024-01-01", ("crm",)),
             LinkFacts("device_id:tab", "email:a@x.com", "2024-01-02", ("app",)),
             LinkFacts("device_id:tab", "email:b@x.com", "2024-01-03", ("app",))]
    result = partition(nodes, links, [], RULES)
    assert groups(result) == [["crm_id:A", "device_id:tab", "email:a@x.com"],
                              ["crm_id:B", "email:b@x.com"]]
    status, reason = result.decisions[("device_id:tab", "email:b@x.com")]
    assert status == REJECTED and "limit: at most 1 crm_id" in reason


def test_the_partition_does_not_depend_on_the_order_of_links():
    nodes = types("crm_id:A", "email:a@x.com", "device_id:tab", "email:b@x.com", "crm_id:B",
                  "cookie:c")
    links = [LinkFacts("crm_id:A", "email:a@x.com", "2024-01-05", ("crm",)),
             LinkFacts("crm_id:B", "email:b@x.com", "2024-01-01", ("crm",)),
             LinkFacts("device_id:tab", "email:a@x.com", "2024-01-02", ("app",)),
             LinkFacts("device_id:tab", "email:b@x.com", "2024-01-03", ("app",)),
             LinkFacts("cookie:c", "device_id:tab", "2024-01-04", ("web",))]
    outcomes = {str(groups(partition(nodes, order, [], RULES)))
                for order in itertools.permutations(links)}
    assert len(outcomes) == 1


def test_stronger_evidence_wins_a_conflict_over_older_weaker_evidence():
    nodes = types("crm_id:A", "crm_id:B", "email:x@x.com")
    links = [LinkFacts("crm_id:A", "email:x@x.com", "2024-01-01", ("web",)),
             LinkFacts("crm_id:B", "email:x@x.com", "2024-02-01", ("crm",))]
    result = partition(nodes, links, [], RULES)
    assert ["crm_id:B", "email:x@x.com"] in groups(result)


def test_a_ban_keeps_a_pair_apart_even_through_other_links():
    nodes = types("cookie:a", "cookie:b", "email:x@x.com")
    links = [LinkFacts("cookie:a", "email:x@x.com", "2024-01-01", ("web",)),
             LinkFacts("cookie:b", "email:x@x.com", "2024-01-02", ("web",))]
    result = partition(nodes, links, [("cookie:a", "cookie:b")], RULES)
    assert groups(result) == [["cookie:a", "email:x@x.com"], ["cookie:b"]]
    assert "ban" in result.decisions[("cookie:b", "email:x@x.com")][1]


def test_removed_and_banned_links_stay_out():
    nodes = types("cookie:a", "cookie:b")
    for status in (REMOVED, BANNED):
        result = partition(nodes, [LinkFacts("cookie:a", "cookie:b", "t", (), status, "x")], [],
                           RULES)
        assert len(result.groups) == 2 and result.decisions[("cookie:a", "cookie:b")][0] == status


def test_an_identifier_tying_many_people_is_quarantined_as_a_hub():
    events = [event(f"e{n}", f"2024-01-01T00:00:{n:02}Z", "phone:+31207654321",
                    f"email:p{n}@x.com") for n in range(20)]
    plan = plan_ingest(events, Snapshot(), NOW, RULES)
    hub = next(d for d in plan.identifiers if d.key == "phone:+31207654321")
    assert hub.status == "quarantined" and "hub" in hub.reason
    people = {d.customer_id for d in plan.identifiers if d.key.startswith("email:")}
    assert len(people) == 20


def test_a_stored_identifier_that_becomes_a_hub_splits_its_customer():
    hub, a, b = "phone:+31207654321", "email:a@x.com", "email:b@x.com"
    component = Component(
        identifiers={k: StoredIdentifier(k, "active", "c1", "2024-01-01") for k in (hub, a, b)},
        links={(a, hub): LinkFacts(a, hub, "2024-01-01", ("web",), "active"),
               (b, hub): LinkFacts(b, hub, "2024-01-01", ("web",), "active")},
    )
    snapshot = Snapshot(owners={hub: "c1"}, customers={"c1": CustomerInfo("c1", "2024-01-01")},
                        degrees={hub: 15}, components={"c1": component})
    plan = plan_ingest([event("e", "2024-02-01T00:00:00Z", hub, "email:new@x.com")], snapshot,
                       NOW, RULES)
    assert plan.moves[hub] is None
    assert [s.customer_id for s in plan.splits] == ["c1"]
    assert [(s.key, s.status) for s in plan.statuses] == [(hub, "quarantined")]


def test_a_batch_breaking_a_limit_asks_for_the_whole_components():
    from app.domain.plan import NeedComponents

    snapshot = Snapshot(owners={"crm_id:A": "c1"},
                        customers={"c1": CustomerInfo("c1", "2024-01-01")},
                        type_counts={"c1": {"crm_id": 1}})
    with pytest.raises(NeedComponents) as info:
        plan_ingest([event("e", "2024-02-01T00:00:00Z", "crm_id:A", "crm_id:B")], snapshot, NOW,
                    RULES)
    assert info.value.customer_ids == {"c1"}


def test_rules_files_are_checked_and_name_the_fault():
    with pytest.raises(RulesError, match="limits.crm_id"):
        Rules.from_toml("[limits]\ncrm_id = 0\n")
    with pytest.raises(RulesError, match="unknown section"):
        Rules.from_toml("[limit]\ncrm_id = 1\n")
    with pytest.raises(RulesError, match="TOML"):
        Rules.from_toml("[limits\n")
    custom = Rules.from_toml('[blocked]\nphone = ["06-00000000"]\n[limits]\nemail = 2\n')
    assert custom.blocked_by(Identifier("phone", "+31600000000")) is not None
    assert custom.limits == {"email": 2}
