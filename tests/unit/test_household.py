"""Households: pairs at one address are scored against housemates; the guard keeps members
of one household apart whatever their surnames say; twins are the other hard case."""

from __future__ import annotations

import pytest

from app.domain.matching import (
    Decision,
    Guard,
    MatchModel,
    MatchRecord,
    MatchSettings,
    clean_traits,
    guard_for,
    match_new_record,
    untrained_model,
)
from app.domain.matching.decisions import Basis
from app.domain.matching.household import KIN, Kin, same_address

HOME = {"last_name": "Verhoeven", "street": "Kerkstraat", "house_number": "12",
        "postcode": "1017 GC", "city": "Amsterdam"}
MOTHER = {**HOME, "first_name": "Anna", "birth_date": "1970-03-02"}
SON = {**HOME, "first_name": "Daan", "birth_date": "2001-11-20"}
# Permissive thresholds: whatever the score, the guard must hold.
ANYTHING_LINKS = MatchSettings(link=1e-9, review=1e-10, merge=2e-9)


def rec(record_id: str, **traits: object) -> MatchRecord:
    cleaned = clean_traits(record_id, traits)
    assert not cleaned.problems, cleaned.problems
    return cleaned.record


def model(settings: MatchSettings | None = None, home: float = 0.5) -> MatchModel:
    base = untrained_model(settings=settings)
    return MatchModel(base.comparisons, base.m, base.u, prior=1e-6,
                      settings=base.settings, kin=Kin(dict.fromkeys(KIN, home)))


@pytest.mark.parametrize("surname", ["Verhoeven", "Verhoevtn", "d eWit", "Bakker", None])
def test_two_people_of_one_home_are_never_linked_whatever_their_surnames(surname):
    son = rec("s", **{**SON, "last_name": surname})
    mother = rec("m", **MOTHER)
    result = model(ANYTHING_LINKS).match(son, mother)
    assert result.guard is Guard.HOUSEHOLD and result.decision is not Decision.LINK
    assert match_new_record(model(ANYTHING_LINKS), son, [mother], {}).links == ()


@pytest.mark.parametrize("change", [
    {"street": "Kerkstrat"},  # a typo in the street
    {"postcode": "1017 GD"},  # a typo in the postcode
    {"house_number": None, "postcode": None},  # less said, nothing contradicts
])
def test_one_address_is_recognised_through_typos(change):
    assert same_address(rec("a", **MOTHER).traits, rec("b", **{**SON, **change}).traits)
    assert guard_for(rec("a", **MOTHER).traits, rec("b", **{**SON, **change}).traits) \
        is Guard.HOUSEHOLD


@pytest.mark.parametrize("change", [
    {"house_number": "48"},  # another house in the street
    {"postcode": "3512 AB", "city": "Utrecht"},  # a Kerkstraat in another town
    {"street": "Prinsengracht", "postcode": None},
])
def test_another_address_is_not_one_home(change):
    assert not same_address(rec("a", **MOTHER).traits, rec("b", **{**SON, **change}).traits)


def test_a_typo_in_the_first_name_or_the_birth_date_is_not_a_household():
    mother = rec("m", **MOTHER).traits
    assert guard_for(mother, rec("t", **{**MOTHER, "first_name": "Amna"}).traits) is None
    assert guard_for(mother, rec("d", **{**MOTHER, "first_name": "Ingrid",
                                         "birth_date": "1970-03-20"}).traits) is None


def test_twins_are_guarded_and_linked_only_where_housemates_are_rare():
    sister = rec("s", **{**MOTHER, "first_name": "Sophie", "birth_date": "2001-05-05"})
    brother = rec("b", **{**MOTHER, "first_name": "Thijs", "birth_date": "2001-05-05"})
    families = model(MatchSettings(), home=0.5).match(brother, sister)
    assert families.guard is Guard.TWINS and families.decision is Decision.NONE
    # A register where nearly every pair at one address is one person (Febrl replaces
    # first names of duplicates): the same pair is likely one person there.
    register = model(MatchSettings(link=0.9, review=0.5), home=0.9999).match(brother, sister)
    assert register.guard is Guard.TWINS and register.decision is Decision.LINK


def test_twins_without_an_address_are_weighed_against_twins():
    """One surname and one birth date, no address to tell them apart: the first names
    decide, not the surname and the birth date that twins share."""
    sister = rec("s", first_name="Sophie", last_name="Bakker", birth_date="2001-05-05")
    brother = rec("b", first_name="Thijs", last_name="Bakker", birth_date="2001-05-05")
    again = rec("a", first_name="Sophie", last_name="Bakkre", birth_date="2001-05-05")
    m = model(MatchSettings())
    twins = m.match(brother, sister)
    assert twins.basis is Basis.TWINS and twins.guard is Guard.TWINS
    assert twins.decision is Decision.NONE
    assert {c.comparison: c.weight for c in twins.comparisons
            if c.comparison in ("last_name", "birth_date")} == {"last_name": 0.0,
                                                                 "birth_date": 0.0}
    same = m.match(again, sister)
    assert same.basis is Basis.TWINS and same.decision is Decision.LINK
    strangers = model(MatchSettings()).match(
        rec("x", first_name="Thijs", last_name="Bakker", birth_date="2001-05-06"), sister)
    assert strangers.basis is Basis.STRANGERS


def test_at_one_address_only_what_housemates_do_not_share_counts():
    m = model()
    same = m.match(rec("a", **MOTHER), rec("b", **MOTHER))
    assert same.basis is Basis.HOUSEMATES and same.decision is Decision.LINK
    assert {c.comparison: c.weight for c in same.comparisons if c.comparison in HOME} == {
        name: 0.0 for name in ("last_name", "street", "house_number", "postcode", "city")}
    # no first name, another birth date: nothing says this is the mother, not the son
    unnamed = rec("u", **{**HOME, "birth_date": "2001-11-20"})
    assert m.match(unnamed, rec("a", **MOTHER)).decision is Decision.NONE
    # the same e-mail address does
    with_mail = rec("w", **{**HOME, "email": "anna@example.com"})
    mother_mail = rec("mm", **{**MOTHER, "email": "anna@example.com"})
    assert m.match(with_mail, mother_mail).decision is Decision.LINK


def test_a_household_member_does_not_join_through_a_third_record():
    m = model(ANYTHING_LINKS)
    mother = rec("m", **MOTHER)
    mother_again = rec("o", **{**MOTHER, "first_name": "Anne"})  # one typo
    son = rec("s", **SON)
    outcome = match_new_record(m, son, [mother, mother_again], {},
                               customer_of={"m": "c1", "o": "c1"})
    assert outcome.links == ()
