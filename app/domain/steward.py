"""Steward actions on the identity graph: link, unlink (with or without a ban), merge,
split, quarantine and release. Each re-partitions the affected components under the same
rules as ingest, and records an audit entry that says how to undo it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.effects import changes_of
from app.domain.errors import DomainError
from app.domain.plan import (
    ACTIVE,
    BANNED,
    LINKED,
    QUARANTINED,
    REMOVED,
    AuditEntry,
    IdentifierStatusChange,
    LinkDelta,
    LinkFacts,
    Pair,
    Plan,
    ReviewStatus,
    Snapshot,
    pair,
)
from app.domain.resolution import (
    STEWARD_SOURCE,
    require_components,
    resolve_components,
)
from app.domain.rules import Rules


class StewardActionKind(StrEnum):
    """What a steward's action does; the audit log records it as the entry's action."""

    LINK = "link"
    UNLINK = "unlink"
    MERGE = "merge"
    SPLIT = "split"
    RELINK = "relink"
    QUARANTINE = "quarantine"
    RELEASE = "release"
    REVIEW = "review"


class StewardErrorCode(StrEnum):
    """Why a steward's action cannot be done: stable, for API clients to match on."""

    UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"
    UNKNOWN_IDENTIFIER = "UNKNOWN_IDENTIFIER"
    IDENTIFIER_INACTIVE = "IDENTIFIER_INACTIVE"
    INVALID_IDENTIFIER = "INVALID_IDENTIFIER"
    REASON_REQUIRED = "REASON_REQUIRED"
    RULE_BLOCKS_LINK = "RULE_BLOCKS_LINK"
    BANNED_PAIR = "BANNED_PAIR"
    NO_SUCH_LINK = "NO_SUCH_LINK"
    SAME_CUSTOMER = "SAME_CUSTOMER"
    EMPTY_CUSTOMER = "EMPTY_CUSTOMER"
    MIXED_CUSTOMERS = "MIXED_CUSTOMERS"
    NOTHING_LEFT = "NOTHING_LEFT"
    NO_CHANGE = "NO_CHANGE"
    UNKNOWN_AUDIT_ENTRY = "UNKNOWN_AUDIT_ENTRY"
    ALREADY_UNDONE = "ALREADY_UNDONE"
    CANNOT_UNDO = "CANNOT_UNDO"
    NOT_REPLAYABLE = "NOT_REPLAYABLE"
    UNKNOWN_REVIEW = "UNKNOWN_REVIEW"
    REVIEW_CLOSED = "REVIEW_CLOSED"
    UNKNOWN_ACTION = "UNKNOWN_ACTION"


# What the caller can do about each refusal (the API's operations by name).
SUGGESTIONS = {
    StewardErrorCode.UNKNOWN_CUSTOMER: "look the customer up again (customerByIdentifier): it "
    "may have been erased",
    StewardErrorCode.UNKNOWN_IDENTIFIER: "check the type and value with identifier(type, "
    "value)",
    StewardErrorCode.IDENTIFIER_INACTIVE: "release the identifier first (releaseIdentifier) if "
    "it should link",
    StewardErrorCode.INVALID_IDENTIFIER: "send a valid value for the identifier's type "
    "(docs/events.md)",
    StewardErrorCode.REASON_REQUIRED: "say why in `reason`: the audit log keeps it",
    StewardErrorCode.RULE_BLOCKS_LINK: "the rules file decides this; change it, or quarantine "
    "the identifier that blocks the link",
    StewardErrorCode.BANNED_PAIR: "undo the ban (undoAction with the ban's audit seq) first",
    StewardErrorCode.NO_SUCH_LINK: "see the customer's identityGraph for the links that exist",
    StewardErrorCode.SAME_CUSTOMER: "the customers are already one",
    StewardErrorCode.EMPTY_CUSTOMER: "a customer with no identifiers cannot be merged",
    StewardErrorCode.MIXED_CUSTOMERS: "split identifiers of one customer at a time",
    StewardErrorCode.NOTHING_LEFT: "leave at least one identifier with the customer",
    StewardErrorCode.NO_CHANGE: "nothing to do: the identifier already has that status",
    StewardErrorCode.UNKNOWN_AUDIT_ENTRY: "see auditLog for the entries and their seq",
    StewardErrorCode.ALREADY_UNDONE: "see auditLog: the undo has its own entry, which can "
    "itself be undone",
    StewardErrorCode.CANNOT_UNDO: "this action has no undo; act again instead",
    StewardErrorCode.UNKNOWN_REVIEW: "see reviewQueue for the open items",
    StewardErrorCode.REVIEW_CLOSED: "the item was resolved already; see auditLog",
}
# The input at fault, for the codes that blame one.
FIELDS = {StewardErrorCode.INVALID_IDENTIFIER: "value", StewardErrorCode.REASON_REQUIRED: "reason"}


