"""Change events: what a plan changed, in the shape published to the outbound topic."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.domain.plan import Plan
from app.domain.segments.membership import ENTERED, MembershipChange


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # customer_created | customer_merged | customer_renamed | customer_split |
    # identifiers_added |
    # profile_changed (and segment_entered | segment_left from the segment service)
    customer_id: str
    at: str
    # the event ids that caused the change, and the customers it came from
    event_ids: tuple[str, ...]
    from_customers: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    # change_id as the outbox recorded it; empty for a change not read from the outbox
    id: str = ""

    @property
    def change_id(self) -> str:
        return self.id or change_id(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "customer_id": self.customer_id,
            "at": self.at,
            "lineage": {
                "event_ids": list(self.event_ids),
                "from_customers": list(self.from_customers),
            },
            **({"data": self.data} if self.data else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], id: str = "") -> Change:
        """A change from its JSON (to_json)."""
        lineage = data.get("lineage") or {}
        return cls(str(data["kind"]), str(data["customer_id"]), str(data.get("at", "")),
                   tuple(lineage.get("event_ids", ())), tuple(lineage.get("from_customers", ())),
                   dict(data.get("data") or {}), id)


def canonical(change: Change) -> bytes:
    """The change's JSON (to_json) with sorted keys: what its id digests, and what the
    outbox keeps (non-ASCII characters as they are, so the erasure scrub finds them)."""
    body = change.to_json()
    try:
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value orjson does not write (an integer beyond 64 bits)
        return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                          default=str).encode()


def digest(canonical_json: bytes) -> str:
    return hashlib.blake2b(canonical_json, digest_size=12).hexdigest()


def change_id(change: Change) -> str:
    """What consumers de-duplicate on: a digest of everything the change says, its time
    included, so two changes differ in id whenever they differ at all. The outbox keeps
    the id it was written with, so every publication of a change carries the same one."""
    return digest(canonical(change))


def membership_change(change: MembershipChange) -> Change:
    """A segment entry or exit as a change event (kinds segment_entered, segment_left)."""
    kind = "segment_entered" if change.change == ENTERED else "segment_left"
    return Change(kind, change.customer_id, change.at, (), (),
                  {"segment": change.segment, "why": list(change.why)})


def changes_of(plan: Plan, owners: dict[str, str], at: str) -> list[Change]:
    """The changes a plan makes: created customers, merges, identifiers new to a customer.
    `owners` are the identifier owners before the plan."""
    seed_events: dict[str, list[str]] = {}
    for event in plan.events:
        for ident in event.identifiers:
            seed_events.setdefault(ident.key, []).append(event.event_id)
    keys_of: dict[str | None, list[str]] = {}
    for delta in plan.identifiers:
        keys_of.setdefault(delta.customer_id, []).append(delta.key)
    for key, cid in plan.moves.items():
        keys_of.setdefault(cid, []).append(key)
    changes: list[Change] = []
    for customer in plan.new_customers:
        keys = keys_of.get(customer.id, [])
        events = sorted({e for k in keys for e in seed_events.get(k, [])})
        changes.append(Change("customer_created", customer.id, at, tuple(events[:10])))
    for kind, merges in (("customer_merged", plan.merges), ("customer_renamed", plan.renames)):
        for merge in merges:
            changes.append(
                Change(
                    kind,
                    merge.survivor,
                    at,
                    (merge.event_id,) if merge.event_id else (),  # none: a steward's
                    (merge.absorbed, merge.survivor),
                    {"survivor": merge.survivor, "absorbed": merge.absorbed,
                     "reason": merge.reason},
                )
            )
    for split in plan.splits:
        changes.append(
            Change(
                "customer_split",
                split.customer_id,
                at,
                (),
                (split.customer_id,),
                {"parts": list(split.parts), "reason": split.reason},
            )
        )
    added: dict[str, list[str]] = {}
    for delta in plan.identifiers:
        if delta.key not in owners and delta.customer_id is not None:
            added.setdefault(delta.customer_id, []).append(delta.key)
    for customer_id, keys in sorted(added.items()):
        events = sorted({e for k in keys for e in seed_events.get(k, [])})
        changes.append(
            Change(
                "identifiers_added", customer_id, at, tuple(events[:10]), data={"identifiers": keys}
            )
        )
    return changes + _profile_changes(plan, at)


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
    return [Change("profile_changed", cid, at, tuple(sorted(ids)[:10]))
            for cid, ids in sorted(events.items())]
