"""The plan of an erasure (GDPR right to be forgotten)."""

from __future__ import annotations

from collections.abc import Iterable

from app.domain.personal import Known, Spellings, identifier_known
from app.domain.plan import AuditEntry, Erasure, Plan, Snapshot
from app.domain.privacy import ERASED_MARK
from app.domain.resolution import require_components


def plan_erase(customer_id: str, snapshot: Snapshot, actor: str, reason: str, now: str, *,
               personal: Iterable[Known] = (), detached: Iterable[str] = (),
               region: str = "NL") -> Plan:
    """Forget a customer: its identifiers go on the suppression list, and every spelling
    of them and of its `personal` values (names, birth date, address, from its traits)
    is scrubbed from free text that stays: reasons, the audit log. `detached`: identifiers
    taken off it that only its events observed (read before the transaction); those that
    a customer holds by now are not its to erase."""
    require_components({customer_id}, snapshot)
    unheld = {k for k in detached if k not in snapshot.owners}
    keys = tuple(sorted(set(snapshot.components[customer_id].identifiers) | unheld))
    spellings = Spellings([*(identifier_known(k) for k in keys), *personal], region)
    plan = Plan()
    plan.erasures.append(Erasure(customer_id, keys, now, spellings))
    # The audit entry names the customer id only: nothing personal survives the erasure,
    # not even in the reason given for it.
    plan.audit.append(AuditEntry(actor, "forget", customer_id,
                                 spellings.scrub(reason, ERASED_MARK), now,
                                 {"identifiers": len(keys)}, {}))
    return plan
