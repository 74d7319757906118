"""The fuzzy-matching core: cleaning, comparison levels, the model, EM, blocking, guards."""

from __future__ import annotations

import json
import math
import random
import string
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.matching import (
    HOUSEHOLD,
    LINK,
    OTHER_CUSTOMER,
    REVIEW,
    BlockIndex,
    MatchModel,
    MatchRecord,
    MatchSettings,
    TermFrequencies,
    blocking_keys,
    clean_traits,
    default_comparisons,
    estimate_m,
    match_new_record,
    select_candidates,
    soundex,
    train,
    untrained_model,
)
from app.domain.matching.blocking import BUCKET_LIMIT, CANDIDATE_LIMIT
from app.domain.matching.comparisons import (
    CodeComparison,
    DateComparison,
    NameComparison,
    TextComparison,
    comparison_vector,
)
from app.domain.matching.stream import candidate_ids, needed_candidates
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
    ],
)
def test_bad_traits_are_ignored_with_a_reason(trait, value, reason):
    cleaned = clean_traits("r", {**PERSON, trait: value})
    [problem] = cleaned.problems
    assert problem.trait == trait and reason in problem.reason
    assert trait not in cleaned.record.traits
    assert cleaned.record.get("last_name") == ("jansen" if trait != "last_name" else None)


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
        ({"first_name": "Kynan"}, {"first_name": "Kynzn"}, "jw>=0.8"),
        ({"first_name": "Anna"}, {"first_name": "Peter"}, "else"),
        ({"first_name": "Anna"}, {"last_name": "Anna"}, "null"),
    ],
)
def test_name_levels(a, b, level):
    assert level_of(NameComparison("first_name", other="last_name"), a, b) == level


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
    assert level_of(DateComparison("birth_date"), {"birth_date": a}, {"birth_date": b}) == level


def test_a_digit_swap_across_year_and_month_is_one_edit():
    comparison = DateComparison("birth_date")
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
    assert level_of(CodeComparison("postcode"), {"postcode": a}, {"postcode": b}) == level


def test_text_levels_ignore_spaces_and_see_swapped_address_lines():
    street = TextComparison("street", other="address_line2")
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


# -- the model ----------------------------------------------------------------------------
def test_weights_are_log2_m_over_u_and_null_weighs_nothing():
    model = trained_like_model()
    k = [c.name for c in model.comparisons].index("postcode")
    assert model.weights[k][0] == 0.0
    assert model.weights[k][1] == pytest.approx(math.log2(model.m[k][1] / model.u[k][1]))
    a, b = rec("a", **PERSON), rec("b", first_name="Anna")
    result = model.match(a, b)
    assert {c.comparison: c.level for c in result.comparisons}["postcode"] == "null"
    assert result.weights()["postcode"] == 0.0


def test_agreement_scores_higher_than_disagreement_and_decides_by_thresholds():
    model = trained_like_model()
    same = model.match(rec("a", **PERSON), rec("b", **PERSON))
    typo = model.match(rec("a", **PERSON), rec("b", **{**PERSON, "first_name": "Ana"}))
    other = model.match(
        rec("a", **PERSON),
        rec("b", first_name="Piet", last_name="Bakker", birth_date="1955-01-01", city="Utrecht"),
    )
    assert same.score > typo.score > other.score
    assert same.decision == LINK and other.decision == "none"
    assert 0.0 < other.probability < 0.5 < same.probability <= 1.0


def test_a_common_surname_is_weaker_evidence_than_a_rare_one():
    model = trained_like_model()
    common = {**PERSON, "first_name": None, "last_name": "Jansen"}
    rare = {**PERSON, "first_name": None, "last_name": "Zwolsman"}
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
    model = trained_like_model(MatchSettings(upper=8.0, lower=-1.0, merge=12.0))
    stored = json.loads(json.dumps(model.to_json()))
    again = MatchModel.from_json(stored)
    assert again.settings == model.settings and again.prior == model.prior
    a, b = rec("a", **PERSON), rec("b", **{**PERSON, "street": "Kerkstr", "city": "Amsterdm"})
    assert again.match(a, b, {"last_name": 0.01}) == model.match(a, b, {"last_name": 0.01})


def test_a_stored_model_with_other_levels_is_refused():
    data = trained_like_model().to_json()
    data["comparisons"][0]["levels"] = ["null", "exact", "else"]
    with pytest.raises(ValueError, match="levels"):
        MatchModel.from_json(data)
    with pytest.raises(ValueError, match="format"):
        MatchModel.from_json({**data, "format": 99})


# -- the household guard --------------------------------------------------------------
def test_household_members_are_never_linked_whatever_the_score():
    model = trained_like_model(MatchSettings(upper=-100.0, lower=-200.0, merge=-100.0))
    parent = rec("p", **PERSON)
    child = rec("c", **{**PERSON, "first_name": "Sophie", "birth_date": "2012-09-30"})
    result = model.match(child, parent)
    assert result.guard == HOUSEHOLD and result.decision == REVIEW
    outcome = match_new_record(model, child, [parent], {})
    assert outcome.links == () and [r.guard for r in outcome.reviews] == [HOUSEHOLD]


def test_a_household_member_does_not_join_through_a_third_record():
    model = trained_like_model(MatchSettings(upper=-100.0, lower=-200.0, merge=-100.0))
    parent = rec("p", **PERSON)
    other = rec("o", **{**PERSON, "first_name": "Anne"})  # the parent, one typo
    child = rec("c", **{**PERSON, "first_name": "Sophie", "birth_date": "2012-09-30"})
    outcome = match_new_record(
        model, child, [parent, other], {}, customer_of={"p": "cust1", "o": "cust1"}
    )
    assert outcome.links == ()
    assert {r.guard for r in outcome.reviews} == {HOUSEHOLD}


