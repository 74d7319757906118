"""Why two customers are not one: pairs under the model, stopped links, limits, reasons."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.matching import (
    Guard,
    MatchModel,
    MatchRecord,
    MatchSettings,
    TermFrequencies,
    clean_traits,
    untrained_model,
)
from app.domain.matching.household import KIN, Kin
from app.domain.matching.model import Health
from app.domain.matching.termfreq import tf_traits
from app.domain.matching.training import Matcher
from app.domain.whynot import MAX_PAIRS, MAX_RECORDS, Reason, why_not

ANNA = {"first_name": "Anna", "last_name": "Jansen", "birth_date": "1980-04-12",
        "email": "anna.jansen@example.com"}
HOME = {"last_name": "Verhoeven", "street": "Kerkstraat", "house_number": "12",
        "postcode": "1017 GC", "city": "Amsterdam"}
MOTHER = {**HOME, "first_name": "Anna", "birth_date": "1970-03-02"}
SON = {**HOME, "first_name": "Daan", "birth_date": "2001-11-20"}


@dataclass(frozen=True)
class Link:
    a: str
    b: str
    status: str
    reason: str = ""


def rec(record_id: str, **traits: object) -> MatchRecord:
    return clean_traits(record_id, traits).record


def matcher(settings: MatchSettings | None = None, usable: bool = True) -> Matcher:
    base = untrained_model(settings=settings)
    model = MatchModel(base.comparisons, base.m, base.u, prior=1e-6, settings=base.settings,
                       kin=Kin(dict.fromkeys(KIN, 0.5)), health=Health(usable))
    return Matcher(model, TermFrequencies(tf_traits(model.comparisons)))


STRICT = MatchSettings(link=0.9, review=0.5, merge=0.999)
LOOSE = MatchSettings(link=1e-9, review=1e-10, merge=2e-9)


def test_one_customer_is_not_two():
    answer = why_not("c1", "c1", ["email:x"], ["email:x"], [], [], [], matcher(), {})
    assert answer.reasons == (Reason.SAME_CUSTOMER,)


def test_the_best_pairs_come_first_with_every_comparison_weighed():
    near = rec("email:a@x.nl", **ANNA)
    far = rec("email:b@x.nl", first_name="Piet", last_name="Bakker")
    other = rec("email:anna.jansen@example.com", **{**ANNA, "first_name": "Ana"})
    answer = why_not("c1", "c2", ["email:a@x.nl", "email:b@x.nl"],
                     ["email:anna.jansen@example.com"], [near, far], [other], [],
                     matcher(STRICT), {})
    assert answer.compared == 2
    assert [(p.record_id, p.candidate_id) for p in answer.pairs] == [
        ("email:a@x.nl", "email:anna.jansen@example.com"),
        ("email:b@x.nl", "email:anna.jansen@example.com")]
    assert answer.pairs[0].score > answer.pairs[1].score
    weights = {c.comparison: c.weight for c in answer.pairs[0].comparisons}
    assert set(weights) == {c.name for c in untrained_model().comparisons}
    # one surname and one birth date: weighed against twins, on what twins do not share
    assert answer.pairs[0].basis == "twins"
    assert weights["first_name"] > 0 and weights["email"] > 0 and weights["last_name"] == 0
    assert answer.thresholds == {"review": 0.5, "link": 0.9, "merge": 0.999}


def test_a_likely_pair_below_the_merge_probability_needs_it():
    answer = why_not("c1", "c2", ["email:a"], ["email:b"], [rec("email:a", **ANNA)],
                     [rec("email:b", **ANNA)], [], matcher(MatchSettings(0.3, 0.1, 1 - 1e-15)),
                     {})
    assert answer.reasons == (Reason.NEEDS_MERGE_SCORE,)


def test_a_pair_that_would_merge_was_never_compared():
    answer = why_not("c1", "c2", ["email:a"], ["email:b"], [rec("email:a", **ANNA)],
                     [rec("email:b", **ANNA)], [], matcher(LOOSE), {})
    assert answer.reasons == (Reason.NOT_COMPARED,)


def test_a_household_is_kept_apart_by_the_guard():
    answer = why_not("c1", "c2", ["email:m"], ["email:s"], [rec("email:m", **MOTHER)],
                     [rec("email:s", **SON)], [], matcher(LOOSE), {})
    assert answer.pairs[0].guard is Guard.HOUSEHOLD
    assert answer.reasons == (Reason.GUARD,)


def test_weak_and_review_pairs_and_missing_parts_are_named():
    weak = why_not("c1", "c2", ["email:a"], ["email:b"], [rec("email:a", **ANNA)],
                   [rec("email:b", first_name="Piet")], [], matcher(STRICT), {})
    assert weak.reasons == (Reason.WEAK_MATCH,)
    assert why_not("c1", "c2", ["email:a"], ["email:b"], [rec("email:a", **ANNA)], [],
                   [], matcher(STRICT), {}).reasons == (Reason.NO_RECORDS,)
    assert why_not("c1", "c2", ["email:a"], ["email:b"], [rec("email:a", **ANNA)],
                   [rec("email:b", **ANNA)], [], None, {}).reasons == (Reason.NO_MODEL,)
    assert why_not("c1", "c2", ["email:a"], ["email:b"], [rec("email:a", **ANNA)],
                   [rec("email:b", **ANNA)], [], matcher(usable=False), {}
                   ).reasons == (Reason.NO_MODEL,)


def test_stopped_links_between_the_two_and_broken_limits_come_first():
    links = [Link("crm:1", "email:b", "banned"), Link("email:a", "email:b", "removed"),
             Link("crm:1", "email:a", "active"), Link("email:b", "phone:+31", "removed"),
             Link("crm:2", "email:a", "rejected", "limit: at most 1 crm per customer")]
    answer = why_not("c1", "c2", ["crm:1", "email:a", "crm:2"], ["email:b", "crm:3"], [], [],
                     links, matcher(STRICT), {"crm": 1, "email": 5})
    assert answer.reasons == (Reason.BANNED, Reason.REMOVED, Reason.LIMIT, Reason.NO_RECORDS)
    assert [(link.a, link.b) for link in answer.stopped] == [("crm:1", "email:b"),
                                                             ("email:a", "email:b")]
    assert [(c.type, c.limit, c.count) for c in answer.conflicts] == [("crm", 1, 3)]
    assert answer.conflicts[0].message == ("limit: at most 1 crm per customer (a merge would "
                                           "join 3)")


def test_the_work_is_bounded_and_the_answer_short():
    many = [rec(f"email:{n}", **ANNA) for n in range(MAX_RECORDS + 10)]
    answer = why_not("c1", "c2", [], [], many, many, [], matcher(STRICT), {})
    assert answer.compared == MAX_RECORDS * MAX_RECORDS
    assert len(answer.pairs) == MAX_PAIRS
