"""Planning the ingest of a batch: the fast path for the groups that break no rule, the
full path for the rest, and the identifiers, links and search terms the batch adds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from app.domain.effects import changes_of
from app.domain.events import Event
from app.domain.matching.stream import PendingRecord
from app.domain.matching.training import Matcher
from app.domain.plan import (
    ACTIVE,
    BANNED,
    LINKED,
    REJECTED,
    IdentifierDecision,
    IdentifierDelta,
    IdentifierStatusChange,
    LinkDecision,
    LinkDelta,
    Pair,
    Plan,
    Snapshot,
)
from app.domain.resolution.batch import (
    Batch,
    LinkEvidence,
    add_matches,
    collect,
    drop_suppressed,
    find_inactive,
    new_events,
)
from app.domain.resolution.components import gathered, require_components, resolve_components
from app.domain.resolution.fast import (
    Group,
    breaks_a_rule,
    groups_of,
    is_late,
    late_owners,
    resolve_fast,
)
from app.domain.rules import Rules
from app.domain.search import terms_of

DEFAULT_RULES = Rules.default()


def plan_ingest(
    events: Iterable[Event],
    snapshot: Snapshot,
    now: str,
    rules: Rules = DEFAULT_RULES,
    matcher: Matcher | None = None,
    pending: Sequence[PendingRecord] = (),
) -> Plan:
    """`pending`: the batch's trait-bearing records (matching.stream.pending_records),
    matched with `matcher` when there is one."""
    plan = Plan()
    batch_events = drop_suppressed(new_events(events, snapshot.seen_events), snapshot, plan,
                                   rules)
    plan.events = batch_events
    if not batch_events:
        return plan
    # Late evidence needs whole components: ask before the costlier work below.
    require_components(late_owners(batch_events, snapshot), snapshot)
    batch = collect(batch_events)
    add_matches(batch, plan, snapshot, matcher, pending, now)
    inactive, new_hubs = find_inactive(batch, snapshot, rules)

    owner_of_key: dict[str, str | None] = {k: None for k in inactive}
    groups = groups_of(batch, snapshot, inactive)
    hubs = {snapshot.owners[k] for k in new_hubs}
    # Ask for every component the batch will read at once: one round trip, not one a group.
    require_components(hubs | {c for g in groups if is_late(g, snapshot) or
                               breaks_a_rule(g, snapshot, rules) for c in g.customers},
                       snapshot)
    full_groups, fast_groups, full = _split_paths(groups, hubs, snapshot, rules)
    for group in fast_groups:
        owner = resolve_fast(group, snapshot, plan, batch, now)
        for key in group.keys:
            owner_of_key[key] = owner
    decisions: dict[Pair, LinkDecision] = {}
    if full_groups or full:
        resolved = resolve_components(
            full,
            snapshot,
            plan,
            rules,
            now,
            batch=_restrict(batch, full_groups, inactive),
            inactive=inactive,
            reason="a conflict between rules re-evaluated the component",
        )
        owner_of_key.update(resolved.owners)
        decisions = resolved.decisions

    for key, (status, why) in inactive.items():
        stored = key in snapshot.owners or key in snapshot.statuses
        if stored and snapshot.statuses.get(key, (ACTIVE, ""))[0] != status:
            plan.statuses.append(IdentifierStatusChange(key, status, why))
    plan.identifiers = [
        IdentifierDelta(
            key,
            s.type,
            s.value,
            s.first_seen,
            s.last_seen,
            tuple(sorted(s.sources)),
            snapshot.owners.get(key) or owner_of_key.get(key),
            *(inactive.get(key, (ACTIVE, ""))),
            first_event=s.first_event,
        )
        for key, s in sorted(batch.sightings.items())
    ]
    plan.links = [
        replace(delta, match=batch.match_payloads.get((delta.a, delta.b)))
        for delta in (
            _link_delta(p, ev, inactive, snapshot, decisions.get(p))
            for p, ev in sorted(batch.evidence.items())
        )
    ]
    plan.search_terms = sorted(
        {t for e in batch_events
         for t in terms_of([i.key for i in e.identifiers if i.key not in inactive], e.traits)}
    )
    plan.changes = changes_of(plan, snapshot.owners, now)
    return plan


def _split_paths(groups: list[Group], full: set[str], snapshot: Snapshot, rules: Rules
                 ) -> tuple[list[Group], list[Group], set[str]]:
    """The groups the full path re-partitions (they break a rule, or touch a customer it
    re-partitions, including those its components reach by a rejected link), the groups
    the fast path takes, and the customers of the full path."""
    chosen = {n for n, g in enumerate(groups)
              if g.customers & full or breaks_a_rule(g, snapshot, rules)}
    while chosen or full:
        full |= {c for n in chosen for c in groups[n].customers}
        stored, _ = gathered(full, snapshot)
        involved = full | {i.customer_id for i in stored.values() if i.customer_id}
        more = {n for n, g in enumerate(groups) if n not in chosen and g.customers & involved}
        if not more:
            break
        chosen |= more
    return ([g for n, g in enumerate(groups) if n in chosen],
            [g for n, g in enumerate(groups) if n not in chosen], full)


def _restrict(batch: Batch, groups: list[Group], inactive: Mapping[str, object]) -> Batch:
    """The part of a batch that the full path re-partitions: the keys of its groups."""
    keys = {k for g in groups for k in g.keys}
    events = [e for e in batch.events if any(i.key in keys for i in e.identifiers)]
    return Batch(
        events,
        {k: s for k, s in batch.sightings.items() if k in keys},
        {
            p: ev
            for p, ev in batch.evidence.items()
            if (p[0] in keys or p[0] in inactive)
            and (p[1] in keys or p[1] in inactive)
            and (p[0] in keys or p[1] in keys)
        },
    )


def _link_delta(
    p: Pair,
    ev: LinkEvidence,
    inactive: Mapping[str, IdentifierDecision],
    snapshot: Snapshot,
    decided: LinkDecision | None,
) -> LinkDelta:
    stopped = next((k for k in p if k in inactive), None)
    if decided is not None:
        status, reason = decided
    elif p in snapshot.bans:
        status, reason = BANNED, "banned by a steward"
    elif stopped is not None:
        status, reason = REJECTED, f"{stopped} is {inactive[stopped][0]}: {inactive[stopped][1]}"
    else:
        status, reason = LINKED, ""
    return LinkDelta(
        p[0],
        p[1],
        ev.count,
        ev.first_seen,
        ev.last_seen,
        tuple(sorted(ev.sources)),
        tuple(ev.event_ids),
        status,
        reason,
        first_event=ev.first_event,
    )
