"""Why two customers are not one, on every store: the trained model's best pairs, the
household guard, links stewards cut or banned with their audit entries, limits."""

from __future__ import annotations

import pytest

from app.bootstrap import build_services
from app.config import Settings
from app.domain.steward import Action
from app.domain.whynot import Reason
from app.services.matching import train_from_events
from app.services.whynot import UnknownCustomer, why_not_customers
from tests.contract.test_matching_contract import crm, dataset
from tests.helpers import raw_event

HOME = {"last_name": "jansen", "street": "damrak", "house_number": "12",
        "postcode": "1012 LG", "city": "amsterdam"}


async def trained(store, extra: list[dict]):
    _, events = dataset()
    events += extra
    services = build_services(Settings(store=store.url), store=store)
    await train_from_events(store, events, services.ingest.rules)
    await services.ingest.load_matcher()
    await services.ingest.ingest_raw((str(n), e) for n, e in enumerate(events))
    return services


async def test_match_records_are_read_back_by_identifier(store):
    await trained(store, [])
    found = await store.match_records(["crm_ref:r0", "crm_ref:r1", "crm_ref:none"])
    assert set(found) == {"crm_ref:r0", "crm_ref:r1"}
    assert found["crm_ref:r0"]["city"] in ("amsterdam", "utrecht", "leiden", "delft",
                                           "haarlem", "zwolle")


async def test_a_household_is_kept_apart_by_the_guard_with_every_weight(store):
    services = await trained(store, [
        crm(5000, {**HOME, "first_name": "anna", "birth_date": "1970-03-02"}, 900),
        crm(5001, {**HOME, "first_name": "piet", "birth_date": "1968-11-20"}, 901)])
    owners = await store.owners(["crm_ref:r5000", "crm_ref:r5001"])
    answer = await why_not_customers(services, owners["crm_ref:r5000"],
                                     owners["crm_ref:r5001"])
    why = answer.why
    assert why.reasons == (Reason.GUARD,)
    [pair] = why.pairs
    assert (pair.record_id, pair.candidate_id) == ("crm_ref:r5000", "crm_ref:r5001")
    assert pair.guard == "household"
    weights = {c.comparison: c.weight for c in pair.comparisons}
    assert weights["first_name"] < 0 and "street" in weights
    assert set(why.thresholds) == {"review", "link", "merge"}


async def test_a_cut_and_a_ban_keep_two_customers_apart_with_their_audit_entries(store):
    services = await trained(store, [
        raw_event("w1", "2024-02-01T00:00:00Z", "email:a@example.com", "cookie:c1"),
        raw_event("w2", "2024-02-01T00:01:00Z", "cookie:c1", "phone:+31612345678")])
    steward = services.steward
    await steward.act(Action("split", "sam", "two people", ("phone:+31612345678",)))
    await steward.act(Action("unlink", "sam", "not theirs", ("cookie:c1", "email:a@example.com"),
                             ban=True))
    owners = await store.owners(["email:a@example.com", "phone:+31612345678", "cookie:c1"])
    a, b = owners["email:a@example.com"], owners["phone:+31612345678"]
    assert a != b
    answer = await why_not_customers(services, a, b)
    assert Reason.NO_RECORDS in answer.why.reasons
    assert {entry.action for entry in answer.decisions} >= {"split"}
    assert answer.audit_scanned == 2
    c = owners["cookie:c1"]
    assert c != a
    cut = await why_not_customers(services, a, c)
    assert cut.why.reasons[0] is Reason.BANNED
    assert [(link.a, link.b) for link in cut.why.stopped] == [
        ("cookie:c1", "email:a@example.com")]
    assert [e.action for e in cut.decisions] == ["unlink"]


async def test_one_customer_and_an_unknown_one(store):
    services = await trained(store, [])
    cid = (await store.owners(["crm_ref:r0"]))["crm_ref:r0"]
    assert (await why_not_customers(services, cid, cid)).why.reasons == (Reason.SAME_CUSTOMER,)
    with pytest.raises(UnknownCustomer):
        await why_not_customers(services, cid, "nobody")
