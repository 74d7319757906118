"""`idgraph resolve --verify/--repair` finds and fixes drifted customers on every store."""

from __future__ import annotations

from app.services.ingest import IngestService
from app.services.verify import VerifyService
from tests.helpers import event


async def test_a_consistent_graph_has_no_drift(store):
    await IngestService(store).ingest(
        [
            event("e1", "2024-01-01T00:00:00Z", "cookie:a", "email:a@x.com"),
            event("e2", "2024-01-02T00:00:00Z", "cookie:b"),
        ]
    )
    report = await VerifyService(store).verify()
    assert (report.identifiers, report.links, report.drift) == (3, 1, [])


async def test_drift_is_found_and_repaired(store, corrupt_owner):
    await IngestService(store).ingest(
        [
            event("e1", "2024-01-01T00:00:00Z", "cookie:a", "email:a@x.com"),
            event("e2", "2024-01-02T00:00:00Z", "cookie:b"),
        ]
    )
    owners = await store.owners(["cookie:a", "cookie:b"])
    await corrupt_owner(store, "email:a@x.com", owners["cookie:b"])  # a crash left it behind
    report = await VerifyService(store).verify()
    assert {d.problem.split(" ")[0] for d in report.drift} == {"one", owners["cookie:b"]}
    repaired = await VerifyService(store).verify(repair=True)
    assert repaired.repaired == len(report.drift)
    after = await store.owners(["cookie:a", "email:a@x.com", "cookie:b"])
    assert after["cookie:a"] == after["email:a@x.com"] != after["cookie:b"]
    assert (await VerifyService(store).verify()).drift == []


async def test_random_ingests_and_steward_actions_never_leave_drift(store):
    import random

    from app.domain.steward import Action, StewardError
    from app.services.steward import StewardService

    rng = random.Random(11)
    ingest, steward = IngestService(store), StewardService(store)
    keys = [f"cookie:c{n}" for n in range(30)] + [f"email:p{n}@x.com" for n in range(12)]
    keys += ["crm_id:A", "crm_id:B", "crm_id:C"]
    for round_ in range(12):
        await ingest.ingest([
            event(f"r{round_}-{n}", f"2024-01-{1 + round_:02}T00:00:{n:02}Z",
                  *rng.sample(keys, rng.choice([1, 2, 2, 3])))
            for n in range(15)
        ])
        links = [link for k in rng.sample(keys, 3) for link in await store.links_touching([k])
                 if link.status == "active"]
        if links:
            link = rng.choice(links)
            try:
                result = await steward.act(Action("unlink", "bot", "random", (link.a, link.b),
                                                  ban=rng.random() < 0.5))
                if rng.random() < 0.5:
                    await steward.undo(result.audit_seq, "bot", "random undo")
            except StewardError:
                pass
        report = await VerifyService(store).verify()
        assert report.drift == [], (round_, report.drift[:3])


async def test_stale_memberships_and_pending_checks_are_found_and_repaired(store):
    from app.domain.segments import Membership
    from app.services.segments import SegmentService
    from app.stores.values import SegmentState
    from tests.contract.test_segments_contract import Clock, purchase

    clock = Clock("2024-03-01T00:00:00Z")
    segments = SegmentService(store, clock=clock)
    ingest = IngestService(store, clock=clock, segments=segments)
    await segments.define("buyer", "count(purchase) >= 1")
    await segments.define("known", "has(email)")
    await ingest.ingest([purchase("p1", "2024-02-01T00:00:00Z", "email:ann@x.com", amount=5),
                         event("v1", "2024-02-01T00:00:00Z", "email:bob@x.com"),
                         purchase("p2", "2024-02-01T00:00:00Z", "cookie:carl", amount=5)])
    ann, bob = (await store.owners(["email:ann@x.com"]))["email:ann@x.com"], \
        (await store.owners(["email:bob@x.com"]))["email:bob@x.com"]
    verify = VerifyService(store, segments=segments, clock=clock)
    clean = (await verify.verify()).memberships
    assert clean is not None and (clean.customers, clean.stale, clean.pending) == (3, [], 0)
    # changed behind the service's back: a hand edit, or a crash of an idgraph without the
    # outbox, which evaluated memberships in a second transaction
    states = await store.segment_states([ann, bob])
    await store.save_segment_states({
        ann: SegmentState({}, states[ann].checked_at, states[ann].next_check),
        bob: SegmentState({**states[bob].memberships,
                           "buyer": Membership("buyer", "2024-02-01T00:00:00Z", ())},
                          states[bob].checked_at, states[bob].next_check)}, [])
    await IngestService(store, clock=clock).ingest([  # a writer that died before evaluating
        purchase("p3", "2024-02-02T00:00:00Z", "cookie:dan", amount=5)])

    found = (await verify.verify()).memberships
    assert found is not None
    assert {(s.customer_id, s.missing, s.extra) for s in found.stale} == {
        (ann, ("buyer", "known"), ()), (bob, (), ("buyer",))}
    assert found.pending == 1
    repaired = (await verify.verify(repair=True)).memberships
    assert repaired is not None and repaired.repaired == 2
    after = (await verify.verify()).memberships
    assert after is not None and (after.customers, after.stale, after.pending) == (4, [], 0)
    buyers = {cid for cid, _ in await store.segment_members("buyer", 10, None)}
    assert ann in buyers and bob not in buyers and len(buyers) == 3