def test_a_typo_in_the_first_name_is_not_a_household():
    model = trained_like_model()
    a = rec("a", **PERSON)
    b = rec("b", **{**PERSON, "first_name": "Amna", "birth_date": "1971-09-03"})
    assert model.match(a, b).guard is None


# -- the streaming step -------------------------------------------------------------------
def test_a_new_record_joins_one_customer_unless_the_second_link_is_strong_enough():
    settings = MatchSettings(upper=10.0, lower=0.0, merge=1000.0)
    model = trained_like_model(settings)
    new = rec("n", **PERSON)
    a = rec("a", **PERSON)
    b = rec("b", **{**PERSON, "city": "Amsterdm"})
    outcome = match_new_record(model, new, [b, a], {}, customer_of={"a": "c1", "b": "c2"})
    assert [r.candidate_id for r in outcome.links] == ["a"]
    assert [(r.candidate_id, r.guard) for r in outcome.reviews] == [("b", OTHER_CUSTOMER)]
    merging = trained_like_model(MatchSettings(upper=10.0, lower=0.0, merge=10.0))
    outcome = match_new_record(merging, new, [b, a], {}, customer_of={"a": "c1", "b": "c2"})
    assert [r.candidate_id for r in outcome.links] == ["a", "b"]


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


# -- EM -------------------------------------------------------------------------------------
def test_em_recovers_m_and_the_match_share_from_patterns_with_known_parameters():
    rng = random.Random(7)
    m_true = [(1.0, 0.9, 0.07, 0.03), (1.0, 0.8, 0.2)]
    u_true = [(1.0, 0.01, 0.04, 0.95), (1.0, 0.1, 0.9)]
    share = 0.3
    patterns: Counter[tuple[int, ...]] = Counter()
    for _ in range(20_000):
        probs = m_true if rng.random() < share else u_true
        patterns[tuple(rng.choices(range(1, len(p)), weights=p[1:])[0] for p in probs)] += 1
    start = [(1.0, 0.6, 0.2, 0.2), (1.0, 0.6, 0.4)]
    m, prior, converged, iterations, _ = estimate_m(patterns, u_true, start)
    assert converged and iterations < 500
    assert prior == pytest.approx(share, abs=0.02)
    for est, true in zip(m, m_true, strict=True):
        assert est == pytest.approx(true, abs=0.03)


def _name(rng: random.Random) -> str:
    return "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text))
    return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1 :]


def synthetic_people(rng: random.Random, people: int) -> tuple[list[MatchRecord], set]:
    """Originals and corrupted duplicates, with the true pairs."""
    first = [_name(rng) for _ in range(60)]
    last = [_name(rng) for _ in range(150)]
    streets = [_name(rng) + " street" for _ in range(80)]
    records, pairs = [], set()
    for i in range(people):
        traits = {
            "first_name": rng.choice(first),
            "last_name": rng.choice(last),
            "birth_date": f"{rng.randrange(1930, 2005)}-{rng.randrange(1, 13):02d}-"
            f"{rng.randrange(1, 29):02d}",
            "street": rng.choice(streets),
            "house_number": str(rng.randrange(1, 200)),
            "postcode": str(rng.randrange(1000, 1100)),
        }
        records.append(rec(f"p{i}", **traits))
        if rng.random() < 0.5:
            dup = dict(traits)
            for trait in ("first_name", "last_name", "street"):
                if rng.random() < 0.2:
                    dup[trait] = _typo(rng, dup[trait])
            if rng.random() < 0.1:
                dup["birth_date"] = None
            records.append(rec(f"d{i}", **dup))
            pairs.add((f"d{i}", f"p{i}"))
    return records, pairs


def test_training_on_a_labelled_synthetic_sample_recovers_m_and_u_near_the_truth():
    rng = random.Random(11)
    records, truth = synthetic_people(rng, 600)
    comparisons = default_comparisons()
    by_id = {r.record_id: r for r in records}
    index, candidates = BlockIndex(), set()
    for record in records:
        keys = blocking_keys(record)
        candidates |= {tuple(sorted((record.record_id, c))) for c in index.candidates(keys)}
        index.add(record.record_id, keys)
    assert truth <= candidates  # blocking keeps every true pair here
    vectors = [
        comparison_vector(comparisons, by_id[a].traits, by_id[b].traits) for a, b in candidates
    ]
    model, report = train(
        records, vectors, random.Random(3), comparisons=comparisons, u_pairs=30_000
    )
    assert report.converged and report.iterations < 100

    names = [c.name for c in comparisons]
    true_vectors = [
        comparison_vector(comparisons, by_id[a].traits, by_id[b].traits) for a, b in truth
    ]
    for trait in ("first_name", "last_name", "street", "birth_date", "postcode"):
        k = names.index(trait)
        seen = [v[k] for v in true_vectors if v[k] != 0]
        m_exact = seen.count(1) / len(seen)
        assert model.m[k][1] == pytest.approx(m_exact, abs=0.05), trait
    # u of an exact first name: about the chance that two random people share one
    k = names.index("first_name")
    assert model.u[k][1] == pytest.approx(1 / 60, rel=0.5)
    # the estimated prior is near the true share of matching pairs
    all_pairs = len(records) * (len(records) - 1) / 2
    assert report.prior == pytest.approx(len(truth) / all_pairs, rel=0.25)
    # and the trained model separates the labelled pairs
    scores = {p: model.match(by_id[p[0]], by_id[p[1]]).score for p in candidates}
    assert min(scores[p] for p in truth) > max(s for p, s in scores.items() if p not in truth)