class StewardError(DomainError):
    """An action that cannot be done (a DomainError with its suggestion and field from its
    code), and the customer it names that is not held (`customer_id`, or "")."""

    code: StewardErrorCode

    def __init__(self, code: StewardErrorCode, message: str, *, customer_id: str = "") -> None:
        super().__init__(code, message, suggestion=SUGGESTIONS.get(code, ""),
                         field=FIELDS.get(code, ""))
        self.customer_id = customer_id


@dataclass(frozen=True, slots=True)
class Action:
    kind: StewardActionKind
    actor: str
    reason: str
    keys: tuple[str, ...] = ()
    ban: bool = False
    customers: tuple[str, ...] = ()
    # pairs: for relink (the undo of a split); unban: for link (the undo of a ban);
    # neighbour_customers: for release, the customers its links reach
    data: dict[str, Any] = field(default_factory=dict)


def plan_action(action: Action, snapshot: Snapshot, rules: Rules, now: str) -> Plan:
    """The plan for one steward action. Raises StewardError when it cannot be done."""
    if not action.reason.strip():
        raise StewardError(StewardErrorCode.REASON_REQUIRED, "reason: say why, for the audit log")
    planners: dict[str, Planner] = {
        StewardActionKind.LINK: _link,
        StewardActionKind.UNLINK: _unlink,
        StewardActionKind.MERGE: _merge,
        StewardActionKind.SPLIT: _split,
        StewardActionKind.RELINK: _relink,
        StewardActionKind.QUARANTINE: _status,
        StewardActionKind.RELEASE: _status,
        StewardActionKind.REVIEW: _review,
    }
    plan, undo = planners[action_kind(action.kind)](action, snapshot, rules, now)
    plan.changes = changes_of(plan, snapshot.owners, now)
    target = ", ".join(action.customers or action.keys)
    details = {"keys": list(action.keys), "ban": action.ban, "customers": list(action.customers)}
    plan.audit.append(
        AuditEntry(action.actor, action.kind, target, action.reason, now, details, undo,
                   action.data.get("undoes"))
    )
    return plan


def action_kind(text: str) -> StewardActionKind:
    """The action a stored or given text names (an audit entry, its undo)."""
    try:
        return StewardActionKind(text)
    except ValueError:
        raise StewardError(StewardErrorCode.UNKNOWN_ACTION,
                           f"action: one of {', '.join(StewardActionKind)}") from None


def undo_of(seq: int, undo: dict[str, Any], actor: str, reason: str) -> Action:
    """The action that reverses audit entry `seq`, from the entry's `undo`."""
    if "kind" not in undo:
        raise StewardError(StewardErrorCode.CANNOT_UNDO, f"entry {seq} cannot be undone")
    data = {k: v for k, v in undo.items() if k in ("pairs", "unban")}
    data["undoes"] = seq
    return Action(
        action_kind(undo["kind"]), actor, reason, tuple(undo.get("keys", ())),
        bool(undo.get("ban")), data=data
    )


def _owner(snapshot: Snapshot, key: str) -> str:
    owner = snapshot.owners.get(key)
    if owner is None:
        status = snapshot.statuses.get(key)
        if status is not None:
            raise StewardError(StewardErrorCode.IDENTIFIER_INACTIVE,
                               f"{key} is {status[0]}: {status[1]}")
        raise StewardError(StewardErrorCode.UNKNOWN_IDENTIFIER,
                           f"{key} is not in the identity graph")
    return owner


