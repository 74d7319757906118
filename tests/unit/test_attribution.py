"""Attribution of conversions to sources and campaigns, and funnels."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta

import pytest

from app.demo import demo_data
from app.domain.attribution import (
    DIRECT,
    MODELS,
    NO_CAMPAIGN,
    Touch,
    campaign_performance,
    funnel,
    markov,
    paths,
    removal_effects,
    touch_of,
)
from app.domain.events import parse_event
from app.domain.traits import EventView, shift, view_of

T0 = "2024-02-01T00:00:00.000000Z"
SINCE, UNTIL = T0, shift(T0, timedelta(days=60))


def day(n: float) -> str:
    return shift(T0, timedelta(days=n))


class Journey:
    """Builds one customer's events."""

    def __init__(self) -> None:
        self.events: list[EventView] = []

    def add(self, when: str, type_: str, source: str, **props) -> Journey:
        self.events.append(EventView(f"e{len(self.events)}", type_, when, source, props))
        return self

    def ad(self, when: str, network: str, campaign: str) -> Journey:
        return self.add(when, "impression", "ads", network=network, campaign=campaign)

    def mail(self, when: str, campaign: str) -> Journey:
        return self.add(when, "email_open", "email", campaign=campaign)

    def buy(self, when: str, amount: float) -> Journey:
        return self.add(when, "purchase", "web", amount=amount)


def credits(result, model: str, dimension: str) -> dict[str, tuple[float, float]]:
    return {c.key: (c.conversions, c.value) for c in result.table(model, dimension)}


@pytest.fixture
def four_customers() -> list[list[EventView]]:
    return [
        Journey().ad(day(0), "meta", "winter").mail(day(2), "newsletter").buy(day(3), 100).events,
        Journey().ad(day(1), "google_ads", "spring").buy(day(4), 50).events,
        Journey().buy(day(5), 30).events,
        Journey().ad(day(2), "meta", "winter").events,
    ]


# -- touches -------------------------------------------------------------------------------
@pytest.mark.parametrize(("type_", "source", "props", "expected"), [
    ("impression", "ads", {"network": "meta", "campaign": "winter"}, ("meta", "winter")),
    ("page_view", "web",
     {"url": "https://shop.example/sale?utm_source=google_ads&utm_campaign=spring"},
     ("google_ads", "spring")),
    ("email_open", "email", {"campaign": "newsletter_2024_w05"},
     ("email", "newsletter_2024_w05")),
    ("page_view", "web", {"utm_source": "partner"}, ("partner", NO_CAMPAIGN)),
    ("page_view", "web", {"url": "https://shop.example/sale"}, None),
    ("click", "web", {"element": "size_guide"}, None),
])
def test_a_touch_is_an_event_with_a_campaign_or_a_utm_source(type_, source, props, expected):
    touch = touch_of(EventView("e", type_, T0, source, props))
    assert (None if touch is None else (touch.source, touch.campaign)) == expected


def test_an_impression_its_click_and_landing_page_are_one_touch():
    journey = (Journey().ad(day(0), "meta", "winter")
               .add(day(0), "click", "ads", network="meta", campaign="winter")
               .add(day(0), "page_view", "web",
                    url="https://x.example/?utm_source=meta&utm_campaign=winter")
               .buy(day(1), 10))
    [path] = paths([journey.events], SINCE, UNTIL)
    assert [(t.source, t.campaign) for t in path.touches] == [("meta", "winter")]


def test_touches_older_than_the_lookback_do_not_count():
    journey = Journey().ad(day(0), "meta", "winter").buy(day(40), 10)
    [path] = paths([journey.events], SINCE, UNTIL, lookback=timedelta(days=30))
    assert path.converted and path.touches == ()


def test_a_conversion_before_the_period_still_ends_the_path_before_it():
    journey = Journey().ad(day(-3), "meta", "winter").buy(day(-1), 10).buy(day(2), 20)
    [path] = paths([journey.events], SINCE, UNTIL)
    assert path.converted and path.value == 20 and path.touches == ()


def test_customers_who_did_not_convert_give_paths_of_their_touches_in_the_period():
    journey = Journey().ad(day(-5), "meta", "winter").mail(day(3), "newsletter")
    [path] = paths([journey.events], SINCE, UNTIL)
    assert not path.converted and [t.campaign for t in path.touches] == ["newsletter"]


# -- the models ------------------------------------------------------------------------------
def test_last_touch_gives_each_conversion_to_its_last_touch(four_customers):
    result = campaign_performance(four_customers, SINCE, UNTIL)
    assert (result.conversions, result.value, result.paths) == (3, 180.0, 4)
    assert credits(result, "last_touch", "source") == {
        "email": (1, 100), "google_ads": (1, 50), DIRECT: (1, 30)}
    assert credits(result, "last_touch", "campaign") == {
        "newsletter": (1, 100), "spring": (1, 50), DIRECT: (1, 30)}


def test_linear_shares_each_conversion_equally_over_its_touches(four_customers):
    result = campaign_performance(four_customers, SINCE, UNTIL)
    assert credits(result, "linear", "source") == {
        "meta": (0.5, 50), "email": (0.5, 50), "google_ads": (1, 50), DIRECT: (1, 30)}


