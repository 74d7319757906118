"""Blocking: the keys under which a record is filed, and a bounded candidate set.

A new record is compared only with stored records that share at least one of its
blocking keys. Several rules are unioned, each on different traits, so that a true pair
still shares a key when some of its traits are mistyped or missing. Each rule combines
two traits so its buckets stay small.

The store keeps (key, record) rows. For a new record it reads, per key, the newest
`BUCKET_LIMIT` records, and `select_candidates` keeps the `CANDIDATE_LIMIT` that share
the most keys with it: a bounded amount of work per record, however large the store.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from app.domain.matching.comparisons import Traits
from app.domain.matching.records import MatchRecord

BUCKET_LIMIT = 100
CANDIDATE_LIMIT = 50

_SOUNDEX_CODES = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556")
_SOUNDEX_SKIP = frozenset("hw")


@lru_cache(maxsize=1 << 16)
def soundex(text: str) -> str:
    """American Soundex of the letters of `text` ("" when it has none)."""
    letters = [c for c in text if "a" <= c <= "z"]
    if not letters:
        return ""
    code = letters[0].upper()
    previous = letters[0].translate(_SOUNDEX_CODES)
    for c in letters[1:]:
        if c in _SOUNDEX_SKIP:
            continue
        digit = c.translate(_SOUNDEX_CODES)
        if digit != previous and digit.isdigit():
            code += digit
            if len(code) == 4:
                break
        previous = digit
    return code.ljust(4, "0")


def _sx(traits: Traits, trait: str) -> str | None:
    value = traits.get(trait)
    return soundex(value.replace(" ", "")) or None if value else None


def _both(x: str | None, y: str | None) -> str | None:
    return f"{x}|{y}" if x and y else None


def _dob(t: Traits) -> str | None:
    return t.get("birth_date")


def _surname_birth_year(t: Traits) -> str | None:
    born = t.get("birth_date")
    return _both(_sx(t, "last_name"), born[:4] if born else None)


def _first_name_birth_year(t: Traits) -> str | None:
    born = t.get("birth_date")
    return _both(_sx(t, "first_name"), born[:4] if born else None)


def _first_name_birthday(t: Traits) -> str | None:
    # Month and day without the year: a birth date whose year is mistyped, on a record
    # whose surname is mistyped or missing too.
    born = t.get("birth_date")
    return _both(_sx(t, "first_name"), born[4:] if born and len(born) == 8 else None)


def _names(t: Traits) -> str | None:
    first, last = _sx(t, "first_name"), _sx(t, "last_name")
    # Sorted, so a record with first and last name exchanged files under the same key.
    return _both(*sorted((first, last))) if first and last else None


def _first_name_postcode(t: Traits) -> str | None:
    return _both(_sx(t, "first_name"), t.get("postcode"))


def _surname_postcode(t: Traits) -> str | None:
    return _both(_sx(t, "last_name"), t.get("postcode"))


def _postcode_house_number(t: Traits) -> str | None:
    return _both(t.get("postcode"), t.get("house_number"))


def _street_house_number(t: Traits) -> str | None:
    return _both(_sx(t, "street"), t.get("house_number"))


def _street_postcode(t: Traits) -> str | None:
    return _both(_sx(t, "street"), t.get("postcode"))


def _address_lines(t: Traits) -> str | None:
    street, line2 = _sx(t, "street"), _sx(t, "address_line2")
    # Sorted, so a record with its two address lines exchanged files under the same key.
    return _both(*sorted((street, line2))) if street and line2 else None


def _surname_city(t: Traits) -> str | None:
    return _both(_sx(t, "last_name"), t.get("city"))


def _first_name_city(t: Traits) -> str | None:
    return _both(_sx(t, "first_name"), t.get("city"))


def _surname(t: Traits) -> str | None:
    return t.get("last_name")


def _email(t: Traits) -> str | None:
    return t.get("email")


def _email_user(t: Traits) -> str | None:
    email = t.get("email")
    return email.partition("@")[0] or None if email else None


def _email_user_sound(t: Traits) -> str | None:
    # The local part's letters by sound: "evadejohg@" and "evadejong@", or "eva.dejong@",
    # which no exact key finds when the record carries no other trait in common.
    email = t.get("email")
    if not email:
        return None
    letters = _NOT_LETTER.sub("", email.partition("@")[0])
    return soundex(letters) if len(letters) >= 4 else None


_NOT_LETTER = re.compile(r"[^a-z]+")
_LOCAL_PART_TRAITS = ("email", "first_name", "last_name")


def _phone(t: Traits) -> str | None:
    return t.get("phone")


@dataclass(frozen=True, slots=True)
class BlockingRule:
    name: str
    key: Callable[[Traits], str | None]
    # The traits its key is made of: training leaves their comparisons out of the
    # estimate it makes from this rule's pairs, which agree on them by construction.
    traits: tuple[str, ...]
    # The key is its one trait's value: the share of matches it finds is the share that
    # agrees exactly on that trait, which training knows (it estimates the prior with it).
    exact: bool = False


DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("dob", _dob, ("birth_date",), exact=True),
    BlockingRule("ln_yob", _surname_birth_year, ("last_name", "birth_date")),
    BlockingRule("names", _names, ("first_name", "last_name")),
    # A mistyped or missing surname, with a birth date mistyped in its day and month, or
    # in its year: the first name and the rest of the birth date still agree.
    BlockingRule("fn_yob", _first_name_birth_year, ("first_name", "birth_date")),
    BlockingRule("fn_bday", _first_name_birthday, ("first_name", "birth_date")),
    BlockingRule("fn_pc", _first_name_postcode, ("first_name", "postcode")),
    BlockingRule("ln_pc", _surname_postcode, ("last_name", "postcode")),
    BlockingRule("pc_hn", _postcode_house_number, ("postcode", "house_number")),
    BlockingRule("st_hn", _street_house_number, ("street", "house_number")),
    BlockingRule("st_pc", _street_postcode, ("street", "postcode")),
    BlockingRule("addr", _address_lines, ("street", "address_line2")),
    BlockingRule("ln_city", _surname_city, ("last_name", "city")),
    BlockingRule("fn_city", _first_name_city, ("first_name", "city")),
    # Records that share little else, as a signup with a name and a register entry with
    # an address: a rare surname is selective on its own, a common one fills its bucket
    # and the other keys decide.
    BlockingRule("ln", _surname, ("last_name",), exact=True),
    BlockingRule("email", _email, ("email",), exact=True),
    # An address's local part is mostly the person's names ("evadejong", "j.bos"), so
    # the pairs that share it, or its sound, agree on names far more often than
    # strangers do, one person or two: training leaves the names out of their sessions.
    BlockingRule("email_user", _email_user, _LOCAL_PART_TRAITS),
    BlockingRule("email_sound", _email_user_sound, _LOCAL_PART_TRAITS),
    BlockingRule("phone", _phone, ("phone",), exact=True),
)


def blocking_keys(
    record: MatchRecord, rules: Sequence[BlockingRule] = DEFAULT_RULES
) -> tuple[str, ...]:
    """The record's keys, "rule:value", one per rule that has the traits it needs."""
    keys = []
    for rule in rules:
        value = rule.key(record.traits)
        if value:
            keys.append(f"{rule.name}:{value}")
    return tuple(keys)


