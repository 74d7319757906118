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
