"""The segment language: a small, readable text a marketer writes, parsed into an AST.

    count(purchase where amount > 50) >= 2 within 30d
    AND has(email) AND consent(email_marketing)
    AND NOT in_segment(churned)
    AND (trait(city) = "Amsterdam" OR computed(lifetime_value) >= 100)

Conditions (docs/segments.md explains each):
    trait(NAME) PREDICATE                    a profile trait
    computed(NAME[.KEY]) PREDICATE           a computed trait (KEY: one entry of a map)
    count(TYPE [where FILTER]) OP NUMBER [within DURATION]
    sum(TYPE.PROPERTY [where FILTER]) OP NUMBER [within DURATION]
    has(IDENTIFIER_TYPE)                     an identifier of this type
    consent(PURPOSE)                         the latest answer for the purpose is yes
    in_segment(SEGMENT)                      a member of another segment
PREDICATE is `OP VALUE`, `in [VALUE, ...]` or `exists`; OP is = != < <= > >=;
a VALUE is "text", a number, true or false; TYPE may be * (any type); DURATION is 12h,
30d or 2w. FILTER compares event fields (a property, or `source` / `type`) and combines
with and, or, not. Conditions combine with AND, OR, NOT and parentheses; NOT binds
tightest, then AND, then OR. Keywords are case-insensitive; `#` starts a comment.

Errors are SegmentError: the line and column of the fault, the line with a caret under
it, and for an unknown name the names that are known. The parser bounds what it reads
(nesting, number length, durations), so that no text makes it fail any other way. What a
new definition may hold beyond that (conditions, nesting, text) is the caller's policy,
check_definition: a stored definition must keep loading whatever the policy is now.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from types import UnionType
from typing import TYPE_CHECKING, NoReturn

from app.domain.errors import DomainError
from app.domain.traits import MAP_KINDS, NAME_PATTERN, format_duration, parse_duration

if TYPE_CHECKING:
    from app.domain.traits import TraitsConfig

Value = str | int | float | bool
OPS = ("=", "!=", "<", "<=", ">", ">=")
_OP_ALIASES = {"==": "=", "<>": "!="}
KEYWORDS = ("and", "or", "not", "within", "where", "in", "exists", "true", "false")
FUNCTIONS = ("trait", "computed", "count", "sum", "has", "consent", "in_segment")
# What any text may hold, stored or new. Parsing and evaluation recurse on nesting;
# numbers are compared as floats; `now - window` must stay a representable time.
MAX_NESTING = 200  # levels of parentheses and NOT
MAX_NUMBER_DIGITS = 300
MAX_WINDOW = timedelta(days=365_000)
_Factor = Callable[[], "Node"]


# -- errors ------------------------------------------------------------------------------
class SegmentErrorCode(StrEnum):
    """Why a segment cannot be defined, updated or deleted: stable, for API clients."""

    INVALID_DEFINITION = "INVALID_DEFINITION"
    SEGMENT_EXISTS = "SEGMENT_EXISTS"
    UNKNOWN_SEGMENT = "UNKNOWN_SEGMENT"
    SEGMENT_IN_USE = "SEGMENT_IN_USE"
    SEGMENT_DELETED = "SEGMENT_DELETED"


# What the caller can do about each refusal (the API's operations by name).
SUGGESTIONS = {
    SegmentErrorCode.INVALID_DEFINITION: "fix the definition where it points; "
    "docs/segments.md describes the language",
    SegmentErrorCode.SEGMENT_EXISTS: "change it with updateSegment, or choose another id",
    SegmentErrorCode.UNKNOWN_SEGMENT: "see `segments` for the segments that exist; create it "
    "with defineSegment",
    SegmentErrorCode.SEGMENT_IN_USE: "change the segments that read it (in_segment) first",
    SegmentErrorCode.SEGMENT_DELETED: "define it again",
}


class SegmentError(DomainError, ValueError):
    """A definition (or a deletion) that is refused: its code, and for a fault in the text
    where (line, column) and why (`reason`), with the line shown in the message."""

    code: SegmentErrorCode

    def __init__(self, reason: str, *, text: str = "", line: int = 0, column: int = 0,
                 length: int = 1, segment: str | None = None,
                 code: SegmentErrorCode = SegmentErrorCode.INVALID_DEFINITION) -> None:
        self.reason = reason
        self.text = text
        self.line = line
        self.column = column
        self.length = max(1, length)
        self.segment = segment
        super().__init__(code, self._message(), suggestion=SUGGESTIONS[code])

    def _message(self) -> str:
        where = [f"segment {self.segment!r}"] if self.segment else []
        if self.line:
            where.append(f"line {self.line}, column {self.column}")
        head = ", ".join(where) + ": " + self.reason if where else self.reason
        lines = self.text.splitlines()
        if not self.line or self.line > len(lines):
            return head
        shown = lines[self.line - 1]
        length = min(self.length, max(1, len(shown) - self.column + 1))
        return f"{head}\n    {shown}\n    {' ' * (self.column - 1)}{'^' * length}"

    def for_segment(self, name: str) -> SegmentError:
        return SegmentError(self.reason, text=self.text, line=self.line, column=self.column,
                            length=self.length, segment=name, code=self.code)


def did_you_mean(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    if known and len(known) <= 15:
        return f"; known: {', '.join(sorted(known))}"
    return ""


# -- the AST -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Span:
    line: int
    column: int
    length: int


_NO_SPAN = Span(0, 0, 0)


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # one of OPS
    value: Value


@dataclass(frozen=True, slots=True)
class OneOf:
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    pass


Predicate = Compare | OneOf | Exists


@dataclass(frozen=True, slots=True)
class TraitCondition:
    name: str
    predicate: Predicate
    span: Span = field(default=_NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class ComputedCondition:
    name: str
    key: str | None  # an entry of a map-valued trait: computed(events_30d.purchase)
    predicate: Predicate
    span: Span = field(default=_NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class FieldCondition:
    """In a `where` filter: an event field (source, type) or a property."""

    name: str  # "source", "type" or "properties.NAME"
    predicate: Predicate
    span: Span = field(default=_NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class EventCondition:
    function: str  # "count" or "sum"
    event_type: str | None  # None: any type
    property_name: str | None  # sum: the property added up
    where: Filter | None
    op: str
    value: float
    window: timedelta | None
    span: Span = field(default=_NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class HasIdentifier:
    identifier_type: str
    span: Span = field(default=_NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class ConsentGiven:
    purpose: str
    span: Span = field(default=_NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class InSegment:
    segment: str
    span: Span = field(default=_NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Leaf = (TraitCondition | ComputedCondition | EventCondition | HasIdentifier | ConsentGiven
        | InSegment)
Node = Leaf | And | Or | Not | FieldCondition
Condition = Node  # a segment's condition: every node but FieldCondition
Filter = Node  # a `where` filter: FieldCondition, And, Or, Not


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    text: str  # as written, for display and error messages
    condition: Condition
    # derived once: the segments it reads through in_segment, and its conditions that
    # time alone can change (event counts and sums, computed traits)
    references: frozenset[str] = field(init=False, compare=False)
    timed: tuple[Node, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        found = tuple(leaves(self.condition))
        object.__setattr__(self, "references", frozenset(
            n.segment for n in found if isinstance(n, InSegment)))
        object.__setattr__(self, "timed", tuple(
            n for n in found if isinstance(n, EventCondition | ComputedCondition)))


def leaves(node: Node) -> Iterator[Node]:
    """The conditions of a tree, left to right (not those inside `where` filters)."""
    if isinstance(node, And | Or):
        for item in node.items:
            yield from leaves(item)
    elif isinstance(node, Not):
        yield from leaves(node.item)
    else:
        yield node


def conditions(node: Node) -> list[Node]:
    """Every condition of a tree, with the comparisons of its `where` filters, in the
    order they are written."""
    found: list[Node] = []
    for leaf in leaves(node):
        found.append(leaf)
        if isinstance(leaf, EventCondition) and leaf.where is not None:
            found += conditions(leaf.where)
    return found


def check_definition(segment: Segment, max_conditions: int, max_nesting: int) -> None:
    """The policy for a new definition: at most `max_conditions` conditions (evaluating it
    costs every customer every condition), And / Or / Not nested at most `max_nesting`
    deep, and text values that are text. Raises SegmentError pointing at the first fault."""
    found = conditions(segment.condition)
    if len(found) > max_conditions:
        _refuse(segment, found[max_conditions],
                f"at most {max_conditions} conditions in a definition, not {len(found)}; "
                f"split it into segments and combine them with in_segment(...)")
    if (deep := _too_deep(segment.condition, max_nesting)) is not None:
        _refuse(segment, deep, f"conditions nested more than {max_nesting} levels deep (AND, "
                f"OR, NOT); move part of it into a segment of its own and use "
                f"in_segment(...)")
    for node in found:
        if (odd := _surrogate(_texts(node))) is not None:
            _refuse(segment, node, f"U+{ord(odd):04X} is half of a UTF-16 surrogate pair, "
                    f"not a character; write the whole character")


def _refuse(segment: Segment, node: Node, reason: str) -> NoReturn:
    span = getattr(node, "span", _NO_SPAN)
    raise SegmentError(reason, text=segment.text, line=span.line, column=span.column,
                       length=span.length, segment=segment.name)


def _too_deep(node: Node, limit: int) -> Node | None:
    """The first condition under And / Or / Not nodes nested deeper than `limit`; a
    `where` filter's nesting adds to the nesting of its count or sum."""
    stack: list[tuple[Node, int]] = [(node, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, And | Or | Not):
            if depth + 1 > limit:
                return next(iter(leaves(item)))
            children = item.items if isinstance(item, And | Or) else (item.item,)
            stack.extend((child, depth + 1) for child in reversed(children))
        elif isinstance(item, EventCondition) and item.where is not None:
            stack.append((item.where, depth))
    return None


def _texts(node: Node) -> str:
    """The names and text values of one condition, joined (to look for bad characters)."""
    predicate = getattr(node, "predicate", None)
    values = (predicate.values if isinstance(predicate, OneOf)
              else (predicate.value,) if isinstance(predicate, Compare) else ())
    names = [getattr(node, a, None) for a in ("name", "key", "event_type", "property_name",
                                               "identifier_type", "purpose", "segment")]
    return "".join(t for t in (*names, *values) if isinstance(t, str))


# -- what names are known ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The names a definition may use. None: any name is accepted for that kind."""

    computed: frozenset[str] | None = None
    computed_maps: frozenset[str] = frozenset()  # computed traits whose value is a map
    traits: frozenset[str] | None = None
    event_types: frozenset[str] | None = None
    identifier_types: frozenset[str] | None = None
    consent_purposes: frozenset[str] | None = None
    segments: frozenset[str] | None = None

    @classmethod
    def of(cls, traits: TraitsConfig, *, segments: Collection[str] | None = None,
           profile_traits: Collection[str] | None = None,
           event_types: Collection[str] | None = None,
           identifier_types: Collection[str] | None = None,
           consent_purposes: Collection[str] | None = None) -> Vocabulary:
        def frozen(names: Collection[str] | None) -> frozenset[str] | None:
            return None if names is None else frozenset(names)

        return cls(
            computed=frozenset(traits.names),
            computed_maps=frozenset(t.name for t in traits.traits if t.kind in MAP_KINDS),
            traits=frozen(profile_traits),
            event_types=frozen(event_types),
            identifier_types=frozen(identifier_types),
            consent_purposes=frozen(consent_purposes),
            segments=frozen(segments),
        )


# -- the lexer ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # name, string, number, duration, op, punct, end
    text: str
    line: int
    column: int

    @property
    def lower(self) -> str:
        return self.text.lower()

    def describe(self) -> str:
        return "the end of the definition" if self.kind == "end" else repr(self.text)


_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\n]+|\#[^\n]*)
  | (?P<duration>\d+[hdw])(?![A-Za-z0-9_])
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<>|<=|>=|=|<|>)
  | (?P<punct>[()\[\],.*])
