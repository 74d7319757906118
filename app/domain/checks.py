"""Pending segment checks: the customers whose memberships a write may have changed.

A write records them in its own transaction, next to its change events, so that a process
that dies after the commit leaves a durable list of what still has to be re-evaluated
instead of stale memberships. Whoever evaluates a check (the writer right after its
commit, or any loader or API process later) saves the memberships, their history and
their change events and deletes the check, again in one transaction.

A customer marked by several writes before it is evaluated keeps one check: evaluated up
to the latest write (`at`), a split part from the earliest (`since`), and an absorbed
customer stays absorbed (`survivor`). The stores apply that rule when they record a mark.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.plan import Plan


@dataclass(frozen=True, slots=True)
class PendingCheck:
    customer_id: str
    at: str  # the latest write that touched the customer: evaluate up to here
    since: str  # the earliest write not evaluated yet
    survivor: str | None = None  # merged into this customer: leaves its segments
    split: bool = False  # a part split off: evaluated from `since`, its past not replayed


def pending_checks(plan: Plan, at: str) -> list[PendingCheck]:
    """The checks a plan leaves: its customers, the absorbed of its merges (with their
    survivor) and the parts of its splits."""
    absorbed = {m.absorbed: m.survivor for m in [*plan.merges, *plan.renames]}
    parts = {p for s in plan.splits for p in s.parts}
    touched = (plan.affected_customers | set(absorbed)) - {e.customer_id for e in plan.erasures}
    return [PendingCheck(cid, at, at, absorbed.get(cid), cid in parts)
            for cid in sorted(touched)]


def with_checks(plan: Plan, at: str) -> Plan:
    """The plan, with the segment checks it leaves recorded in it (Plan.segment_checks)."""
    plan.segment_checks = pending_checks(plan, at)
    return plan
