"""Resolution of whole components at once: what a rebuild decides for each connected
component of the links, given all of its evidence.

Pure, and made only of the stream's own pieces (resolution.partition, the anchors and
history.component_history, resolution's hub and block test), so that a rebuild that runs
these per component gives what the stream gives when every event of the component arrives
in one batch into a store without it: the same groups, ids, merge histories, settled
moments and link decisions (tests/unit/test_rebuild_domain.py checks it against
`plan_ingest`).

A rebuild finds the components elsewhere (on Spark, app/spark/): the links among active
identifiers that may merge, i.e. neither banned nor removed by a steward. A banned or
removed link never joins two groups in `partition`, so leaving it out of the components
changes no decision; a ban between two identifiers of one component still counts here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from app.domain.events import Event
from app.domain.history import Anchor, Moment, component_history
from app.domain.matching.stream import PendingRecord, pending_records
from app.domain.plan import (
    ACTIVE,
    CustomerInfo,
    IdentifierDecision,
    LinkDecision,
    LinkFacts,
    Merge,
    Pair,
    Plan,
    Snapshot,
)
from app.domain.resolution.anchors import info_of, settled_of, tie_of
from app.domain.resolution.batch import (
    Batch,
    BatchSighting,
    add_matches,
    drop_suppressed,
    find_inactive,
)
from app.domain.resolution.partition import partition
from app.domain.rules import Rules


@dataclass(frozen=True, slots=True)
class ResolvedCustomer:
    """One customer a component resolves to."""

    info: CustomerInfo
    keys: tuple[str, ...]
    history: tuple[Merge, ...]
    # (id, customer, at): ids the history names besides the customer, which the store
    # keeps as redirects to it (Plan.history_redirects)
    redirects: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class ComponentResolution:
    customers: list[ResolvedCustomer]
    # every candidate's (status, reason); links that join nothing are (rejected, why)
    decisions: dict[Pair, LinkDecision]


def resolve_component(
    firsts: Mapping[str, Moment],
    candidates: Sequence[LinkFacts],
    bans: Iterable[Pair],
    rules: Rules,
) -> ComponentResolution:
    """The customers of one component: its active identifiers (key -> moment of the first
    sighting), the links among them that may merge, and the bans between them. Each group
    `partition` makes is named after its anchor, with the merge history replayed from its
    accepted links (as `anchors.settle` names a group that no stored customer claims)."""
    nodes = {key: key.partition(":")[0] for key in firsts}
    result = partition(nodes, candidates, bans, rules)
    accepted = [c for c in candidates if result.decisions[(c.a, c.b)][0] == ACTIVE]
    group_of = {key: n for n, group in enumerate(result.groups) for key in group}
    ties_of: dict[int, list] = {}
    for c in accepted:
        ties_of.setdefault(group_of[c.a], []).append(
            tie_of(c.a, c.b, c.first_seen, c.first_event, c.sources))
    customers = []
    for n, group in enumerate(result.groups):
        gfirsts = {key: firsts[key] for key in group}
        ties = ties_of.get(n, [])
        whole = min(Anchor(m, k) for k, m in gfirsts.items())
        final = whole.customer_id
        _, merges = component_history(gfirsts, ties, final)
        plan = Plan(history={final: merges} if merges else {})
        customers.append(ResolvedCustomer(info_of(final, whole, settled_of(gfirsts, ties)),
                                  tuple(sorted(group)), tuple(merges),
                                  tuple(plan.history_redirects())))
    return ComponentResolution(customers, result.decisions)


@dataclass(frozen=True, slots=True)
class Sighting:
    """What inactive_keys needs of an identifier: its type and value, and how many
    distinct identifiers of the hub-counted types it is linked to."""

    type: str
    value: str
    degree: int


def inactive_keys(
    sightings: Mapping[str, Sighting],
    carried: Mapping[str, IdentifierDecision],
    rules: Rules,
) -> dict[str, IdentifierDecision]:
    """(status, reason) of each identifier that links nothing: a status carried from the
    store (a steward's quarantine) first, then a blocked value, then a hub. The stream's
    own test (resolution.batch.find_inactive), given each identifier's whole degree."""
    batch = Batch([], {k: BatchSighting(s.type, s.value, "", "", "") for k, s in
                        sightings.items()}, {})
    snapshot = Snapshot(statuses={k: v for k, v in carried.items() if k in sightings},
                        degrees={k: s.degree for k, s in sightings.items()})
    inactive, _ = find_inactive(batch, snapshot, rules)
    return inactive


def stopped_links(
    links: Sequence[LinkFacts],
    inactive: Mapping[str, IdentifierDecision],
    rules: Rules,
) -> dict[Pair, LinkDecision]:
    """The decisions on links with an inactive end: rejected, naming the first inactive
    end (a banned or removed link keeps its own status), as `partition` words them."""
    active = {k: k.partition(":")[0] for c in links for k in (c.a, c.b) if k not in inactive}
    return partition(active, links, (), rules, inactive).decisions


def without_suppressed(event: Event, suppressed: Mapping[str, str],
                       rules: Rules) -> tuple[Event | None, Plan]:
    """The event without its erased identifiers (`suppressed`: key -> when erased), unless
    it brings one back with a new consent to a purpose of the rules' `[consent.returns]`;
    None when none is left. The plan holds what was dropped (`dropped`) and brought back
    (`unsuppress`), as plan_ingest records them."""
    plan = Plan()
    kept = drop_suppressed([event], Snapshot(suppressed=dict(suppressed)), plan, rules)
    return (kept[0] if kept else None), plan


def trait_problems(event: Event, rules: Rules
                   ) -> tuple[PendingRecord | None, list[tuple[str, str, str]]]:
    """The record of the event's traits for matching (its key: the identifier that owns
    it), and the traits left out of matching as (event id, trait, reason), as plan_ingest
    reports them."""
    pending = pending_records([event], rules)
    plan = Plan()
    add_matches(Batch([event], {}, {}), plan, Snapshot(), None, pending, "")
    return (pending[0] if pending else None), plan.trait_problems
