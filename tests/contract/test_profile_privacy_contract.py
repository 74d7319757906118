"""Profiles, search and erasure, on every store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.domain.privacy import SUPPRESSED
from app.domain.steward import StewardError
from app.services.customers import CustomerService, search_customers
from app.services.ingest import IngestService
from app.services.privacy import PrivacyService
from tests.helpers import event

ANNA = [
    event("w1", "2024-01-01T00:00:00Z", "cookie:k1", "email:anna@x.com", source="web",
          traits={"first_name": "Ann", "city": "Utrecht"}, consent={"email_marketing": True}),
    event("c1", "2024-01-02T00:00:00Z", "crm_id:C1", "email:anna@x.com", source="crm",
          traits={"first_name": "Anna", "last_name": "de Vries", "city": "Amsterdam"}),
    event("w2", "2024-01-03T00:00:00Z", "cookie:k1", source="web",
          traits={"first_name": "Annie", "city": "Haarlem"}, consent={"email_marketing": False}),
    event("p1", "2024-01-04T00:00:00Z", "phone:+31612345678", "crm_id:C1", source="pos",
          properties={"amount": 10}),
]
BOB = event("b1", "2024-01-01T00:00:00Z", "email:bob@y.com", source="web",
            traits={"first_name": "Bob", "last_name": "Jansen"})


async def load(store):
    await IngestService(store).ingest([*ANNA, BOB])
    return (await store.owners(["email:anna@x.com"]))["email:anna@x.com"]


async def test_the_profile_follows_survivorship_rules_with_source_and_time(store):
    cid = await load(store)
    profile = (await CustomerService(store).profiles([cid]))[cid]
    first = next(t for t in profile.traits if t.name == "first_name")
    assert (first.value, first.source, first.rule) == ("Anna", "crm", "source_priority")
    city = next(t for t in profile.traits if t.name == "city")
    assert (city.value, city.observed_at) == ("Haarlem", "2024-01-03T00:00:00.000000Z")
    [consent] = profile.consent
    assert (consent.purpose, consent.granted, consent.source) == ("email_marketing", False, "web")


async def test_search_finds_customers_by_name_email_and_phone_with_typos(store):
    cid = await load(store)
    for query in ["anna de vries", "Ana de Vries", "anna@x.com", "31612345678"]:
        hits = await search_customers(store, query, 5)
        assert hits and hits[0].customer_id == cid, query
    bob = await search_customers(store, "jansen", 5)
    assert bob[0].customer_id != cid
    with pytest.raises(ValueError, match="three characters"):
        await search_customers(store, "an", 5)


ERASED_AT = datetime(2024, 1, 20, tzinfo=UTC)


async def test_erasure_leaves_nothing_behind_and_suppresses_the_identifiers(store, dump_store):
    cid = await load(store)
    receipt = await PrivacyService(store, clock=lambda: ERASED_AT).forget(
        cid, "admin", "GDPR request 42")
    assert set(receipt.identifiers) == {"cookie:k1", "email:anna@x.com", "crm_id:C1",
                                        "phone:+31612345678"}
    assert receipt.events == 4
    everything = await dump_store(store)
    for value in ["k1", "anna@x.com", "C1", "+31612345678", "31612345678", "Annie", "de Vries",
                  "Haarlem", "Utrecht"]:
        assert value not in everything, value
    assert "bob@y.com" in everything
    assert await store.current_ids([cid]) == {}
    # A later event without consent does not bring the e-mail back ...
    result = await IngestService(store).ingest(
        [event("w9", "2024-02-01T00:00:00Z", "email:anna@x.com", "cookie:new")])
    assert await store.owners(["email:anna@x.com"]) == {}
    assert [p.reason for p in result.problems if p.erased] == [
        f"email:[erased]: {SUPPRESSED}"]
    # ... nor do her old events replayed, though they granted consent then ...
    await IngestService(store).ingest([replace(ANNA[0], event_id="w1-replayed")])
    assert await store.owners(["email:anna@x.com", "cookie:k1"]) == {}
    # ... nor does a new consent to a purpose that is not about e-mail ...
    result = await IngestService(store).ingest(
        [event("w10", "2024-02-02T00:00:00Z", "email:anna@x.com", "cookie:other",
               consent={"cookie_analytics": True})])
    assert await store.owners(["email:anna@x.com"]) == {}
    assert [p.reason for p in result.problems if p.erased] == [
        f"email:[erased]: {SUPPRESSED}"]
    # ... an explicit new consent to e-mail, given after the erasure, does.
    await IngestService(store).ingest([event("w11", "2024-02-03T00:00:00Z", "email:anna@x.com",
                                             consent={"email_marketing": True})])
    assert "email:anna@x.com" in await store.owners(["email:anna@x.com"])


async def test_erasing_an_unknown_customer_is_refused(store):
    with pytest.raises(StewardError) as info:
        await PrivacyService(store).forget("c_nope", "admin", "x")
    assert info.value.code == "UNKNOWN_CUSTOMER"
