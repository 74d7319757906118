"""Segment definitions the language cannot or will not take come back as InvalidDefinition
pointing at the fault, never as "internal error", and store nothing. SQLite only: the
language does not depend on the store."""

from __future__ import annotations

import json

import pytest

from tests.api.data import seed
from tests.api.test_segments_api import DEFINE, define

MAX_CONDITIONS = 6
MAX_NESTING = 3


@pytest.fixture
async def api(sqlite_store, api_with):
    async with api_with(sqlite_store, api_max_definition_conditions=MAX_CONDITIONS,
                        api_max_definition_nesting=MAX_NESTING,
                        api_max_definition_chars=20_000) as served:
        await seed(served.services)
        yield served


def conditions(n: int) -> str:
    return " OR ".join(f"trait(t{i}) exists" for i in range(n))


BAD = [
    ("(" * 400 + "has(email)" + ")" * 400,
     "nested more than 200 levels deep (parentheses and NOT)", (1, 201)),
    ("NOT " * 1_000 + "has(email)", "nested more than 200 levels deep", (1, 801)),
    ("NOT " * 4 + "has(email)", f"conditions nested more than {MAX_NESTING} levels deep",
     (1, 17)),
    ("has(email) AND (has(phone) OR (has(crm_id) AND NOT has(cookie)))",
     f"conditions nested more than {MAX_NESTING} levels deep", (1, 52)),  # has(cookie)
    ("count(purchase) > " + "9" * 5_000, "a number has at most 300 digits", (1, 19)),
    ("trait(score) in [1, " + "1" * 400 + "]", "a number has at most 300 digits", (1, 21)),
    ("count(purchase) >= 1 within 0d", "a duration is a whole number of hours, days or weeks, "
     "from 1h up to 365,000d", (1, 29)),
    ("count(purchase) >= 1 within 0 days", "a duration is a whole number", (1, 29)),
    ("count(purchase) >= 1 within 99999999999999999999d", "a duration is a whole number",
     (1, 29)),
    ("count(purchase) >= 1 within " + "9" * 5_000 + "w", "a duration is a whole number",
     (1, 29)),
    ('trait(city) = "Amster\\qdam"', "not a valid text value (invalid \\escape)", (1, 15)),
    ('trait(city) = "\\ud800"', "U+D800 is half of a UTF-16 surrogate pair", (1, 1)),
    ('has("\\udc00")', "U+DC00 is half of a UTF-16 surrogate pair", (1, 1)),
    (conditions(MAX_CONDITIONS + 3),
     f"at most {MAX_CONDITIONS} conditions in a definition, not {MAX_CONDITIONS + 3}",
     (1, 1 + MAX_CONDITIONS * len("trait(t0) exists OR "))),
    # a count counts, and so does each comparison of its where filter
    ("count(purchase where " + " or ".join(f"amount = {i}" for i in range(MAX_CONDITIONS))
     + ") >= 1", f"at most {MAX_CONDITIONS} conditions in a definition, not "
     f"{MAX_CONDITIONS + 1}", (1, 22 + (MAX_CONDITIONS - 1) * len("amount = 0 or "))),
]


@pytest.mark.parametrize("text,reason,place", BAD)
async def test_a_definition_out_of_bounds_is_an_invalid_definition(api, text, reason, place):
    result = await define(api, "bounded", text)
    assert result["__typename"] == "InvalidDefinition", result
    assert result["code"] == "INVALID_DEFINITION"
    assert result["reason"].startswith(reason), result["reason"]
    if place is not None:
        assert (result["line"], result["column"]) == place, result
    assert result["segmentId"] == "bounded"
    assert "internal error" not in json.dumps(result)
    segments = await api.run("admin", "{ segments { id } }")
    assert segments == {"segments": []}  # nothing stored


async def test_a_definition_at_the_bounds_is_defined(api):
    text = conditions(MAX_CONDITIONS - 2) + " OR (has(email) AND NOT has(phone))"  # Or And Not
    result = await define(api, "bounded", text)
    assert result["__typename"] == "SegmentDefined", result
    for window in ("1h", "365000d", "52 weeks"):
        assert (await define(api, f"w_{window.replace(' ', '_')}",
                             f"count(purchase) >= 1 within {window}"))["__typename"] \
            == "SegmentDefined"


async def test_a_definition_over_the_length_limit_is_an_invalid_input(api):
    result = (await api.run("admin", DEFINE, id="long", definition="has(email) " * 2_000))["r"]
    assert result["__typename"] == "InvalidInput" and result["field"] == "definition"
    assert result["message"] == "definition: at most 20,000 characters, not 22,000"


async def test_a_stored_definition_past_todays_policy_still_loads(api):
    """The policy bounds new definitions: one stored before it (or through the command
    line) keeps working, and so does every write that evaluates segments."""
    from app.stores.base import SegmentRecord

    wide = conditions(MAX_CONDITIONS + 4)
    await api.services.store.save_segment(SegmentRecord("wide", wide, "2024-01-01T00:00:00Z",
                                                        "2024-01-01T00:00:00Z"))
    defined = await define(api, "narrow", "has(email)")
    assert defined["__typename"] == "SegmentDefined", defined
    found = await api.run("admin", "{ segments { id definition } }")
    assert {s["id"] for s in found["segments"]} == {"wide", "narrow"}