def select_candidates(buckets: Iterable[Sequence[str]], limit: int = CANDIDATE_LIMIT) -> list[str]:
    """The ids that share the most keys with the new record, at most `limit` of them.

    `buckets` holds, per key of the new record, the ids filed under it, newest first;
    ties keep the order in which ids were first met, so newer records win a tie.
    """
    hits: dict[str, int] = {}
    for bucket in buckets:
        for record_id in bucket:
            hits[record_id] = hits.get(record_id, 0) + 1
    if len(hits) <= limit:
        return list(hits)
    return sorted(hits, key=hits.__getitem__, reverse=True)[:limit]


@dataclass(slots=True)
class BlockIndex:
    """In-memory (key -> record ids) index, the reference for the stores' blocking table."""

    buckets: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, record_id: str, keys: Iterable[str]) -> None:
        for key in keys:
            self.buckets[key].append(record_id)

    def bucket(self, key: str, limit: int = BUCKET_LIMIT) -> list[str]:
        """The newest `limit` ids filed under `key`, newest first."""
        ids = self.buckets.get(key)
        return ids[: -limit - 1 : -1] if ids else []

    def candidates(
        self, keys: Iterable[str], *, bucket_limit: int = BUCKET_LIMIT, limit: int = CANDIDATE_LIMIT
    ) -> list[str]:
        return select_candidates((self.bucket(k, bucket_limit) for k in keys), limit)