def test_markov_shares_conversions_by_removal_effect(four_customers):
    # start -> meta (2 of 4), google (1), direct (1); meta -> email or nothing; the chain
    # converts 0.75 of the time, and without any one key 0.5: every removal effect is 1/3
    found = paths(four_customers, SINCE, UNTIL)
    effects = removal_effects(found, "source")
    assert effects.keys() == {"meta", "email", "google_ads", DIRECT}
    assert all(math.isclose(e, 1 / 3) for e in effects.values())
    result = campaign_performance(four_customers, SINCE, UNTIL)
    assert credits(result, "markov", "source") == {
        k: (0.75, 45.0) for k in ("meta", "email", "google_ads", DIRECT)}


def test_markov_gives_nothing_to_a_key_that_only_leads_nowhere():
    found = paths([Journey().ad(day(0), "meta", "a").buy(day(1), 10).events,
                   Journey().ad(day(0), "tiktok", "b").events], SINCE, UNTIL)
    assert removal_effects(found, "source") == {"meta": 1.0, "tiktok": 0.0}
    assert [(c.key, c.conversions) for c in markov(found, "source")] == [
        ("meta", 1.0), ("tiktok", 0.0)]


def test_markov_credits_both_keys_of_a_path_that_needs_both():
    found = paths([Journey().ad(day(0), "meta", "a").mail(day(1), "b").buy(day(2), 10).events,
                   Journey().ad(day(0), "meta", "a").events], SINCE, UNTIL)
    assert removal_effects(found, "source") == {"meta": 1.0, "email": 1.0}
    assert {c.key: c.conversions for c in markov(found, "source")} == {"meta": 0.5,
                                                                        "email": 0.5}


def test_nothing_to_attribute():
    result = campaign_performance([Journey().ad(day(0), "meta", "a").events], SINCE, UNTIL)
    assert result.conversions == 0
    assert all(result.table(m, "source") == () for m in ("last_touch", "linear", "markov"))


def test_a_custom_touch_rule():
    def by_source(event: EventView) -> Touch | None:
        return Touch(event.source, NO_CAMPAIGN, event.timestamp) if event.source != "web" \
            else None

    journey = Journey().add(day(0), "call", "callcenter").buy(day(1), 10)
    result = campaign_performance([journey.events], SINCE, UNTIL, touch=by_source)
    assert credits(result, "last_touch", "source") == {"callcenter": (1, 10)}


def test_every_model_shares_out_exactly_the_conversions_on_the_demo_data():
    demo = demo_data()
    journeys: dict[int, list[EventView]] = defaultdict(list)
    for raw in demo.events:
        parsed = parse_event(raw).event
        journeys[demo.owner[parsed.event_id]].append(view_of(parsed))
    result = campaign_performance(journeys.values(), "2024-01-01T00:00:00Z",
                                  "2024-04-01T00:00:00Z")
    assert result.conversions > 100
    for model in MODELS:
        for dimension in ("source", "campaign"):
            table = result.table(model, dimension)
            assert math.isclose(sum(c.conversions for c in table), result.conversions,
                                abs_tol=0.01)
            assert math.isclose(sum(c.value for c in table), result.value, abs_tol=0.1)
    sources = {c.key for c in result.table("markov", "source")}
    assert {"email", "meta", "google_ads"} <= sources
    assert result.to_json()["credits"]["linear"]["campaign"]


# -- funnels ---------------------------------------------------------------------------------
def test_a_funnel_counts_customers_who_reach_each_step_in_order():
    journeys = [
        Journey().add(day(0), "page_view", "web").add(day(0.1), "add_to_cart", "web")
        .buy(day(0.2), 10).events,
        Journey().add(day(0), "page_view", "web").add(day(1), "add_to_cart", "web").events,
        Journey().add(day(0), "add_to_cart", "web").add(day(1), "page_view", "web").events,
        Journey().add(day(0), "page_view", "app").events,
    ]
    steps = funnel(journeys, ["page_view", "add_to_cart", "purchase"], SINCE, UNTIL)
    assert [(s.step, s.customers) for s in steps] == [
        ("page_view", 4), ("add_to_cart", 2), ("purchase", 1)]
    assert (steps[0].from_previous, steps[0].from_start) == (None, 1.0)
    assert (steps[1].from_previous, steps[2].from_previous) == (0.5, 0.5)
    assert steps[2].from_start == 0.25
    by_source = funnel(journeys, ["page_view@web", "add_to_cart"], SINCE, UNTIL)
    assert [s.customers for s in by_source] == [3, 2]
    quick = funnel(journeys, ["page_view", "add_to_cart"], SINCE, UNTIL,
                   within=timedelta(hours=12))
    assert [s.customers for s in quick] == [4, 1]


def test_a_funnel_reads_only_the_period():
    journeys = [Journey().add(day(-1), "page_view", "web").buy(day(1), 10).events]
    steps = funnel(journeys, ["page_view", "purchase"], SINCE, UNTIL)
    assert [s.customers for s in steps] == [0, 0]
    assert steps[1].from_previous is None
