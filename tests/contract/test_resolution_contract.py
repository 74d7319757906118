"""Rules, steward actions and explanations, on every store."""

from __future__ import annotations

import pytest

from app.domain.steward import Action, StewardError
from app.services.customers import CustomerService
from app.services.ingest import IngestService
from app.services.steward import StewardService
from app.services.verify import VerifyService
from tests.helpers import event

TABLET = [
    event("a1", "2024-01-01T00:00:00Z", "crm_id:A", "email:a@x.com", source="crm"),
    event("b1", "2024-01-02T00:00:00Z", "crm_id:B", "email:b@x.com", source="crm"),
    event("a2", "2024-01-03T00:00:00Z", "device_id:tab", "email:a@x.com", source="app"),
    event("b2", "2024-01-04T00:00:00Z", "device_id:tab", "email:b@x.com", source="app"),
]


async def ingest(store, *events):
    return await IngestService(store).ingest(list(events))


async def groups(store, keys):
    owners = await store.owners(keys)
    by_owner = {}
    for key in keys:
        by_owner.setdefault(owners.get(key), []).append(key)
    return sorted(sorted(v) for v in by_owner.values())


def steward(store):
    return StewardService(store)


KEYS = ["crm_id:A", "crm_id:B", "email:a@x.com", "email:b@x.com", "device_id:tab"]
EXPECTED = [["crm_id:A", "device_id:tab", "email:a@x.com"], ["crm_id:B", "email:b@x.com"]]


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 3, 0, 1]])
async def test_limits_give_the_same_customers_whatever_the_arrival_order(store, order):
    for index in order:
        await ingest(store, TABLET[index])
    assert await groups(store, KEYS) == EXPECTED
    cid = await store.owners(["crm_id:B"])
    [rejected] = [link for link in await store.links_of(cid["crm_id:B"])
                  if link.status == "rejected"]
    assert (rejected.a, rejected.b) == ("device_id:tab", "email:b@x.com")
    assert "at most 1 crm_id" in rejected.reason


async def test_limits_hold_within_one_batch(store):
    await ingest(store, *TABLET)
    assert await groups(store, KEYS) == EXPECTED


async def test_blocked_identifiers_are_kept_but_link_nothing(store):
    await ingest(store, event("e1", "2024-01-01T00:00:00Z", "email:test@test.com", "cookie:a"),
                 event("e2", "2024-01-02T00:00:00Z", "email:test@test.com", "cookie:b"))
    records = await store.identifiers(["email:test@test.com", "cookie:a"])
    blocked = records["email:test@test.com"]
    assert (blocked.status, blocked.customer_id) == ("blocked", None)
    assert "test@test.com" in blocked.reason
    owners = await store.owners(["cookie:a", "cookie:b"])
    assert owners["cookie:a"] != owners["cookie:b"]


async def test_a_hub_is_quarantined_and_its_customer_split(store):
    hub = "phone:+31207654321"
    await ingest(store, *[event(f"e{n}", f"2024-01-01T00:00:{n:02}Z", hub, f"email:p{n}@x.com")
                          for n in range(10)])
    assert len(set((await store.owners([f"email:p{n}@x.com" for n in range(10)])).values())) == 1
    await ingest(store, *[event(f"f{n}", f"2024-01-02T00:00:{n:02}Z", hub, f"email:q{n}@x.com")
                          for n in range(10)])
    record = (await store.identifiers([hub]))[hub]
    assert (record.status, record.customer_id) == ("quarantined", None)
    emails = [f"email:{p}{n}@x.com" for p in "pq" for n in range(10)]
    assert len(set((await store.owners(emails)).values())) == 20


