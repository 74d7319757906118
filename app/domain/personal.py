"""Personal data, recognised by what a value is rather than by the name of its field.

Three detectors, all pure:
- e-mail addresses in any common encoding: plain, upper case, percent-encoded once or
  twice (`jan%40example.com`, `%2540`), HTML entities (`&#64;`), JSON and C escapes
  (`\\u0040`), a full-width `＠`, and the `(at)` / `[dot]` spellings;
- phone numbers: runs of 9 to 15 digits with or without separators (space, `-`, `.`,
  `/`, parentheses, `%20`), with or without `+`, `00` or a trunk `0`, that libphonenumber
  calls a possible number (`31622223333`, `+31(0)6-2222.3333`, `0031 6 2222 3333`);
  dates, times, amounts, order numbers and IP addresses are not possible numbers;
- `Spellings`: every spelling of values known to be one person's (a name, a birth date, a
  postcode, a street, an e-mail address, a phone number), found in any text. Readers see
  them masked (app/api/masking.py); an erasure removes them from free text.

`trait_kind` reads a trait's name for what it holds (`Last_Name`, `surname`,
`date_of_birth`, `zip`, `mobile`, `emailAddress`): names give the customer's known values.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from functools import lru_cache
from typing import Any, overload
from urllib.parse import unquote

import phonenumbers


class Kind(Enum):
    EMAIL = "email"
    PHONE = "phone"
    NAME = "name"
    BIRTH_DATE = "birth_date"
    ADDRESS = "address"
    POSTCODE = "postcode"
    ID_NUMBER = "id_number"  # passport, national id, tax or bank account number
    IDENTIFIER = "identifier"  # an opaque identifier's value: a cookie, a CRM id


# -- what a trait's name says it holds -----------------------------------------------------
# Checked in order: `email_name` is an e-mail, `birth_name` a name, `street_name` an address.
_NAME_WORDS: tuple[tuple[Kind, frozenset[str]], ...] = (
    (Kind.EMAIL, frozenset({"email", "mail", "emailaddress"})),
    (Kind.PHONE, frozenset({"phone", "telephone", "tel", "mobile", "cell", "cellphone",
                            "msisdn", "gsm", "fax", "whatsapp", "phonenumber"})),
    (Kind.BIRTH_DATE, frozenset({"birth", "birthdate", "birthday", "dob", "born"})),
    (Kind.POSTCODE, frozenset({"postcode", "zip", "zipcode", "postal", "postalcode"})),
    (Kind.ADDRESS, frozenset({"street", "address", "addr", "house", "housenumber",
                              "streetname", "line1", "line2"})),
    (Kind.ID_NUMBER, frozenset({"passport", "ssn", "bsn", "iban", "nin", "taxid",
                                "nationalid", "licence", "license"})),
    (Kind.NAME, frozenset({"name", "surname", "forename", "firstname", "lastname",
                           "fullname", "middlename", "initials", "maiden", "nickname",
                           "username", "givenname", "familyname"})),
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@lru_cache(maxsize=4096)  # a request reads the same few names many times
def trait_kind(name: str) -> Kind | None:
    """What a trait (or property) of this name holds, when it is personal."""
    words = [w for w in re.split(r"[^a-z0-9]+", _CAMEL.sub("_", name).lower()) if w]
    joined = "".join(words)
    for kind, vocabulary in _NAME_WORDS:
        if joined in vocabulary or any(w in vocabulary for w in words):
            return kind
    if words[-2:] == ["of", "birth"] or joined.endswith("ofbirth"):
        return Kind.BIRTH_DATE
    return None


# -- e-mail addresses ----------------------------------------------------------------------
_AT = (r"(?:@|\uff20|%(?:25)?40|&#0*64;|&#[xX]0*40;|\\u0040|\\x40"
       r"|\s?[(\[{]\s?(?i:at)\s?[)\]}]\s?)")
_DOT = r"(?:\.|%(?:25)?2[eE]|&#0*46;|\s?[(\[{]\s?(?i:dot)\s?[)\]}]\s?)"
EMAIL = re.compile(rf"[\w.+\-%!#$*^~]+{_AT}(?:[\w\-]+{_DOT})+[A-Za-z]{{2,}}(?![\w\-])")
_SPELLED_AT = re.compile(r"\s?[(\[{]\s?at\s?[)\]}]\s?", re.I)
_SPELLED_DOT = re.compile(r"\s?[(\[{]\s?dot\s?[)\]}]\s?", re.I)


_AT_MARKS = ("@", "%40", "%2540", "&#", "\\u0040", "\\x40", "\uff20")
_BRACKETED_AT = re.compile(r"[(\[{]\s?at\s?[)\]}]", re.IGNORECASE)


def may_hold_email(text: str) -> bool:
    """A quick look for any of the spellings of @ that EMAIL knows."""
    if "@" in text or any(mark in text for mark in _AT_MARKS):
        return True
    return any(b in text for b in "([{") and _BRACKETED_AT.search(text) is not None


def decode_email(text: str) -> str:
    """The address an encoded spelling stands for, lower case."""
    plain = html.unescape(unquote(unquote(text)))
    plain = plain.replace("\\u0040", "@").replace("\\x40", "@").replace("\uff20", "@")
    plain = _SPELLED_DOT.sub(".", _SPELLED_AT.sub("@", plain))
    return plain.lower()


# -- phone numbers -------------------------------------------------------------------------
_SEP = r"(?:[ \u00a0\-./()]|%20)"
# Not inside a word, an encoded character or a longer number (`evt-000123456789`), and not
# followed by a time or a decimal part (`2024-05-05 10:00`).
PHONE = re.compile(
    rf"(?<![\w+%@])(?<!\w[\-./])(?:\+|%2[Bb]|00)?\d(?:{_SEP}{{0,3}}\d){{6,18}}"
    r"(?![\w])(?![:.,/\-]\d)"
)
MIN_DIGITS, MAX_DIGITS = 9, 15


def is_phone(text: str, region: str = "NL") -> bool:
    """Whether a digit run is a possible phone number: international with +, %2B or 00;
    national with a trunk 0 in `region`; bare digits as international without the +."""
    digits = re.sub(r"\D", "", text.replace("%2B", "").replace("%2b", "").replace("%20", " "))
    if not MIN_DIGITS <= len(digits) - ("(0)" in text) <= MAX_DIGITS:
        return False
    plain = unquote(text).strip()
    if plain.startswith("00"):
        plain = "+" + plain[2:]
    elif not plain.startswith(("+", "0")):
        plain = "+" + plain
    try:
        number = phonenumbers.parse(plain, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


def find_phones(text: str, region: str = "NL") -> list[re.Match[str]]:
    if sum(map(str.isdigit, text)) < MIN_DIGITS:
        return []
    return [m for m in PHONE.finditer(text) if is_phone(m.group(), region)]


def integer_is_phone(number: int, region: str = "NL") -> bool:
    """A JSON number can be a phone number written without its + (31622223333)."""
    return MIN_DIGITS <= len(str(abs(number))) <= MAX_DIGITS and is_phone(str(abs(number)),
                                                                            region)


# -- every spelling of known values ------------------------------------------------------
_GAP = r"(?:[\s_\W]|%20){1,3}"  # between the words of a name: spaces, punctuation, %20
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "di", "da", "du",
                        "la", "le", "ten", "ter", "het", "bin", "al", "el", "mc", "st"})
MIN_WORD = 3  # shorter words of a name are masked only together with the rest of it


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One way to spell a value, and what any text it matches must hold: `fragment`
    (lower case) and at least `digits` digits. Checking those first spares the regular
    expression almost every text."""

    source: str
    fragment: str = ""
    digits: int = 0