def _stored_link(snapshot: Snapshot, customers: set[str], p: Pair) -> LinkFacts | None:
    require_components(customers, snapshot)
    return next(
        (snapshot.components[c].links[p] for c in customers if p in snapshot.components[c].links),
        None,
    )


Planned = tuple[Plan, dict[str, Any]]
Planner = Callable[[Action, Snapshot, Rules, str], Planned]


def _unlink(action: Action, snapshot: Snapshot, rules: Rules, now: str) -> Planned:
    a, b = action.keys
    p = pair(a, b)
    customers = {_owner(snapshot, a), _owner(snapshot, b)}
    stored = _stored_link(snapshot, customers, p)
    if stored is None:
        raise StewardError(StewardErrorCode.NO_SUCH_LINK, f"{a} and {b} are not linked")
    status = BANNED if action.ban else REMOVED
    why = f"{status} by {action.actor}: {action.reason}"
    plan = Plan()
    resolve_components(
        customers,
        snapshot,
        plan,
        rules,
        now,
        overrides={p: LinkFacts(*p, stored.first_seen, stored.sources, status, why,
                                stored.first_event)},
        reason=f"steward {action.actor} cut {a} - {b}",
        steward=True,
    )
    if action.ban:
        plan.bans.append(p)
    return plan, {"kind": StewardActionKind.LINK, "keys": [a, b], "unban": action.ban}


def _link(action: Action, snapshot: Snapshot, rules: Rules, now: str) -> Planned:
    a, b = action.keys
    p = pair(a, b)
    customers = {_owner(snapshot, a), _owner(snapshot, b)}
    plan = Plan()
    if action.data.get("unban"):
        plan.unbans.append(p)
        snapshot.bans.discard(p)
    elif p in snapshot.bans:
        raise StewardError(StewardErrorCode.BANNED_PAIR,
                           f"{a} and {b} are banned from linking; undo the ban")
    stored = _stored_link(snapshot, customers, p)
    first_seen = stored.first_seen if stored else now
    first_event = stored.first_event if stored else ""
    sources = tuple(sorted({*(stored.sources if stored else ()), STEWARD_SOURCE}))
    resolved = resolve_components(
        customers,
        snapshot,
        plan,
        rules,
        now,
        overrides={p: LinkFacts(*p, first_seen, sources, LINKED, "", first_event)},
        reason=f"steward {action.actor} linked {a} - {b}",
        steward=True,
    )
    status, why = resolved.decisions[p]
    if status != ACTIVE:
        raise StewardError(StewardErrorCode.RULE_BLOCKS_LINK,
                           f"the rules keep {a} and {b} apart: {why}")
    plan.links.append(LinkDelta(*p, 1, now, now, (STEWARD_SOURCE,), (), LINKED, ""))
    return plan, {"kind": StewardActionKind.UNLINK, "keys": [a, b], "ban": False}


def _merge(action: Action, snapshot: Snapshot, rules: Rules, now: str) -> Planned:
    """Merge two customers by a steward link between one identifier of each."""
    first, second = action.customers
    if first == second:
        raise StewardError(StewardErrorCode.SAME_CUSTOMER, "the two customers are the same one")
    require_components({first, second}, snapshot)
    keys = tuple(min(snapshot.components[c].identifiers, default="") for c in (first, second))
    if not all(keys):
        raise StewardError(StewardErrorCode.EMPTY_CUSTOMER,
                           "a customer without identifiers cannot merge")
    link = Action(StewardActionKind.LINK, action.actor, action.reason, keys)
    return _link(link, snapshot, rules, now)


