"""The plan of an erasure (GDPR right to be forgotten)."""

from __future__ import annotations

from app.domain.plan import AuditEntry, Erasure, Plan, Snapshot
from app.domain.privacy import suppression_hash
from app.domain.resolution import require_components


def plan_erase(customer_id: str, snapshot: Snapshot, actor: str, reason: str, now: str) -> Plan:
    """Forget a customer and remember its identifiers as suppression hashes."""
    require_components({customer_id}, snapshot)
    keys = tuple(sorted(snapshot.components[customer_id].identifiers))
    plan = Plan()
    hashes = tuple(suppression_hash(k) for k in keys)
    plan.erasures.append(Erasure(customer_id, keys, hashes, now))
    # The audit entry names the customer id only: nothing personal survives the erasure.
    plan.audit.append(AuditEntry(actor, "forget", customer_id, reason, now,
                                 {"identifiers": len(keys)}, {}))
    return plan
