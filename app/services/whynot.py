"""Why two customers are not one: gather both customers, their match records, their links
and the recent steward decisions; app/domain/whynot.py decides."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from app.domain.matching import MatchRecord
from app.domain.steward import StewardError, StewardErrorCode
from app.domain.whynot import WhyNot, decisions_between, why_not
from app.services.container import Services
from app.stores.values import AuditRecord, IdentifierRecord

# Steward decisions are looked for among this many newest audit entries: the log grows
# without bound, and a decision that keeps two customers apart is usually recent.
AUDIT_SCAN = 500


class UnknownCustomer(StewardError):
    """No customer with this id, current or merged away."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(StewardErrorCode.UNKNOWN_CUSTOMER, f"no customer {customer_id}",
                         customer_id=customer_id)


@dataclass(frozen=True, slots=True)
class WhyNotAnswer:
    why: WhyNot
    identifiers: dict[str, list[IdentifierRecord]]  # by current customer id
    decisions: list[AuditRecord]  # newest first
    audit_scanned: int


async def why_not_customers(services: Services, a: str, b: str) -> WhyNotAnswer:
    """Why customers `a` and `b` (ids, merged ones followed to their survivor) are apart.
    Raises UnknownCustomer."""
    store = services.store
    current = await store.current_ids([a, b])
    for cid in (a, b):
        if cid not in current:
            raise UnknownCustomer(cid)
    ca, cb = current[a], current[b]
    identifiers = await store.identifiers_of([ca, cb])
    keys_a = [i.key for i in identifiers.get(ca, [])]
    keys_b = [i.key for i in identifiers.get(cb, [])]
    links = await store.links_of(ca) if ca != cb else []
    traits = await store.match_records([*keys_a, *keys_b])
    records_a = [MatchRecord(k, traits[k]) for k in keys_a if k in traits]
    records_b = [MatchRecord(k, traits[k]) for k in keys_b if k in traits]
    matcher = services.ingest.matcher
    # Scoring is CPU work (up to MAX_RECORDS squared pairs): the event loop answers other
    # requests meanwhile.
    why = await anyio.to_thread.run_sync(
        lambda: why_not(ca, cb, keys_a, keys_b, records_a, records_b, links, matcher,
                        services.ingest.rules.limits))
    entries = await store.audit_log(AUDIT_SCAN, None)
    decisions = decisions_between(entries, set(keys_a), set(keys_b), {a, ca}, {b, cb})
    return WhyNotAnswer(why, identifiers, decisions, len(entries))
