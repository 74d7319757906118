"""The batched timeline read the API uses (IdentityStore.timelines): an adapter's own
version answers as the port's default, which pages through `timeline` per customer."""

from __future__ import annotations

import pytest

from app.bootstrap import build_services
from app.config import Settings
from app.stores.base import IdentityStore
from app.stores.values import TimelineWindow
from tests.api.data import seed

CASES = [
    {"first": 3},
    {"first": 10, "types": ["page_view"]},
    {"first": 10, "since": "2024-01-02T10:00:00.000000Z", "until": "2024-01-04T10:00:00.000000Z"},
    {"first": 2, "after": ("2024-01-04T10:00:00.000000Z", "pos-1")},
    {"first": 10, "types": ["purchase", "login"], "after": ("2024-01-05T00:00:00.000000Z", ""),
     "until": "2024-01-04T10:00:00.000000Z"},
    {"first": 0},
]


@pytest.mark.parametrize("case", CASES)
async def test_the_batched_timeline_answers_as_paging_each_customer(store, case):
    case = dict(case)  # the parameter is shared by both stores' runs
    ids = await seed(build_services(Settings(store=store.url), store=store))
    customers = [ids["anna"], ids["bob"], ids["carl"], "c_nobody"]
    first = case.pop("first")
    after = case.pop("after", None)
    own = await store.timelines(customers, first, after, **case)
    default = await IdentityStore.timelines(store, customers, first, after, **case)
    assert own == default
    if first and not case.get("types") and after is None and not case.get("since"):
        assert own[ids["anna"]] == (await store.timeline(ids["anna"], first, None))[:first]


@pytest.mark.parametrize("case", CASES)
async def test_a_count_counts_what_the_filters_select_on_every_page(store, case):
    filters = {k: v for k, v in case.items() if k in ("types", "since", "until")}
    ids = await seed(build_services(Settings(store=store.url), store=store))
    customers = [ids["anna"], ids["bob"], ids["carl"], "c_nobody"]
    everything = await store.timelines(customers, 1_000, None, **filters)
    counts = await store.timeline_counts(customers, TimelineWindow(0, **filters))
    assert counts == {cid: len(events) for cid, events in everything.items()}


async def test_events_by_id_are_the_events_the_timeline_holds(store):
    ids = await seed(build_services(Settings(store=store.url), store=store))
    timeline = (await store.timelines([ids["anna"]], 100))[ids["anna"]]
    found = await store.events([e.event_id for e in timeline] + ["no-such-event"])
    assert found == {e.event_id: e for e in timeline}
