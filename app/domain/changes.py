"""Change events: what a plan changed, in the shape published to the outbound topic."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from app.domain.segments.membership import ENTERED, MembershipChange


class ChangeEventKind(StrEnum):
    """What a change event says happened to its customer (the outbound topic's `kind`)."""

    CUSTOMER_CREATED = "customer_created"
    CUSTOMER_MERGED = "customer_merged"
    CUSTOMER_RENAMED = "customer_renamed"
    CUSTOMER_SPLIT = "customer_split"
    CUSTOMER_ERASED = "customer_erased"
    IDENTIFIERS_ADDED = "identifiers_added"
    PROFILE_CHANGED = "profile_changed"
    SEGMENT_ENTERED = "segment_entered"  # from the segment service
    SEGMENT_LEFT = "segment_left"


@dataclass(frozen=True, slots=True)
class Change:
    # a ChangeEventKind; read back from the outbox or the topic as the string it was written
    kind: str
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
    kind = (ChangeEventKind.SEGMENT_ENTERED if change.change == ENTERED
            else ChangeEventKind.SEGMENT_LEFT)
    return Change(kind, change.customer_id, change.at, (), (),
                  {"segment": change.segment, "why": list(change.why)})
