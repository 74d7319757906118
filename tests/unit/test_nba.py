"""Next-best-action: the Markov next step, the propensity model, training and explanations
on the demo data."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import pytest

from app.demo import demo_data
from app.domain.events import parse_event
from app.domain.nba import (
    START,
    NextBestActionModel,
    NextStepModel,
    PropensityModel,
    auc,
    journey,
    recommend,
    train,
    trait_features,
)
from app.domain.traits import CustomerFacts, EventView, TraitsConfig, compute_traits, view_of


@pytest.fixture(scope="module")
def demo_customers() -> list[CustomerFacts]:
    """The demo people as customers, grouped by the demo's ground truth."""
    demo = demo_data()
    events: dict[int, list[EventView]] = defaultdict(list)
    keys: dict[int, set[str]] = defaultdict(set)
    for raw in demo.events:
        parsed = parse_event(raw).event
        person = demo.owner[parsed.event_id]
        events[person].append(view_of(parsed))
        keys[person] |= {i.key for i in parsed.identifiers}
    return [CustomerFacts(f"person-{p}", tuple(events[p]), tuple(keys[p])) for p in sorted(events)]


@pytest.fixture(scope="module")
def demo_now(demo_customers) -> str:
    return max(c.events[-1].timestamp for c in demo_customers)


@pytest.fixture(scope="module")
def model(demo_customers, demo_now) -> NextBestActionModel:
    return train(demo_customers, demo_now)


def ev(n: int, ts: str, type_: str, source: str = "web") -> EventView:
    return EventView(f"e{n}", type_, ts, source, {})


# -- the next step ---------------------------------------------------------------------------
def test_a_journey_collapses_repeated_steps():
    events = [ev(1, "2024-01-01T00:00:01.000000Z", "page_view"),
              ev(2, "2024-01-01T00:00:02.000000Z", "page_view"),
              ev(3, "2024-01-01T00:00:03.000000Z", "purchase"),
              ev(4, "2024-01-01T00:00:04.000000Z", "page_view", "app")]
    assert journey(events) == ["page_view@web", "purchase@web", "page_view@app"]
    assert journey(events, until="2024-01-01T00:00:02.500000Z") == ["page_view@web"]


def test_the_markov_model_counts_transitions_with_add_k_smoothing():
    model = NextStepModel.fit([["a", "b"], ["a", "b"], ["a", "c"]], k=1.0)
    assert model.counts == {START: {"a": 3}, "a": {"b": 2, "c": 1}}
    probabilities = dict(model.probabilities("a"))
    # (count + k) / (total + k * steps), steps: a, b, c
    assert probabilities == {"b": 3 / 6, "c": 2 / 6, "a": 1 / 6}
    assert math.isclose(sum(probabilities.values()), 1.0)
    assert model.top("a", 1) == [("b", 0.5)]
    assert model.evidence("a") == 3


def test_a_step_never_seen_falls_back_to_how_often_steps_follow_any_step():
    model = NextStepModel.fit([["a", "b"], ["a", "b"]], k=0.0)
    assert model.top("never_seen", 2) == [("a", 0.5), ("b", 0.5)]


def test_the_next_step_model_round_trips_through_json():
    model = NextStepModel.fit([["a", "b", "a"]], k=0.5)
    assert NextStepModel.from_json(json.loads(json.dumps(model.to_json()))) == model


# -- the propensity --------------------------------------------------------------------------
def test_logistic_regression_learns_the_direction_of_a_feature():
    rows = [{"x": float(i), "noise": float(i % 3)} for i in range(40)]
    labels = [i >= 20 for i in range(40)]
    fitted = PropensityModel.fit(rows, labels, l2=1.0)
    weights = dict(zip(fitted.features, fitted.weights, strict=True))
    assert weights["x"] > 1.0 and abs(weights["noise"]) < weights["x"]
    assert fitted.score({"x": 35.0, "noise": 1.0}) > 0.9
    assert fitted.score({"x": 2.0, "noise": 1.0}) < 0.1


def test_a_constant_feature_is_dropped_and_an_unknown_value_counts_as_average():
    rows = [{"x": float(i), "same": 1.0, "sometimes": None if i % 2 else float(i)}
            for i in range(10)]
    fitted = PropensityModel.fit(rows, [i > 4 for i in range(10)])
    assert "same" not in fitted.features
    drivers = fitted.drivers({"x": 9.0, "sometimes": None}, n=10)
    assert all(d.feature != "sometimes" for d in drivers)  # unknown contributes nothing


