"""Values stored before the bounds existed (an amount of 1 and 400 zeros, 1e308, events
dated in year 1 or 9999) must not break what reads them: computed traits, segments,
next-best-action training and campaign performance ignore an amount out of bounds and hold
time windows at the ends of the calendar."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.attribution import campaign_performance, funnel
from app.domain.nba import train
from app.domain.segments import catch_up, parse_segment
from app.domain.segments.evaluate import compare
from app.domain.segments.language import Vocabulary
from app.domain.traits import (
    CustomerFacts,
    EventView,
    TraitsConfig,
    amount_of,
    compute_traits,
    shift,
)

NOW = "2024-06-01T00:00:00.000000Z"
FIRST = "0001-01-01T00:00:00.000000Z"
LAST = "9999-12-31T23:59:59.999999Z"


def purchase(n: int, when: str, amount: object) -> EventView:
    return EventView(f"p{n}", "purchase", when, "web",
                     {"amount": amount, "utm_campaign": "spring", "utm_source": "mail"})


def poisoned() -> CustomerFacts:
    return CustomerFacts("c1", (
        purchase(1, "2024-05-01T00:00:00.000000Z", 10**400),
        purchase(2, "2024-05-02T00:00:00.000000Z", 1e308),
        purchase(3, "2024-05-03T00:00:00.000000Z", 1e308),
        purchase(4, "2024-05-04T00:00:00.000000Z", "1e400"),
        purchase(5, "2024-05-05T00:00:00.000000Z", 25),
        purchase(6, FIRST, 5),
        purchase(7, LAST, 5),
    ), ("email:a@example.com",))


@pytest.mark.parametrize("value", [10**400, -(10**39), 1e308, float("inf"), float("nan"),
                                   "1e400", "9" * 5000, True])
def test_an_amount_out_of_bounds_counts_as_no_amount(value):
    assert amount_of(value) is None


def test_computed_traits_ignore_stored_amounts_out_of_bounds():
    values = compute_traits(poisoned(), NOW)
    assert values["order_count"] == 6
    assert values["lifetime_value"] == 30.0  # 25, and 5 in year 1
    assert values["days_since_last_purchase"] == 27


def test_a_time_window_reaching_past_the_calendar_is_held_at_its_end():
    assert shift(FIRST, -timedelta(days=30)) == FIRST
    assert shift(LAST, timedelta(days=1)) == LAST
    assert shift(NOW, timedelta.max) == LAST and shift(NOW, timedelta.min) == FIRST


def test_segments_evaluate_a_customer_with_extreme_stored_values():
    definitions = {
        "big_spender": "sum(purchase.amount) > 20",
        "valued": "computed(lifetime_value) >= 30",
        "lapsed": "computed(days_since_last_purchase) > 100000000000000000000000",
        "recent": "count(purchase) >= 1 within 30d",
    }
    vocabulary = Vocabulary.of(TraitsConfig.default(), segments=set(definitions))
    catalogue = {n: parse_segment(n, t, vocabulary) for n, t in definitions.items()}
    done = catch_up(catalogue, poisoned(), {}, None, NOW)
    assert set(done.memberships) == {"big_spender", "valued", "recent"}
    assert done.next_check is not None


def test_a_number_in_a_definition_compares_exactly_however_long():
    assert compare(5, "<", 10**400) and not compare(5, ">", 10**400)
    assert compare("5", "!=", 10**400)


def test_training_and_campaign_performance_read_a_customer_with_extreme_values():
    others = [CustomerFacts(f"c{n}", (purchase(n * 10, "2024-05-10T00:00:00.000000Z", n),))
              for n in range(2, 6)]
    model = train([poisoned(), *others], NOW)
    assert model.trained_at == NOW
    journeys = [poisoned().events]
    found = campaign_performance(journeys, "0001-01-01T00:00:00Z", NOW)
    assert (found.conversions, found.value) == (6, 30.0)
    steps = funnel(journeys, ["purchase", "purchase"], FIRST, LAST,
                   within=timedelta(days=3_000_000))
    assert [s.customers for s in steps] == [1, 1]