def _split(action: Action, snapshot: Snapshot, rules: Rules, now: str) -> Planned:
    """Split the identifiers in `action.keys` off their customer by removing every link
    that crosses between them and the rest of it."""
    owners = {_owner(snapshot, k) for k in action.keys}
    if len(owners) != 1:
        raise StewardError(StewardErrorCode.MIXED_CUSTOMERS,
                           "identifiers: all must belong to one customer")
    require_components(owners, snapshot)
    [cid] = owners
    component = snapshot.components[cid]
    part = set(action.keys)
    if not set(component.identifiers) - part:
        raise StewardError(StewardErrorCode.NOTHING_LEFT,
                           "identifiers: a split must leave some behind")
    why = f"removed by {action.actor} to split {cid}: {action.reason}"
    overrides = {
        p: LinkFacts(*p, link.first_seen, link.sources, REMOVED, why, link.first_event)
        for p, link in component.links.items()
        if link.status == ACTIVE
        and (p[0] in part) != (p[1] in part)
        and p[0] in component.identifiers
        and p[1] in component.identifiers
    }
    plan = Plan()
    resolve_components(
        owners,
        snapshot,
        plan,
        rules,
        now,
        overrides=overrides,
        reason=f"steward {action.actor} split {cid}",
        steward=True,
    )
    return plan, {"kind": StewardActionKind.RELINK, "pairs": [list(p) for p in sorted(overrides)]}


def _relink(action: Action, snapshot: Snapshot, rules: Rules, now: str) -> Planned:
    """Restore links that a split removed (the undo of a split)."""
    pairs = [pair(a, b) for a, b in action.data["pairs"]]
    customers = {_owner(snapshot, k) for p in pairs for k in p}
    overrides = {}
    for p in pairs:
        link = _stored_link(snapshot, customers, p)
        if link is not None and link.status == REMOVED:
            overrides[p] = LinkFacts(*p, link.first_seen, link.sources, LINKED, "",
                                     link.first_event)
    plan = Plan()
    resolve_components(
        customers,
        snapshot,
        plan,
        rules,
        now,
        overrides=overrides,
        reason=f"steward {action.actor} restored links",
        steward=True,
    )
    return plan, {}


def _status(action: Action, snapshot: Snapshot, rules: Rules, now: str) -> Planned:
    """Quarantine or release an identifier; the customers around it are re-partitioned."""
    [key] = action.keys
    quarantine = action.kind == StewardActionKind.QUARANTINE
    if key not in snapshot.owners and key not in snapshot.statuses:
        raise StewardError(StewardErrorCode.UNKNOWN_IDENTIFIER,
                           f"{key} is not in the identity graph")
    current = snapshot.statuses.get(key, (ACTIVE, ""))[0]
    if quarantine == (current != ACTIVE):
        raise StewardError(StewardErrorCode.NO_CHANGE, f"{key} is already {current}")
    why = f"quarantined by {action.actor}: {action.reason}"
    plan = Plan()
    plan.statuses.append(
        IdentifierStatusChange(key, QUARANTINED if quarantine else ACTIVE,
                               why if quarantine else "")
    )
    if quarantine:
        customers = {snapshot.owners[key]}
        resolve_components(
            customers,
            snapshot,
            plan,
            rules,
            now,
            inactive={key: (QUARANTINED, why)},
            reason=f"steward {action.actor} quarantined {key}",
            steward=True,
        )
    else:
        customers = set(action.data.get("neighbour_customers", ()))
        resolved = resolve_components(
            customers,
            snapshot,
            plan,
            rules,
            now,
            extra_nodes=(key,),
            reason=f"steward {action.actor} released {key}",
            steward=True,
        )
        plan.moves[key] = resolved.owners[key]
    return plan, {"kind": StewardActionKind.RELEASE if quarantine else StewardActionKind.QUARANTINE,
                  "keys": [key]}


def _review(action: Action, snapshot: Snapshot, rules: Rules, now: str) -> Planned:
    """Accept a candidate match (a steward link between its two identifiers) or reject it."""
    review_id, accept = action.data["review_id"], action.data["accept"]
    if accept:
        plan, undo = _link(action, snapshot, rules, now)
    else:
        plan, undo = Plan(), {}
    plan.review_updates.append(
        (review_id, ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED, action.actor))
    return plan, undo
