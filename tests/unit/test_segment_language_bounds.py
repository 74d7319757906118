"""The segment language fails only with SegmentError, whatever the text: nesting, numbers
and durations are bounded by the parser, and the policy for new definitions
(check_definition) points at the first condition past its bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.segments import SegmentError, parse_condition, parse_segment
from app.domain.segments.language import (
    MAX_NESTING,
    MAX_NUMBER_DIGITS,
    MAX_WINDOW,
    check_definition,
    render,
)

PIECES = ["(", ")", "NOT", "not", "AND", "and", "OR", "has(email)", "has(", "count(purchase)",
          "count(*", "sum(purchase.amount)", "computed(order_count)", "trait(city)", "where",
          "amount", "source", ">=", ">", "=", "!=", "<>", "1", "-2.5", "9" * 400, "0", "within",
          "0d", "30d", "12h", "0 days", "3 weeks", "99999999999999999999d", '"x"', '"\\q"',
          '"\\ud800"', '"\\u00e9"', '"a\\"b"', "in", "[", "]", ",", "exists", "true", ".", "*",
          "# note\n", "\n", "in_segment(x)", "consent(email)", "'x'", "\u201cx\u201d"]


def parses_or_refuses(text: str) -> None:
    try:
        node = parse_condition(text)
    except SegmentError as exc:
        assert exc.reason and exc.line >= 0
        return
    assert parse_condition(render(node)) == node


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map(" ".join))
def test_any_sequence_of_pieces_parses_or_is_a_segment_error(text):
    parses_or_refuses(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_any_text_parses_or_is_a_segment_error(text):
    parses_or_refuses(text)


@pytest.mark.parametrize("text", [
    "(" * 400 + "has(email)" + ")" * 400,
    "NOT " * 5_000 + "has(email)",
    "count(purchase where " + "(" * 400 + "amount > 1" + ")" * 400 + ") >= 1",
    "count(purchase) > " + "9" * 5_000,
    "count(purchase) > 1." + "9" * 5_000,
    "count(purchase) >= 1 within 0d",
    "count(purchase) >= 1 within " + "9" * 5_000 + "d",
    "count(purchase) >= 1 within 99999999999999999999 weeks",
    'trait(city) = "\\x"',
])
def test_texts_that_broke_the_parser_are_segment_errors(text):
    with pytest.raises(SegmentError) as refused:
        parse_condition(text)
    assert refused.value.line == 1 and refused.value.column >= 1


def test_the_parser_bounds_are_what_their_messages_say():
    parse_condition("NOT " * MAX_NESTING + "has(email)")
    parse_condition("count(purchase) > " + "9" * MAX_NUMBER_DIGITS)
    parse_condition(f"count(purchase) >= 1 within {MAX_WINDOW.days}d")
    for text in ("NOT " * (MAX_NESTING + 1) + "has(email)",
                 "count(purchase) > " + "9" * (MAX_NUMBER_DIGITS + 1),
                 f"count(purchase) >= 1 within {MAX_WINDOW.days + 1}d"):
        with pytest.raises(SegmentError):
            parse_condition(text)


def test_the_policy_points_at_the_first_condition_past_it():
    segment = parse_segment("wide", "has(email) OR\nhas(phone) OR has(crm_id)")
    check_definition(segment, 3, 5)
    with pytest.raises(SegmentError) as refused:
        check_definition(segment, 2, 5)
    assert (refused.value.line, refused.value.column, refused.value.length) == (2, 15, 11)
    assert refused.value.reason.startswith("at most 2 conditions in a definition, not 3")


def test_the_policy_counts_nesting_of_and_or_not_and_of_where_filters():
    deep = parse_segment("deep", "count(purchase where not (amount > 1 or source = \"web\")) "
                                 ">= 1 and has(email)")
    check_definition(deep, 10, 3)  # And, Not, Or
    with pytest.raises(SegmentError, match="nested more than 2 levels"):
        check_definition(deep, 10, 2)


def test_the_policy_refuses_text_that_is_not_text():
    for text in ('trait(city) = "\\ud800"', 'trait(city) in ["a", "\\udfff"]',
                 'has("\\ud83d")', 'count("\\ud83d") >= 1'):
        with pytest.raises(SegmentError, match="surrogate pair"):
            check_definition(parse_segment("odd", text), 10, 10)
    check_definition(parse_segment("fine", 'trait(city) = "\\ud83d\\ude00"'), 10, 10)
