"""The v1 event contract and identifier normalisation."""

from __future__ import annotations

import json
import string

import jsonschema
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.events import EventError, parse_event, schema
from app.domain.identifiers import _PLAIN_EMAIL, IdentifierError, _plain_email, normalise
from app.stores.values import event_body
from tests.helpers import raw_event

GOOD = raw_event("e1", "2024-03-01T10:00:00+02:00", "email:Ann@Example.com", "cookie:abc")


@pytest.mark.parametrize(
    "spelling",
    ["+31 6 1234 5678", "06-12345678", "0031612345678", "+31612345678", "(06) 1234 5678"],
)
def test_phone_spellings_are_one_identifier(spelling):
    assert normalise("phone", spelling).value == "+31612345678"


def test_phone_default_region_is_configurable():
    assert normalise("phone", "(202) 555-0143", default_region="US").value == "+12025550143"


@pytest.mark.parametrize(
    "raw,expected",
    [
        (" Ann.Smith@Example.COM ", "ann.smith@example.com"),
        ("a+tag@sub.example.org", "a+tag@sub.example.org"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw, expected):
    assert normalise("email", raw).value == expected


_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-."
_EMAILISH = st.builds(
    "{}@{}.{}".format,
    st.text(_ATEXT, min_size=1, max_size=70),
    st.text(string.ascii_letters + string.digits + "-.", min_size=1, max_size=70)
    | st.sampled_from(["localhost", "foo.local", "xn--p1ai", "a--b", "mail.test", "x.onion"]),
    st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=8)
    | st.sampled_from(["arpa", "invalid", "local", "test", "onion", "com"]),
)


def _full_validation(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@settings(max_examples=600, deadline=None)
@given(_EMAILISH | st.from_regex(_PLAIN_EMAIL, fullmatch=True))
def test_the_plain_email_shortcut_agrees_with_full_validation(text):
    """Plain addresses skip email_validator: the shortcut must accept only what it accepts,
    normalised the same way."""
    plain = _plain_email(text)
    if plain is not None:
        assert plain == _full_validation(text)


def test_the_plain_email_shortcut_takes_common_addresses():
    assert _plain_email("Ann.Smith+news@Mail.Example.co.uk") == "ann.smith+news@mail.example.co.uk"
    assert _plain_email("ann@localhost") is None  # left to the full check, which refuses it


def test_device_ids_are_case_insensitive_uuids():
    upper = normalise("device_id", "6D92078A-8246-4BA4-AE5B-76104861E7DC")
    assert upper == normalise("device_id", "6d92078a-8246-4ba4-ae5b-76104861e7dc")


def test_opaque_types_are_trimmed_and_kept_as_written():
    assert normalise("loyalty_id", "  LX-001 ").value == "LX-001"
    assert normalise("crm_id", " C42").key == "crm_id:C42"


@pytest.mark.parametrize(
    "type_,value,reason",
    [
        ("email", "not-an-email", "@-sign"),
        ("phone", "12", "phone"),
        ("phone", "call me", "phone"),
        ("device_id", "bad id!", "device id"),
        ("Email", "a@b.com", "lower_snake_case"),
        ("cookie", "   ", "empty"),
    ],
)
def test_invalid_identifiers_say_why(type_, value, reason):
    with pytest.raises(IdentifierError) as info:
        normalise(type_, value)
    assert reason in str(info.value)


def test_a_good_event_parses_and_normalises():
    parsed = parse_event(GOOD)
    assert parsed.event.ts == "2024-03-01T08:00:00.000000Z"
    assert [i.key for i in parsed.event.identifiers] == ["email:ann@example.com", "cookie:abc"]
    assert not parsed.dropped


def test_an_invalid_identifier_is_dropped_and_the_event_kept():
    raw = {**GOOD, "identifiers": [*GOOD["identifiers"], {"type": "phone", "value": "12"}]}
    parsed = parse_event(raw)
    assert len(parsed.event.identifiers) == 2
    assert [d.type for d in parsed.dropped] == ["phone"]


@pytest.mark.parametrize(
    "change,field,reason",
    [
        ({"event_id": None}, "event_id", "is required"),
        ({"timestamp": "2024-03-01"}, "timestamp", "RFC 3339"),
        ({"timestamp": "2024-03-01T10:00:00"}, "timestamp", "offset"),
        ({"timestamp": "2024-13-01T10:00:00Z"}, "timestamp", "month"),
        ({"identifiers": []}, "identifiers", "at least 1"),
        (
            {"identifiers": [{"type": "email", "value": "nope"}]},
            "identifiers",
            "no valid identifier",
        ),
        ({"identifiers": [{"type": "email"}]}, "identifiers[0].value", "is required"),
        ({"type": "Page View"}, "type", "snake_case"),
        ({"source": 3}, "source", "string"),
        ({"consent": {"email": "yes"}}, "consent.email", "boolean"),
        ({"extra": 1}, "event", "does not define"),
    ],
)
def test_bad_events_name_the_field_and_the_reason(change, field, reason):
    raw = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(EventError) as info:
        parse_event(raw)
    assert info.value.field == field
    assert reason in info.value.reason


def test_the_committed_schema_is_a_valid_json_schema_that_accepts_the_examples():
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(GOOD, schema())
    with open("docs/examples/events.jsonl") as handle:
        for line in handle:
            jsonschema.validate(json.loads(line), schema())
            parse_event(json.loads(line))


def test_an_event_body_keeps_integers_beyond_64_bits():
    event = parse_event(
        raw_event("e1", "2024-03-01T10:00:00Z", "cookie:c1", properties={"n": 2**70, "x": "é"})
    ).event
    assert json.loads(event_body(event))["properties"] == {"n": 2**70, "x": "é"}
