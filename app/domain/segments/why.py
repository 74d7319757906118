"""How a why is worded: a condition in the segment language, and the value it saw.

    trait(last_name) exists (value: "van Dijk")
    count(purchase) >= 2 within 30d (value: 3)
    NOT consent(email_marketing) (value: "refused")

`word` writes a line, `parse_why` reads one back, and `reword` writes it again with the
value shown another way: a reader sees `trait(last_name) exists (value: "v.")`
(app/api/masking.py). Lines without a value (`has(email)`, `merged into c_1`) stay as
they are.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.domain.segments.language import SegmentError, Token, format_value, tokenize

DETAIL = " (value: "
NO_DETAIL: Any = object()  # a condition shown without a value
_TRAIT = re.compile(r'^(?:NOT )*trait\(([A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")\)')
_WORDS = {"true": True, "false": False, "no value": None, "inf": math.inf,
          "-inf": -math.inf, "nan": math.nan}


def word(condition: str, value: Any = NO_DETAIL) -> str:
    return condition if value is NO_DETAIL else f"{condition}{DETAIL}{format_value(value)})"


@dataclass(frozen=True, slots=True)
class Why:
    condition: str
    trait: str | None  # the profile trait the condition reads, if it reads one
    value: Any = NO_DETAIL


def parse_why(line: str) -> Why:
    """The parts of a why line. The value is the last `(value: ...)` whose text reads
    back as a value, so a quoted value that itself holds `(value: ` is read whole."""
    condition, value = line, NO_DETAIL
    if line.endswith(")"):
        at = line.rfind(DETAIL)
        while at >= 0:
            found = _value(line[at + len(DETAIL):-1])
            if found is not NO_DETAIL:
                condition, value = line[:at], found
                break
            at = line.rfind(DETAIL, 0, at)
    match = _TRAIT.match(condition)
    trait = None
    if match:
        name = match[1]
        trait = json.loads(name) if name.startswith('"') else name
    return Why(condition, trait, value)


def _value(text: str) -> Any:
    if text in _WORDS:
        return _WORDS[text]
    try:
        return json.loads(text)
    except ValueError:
        return NO_DETAIL


def reword(line: str, shown: Callable[[str | None, Any], Any],
           literal: Callable[[str, Any], Any] | None = None) -> str:
    """The line with its value replaced by `shown(trait, value)`, and the values its
    condition compares a trait with by `literal(that trait, value)` (reword_literals)."""
    why = parse_why(line)
    condition = reword_literals(why.condition, literal or shown)
    if why.value is NO_DETAIL:
        return condition
    return word(condition, shown(why.trait, why.value))


def reword_literals(text: str, shown: Callable[[str, Any], Any]) -> str:
    """A definition (or the condition of a why) with each value a `trait(NAME)` condition
    compares with replaced by `shown(NAME, value)`: `trait(last_name) = "van Dijk"` can
    read `trait(last_name) = "v."`. Comments and layout stay; a text that is not in the
    segment language is returned as it is."""
    try:
        tokens = tokenize(text)
    except SegmentError:
        return text
    starts = [0] + [n + 1 for n, char in enumerate(text) if char == "\n"]
    edits: list[tuple[int, int, str]] = []
    trait: str | None = None
    for n, token in enumerate(tokens):
        if token.kind == "name" and token.lower == "trait" and _is_call(tokens, n):
            name = tokens[n + 2].text
            trait = json.loads(name) if name.startswith('"') else name
        elif token.kind in ("string", "number") and trait is not None and (
                tokens[n - 2].lower != "trait"):
            start = starts[token.line - 1] + token.column - 1
            edits.append((start, start + len(token.text),
                          format_value(shown(trait, json.loads(token.text)))))
        elif _ends_condition(tokens, n):
            trait = None
    for start, end, new in reversed(edits):
        text = text[:start] + new + text[end:]
    return text


def _is_call(tokens: list[Token], n: int) -> bool:
    return (n + 3 < len(tokens) and tokens[n + 1].text == "(" and tokens[n + 3].text == ")"
            and tokens[n + 2].kind in ("name", "string"))


def _ends_condition(tokens: list[Token], n: int) -> bool:
    """AND, OR, NOT, or the call of another function: the next values are not the
    trait's."""
    token = tokens[n]
    if token.kind == "name":
        return token.lower in ("and", "or", "not")
    return token.text == "(" and n > 0 and tokens[n - 1].lower != "trait"
