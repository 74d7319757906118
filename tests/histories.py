"""Random histories for the as-of and replay property tests: events that collide (merges,
limits, a blocked value, a hub), loaded in a shuffled order and in random batches, and
steward actions chosen as a steward would, on the graph as it is, at moments between the
events. Each action sees every event dated at or before its moment, and none after it:
that is what "an action counts from its moment" means, and what a store loaded with only
the events and actions up to T is compared with."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import strategies as st

from app.bootstrap import Services, build_services
from app.config import Settings
from app.domain.events import Event, parse_ts
from app.domain.steward import Action, StewardError
from app.stores.base import IdentityStore
from tests.helpers import event

POOL = (
    [f"cookie:c{n}" for n in range(8)]
    + [f"email:p{n}@x.com" for n in range(6)]
    + [f"crm_id:C{n}" for n in range(3)]
    + [f"phone:+3161234567{n}" for n in range(3)]
    + ["device_id:shared", "email:test@test.com"]
)
HUB_EMAILS = [f"email:h{n}@x.com" for n in range(17)]
DAYS = [f"2024-03-{d:02}T10:00:00Z" for d in range(1, 7)]
SOURCES = ["web", "app", "crm", "pos"]
# Steward actions at these moments: between days, and at 10:00 exactly, the time of the
# day's events (they come first).
ACTION_MOMENTS = [f"2024-03-{d:02}T{h}:00:00Z" for d in range(1, 7) for h in (10, 15)]
MOMENTS = ["2024-02-28T00:00:00Z", *DAYS, *ACTION_MOMENTS, "2024-04-01T00:00:00Z"]
KINDS = ("split", "unlink", "ban", "link", "merge", "quarantine", "release", "undo")

events_strategy = st.lists(
    st.tuples(
        st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True),
        st.sampled_from(DAYS),
        st.sampled_from(SOURCES),
    ),
    min_size=1,
    max_size=25,
)
actions_strategy = st.lists(
    st.tuples(st.sampled_from(ACTION_MOMENTS), st.sampled_from(KINDS)), max_size=5)


def build(drawn: list, with_hub: bool) -> list[Event]:
    events = [event(f"e{n:03}", ts, *keys, source=source,
                    traits={"first_name": f"N{n}"} if n % 4 == 0 else {})
              for n, (keys, ts, source) in enumerate(drawn)]
    if with_hub:
        events += [event(f"h{n:03}", DAYS[n % len(DAYS)], "device_id:shared", email)
                   for n, email in enumerate(HUB_EMAILS)]
    return events


def services_of(store: IdentityStore) -> Services:
    return build_services(Settings(), store)


def at(moment: str) -> datetime:
    return parse_ts(moment).astimezone(UTC)


@dataclass
class Done:
    """A steward action carried out: the action, or the undo of the `undoes`-th done."""

    moment: str
    action: Action | None = None
    undoes: int | None = None
    forgets: str | None = None  # an erasure of this customer


async def play(services: Services, events: list[Event], planned: list[tuple[str, str]],
               rng: random.Random, *, until: str | None = None,
               done: list[Done] | None = None) -> list[Done]:
    """Load `events` (those up to `until`) and carry out the actions (those up to
    `until`): `planned` ones are chosen then, on the graph as it is, and returned; `done`
    ones (as `play` returned them) are done again. Events between two actions arrive
    shuffled, in random batches."""
    steps: list[tuple[str, object]] = ([(d.moment, d) for d in done] if done is not None
                                       else list(planned))
    steps = sorted((s for s in steps if until is None or s[0] <= until), key=lambda s: s[0])
    kept = [e for e in events if until is None or e.ts <= _ts(until)]
    record: list[Done] = []
    seqs: dict[int, int] = {}
    loaded = 0
    for moment, what in steps:
        loaded = await _load(services, kept, loaded, moment, rng)
        services.steward.clock = lambda m=moment: at(m)
        again = isinstance(what, Done)
        chosen = what if again else await _choose(services, str(what), rng, record, moment)
        if chosen is None:
            continue
        if chosen.forgets is not None:
            services.privacy.clock = lambda m=moment: at(m)
            await services.privacy.forget(chosen.forgets, "ann", "on request")
            record.append(chosen)
            continue
        try:
            if chosen.undoes is not None:
                result = await services.steward.undo(seqs[chosen.undoes], "sam", "undo")
            else:
                assert chosen.action is not None
                result = await services.steward.act(chosen.action)
        except StewardError:
            if again:
                raise  # the same events and actions before it: it must be possible again
            continue
        assert result.audit_seq is not None
        seqs[len(record)] = result.audit_seq
        record.append(chosen)
    await _load(services, kept, loaded, None, rng)
    return record


def _ts(moment: str) -> str:
    return event("x", moment, "cookie:x").ts


async def _load(services: Services, events: list[Event], start: int, moment: str | None,
                rng: random.Random) -> int:
    """Load the events dated up to `moment` that are not loaded yet; returns how many of
    the (time-ordered) events are loaded now."""
    ordered = sorted(events, key=lambda e: (e.ts, e.event_id))
    end = len(ordered) if moment is None else sum(1 for e in ordered if e.ts <= _ts(moment))
    window = ordered[start:end]
    rng.shuffle(window)
    size = rng.choice([1, 3, 7, 1000])
    for begin in range(0, len(window), size):
        await services.ingest.ingest(window[begin:begin + size])
    return max(end, start)


async def _choose(services: Services, kind: str, rng: random.Random, record: list[Done],
                  moment: str) -> Done | None:
    """An action of `kind` a steward could make on the graph as it is; None when there is
    none to make."""
    if kind == "undo":
        undone = {d.undoes for d in record}
        undoable = [n for n, d in enumerate(record) if d.action is not None
                    and n not in undone]
        return Done(moment, undoes=rng.choice(undoable)) if undoable else None
    customers = await export(services.store)
    if kind == "forget":
        held = sorted(c for c, keys in customers.items() if keys)
        return Done(moment, forgets=rng.choice(held)) if held else None
    action = await _action(services, kind, rng, customers, sorted(customers))
    return Done(moment, action=action) if action is not None else None


async def _action(services: Services, kind: str, rng: random.Random,
                  customers: dict[str, list[str]], ids: list[str]) -> Action | None:
    ids = [c for c in ids if customers[c]]  # a quarantine may leave one without any
    several = [c for c in ids if len(customers[c]) >= 2]
    if kind == "split" and several:
        keys = customers[rng.choice(several)]
        return Action("split", "sam", "not the same person", (rng.choice(keys),))
    if kind in ("unlink", "ban") and several:
        links = [link for link in await services.store.links_of(rng.choice(several))
                 if link.status == "active"]
        if links:
            link = rng.choice(links)
            return Action("unlink", "sam", "wrong link", (link.a, link.b), ban=kind == "ban")
    if kind in ("link", "merge") and len(ids) >= 2:
        first, second = rng.sample(ids, 2)
        if kind == "merge":
            return Action("merge", "sam", "same person", customers=(first, second))
        return Action("link", "sam", "same person",
                      (rng.choice(customers[first]), rng.choice(customers[second])))
    if kind == "quarantine" and ids:
        return Action("quarantine", "sam", "suspicious",
                      (rng.choice(customers[rng.choice(ids)]),))
    if kind == "release":
        stopped = [k for k, r in (await services.store.identifiers(POOL)).items()
                   if r.status == "quarantined" and r.reason.startswith("quarantined by")]
        if stopped:
            return Action("release", "sam", "fine after all", (rng.choice(stopped),))
    return None


async def export(store: IdentityStore) -> dict[str, list[str]]:
    """customer id -> its identifier keys."""
    customers: dict[str, list[str]] = {}
    after = None
    while page := await store.customer_page(after, 500):
        found = await store.identifiers_of(page)
        customers.update({c: sorted(r.key for r in found.get(c, [])) for c in page})
        after = page[-1]
    return customers


async def histories(store: IdentityStore, ids: list[str]) -> dict[str, list[tuple]]:
    """Each customer's merge history: (absorbed, survivor, at, event), as the event-time
    ids contract compares it."""
    merges = await store.merges_into(ids)
    return {c: [(m.absorbed, m.survivor, m.at, m.event_id) for m in merges.get(c, [])]
            for c in ids}
