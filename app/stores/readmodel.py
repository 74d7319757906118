"""The profile read model: per customer, one document holding what the frontend's profile
query reads (identifiers, profile observations, the first timeline page, segment state),
so that the common read is one key lookup on either store.

Pure functions: the adapters keep the documents keyed by customer id and rewrite those of
every customer a write touches in the write's transaction. A customer the write only adds
events and sightings to has its stored document patched (its identifiers read again, the
transaction's new events added to its first timeline page and its observations); the
others' are read whole from the graph through `read_customers` (the graph read the API
makes without the read model). Observations are kept in (timestamp, event id) order: the
profile sorts them so, and the graph read's order is the store's. Serving a read decodes
the document back into the same CustomerData values the graph read answers; a customer
without a document (a store written before the read model) is read from the graph.
Masking happens at the API edge, after the read: a document holds the stored values, as
the graph does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

import orjson

from app.domain.events import Event
from app.domain.identifiers import Identifier
from app.domain.plan import Plan, Snapshot
from app.domain.profile import Observation
from app.domain.segments.membership import Membership
from app.stores.values import (
    CustomerData,
    CustomerReads,
    EventRecord,
    IdentifierRecord,
    SegmentState,
    TimelineWindow,
)

# The first timeline page a profile shows: the API's default page of 20, and one more event
# that tells whether a next page exists.
DOCUMENT_PAGE = 21
DOCUMENT_WINDOW = TimelineWindow(DOCUMENT_PAGE)
VERSION = 1  # a document of another version is not served (read from the graph instead)
# a customer's document before the plan that creates it
EMPTY = '{"v":1,"identifiers":[],"observations":[],"timeline":[],"segments":null}'


def document_reads(customer_ids: Collection[str]) -> CustomerReads:
    """The graph reads a document is made of."""
    ids = set(customer_ids)
    return CustomerReads(identifiers=set(ids), observations=set(ids),
                         timelines={DOCUMENT_WINDOW: set(ids)}, segment_states=set(ids))


def documents(customer_ids: Collection[str], data: CustomerData) -> dict[str, str | None]:
    """Each customer's document from `data` (document_reads' answer); None for an id that
    holds no identifier (merged away, erased, never held one): it has no document."""
    page = data.timelines.get(DOCUMENT_WINDOW, {})
    found: dict[str, str | None] = {}
    for cid in customer_ids:
        identifiers = data.identifiers.get(cid)
        state = data.segment_states.get(cid)
        found[cid] = None if not identifiers else _dumps({
            "v": VERSION,
            "identifiers": [_identifier(r) for r in identifiers],
            "observations": sorted((_observation(o) for o in data.observations.get(cid, [])),
                                   key=_observed),
            "timeline": [_event(e) for e in page.get(cid, [])],
            "segments": None if state is None else _state(state),
        })
    return found


def read_whole(plan: Plan, snapshot: Snapshot, owners_after: Mapping[str, str]) -> set[str]:
    """The customers whose documents a plan changes beyond adding events and sightings
    (merged, renamed, split, erased, or holding an identifier that moved, changed status
    or was held by another customer): their documents are read whole from the graph.
    `owners_after`: each plan_keys identifier's owner after the plan."""
    ids = {x for m in [*plan.merges, *plan.renames] for x in (m.absorbed, m.survivor)}
    ids |= {x for s in plan.splits for x in (s.customer_id, *s.parts)}
    ids |= {e.customer_id for e in plan.erasures} | set(plan.history) | set(plan.history_reset)
    changed = set(plan.moves) | {s.key for s in plan.statuses}
    changed |= {k for erasure in plan.erasures for k in erasure.keys}
    for key in changed:
        ids |= {c for c in (snapshot.owners.get(key), owners_after.get(key)) if c}
    for key, cid in owners_after.items():
        # an identifier stored before under another customer, or not active, brings its events
        if snapshot.owners.get(key, cid) != cid or key in snapshot.statuses:
            ids.add(cid)
    return ids


def before(plan: Plan, whole: Collection[str], stored: Mapping[str, str]) -> dict[str, str]:
    """The documents to patch as they were before the plan: those stored (of customers
    not in `whole`, read_whole's), and an empty one for each customer the plan creates
    outside `whole` (it holds only new identifiers, so only the plan's events)."""
    return {**{c.id: EMPTY for c in plan.new_customers if c.id not in whole}, **stored}