def _longest(parts: list[str]) -> str:
    return max(parts, key=len).lower() if parts else ""


def _words_pattern(words: list[str]) -> _Pattern:
    source = r"(?<![^\W_])" + _GAP.join(re.escape(w) for w in words) + r"(?![^\W_])"
    return _Pattern(source, _longest(words))


def _name_patterns(value: str) -> list[_Pattern]:
    words = re.findall(r"[^\W_]+", value)
    if not words or len("".join(words)) < 2:
        return []
    found = [_words_pattern(words)]
    if len(words) > 1:  # run together, as in a user name: vandijk, VanDijk
        found.append(_words_pattern(["".join(words)]))
    found += [_words_pattern([w]) for w in words
              if len(w) >= MIN_WORD and w.lower() not in _PARTICLES and len(words) > 1]
    return found


def _postcode_patterns(value: str) -> list[_Pattern]:
    """Its runs of digits and of letters, with or without spaces or dashes between them:
    `1016 GV`, `1016GV`, `1016-gv`."""
    runs = re.findall(r"\d+|[^\W\d_]+", value)
    if len("".join(runs)) < 4:
        return []
    source = (r"(?<![^\W_])" + r"[\s\-]{0,2}".join(re.escape(r) for r in runs)
              + r"(?![^\W_])")
    return [_Pattern(source, _longest(runs))]


