"""`idgraph resolve --verify` reports stale segment memberships (exit code 1) and
`--repair` fixes them, on the embedded store."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner

from app.cli import main
from app.domain.segments import Membership
from app.services.ingest import IngestService
from app.services.segments import SegmentService
from app.stores import open_store
from app.stores.values import SegmentState
from tests.helpers import event


async def a_store_with_a_stale_membership(url: str) -> str:
    store = open_store(url)
    await store.migrate()
    try:
        segments = SegmentService(store)
        ingest = IngestService(store, segments=segments)
        await segments.define("known", "has(email)")
        await ingest.ingest([event("e1", "2024-02-01T00:00:00Z", "email:ann@x.com")])
        ann = (await store.owners(["email:ann@x.com"]))["email:ann@x.com"]
        state = (await store.segment_states([ann]))[ann]
        assert set(state.memberships) == {"known"}
        await store.save_segment_states({ann: SegmentState(
            {"known": state.memberships["known"],
             "gone": Membership("gone", state.checked_at or "", ())},
            state.checked_at, state.next_check)}, [])
        return ann
    finally:
        await store.close()


def test_resolve_verify_reports_stale_memberships_and_repair_fixes_them(tmp_path):
    url = f"sqlite:///{tmp_path}/stale.db"
    ann = asyncio.run(a_store_with_a_stale_membership(url))

    found = CliRunner().invoke(main, ["resolve", "--verify", "--store", url])
    assert found.exit_code == 1, found.output
    assert "1 stale, 0 pending re-evaluation" in found.output
    assert f"{ann} (checked " in found.output and "extra ['gone']" in found.output

    repaired = CliRunner().invoke(main, ["resolve", "--verify", "--repair", "--store", url])
    assert repaired.exit_code == 0, repaired.output
    assert "1 customer(s) with stale memberships" in repaired.output
    again = CliRunner().invoke(main, ["resolve", "--verify", "--store", url])
    assert again.exit_code == 0 and "0 stale, 0 pending" in again.output
