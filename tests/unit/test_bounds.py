"""The bounds on incoming values (app/domain/bounds.py): every value out of bounds is
rejected with the field that holds it and the reason, and nothing out of bounds can make
the decoder or the event parser fail in any other way."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import bounds
from app.domain.events import EventError, parse_event
from tests.helpers import raw_event
from tests.loaders.hostile import POISONS, Poison, good, nested


def rejection(raw: object) -> EventError:
    with pytest.raises(EventError) as info:
        parse_event(raw)
    return info.value


def decoded_rejection(text: bytes) -> tuple[str, str]:
    """(field, reason) of a JSON line's rejection, as the decoder and the parser give it."""
    try:
        raw = bounds.decode(text)
    except (bounds.NotJSON, bounds.OutOfBounds) as exc:
        return getattr(exc, "field", "") or "message", exc.reason
    error = rejection(raw)
    return error.field, error.reason


@pytest.mark.parametrize("poison", POISONS, ids=lambda p: p.name)
def test_each_poisonous_value_is_rejected_naming_its_field(poison: Poison):
    field, reason = decoded_rejection(poison.make("e1"))
    assert field.startswith(poison.field), (field, reason)
    assert poison.reason in reason


@pytest.mark.parametrize("value,reason", [
    (float("nan"), "NaN is not a finite number"),
    (float("inf"), "Infinity is not a finite number"),
    (float("-inf"), "-Infinity is not a finite number"),
    (10**400, "a number of 401 digits is out of range"),
    (-(10**38), "a number of 39 digits is out of range"),
    (1e39, "1e+39 is out of range"),
])
def test_numbers_a_caller_passes_as_values_are_bounded_too(value, reason):
    """ingestEvents hands over Python values: NaN and infinities were stored as null."""
    error = rejection(raw_event("e1", "2024-05-01T00:00:00Z", "cookie:a",
                                properties={"total": {"amount": value}}))
    assert error.field == "properties.total.amount"
    assert error.reason.startswith(reason)


@pytest.mark.parametrize("text", ["1900-01-01T00:00:00Z", "1900-01-01T01:00:00+01:00",
                                  "2999-12-31T23:59:59.999999Z", "2999-12-31T20:00:00-03:59"])
def test_the_first_and_last_moments_in_range_are_accepted(text):
    assert parse_event(raw_event("e1", text, "cookie:a")).event.timestamp.year in (1900, 2999)


@pytest.mark.parametrize("text", ["1900-01-01T00:30:00+01:00", "2999-12-31T23:00:00-01:00",
                                  "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00"])
def test_a_moment_is_checked_after_it_is_moved_to_utc(text):
    error = rejection(raw_event("e1", text, "cookie:a"))
    assert error.field == "timestamp"
    assert error.reason == (f"{text} is outside the accepted range 1900-01-01 to 2999-12-31 "
                            "(in UTC)")


def test_nesting_up_to_the_limit_is_kept_and_one_level_more_is_rejected_where_it_is():
    at_limit = bounds.decode(json.dumps(good("e1", properties={"a": "@"})).replace(
        '"@"', nested(bounds.MAX_DEPTH - 2)))
    assert parse_event(at_limit).event.properties["a"]
    too_deep = bounds.decode(json.dumps(good("e1", properties={"a": "@"})).replace(
        '"@"', nested(bounds.MAX_DEPTH - 1)))
    error = rejection(too_deep)
    assert error.field == "properties.a" + "[0]" * (bounds.MAX_DEPTH - 2)
    assert error.reason == "objects and arrays nest more than 32 levels deep"


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_text_nested_deeper_than_the_stack_is_refused_without_exhausting_it(depth):
    with pytest.raises(bounds.OutOfBounds, match="nest more than 32"):
        bounds.decode(b'{"a": ' + nested(depth).encode() + b"}")


@pytest.mark.parametrize("change,field,reason", [
    ({"traits": {"note": "x" * bounds.MAX_STRING}}, None, None),
    ({"traits": {"note": "x" * (bounds.MAX_STRING + 1)}}, "traits.note",
     "is 65,537 characters long; at most 65,536"),
    ({"traits": {"k" * 257: 1}}, 'traits["' + "k" * 40 + '..."]',
     "is 257 characters long; at most 256"),
    ({"properties": {"list": [0] * (bounds.MAX_VALUES - 20)}}, None, None),
    ({"properties": {"list": [0] * bounds.MAX_VALUES}}, "event",
     "holds more than 10,000 values (object members, array items)"),
    ({"properties": {f"k{i}": "x" * 60_000 for i in range(17)}}, "event",
     "holds more than 1,000,000 characters of text"),
])
def test_strings_and_the_size_of_an_event_are_bounded(change, field, reason):
    raw = {**good("e1"), **change}
    if field is None:
        parse_event(raw)
        return
    error = rejection(raw)
    assert (error.field, error.reason) == (field, reason)


@pytest.mark.parametrize("key,field", [
    ("a.b", 'properties["a.b"]'),
    ("\ud800", 'properties["\\ud800"]'),
    ("naïve\0", 'properties["na\\u00efve\\u0000"]'),
])
def test_a_field_name_is_safe_to_show_and_store_whatever_the_key(key, field):
    error = rejection(good("e1", properties={key: {"x": float("nan")}}))
    assert error.field in (field, field + ".x")
    assert error.field.isascii()


def test_a_problem_never_quotes_an_event_id_that_is_out_of_bounds():
    assert bounds.is_safe_text("e-1") and not bounds.is_safe_text("e\ud8001")
    assert not bounds.is_safe_text("e\x001") and not bounds.is_safe_text(3)


_BOUNDED_NUMBER = (st.integers(-(10**38) + 1, 10**38 - 1)
                   | st.floats(-1e37, 1e37, allow_nan=False, allow_infinity=False))
_BOUNDED_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"))
_JSON = st.recursive(
    st.none() | st.booleans() | _BOUNDED_NUMBER | _BOUNDED_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_BOUNDED_TEXT, inner,
                                                                max_size=4),
    max_leaves=12,
)
_ANY_NUMBER = st.integers() | st.floats()


def _same(a: object, b: object) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=300)
@given(_JSON, st.booleans())
def test_within_bounds_the_decoder_reads_what_the_standard_library_reads(value, as_bytes):
    """Integers past 64 bits included (orjson would read them as floats)."""
    text = json.dumps(value)
    decoded = bounds.decode(text.encode() if as_bytes else text)
    assert _same(decoded, json.loads(text))
    bounds.check(decoded)


@settings(max_examples=300)
@given(_ANY_NUMBER)
def test_any_number_is_either_read_exactly_or_refused_by_the_check(number):
    text = json.dumps({"n": number})
    decoded = bounds.decode(text)
    finite = bounds.finite(number)
    if finite is not None and len(json.dumps(number)) <= bounds.MAX_NUMBER_TEXT:
        assert _same(decoded, {"n": number})
        bounds.check(decoded)
    else:
        with pytest.raises(bounds.OutOfBounds) as info:
            bounds.check(decoded)
        assert info.value.field == "n"
        assert "number" in info.value.reason


@pytest.mark.parametrize("value,expected", [
    (12, 12.0), (-3.5, -3.5), (10**38 - 1, float(10**38 - 1)), (10**38, None),
    (10**400, None), (1e38, 1e38), (1e39, None), (math.nan, None), (math.inf, None),
    (True, None), ("12", None), (None, None),
])
def test_finite_gives_a_float_only_for_a_number_within_bounds(value, expected):
    assert bounds.finite(value) == expected