_DATE = re.compile(r"(\d{4})\D?(\d{1,2})\D?(\d{1,2})|(\d{1,2})\D(\d{1,2})\D(\d{4})")


def _date_patterns(value: str) -> list[_Pattern]:
    match = _DATE.search(value)
    if match is None:
        return []
    if match[1]:
        y, m, d = int(match[1]), int(match[2]), int(match[3])
    else:
        d, m, y = int(match[4]), int(match[5]), int(match[6])
    try:
        date(y, m, d)
    except ValueError:
        return []

    def part(n: int) -> str:
        return f"0?{n}" if n < 10 else str(n)

    sep = r"[\-./ ]?"
    orders = [(str(y), part(m), part(d)), (part(d), part(m), str(y)), (part(m), part(d), str(y))]
    found = [_Pattern(r"(?<!\d)" + sep.join(o) + r"(?!\d)", str(y)) for o in orders]
    # a year of two digits only between separators: 12-04-88, 4/12/88
    short = str(y)[2:]
    found += [_Pattern(r"(?<!\d)" + r"[\-./]".join(o) + r"(?!\d)", short)
              for o in [(part(d), part(m), short), (part(m), part(d), short)]]
    # the month by its name, English or Dutch: 12 April 1988, apr. 12th, 1988
    month = r"(?<![^\W_])(?:" + "|".join(_MONTHS[m - 1]) + r")(?![^\W_])\.?"
    day = part(d) + r"(?:st|nd|rd|th|e)?"
    gap = r"[\s,\-./]{0,3}"
    found += [_Pattern(r"(?<!\d)" + day + gap + month + gap + str(y) + r"(?!\d)", str(y)),
              _Pattern(month + gap + day + gap + str(y) + r"(?!\d)", str(y))]
    return found


_MONTHS = [("january", "januari", "jan"), ("february", "februari", "feb"),
           ("march", "maart", "mar", "mrt"), ("april", "apr"), ("may", "mei"),
           ("june", "juni", "jun"), ("july", "juli", "jul"), ("august", "augustus", "aug"),
           ("september", "sept", "sep"), ("october", "oktober", "oct", "okt"),
           ("november", "nov"), ("december", "dec")]


def _char_spellings(char: str) -> str:
    if char == "@":
        return _AT
    if char == ".":
        return _DOT
    code = f"{ord(char):02X}" if ord(char) < 128 else None
    plain = re.escape(char)
    return f"(?:{plain}|%(?:25)?{code})" if code and not char.isalnum() else plain


def _email_patterns(value: str) -> list[_Pattern]:
    address = decode_email(value.strip())
    if "@" not in address:
        return []
    source = (r"(?<![\w.+\-%])" + "".join(_char_spellings(c) for c in address)
              + r"(?![\w\-])")
    # letters and digits are never encoded: the longest run of them is in every spelling
    return [_Pattern(source, _longest(re.findall(r"[^\W_]+", address)))]


def _phone_patterns(value: str, region: str) -> list[_Pattern]:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return []
    national = str(number.national_number)
    if len(national) < 6:
        return []
    country = f"{_SEP}{{0,2}}".join(str(number.country_code))
    prefix = (rf"(?:(?:(?:\+|%2[Bb]|00){_SEP}{{0,2}})?{country}{_SEP}{{0,3}}"
              rf"(?:\(0\){_SEP}{{0,2}})?|0)?")
    body = f"{_SEP}{{0,3}}".join(national)
    return [_Pattern(r"(?<!\d)" + prefix + body + r"(?!\d)", digits=len(national))]


@dataclass(frozen=True, slots=True)
class Known:
    """A value known to be personal, and what kind of value it is."""

    kind: Kind
    value: str


