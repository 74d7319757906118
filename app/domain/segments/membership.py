"""Membership history: when a customer entered and left a segment, and why.

`catch_up` is the one way memberships move, for streaming and batch alike: from the last
time a customer was checked to `now`, it evaluates at every moment a result could have
changed (next_change_at) and records each entry and exit at that moment. Streaming calls
it after each event, merge or split of the customer; `idgraph segments refresh` calls it
for everyone. When events arrive in time order, both write the same history.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.domain.segments.evaluate import (
    Catalogue,
    Result,
    evaluate_all,
    own_change,
    with_readers,
)
from app.domain.traits import CustomerFacts, TraitsConfig, normal_ts


class Transition(StrEnum):
    """How a customer's membership of a segment changes."""

    ENTERED = "entered"
    LEFT = "left"


ENTERED = Transition.ENTERED
LEFT = Transition.LEFT
# Bounds the moments one catch_up steps through (a day-by-day `days_since` condition over
# a long gap); past it, the rest is settled in one evaluation at `now`.
MAX_STEPS = 1000


@dataclass(frozen=True, slots=True)
class Membership:
    segment: str
    since: str
    why: tuple[str, ...]  # the conditions that held when the customer entered


@dataclass(frozen=True, slots=True)
class MembershipChange:
    customer_id: str
    segment: str
    change: Transition
    at: str
    why: tuple[str, ...]  # entered: what held; left: what stopped holding (or the event)

    def to_json(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "segment": self.segment,
                "change": self.change, "at": self.at, "why": list(self.why)}


def diff(customer_id: str, current: Mapping[str, Membership], results: Mapping[str, Result],
         at: str) -> tuple[list[MembershipChange], dict[str, Membership]]:
    """The changes from `current` to `results` and the memberships after them. Segments
    missing from `results` keep their memberships."""
    changes: list[MembershipChange] = []
    after = dict(current)
    for segment, result in sorted(results.items()):
        was = segment in current
        if result.member and not was:
            after[segment] = Membership(segment, at, result.why)
            changes.append(MembershipChange(customer_id, segment, ENTERED, at, result.why))
        elif was and not result.member:
            del after[segment]
            changes.append(MembershipChange(customer_id, segment, LEFT, at, result.why))
    return changes, after


@dataclass(frozen=True, slots=True)
class Refresh:
    changes: tuple[MembershipChange, ...]
    memberships: dict[str, Membership]
    results: dict[str, Result]  # the segments evaluated at `checked_at`
    checked_at: str
    next_check: str | None  # when to look again if nothing happens (None: only on new data)


def catch_up(segments: Catalogue, facts: CustomerFacts, current: Mapping[str, Membership],
             checked_at: str | None, now: str, *, traits: TraitsConfig | None = None,
             max_steps: int = MAX_STEPS, only: Collection[str] | None = None,
             next_check: str | None = None) -> Refresh:
    """Bring one customer's memberships from `checked_at` to `now`.

    `checked_at` None (never checked) starts at the customer's first event, so a replayed
    history is dated as it happened; pass `now` to date everything now (a split part).
    An event that arrives dated before `checked_at` is late: what it changes is dated at
    the first moment looked at after `checked_at`, because history is not rewritten. Only
    events are kept in time: a step in the past sees the customer's current identifiers,
    traits and consent.

    The first moment evaluates every segment; each later one only the segments whose own
    conditions can change then (each segment's next moment is kept until it comes: with
    the facts fixed, it cannot move) and those that read them through in_segment. That
    is the same history as evaluating every segment at every moment any could change.

    `only`: evaluate just these segments (SegmentIndex.affected, .new_customer), the
    others keep their memberships in `current` (the caller knows nothing they read
    changed, and that time cannot change them before `now`); `next_check` is the one
    stored at the last check, kept when it is still ahead (it may belong to a segment
    not evaluated)."""
    now = normal_ts(now)
    traits = traits or TraitsConfig.default()
    names = frozenset(segments) if only is None else frozenset(only) & frozenset(segments)
    upward = with_readers(segments, names)
    memberships = dict(current)
    changes: list[MembershipChange] = []

    def step_to(moment: str, which: Collection[str]) -> None:
        nonlocal memberships
        results = evaluate_all(segments, facts, moment, traits=traits, only=which,
                               held=memberships)
        step, memberships = diff(facts.customer_id, memberships, results, moment)
        changes.extend(step)

    at, synced = checked_at, False
    if at is None and facts.events and facts.events[0].timestamp < now:
        at, synced = facts.events[0].timestamp, True
        step_to(at, names)
    elif at is not None and at < now and any(e.timestamp == at for e in facts.events):
        step_to(at, names)  # an event of the very moment of the last check may be new to it
        synced = True
    times: dict[str, str | None] = {}
    if at is not None:
        times = {n: own_change(segments[n], facts, at, traits) for n in names}
    steps = 0
    while at is not None and steps < max_steps:
        moment = min((t for t in times.values() if t is not None), default=None)
        if moment is None or moment >= now:
            break
        due = [n for n, t in times.items() if t == moment]
        # late events are seen at the first moment: every segment then
        step_to(moment, set().union(*(upward[n] for n in due)) if synced else names)
        for name in due:
            times[name] = own_change(segments[name], facts, moment, traits)
        at, steps, synced = moment, steps + 1, True
    if synced and steps < max_steps:  # the others answer at `now` as they last did
        due = [n for n, t in times.items() if t is not None and t <= now]
        last: Collection[str] | None = set().union(*(upward[n] for n in due))
    else:
        last = None if only is None else names
    results = evaluate_all(segments, facts, now, traits=traits, only=last, held=memberships)
    step, memberships = diff(facts.customer_id, memberships, results, now)
    changes += step
    ahead = [own_change(segments[name], facts, now, traits) if kept is None else kept
             for name in names for kept in [_ahead(times, name, now)]]
    following = min((t for t in ahead if t), default=None)
    if only is not None and next_check is not None and next_check > now:
        following = min(next_check, following or next_check)
    return Refresh(tuple(changes), memberships, results, now, following)


