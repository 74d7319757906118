"""Segment-spec messages mapped to v1 events (docs/loaders.md has the mapping)."""

from __future__ import annotations

import pytest

from app.domain.events import EventError, parse_event
from app.services.ingest import IngestService
from loaders.segment_spec import SegmentConfig, as_v1, is_segment, snake_case, to_v1

TS = "2024-05-01T12:00:00.000Z"


def message(kind: str, **fields: object) -> dict[str, object]:
    return {"type": kind, "messageId": f"m-{kind}", "timestamp": TS, **fields}


def identifiers(event: dict) -> set[str]:
    return {f"{i['type']}:{i['value']}" for i in event["identifiers"]}


def test_identify_maps_ids_and_traits_to_identifiers_and_v1_traits():
    event = to_v1(message(
        "identify", anonymousId="anon-1", userId="u-42",
        traits={"email": "Ann@Example.com", "phone": "+31 6 12345678", "firstName": "Ann",
                "lastName": "Smit", "birthday": "1990-02-03T00:00:00Z", "plan": "pro",
                "address": {"city": "Utrecht", "postalCode": "3511 AB"}}))

    assert event["event_id"] == "m-identify" and event["type"] == "identify"
    assert identifiers(event) == {"cookie:anon-1", "user_id:u-42", "email:Ann@Example.com",
                                  "phone:+31 6 12345678"}
    assert event["traits"] == {"first_name": "Ann", "last_name": "Smit",
                               "birth_date": "1990-02-03", "plan": "pro", "city": "Utrecht",
                               "postcode": "3511 AB"}
    parsed = parse_event(event).event  # and it is a valid v1 event
    assert {i.key for i in parsed.identifiers} >= {"email:ann@example.com", "phone:+31612345678"}


def test_track_takes_its_type_from_the_event_name_and_keeps_properties():
    event = to_v1(message("track", userId="u-1", event="Order Completed",
                          properties={"revenue": 25.5, "currency": "EUR"},
                          context={"traits": {"email": "a@b.nl"}}))

    assert event["type"] == "order_completed"
    assert event["properties"] == {"revenue": 25.5, "currency": "EUR",
                                   "event": "Order Completed"}
    assert identifiers(event) == {"user_id:u-1", "email:a@b.nl"}


@pytest.mark.parametrize(("name", "expected"), [
    ("Order Completed", "order_completed"), ("addToCart", "add_to_cart"),
    ("Signed-Up!", "signed_up"), ("404 Seen", "404_seen"),
])
def test_event_names_become_snake_case(name, expected):
    assert snake_case(name) == expected


def test_a_track_name_starting_with_a_digit_is_prefixed_to_stay_a_v1_type():
    assert to_v1(message("track", userId="u", event="404 Seen"))["type"] == "track_404_seen"


def test_page_and_screen_become_views_with_their_name():
    page = to_v1(message("page", anonymousId="a", name="Pricing",
                         properties={"url": "https://x.test/pricing"}))
    screen = to_v1(message("screen", anonymousId="a", name="Home",
                           context={"device": {"id": "8b3e6a0e-8d1f-4c61-9b3b-0a2f3c4d5e6f"}}))

    assert (page["type"], page["properties"]) == (
        "page_view", {"url": "https://x.test/pricing", "name": "Pricing"})
    assert screen["type"] == "screen_view"
    assert "device_id:8b3e6a0e-8d1f-4c61-9b3b-0a2f3c4d5e6f" in identifiers(screen)


def test_alias_carries_the_previous_anonymous_id_and_the_user():
    event = to_v1(message("alias", previousId="anon-9", userId="u-9"))

    assert event["type"] == "alias"
    assert identifiers(event) == {"cookie:anon-9", "user_id:u-9"}


def test_group_keeps_the_group_as_a_property_never_as_an_identifier():
    event = to_v1(message("group", userId="u-1", groupId="acme",
                          traits={"name": "Acme", "email": "info@acme.test"}))

    assert identifiers(event) == {"user_id:u-1"}  # not the company's e-mail
    assert event["properties"] == {"group_id": "acme",
                                   "group_traits": {"name": "Acme", "email": "info@acme.test"}}
    assert "traits" not in event


def test_the_user_id_type_is_configurable():
    event = to_v1(message("identify", userId="C-001"), SegmentConfig(user_id_type="crm_id"))
    assert identifiers(event) == {"crm_id:C-001"}


def test_consent_preferences_become_v1_consent():
    event = to_v1(message("track", userId="u", event="x", context={
        "consent": {"categoryPreferences": {"Advertising": False, "Analytics": True}}}))
    assert event["consent"] == {"Advertising": False, "Analytics": True}


def test_timestamp_falls_back_to_original_then_sent_then_received():
    msg = message("track", userId="u", event="x")
    del msg["timestamp"]
    msg["sentAt"] = "2024-01-01T00:00:00Z"
    assert to_v1(msg)["timestamp"] == "2024-01-01T00:00:00Z"


def test_a_message_without_message_id_gets_an_id_from_its_content():
    msg = message("track", userId="u", event="x")
    del msg["messageId"]
    assert to_v1(msg)["event_id"] == to_v1(dict(msg))["event_id"]
    assert to_v1(msg)["event_id"].startswith("seg-")


@pytest.mark.parametrize(("msg", "field"), [
    ({"type": "bogus", "messageId": "m", "timestamp": TS, "userId": "u"}, "type"),
    (message("track", userId="u"), "event"),
    (message("identify", traits={"name": "nobody"}), "identifiers"),
    ({"type": "identify", "messageId": "m", "userId": "u"}, "timestamp"),
])
def test_unmappable_messages_are_rejected_with_the_field(msg, field):
    with pytest.raises(EventError) as caught:
        to_v1(msg)
    assert caught.value.field == field


def test_auto_detects_segment_and_leaves_v1_alone():
    v1 = {"event_id": "e", "type": "identify", "timestamp": TS, "source": "web",
          "identifiers": [{"type": "cookie", "value": "x"}]}
    seg = message("identify", userId="u")
    assert not is_segment(v1) and is_segment(seg)
    assert as_v1(v1, "auto") is v1
    assert as_v1(seg, "auto")["source"] == "segment"


async def test_alias_links_the_previous_anonymous_id_to_the_user_in_the_store(store):
    """Browsing as anon-1, then signing up as u-1: alias makes them one customer."""
    ingest = IngestService(store)
    anonymous = to_v1({"type": "page", "messageId": "p1", "anonymousId": "anon-1",
                       "timestamp": "2024-05-01T10:00:00Z", "name": "Home"})
    known = to_v1({"type": "identify", "messageId": "i1", "userId": "u-1",
                   "timestamp": "2024-05-01T11:00:00Z", "traits": {"email": "u1@example.com"}})
    alias = to_v1({"type": "alias", "messageId": "a1", "previousId": "anon-1",
                   "userId": "u-1", "timestamp": "2024-05-01T11:00:01Z"})
    await ingest.ingest_raw([("1", anonymous), ("2", known)])
    before = await store.owners(["cookie:anon-1", "user_id:u-1"])
    assert before["cookie:anon-1"] != before["user_id:u-1"]

    result = await ingest.ingest_raw([("3", alias)])

    after = await store.owners(["cookie:anon-1", "user_id:u-1", "email:u1@example.com"])
    assert len(set(after.values())) == 1 and result.merges == 1
