"""The full path, shared by ingest and the steward's actions: gather the whole stored
components, re-run `partition` over their links (with a batch's evidence and a steward's
overrides) and record the merges, splits and moves that follow."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.domain.history import Moment, Tie, customer_id_for, moment
from app.domain.plan import (
    ACTIVE,
    BANNED,
    LINKED,
    CustomerInfo,
    IdentifierDecision,
    LinkDecision,
    LinkFacts,
    LinkStatusChange,
    Merge,
    NeedComponents,
    Pair,
    Plan,
    Snapshot,
    Split,
    StoredIdentifier,
)
from app.domain.resolution.anchors import settle, tie_of
from app.domain.resolution.batch import Batch, LinkEvidence
from app.domain.resolution.partition import partition
from app.domain.rules import Rules


@dataclass(slots=True)
class Repartition:
    owners: dict[str, str | None]  # every key involved -> its customer (None: inactive)
    decisions: dict[Pair, LinkDecision]  # every link involved -> (status, reason)


def require_components(customers: set[str], snapshot: Snapshot) -> None:
    """Ask the store for the whole components of `customers` unless it gave them."""
    if not customers <= snapshot.components.keys():
        raise NeedComponents(set(customers) | set(snapshot.components))


def gathered(
    customers: set[str], snapshot: Snapshot
) -> tuple[dict[str, StoredIdentifier], dict[Pair, LinkFacts]]:
    """The stored identifiers and links of `customers` and of every customer their links
    reach (a rejected or removed link to another customer must be re-evaluated too); asks
    the store for the components it does not have yet."""
    customers = set(customers)
    while True:
        require_components(customers, snapshot)
        identifiers: dict[str, StoredIdentifier] = {}
        links: dict[Pair, LinkFacts] = {}
        outside: set[str] = set()
        for cid in customers:
            component = snapshot.components[cid]
            identifiers.update(component.identifiers)
            links.update(component.links)
            for key, ident in component.neighbours.items():
                if ident.customer_id is not None and ident.customer_id not in customers:
                    outside.add(ident.customer_id)
                identifiers.setdefault(key, ident)
        if not outside:
            return identifiers, links
        customers |= outside


def resolve_components(
    customers: set[str],
    snapshot: Snapshot,
    plan: Plan,
    rules: Rules,
    now: str,
    *,
    batch: Batch | None = None,
    inactive: Mapping[str, IdentifierDecision] | None = None,
    overrides: Mapping[Pair, LinkFacts] | None = None,
    extra_nodes: Iterable[str] = (),
    reason: str = "rules re-evaluated the component",
    steward: bool = False,
) -> Repartition:
    """Re-partition the stored components of `customers`, with a batch's evidence, any
    steward `overrides` of links and `extra_nodes` (a released identifier), and record the
    merges, splits and moves that follow. A `steward` action keeps a split customer's id
    with its largest part and records the split; otherwise ids follow the anchors."""
    stored, stored_links = gathered(customers, snapshot)
    extra = set(extra_nodes)
    inactive = _inactive_of(stored, inactive or {}, extra)
    nodes = _nodes(stored.keys() | extra, batch, inactive)
    candidates = _candidates(stored_links, batch, snapshot.bans)
    candidates.update(overrides or {})
    bans = {b for b in snapshot.bans if b[0] in nodes and b[1] in nodes}
    result = partition(nodes, candidates.values(), bans, rules, inactive)

    _record_link_statuses(plan, result.decisions, stored_links, batch)
    trigger = batch.events[0].event_id if batch is not None and batch.events else ""
    ties = [tie_of(*p, c.first_seen, c.first_event, c.sources) for p, c in candidates.items()
            if result.decisions.get(p, ("", ""))[0] == ACTIVE]
    owners = _assign(result.groups, stored, snapshot, plan, now,
                     Merge("", "", now, trigger, reason), batch, ties, steward)
    for key in inactive:
        if key in stored or (batch is not None and key in batch.sightings):
            owners[key] = None
    for key, ident in stored.items():
        if key in owners and ident.customer_id != owners[key]:
            plan.moves[key] = owners[key]
    return Repartition(owners, result.decisions)


def _inactive_of(stored: Mapping[str, StoredIdentifier],
                 inactive: Mapping[str, IdentifierDecision],
                 extra: set[str]) -> dict[str, IdentifierDecision]:
    """The keys that link nothing: those the caller names, and the stored ones that are
    not active (but for `extra`, which an action makes active again)."""
    found = dict(inactive)
    for key, ident in stored.items():
        if ident.status != ACTIVE and key not in extra:
            found.setdefault(key, (ident.status, "as stored"))
    return found


def _nodes(keys: Iterable[str], batch: Batch | None,
           inactive: Mapping[str, object]) -> dict[str, str]:
    """The active keys to partition (key -> type): the stored and a batch's."""
    nodes = {k: k.partition(":")[0] for k in keys if k not in inactive}
    for key in batch.sightings if batch is not None else ():
        if key not in inactive:
            nodes.setdefault(key, key.partition(":")[0])
    return nodes


