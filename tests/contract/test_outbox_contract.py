"""The outbox on every store: change events and pending segment checks written in the
transaction of the write that made them, a cursor that one publisher at a time moves, and
memberships evaluated from the durable checks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.domain.changes import Change, change_id
from app.domain.plan import Gather, Plan
from app.domain.steward import Action
from app.services.ingest import IngestService
from app.services.outbox import Publisher
from app.services.privacy import PrivacyService
from app.services.segments import SegmentService
from app.services.steward import StewardService
from tests.contract.test_segments_contract import Clock, purchase
from tests.helpers import event


class Sink:
    """Where a publisher sends: it keeps what it got, or fails after keeping it."""

    def __init__(self, fail: bool = False) -> None:
        self.got: list[Change] = []
        self.fail = fail

    async def __call__(self, changes: Sequence[Change]) -> None:
        self.got += changes
        if self.fail:
            raise ConnectionError("the changes topic is away")


async def unpublished(store) -> list[Change]:
    status = await store.outbox_status()
    return [c for _, c in await store.outbox_after(status.published, 10_000)]


async def wait_until(probe, what: str) -> None:
    for _ in range(400):
        if await probe():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_write_records_its_changes_in_its_own_transaction(store):
    result = await IngestService(store).ingest([
        event("e1", "2024-01-01T00:00:00Z", "cookie:a", "email:ann@x.com",
              traits={"first_name": "Ann"}),
        event("e2", "2024-01-02T00:00:00Z", "cookie:b"),
    ])
    recorded = await unpublished(store)
    assert recorded == [Change(c.kind, c.customer_id, c.at, c.event_ids, c.from_customers,
                               c.data, change_id(c)) for c in result.changes]
    assert {c.kind for c in recorded} == {"customer_created", "identifiers_added",
                                          "profile_changed"}
    status = await store.outbox_status()
    assert (status.newest, status.published, status.unpublished) == (len(recorded), 0,
                                                                      len(recorded))
    assert status.oldest_unpublished_at == recorded[0].at
    assert len({c.id for c in recorded}) == len(recorded)


async def test_a_write_that_fails_records_no_change(store):
    await IngestService(store).ingest([event("e1", "2024-01-01T00:00:00Z", "cookie:a")])
    before = await store.outbox_status()

    def decide(snapshot) -> Plan:
        raise ValueError("the decision fails")

    with pytest.raises(ValueError):
        await store.transact(Gather(keys=frozenset({"cookie:a"})), decide)
    steward = StewardService(store)
    with pytest.raises(Exception, match="not in the identity graph"):
        await steward.act(Action("link", "sam", "why", ("cookie:a", "cookie:nope")))
    assert await store.outbox_status() == before


async def test_publishing_moves_the_cursor_and_forgets_what_it_passed(store):
    await IngestService(store).ingest([event(f"e{n}", f"2024-01-0{n}T00:00:00Z", f"cookie:{n}")
                                       for n in range(1, 6)])
    everything = await store.outbox_after(0, 100)
    assert [seq for seq, _ in everything] == sorted(seq for seq, _ in everything)
    assert await store.claim_outbox("a", "topic", 30) == 0
    through = everything[3][0]
    assert await store.outbox_published("a", through, 30)
    status = await store.outbox_status()
    assert (status.published, status.unpublished) == (through, len(everything) - 4)
    assert (status.holder, status.destination) == ("a", "topic") and status.lease_left_s > 0
    assert await store.outbox_after(0, 100) == everything[4:]  # the rest is gone


async def test_one_publisher_at_a_time_holds_the_lease(store):
    await IngestService(store).ingest([event("e1", "2024-01-01T00:00:00Z", "cookie:a")])
    [(seq, _), *_] = await store.outbox_after(0, 100)
    assert await store.claim_outbox("a", "topic", 30) == 0
    assert await store.claim_outbox("b", "topic", 30) is None
    assert not await store.outbox_published("b", seq, 30)  # fenced: b holds nothing
    await store.release_outbox("a")
    assert await store.claim_outbox("b", "topic", 0.5) == 0  # given up: taken at once

    async def ran_out() -> bool:
        return (await store.outbox_status()).lease_left_s <= 0

    await wait_until(ran_out, "b's lease to run out")  # b went silent, as if dead
    assert await store.claim_outbox("a", "other-topic", 30) == 0
    assert not await store.outbox_published("b", seq, 30)
    assert (await store.outbox_status()).destination == "other-topic"


async def test_concurrent_publishers_publish_every_change_once_in_commit_order(store):
    ingest, sink = IngestService(store), Sink()
    publishers = [Publisher(store, sink, "topic", holder=name, poll_s=0.02, batch=7)
                  for name in ("a", "b", "c")]
    stopping = asyncio.Event()
    running = [asyncio.create_task(p.run(stopping)) for p in publishers]
    written: list[Change] = []
    for n in range(30):
        result = await ingest.ingest([event(f"e{n}", f"2024-01-01T00:00:{n:02}Z",
                                            f"cookie:{n % 7}", f"email:p{n}@x.com")])
        written += result.changes
        publishers[n % 3].wake()

    async def done() -> bool:
        return (await store.outbox_status()).unpublished == 0

    await wait_until(done, "the publishers to catch up")
    stopping.set()
    await asyncio.gather(*running)
    assert [c.id for c in sink.got] == [change_id(c) for c in written]
    assert len(written) > 30


async def test_a_publisher_that_fails_before_marking_leaves_its_changes_to_the_next(store):
    await IngestService(store).ingest([event("e1", "2024-01-01T00:00:00Z", "cookie:a",
                                             "email:a@x.com")])
    first, second = Sink(fail=True), Sink()
    dying = Publisher(store, first, "topic", holder="a", lease_s=0.5)
    with pytest.raises(ConnectionError):
        await dying.drain()  # sent, then died before the cursor moved

    async def free() -> bool:
        return (await store.outbox_status()).lease_left_s <= 0

    await wait_until(free, "the dead publisher's lease to run out")
    assert await Publisher(store, second, "topic", holder="b").drain() == len(first.got)
    assert [c.id for c in second.got] == [c.id for c in first.got]  # again, same ids
    assert (await store.outbox_status()).unpublished == 0


# -- segment checks --------------------------------------------------------------------

class Writers:
    """An ingest and a steward service that write without evaluating memberships, as a
    process that dies right after its commit; and the segment service that settles."""

    def __init__(self, store, now: str) -> None:
        self.store = store
        self.clock = Clock(now)
        self.ingest = IngestService(store, clock=self.clock)
        self.steward = StewardService(store, clock=self.clock)
        self.segments = SegmentService(store, clock=self.clock)

    async def owner(self, key: str) -> str:
        return (await self.store.owners([key]))[key]

    async def members(self, segment: str) -> set[str]:
        return {cid for cid, _ in await self.store.segment_members(segment, 1000, None)}


async def test_a_write_records_segment_checks_only_while_segments_exist(store):
    w = Writers(store, "2024-03-01T00:00:00Z")
    await w.ingest.ingest([purchase("p1", "2024-02-01T00:00:00Z", "email:ann@x.com",
                                    amount=5)])
    ann = await w.owner("email:ann@x.com")
    assert await store.pending_checks([ann]) == {}
    await w.segments.define("buyer", "count(purchase) >= 1")
    w.clock.set("2024-03-02T00:00:00Z")
    await w.ingest.ingest([purchase("p2", "2024-02-02T00:00:00Z", "email:ann@x.com",
                                    amount=5)])
    w.clock.set("2024-03-03T00:00:00Z")
    await w.ingest.ingest([event("v1", "2024-02-03T00:00:00Z", "email:ann@x.com")])
    [check] = (await store.pending_checks([ann])).values()
    # marked twice: evaluated up to the later write, pending since the earlier
    assert (check.at, check.since) == ("2024-03-03T00:00:00.000000Z",
                                       "2024-03-02T00:00:00.000000Z")
    assert (check.survivor, check.split) == (None, False)
    # what the two writes touched, joined: the segments that read them are evaluated
    assert check.inputs == {"event:purchase", "event:page_view"}
    assert (await store.outbox_status()).pending_checks == 1


async def test_checks_a_dead_writer_left_are_settled_with_their_changes(store):
    w = Writers(store, "2024-03-01T00:00:00Z")
    await w.segments.define("buyer", "count(purchase) >= 1")
    await w.segments.define("loyal", "count(purchase) >= 2")
    await w.ingest.ingest([purchase("p1", "2024-02-01T00:00:00Z", "email:ann@x.com", amount=5),
                           purchase("p2", "2024-02-02T00:00:00Z", "cookie:c1", amount=5)])
    ann, cookie = await w.owner("email:ann@x.com"), await w.owner("cookie:c1")
    assert await w.members("buyer") == set()  # the writer died before evaluating
    w.clock.set("2024-03-02T00:00:00Z")
    await w.ingest.ingest([event("m", "2024-02-03T00:00:00Z", "email:ann@x.com", "cookie:c1")])
    survivor = await w.owner("cookie:c1")
    absorbed = ({ann, cookie} - {survivor}).pop()
    checks = await store.pending_checks([ann, cookie])
    assert checks[absorbed].survivor == survivor and checks[survivor].survivor is None
    assert checks[survivor].inputs is None  # merged into: anything may have changed

    settled = await w.segments.settle()

    assert await w.members("buyer") == {survivor} and await w.members("loyal") == {survivor}
    assert await store.pending_checks([ann, cookie]) == {}
    # dated as they happened (a customer never checked is caught up from its first event)
    assert {(c.kind, c.customer_id, c.data["segment"], c.at) for c in settled} == {
        ("segment_entered", survivor, "buyer", "2024-02-01T00:00:00.000000Z"),
        ("segment_entered", survivor, "loyal", "2024-02-02T00:00:00.000000Z")}
    recorded = {(c.kind, c.customer_id, c.data.get("segment")) for c in await unpublished(store)}
    assert {(c.kind, c.customer_id, c.data["segment"]) for c in settled} <= recorded
    assert absorbed not in await store.segment_states([absorbed])
    assert (await w.segments.verify()).stale == []


async def test_a_split_part_is_evaluated_as_it_is_at_the_split(store):
    w = Writers(store, "2024-03-01T00:00:00Z")
    await w.segments.define("loyal", "count(purchase) >= 2")
    await w.ingest.ingest([purchase("p1", "2024-02-01T00:00:00Z", "cookie:a", "email:x@x.com",
                                    amount=5),
                           purchase("p2", "2024-02-02T00:00:00Z", "cookie:b", amount=5),
                           event("v", "2024-02-03T00:00:00Z", "cookie:b", "email:x@x.com")])
    await w.segments.settle()
    whole = await w.owner("cookie:a")
    assert await w.members("loyal") == {whole}
    w.clock.set("2024-03-05T00:00:00Z")
    result = await w.steward.act(Action("unlink", "sam", "shared laptop",
                                        ("cookie:b", "email:x@x.com"), ban=True))
    [(_, (part,))] = result.splits
    assert (await store.pending_checks([part]))[part].split
    [left] = await w.segments.settle()
    assert (left.kind, left.customer_id, left.at) == ("segment_left", whole,
                                                      "2024-03-05T00:00:00.000000Z")
    state = (await store.segment_states([part]))[part]
    assert state.checked_at == "2024-03-05T00:00:00.000000Z" and state.memberships == {}
    assert (await w.segments.history([part], 5)) == {}  # its past is not replayed


async def test_two_settles_at_once_evaluate_each_check_once(store):
    w = Writers(store, "2024-03-01T00:00:00Z")
    await w.segments.define("buyer", "count(purchase) >= 1")
    await w.ingest.ingest([purchase(f"p{n}", "2024-02-01T00:00:00Z", f"email:p{n}@x.com",
                                    amount=5) for n in range(40)])
    other = SegmentService(store, clock=w.clock)
    first, second = await asyncio.gather(w.segments.settle(), other.settle())
    assert len(first) + len(second) == 40
    owners = await store.owners([f"email:p{n}@x.com" for n in range(40)])
    history = await store.membership_history(owners.values(), 10)
    assert sorted(len(h) for h in history.values()) == [1] * 40
    entered = [c for c in await unpublished(store) if c.kind == "segment_entered"]
    assert len(entered) == 40


async def test_an_erasure_takes_the_customers_unpublished_changes_with_it(store):
    w = Writers(store, "2024-03-01T00:00:00Z")
    await w.segments.define("buyer", "count(purchase) >= 1")
    await w.ingest.ingest([purchase("p1", "2024-02-01T00:00:00Z", "email:ann@x.com",
                                    "cookie:ann", amount=5, traits={"last_name": "Jansen"}),
                           purchase("p2", "2024-02-01T00:00:00Z", "email:bob@x.com", amount=5)])
    await w.segments.settle()
    ann = await w.owner("email:ann@x.com")
    await w.ingest.ingest([event("v", "2024-02-02T00:00:00Z", "email:ann@x.com")])  # pending

    receipt = await PrivacyService(store, clock=w.clock).forget(ann, "sam", "request 7")

    left = await unpublished(store)
    assert [(c.kind, c.data.get("segment")) for c in left if c.customer_id == ann] == [
        ("customer_erased", None), ("segment_left", "buyer")]
    assert [c.id for c in left[-2:]] == [change_id(c) for c in receipt.changes]
    assert not [c for c in left if "ann" in str(c.to_json()) or "Jansen" in str(c.to_json())]
    assert [c for c in left if c.customer_id != ann]  # bob's changes wait for publication
    assert await store.pending_checks([ann]) == {}
    assert await store.segment_states([ann]) == {}
