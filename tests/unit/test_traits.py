"""Computed traits: the default configuration, each kind, time windows, configuration errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.profile import Observation, build_profile
from app.domain.traits import (
    DEFAULT_TRAITS_TOML,
    CustomerFacts,
    EventView,
    TraitsConfig,
    TraitsError,
    compute_traits,
    computed_profile,
    next_trait_change,
    normal_ts,
    parse_duration,
    shift,
    view_of,
)
from tests.helpers import event

T0 = "2024-03-01T12:00:00.000000Z"


def at(days: float = 0, hours: float = 0) -> str:
    return shift(T0, timedelta(days=days, hours=hours))


def ev(n: int, when: str, type_: str = "page_view", source: str = "web", **props) -> EventView:
    return EventView(f"e{n:03d}", type_, when, source, props)


def buy(n: int, when: str, amount: object, source: str = "web", **props) -> EventView:
    return ev(n, when, "purchase", source, amount=amount, **props)


def facts(*events: EventView, identifiers: tuple[str, ...] = ()) -> CustomerFacts:
    return CustomerFacts("c1", events, identifiers)


def test_the_default_configuration_covers_the_issue_list():
    names = set(TraitsConfig.default().names)
    assert {"order_count", "lifetime_value", "average_order_value", "first_seen", "last_seen",
            "days_since_last_purchase", "events_7d", "events_30d", "events_90d",
            "favourite_channel", "device_count"} <= names
    assert TraitsConfig.from_toml(DEFAULT_TRAITS_TOML) == TraitsConfig.default()


def test_orders_lifetime_value_and_average_order_value_read_the_amount_in_eur():
    customer = facts(buy(1, at(0), 40), buy(2, at(1), "60.50"), buy(3, at(2), "free"),
                     ev(4, at(3)))
    values = compute_traits(customer, at(10))
    assert values["order_count"] == 3
    assert values["lifetime_value"] == 100.5  # text that is not a number is skipped
    assert values["average_order_value"] == 50.25
    definition = TraitsConfig.default().get("lifetime_value").definition
    assert "properties.amount" in definition and "EUR" in definition


def test_a_customer_who_never_bought_has_no_average_and_no_days_since():
    values = compute_traits(facts(ev(1, at(0))), at(5))
    assert values["order_count"] == 0 and values["lifetime_value"] == 0
    assert values["average_order_value"] is None
    assert values["days_since_last_purchase"] is None


def test_first_seen_last_seen_and_days_since_last_purchase_in_whole_days():
    customer = facts(ev(1, at(0)), buy(2, at(2), 10), ev(3, at(4)))
    values = compute_traits(customer, at(9, hours=23))
    assert values["first_seen"] == at(0)
    assert values["last_seen"] == at(4)
    assert values["days_since_last_purchase"] == 7  # 7 days 23 hours, rounded down


def test_events_after_now_are_not_seen_yet():
    customer = facts(ev(1, at(0)), buy(2, at(5), 10))
    assert compute_traits(customer, at(1))["order_count"] == 0
    assert compute_traits(customer, at(1))["last_seen"] == at(0)
    assert compute_traits(customer, at(5))["order_count"] == 1


def test_rolling_windows_count_events_by_type_and_expire_as_now_moves():
    customer = facts(ev(1, at(0)), ev(2, at(20)), buy(3, at(25), 10), ev(4, at(28)))
    values = compute_traits(customer, at(30))
    assert values["events_7d"] == {"page_view": 1, "purchase": 1}
    assert values["events_30d"] == {"page_view": 2, "purchase": 1}  # day 0 left at day 30
    assert values["events_90d"] == {"page_view": 3, "purchase": 1}
    later = compute_traits(customer, at(33))
    assert later["events_7d"] == {"page_view": 1}


def test_the_window_holds_events_from_exactly_its_length_ago_exclusive():
    customer = facts(ev(1, at(0)))
    just_before = shift(at(7), -timedelta(microseconds=1))
    assert compute_traits(customer, just_before)["events_7d"] == {"page_view": 1}
    assert compute_traits(customer, at(7))["events_7d"] == {}


def test_favourite_channel_is_the_most_frequent_source_ties_going_to_the_latest():
    customer = facts(ev(1, at(0), source="web"), ev(2, at(1), source="app"),
                     ev(3, at(2), source="web"), ev(4, at(3), source="app"))
    assert compute_traits(customer, at(4))["favourite_channel"] == "app"
    customer = facts(ev(1, at(0), source="web"), ev(2, at(1), source="web"),
                     ev(3, at(2), source="app"))
    assert compute_traits(customer, at(4))["favourite_channel"] == "web"


def test_favourite_category_reads_a_property_of_purchases():
    customer = facts(buy(1, at(0), 10, category="shoes"), buy(2, at(1), 10, category="jeans"),
                     buy(3, at(2), 10, category="shoes"), ev(4, at(3), category="kids"))
    assert compute_traits(customer, at(4))["favourite_category"] == "shoes"


def test_device_count_counts_distinct_device_identifiers():
    customer = facts(ev(1, at(0)), identifiers=("device_id:a", "device_id:b", "device_id:a",
                                                "email:x@example.com"))
    assert compute_traits(customer, at(1))["device_count"] == 2


def test_computed_profile_gives_each_value_with_its_definition_in_order():
    profile = computed_profile(facts(buy(1, at(0), 25)), at(1))
    assert [t.name for t in profile] == list(TraitsConfig.default().names)
    first = profile[0]
    assert (first.name, first.value, first.kind) == ("order_count", 1, "count")
    assert first.definition == "number of purchase events"
    by_name = {t.name: t for t in profile}
    assert by_name["events_30d"].definition == "number of events of each type in the last 30d"


def test_next_change_is_when_the_first_event_leaves_a_window():
    customer = facts(ev(1, at(0)), ev(2, at(3)))
    config = TraitsConfig.from_toml('[[trait]]\nname = "views_7d"\nkind = "count"\n'
                                    'types = ["page_view"]\nwindow = "7d"\n')
    assert next_trait_change(customer, at(4), config) == at(7)
    assert next_trait_change(customer, at(7), config) == at(10)
    assert next_trait_change(customer, at(10), config) is None


def test_next_change_of_days_since_is_the_next_whole_day():
    customer = facts(buy(1, at(0), 10))
    config = TraitsConfig.from_toml('[[trait]]\nname = "d"\nkind = "days_since"\n')
    assert next_trait_change(customer, at(2, hours=5), config) == at(3)


def test_next_change_includes_an_event_dated_after_now():
    customer = facts(ev(1, at(0)), buy(2, at(5), 10))
    config = TraitsConfig.from_toml('[[trait]]\nname = "n"\nkind = "count"\n'
                                    'types = ["purchase"]\n')
    assert next_trait_change(customer, at(1), config) == at(5)
    assert next_trait_change(customer, at(6), config) is None


def test_a_custom_configuration_from_toml():
    config = TraitsConfig.from_toml("""
