"""Naming customers after their anchors: which customer keeps its id when customers join,
and how one component is named and recorded in a plan (its merges, renames and history)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from app.domain.history import (
    Anchor,
    Moment,
    Tie,
    component_history,
    effective,
    moment,
    moment_event,
    moment_ts,
)
from app.domain.plan import CustomerInfo, Merge, Plan

MATCHER_SOURCE = "matcher"
STEWARD_SOURCE = "steward"


def anchor_of(info: CustomerInfo) -> Anchor:
    return Anchor(moment(info.first_seen, info.first_event), info.first_key)


def survivor_of(customers: Iterable[CustomerInfo]) -> CustomerInfo:
    """Of customers that join, the one with the earliest anchor keeps its id."""
    return min(customers, key=lambda c: (anchor_of(c), c.id))


def info_of(cid: str, anchor: Anchor, settled: Moment) -> CustomerInfo:
    return CustomerInfo(cid, moment_ts(anchor.moment), moment_event(anchor.moment), anchor.key,
                        settled)


def tie_of(a: str, b: str, first_seen: str, first_event: str, sources: Iterable[str]) -> Tie:
    kinds = set(sources)
    return Tie(a, b, moment(first_seen, first_event),
               steward=not first_event and STEWARD_SOURCE in kinds,
               matcher=kinds == {MATCHER_SOURCE})


def settled_of(firsts: Mapping[str, Moment], ties: Iterable[Tie], *more: Moment) -> Moment:
    return max([*more, *firsts.values(), *(effective(t, firsts) for t in ties)], default="")


def settle(plan: Plan, infos: list[CustomerInfo], firsts: Mapping[str, Moment],
            ties: list[Tie], *, keep_survivor: bool, fallback: Merge,
            final: str | None = None) -> str:
    """Name one component (its identifiers' moments `firsts`, its accepted links `ties`),
    claimed by the old customers `infos`, and record it: its whole history replaces theirs;
    the claimant with the earliest anchor keeps its id when the component's anchor is its
    own (or always, with `keep_survivor`), else the component is named after its anchor
    (a rename); the other claimants are merged into it."""
    whole = min(Anchor(m, k) for k, m in firsts.items())
    survivor = survivor_of(infos) if infos else None
    if final is None:
        keeps = survivor is not None and (keep_survivor or anchor_of(survivor) == whole)
        final = survivor.id if keeps and survivor is not None else whole.customer_id
    if keep_survivor:
        # A steward's action counts from its moment: its merges are added to the history
        # (a split or a cut does not erase the merges that came before it).
        merges = [replace(fallback, absorbed=c.id, survivor=final,
                          reason=f"{fallback.reason}: joined {c.id} to {final}")
                  for c in sorted(infos, key=lambda c: c.id) if c.id != final]
        if merges:
            plan.history[final] = merges
    else:
        labels = {anchor_of(c): c.id for c in infos} | {whole: final}
        _, merges = component_history(firsts, ties, final, labels)
        plan.history[final] = merges
        plan.history_reset.update(c.id for c in infos)
    info = info_of(final, whole, settled_of(firsts, ties))
    if survivor is not None and survivor.id == final:
        plan.customer_updates[final] = info
    else:
        plan.new_customers.append(info)
    by_absorbed = {m.absorbed: m for m in merges}
    for old in infos:
        if old.id == final:
            continue
        if old is survivor:
            event_id = moment_event(whole.moment)
            plan.renames.append(Merge(
                old.id, final, moment_ts(whole.moment), event_id,
                f"earlier evidence (event {event_id}) renamed {old.id} to {final}"))
        elif old.id in by_absorbed:
            plan.merges.append(replace(by_absorbed[old.id], survivor=final))
        else:
            plan.merges.append(replace(fallback, absorbed=old.id, survivor=final,
                                       reason=f"{fallback.reason}: joined {old.id} to {final}"))
    return final