async def test_unlink_with_a_ban_splits_and_the_pair_never_links_again(store):
    await ingest(store, event("e1", "2024-01-01T00:00:00Z", "cookie:a", "email:x@x.com"),
                 event("e2", "2024-01-02T00:00:00Z", "cookie:b", "email:x@x.com"),
                 event("e3", "2024-01-03T00:00:00Z", "cookie:b", "email:y@x.com"))
    cid = (await store.owners(["email:x@x.com"]))["email:x@x.com"]
    result = await steward(store).act(Action("unlink", "sam", "shared laptop",
                                             ("cookie:b", "email:x@x.com"), ban=True))
    assert result.splits and result.splits[0][0] == cid
    assert await groups(store, ["cookie:a", "email:x@x.com", "cookie:b", "email:y@x.com"]) == [
        ["cookie:a", "email:x@x.com"], ["cookie:b", "email:y@x.com"]]
    assert (await store.owners(["email:x@x.com"]))["email:x@x.com"] == cid  # largest keeps id
    await ingest(store, event("e4", "2024-01-04T00:00:00Z", "cookie:b", "email:x@x.com"))
    assert (await store.owners(["cookie:b"]))["cookie:b"] != cid
    splits = (await store.splits_of([cid]))[cid]
    assert splits[0].customer_id == cid and "sam" in splits[0].reason
    [audit] = await store.audit_log(10, None)
    assert (audit.actor, audit.action, audit.reason) == ("sam", "unlink", "shared laptop")
    [cut] = [link for link in await store.links_touching(["cookie:b"])
             if link.b == "email:x@x.com"]
    assert cut.status == "banned" and "sam" in cut.reason
    assert (await VerifyService(store).verify()).drift == []


async def test_unlink_without_a_ban_lets_new_evidence_link_again(store):
    await ingest(store, event("e1", "2024-01-01T00:00:00Z", "cookie:a", "email:x@x.com"))
    await steward(store).act(Action("unlink", "sam", "wrong", ("cookie:a", "email:x@x.com")))
    assert len(set((await store.owners(["cookie:a", "email:x@x.com"])).values())) == 2
    await ingest(store, event("e2", "2024-01-02T00:00:00Z", "cookie:a", "email:x@x.com"))
    assert len(set((await store.owners(["cookie:a", "email:x@x.com"])).values())) == 1


async def test_undo_restores_a_cut_and_lifts_its_ban(store):
    await ingest(store, event("e1", "2024-01-01T00:00:00Z", "cookie:a", "email:x@x.com"))
    service = steward(store)
    cut = await service.act(Action("unlink", "sam", "oops", ("cookie:a", "email:x@x.com"),
                                   ban=True))
    undone = await service.undo(cut.audit_seq, "sam", "my mistake")
    assert len(set((await store.owners(["cookie:a", "email:x@x.com"])).values())) == 1
    entry = await store.audit_entry(cut.audit_seq)
    assert entry.undone_by == undone.audit_seq
    [link] = await store.links_touching(["cookie:a"])
    assert (link.status, link.reason) == ("active", "")
    with pytest.raises(StewardError) as info:
        await service.undo(cut.audit_seq, "sam", "again")
    assert info.value.code == "ALREADY_UNDONE"


async def test_merge_customers_and_undo(store):
    await ingest(store, event("e1", "2024-01-01T00:00:00Z", "email:x@x.com"),
                 event("e2", "2024-01-02T00:00:00Z", "email:y@x.com"))
    owners = await store.owners(["email:x@x.com", "email:y@x.com"])
    service = steward(store)
    merged = await service.act(Action("merge", "sam", "same person per phone call",
                                      customers=(owners["email:y@x.com"], owners["email:x@x.com"])))
    assert merged.merges == [(owners["email:y@x.com"], owners["email:x@x.com"])]
    assert await store.current_ids([owners["email:y@x.com"]]) == {
        owners["email:y@x.com"]: owners["email:x@x.com"]}
    await service.undo(merged.audit_seq, "sam", "no, twins")
    assert len(set((await store.owners(["email:x@x.com", "email:y@x.com"])).values())) == 2


async def test_split_a_customer_and_undo(store):
    await ingest(store, event("e1", "2024-01-01T00:00:00Z", "cookie:a", "email:x@x.com"),
                 event("e2", "2024-01-02T00:00:00Z", "cookie:b", "cookie:a"),
                 event("e3", "2024-01-03T00:00:00Z", "cookie:b", "email:y@x.com"))
    service = steward(store)
    split = await service.act(Action("split", "sam", "two people",
                                     ("cookie:b", "email:y@x.com")))
    assert await groups(store, ["cookie:a", "email:x@x.com", "cookie:b", "email:y@x.com"]) == [
        ["cookie:a", "email:x@x.com"], ["cookie:b", "email:y@x.com"]]
    await service.undo(split.audit_seq, "sam", "one person after all")
    assert len(set((await store.owners(["cookie:a", "email:y@x.com"])).values())) == 1


