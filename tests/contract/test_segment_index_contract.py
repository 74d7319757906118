"""Streaming evaluation through the segment index, on every store: the same random
stream ingested twice, once evaluating only the segments each write can affect and once
evaluating every segment for every pending check, leaves the same memberships and the
same membership history (customers matched by their identifiers)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from app.domain.checks import PendingCheck
from app.domain.events import Event
from app.domain.segments.evaluate import Catalogue
from app.domain.traits import shift
from app.services.ingest import IngestService
from app.services.segments import SegmentService
from app.stores.values import SegmentState
from tests.contract.test_segments_contract import Clock
from tests.helpers import event

T0 = "2024-03-01T00:00:00.000000Z"
SEGMENTS = {
    "buyers": "count(purchase) >= 1",
    "recent_buyers": "count(purchase) >= 1 within 1d",
    "lapsing": "in_segment(buyers) AND NOT in_segment(recent_buyers)",
    "anonymous": "NOT has(email)",
    "app_users": "has(device_id) AND computed(order_count) >= 1",
    "browsers": "count(page_view) >= 2 within 2d",
    "busy": "count(*) >= 3 within 1d",
    "utrecht_mailable": 'trait(city) = "Utrecht" AND consent(email_marketing)',
    "in_delft": 'trait(city) = "Delft"',
    "mailable": "consent(email_marketing)",
    "big_week": "sum(purchase.amount) >= 80 within 7d OR computed(lifetime_value) >= 150",
}
PEOPLE = 10
TYPES = ["purchase", "page_view", "add_to_cart", "email_open"]


class EverySegment(SegmentService):
    """The reference: every segment evaluated for every pending check."""

    def _only(self, catalogue: Catalogue, check: PendingCheck | None, state: SegmentState,
              checked_at: str | None, at: str) -> frozenset[str] | None:
        return None


def stream(seed: int, prefix: str) -> list[tuple[str, list[Event]]]:
    """Batches at moments hours apart: events of random people, some dated late, some
    carrying traits or consent, now and then one that links two people (a merge)."""
    rng = random.Random(seed)
    batches, hours, n = [], 0, 0
    for _ in range(10):
        hours += rng.choice([1, 3, 12, 30])
        now = shift(T0, timedelta(hours=hours))
        events = []
        for _ in range(rng.randint(1, 6)):
            person = rng.randrange(PEOPLE)
            ids = [f"crm_id:{prefix}{person}"]
            ids += [f"email:{prefix}{person}@example.com"] if rng.random() < 0.5 else []
            ids += [f"device_id:{prefix}-d{person}"] if rng.random() < 0.3 else []
            if rng.random() < 0.05:
                ids.append(f"device_id:{prefix}-d{rng.randrange(PEOPLE)}")
            late = rng.choice([0, 0, 0, 2, 40])
            extra = {}
            if rng.random() < 0.2:
                extra["traits"] = {"city": rng.choice(["Utrecht", "Delft"])}
            if rng.random() < 0.2:
                extra["consent"] = {"email_marketing": rng.random() < 0.7}
            n += 1
            events.append(event(f"{prefix}{n}", shift(now, timedelta(hours=-late)), *ids,
                                type_=rng.choice(TYPES),
                                properties={"amount": rng.randint(5, 90)}, **extra))
        batches.append((now, events))
    return batches


async def states_by_person(store, prefix: str) -> dict[int, tuple]:
    keys = [f"crm_id:{prefix}{p}" for p in range(PEOPLE)]
    owners = await store.owners(keys)
    ids = {p: owners[k] for p, k in enumerate(keys) if owners.get(k)}
    states = await store.segment_states(list(ids.values()))
    history = await store.membership_history(list(ids.values()), 1000)
    return {
        p: (sorted((m.segment, m.since, m.why) for m in states[cid].memberships.values())
            if cid in states else [],
            sorted((c.segment, c.change, c.at, c.why) for c in history.get(cid, [])))
        for p, cid in ids.items()
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_indexed_streaming_equals_evaluating_every_segment(store, seed) -> None:
    clock = Clock(T0)
    indexed = SegmentService(store, clock=clock)
    reference = EverySegment(store, clock=clock)
    for name, text in SEGMENTS.items():
        await indexed.define(name, text)
    writers = {"a": IngestService(store, clock=clock, segments=indexed),
               "b": IngestService(store, clock=clock, segments=reference)}
    for (now, a), (_, b) in zip(stream(seed, "a"), stream(seed, "b"), strict=True):
        clock.set(now)
        await writers["a"].ingest(a)
        await writers["b"].ingest(b)
    found, expected = await states_by_person(store, "a"), await states_by_person(store, "b")
    assert found == expected
    assert sum(len(h) for _, h in expected.values()) > 0  # the stream moved memberships
    assert (await store.outbox_status()).pending_checks == 0
