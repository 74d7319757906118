"""The synthetic data generator: shapes, ground truth, and valid v1 events."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest

from app.domain.events import parse_event
from app.synth import SHAPES, Detail, Layout, Population, parse_shape, population, synth_data

NAME = {"first_name", "last_name"}
ADDRESS = {"street", "house_number", "postcode", "city"}


def test_shapes_parse_with_their_settings_and_bad_ones_are_named():
    shape = parse_shape("name_dob,people=500,typos=0.3,seed=4,details=name+email")
    assert (shape.people, shape.typos, shape.seed) == (500, 0.3, 4)
    assert shape.details == frozenset({Detail.NAME, Detail.EMAIL})
    for text, fault in [("nonsense", "unknown shape"), ("everything,typos=2", "between 0 and 1"),
                        ("everything,colour=red", "key=value"),
                        ("everything,people=many", "not a valid value"),
                        ("everything,details=name+shoe", "not a valid value")]:
        with pytest.raises(ValueError, match=fault):
            parse_shape(text)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_shape_gives_valid_events_with_an_owner_each(name):
    data = synth_data(parse_shape(f"{name},people=200"))
    assert data.events and set(data.owner) == {e["event_id"] for e in data.events}
    assert {data.owner[e["event_id"]] for e in data.events} <= {p.index for p in data.people}
    moments = [parse_event(e).event.timestamp for e in data.events]
    assert moments == sorted(moments)
    for raw in data.events:
        assert parse_event(raw).dropped == (), raw


@pytest.mark.parametrize("name,allowed", [
    ("name_dob", NAME | {"birth_date"}),
    ("name_email", NAME),
    ("name_address", NAME | ADDRESS),
])
def test_records_carry_only_the_details_of_their_shape(name, allowed):
    data = synth_data(parse_shape(f"{name},people=300"))
    seen = set().union(*(e["traits"] for e in data.trait_events))
    assert seen <= allowed and seen >= NAME
    emails = any(i["type"] == "email" for e in data.events for i in e["identifiers"])
    assert emails == (name == "name_email")


def test_the_same_shape_and_seed_give_the_same_data_and_another_seed_other_data():
    assert synth_data(parse_shape("everything,people=100")).events == \
        synth_data(parse_shape("everything,people=100")).events
    assert synth_data(parse_shape("everything,people=100,seed=2")).events != \
        synth_data(parse_shape("everything,people=100")).events


def test_contacts_can_come_as_traits():
    data = synth_data(parse_shape("name_email,people=100,contacts_as=traits"))
    assert all("email" in e["traits"] or "first_name" in e["traits"] for e in data.trait_events)
    assert any("email" in e["traits"] for e in data.trait_events)
    assert all(i["type"] == "record_id" for e in data.events for i in e["identifiers"])


def test_duplicates_are_retyped_with_typos_and_clean_copies_are_not():
    clean = synth_data(parse_shape("name_dob,people=400,duplicates=0.5,typos=0,missing=0"))
    by_person: dict[int, set[tuple]] = defaultdict(set)
    for e in clean.trait_events:
        by_person[clean.owner[e["event_id"]]].add(tuple(sorted(e["traits"].items())))
    assert all(len(v) == 1 for v in by_person.values())
    dirty = synth_data(parse_shape("name_dob,people=400,duplicates=0.5,typos=0.5"))
    copies: dict[int, set[tuple]] = defaultdict(set)
    for e in dirty.trait_events:
        copies[dirty.owner[e["event_id"]]].add(tuple(sorted(e["traits"].items())))
    assert sum(len(v) > 1 for v in copies.values()) > 100


def test_people_live_in_households_with_twins_and_some_move():
    people = population(random.Random(3), 3000, Population(households=0.4, twins=0.3,
                                                           movers=0.2))
    homes = Counter(p.home for p in people)
    in_households = sum(n for n in homes.values() if n > 1)
    assert 0.3 < in_households / len(people) < 0.5
    for person in people:
        if person.twin_of is not None:
            twin = people[person.twin_of]
            assert (twin.birth_date, twin.home, twin.last_name) == \
                (person.birth_date, person.home, person.last_name)
            assert twin.first_name != person.first_name
    assert any(p.twin_of is not None for p in people)
    movers = [p for p in people if p.moved_to is not None]
    assert 0.15 < len(movers) / len(people) < 0.25
    assert all(p.moved_to != p.home for p in movers)
    assert len({p.email for p in people}) == len({p.phone for p in people}) == len(people)


def test_a_stream_has_anonymous_visits_several_systems_and_shared_family_tablets():
    data = synth_data(parse_shape("cdp,people=600"))
    assert data.shape.layout is Layout.STREAM
    types = Counter(e["type"] for e in data.events)
    expected = {"page_view", "crm_record", "loyalty_signup", "signup", "login", "purchase"}
    assert expected <= set(types)
    devices: dict[str, set[int]] = defaultdict(set)
    for e in data.events:
        for i in e["identifiers"]:
            if i["type"] == "device_id":
                devices[i["value"]].add(data.owner[e["event_id"]])
    shared = [who for who in devices.values() if len(who) > 1]
    assert shared and all(len({data.people[i].home for i in who}) == 1 for who in shared)
