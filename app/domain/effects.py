"""What a plan leads to beyond the graph: the change events it publishes (changes_of) and
the segment checks it leaves (pending_checks). They read a Plan, which holds both, so they
live above plan.py, changes.py and checks.py."""

from __future__ import annotations

from collections.abc import Iterable

from app.domain.changes import Change, ChangeEventKind
from app.domain.checks import PendingCheck
from app.domain.plan import Plan
from app.domain.segments.index import CREATED, SegmentInput, input_key, touched_event


def changes_of(plan: Plan, owners: dict[str, str], at: str) -> list[Change]:
    """The changes a plan makes: created customers, merges, identifiers new to a customer.
    `owners` are the identifier owners before the plan."""
    seed_events: dict[str, list[str]] = {}
    for event in plan.events:
        for ident in event.identifiers:
            seed_events.setdefault(ident.key, []).append(event.event_id)
    return [*_created(plan, seed_events, at), *_merged(plan, at), *_split(plan, at),
            *_identifiers_added(plan, owners, seed_events, at), *_profile_changes(plan, at)]


def _sample(keys: list[str], seed_events: dict[str, list[str]]) -> tuple[str, ...]:
    """The first ten events (by id) that brought these keys."""
    return tuple(sorted({e for k in keys for e in seed_events.get(k, [])})[:10])


def _created(plan: Plan, seed_events: dict[str, list[str]], at: str) -> list[Change]:
    keys_of: dict[str | None, list[str]] = {}
    for delta in plan.identifiers:
        keys_of.setdefault(delta.customer_id, []).append(delta.key)
    for key, cid in plan.moves.items():
        keys_of.setdefault(cid, []).append(key)
    return [Change(ChangeEventKind.CUSTOMER_CREATED, customer.id, at,
                   _sample(keys_of.get(customer.id, []), seed_events))
            for customer in plan.new_customers]


def _merged(plan: Plan, at: str) -> list[Change]:
    return [
        Change(kind, merge.survivor, at, (merge.event_id,) if merge.event_id else (),
               (merge.absorbed, merge.survivor),
               {"survivor": merge.survivor, "absorbed": merge.absorbed, "reason": merge.reason})
        for kind, merges in ((ChangeEventKind.CUSTOMER_MERGED, plan.merges),
                              (ChangeEventKind.CUSTOMER_RENAMED, plan.renames))
        for merge in merges
    ]


def _split(plan: Plan, at: str) -> list[Change]:
    return [Change(ChangeEventKind.CUSTOMER_SPLIT, split.customer_id, at, (), (split.customer_id,),
                   {"parts": list(split.parts), "reason": split.reason})
            for split in plan.splits]


def _identifiers_added(plan: Plan, owners: dict[str, str], seed_events: dict[str, list[str]],
                       at: str) -> list[Change]:
    added: dict[str, list[str]] = {}
    for delta in plan.identifiers:
        if delta.key not in owners and delta.customer_id is not None:
            added.setdefault(delta.customer_id, []).append(delta.key)
    return [Change(ChangeEventKind.IDENTIFIERS_ADDED, customer_id, at, _sample(keys, seed_events),
                   data={"identifiers": keys})
            for customer_id, keys in sorted(added.items())]


def _profile_changes(plan: Plan, at: str) -> list[Change]:
    """profile_changed for each customer that gets an event carrying traits or consent,
    with (a sample of) those events."""
    carrying = [e for e in plan.events if e.traits or e.consent]
    if not carrying:
        return []
    survivor = {m.absorbed: m.survivor for m in [*plan.merges, *plan.renames]}

    def final(cid: str | None) -> str | None:
        while cid in survivor:
            cid = survivor[cid]
        return cid

    owner = {d.key: d.customer_id for d in plan.identifiers} | plan.moves
    events: dict[str, set[str]] = {}
    for event in carrying:
        for ident in event.identifiers:
            if (cid := final(owner.get(ident.key))) is not None:
                events.setdefault(cid, set()).add(event.event_id)
    return [Change(ChangeEventKind.PROFILE_CHANGED, cid, at, tuple(sorted(ids)[:10]))
            for cid, ids in sorted(events.items())]


def pending_checks(plan: Plan, at: str) -> list[PendingCheck]:
    """The checks a plan leaves: its customers (with the inputs it touched of each), the
    absorbed of its merges (with their survivor) and the parts of its splits."""
    absorbed = {m.absorbed: m.survivor for m in [*plan.merges, *plan.renames]}
    parts = {p for s in plan.splits for p in s.parts}
    touched = (plan.affected_customers | set(absorbed)) - {e.customer_id for e in plan.erasures}
    inputs = touched_inputs(plan)
    return [PendingCheck(cid, at, at, absorbed.get(cid), cid in parts, inputs.get(cid))
            for cid in sorted(touched)]


def touched_inputs(plan: Plan) -> dict[str, frozenset[str]]:
    """Per customer, the segment inputs (app.domain.segments.index) an ingest plan
    touched: its events' types, traits and consent, the identifier types it gained, moved
    or changed the status of, and CREATED for the customers it created. A customer
    missing here may have changed in any way: one merged into, renamed or split, and
    every customer of a plan that is not an ingest of events (a steward action, a rules
    change), whose changes are not listed."""
    if plan.audit or not plan.events:
        return {}
    touched = _Touched(plan)
    for event in plan.events:
        keys = [touched_event(event.type),
                *(input_key(SegmentInput.TRAIT, t) for t in event.traits),
                *(input_key(SegmentInput.CONSENT, p) for p in event.consent)]
        for ident in event.identifiers:
            touched.add(touched.owner.get(ident.key), keys)
    if not touched.identifiers(plan):
        return {}
    for customer in plan.new_customers:
        touched.add(customer.id, [CREATED])
    whole = {*touched.survivor.values(),
             *(c for s in plan.splits for c in (s.customer_id, *s.parts))}
    return {cid: frozenset(keys) for cid, keys in touched.found.items() if cid not in whole}


class _Touched:
    def __init__(self, plan: Plan) -> None:
        self.survivor = {m.absorbed: m.survivor for m in [*plan.merges, *plan.renames]}
        self.holder = {d.key: d.customer_id for d in plan.identifiers}
        self.owner = self.holder | plan.moves
        self.found: dict[str, set[str]] = {}

    def add(self, cid: str | None, keys: Iterable[str]) -> None:
        while cid in self.survivor:
            cid = self.survivor[cid]
        if cid is not None:
            self.found.setdefault(cid, set()).update(keys)

    def identifiers(self, plan: Plan) -> bool:
        """The identifier types each customer gained, lost or saw change status; False
        when a status changed for an identifier whose owner the plan does not say."""
        for change in plan.changes:
            if change.kind == ChangeEventKind.IDENTIFIERS_ADDED:
                self.add(change.customer_id,
                         (_identifier(k) for k in change.data["identifiers"]))
        for key, cid in plan.moves.items():
            self.add(cid, [_identifier(key)])
            self.add(self.holder.get(key), [_identifier(key)])
        for status in plan.statuses:
            if self.owner.get(status.key) is None:
                return False
            self.add(self.owner.get(status.key), [_identifier(status.key)])
        return True


def _identifier(key: str) -> str:
    return input_key(SegmentInput.IDENTIFIER, key.partition(":")[0])


def with_checks(plan: Plan, at: str) -> Plan:
    """The plan, with the segment checks it leaves recorded in it (Plan.segment_checks)."""
    plan.segment_checks = pending_checks(plan, at)
    return plan
