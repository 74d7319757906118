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