def patched(stored: Mapping[str, str], identifiers: Mapping[str, list[list[Any]]],
            events: Collection[Event], owners_after: Mapping[str, str]
            ) -> dict[str, str | None]:
    """The documents of the customers of `stored` (before's), with their identifiers as
    read now (identifier_rows) and the plan's events observed through an identifier they
    hold: what the
    graph read answers after the plan, as the documents before it held the newest page of
    an event set the plan only adds to. A document of another version is left out (the
    caller reads it whole)."""
    added: dict[str, list[Event]] = {cid: [] for cid in stored}
    for event in events:
        for cid in {owners_after.get(i.key) for i in event.identifiers}:
            if cid in added:
                added[cid].append(event)
    found: dict[str, str | None] = {}
    for cid, text in stored.items():
        body = _loads(text)
        if body.get("v") != VERSION:
            continue
        if not identifiers.get(cid):
            found[cid] = None
            continue
        body["identifiers"] = identifiers[cid]
        if added[cid]:
            _add_events(body, added[cid])
        found[cid] = _dumps(body)
    return found


def _add_events(body: dict[str, Any], new: list[Event]) -> None:
    """The document's observations and first page with the new events added (their parts
    as the store keeps them, event_body's, which the document's text writes alike)."""
    if seen := [[e.event_id, e.ts, e.source, e.traits, e.consent]
                for e in new if e.traits or e.consent]:
        body["observations"] = sorted([*body["observations"], *seen], key=_observed)
    page = {row[0]: row for row in body["timeline"]}
    page.update((e.event_id, [e.event_id, e.type, e.ts, e.source,
                              sorted({i.key for i in e.identifiers}), e.traits,
                              e.properties, e.consent]) for e in new)
    # the graph read's order: newest first, then the greater event id
    body["timeline"] = sorted(page.values(), key=_when, reverse=True)[:DOCUMENT_PAGE]


def identifier_rows(found: Mapping[str, list[IdentifierRecord]]) -> dict[str, list[list[Any]]]:
    """Each customer's identifiers as its document holds them."""
    return {cid: [_identifier(r) for r in records] for cid, records in found.items()}


# The start of a document only the standard library could write (it holds an integer
# beyond 64 bits): orjson would read such an integer back as a float, so the standard
# library reads it, as the graph read reads the event bodies.
STANDARD = '{"standard":1,'


def _loads(text: str) -> Any:
    if text.startswith(STANDARD):
        body = json.loads(text)
        del body["standard"]
        return body
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # a number beyond a double's range, from before the
        return json.loads(text)     # bounds: the standard library reads it as the graph does


def _dumps(body: dict[str, Any]) -> str:
    try:
        return orjson.dumps(body, default=str).decode()
    except TypeError:  # an integer beyond 64 bits, which only the standard library writes
        return STANDARD + json.dumps(body, separators=(",", ":"), ensure_ascii=False,
                                     default=str)[1:]


def _observed(row: list[Any]) -> tuple[str, str]:
    return row[1], row[0]


def _when(row: list[Any]) -> tuple[str, str]:
    return row[2], row[0]


def customers_of(reads: CustomerReads) -> set[str]:
    """Every customer that `reads` asks about, in any of its reads."""
    ids = reads.identifiers | reads.observations | reads.segment_states
    for window, held in reads.timelines.items():
        if served_window(window):
            ids |= held
    return ids


def served_window(window: TimelineWindow) -> bool:
    """A document answers the first page of the whole timeline, up to DOCUMENT_PAGE."""
    return (window.after is None and not window.types and window.since is None
            and window.until is None and 0 < window.first <= DOCUMENT_PAGE)


def serve(reads: CustomerReads, stored: Mapping[str, str]) -> tuple[CustomerData, CustomerReads]:
    """The part of `reads` the stored documents answer, and the reads left for the graph
    (customers without a document, timeline windows a document does not hold)."""
    held = {cid: body for cid, text in stored.items()
            if (body := _loads(text)).get("v") == VERSION}
    data, rest = CustomerData(), CustomerReads()
    for cid in reads.identifiers:
        if cid in held:
            data.identifiers[cid] = [_identifier_of(r) for r in held[cid]["identifiers"]]
        else:
            rest.identifiers.add(cid)
    _answer(reads.observations, held, "observations", data.observations, rest.observations,
            lambda found: [_observation_of(o) for o in found])
    _answer(reads.segment_states, held, "segments", data.segment_states, rest.segment_states,
            _state_of)
    for window, ids in reads.timelines.items():
        pages = data.timelines.setdefault(window, {})
        if not served_window(window):
            rest.timelines[window] = set(ids)
            continue
        _answer(ids, held, "timeline", pages, rest.timelines.setdefault(window, set()),
                _page(window.first))
    return data, rest


