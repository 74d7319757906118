"""The demo data set tells its story, and every event in it is a valid v1 event."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.demo import (
    JUNK_EMAIL,
    SHOP_CARD,
    DemoData,
    demo_data,
    demo_events,
    demo_people,
    synthetic_events,
)
from app.domain.events import Event, parse_event
from app.domain.identifiers import normalise

START = datetime(2024, 1, 1, tzinfo=UTC)
STORY_TYPES = {"page_view", "click", "impression", "signup", "login", "purchase", "call",
               "chat_message", "crm_record", "add_to_cart", "email_open", "email_click"}
IDENTIFIER_TYPES = {"email", "phone", "cookie", "device_id", "crm_id", "loyalty_id"}
SOURCES = {"web", "app", "pos", "crm", "callcenter", "chatbot", "ads", "email"}


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return demo_data()


@pytest.fixture(scope="module")
def parsed(demo: DemoData) -> dict[str, Event]:
    """event_id -> the parsed event, for every demo event."""
    return {raw["event_id"]: parse_event(raw).event for raw in demo.events}


def keys(event: Event) -> set[str]:
    return {i.key for i in event.identifiers}


def identifiers_by_person(demo: DemoData, parsed: dict[str, Event]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for event_id, event in parsed.items():
        found[demo.owner[event_id]] |= keys(event)
    return found


# -- every event is valid -----------------------------------------------------------------

def test_every_demo_event_parses_without_dropping_an_identifier(demo):
    for raw in demo.events:
        result = parse_event(raw)
        assert result.dropped == (), raw


def test_demo_event_ids_are_unique_and_numbered(demo):
    ids = [e["event_id"] for e in demo.events]
    assert len(set(ids)) == len(ids)
    assert ids == [f"demo-{n:08d}" for n in range(len(ids))]


def test_demo_events_are_in_time_order_within_the_period(demo, parsed):
    moments = [parsed[e["event_id"]].timestamp for e in demo.events]
    assert moments == sorted(moments)
    assert moments[0] >= START
    assert moments[-1] < START + timedelta(days=91)


def test_demo_writes_timestamps_both_in_utc_and_with_a_dutch_offset(demo):
    stamps = [e["timestamp"] for e in demo.events]
    assert any(s.endswith("Z") for s in stamps)
    assert any(s.endswith("+01:00") for s in stamps)


def test_same_seed_gives_identical_demo_and_another_seed_a_different_one():
    assert demo_events(40, seed=3) == demo_events(40, seed=3)
    assert demo_events(40, seed=3) != demo_events(40, seed=4)


def test_start_moves_the_whole_demo():
    later = datetime(2024, 6, 1, tzinfo=UTC)
    events = demo_events(20, start=later, days=30)
    first = parse_event(events[0]).event.timestamp
    assert later <= first < later + timedelta(days=30)
    assert any(e["timestamp"].endswith("+02:00") for e in events)  # Dutch summer time


def test_a_start_in_another_timezone_means_the_same_instant():
    amsterdam = datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert demo_events(15, start=amsterdam) == demo_events(15, start=START)


def test_demo_events_and_demo_people_agree_with_demo_data(demo):
    assert demo_events() == demo.events
    assert demo_people() == demo.people


@pytest.mark.parametrize("people,days", [(0, 90), (1, 90), (3, 1), (12, 2)])
def test_small_demos_are_valid_too(people, days):
    events = demo_events(people, seed=11, days=days)
    for raw in events:
        assert parse_event(raw).dropped == ()
    assert (len(events) == 0) == (people == 0)


def test_demo_rejects_a_naive_start_and_an_empty_period():
    with pytest.raises(ValueError):
        demo_events(5, start=datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        demo_events(5, days=0)


# -- the story ------------------------------------------------------------------------------

def test_demo_contains_every_event_type_of_the_story(demo):
    assert {e["type"] for e in demo.events} >= STORY_TYPES


def test_demo_uses_every_identifier_type_and_source(demo):
    assert {i["type"] for e in demo.events for i in e["identifiers"]} >= IDENTIFIER_TYPES
    assert {e["source"] for e in demo.events} >= SOURCES


def test_some_people_stay_anonymous_with_cookies_only(demo):
    anonymous = [p for p in demo.people if not p.known]
    assert len(anonymous) >= 10
    for person in anonymous:
        events = demo.events_of(person)
        assert events
        assert {i["type"] for e in events for i in e["identifiers"]
                if (i["type"], i["value"]) not in demo.shared} == {"cookie"}


def test_every_cookie_of_a_known_person_is_tied_to_their_email_in_one_event(demo, parsed):
    tied: dict[int, set[str]] = defaultdict(set)
    for event_id, event in parsed.items():
        types = {i.type for i in event.identifiers}
        if {"cookie", "email"} <= types and event.type in ("signup", "login"):
            tied[demo.owner[event_id]] |= {i.value for i in event.identifiers if i.type == "cookie"}
    for person in demo.people:
        if person.known:
            assert tied[person.index] == set(person.cookies), person


def test_each_identifier_belongs_to_exactly_one_person_but_the_shared_on_purpose(demo, parsed):
    owners: dict[str, set[int]] = defaultdict(set)
    for event_id, event in parsed.items():
        for key in keys(event):
            owners[key].add(demo.owner[event_id])
    shared = {f"{t}:{v}" for t, v in demo.shared}
    assert all(len(who) == 1 for key, who in owners.items() if key not in shared)
    assert all(len(owners[key]) > 1 for key in shared)
    for person_index, found in identifiers_by_person(demo, parsed).items():
        truth = {f"{t}:{v}" for t, v in demo.people[person_index].identifiers()}
        assert found - shared <= truth


def test_household_shares_surname_and_address_but_no_identifier(demo, parsed):
    households: dict[int, list[int]] = defaultdict(list)
    for person in demo.people:
        if person.household is not None:
            households[person.household].append(person.index)
    assert households
    by_person = identifiers_by_person(demo, parsed)
    profiles = {demo.owner[e["event_id"]]: e["traits"]
                for e in demo.events if e["type"] == "crm_record"}
    for first, second in households.values():
        a, b = profiles[first], profiles[second]
        assert a["last_name"] == b["last_name"]
        assert a["first_name"] != b["first_name"]
        for trait in ("street", "house_number", "postcode", "city"):
            assert a[trait] == b[trait]
        shared = {f"{t}:{v}" for t, v in demo.shared}
        assert (by_person[first] - shared).isdisjoint(by_person[second])


def test_some_loyalty_cards_are_filled_in_at_the_till_with_typos_and_no_email(demo):
    at_till = [p for p in demo.people if p.card_at_till]
    assert at_till
    signups = {demo.owner[e["event_id"]]: e for e in demo.events
               if e["type"] == "loyalty_signup"}
    assert set(signups) <= {p.index for p in at_till}
    retyped = 0
    for index, event in signups.items():
        person = demo.people[index]
        assert event["source"] == "pos"
        assert event["identifiers"] == [{"type": "loyalty_id", "value": person.loyalty_id}]
        traits = event["traits"]
        if person.card_rushed:
            assert traits["first_name"] == person.first_name[0]
            assert "birth_date" not in traits and "house_number" not in traits
            continue
        retyped += (traits["first_name"], traits["last_name"], traits["birth_date"]) != (
            person.first_name, person.last_name, person.birth_date)
        for crm in demo.events_of(person):
            if crm["type"] == "crm_record":
                assert "loyalty_id" not in {i["type"] for i in crm["identifiers"]}
    assert retyped > 0
    assert any(p.card_rushed for p in at_till)


def test_a_shop_card_used_by_many_and_a_junk_email_are_shared_on_purpose(demo):
    from app.domain.rules import Rules

    users = {demo.owner[e["event_id"]] for e in demo.events
             if {"type": "loyalty_id", "value": SHOP_CARD} in e["identifiers"]}
    assert len(users) > 15  # more than the hub limit of the default rules
    junk = [e for e in demo.events if {"type": "email", "value": JUNK_EMAIL} in e["identifiers"]]
    assert len({demo.owner[e["event_id"]] for e in junk}) > 1
    assert Rules.default().blocked_by(normalise("email", JUNK_EMAIL)) is not None


def test_one_phone_number_is_spelled_many_ways_that_normalise_to_one(demo):
    spellings: dict[str, set[str]] = defaultdict(set)
    for e in demo.events:
        for i in e["identifiers"]:
            if i["type"] == "phone":
                spellings[normalise("phone", i["value"]).value].add(i["value"])
    assert any(len(raw) >= 3 for raw in spellings.values())
    every = set().union(*spellings.values())
    for pattern in (r"^\+31 6 \d{4} \d{4}$", r"^06-\d{8}$", r"^00316\d{8}$",
                    r"^\+3[24]", r"^\+31 \(0\)6"):
        assert any(re.search(pattern, raw) for raw in every), pattern


def test_some_emails_are_typed_in_capitals_or_with_spaces(demo):
    emails = [(demo.owner[e["event_id"]], i["value"])
              for e in demo.events for i in e["identifiers"] if i["type"] == "email"]
    assert any(raw != raw.lower() for _, raw in emails)
    assert any(raw != raw.strip() for _, raw in emails)
    for owner, raw in emails:
        if ("email", normalise("email", raw).value) not in demo.shared:
            assert normalise("email", raw).value == demo.people[owner].email


def test_some_people_switch_cookie(demo, parsed):
    by_person = identifiers_by_person(demo, parsed)
    switchers = [p for p in demo.people if len(p.cookies) == 2]
    assert switchers
    for person in switchers:
        assert {f"cookie:{c}" for c in person.cookies} <= by_person[person.index]


def test_signups_carry_consent_for_marketing_and_analytics(demo):
    signups = [e for e in demo.events if e["type"] == "signup"]
    for e in signups:
        assert set(e["consent"]) == {"email_marketing", "analytics"}
        assert all(isinstance(v, bool) for v in e["consent"].values())
    assert {e["consent"]["email_marketing"] for e in signups} == {True, False}


def test_calls_come_from_a_phone_and_verified_callers_carry_their_crm_id(demo):
    calls = [e for e in demo.events if e["type"] == "call"]
    for e in calls:
        types = [i["type"] for i in e["identifiers"]]
        assert e["source"] == "callcenter"
        assert types[0] == "phone"
        assert ("crm_id" in types) == e["properties"]["caller_verified"]
        assert {"duration_s", "reason", "agent"} <= set(e["properties"])
    assert {e["properties"]["caller_verified"] for e in calls} == {True, False}


def test_crm_records_carry_ids_and_a_full_dutch_profile(demo):
    records = [e for e in demo.events if e["type"] == "crm_record"]
    assert records
    for e in records:
        assert e["source"] == "crm"
        assert {"crm_id", "email"} <= {i["type"] for i in e["identifiers"]}
        assert {"first_name", "last_name", "birth_date", "street", "house_number", "postcode",
                "city", "country"} <= set(e["traits"])
        assert e["traits"]["country"] == "NL"
        assert re.fullmatch(r"\d{4} [A-Z]{2}", e["traits"]["postcode"])
    assert any("phone" in {i["type"] for i in e["identifiers"]} for e in records)


def test_purchases_are_orders_in_euros_from_web_app_and_shops(demo):
    purchases = [e for e in demo.events if e["type"] == "purchase"]
    assert {e["source"] for e in purchases} == {"web", "app", "pos"}
    order_ids = [e["properties"]["order_id"] for e in purchases]
    assert len(set(order_ids)) == len(order_ids)
    for e in purchases:
        assert e["properties"]["currency"] == "EUR"
        assert e["properties"]["amount"] > 0
        assert e["properties"]["category"]


def test_ads_and_emails_name_their_campaign(demo):
    for e in demo.events:
        if e["type"] in ("impression", "email_open", "email_click") or e["source"] == "ads":
            assert e["properties"]["campaign"]


def test_chat_messages_carry_a_cookie_and_a_transcript_snippet(demo):
    chats = [e for e in demo.events if e["type"] == "chat_message"]
    for e in chats:
        assert e["source"] == "chatbot"
        assert e["identifiers"][0]["type"] == "cookie"
        assert e["properties"]["transcript"]
    assert any(len(e["identifiers"]) == 2 for e in chats)


def test_app_logins_tie_a_device_to_an_email(demo):
    logins = [e for e in demo.events if e["type"] == "login" and e["source"] == "app"]
    assert logins
    for e in logins:
        assert [i["type"] for i in e["identifiers"]] == ["device_id", "email"]


# -- synthetic_events ---------------------------------------------------------------------

def test_synthetic_events_is_a_lazy_stream():
    stream = synthetic_events(10**9)
    assert isinstance(stream, Iterator)
    assert next(stream)["event_id"] == "syn-1-000000000"


@pytest.mark.parametrize("n", [0, 1, 7, 3000])
def test_synthetic_events_yields_exactly_n_valid_events_in_time_order(n):
    events = list(synthetic_events(n, seed=5))
    assert len(events) == n
    assert [e["event_id"] for e in events] == [f"syn-5-{i:09d}" for i in range(n)]
    moments = []
    for raw in events:
        result = parse_event(raw)
        assert result.dropped == ()
        assert 1 <= len(raw["identifiers"]) <= 3
        moments.append(result.event.timestamp)
    assert moments == sorted(moments)


def test_synthetic_events_depend_only_on_the_seed():
    assert list(synthetic_events(500, seed=2)) == list(synthetic_events(500, seed=2))
    first = [e["identifiers"] for e in synthetic_events(500, seed=2)]
    assert first != [e["identifiers"] for e in synthetic_events(500, seed=3)]


def test_synthetic_events_start_at_start():
    later = datetime(2025, 3, 1, 12, tzinfo=UTC)
    event = next(synthetic_events(1, start=later))
    assert parse_event(event).event.timestamp == later


def test_synthetic_identifiers_link_up_into_about_one_person_per_five_events():
    n = 20_000
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    linked = 0
    for event in synthetic_events(n, seed=9):
        values = [root(f"{i['type']}:{i['value']}") for i in event["identifiers"]]
        for a, b in itertools.pairwise(values):
            parent[root(a)] = root(b)
            linked += 1
    components = len({root(key) for key in list(parent)})
    assert n / 8 < components < n / 3
    assert linked > n / 10


def test_synthetic_events_usually_carry_a_cookie_and_sometimes_more():
    events = list(synthetic_events(5000, seed=4))
    types = [{i["type"] for i in e["identifiers"]} for e in events]
    assert sum("cookie" in t for t in types) > 0.6 * len(events)
    for kind in ("email", "device_id", "phone", "crm_id"):
        assert any(kind in t for t in types), kind
    assert sum("crm_id" in t for t in types) < 0.05 * len(events)


def test_synthetic_events_rejects_a_negative_count():
    with pytest.raises(ValueError):
        synthetic_events(-1)
