"""How a why is worded, read back and worded again for a reader (segments/why.py)."""

from __future__ import annotations

import pytest

from app.domain.segments.why import NO_DETAIL, parse_why, reword, reword_literals, word


@pytest.mark.parametrize(("line", "condition", "trait", "value"), [
    ('trait(last_name) exists (value: "van Dijk")', "trait(last_name) exists", "last_name",
     "van Dijk"),
    ('NOT trait("last name") = "x" (value: "y")', 'NOT trait("last name") = "x"', "last name",
     "y"),
    ("count(purchase) >= 2 within 30d (value: 3)", "count(purchase) >= 2 within 30d", None, 3),
    ('consent(sms) (value: "no value")', "consent(sms)", None, "no value"),
    ("trait(city) exists (value: no value)", "trait(city) exists", "city", None),
    ('trait(city) = "a (value: b" (value: "a (value: b")', 'trait(city) = "a (value: b"',
     "city", "a (value: b"),
    ("has(email)", "has(email)", None, NO_DETAIL),
    ("merged into c_1", "merged into c_1", None, NO_DETAIL),
])
def test_a_why_line_is_read_back_into_its_condition_and_value(line, condition, trait, value):
    why = parse_why(line)
    assert (why.condition, why.trait, why.value) == (condition, trait, value)
    assert word(why.condition, why.value) == line


def test_a_why_is_worded_again_with_its_value_and_the_traits_literals_shown_another_way():
    def shown(trait, value):
        return f"<{trait}>"

    assert reword('trait(last_name) = "van Dijk" (value: "van Dijk")', shown) == (
        'trait(last_name) = "<last_name>" (value: "<last_name>")')
    assert reword("has(email)", shown) == "has(email)"


def test_only_the_values_a_trait_is_compared_with_are_reworded_and_comments_stay():
    text = ('trait(last_name) in ["van Dijk", "Jansen"] # van Dijk\n'
            'AND count(purchase where note = "x") >= 2 AND NOT trait(zip) = 1016')
    assert reword_literals(text, lambda trait, value: f"{trait}?") == (
        'trait(last_name) in ["last_name?", "last_name?"] # van Dijk\n'
        'AND count(purchase where note = "x") >= 2 AND NOT trait(zip) = "zip?"')
    assert reword_literals("not 'segment language", lambda t, v: v) == "not 'segment language"
