"""A customer whose personal values appear in many spellings, others who stay, and the
spellings to look for: the masking suite (a reader sees none) and the erasure tests
(nothing is left) share them."""

from __future__ import annotations

import re
from typing import Any

from app.bootstrap import Services
from app.domain.steward import Action
from tests.helpers import raw_event

EMAIL = "maartje.vandijk@example.com"
PHONE = "+31622223333"
COOKIE = "ck_mvd_1"
OTHER_COOKIE = "ck_mvd_2"
CRM_ID = "CRM-MVD-77"
NOTE = ("Maartje VAN DIJK called from 06-2222 3333 (also +31(0)6-2222.3333), mail "
        "maartje.vandijk%40example.com, born 12-04-1988, lives at Prinsengracht 263, 1016gv")


def person_events() -> list[dict[str, Any]]:
    """Maartje van Dijk: traits under names a field list would miss, values in properties,
    JSON keys and numbers, an e-mail address in a user_id."""
    return [
        raw_event("mvd-crm", "2024-01-02T10:00:00Z", f"crm_id:{CRM_ID}", f"email:{EMAIL}",
                  "phone:06-2222 3333", type_="crm_record", source="crm",
                  traits={"first_name": "Maartje", "Last_Name": "van Dijk",
                          "date_of_birth": "1988-04-12", "zip": "1016 GV",
                          "street": "Prinsengracht 263", "mobile": "+31 6 2222 3333",
                          "city": "Amsterdam"},
                  consent={"email_marketing": True}),
        raw_event("mvd-web-1", "2024-01-03T10:00:00Z", f"cookie:{COOKIE}", f"email:{EMAIL}",
                  f"user_id:{EMAIL.upper()}", type_="login",
                  traits={"surname": "VAN DIJK", "birthDate": "19880412"},
                  properties={"url": "https://shop.example/account?email=maartje.vandijk%40"
                                     "example.com&tel=31622223333",
                              "contact": {EMAIL.upper(): True, "postalCode": "1016GV"}}),
        raw_event("mvd-pos-1", "2024-01-04T10:00:00Z", f"crm_id:{CRM_ID}", type_="purchase",
                  source="pos", properties={"amount": 80, "note": NOTE,
                                            "phone_number": 31622223333,
                                            "campaign": "winback-maartje.vandijk@example.com"}),
        raw_event("mvd-web-2", "2024-01-05T10:00:00Z", f"cookie:{OTHER_COOKIE}",
                  "phone:0031 6 2222 3333", properties={"url": "/home"}),
        # her e-mail address as a trait's name, a consent purpose and a source
        raw_event("mvd-keys", "2024-01-06T10:00:00Z", f"crm_id:{CRM_ID}", type_="crm_record",
                  source=EMAIL, traits={EMAIL: "yes"}, consent={f"news_{EMAIL}": True}),
    ]


def other_events() -> list[dict[str, Any]]:
    return [
        raw_event("bob-1", "2024-02-01T10:00:00Z", "cookie:ck_bob", "email:bob@example.org",
                  traits={"first_name": "Bob", "last_name": "Bakker", "city": "Delft"}),
        raw_event("bob-2", "2024-02-02T10:00:00Z", "cookie:ck_bob", type_="purchase",
                  properties={"amount": 25}),
        raw_event("carl-1", "2024-03-01T10:00:00Z", "cookie:ck_carl"),
    ]


# Every spelling of her personal values: a reader sees none of them.
TRACES = [re.compile(p, re.IGNORECASE) for p in (
    r"maartje", r"dijk", r"prinsengracht", r"1016\W{0,2}gv",
    r"1988\W?0?4\W?12", r"12\W?0?4\W?1988",
    r"2\D{0,3}2\D{0,3}2\D{0,3}2\D{0,3}3\D{0,3}3\D{0,3}3\D{0,3}3",
)]
# ... and her pseudonymous identifiers (cookies, CRM id), which readers see: after an
# erasure, none of these is left either.
ERASED_TRACES = [*TRACES, *(re.compile(p, re.IGNORECASE) for p in (r"ck_mvd", r"crm-mvd"))]


def traces(text: str, patterns: list[re.Pattern[str]] = TRACES) -> list[str]:
    """The spellings found in `text`, each with what is around it."""
    return [text[max(0, m.start() - 30):m.end() + 30] for p in patterns for m in p.finditer(text)]


def patterns_found(text: str, patterns: list[re.Pattern[str]] = TRACES) -> set[str]:
    return {p.pattern for p in patterns if p.search(text)}


# Segments whose whys hold her values.
SEGMENTS = {
    "personal": 'trait(Last_Name) exists AND trait(date_of_birth) < "2000-01-01"',
    "local": 'trait(zip) exists AND trait(street) exists AND trait(mobile) = "+31 6 2222 3333"',
    "noted": "count(purchase where note exists) >= 1 AND has(user_id)",
}


async def seed_services(services: Services) -> str:
    """Her events and the others', the segments, and steward actions whose reasons spell
    her values (on links of hers and on Bob's cookie); her customer id."""
    for name, text in SEGMENTS.items():
        await services.segments.define(name, text)
    result = await services.ingest.ingest_raw(
        (e["event_id"], e) for e in person_events() + other_events())
    assert not [p for p in result.problems if p.rejected], result.problems
    for action in (
        Action("unlink", "sam", NOTE, (f"cookie:{OTHER_COOKIE}", f"phone:{PHONE}")),
        Action("link", "sam", f"same person: {NOTE}", (f"cookie:{OTHER_COOKIE}",
                                                        f"email:{EMAIL}")),
        Action("quarantine", "sam", f"laptop shared with {NOTE}", ("cookie:ck_bob",)),
    ):
        done = await services.steward.act(action)
        assert done.audit_seq, action
    owners = await services.store.owners([f"email:{EMAIL}", f"cookie:{OTHER_COOKIE}"])
    [cid] = set(owners.values())
    return cid
