"""A plan with every section filled in, for the adapters' checks without a database
(test_neo4j_adapter.py, test_sqlite_adapter.py)."""

from __future__ import annotations

from app.domain.changes import Change
from app.domain.effects import pending_checks
from app.domain.events import format_ts
from app.domain.personal import Spellings, identifier_known
from app.domain.plan import (
    AuditEntry,
    CustomerInfo,
    Erasure,
    IdentifierDelta,
    IdentifierStatusChange,
    LinkDelta,
    LinkStatusChange,
    Merge,
    Plan,
    ReviewItem,
    Split,
)
from tests.helpers import event

T = format_ts(event("x", "2024-03-01T10:00:00Z", "cookie:a").timestamp)
KEYS = frozenset({"email:x@example.com", "cookie:a"})


def a_plan() -> Plan:
    ev = event("e1", "2024-03-01T10:00:00Z", "cookie:a", "email:x@example.com")
    return Plan(
        events=[ev],
        new_customers=[CustomerInfo("c_new", T)],
        merges=[Merge("c_b", "c_a", T, "e1", "why")],
        identifiers=[IdentifierDelta("cookie:a", "cookie", "a", T, T, ("web",), "c_new"),
                     IdentifierDelta("email:x@example.com", "email", "x@example.com", T, T,
                                     ("web",), "c_new")],
        links=[LinkDelta("cookie:a", "email:x@example.com", 1, T, T, ("web",), ("e1",))],
        renames=[Merge("c_old", "c_new", T, "e1", "renamed")],
        customer_updates={"c_a": CustomerInfo("c_a", T, "e0", "cookie:z", f"{T}|e1")},
        history_reset={"c_a"},
        history={"c_a": [Merge("c_b", "c_a", T, "e1", "why")]},
    )


def full_plan() -> Plan:
    """A plan with every section filled in."""
    plan = a_plan()
    plan.splits = [Split("c_a", ("c_new",), T, "steward sam split c_a")]
    plan.moves = {"cookie:a": "c_new", "email:y@example.com": None}
    plan.statuses = [IdentifierStatusChange("email:y@example.com", "quarantined", "hub")]
    plan.link_statuses = [LinkStatusChange("cookie:a", "cookie:b", "removed", "by sam")]
    plan.bans = [("cookie:a", "cookie:b")]
    plan.unbans = [("cookie:c", "cookie:d")]
    plan.audit = [AuditEntry("sam", "unlink", "cookie:a", "why", T, {"keys": ["cookie:a"]},
                             {"kind": "link"}, 7)]
    plan.match_records = [("cookie:a", {"last_name": "vries"}, ("b1", "b2"))]
    plan.search_terms = [("cookie:a", "a")]
    plan.erasures = [Erasure("c_x", ("email:z@example.com",), T,
                             Spellings([identifier_known("email:z@example.com")]))]
    plan.changes = [Change("customer_split", "c_a", T, (), ("c_a",), {"parts": ["c_new"]})]
    plan.segment_checks = pending_checks(plan, T)
    plan.reviews = [ReviewItem("crm_id:1", "crm_id:2", 2.5, {"last_name": 1.0}, T)]
    plan.review_updates = [(3, "accepted", "sam")]
    plan.unsuppress = ["email:back@example.com"]
    return plan