async def test_quarantine_and_release(store):
    await ingest(store, event("e1", "2024-01-01T00:00:00Z", "cookie:a", "phone:+31612345678"),
                 event("e2", "2024-01-02T00:00:00Z", "cookie:b", "phone:+31612345678"))
    service = steward(store)
    await service.act(Action("quarantine", "sam", "shop phone", ("phone:+31612345678",)))
    assert len(set((await store.owners(["cookie:a", "cookie:b"])).values())) == 2
    assert (await store.identifiers(["phone:+31612345678"]))["phone:+31612345678"].status == (
        "quarantined")
    await service.act(Action("release", "sam", "mistake", ("phone:+31612345678",)))
    owners = await store.owners(["cookie:a", "cookie:b", "phone:+31612345678"])
    assert len(owners) == 3 and len(set(owners.values())) == 1


async def test_actions_refuse_with_a_code_and_change_nothing(store):
    await ingest(store, event("e1", "2024-01-01T00:00:00Z", "cookie:a", "email:x@x.com"))
    before = await store.stats()
    service = steward(store)
    cases = [
        (Action("unlink", "sam", "x", ("cookie:a", "cookie:zzz")), "UNKNOWN_IDENTIFIER"),
        (Action("unlink", "sam", "", ("cookie:a", "email:x@x.com")), "REASON_REQUIRED"),
        (Action("merge", "sam", "x", customers=("c_nope", "c_nope2")), "UNKNOWN_CUSTOMER"),
    ]
    for action, code in cases:
        with pytest.raises(StewardError) as info:
            await service.act(action)
        assert info.value.code == code
    assert await store.stats() == before and await store.audit_log(5, None) == []


async def test_the_rules_refuse_a_steward_link_that_breaks_a_limit(store):
    await ingest(store, *TABLET[:2])
    with pytest.raises(StewardError) as info:
        await steward(store).act(Action("link", "sam", "x", ("crm_id:A", "crm_id:B")))
    assert info.value.code == "RULE_BLOCKS_LINK"
    assert await groups(store, ["crm_id:A", "crm_id:B"]) == [["crm_id:A"], ["crm_id:B"]]


async def test_explain_gives_the_path_with_evidence_and_what_was_stopped(store):
    await ingest(store, *TABLET)
    await ingest(store, event("c1", "2024-01-05T00:00:00Z", "device_id:tab", "cookie:k"))
    explanation = await CustomerService(store).explain("cookie", "k")
    assert explanation.anchor == "crm_id:A"
    hops = [(link.a, link.b) for link in explanation.path]
    assert hops == [("cookie:k", "device_id:tab"), ("device_id:tab", "email:a@x.com"),
                    ("crm_id:A", "email:a@x.com")]
    assert explanation.path[0].event_ids == ("c1",)
    stopped = await CustomerService(store).explain("email", "b@x.com")
    assert [(link.a, link.status) for link in stopped.stopped] == [("device_id:tab", "rejected")]


async def test_a_review_item_accepted_links_and_rejected_closes(store):
    from app.domain.plan import Gather, Plan, ReviewItem

    await ingest(store, event("e1", "2024-01-01T00:00:00Z", "crm_id:R1"),
                 event("e2", "2024-01-01T00:00:00Z", "crm_id:R2"),
                 event("e3", "2024-01-01T00:00:00Z", "crm_id:R3"))

    def propose(_snapshot):
        plan = Plan()
        plan.reviews = [ReviewItem("crm_id:R1", "email:r2@x.com", 3.2, {"last_name": 2.0}, "t"),
                        ReviewItem("crm_id:R1", "crm_id:R3", 2.5, {}, "t")]
        return plan

    await store.transact(Gather(), propose)
    [first, second] = await store.reviews(10, None)
    assert (first.a, first.b, first.score, first.weights) == (
        "crm_id:R1", "email:r2@x.com", 3.2, {"last_name": 2.0})
    service = steward(store)
    with pytest.raises(StewardError) as info:
        await service.resolve_review(first.id, True, "sam", "same person")
    assert info.value.code == "UNKNOWN_IDENTIFIER"
    await service.resolve_review(second.id, False, "sam", "different people")
    assert [r.id for r in await store.reviews(10, None)] == [first.id]
    assert (await store.review(second.id)).status == "rejected"
