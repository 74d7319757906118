"""Personal data recognised by what a value is (app/domain/personal.py)."""

from __future__ import annotations

import pytest

from app.domain.personal import (
    Kind,
    Known,
    Spellings,
    decode_email,
    find_phones,
    known_values,
    trait_kind,
)


@pytest.mark.parametrize("text", [
    "call 31622223333 now", "tel +31(0)6-2222.3333.", "0031 6 2222 3333", "06-22223333",
    "%2B31%206%202222%203333", "phone:+31612345678", "(06) 2222 3333",
])
def test_phone_numbers_are_found_with_any_separators_or_none(text):
    assert len(find_phones(text)) == 1


@pytest.mark.parametrize("text", [
    "2024-05-05 10:00:00", "2024-05-05T00:00:00.000000Z", "order 100023456", "ts 1714867200",
    "ip 192.168.100.200", "evt-000123456789", "total 1000000", "2024-05-05 2024-06-06",
    "12-04-1988", "amount 1234567.89",
])
def test_dates_times_amounts_and_ids_are_not_phone_numbers(text):
    assert find_phones(text) == []


@pytest.mark.parametrize("spelling", [
    "jan.vandijk@example.com", "JAN.VANDIJK@EXAMPLE.COM", "jan.vandijk%40example.com",
    "jan.vandijk%2540example.com", "jan.vandijk&#64;example.com", "jan.vandijk&#x40;example.com",
    "jan.vandijk\\u0040example.com", "jan.vandijk＠example.com",
    "jan.vandijk (at) example [dot] com",
])
def test_an_email_address_is_read_back_from_any_encoding(spelling):
    assert decode_email(spelling) == "jan.vandijk@example.com"


@pytest.mark.parametrize(("name", "kind"), [
    ("Last_Name", Kind.NAME), ("surname", Kind.NAME), ("lastName", Kind.NAME),
    ("date_of_birth", Kind.BIRTH_DATE), ("birthDate", Kind.BIRTH_DATE), ("dob", Kind.BIRTH_DATE),
    ("zip", Kind.POSTCODE), ("postal_code", Kind.POSTCODE), ("mobile", Kind.PHONE),
    ("emailAddress", Kind.EMAIL), ("house_number", Kind.ADDRESS), ("street", Kind.ADDRESS),
    ("iban", Kind.ID_NUMBER), ("city", None), ("gender", None), ("country", None),
    ("lifetime_value", None),
])
def test_a_trait_name_says_what_it_holds(name, kind):
    assert trait_kind(name) is kind


def test_the_known_values_of_a_customer_come_from_names_and_from_what_values_are():
    found = known_values({"Last_Name": "van Dijk", "zip": "1016 GV", "city": "Amsterdam",
                          "contact": "jan@x.nl", "address": {"street": "Prinsengracht 263"}})
    assert found == {Known(Kind.NAME, "van Dijk"), Known(Kind.POSTCODE, "1016 GV"),
                     Known(Kind.EMAIL, "jan@x.nl"), Known(Kind.ADDRESS, "Prinsengracht 263")}


SPELLINGS = Spellings([
    Known(Kind.NAME, "van Dijk"), Known(Kind.BIRTH_DATE, "1988-04-12"),
    Known(Kind.POSTCODE, "1016 GV"), Known(Kind.PHONE, "+31622223333"),
    Known(Kind.EMAIL, "maartje.vandijk@example.com"), Known(Kind.ADDRESS, "Prinsengracht 263"),
])


@pytest.mark.parametrize(("text", "scrubbed"), [
    ("Mevr. VAN DIJK, or Dijk", "Mevr. [x], or [x]"),
    ("van%20Dijk", "[x]"),
    ("12-04-1988, 19880412, 4/12/1988, 1988.04.12", "[x], [x], [x], [x]"),
    ("1016gv 1016-GV", "[x] [x]"),
    ("06 2222 3333 / +31 (0)6 22 22 33 33 / 622223333 / 0031622223333 / 31622223333",
     "[x] / [x] / [x] / [x] / [x]"),
    ("%2B31%206%202222%203333", "[x]"),
    ("MAARTJE.VANDIJK%40example.com, maartje.vandijk&#64;example.com", "[x], [x]"),
    ("prinsengracht 263, Prinsengracht", "[x], [x]"),
])
def test_every_spelling_of_a_known_value_is_found(text, scrubbed):
    assert SPELLINGS.scrub(text, "[x]") == scrubbed


def test_other_values_are_left_alone():
    text = "anna@x.nl called 06-1234 5678 from Amsterdam on 2024-04-12; de Vries, vandaag"
    assert SPELLINGS.scrub(text, "[x]") == text
