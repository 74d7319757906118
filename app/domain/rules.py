"""Linking rules: blocked values, per-type limits, evidence priorities and hub detection.

Rules come from a TOML file (see docs/resolution.md and DEFAULT_RULES_TOML below); this
module only interprets the parsed mapping, so it stays pure.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.errors import DomainError
from app.domain.identifiers import TYPE_PATTERN, Identifier, IdentifierError, normalise


class RulesErrorCode(StrEnum):
    INVALID_RULES = "INVALID_RULES"


# tomllib (before Python 3.14) gives the place of a syntax error only in its message.
_TOML_PLACE = re.compile(r"\(at line (\d+), column (\d+)\)")


class RulesError(DomainError, ValueError):
    """A rules file that cannot be used: the setting at fault (`setting`, "" for text that
    is not TOML) and the reason; `line` and `column` (from 1, else 0) place a TOML syntax
    error."""

    def __init__(self, setting: str, reason: str, *, line: int = 0, column: int = 0) -> None:
        super().__init__(RulesErrorCode.INVALID_RULES,
                         f"{setting}: {reason}" if setting else reason,
                         suggestion="fix the rules file where the message says "
                         "(docs/resolution.md lists every setting)", field=setting)
        self.setting = setting
        self.line = line
        self.column = column

    @classmethod
    def syntax(cls, exc: tomllib.TOMLDecodeError) -> RulesError:
        place = _TOML_PLACE.search(str(exc))
        line, column = (int(place.group(1)), int(place.group(2))) if place else (0, 0)
        return cls("", f"not valid TOML: {exc}", line=line, column=column)


HUB_COUNT_TYPES = ("email", "crm_id", "phone", "customer_number", "loyalty_id")
# identifier type ("*": any other) -> the consent purposes (fnmatch patterns, any case)
# whose grant, after an erasure, brings an erased identifier of that type back
CONSENT_RETURNS: Mapping[str, tuple[str, ...]] = {
    "email": ("email*", "newsletter*", "marketing"),
    "phone": ("sms*", "phone*", "call*", "whatsapp*", "marketing"),
    "*": ("*",),
}


def hub_reason(degree: int, limit: int) -> str:
    """Why an identifier is quarantined as a hub (its stored reason begins "hub:")."""
    return f"hub: linked to {degree} distinct identifiers of people (limit {limit})"


@dataclass(frozen=True, slots=True)
class MatchThresholds:
    """Fuzzy-matching decisions, as probabilities that two records are one person (see
    docs/resolution.md): at least `link` links, at least `review` goes to the review
    queue, and a record joins a second customer only at `merge`."""

    link: float = 0.95
    review: float = 0.8
    merge: float = 0.999

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> MatchThresholds:
        unknown = set(table) - {"link", "review", "merge"}
        if unknown:
            raise RulesError("matching", f"unknown setting(s) {sorted(unknown)}; expected "
                             "link, review, merge")
        values, defaults = {}, cls()
        for name in ("link", "review", "merge"):
            value = table.get(name, getattr(defaults, name))
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not 0 < value < 1:
                raise RulesError(f"matching.{name}", "a probability between 0 and 1 "
                                 f"(exclusive), not {value!r}")
            values[name] = float(value)
        if not values["review"] <= values["link"] <= values["merge"]:
            raise RulesError("matching", "thresholds must satisfy review <= link <= merge, "
                             f"not {values}")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class BlockRule:
    type: str  # an identifier type, or "*" for every type
    pattern: str  # a glob on the normalised value, case-insensitive

    def matches(self, ident: Identifier) -> bool:
        return (self.type in ("*", ident.type)) and self._regex.fullmatch(ident.value) is not None

    @property
    def _regex(self) -> re.Pattern[str]:
        return _compiled(self.pattern)

    def __str__(self) -> str:
        return f"blocked.{self.type} {self.pattern!r}"


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    regex = _PATTERNS.get(pattern)
    if regex is None:
        regex = _PATTERNS[pattern] = re.compile(fnmatch.translate(pattern), re.IGNORECASE)
    return regex


@dataclass(frozen=True, slots=True)
class Rules:
    blocked: tuple[BlockRule, ...] = ()
    # at most this many identifiers of a type in one customer
    limits: Mapping[str, int] = field(default_factory=dict)
    # higher is stronger evidence; unknown types and sources rank 0
    type_priority: Mapping[str, int] = field(default_factory=dict)
    source_priority: Mapping[str, int] = field(default_factory=dict)
    # an identifier linked to more distinct identifiers than this is quarantined
    hub_max_links: Mapping[str, int] = field(default_factory=dict)
    hub_default_max_links: int = 15
    # only neighbours of these types count towards a hub: they stand for distinct people
    hub_count_types: tuple[str, ...] = HUB_COUNT_TYPES
    matching: MatchThresholds = MatchThresholds()
    consent_returns: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(CONSENT_RETURNS))

    # type -> one alternation of every pattern that applies to it, built on first use
    _any: dict[str, re.Pattern[str]] = field(default_factory=dict, repr=False, compare=False)

    def blocked_by(self, ident: Identifier) -> BlockRule | None:
        regex = self._any.get(ident.type)
        if regex is None:
            parts = [
                fnmatch.translate(r.pattern) for r in self.blocked if r.type in ("*", ident.type)
            ]
            regex = re.compile("|".join(f"(?:{p})" for p in parts) or "(?!)", re.IGNORECASE)
            self._any[ident.type] = regex
        if regex.fullmatch(ident.value) is None:
            return None
        return next((rule for rule in self.blocked if rule.matches(ident)), None)

    def returning_purposes(self, type_: str) -> tuple[str, ...]:
        """The purposes whose new grant brings an erased identifier of this type back."""
        return self.consent_returns.get(type_, self.consent_returns.get("*", ()))

    def hub_limit(self, type_: str) -> int:
        return self.hub_max_links.get(type_, self.hub_default_max_links)

    def link_priority(self, a: str, b: str, sources: Iterable[str]) -> tuple[int, int]:
        """Stronger links sort first: the weaker identifier type of the two ends, then the
        strongest source that saw them together."""
        ta, tb = a.partition(":")[0], b.partition(":")[0]
        weakest_type = min(self.type_priority.get(ta, 0), self.type_priority.get(tb, 0))
        best_source = max((self.source_priority.get(s, 0) for s in sources), default=0)
        return weakest_type, best_source

    @classmethod
    def default(cls) -> Rules:
        return cls.from_toml(DEFAULT_RULES_TOML)

    @classmethod
    def from_toml(cls, text: str) -> Rules:
        try:
            return cls.from_mapping(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise RulesError.syntax(exc) from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Rules:
        known = {"blocked", "limits", "priority", "hubs", "matching", "consent"}
        unknown = set(data) - known
        if unknown:
            raise RulesError(sorted(unknown)[0], "unknown section; expected one of "
                             f"{', '.join(sorted(known))}")
        blocked = []
        _known_keys(_table(data, "priority"), "priority", {"types", "sources"})
        _known_keys(_table(data, "hubs"), "hubs", {"max_links", "count_types",
                                                    "max_links_by_type"})
        for type_, patterns in _table(data, "blocked").items():
            if type_ != "*":
                _type_name(type_, f"blocked.{type_}")
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
                raise RulesError(f"blocked.{type_}", "must be a list of patterns")
            blocked += [BlockRule(type_, _normal_pattern(type_, p)) for p in patterns]
        priority = _table(data, "priority")
        hubs = _table(data, "hubs")
        hub_default = hubs.get("max_links", 15)
        count_types = hubs.get("count_types", list(HUB_COUNT_TYPES))
        if not isinstance(count_types, list) or not all(isinstance(t, str) for t in count_types):
            raise RulesError("hubs.count_types", "must be a list of identifier types")
        for type_ in count_types:
            _type_name(type_, "hubs.count_types")
        for name, table in (("limits", _table(data, "limits")),
                            ("priority.types", _table(priority, "types", "priority.")),
                            ("hubs.max_links_by_type",
                             _table(hubs, "max_links_by_type", "hubs."))):
            for type_ in table:
                _type_name(type_, f"{name}.{type_}")
        return cls(
            blocked=tuple(blocked),
            limits=_ints(_table(data, "limits"), "limits", minimum=1),
            type_priority=_ints(_table(priority, "types", "priority."), "priority.types"),
            source_priority=_ints(_table(priority, "sources", "priority."), "priority.sources"),
            hub_max_links=_ints(
                _table(hubs, "max_links_by_type", "hubs."), "hubs.max_links_by_type", minimum=2
            ),
            hub_default_max_links=_int(hub_default, "hubs.max_links", minimum=2),
            hub_count_types=tuple(count_types),
            matching=MatchThresholds.from_mapping(_table(data, "matching")),
            consent_returns=_consent_returns(_table(data, "consent")),
        )


def _consent_returns(consent: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """`[consent.returns]`; without it, the defaults (CONSENT_RETURNS): a rules file
    written before the setting must not let any grant bring an erased e-mail back."""
    _known_keys(consent, "consent", {"returns"})
    if "returns" not in consent:
        return dict(CONSENT_RETURNS)
    returns = {}
    for type_, patterns in _table(consent, "returns", "consent.").items():
        name = f"consent.returns.{type_}"
        if type_ != "*":
            _type_name(type_, name)
        if not isinstance(patterns, list) or not all(
                isinstance(p, str) and p.strip() for p in patterns):
            raise RulesError(name, "must be a list of consent purposes or patterns "
                             f"(non-empty strings), not {patterns!r}")
        returns[type_] = tuple(p.strip() for p in patterns)
    return returns


def _known_keys(table: Mapping[str, Any], name: str, known: set[str]) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise RulesError(f"{name}.{unknown[0]}", "unknown setting; expected one of "
                         f"{', '.join(sorted(known))}")


def _type_name(type_: str, name: str) -> None:
    if not TYPE_PATTERN.match(type_):
        raise RulesError(name, f"{type_!r} is not an identifier type (lowercase letters, "
                         "digits and single underscores, starting with a letter)")


def _normal_pattern(type_: str, pattern: str) -> str:
    """Write a pattern the way values are stored, so that `06-00000000` blocks +31600000000."""
    if type_ == "*" or any(c in pattern for c in "*?["):
        return pattern
    try:
        return normalise(type_, pattern).value
    except IdentifierError:
        return pattern


def _table(data: Mapping[str, Any], name: str, prefix: str = "") -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise RulesError(f"{prefix}{name}", "must be a table")
    return value


def _int(value: Any, name: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RulesError(name, f"must be a whole number >= {minimum}, not {value!r}")
    return value


def _ints(table: Mapping[str, Any], name: str, minimum: int = 0) -> dict[str, int]:
    return {key: _int(value, f"{name}.{key}", minimum) for key, value in table.items()}


DEFAULT_RULES_TOML = """\
# idgraph linking rules. Every setting is explained in docs/resolution.md.