def test_the_drivers_add_up_to_the_score():
    rows = [{"a": float(i), "b": float((7 * i) % 10)} for i in range(30)]
    fitted = PropensityModel.fit(rows, [i % 3 == 0 or i > 20 for i in range(30)])
    row = {"a": 25.0, "b": 3.0}
    total = fitted.intercept + sum(d.contribution for d in fitted.drivers(row, n=10))
    assert math.isclose(1 / (1 + math.exp(-total)), fitted.score(row), abs_tol=1e-3)


def test_a_value_far_outside_the_training_data_counts_at_most_three_deviations():
    rows = [{"days": float(i)} for i in range(30)]
    fitted = PropensityModel.fit(rows, [i > 15 for i in range(30)])
    [weight] = fitted.weights
    far = fitted.drivers({"days": 900.0})[0].contribution
    assert math.isclose(far, 3 * weight, abs_tol=1e-4)
    edge = fitted.means[0] + 3 * fitted.scales[0]
    assert fitted.score({"days": 900.0}) == fitted.score({"days": edge})
    assert fitted.score({"days": 900.0}) > fitted.score({"days": edge - 1.0})


def test_auc_counts_ties_as_half():
    assert auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert auc([0.5, 0.5], [False, True]) == 0.5
    assert auc([0.1, 0.2], [True, True]) is None


def test_features_from_computed_traits():
    customer = CustomerFacts("c", (
        EventView("e1", "page_view", "2024-01-01T00:00:00.000000Z", "web", {}),
        EventView("e2", "purchase", "2024-01-05T00:00:00.000000Z", "app", {"amount": 40}),
    ), ("device_id:d",))
    now = "2024-01-11T00:00:00.000000Z"
    features = trait_features(compute_traits(customer, now), TraitsConfig.default(), now)
    assert features["order_count"] == 1 and features["lifetime_value"] == 40
    assert features["days_since_first_seen"] == 10 and features["days_since_last_seen"] == 6
    assert features["events_7d.purchase"] == 1 and features["events_7d.total"] == 1
    assert features["events_30d.total"] == 2
    assert features["favourite_channel=app"] == 1  # a tie goes to the latest
    assert not any(f.startswith("favourite_category") for f in features)  # no category
    assert features["device_count"] == 1


# -- training on the demo data ---------------------------------------------------------------
def test_training_on_the_demo_data_reports_held_out_quality(model, demo_now):
    quality = model.quality
    assert quality.split_at < demo_now
    assert quality.propensity_train_rows > 0 and quality.propensity_test_rows > 0
    assert 0 < quality.propensity_test_positives < quality.propensity_test_rows
    assert quality.propensity_auc is not None and quality.propensity_auc > 0.5
    assert quality.next_step_tested > 100
    assert quality.next_step_top1 is not None and quality.next_step_top3 is not None
    assert quality.next_step_top3 >= quality.next_step_top1
    assert quality.next_step_top1 > quality.baseline_top1  # better than guessing the usual
    assert quality.next_step_top3 > quality.baseline_top3
    assert "propensity AUC" in quality.summary() and "top-3" in quality.summary()


def test_a_recommendation_explains_itself(model, demo_customers, demo_now):
    buyer = next(c for c in demo_customers if any(e.type == "purchase" for e in c.events))
    advice = recommend(model, buyer, demo_now)
    assert advice is not None
    assert advice.step in model.next_step.steps
    assert advice.alternatives[0] == (advice.step, advice.score)
    assert 0 < advice.score <= 1 and 0 < advice.propensity < 1
    assert advice.after == journey(buyer.events)[-1] and advice.evidence > 0
    assert advice.event_type and advice.source
    assert advice.drivers
    sizes = [abs(d.contribution) for d in advice.drivers]
    assert sizes == sorted(sizes, reverse=True)
    assert {d.feature for d in advice.drivers} <= set(model.propensity.features)
    assert json.dumps(advice.to_json())


def test_a_customer_with_no_events_yet_gets_the_usual_first_step(model, demo_now):
    advice = recommend(model, CustomerFacts("new"), demo_now)
    assert advice is not None and advice.after == START
    assert advice.step in {"impression@ads", "page_view@web", "crm_record@crm",
                           "app_install@app"}


def test_the_model_round_trips_through_json(model, demo_customers, demo_now):
    stored = json.loads(json.dumps(model.to_json()))
    loaded = NextBestActionModel.from_json(stored)
    assert loaded.to_json() == model.to_json()
    customer = demo_customers[5]
    assert recommend(loaded, customer, demo_now) == recommend(model, customer, demo_now)


def test_a_model_of_another_version_is_refused(model):
    stored = {**model.to_json(), "version": 99}
    with pytest.raises(ValueError, match="train the model again"):
        NextBestActionModel.from_json(stored)


def test_training_is_deterministic(demo_customers, demo_now, model):
    assert train(demo_customers, demo_now).to_json() == model.to_json()