def _patterns(known: Known, region: str) -> list[_Pattern]:
    text = known.value.strip()
    if not text:
        return []
    match known.kind:
        case Kind.EMAIL:
            return _email_patterns(text)
        case Kind.PHONE:
            return _phone_patterns(text, region)
        case Kind.BIRTH_DATE:
            return _date_patterns(text)
        case Kind.POSTCODE | Kind.ID_NUMBER:
            return _postcode_patterns(text)
        case Kind.NAME | Kind.ADDRESS:
            return _name_patterns(text)
        case Kind.IDENTIFIER:
            return [_Pattern(r"(?<![^\W_])" + re.escape(text) + r"(?![^\W_])", text.lower())]
    return []


class Spellings:
    """Every spelling of a set of known values, as one regular expression; each match
    knows the kind of the value it spells. Longer alternatives come first, so that
    `van Dijk` is found whole before `Dijk` alone. The expression is compiled the first
    time a text holds what one of its spellings needs (a fragment, enough digits)."""

    def __init__(self, known: Iterable[Known], region: str = "NL") -> None:
        found: dict[str, tuple[Kind, _Pattern]] = {}
        for item in known:
            for pattern in _patterns(item, region):
                found.setdefault(pattern.source, (item.kind, pattern))
        ordered = sorted(found, key=len, reverse=True)
        self.kinds = [found[p][0] for p in ordered]
        self.needs = {(p.fragment, p.digits) for _, p in found.values()}
        self._counts_digits = any(d for _, d in self.needs)
        self.source = "|".join(f"({p})" for p in ordered)
        self._regex: re.Pattern[str] | None = None

    def __bool__(self) -> bool:
        return bool(self.source)

    @property
    def regex(self) -> re.Pattern[str]:
        if self._regex is None:
            self._regex = re.compile(self.source, re.IGNORECASE)
        return self._regex

    def _may_mention(self, text: str) -> bool:
        if not self.source:
            return False
        lower = text.lower()
        digits = sum(map(str.isdigit, text)) if self._counts_digits else 0
        return any(f in lower and digits >= d for f, d in self.needs)

    def kind_of(self, match: re.Match[str]) -> Kind:
        return self.kinds[(match.lastindex or 1) - 1]

    def mentions(self, text: str) -> bool:
        return self._may_mention(text) and self.regex.search(text) is not None

    def replace(self, text: str, by: Callable[[Kind, str], str]) -> str:
        if not self._may_mention(text):
            return text
        return self.regex.sub(lambda m: by(self.kind_of(m), m.group()), text)

    def scrub(self, text: str, mark: str) -> str:
        return self.replace(text, lambda _kind, _text: mark)

    @overload
    def scrub_json(self, value: dict[str, Any], mark: str) -> dict[str, Any]: ...
    @overload
    def scrub_json(self, value: object, mark: str) -> object: ...
    def scrub_json(self, value: object, mark: str) -> object:
        """Every string of a JSON value scrubbed, keys included."""
        if isinstance(value, dict):
            return {self.scrub(str(k), mark): self.scrub_json(v, mark) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_json(v, mark) for v in value]
        return self.scrub(value, mark) if isinstance(value, str) else value


@lru_cache(maxsize=512)
def spellings(known: frozenset[Known], region: str = "NL") -> Spellings:
    """Compiled once per set of values: a request reads one customer many times."""
    return Spellings(sorted(known, key=lambda k: (k.kind.value, k.value)), region)


def known_values(traits: Mapping[str, object]) -> set[Known]:
    """The personal values among a customer's traits: by the trait's name, and by what
    the value is (an e-mail address or a phone number under any name). Nested objects
    (an address) are read the same way."""
    found: set[Known] = set()
    for name, value in traits.items():
        found |= _known_in(trait_kind(name), value)
    return found


def _known_in(kind: Kind | None, value: object) -> set[Known]:
    if isinstance(value, dict):
        return {k for name, v in value.items() for k in _known_in(trait_kind(str(name)) or kind,
                                                                    v)}
    if isinstance(value, list):
        return {k for v in value for k in _known_in(kind, v)}
    if isinstance(value, bool) or value is None:
        return set()
    text = str(value)
    if kind is not None:
        return {Known(kind, text)}
    if EMAIL.fullmatch(text.strip()):
        return {Known(Kind.EMAIL, text)}
    return set()


def identifier_known(key: str) -> Known:
    """An identifier key ("type:value") as a known value: e-mail addresses and phone
    numbers in every spelling, other values as written."""
    type_, _, value = key.partition(":")
    kind = {"email": Kind.EMAIL, "phone": Kind.PHONE}.get(type_, Kind.IDENTIFIER)
    return Known(kind, value)
