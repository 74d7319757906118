"""Replay, on every store: a store rebuilt from another's events and audit log (or from the
event files and the other's audit log) holds the same customers with the same ids, and
nobody erased comes back."""

from __future__ import annotations

import asyncio
import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.steward import Action
from app.services.replay import ReplayError, ReplayService
from app.stores import open_store
from loaders.staged import StagedEvents
from tests.conftest import NEO4J_URL, wipe_neo4j
from tests.helpers import event
from tests.histories import (
    ACTION_MOMENTS,
    KINDS,
    at,
    build,
    events_strategy,
    export,
    histories,
    play,
    services_of,
)

PAIRS = [("sqlite", "sqlite"),
         pytest.param("neo4j", "sqlite", marks=pytest.mark.neo4j),
         pytest.param("sqlite", "neo4j", marks=pytest.mark.neo4j)]
planned_strategy = st.lists(
    st.tuples(st.sampled_from(ACTION_MOMENTS), st.sampled_from((*KINDS, "forget"))),
    max_size=6)


async def opened(kind: str, folder: Path, key=None):
    """A new empty store of `kind`; `key`: the suppression key it must use."""
    if kind == "sqlite":
        store = open_store(f"sqlite:///{folder}/test.db", suppression=key)
    else:
        store = open_store(NEO4J_URL, suppression=key)
        await store.ping()
        await wipe_neo4j(store)
    await store.migrate()
    return store


def held(customers: dict[str, list[str]]) -> dict[str, list[str]]:
    return {c: keys for c, keys in customers.items() if keys}


async def erased_keys(events, source) -> set[str]:
    """The keys of the events that are on the source's suppression list."""
    hashes = {h for h, _ in await source.suppressions()}
    return {i.key for e in events for i in e.identifiers if source.suppression.hash(i.key)
            in hashes}


async def orphans(store, customers: dict[str, list[str]]) -> set[str]:
    """Identifiers no stored event observes any more: an erasure deleted their only
    events, which they shared with the erased person. No replay can bring them back."""
    keys = {k for held_keys in customers.values() for k in held_keys}
    seen = {i.key for e in await store.events_observing(keys, "9999", 100_000)
            for i in e.identifiers}
    return keys - seen


def acted_before_an_erasure(done) -> bool:
    """Whether a steward acted before (or at the moment of) an erasure: the customers it
    acted on then held the erased person, whom no replay holds, so what their ids derive
    from (a split part's id derives from its parent's) can differ."""
    acted = False
    for d in sorted(done, key=lambda d: d.moment):
        acted = acted or d.forgets is None
        if d.forgets is not None and acted:
            return True
    return False


async def same(source, target, events, done, report, with_hub: bool) -> None:
    got, want = await export(target), await export(source)
    gone = await erased_keys(events, source)
    assert not await target.identifiers(gone), "an erased identifier came back"
    assert sorted(await target.suppressions()) == sorted(await source.suppressions())
    assert report.comparison.equal == (got == want), "the replay misreports the comparison"
    acted = any(d.action is not None or d.undoes is not None for d in done)
    if any(d.forgets for d in done):
        # What an erasure took away can make the replay differ where the original kept
        # what it derived from the erased evidence: an identifier whose only events were
        # shared with the erased person, a hub that had become one with the erased
        # person's links, a customer a steward acted on while it held the erased person.
        # Apart from those, the same customers with the same ids.
        if not (with_hub or acted_before_an_erasure(done) or await orphans(source, want)):
            assert held(got) == held(want)
    elif acted:
        # with steward actions, which customers are left empty and merge histories depend
        # on the batching in any store (tests/contract/test_asof_contract.py says how)
        assert held(got) == held(want)
    else:
        assert got == want
        assert await histories(target, sorted(got)) == await histories(source, sorted(want))


@pytest.mark.parametrize(("source_kind", "target_kind"), PAIRS)
def test_replay_equals_the_original_erasures_included(source_kind, target_kind,
                                                      tmp_path_factory):
    examples = int(os.environ.get("IDGRAPH_PROPERTY_EXAMPLES",
                                  25 if "neo4j" not in (source_kind, target_kind) else 6))

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(drawn=events_strategy, with_hub=st.booleans(), planned=planned_strategy,
           seed=st.integers(0, 2**16), from_files=st.booleans())
    def check(drawn, with_hub: bool, planned, seed: int, from_files: bool) -> None:
        events = build(drawn, with_hub)
        tmp = tmp_path_factory.mktemp("replay")

        async def run() -> None:
            source = await opened(source_kind, tmp / "source")
            try:
                done = await play(services_of(source), events, planned, random.Random(seed))
                target = await opened(target_kind, tmp / "target", source.suppression)
                try:
                    service = ReplayService(services_of(target), batch_size=7)
                    if from_files:
                        report = await _from_files(service, source, events, tmp)
                    else:
                        report = await service.from_store(source)
                    assert report.comparison is not None
                    await same(source, target, events, done, report, with_hub)
                finally:
                    await target.close()
            finally:
                await source.close()

        asyncio.run(run())

    check()