[blocked]
# Values that are never linked: placeholders, test data and shared addresses.
# Glob patterns on the normalised value, case-insensitive; "*" applies to every type.
"*" = ["unknown", "n/a", "na", "none", "null", "undefined", "-", "0", "test"]
email = ["test@test.com", "test@example.com", "noreply@*", "no-reply@*", "donotreply@*",
         "*@mailinator.com", "unknown@*", "none@*"]
phone = ["+*0000000", "+*1111111", "+*9999999"]
device_id = ["00000000-0000-0000-0000-000000000000"]

[limits]
# At most this many identifiers of a type in one customer. A link that would break a
# limit is rejected: the weakest evidence gives way.
crm_id = 1

[priority.types]
# Stronger identifier types win a conflict. A link is as strong as its weaker end.
crm_id = 100
customer_number = 90
loyalty_id = 80
email = 70
phone = 60
device_id = 40
cookie = 20

[priority.sources]
# Between links of equal type strength, evidence from a stronger source wins.
steward = 1000
crm = 100
pos = 60
callcenter = 50
app = 40
web = 30
chatbot = 20
ads = 10
matcher = 5

[hubs]
# An identifier linked to more distinct identifiers of people (the count_types) than
# max_links is quarantined: a shared call-centre number, a shop's loyalty card, a junk
# value no pattern caught. Its links stop merging.
max_links = 15
count_types = ["email", "crm_id", "phone", "customer_number", "loyalty_id"]

[hubs.max_links_by_type]
# a shared family computer legitimately sees a few people
cookie = 15

[matching]
# Fuzzy matching decides on the probability that two records are one person, computed
# with the share of matching pairs that training estimated for the data. A pair links at
# `link` or above; from `review` up to `link` it goes to the review queue; a record joins
# a second customer (merging the two) only at `merge`.
link = 0.95
review = 0.8
merge = 0.999

[consent.returns]
# After an erasure, an identifier comes back only with an explicit new consent: an event
# dated after the erasure that grants (true) a purpose about the identifier's channel.
# Per identifier type, the purposes (glob patterns, case-insensitive) whose grant brings
# it back; "*" for every other type. A type with no entry and no "*" never comes back.
email = ["email*", "newsletter*", "marketing"]
phone = ["sms*", "phone*", "call*", "whatsapp*", "marketing"]
"*" = ["*"]  # cookies, devices, CRM ids: any explicit grant
"""