""", re.VERBOSE)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        column = pos - line_start + 1
        if found is None:
            char = text[pos]
            hint = "; text goes in double quotes" if char in "'\u2018\u2019\u201c\u201d" else ""
            if char == '"':
                hint = "; a text value must end with \" on the same line"
            raise SegmentError(f"unexpected character {char!r}{hint}", text=text, line=line,
                               column=column)
        kind = found.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, found.group(), line, column))
        for offset, char in enumerate(found.group()):
            if char == "\n":
                line, line_start = line + 1, pos + offset + 1
        pos = found.end()
    tokens.append(Token("end", "", line, pos - line_start + 1))
    return tokens


def _surrogate(text: str) -> str | None:
    return next((c for c in text if "\ud800" <= c <= "\udfff"), None)


# -- the parser --------------------------------------------------------------------------
def parse_condition(text: str, vocabulary: Vocabulary | None = None) -> Condition:
    """Parse a definition; raises SegmentError pointing at the fault."""
    return _Parser(text, vocabulary or Vocabulary()).definition()


def parse_segment(name: str, text: str, vocabulary: Vocabulary | None = None) -> Segment:
    """A named segment; the name is lower_snake_case. Raises SegmentError."""
    if not NAME_PATTERN.match(name):
        raise SegmentError(f"a segment name is lower_snake_case, such as high_value, "
                           f"not {name!r}", segment=name)
    try:
        return Segment(name, text, parse_condition(text, vocabulary))
    except SegmentError as exc:
        raise exc.for_segment(name) from None


class _Parser:
    def __init__(self, text: str, vocabulary: Vocabulary) -> None:
        self.text = text
        self.vocabulary = vocabulary
        self.tokens = tokenize(text)
        self.pos = 0
        self.nesting = 0

    # token helpers
    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.token.kind == "name" and self.token.lower in words

    def at_punct(self, char: str) -> bool:
        return self.token.kind == "punct" and self.token.text == char

    def fail(self, reason: str, token: Token | None = None,
             length: int | None = None) -> NoReturn:
        token = token or self.token
        raise SegmentError(reason, text=self.text, line=token.line, column=token.column,
                           length=length if length is not None else len(token.text))

    def expected(self, what: str) -> NoReturn:
        self.fail(f"expected {what}, found {self.token.describe()}")

    def expect_punct(self, char: str, what: str | None = None) -> Token:
        if not self.at_punct(char):
            self.expected(what or repr(char))
        return self.advance()

    def span_from(self, start: Token) -> Span:
        end = self.tokens[self.pos - 1]
        if end.line != start.line:
            return Span(start.line, start.column, len(start.text))
        return Span(start.line, start.column, end.column + len(end.text) - start.column)

    # grammar
    def definition(self) -> Condition:
        if self.token.kind == "end":
            self.fail("a definition needs at least one condition, such as has(email)")
        node = self.expr(self.factor)
        if self.token.kind != "end":
            self.expected("AND, OR or the end of the definition")
        return node

    def expr(self, factor: _Factor) -> Node:
        items = [self.term(factor)]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.term(factor))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def term(self, factor: _Factor) -> Node:
        items = [self.negation(factor)]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.negation(factor))
        return items[0] if len(items) == 1 else And(tuple(items))

    def negation(self, factor: _Factor) -> Node:
        if self.at_keyword("not"):
            with self.nested():
                self.advance()
                return Not(self.negation(factor))
        if self.at_punct("("):
            with self.nested():
                self.advance()
                node = self.expr(factor)
                self.expect_punct(")", "')' to close the parenthesis")
                return node
        return factor()

    @contextmanager
    def nested(self) -> Iterator[None]:
        if self.nesting >= MAX_NESTING:
            self.fail(f"nested more than {MAX_NESTING} levels deep (parentheses and NOT); "
                      f"simplify the condition, or move part of it into a segment of its "
                      f"own and use in_segment(...)")
        self.nesting += 1
        try:
            yield
        finally:
            self.nesting -= 1

    def factor(self) -> Node:
        start = self.token
        if start.kind != "name" or start.lower in KEYWORDS:
            self.expected(f"a condition ({', '.join(f + '(...)' for f in FUNCTIONS)})")
        function = start.lower
        if function not in FUNCTIONS:
            self.fail(f"unknown condition {start.text!r}" + did_you_mean(function, FUNCTIONS)
                      + "; events are counted with count(TYPE), such as count(purchase) >= 1")
        self.advance()
        self.expect_punct("(", f"'(' after {function}")
        return getattr(self, "_" + function)(start)

    def _trait(self, start: Token) -> Node:
        token, name = self.name("a trait name")
        self.check_known(name, self.vocabulary.traits, "trait", token)
        self.close(function="trait")
        return TraitCondition(name, self.predicate(), self.span_from(start))

    def _computed(self, start: Token) -> Node:
        token, name = self.name("a computed trait name")
        self.check_known(name, self.vocabulary.computed, "computed trait", token)
        key = None
        is_map = name in self.vocabulary.computed_maps
        if self.at_punct("."):
            self.advance()
            key_token, key = self.name("an entry name after '.'")
            if not is_map and self.vocabulary.computed is not None:
                self.fail(f"computed trait {name!r} is a single value, it has no entries",
                          key_token)
            self.check_known(key, self.vocabulary.event_types, "event type", key_token)
        self.close(function="computed")
        predicate = self.predicate()
        if is_map and key is None and not isinstance(predicate, Exists):
            self.fail(f"computed trait {name!r} counts each event type: compare one entry, "
                      f"such as computed({name}.purchase)", token, len(name))
        return ComputedCondition(name, key, predicate, self.span_from(start))

    def _count(self, start: Token) -> Node:
        event_type = self.event_type()
        where = self.where()
        self.close(function="count")
        return self.event_condition(start, "count", event_type, None, where)

    def _sum(self, start: Token) -> Node:
        event_type = self.event_type()
        if not self.at_punct("."):
            self.expected("'.' and the property to add up, such as sum(purchase.amount)")
        self.advance()
        _, prop = self.name("the property to add up, such as amount")
        where = self.where()
        self.close(function="sum")
        return self.event_condition(start, "sum", event_type, prop, where)

    def _has(self, start: Token) -> Node:
        token, name = self.name("an identifier type, such as email")
        self.check_known(name, self.vocabulary.identifier_types, "identifier type", token)
        self.close(function="has")
        return HasIdentifier(name, self.span_from(start))

    def _consent(self, start: Token) -> Node:
        token, name = self.name("a consent purpose, such as email_marketing")
        self.check_known(name, self.vocabulary.consent_purposes, "consent purpose", token)
        self.close(function="consent")
        return ConsentGiven(name, self.span_from(start))

    def _in_segment(self, start: Token) -> Node:
        token, name = self.name("a segment name")
        self.check_known(name, self.vocabulary.segments, "segment", token)
        self.close(function="in_segment")
        return InSegment(name, self.span_from(start))

    # pieces
    def name(self, what: str) -> tuple[Token, str]:
        token = self.token
        if token.kind == "name":
            self.advance()
            return token, token.text
        if token.kind == "string":
            self.advance()
            return token, self.text_of(token)
        self.expected(what)

    def text_of(self, token: Token) -> str:
        """The value of a string token; its escapes are JSON's."""
        try:
            value = json.loads(token.text)
        except json.JSONDecodeError as exc:
            self.fail(f"not a valid text value ({exc.msg.lower()}); escape a quote as \\\" "
                      f"and a backslash as \\\\", token)
        return value

    def close(self, function: str) -> None:
        self.expect_punct(")", f"')' to close {function}(")

    def check_known(self, name: str, known: frozenset[str] | None, what: str,
                    token: Token) -> None:
        if known is not None and name not in known:
            self.fail(f"unknown {what} {name!r}" + did_you_mean(name, known), token)

    def event_type(self) -> str | None:
        if self.at_punct("*"):
            self.advance()
            return None
        token, name = self.name("an event type, such as purchase, or * for any type")
        self.check_known(name, self.vocabulary.event_types, "event type", token)
        return name

    def where(self) -> Filter | None:
        if not self.at_keyword("where"):
            return None
        self.advance()
        return self.expr(self.field_condition)

    def field_condition(self) -> Node:
        start = self.token
        if start.kind not in ("name", "string") or start.lower in KEYWORDS:
            self.expected("an event property, source or type")
        if start.lower in FUNCTIONS and self.tokens[self.pos + 1].text == "(":
            self.fail(f"a where filter compares the event's properties; close the count or "
                      f"sum with ')' before {start.text}(...)")
        _, name = self.name("an event property")
        while self.at_punct("."):
            self.advance()
            name += "." + self.name("a property name after '.'")[1]
        if name not in ("source", "type") and not name.startswith("properties."):
            name = "properties." + name
        return FieldCondition(name, self.predicate(), self.span_from(start))

    def event_condition(self, start: Token, function: str, event_type: str | None,
                        prop: str | None, where: Filter | None) -> Node:
        op = self.op(f"a comparison after {function}(...), such as >= 2")
        number = self.value()
        if not isinstance(number, int | float) or isinstance(number, bool):
            self.fail(f"{function}(...) compares with a number, not {number!r}",
                      self.tokens[self.pos - 1])
        window = None
        if self.at_keyword("within"):
            self.advance()
            window = self.duration()
        return EventCondition(function, event_type, prop, where, op, float(number), window,
                              self.span_from(start))

    def duration(self) -> timedelta:
        token = self.token
        if token.kind == "duration":
            window = self.window(token.text, token, len(token.text))
            self.advance()
            return window
        if token.kind == "number" and self.tokens[self.pos + 1].kind == "name":
            unit = self.tokens[self.pos + 1]
            try:
                parse_duration(f"1 {unit.text}")
            except ValueError:  # not a unit: point at it
                self.bad_window(unit, len(unit.text))
            window = self.window(f"{token.text} {unit.text}", token, len(token.text))
            self.pos += 2
            return window
        self.expected("a duration such as 30d, 12h or 2w")

    def window(self, text: str, token: Token, length: int) -> timedelta:
        """A `within` duration, from 1 hour to MAX_WINDOW."""
        try:
            window = parse_duration(text)
        except (ValueError, OverflowError):  # 0d, or more days than a time can count
            self.bad_window(token, length)
        if window > MAX_WINDOW:
            self.bad_window(token, length)
        return window

    def bad_window(self, token: Token, length: int) -> NoReturn:
        self.fail(f"a duration is a whole number of hours, days or weeks, from 1h up to "
                  f"{MAX_WINDOW.days:,}d, such as 30d, 12h or 2w", token, length)

    def op(self, what: str) -> str:
        token = self.token
        if token.kind != "op":
            self.expected(what)
        self.advance()
        return _OP_ALIASES.get(token.text, token.text)

    def predicate(self) -> Predicate:
        if self.at_keyword("exists"):
            self.advance()
            return Exists()
        if self.at_keyword("in"):
            self.advance()
            self.expect_punct("[", "'[' to start a list of values")
            values = [self.value()]
            while self.at_punct(","):
                self.advance()
                values.append(self.value())
            self.expect_punct("]", "',' or ']' to end the list of values")
            return OneOf(tuple(values))
        op = self.op("a comparison (= != < <= > >=), in [...] or exists")
        return Compare(op, self.value())

    def value(self) -> Value:
        token = self.token
        if token.kind == "string":
            self.advance()
            return self.text_of(token)
        if token.kind == "number":
            if sum(c.isdigit() for c in token.text) > MAX_NUMBER_DIGITS:
                self.fail(f"a number has at most {MAX_NUMBER_DIGITS} digits", token)
            self.advance()
            return float(token.text) if "." in token.text else int(token.text)
        if self.at_keyword("true", "false"):
            self.advance()
            return token.lower == "true"
        if token.kind == "name":
            self.fail(f"expected a value; write text in double quotes: \"{token.text}\"")
        self.expected("a value: \"text\", a number, true or false")


