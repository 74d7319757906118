"""Heavy CPU work of a request runs off the event loop: while it runs, other requests are
answered. Each test holds the heavy step in its worker thread until another request has
been answered; on the event loop, holding it would stop that request (and the test would
see the step released by its failsafe instead of by the test)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from app.api import documents
from app.services import customers, segments
from tests.api.conftest import hold_store_call
from tests.api.data import seed
from tests.helpers import raw_event

FAILSAFE = 60  # seconds a held step waits before it lets go by itself
VIEWER = "{ viewer { role } }"
SEARCH = "query($q: String!) { searchCustomers(query: $q) { edges { matched } } }"


@pytest.fixture
async def api(sqlite_store, api_with):
    async with api_with(sqlite_store) as served:
        await seed(served.services)
        yield served


class Hold:
    """Wraps a function so that the calls it chooses wait, in whichever thread runs them,
    until the test releases them; records whether the test did (True) or the failsafe."""

    def __init__(self, real: Callable[..., Any], holds: Callable[..., bool]) -> None:
        self.real = real
        self.holds = holds
        self.entered = threading.Event()
        self.release = threading.Event()
        self.released_by_test: list[bool] = []
        self.threads: list[str] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.holds(*args, **kwargs):
            self.threads.append(threading.current_thread().name)
            self.entered.set()
            self.released_by_test.append(self.release.wait(timeout=FAILSAFE))
        return self.real(*args, **kwargs)

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, FAILSAFE), "the step never ran"


async def test_other_requests_are_answered_while_a_search_is_ranked(api, monkeypatch):
    hold = Hold(customers.rank, lambda *args: True)
    monkeypatch.setattr(customers, "rank", hold)
    search = asyncio.create_task(api.run("reader", SEARCH, q="anna de vries"))
    await hold.wait_entered()
    answered = await api.run("reader", VIEWER)
    assert not search.done()
    hold.release.set()
    found = await search
    assert answered == {"viewer": {"role": "READER"}}
    assert found["searchCustomers"]["edges"]
    assert hold.released_by_test == [True]
    assert hold.threads != [threading.main_thread().name]


async def test_other_requests_are_answered_while_a_new_document_is_parsed(api, monkeypatch):
    marker = "heavyDocument"
    hold = Hold(documents.prepare, lambda schema, query, *rest: marker in query)
    monkeypatch.setattr(documents, "prepare", hold)
    heavy = asyncio.create_task(api.run("reader", f"query {marker} {{ viewer {{ actor }} }}"))
    await hold.wait_entered()
    answered = await api.run("reader", VIEWER)
    assert not heavy.done()
    hold.release.set()
    assert (await heavy)["viewer"]["actor"].startswith("reader-key-")
    assert answered == {"viewer": {"role": "READER"}}
    assert hold.released_by_test == [True]


async def test_a_document_seen_before_is_not_parsed_again(api, monkeypatch):
    prepared: list[str] = []
    real = documents.prepare

    def counted(schema: Any, query: str, *rest: Any) -> Any:
        prepared.append(query)
        return real(schema, query, *rest)

    monkeypatch.setattr(documents, "prepare", counted)
    good, bad = "query Again { viewer { role } }", "query Again { viewer { nope } }"
    for _ in range(3):
        assert await api.run("reader", good) == {"viewer": {"role": "READER"}}
    first = await api.fails("reader", bad)
    again = await api.fails("reader", bad)
    assert "Cannot query field 'nope'" in first.errors[0]["message"]
    assert again.errors == first.errors
    assert len(prepared) == 2  # one parse for each text, however often it is sent


async def test_a_query_past_its_time_budget_is_stopped_and_a_mutation_never(
        sqlite_store, api_with, monkeypatch):
    async with api_with(sqlite_store, api_query_timeout_seconds=0.5) as api:
        release = hold_store_call(monkeypatch, api.services.store, "segment_definitions")
        define = asyncio.create_task(api.run("admin", """mutation { defineSegment(
            id: "held", definition: "has(email)") { __typename } }"""))
        stopped = await api.fails("reader", "{ segments { id } }")
        # the query ran out of its budget; the mutation, started before it, has waited
        # longer and is still waiting for the store
        assert stopped.errors[0]["message"].startswith(
            "the query ran longer than 0.5 s and was stopped; ask for less")
        assert stopped.data is None and not define.done()
        release.set()
        assert await define == {"defineSegment": {"__typename": "SegmentDefined"}}
        assert await api.run("reader", "{ segments { id } }") == {"segments": [{"id": "held"}]}


async def test_other_requests_are_answered_while_a_definition_is_evaluated(api, monkeypatch):
    hold = Hold(segments.catch_up, lambda *args, **kwargs: True)
    monkeypatch.setattr(segments, "catch_up", hold)
    define = asyncio.create_task(api.run(
        "admin", 'mutation { defineSegment(id: "web", definition: "count(page_view) >= 1") '
        '{ __typename } }'))
    await hold.wait_entered()
    answered = await api.run("reader", VIEWER)
    assert not define.done()
    hold.release.set()
    assert (await define)["defineSegment"]["__typename"] == "SegmentDefined"
    assert answered == {"viewer": {"role": "READER"}}
    assert hold.released_by_test[0] is True
    # The check before storing ran in a worker thread; writing the memberships runs on
    # the event loop, inside the store's transaction, page by page.
    assert hold.threads[0] != threading.main_thread().name


async def test_a_definitions_memberships_are_written_in_short_transactions_with_others_between(
        api, monkeypatch):
    """Writing the memberships evaluates on the event loop, inside the store's transaction:
    when a transaction takes long (here: the timer says one second each), the next holds
    one customer, other tasks run between two of them, and another request is answered
    before the last."""
    visitors = [raw_event(f"visit-{n}", "2024-05-01T10:00:00Z", f"cookie:visitor-{n}")
                for n in range(40)]
    await api.services.ingest.ingest_raw((e["event_id"], e) for e in visitors)
    ticks = iter(range(10**6))
    monkeypatch.setattr(segments, "timer", lambda: float(next(ticks)))
    store = api.services.store
    real = store.segment_transaction
    steps = 0
    other: list[asyncio.Task[Any]] = []
    seen: list[tuple[int, bool]] = []  # at each transaction: steps of the ticker, answered?

    async def ticker() -> None:
        nonlocal steps
        while True:
            steps += 1
            await asyncio.sleep(0)

    async def spied(*args: Any, **kwargs: Any) -> Any:
        if not other:
            other.append(asyncio.create_task(api.run("reader", VIEWER)))
        seen.append((steps, other[0].done()))
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "segment_transaction", spied)
    ticking = asyncio.create_task(ticker())
    try:
        defined = await api.run("admin", 'mutation { defineSegment(id: "web", definition: '
                                '"count(page_view) >= 1") { __typename } }')
    finally:
        ticking.cancel()
    assert defined == {"defineSegment": {"__typename": "SegmentDefined"}}
    counts = [count for count, _ in seen]
    assert len(counts) > 40 and counts == sorted(set(counts))  # others ran between each two
    assert seen[-1][1] is True
    assert await other[0] == {"viewer": {"role": "READER"}}
