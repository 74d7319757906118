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

from app.domain.segments.language import format_value

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


def reword(line: str, shown: Callable[[str | None, Any], Any]) -> str:
    """The line with its value replaced by `shown(trait, value)`."""
    why = parse_why(line)
    if why.value is NO_DETAIL:
        return line
    return word(why.condition, shown(why.trait, why.value))