def _ahead(times: Mapping[str, str | None], name: str, now: str) -> str | None:
    """The kept next moment of a segment when it is still after `now`; "" when it never
    comes (None: it must be worked out at `now`)."""
    if name not in times:
        return None
    kept = times[name]
    return "" if kept is None else kept if kept > now else None


def stale(segments: Catalogue, facts: CustomerFacts, memberships: Mapping[str, Membership],
          checked_at: str, *, traits: TraitsConfig | None = None
          ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(missing, extra): the segments the customer belongs in at `checked_at` and is not
    in, and those it is in and does not belong in. A customer brought up to date at
    `checked_at` with these facts has neither: catch_up ends with exactly this evaluation."""
    results = evaluate_all(segments, facts, normal_ts(checked_at), traits=traits)
    belongs = {s for s, r in results.items() if r.member}
    held = set(memberships)
    return tuple(sorted(belongs - held)), tuple(sorted(held - belongs))


def merged(absorbed_id: str, survivor_id: str, absorbed: Mapping[str, Membership],
           at: str) -> list[MembershipChange]:
    """The absorbed customer leaves every segment; the survivor is caught up with the
    merged facts."""
    return [MembershipChange(absorbed_id, s, LEFT, at, (f"merged into {survivor_id}",))
            for s in sorted(absorbed)]


def erased(customer_id: str, memberships: Iterable[str], at: str) -> list[MembershipChange]:
    """An erased customer leaves every segment, so that audiences downstream drop it."""
    return [MembershipChange(customer_id, s, LEFT, at, ("the customer was erased",))
            for s in sorted(memberships)]


def segment_deleted(segment: str, members: Iterable[str], at: str) -> list[MembershipChange]:
    return [MembershipChange(c, segment, LEFT, at, ("the segment was deleted",))
            for c in sorted(members)]


@dataclass(frozen=True, slots=True)
class Period:
    segment: str
    entered: str
    left: str | None  # None: still a member
    why_entered: tuple[str, ...]
    why_left: tuple[str, ...] = ()


def periods(changes: Iterable[MembershipChange]) -> list[Period]:
    """A customer's history as periods of membership, oldest first."""
    open_: dict[str, MembershipChange] = {}
    found: list[Period] = []
    for change in sorted(changes, key=lambda c: (c.at, c.change == ENTERED)):
        if change.change == ENTERED:
            open_[change.segment] = change
        elif (start := open_.pop(change.segment, None)) is not None:
            found.append(Period(change.segment, start.at, change.at, start.why, change.why))
    found += [Period(s, c.at, None, c.why) for s, c in open_.items()]
    return sorted(found, key=lambda p: (p.entered, p.segment))