async def _from_files(service: ReplayService, source, events, tmp: Path):
    """Every event ever sent, the erased people's too, from a file."""
    path = tmp / "events.jsonl"
    path.write_text("".join(json.dumps(e.to_json()) + "\n" for e in events))
    staged = StagedEvents(service.target.ingest, tmp)
    try:
        staged.add([path])
        return await service.from_events(staged.pages(), source)
    finally:
        staged.close()


# -- examples --------------------------------------------------------------------------
ANNA = [
    event("e1", "2024-03-01T10:00:00Z", "email:anna@x.com", "cookie:c1"),
    event("e2", "2024-03-02T10:00:00Z", "cookie:c1", "email:bert@x.com"),
    event("e3", "2024-03-03T10:00:00Z", "email:bert@x.com", "phone:+31612345678"),
    event("e4", "2024-03-04T10:00:00Z", "email:carla@x.com", "cookie:c9"),
]


async def test_a_replay_holds_the_steward_actions_at_their_moments(tmp_path):
    source = await opened("sqlite", tmp_path / "source")
    live = services_of(source)
    await live.ingest.ingest(ANNA)
    live.steward.clock = lambda: at("2024-03-05T00:00:00Z")
    cut = await live.steward.act(Action("unlink", "sam", "two people",
                                        ("cookie:c1", "email:bert@x.com"), ban=True))
    live.steward.clock = lambda: at("2024-03-06T00:00:00Z")
    await live.steward.undo(cut.audit_seq, "sam", "they are one after all")
    live.steward.clock = lambda: at("2024-03-07T00:00:00Z")
    await live.steward.act(Action("quarantine", "sam", "shared", ("cookie:c9",)))
    target = await opened("sqlite", tmp_path / "target", source.suppression)
    try:
        report = await ReplayService(services_of(target)).from_store(source)
        assert report.rebuild.replayed == 3 and not report.rebuild.skipped
        assert report.comparison is not None and report.comparison.equal
        log = await target.audit_log(10, None)
        assert [(e.action, e.at) for e in reversed(log)] == [
            ("unlink", "2024-03-05T00:00:00.000000Z"), ("link", "2024-03-06T00:00:00.000000Z"),
            ("quarantine", "2024-03-07T00:00:00.000000Z")]
        assert log[-1].undone_by == log[1].seq  # the undo undoes the replayed cut
        [c9] = (await target.identifiers(["cookie:c9"])).values()
        assert c9.status == "quarantined"
    finally:
        await target.close()
        await source.close()


async def test_an_erased_person_never_returns_from_the_files(tmp_path):
    source = await opened("sqlite", tmp_path / "source")
    live = services_of(source)
    await live.ingest.ingest(ANNA)
    [carla] = set((await source.owners(["email:carla@x.com"])).values())
    live.privacy.clock = lambda: at("2024-03-10T00:00:00Z")
    await live.privacy.forget(carla, "ann", "on request")
    later = event("e9", "2024-03-11T10:00:00Z", "email:carla@x.com", "cookie:new")
    await live.ingest.ingest([later])  # after the erasure, without consent: dropped
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e.to_json()) + "\n" for e in [*ANNA, later]))
    target = await opened("sqlite", tmp_path / "target", source.suppression)
    try:
        service = ReplayService(services_of(target))
        staged = StagedEvents(service.target.ingest, tmp_path)
        staged.add([path])
        report = await service.from_events(staged.pages(), source)
        staged.close()
        assert report.comparison is not None and report.comparison.equal
        assert not await target.identifiers(["email:carla@x.com", "cookie:c9"])
        assert (await target.identifiers(["cookie:new"]))["cookie:new"].customer_id
        [left_out] = report.problems
        assert (left_out.event_id, left_out.rejected) == ("e4", True)
        assert "carla" not in json.dumps(left_out.to_json())
        assert report.suppressions == 2
    finally:
        await target.close()
        await source.close()


async def test_a_replay_refuses_a_store_that_holds_events(tmp_path):
    source = await opened("sqlite", tmp_path / "source")
    target = await opened("sqlite", tmp_path / "target", source.suppression)
    try:
        await services_of(target).ingest.ingest(ANNA[:1])
        with pytest.raises(ReplayError, match="already holds 1 events"):
            await ReplayService(services_of(target)).from_store(source)
    finally:
        await target.close()
        await source.close()