[[trait]]
name = "app_spend_30d"
kind = "sum"
types = ["purchase"]
property = "amount"
window = "30 days"
description = "what they spent in the app this month"

[[trait]]
name = "campaigns_seen"
kind = "distinct_count"
field = "campaign"
""")
    customer = facts(buy(1, at(0), 30, source="app", campaign="a"), buy(2, at(40), 20,
                                                                        campaign="b"))
    values = compute_traits(customer, at(41), config)
    assert values == {"app_spend_30d": 20.0, "campaigns_seen": 2}
    assert config.get("app_spend_30d").definition == "what they spent in the app this month"


@pytest.mark.parametrize(("toml", "fragment"), [
    ("[[trait]]\nname = 'x'\nkind = 'median'\n", "trait[0] (x).kind: 'median' is not one of"),
    ("[[trait]]\nname = 'x'\nkind = 'count'\nwindow = '30x'\n", "trait[0] (x).window"),
    ("[[trait]]\nname = 'x'\nkind = 'count'\n[[trait]]\nname = 'x'\nkind = 'sum'\n",
     "'x' is defined twice"),
    ("[[trait]]\nname = 'x'\nkind = 'count'\nwindows = '7d'\n", "unknown setting(s) ['windows']"),
    ("[[trait]]\nname = 'x'\nkind = 'identifier_count'\n", "identifier_type"),
    ("[[trait]]\nname = 'Bad Name'\nkind = 'count'\n", "lower_snake_case"),
    ("[[trait]]\nname = 'x'\nkind = 'count'\ntypes = 'purchase'\n", "types: must be a list"),
    ("[traits]\n", "unknown section(s) ['traits']"),
    ("[[trait]\n", "not valid TOML"),
])
def test_a_bad_configuration_is_refused_naming_the_setting(toml, fragment):
    with pytest.raises(TraitsError) as raised:
        TraitsConfig.from_toml(toml)
    assert fragment in str(raised.value)


def test_durations():
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration("30 days") == timedelta(days=30)
    for bad in ("0d", "30", "d", "3m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_facts_from_a_domain_event_and_a_profile():
    parsed = event("e1", "2024-03-01T13:00:00+01:00", "email:ann@example.com",
                   type_="purchase", properties={"amount": 12.5},
                   traits={"city": "Utrecht"}, consent={"email_marketing": True})
    view = view_of(parsed)
    assert view.timestamp == normal_ts("2024-03-01T12:00:00Z")
    profile = build_profile([Observation("e1", view.timestamp, "web", parsed.traits,
                                         parsed.consent)])
    customer = CustomerFacts.from_profile("c1", [view], ["email:ann@example.com"], profile)
    assert customer.traits == {"city": "Utrecht"}
    assert customer.consent == {"email_marketing": True}
    assert customer.identifier_types == {"email"}
    assert compute_traits(customer, T0)["lifetime_value"] == 12.5