# -- back to text ------------------------------------------------------------------------
_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@lru_cache(maxsize=4096)  # evaluation writes the why of every condition, every time
def render(node: Node) -> str:
    """The canonical text of a tree; parsing it gives the same tree."""
    match node:
        case And(items):
            return " AND ".join(_wrapped(i, Or) for i in items)
        case Or(items):
            return " OR ".join(render(i) for i in items)
        case Not(item):
            return "NOT " + _wrapped(item, And | Or)
        case TraitCondition() | ComputedCondition() | FieldCondition():
            return _condition_text(node)
        case EventCondition():
            return _event_text(node)
        case HasIdentifier(name) | ConsentGiven(name) | InSegment(name):
            return f"{_CALLS[type(node)]}({_name(name)})"
    raise TypeError(f"not a segment node: {node!r}")


# the conditions written as a call on one name
_CALLS: dict[type, str] = {HasIdentifier: "has", ConsentGiven: "consent", InSegment: "in_segment"}


def _condition_text(node: TraitCondition | ComputedCondition | FieldCondition) -> str:
    """A condition on a value: the value's name, then its predicate."""
    match node:
        case TraitCondition(name, predicate):
            return f"trait({_name(name)}){_predicate(predicate)}"
        case ComputedCondition(name, key, predicate):
            entry = f".{_name(key)}" if key is not None else ""
            return f"computed({_name(name)}{entry}){_predicate(predicate)}"
    shown = node.name.removeprefix("properties.")
    if shown in ("source", "type") or not all(map(_SIMPLE_NAME.match, shown.split("."))):
        shown = node.name
    return f"{shown}{_predicate(node.predicate)}"


def _wrapped(node: Node, kinds: type | UnionType) -> str:
    text = render(node)
    return f"({text})" if isinstance(node, kinds) else text


def _event_text(node: EventCondition) -> str:
    what = _name(node.event_type) if node.event_type is not None else "*"
    if node.property_name is not None:
        what += f".{_name(node.property_name)}"
    if node.where is not None:
        what += f" where {render(node.where)}"
    window = f" within {format_duration(node.window)}" if node.window else ""
    return f"{node.function}({what}) {node.op} {format_value(node.value)}{window}"


def _name(name: str) -> str:
    return name if _SIMPLE_NAME.match(name) and name.lower() not in KEYWORDS else json.dumps(name)


def _predicate(predicate: Predicate) -> str:
    match predicate:
        case Exists():
            return " exists"
        case OneOf(values):
            return " in [" + ", ".join(format_value(v) for v in values) + "]"
        case Compare(op, value):
            return f" {op} {format_value(value)}"
    raise TypeError(f"not a predicate: {predicate!r}")


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if value is None:
        return "no value"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)
