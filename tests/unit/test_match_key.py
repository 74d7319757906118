"""The match key of a scored pair (`+FIRST_NAME+BIRTH_DATE-STREET`), from the weights the
matcher stores on a MATCHED link or a review item."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from app.domain.events import Event
from app.domain.matching.matchkey import match_key, stored_match_key
from app.domain.matching.stream import Match
from tests.unit.test_matching import PERSON_NO_ADDRESS, rec, trained_like_model


def test_agreements_add_plus_disagreements_minus_and_nothing_for_a_missing_value() -> None:
    key = match_key({"first_name": 3.2, "birth_date": 6.1, "street": -2.0, "city": 0.0})
    assert key == "+BIRTH_DATE+FIRST_NAME-STREET"


def test_real_matcher_output_gives_the_key_of_its_comparisons() -> None:
    """A pair scored by a trained model, stored as the matcher stores it."""
    model = trained_like_model()
    result = model.match(rec("a", **PERSON_NO_ADDRESS),
                         rec("b", **{**PERSON_NO_ADDRESS, "birth_date": "1955-01-01"}))
    event = Event("e", "crm_record", datetime(2024, 1, 1, tzinfo=UTC), "crm", ())
    payload = Match("email:a@x", "email:b@x", event, result, "v1").payload
    key = stored_match_key(payload)
    assert key is not None
    assert "+FIRST_NAME" in key and "+LAST_NAME" in key and "-BIRTH_DATE" in key
    assert "POSTCODE" not in key  # no address on either side: it weighed nothing
    assert key.index("-") > key.rindex("+")


def test_no_payload_or_no_weights_gives_no_key() -> None:
    assert stored_match_key(None) is None
    assert stored_match_key({}) is None
    assert stored_match_key({"score": 3.0}) is None
    assert stored_match_key({"weights": "first_name"}) is None
    assert stored_match_key({"weights": {"first_name": True, "city": "x"}}) == ""


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                       st.floats(-20, 20, allow_nan=False)))
def test_every_nonzero_comparison_appears_once_with_its_sign(weights: dict[str, float]) -> None:
    key = match_key(weights)
    for name, w in weights.items():
        if w == 0:
            continue
        sign = "+" if w > 0 else "-"
        assert f"{sign}{name.upper()}" in key
    assert len([c for c in key if c in "+-"]) == sum(1 for w in weights.values() if w != 0)