def _candidates(stored_links: Mapping[Pair, LinkFacts], batch: Batch | None,
                bans: set[Pair]) -> dict[Pair, LinkFacts]:
    candidates = dict(stored_links)
    for p, ev in batch.evidence.items() if batch is not None else ():
        candidates[p] = _with_evidence(candidates.get(p), p, ev, p in bans)
    return candidates


def _record_link_statuses(plan: Plan, decisions: Mapping[Pair, LinkDecision],
                          stored_links: Mapping[Pair, LinkFacts], batch: Batch | None) -> None:
    """A stored link whose decision changed, and that the batch brings no evidence for (the
    batch's link deltas carry their own decisions), changes status."""
    for p, (status, why) in sorted(decisions.items()):
        before = stored_links.get(p)
        fresh = batch is not None and p in batch.evidence
        if before is not None and not fresh and (before.status, before.reason) != (status, why):
            plan.link_statuses.append(LinkStatusChange(p[0], p[1], status, why))


def _with_evidence(stored: LinkFacts | None, p: Pair, ev: LinkEvidence, banned: bool) -> LinkFacts:
    if stored is None:
        return LinkFacts(p[0], p[1], ev.first_seen, tuple(sorted(ev.sources)),
                         BANNED if banned else LINKED, "", ev.first_event)
    if stored.status == BANNED:
        return stored
    first_seen, first_event = min((stored.first_seen, stored.first_event),
                                  (ev.first_seen, ev.first_event))
    return LinkFacts(p[0], p[1], first_seen, tuple(sorted(set(stored.sources) | ev.sources)),
                     first_event=first_event)


def _assign(
    groups: list[set[str]],
    stored: Mapping[str, StoredIdentifier],
    snapshot: Snapshot,
    plan: Plan,
    now: str,
    fallback: Merge,
    batch: Batch | None,
    ties: list[Tie],
    steward: bool,
) -> dict[str, str | None]:
    """Give each group a customer id. An old customer claims the group holding its anchor
    (after a steward's action: the group holding most of its identifiers); a group keeps
    the id of its earliest claimant, or is named after its own anchor (see settle); a
    group no customer claims is a new customer."""
    old_owner = {k: i.customer_id for k, i in stored.items() if i.customer_id is not None}
    ordered = sorted(groups, key=min)
    index_of = {k: n for n, group in enumerate(ordered) for k in group}
    firsts = _firsts(stored, batch)
    claims = _claims(old_owner, index_of, snapshot, steward)
    ties_of: dict[int, list[Tie]] = defaultdict(list)
    for tie in ties:
        if tie.a in index_of and index_of[tie.a] == index_of.get(tie.b):
            ties_of[index_of[tie.a]].append(tie)

    owners: dict[str, str | None] = {}
    split_parts: dict[str, list[str]] = defaultdict(list)
    for index, group in enumerate(ordered):
        infos = claims.get(index, [])
        parents = sorted({old_owner[k] for k in group if k in old_owner})
        final = None
        if not infos and steward:
            seed = f"split:{parents[0]}:{now}" if parents else f"steward:{now}"
            final = customer_id_for(seed, min(group))
        gfirsts = {k: firsts.get(k, moment(now, "")) for k in group}
        final = settle(plan, infos, gfirsts, ties_of[index], keep_survivor=steward,
                        fallback=fallback, final=final)
        if not infos:
            for parent in parents:
                split_parts[parent].append(final)
        for key in group:
            owners[key] = final
    for parent, parts in sorted(split_parts.items()):
        plan.splits.append(Split(parent, tuple(parts), now, fallback.reason))
    return owners


def _firsts(stored: Mapping[str, StoredIdentifier], batch: Batch | None) -> dict[str, Moment]:
    """Each key's first sighting, stored or in the batch."""
    firsts = {k: moment(i.first_seen, i.first_event) for k, i in stored.items()}
    for key, sighting in batch.sightings.items() if batch is not None else ():
        firsts[key] = min(firsts.get(key, "~"), sighting.first)
    return firsts


def _claims(old_owner: Mapping[str, str], index_of: Mapping[str, int], snapshot: Snapshot,
            steward: bool) -> dict[int, list[CustomerInfo]]:
    """The old customers that claim each group (by its index): the group holding the
    customer's anchor or, after a steward's action or when none does, the one holding most
    of its identifiers (ties: the first group)."""
    per_customer: dict[str, Counter[int]] = defaultdict(Counter)
    for key, cid in old_owner.items():
        if key in index_of:
            per_customer[cid][index_of[key]] += 1
    claims: dict[int, list[CustomerInfo]] = defaultdict(list)
    for cid, sizes in sorted(per_customer.items()):
        info = snapshot.customers[cid]
        home = None if steward else index_of.get(info.first_key)
        if home is None or home not in sizes:
            home = min(sizes, key=lambda i: (-sizes[i], i))
        claims[home].append(info)
    return claims