def _page(first: int) -> Callable[[list[list[Any]]], list[EventRecord]]:
    return lambda found: [_event_of(e) for e in found[:first]]


def _answer(ids: Collection[str], held: Mapping[str, dict[str, Any]], part: str,
            answers: dict[str, Any], rest: set[str], decode: Callable[[Any], Any]) -> None:
    """Answer each of `ids` that has a document from its `part`, as the graph read does
    (a customer with nothing there is missing); the others go to `rest`."""
    for cid in ids:
        if cid not in held:
            rest.add(cid)
        elif held[cid][part]:
            answers[cid] = decode(held[cid][part])


def any_reads(reads: CustomerReads) -> bool:
    return bool(reads.identifiers or reads.observations or reads.segment_states
                or any(reads.timelines.values()))


def combine(data: CustomerData, more: CustomerData) -> CustomerData:
    """`data` with the answers of `more` (reads of other customers or windows) added."""
    data.identifiers.update(more.identifiers)
    data.observations.update(more.observations)
    data.segment_states.update(more.segment_states)
    for window, pages in more.timelines.items():
        data.timelines.setdefault(window, {}).update(pages)
    return data


def plan_keys(plan: Plan) -> set[str]:
    """The identifiers a plan writes, moves, erases or adds events to: their owners before
    and after the plan have documents to rewrite."""
    keys: set[str] = set(plan.moves) | {d.key for d in plan.identifiers}
    keys |= {s.key for s in plan.statuses}
    keys |= {i.key for e in plan.events for i in e.identifiers}
    for erasure in plan.erasures:
        keys |= set(erasure.keys)
    return keys


def touched_customers(plan: Plan, snapshot: Snapshot) -> set[str]:
    """The customers a plan names, and the owners before it (from its snapshot) of
    plan_keys: the adapters rewrite their documents, and those of the owners of plan_keys
    after it, which they read in the transaction."""
    keys = plan_keys(plan)
    ids = set(plan.affected_customers)
    ids |= {m.absorbed for m in [*plan.merges, *plan.renames]}
    ids |= {c.id for c in plan.new_customers} | set(plan.customer_updates)
    ids |= {e.customer_id for e in plan.erasures}
    ids |= set(plan.history) | set(plan.history_reset)
    return ids | {c for k in keys if (c := snapshot.owners.get(k))}


# -- the document's parts, written and read back as the graph read answers them ------------
def _identifier(r: IdentifierRecord) -> list[Any]:
    return [r.type, r.value, r.customer_id, r.first_seen, r.last_seen, list(r.sources),
            r.status, r.reason]


def _identifier_of(row: list[Any]) -> IdentifierRecord:
    type_, value, cid, first, last, sources, status, reason = row
    return IdentifierRecord(type_, value, cid, first, last, tuple(sources), status, reason)


def _observation(o: Observation) -> list[Any]:
    return [o.event_id, o.timestamp, o.source, dict(o.traits), dict(o.consent)]


def _observation_of(row: list[Any]) -> Observation:
    return Observation(*row)


def _event(e: EventRecord) -> list[Any]:
    return [e.event_id, e.type, e.timestamp, e.source, [i.key for i in e.identifiers],
            e.traits, e.properties, e.consent]


def _event_of(row: list[Any]) -> EventRecord:
    event_id, type_, ts, source, keys, traits, properties, consent = row
    return EventRecord(event_id, type_, ts, source, tuple(Identifier.from_key(k) for k in keys),
                       traits, properties, consent)


def _state(s: SegmentState) -> dict[str, Any]:
    return {"members": [[m.segment, m.since, list(m.why)] for m in s.memberships.values()],
            "checked_at": s.checked_at, "next_check": s.next_check}


def _state_of(body: dict[str, Any]) -> SegmentState:
    members = {segment: Membership(segment, since, tuple(why))
               for segment, since, why in body["members"]}
    return SegmentState(members, body["checked_at"], body["next_check"])
