"""Next-best-action and campaign performance through the services, on every store, with
the demo data loaded the normal way (resolved customers, not the demo's ground truth)."""

from __future__ import annotations

import pytest

from app.demo import demo_events
from app.domain.traits import computed_profile, normal_ts
from app.services.ingest import IngestService
from app.services.marketing import MarketingService, NoModel
from app.services.segments import customer_facts
from tests.helpers import event


@pytest.fixture
async def demo_store(store):
    events = demo_events(80, seed=3)
    result = await IngestService(store).ingest_raw((str(n), e) for n, e in enumerate(events))
    assert result.rejected == 0
    store.demo_end = max(normal_ts(e["timestamp"]) for e in events)
    return store


async def test_the_model_trains_on_the_stored_timelines_and_explains_itself(demo_store):
    marketing = MarketingService(demo_store)
    with pytest.raises(NoModel):
        await marketing.model()
    model = await marketing.train(demo_store.demo_end)
    quality = model.quality
    assert quality.next_step_tested > 100 and quality.propensity_test_rows > 20
    assert quality.next_step_top3 >= quality.next_step_top1 > quality.baseline_top1
    assert 0.0 <= quality.propensity_auc <= 1.0
    # a fresh service (another process) reads the stored model
    reread = await MarketingService(demo_store).model()
    assert reread.to_json() == model.to_json()

    ids = await demo_store.customer_page(None, 20)
    found = await marketing.next_best_actions(ids)
    assert set(found) == set(ids)
    advice = next(r for r in found.values() if r is not None)
    assert "@" in advice.step and 0 < advice.score <= 1 and advice.evidence > 0
    assert advice.alternatives[0] == (advice.step, advice.score)
    assert 0 < advice.propensity < 1 and advice.drivers
    assert all(d.feature for d in advice.drivers)


async def test_campaign_performance_credits_what_the_stored_events_show(store):
    await IngestService(store).ingest([
        event("i1", "2024-03-01T10:00:00Z", "cookie:c1", type_="page_view",
              properties={"url": "https://shop.example/?utm_source=google&utm_campaign=spring"}),
        event("i2", "2024-03-02T10:00:00Z", "cookie:c1", "email:ann@x.com", type_="email_click",
              source="email", properties={"campaign": "newsletter"}),
        event("p1", "2024-03-03T10:00:00Z", "email:ann@x.com", type_="purchase",
              properties={"amount": 100}),
        event("p0", "2024-01-03T10:00:00Z", "email:bob@x.com", type_="purchase",
              properties={"amount": 5}),  # before the period: not counted
    ])
    attribution, funnel = await MarketingService(store).campaign_performance(
        "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", ["page_view", "purchase"])
    assert (attribution.conversions, attribution.value) == (1, 100.0)
    last = {c.key: c.conversions for c in attribution.table("last_touch", "source")}
    assert last == {"email": 1.0}
    linear = {c.key: c.value for c in attribution.table("linear", "campaign")}
    assert linear == {"spring": 50.0, "newsletter": 50.0}
    assert [(s.step, s.customers) for s in funnel] == [("page_view", 1), ("purchase", 1)]
    with pytest.raises(ValueError, match="since"):
        await MarketingService(store).campaign_performance("yesterday", "2024-04-01T00:00:00Z")
    with pytest.raises(ValueError, match="until"):
        await MarketingService(store).campaign_performance("2024-04-01T00:00:00Z",
                                                           "2024-03-01T00:00:00Z")


async def test_computed_traits_of_a_stored_customer(store):
    await IngestService(store).ingest([
        event("p1", "2024-03-01T10:00:00Z", "email:ann@x.com", type_="purchase",
              properties={"amount": 30}),
        event("p2", "2024-03-05T10:00:00Z", "email:ann@x.com", "device_id:"
              "3f2b8c1e-4a5d-4e6f-8a9b-0c1d2e3f4a5b", type_="purchase", source="app",
              properties={"amount": 50}),
    ])
    ann = (await store.owners(["email:ann@x.com"]))["email:ann@x.com"]
    facts = (await customer_facts(store, [ann]))[ann]
    values = {t.name: t.value for t in computed_profile(facts, "2024-03-10T10:00:00Z")}
    assert values["order_count"] == 2 and values["lifetime_value"] == 80.0
    assert values["average_order_value"] == 40.0 and values["device_count"] == 1
    assert values["days_since_last_purchase"] == 5
    assert values["events_7d"] == {"purchase": 1}
