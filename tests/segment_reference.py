"""The reference streaming and batch evaluation are checked against: every segment at
every moment any segment could change (app.domain.segments.membership.catch_up before it
learnt to evaluate only the segments a moment or a write can change)."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.segments.evaluate import Catalogue, evaluate_all, next_change_at
from app.domain.segments.membership import (
    MAX_STEPS,
    Membership,
    MembershipChange,
    Refresh,
    diff,
)
from app.domain.traits import CustomerFacts, TraitsConfig, normal_ts


def catch_up_every_segment(segments: Catalogue, facts: CustomerFacts,
                           current: Mapping[str, Membership], checked_at: str | None,
                           now: str, *, traits: TraitsConfig | None = None,
                           max_steps: int = MAX_STEPS) -> Refresh:
    """The reference: membership.catch_up as it was before the segment index, every
    segment evaluated at every moment any of them could change.

    `checked_at` None (never checked) starts at the customer's first event, so a replayed
    history is dated as it happened; pass `now` to date everything now (a split part).
    An event that arrives dated before `checked_at` is late: what it changes is dated
    `now`, because history is not rewritten. Only events are kept in time: a step in the
    past sees the customer's current identifiers, traits and consent."""
    now = normal_ts(now)
    memberships = dict(current)
    changes: list[MembershipChange] = []

    def step_to(moment: str) -> None:
        nonlocal memberships
        results = evaluate_all(segments, facts, moment, traits=traits)
        step, memberships = diff(facts.customer_id, memberships, results, moment)
        changes.extend(step)

    at = checked_at
    if at is None and facts.events and facts.events[0].timestamp < now:
        at = facts.events[0].timestamp
        step_to(at)
    elif at is not None and at < now and any(e.timestamp == at for e in facts.events):
        step_to(at)  # an event of the very moment of the last check may be new to it
    steps = 0
    while at is not None and steps < max_steps:
        moment = next_change_at(segments, facts, at, traits=traits)
        if moment is None or moment >= now:
            break
        step_to(moment)
        at, steps = moment, steps + 1
    results = evaluate_all(segments, facts, now, traits=traits)
    step, memberships = diff(facts.customer_id, memberships, results, now)
    changes += step
    return Refresh(tuple(changes), memberships, results, now,
                   next_change_at(segments, facts, now, traits=traits))
