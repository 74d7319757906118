"""The fuzzy-matching core: cleaning, comparison levels, the model, EM, blocking, guards."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.matching import (
    BlockIndex,
    Decision,
    Guard,
    Health,
    MatchModel,
    MatchOutcome,
    MatchRecord,
    MatchSettings,
    ModelFormatError,
    TermFrequencies,
    blocking_keys,
    clean_traits,
    match_new_record,
    select_candidates,
    soundex,
    untrained_model,
)
from app.domain.matching.blocking import BUCKET_LIMIT, CANDIDATE_LIMIT
from app.domain.matching.comparisons import (
    Comparator,
    Comparison,
    DayMonthSwappedLevel,
    JaroWinklerLevel,
    MoveComparison,
    OneEditLevel,
    OnePartDiffersLevel,
    code_comparison,
    default_comparisons,
    name_comparison,
    text_comparison,
)
from app.domain.matching.stream import breaks_limit, candidate_ids, needed_candidates
from app.domain.matching.termfreq import tf_traits

PERSON = {
    "first_name": "Anna",
    "last_name": "Jansen",
    "birth_date": "1980-04-12",
    "street": "Kerkstraat",
    "house_number": "12",
    "postcode": "1017 GC",
    "city": "Amsterdam",
}


def rec(record_id: str, **traits: object) -> MatchRecord:
    cleaned = clean_traits(record_id, traits)
    assert not cleaned.problems, cleaned.problems
    return cleaned.record


def level_of(comparison, a: dict, b: dict) -> str:
    return comparison.levels[comparison.level(rec("a", **a).traits, rec("b", **b).traits)]


def trained_like_model(settings: MatchSettings | None = None) -> MatchModel:
    """A model with plausible m and u, so that tests do not depend on an EM run."""
    base = untrained_model(settings=settings)
    return MatchModel(base.comparisons, base.m, base.u, prior=1e-6, settings=base.settings)


DATE = Comparison("birth_date", (OnePartDiffersLevel(), DayMonthSwappedLevel(), OneEditLevel()))


# -- cleaning -------------------------------------------------------------------------
def test_cleaning_folds_case_whitespace_and_diacritics():
    record = rec(
        "r",
        first_name="  Zoë ",
        last_name="Van der  Berg",
        city="Den  Haag",
        postcode="2511 cv",
        birth_date="1980-04-12",
        gender="Female",
    )
    assert record.traits == {
        "first_name": "zoe",
        "last_name": "vanderberg",
        "city": "den haag",
        "postcode": "2511cv",
        "birth_date": "19800412",
        "gender": "f",
    }


@pytest.mark.parametrize(
    "trait,value,reason",
    [
        ("first_name", 42, "expected text, got int"),
        ("last_name", "1234", "at least one letter"),
        ("birth_date", "2023-02-30", "not a calendar date"),
        ("birth_date", "19800412", "expected YYYY-MM-DD"),
        ("birth_date", "1500-01-01", "year outside"),
        ("birth_date", 19800412, "expected a YYYY-MM-DD text"),
        ("postcode", True, "expected text or an integer"),
        ("postcode", ["1017"], "expected text or an integer"),
        ("gender", "purple", "not a known gender code"),
        ("city", "x" * 500, "longer than"),
        ("email", "not an address", "@"),
        ("phone", "call me", "not a phone number"),
    ],
)
def test_bad_traits_are_ignored_with_a_reason(trait, value, reason):
    cleaned = clean_traits("r", {**PERSON, trait: value})
    [problem] = cleaned.problems
    assert problem.trait == trait and reason in problem.reason
    assert trait not in cleaned.record.traits
    assert cleaned.record.get("last_name") == ("jansen" if trait != "last_name" else None)


def test_e_mail_and_phone_are_cleaned_like_identifiers():
    record = rec("r", email=" Anna.Jansen@Example.COM ", phone="06-12345678")
    assert record.traits == {"email": "anna.jansen@example.com", "phone": "+31612345678"}


def test_missing_and_unknown_traits_are_not_problems():
    cleaned = clean_traits("r", {"first_name": None, "last_name": "", "favourite_colour": 3})
    assert cleaned.problems == () and cleaned.record.traits == {}


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*PERSON, "gender", "state", "address_line2", "x"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=30),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        ),
    )
)
def test_cleaning_never_raises(traits):
    cleaned = clean_traits("r", traits)
    assert all(isinstance(v, str) and v for v in cleaned.record.traits.values())


# -- comparison levels ------------------------------------------------------------------
@pytest.mark.parametrize(
    "a,b,level",
    [
        ({"first_name": "Anna", "last_name": "Smit"}, {"first_name": "anna"}, "exact"),
        ({"first_name": "Michaela"}, {"first_name": "Michafla"}, "jw>=0.92"),
        (
            {"first_name": "Jansen", "last_name": "Anna"},
            {"first_name": "Anna", "last_name": "Jansen"},
            "swapped",
        ),
        ({"first_name": "Pieter"}, {"first_name": "Piter"}, "one_edit"),
        ({"first_name": "Kynan"}, {"first_name": "Kynzx"}, "jw>=0.8"),
        ({"first_name": "J."}, {"first_name": "Jan"}, "initial"),
        ({"first_name": "Anna"}, {"first_name": "Peter"}, "else"),
        ({"first_name": "Anna"}, {"last_name": "Anna"}, "null"),
    ],
)
def test_name_levels(a, b, level):
    assert level_of(name_comparison("first_name", "last_name"), a, b) == level


@pytest.mark.parametrize(
    "a,b,level",
    [
        ("1980-04-12", "1980-04-12", "exact"),
        ("1980-04-12", "1981-04-12", "one_part_differs"),
        ("1980-04-12", "1980-04-22", "one_part_differs"),
        ("1980-04-12", "1980-12-04", "day_month_transposed"),
        ("1980-01-12", "1981-10-12", "else"),
        ("1980-10-12", "1975-03-21", "else"),
    ],
)
def test_date_levels(a, b, level):
    assert level_of(DATE, {"birth_date": a}, {"birth_date": b}) == level


def test_a_digit_swap_across_year_and_month_is_one_edit():
    comparison = DATE
    # Not a valid date once swapped, so compare cleaned YYYYMMDD values directly.
    assert (
        comparison.levels[comparison.level({"birth_date": "19910215"}, {"birth_date": "19901215"})]
        == "one_edit"
    )
    assert comparison.level({"birth_date": "19910215"}, {}) == 0


@pytest.mark.parametrize(
    "a,b,level",
    [
        ("4223", "4223", "exact"),
        ("4223", "4232", "one_edit"),
        ("4223", "4224", "one_edit"),
        ("4223", "3321", "else"),
    ],
)
def test_code_levels(a, b, level):
    assert level_of(code_comparison("postcode"), {"postcode": a}, {"postcode": b}) == level


def test_text_levels_ignore_spaces_and_see_swapped_address_lines():
    street = text_comparison("street", "address_line2")
    assert level_of(street, {"street": "Pridhamstreet"}, {"street": "pridham street"}) != "else"
    assert (
        level_of(
            street,
            {"street": "Rosebery Hill", "address_line2": "Ashcroft Crescent"},
            {"street": "Ashcroft Crescent", "address_line2": "Rosebery Hill"},
        )
        == "swapped"
    )
    assert level_of(street, {"street": "Kent Street"}, {"street": "Mill Road"}) == "else"


@pytest.mark.parametrize("a,b,level", [
    ("anna.jansen@example.com", "anna.jansen@example.com", "exact"),
    ("anna.jansen@example.com", "anna.jamsen@example.com", "letter_slip"),
    ("jan@gmail.example", "jan@gmial.example", "letter_slip"),
    # the addresses of two people with one name: a digit, a dot, an initial apart
    ("pieter72@example.org", "pieter82@example.org", "else"),
    ("sem.vandijk@example.com", "semvandijk@example.com", "else"),
    ("r.bos@example.com", "j.bos@example.com", "else"),
    # one local part at two providers: as often two people of one name as one person
    ("mark.blom12@hotmail.example", "mark.blom12@outlook.example", "else"),
])
def test_e_mail_levels_count_a_typo_not_an_address_made_of_the_same_name(a, b, level):
    email = next(c for c in default_comparisons() if c.trait == "email")
    assert level_of(email, {"email": a}, {"email": b}) == level


def test_an_e_mail_slip_that_the_names_explain_is_no_slip():
    email = next(c for c in default_comparisons() if c.trait == "email")
    eva = {"first_name": "Eva", "email": "eva.jansen@example.com"}
    other = {"first_name": "Eva", "email": "eva.janssen@example.com"}
    assert level_of(email, eva, other) == "letter_slip"
    assert level_of(email, {**eva, "last_name": "Jansen"},
                    {**other, "last_name": "Janssen"}) == "else"


def test_comparisons_are_composed_of_levels_and_round_trip_through_json():
    for comparison in default_comparisons():
        assert Comparison.from_json(comparison.to_json()) == comparison
        if isinstance(comparison, MoveComparison):
            assert comparison.levels == ("null", "stayed", "same_town", "elsewhere")
            continue
        assert comparison.levels[:2] == ("null", "exact") and comparison.levels[-1] == "else"
    first = default_comparisons()[0]
    assert first.levels == ("null", "exact", "jw>=0.92", "one_edit", "swapped", "initial",
                            "jw>=0.8", "else")
    mine = Comparison("nickname", (JaroWinklerLevel(0.9),))
    assert mine.levels[mine.level({"nickname": "bobby"}, {"nickname": "bobbi"})] == "jw>=0.9"


# -- the model ----------------------------------------------------------------------------
# No address: these pairs are scored against strangers (at one address, against housemates:
# see test_household.py).
PERSON_NO_ADDRESS = {"first_name": "Anna", "last_name": "Jansen", "birth_date": "1980-04-12",
                     "email": "anna.jansen@example.com"}


def test_weights_are_log2_m_over_u_and_null_weighs_nothing():
    model = trained_like_model()
    k = [c.name for c in model.comparisons].index("postcode")
    assert model.weights[k][0] == 0.0
    assert model.weights[k][1] == pytest.approx(math.log2(model.m[k][1] / model.u[k][1]))
    a, b = rec("a", **PERSON), rec("b", first_name="Anna")
    result = model.match(a, b)
    assert {c.comparison: c.level for c in result.comparisons}["postcode"] == "null"
    assert result.weights()["postcode"] == 0.0


def test_agreement_scores_higher_than_disagreement_and_decides_on_the_probability():
    model = trained_like_model()
    same = model.match(rec("a", **PERSON_NO_ADDRESS), rec("b", **PERSON_NO_ADDRESS))
    typo = model.match(rec("a", **PERSON_NO_ADDRESS),
                       rec("b", **{**PERSON_NO_ADDRESS, "first_name": "Ana"}))
    other = model.match(
        rec("a", **PERSON_NO_ADDRESS),
        rec("b", first_name="Piet", last_name="Bakker", birth_date="1955-01-01"),
    )
    assert same.score > typo.score > other.score
    assert same.decision is Decision.LINK and other.decision is Decision.NONE
    assert 0.0 < other.probability < 0.5 < same.probability <= 1.0
    assert same.probability == pytest.approx(2**same.score / (1 + 2**same.score))


def test_the_same_score_decides_differently_under_another_prior():
    """Decisions are taken on the probability: a rarer match needs more evidence."""
    base = trained_like_model()
    a, b = rec("a", **PERSON_NO_ADDRESS), rec("b", first_name="Anna", last_name="Jansen")
    common = MatchModel(base.comparisons, base.m, base.u, prior=0.05)
    rare = MatchModel(base.comparisons, base.m, base.u, prior=1e-9)
    assert common.match(a, b).decision is Decision.LINK
    assert rare.match(a, b).decision is Decision.NONE
    assert common.match(a, b).weights() == rare.match(a, b).weights()


def test_a_common_surname_is_weaker_evidence_than_a_rare_one():
    model = trained_like_model()
    # (no birth date: one surname and one birth date are weighed against twins)
    common = {**PERSON_NO_ADDRESS, "first_name": None, "last_name": "Jansen", "birth_date": None}
    rare = {**PERSON_NO_ADDRESS, "first_name": None, "last_name": "Zwolsman", "birth_date": None}
    tf = TermFrequencies(tf_traits(model.comparisons))
    for i in range(1000):
        tf.add(rec(f"s{i}", last_name="Jansen" if i % 10 == 0 else f"name{i}"))
    tf.add(rec("z", last_name="Zwolsman"))
    a_common, a_rare = rec("a", **common), rec("c", **rare)
    w_common = model.match(a_common, rec("b", **common), tf.for_record(a_common))
    w_rare = model.match(a_rare, rec("d", **rare), tf.for_record(a_rare))
    assert w_common.weights()["last_name"] < w_rare.weights()["last_name"]
    assert w_common.score < w_rare.score
    untouched = model.match(a_common, rec("b", **common), {})
    assert w_common.weights()["last_name"] != untouched.weights()["last_name"]


def test_model_json_round_trip_keeps_every_score():
    settings = MatchSettings(link=0.9, review=0.5, merge=0.99)
    model = trained_like_model(settings)
    stored = json.loads(json.dumps(model.to_json()))
    again = MatchModel.from_json(stored, settings)
    assert again.settings == model.settings and again.prior == model.prior
    assert again.kin == model.kin and again.health == model.health
    for x, y in ((PERSON, {**PERSON, "street": "Kerkstr", "city": "Amsterdm"}),
                 (PERSON_NO_ADDRESS, {**PERSON_NO_ADDRESS, "first_name": "Ana"})):
        a, b = rec("a", **x), rec("b", **y)
        assert again.match(a, b, {"last_name": 0.01}) == model.match(a, b, {"last_name": 0.01})


def test_a_stored_model_with_other_levels_or_an_old_format_is_refused_with_what_to_do():
    data = trained_like_model().to_json()
    data["comparisons"][0]["level_names"] = ["null", "exact", "else"]
    with pytest.raises(ModelFormatError, match="levels"):
        MatchModel.from_json(data)
    with pytest.raises(ModelFormatError, match="idgraph matcher train"):
        MatchModel.from_json({**data, "format": 1})


def test_thresholds_are_probabilities_in_order():
    with pytest.raises(ValueError, match="between 0 and 1"):
        MatchSettings(link=10.0)
    with pytest.raises(ValueError, match="review <= link <= merge"):
        MatchSettings(link=0.9, review=0.95)


# -- the streaming step -------------------------------------------------------------------
def test_a_new_record_joins_one_customer_unless_the_second_link_is_strong_enough():
    model = trained_like_model(MatchSettings(link=0.3, review=0.1, merge=0.999))
    new = rec("n", **PERSON_NO_ADDRESS)
    a = rec("a", **PERSON_NO_ADDRESS)
    b = rec("b", **{**PERSON_NO_ADDRESS, "email": None})
    outcome = match_new_record(model, new, [b, a], {}, customer_of={"a": "c1", "b": "c2"})
    assert [r.candidate_id for r in outcome.links] == ["a"]
    assert [(r.candidate_id, r.guard) for r in outcome.reviews] == [("b", Guard.OTHER_CUSTOMER)]
    merging = trained_like_model(MatchSettings(link=0.3, review=0.1, merge=0.35))
    outcome = match_new_record(merging, new, [b, a], {}, customer_of={"a": "c1", "b": "c2"})
    assert [r.candidate_id for r in outcome.links] == ["a", "b"]


def test_reviews_are_one_per_customer_and_none_for_a_customer_the_record_joins():
    model = trained_like_model(MatchSettings(link=0.999999, review=0.5, merge=0.9999999))
    new = rec("n", **PERSON_NO_ADDRESS)
    near = [rec(f"r{i}", **{**PERSON_NO_ADDRESS, "birth_date": f"1980-04-{20 + i}"})
            for i in range(3)]
    customers = {"r0": "c1", "r1": "c1", "r2": "c2"}
    outcome = match_new_record(model, new, near, {}, customer_of=customers)
    assert outcome.links == ()
    assert sorted(customers[r.candidate_id] for r in outcome.reviews) == ["c1", "c2"]
    # a record already in c1 is not queued against c1 again
    outcome = match_new_record(model, new, near, {}, customer_of=customers, own="c1")
    assert [customers[r.candidate_id] for r in outcome.reviews] == ["c2"]


def test_a_model_that_cannot_tell_people_apart_decides_nothing():
    base = trained_like_model()
    inert = MatchModel(base.comparisons, base.m, base.u, base.prior,
                       health=Health(False, ("only last_name tells the records apart",)))
    a, b = rec("a", **PERSON_NO_ADDRESS), rec("b", **PERSON_NO_ADDRESS)
    assert inert.match(a, b).decision is Decision.NONE
    assert match_new_record(inert, a, [b], {}) == MatchOutcome(scored=1)


def test_a_batch_never_queues_a_pair_the_limits_forbid():
    """Two CRM records that look alike: with crm_id limited to 1 accepting the pair could
    only fail, so it is not queued; without the limit it is."""
    from app.domain.events import parse_event
    from app.domain.matching.stream import match_batch, pending_records
    from app.domain.matching.training import Matcher
    from app.domain.rules import Rules
    from tests.helpers import raw_event

    rules = Rules.default()
    events = [parse_event(raw_event(f"e{n}", f"2024-01-0{n + 1}T00:00:00Z", f"crm_id:C-{n}",
                                    type_="crm_record", source="crm",
                                    traits=PERSON_NO_ADDRESS)).event for n in range(2)]
    pending = pending_records(events, rules)
    unsure = trained_like_model(MatchSettings(link=1 - 1e-12, review=0.5, merge=1 - 1e-13))
    frequencies = TermFrequencies(tf_traits(unsure.comparisons))
    limited = Matcher(unsure, frequencies, limits={"crm_id": 1})
    assert [m.review for m in match_batch(pending, limited, {}, {}, {}).matches] == []
    free = Matcher(unsure, frequencies)
    assert [(m.a, m.b, m.review) for m in match_batch(pending, free, {}, {}, {}).matches] == [
        ("crm_id:C-1", "crm_id:C-0", True)]


def test_a_review_pair_whose_own_identifiers_break_a_limit_is_named():
    assert breaks_limit("crm_id:1", "crm_id:2", {"crm_id": 1}) == (
        "limit: at most 1 crm_id per customer (this link would join 2)")
    assert breaks_limit("crm_id:1", "email:a@b.c", {"crm_id": 1}) is None
    assert breaks_limit("crm_id:1", "crm_id:2", {"crm_id": 2}) is None


# -- blocking -----------------------------------------------------------------------------
def test_soundex():
    assert [soundex(n) for n in ("robert", "rupert", "ashcraft", "tymczak", "pfister", "")] == [
        "R163",
        "R163",
        "A261",
        "T522",
        "P236",
        "",
    ]


def test_exchanged_names_and_address_lines_share_keys():
    a = rec("a", **{**PERSON, "address_line2": "Achterom"})
    b = rec(
        "b",
        **{
            **PERSON,
            "first_name": "Jansen",
            "last_name": "Anna",
            "street": "Achterom",
            "address_line2": "Kerkstraat",
            "birth_date": None,
        },
    )
    shared = {k.split(":")[0] for k in set(blocking_keys(a)) & set(blocking_keys(b))}
    assert {"names", "addr"} <= shared


def shared_rules(a: MatchRecord, b: MatchRecord) -> set[str]:
    return {k.split(":")[0] for k in set(blocking_keys(a)) & set(blocking_keys(b))}


def test_a_mistyped_surname_and_exchanged_day_and_month_still_share_a_key():
    a = rec("a", first_name="henk", last_name="debruijn", birth_date="1984-08-12")
    b = rec("b", first_name="henk", last_name="debruyn", birth_date="1984-12-08")
    assert shared_rules(a, b) == {"fn_yob"}


def test_a_missing_surname_and_a_mistyped_birth_year_still_share_a_key():
    a = rec("a", first_name="maria", last_name="bakker", birth_date="1955-06-09")
    b = rec("b", first_name="maria", birth_date="1954-06-09")
    assert shared_rules(a, b) == {"fn_bday"}


def test_e_mail_addresses_that_sound_alike_share_a_key():
    a = rec("a", first_name="eva", last_name="dejong", email="evadejohg@kpn.example")
    b = rec("b", first_name="eva", email="eva.dejong@kpn.example")
    assert shared_rules(a, b) == {"email_sound"}
    short = rec("c", email="ab1@kpn.example")
    assert not any(k.startswith("email_sound:") for k in blocking_keys(short))


def test_a_record_without_traits_has_no_keys():
    assert blocking_keys(rec("a")) == ()


def test_candidates_are_bounded_and_the_ones_sharing_most_keys_come_first():
    buckets = [[f"x{i}" for i in range(40)], ["best", "y1"], ["best", "y2"]]
    assert select_candidates(buckets, limit=3) == ["best", "x0", "x1"]
    assert len(select_candidates(buckets, limit=10)) == 10
    index = BlockIndex()
    for i in range(500):
        index.add(f"r{i}", ["k"])
    assert index.bucket("k", limit=5) == ["r499", "r498", "r497", "r496", "r495"]
    assert len(index.candidates(["k", "other"], bucket_limit=100, limit=30)) == 30
    assert index.bucket("missing") == []


def test_a_batch_record_is_compared_with_the_earlier_batch_records_before_stored_ones():
    stored = {"k": [f"s{i}" for i in range(BUCKET_LIMIT)]}
    queries = [("a", ("k",)), ("b", ("k", "other")), ("c", ())]
    first, second, third = candidate_ids(queries, stored)
    assert first == stored["k"][:CANDIDATE_LIMIT]
    assert second == ["a", *stored["k"][:CANDIDATE_LIMIT - 1]]
    assert third == []
    assert needed_candidates(queries, stored) == {"a", *stored["k"][:CANDIDATE_LIMIT]}




HOME = {"street": "kerkstraat", "house_number": "12", "postcode": "3512ab", "city": "utrecht"}


def move_level(a: dict[str, str], b: dict[str, str]) -> str:
    comparator = Comparator(default_comparisons())
    levels = comparator.levels(rec("a", **a).traits, rec("b", **b).traits)
    return comparator.comparisons[-1].levels[levels[-1]]


def test_a_move_is_every_address_detail_changed_and_the_town_says_how_far():
    elsewhere = {"street": "dorpsweg", "house_number": "3", "postcode": "9711xx",
                 "city": "groningen"}
    assert move_level(HOME, elsewhere) == "elsewhere"
    assert move_level(HOME, {**elsewhere, "city": "utrecht"}) == "same_town"
    assert move_level(HOME, {**elsewhere, "city": "utrecth"}) == "same_town"
    # one detail still agrees (or is a typo away): the parts weigh what they say
    assert move_level(HOME, {**elsewhere, "house_number": "12"}) == "stayed"
    assert move_level(HOME, {**HOME, "street": "kerkstrat"}) == "stayed"
    # no detail on both sides: nothing to say
    assert move_level(HOME, {"city": "groningen"}) == "null"
    assert move_level({"first_name": "anna"}, HOME) == "null"


def test_a_move_weighs_once_where_its_parts_would_weigh_three_times():
    comparisons = default_comparisons()
    model = untrained_model(comparisons)
    names = {"first_name": "anna", "last_name": "jansen", "birth_date": "1980-01-01"}
    a, b = rec("a", **names, **HOME), rec("b", **names, street="dorpsweg", house_number="3",
                                        postcode="9711xx", city="groningen")
    result = model.match(a, b)
    outcome = {c.comparison: c.level for c in result.comparisons}
    assert outcome["address"] == "elsewhere"
    assert all(outcome[t] == "null" for t in ("street", "house_number", "postcode", "city"))
    move = len(comparisons) - 1
    weights = dict(zip((c.name for c in comparisons), result.level_weights, strict=True))
    assert weights["address"] == pytest.approx(model.weights[move][3])
    # the parts' own levels, weighed one by one, say far more against the pair
    parts = Comparator(comparisons).levels(a.traits, b.traits)
    one_by_one = sum(model.weights[k][parts[k]] for k, c in enumerate(comparisons)
                     if c.trait in ("street", "house_number", "postcode", "city"))
    assert one_by_one < 2 * weights["address"] < 0
    # at one address the move is silent and the parts count
    same = model.match(a, rec("c", **names, **HOME))
    assert {c.comparison: c.level for c in same.comparisons}["address"] == "stayed"
    assert dict(zip((c.name for c in comparisons), same.level_weights, strict=True)
                )["address"] == 0.0
