"""Bounds on every value that enters idgraph, checked before any other code reads it.

Every entry point (JSONL of v1 events or Segment messages, CSV, Kafka, `ingestEvents`)
passes its values through here, so that no value can break the code after it: a number
too large for a float, a date that leaves the calendar when moved to UTC, text that no
UTF-8 store can hold, nesting that exhausts the stack. docs/events.md ("Bounds") states
the same limits for users.

- `decode` reads JSON text without ever failing on a number: a number it will not
  convert (NaN, an infinity, one written with too many characters) becomes a
  `RefusedNumber`, which `check` then reports with the field that holds it.
- `check` walks a decoded value and raises `OutOfBounds` naming the first field out of
  bounds, with the reason.
- `utc` moves a date-time to UTC and checks the accepted range.
- `finite` is the reading side: a number within bounds, or None, for values that were
  stored before these bounds existed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

MAX_DEPTH = 32  # objects and arrays nested in one event, the event itself included
MAX_VALUES = 10_000  # values in one event: object members, array items, the event itself
MAX_STRING = 65_536  # characters of one string
MAX_KEY = 256  # characters of one object key
MAX_TEXT = 1_000_000  # characters of all strings and keys of one event
MAX_NUMBER_TEXT = 64  # characters of a number as written in JSON
# 38 digits: the precision of NUMBER(38) / DECIMAL(38) in data warehouses. Every 64-bit
# and 128-bit id fits; sums and squares of such numbers stay far from float overflow.
MAX_MAGNITUDE = 10**38
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)

DEPTH_REASON = f"objects and arrays nest more than {MAX_DEPTH} levels deep"
_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# orjson reads integers past 64 bits as floats; the standard library keeps every digit.
_LONG_INTEGER = re.compile(r"\d{19}")
_LONG_INTEGER_BYTES = re.compile(rb"\d{19}")


class OutOfBounds(Exception):
    """A value outside the bounds: `field` names where (`properties.amount`,
    `identifiers[0].value`), `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class NotJSON(ValueError):
    """Text that `decode` cannot read; `reason` says where and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RefusedNumber:
    """A JSON number `decode` did not convert; `check` reports it with its field."""

    text: str
    reason: str


# -- decoding -----------------------------------------------------------------------------
def decode(text: str | bytes) -> object:
    """JSON text as Python values. Fast (orjson) where orjson reads the text as the
    standard library does; otherwise the standard library, with numbers refused rather
    than converted when they are out of bounds. Raises NotJSON, or OutOfBounds for
    nesting too deep to read at all."""
    long_integer = _LONG_INTEGER_BYTES if isinstance(text, bytes) else _LONG_INTEGER
    if long_integer.search(text) is None:  # type: ignore[arg-type]
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    if isinstance(text, bytes):
        # Bytes that are not UTF-8 become lone surrogates, which `check` rejects with the
        # field that holds them.
        text = text.decode("utf-8", "surrogateescape")
    try:
        return json.loads(text, parse_int=_integer, parse_float=_float,
                          parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise NotJSON(f"{exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise OutOfBounds("", DEPTH_REASON) from None


def _integer(text: str) -> int | RefusedNumber:
    # Converting thousands of digits costs time (and past 4,300 raises): refuse first.
    if len(text) > MAX_NUMBER_TEXT:
        return RefusedNumber(text, too_long(text))
    return int(text)


def _float(text: str) -> float | RefusedNumber:
    if len(text) > MAX_NUMBER_TEXT:
        return RefusedNumber(text, too_long(text))
    value = float(text)
    if not math.isfinite(value):
        return RefusedNumber(text, f"{text} is not a finite number: it is beyond the "
                                   "largest number a float holds")
    return value


def _constant(text: str) -> RefusedNumber:
    return RefusedNumber(text, f"{text} is not a finite number")


def too_long(text: str) -> str:
    return f"a number written with {len(text):,} characters; at most {MAX_NUMBER_TEXT}"


# -- checking -----------------------------------------------------------------------------
class _Fault(Exception):
    """Raised deep in the walk; the path is collected on the way out, so a value within
    bounds costs no path building."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.path: list[str | int] = []


@dataclass(slots=True)
class _Budget:
    values: int = 0
    text: int = 0


def check(value: object, whole: str = "event") -> None:
    """Raise OutOfBounds for the first field of `value` (an event, or a message) outside
    the bounds; the field `whole` when the fault is the size of the whole."""
    budget = _Budget()
    try:
        _check(value, 1, budget)
    except _Fault as fault:
        raise OutOfBounds(field_name(fault.path[::-1]) or whole, fault.reason) from None
    if budget.values > MAX_VALUES:
        raise OutOfBounds(whole, f"holds more than {MAX_VALUES:,} values (object members, "
                                 "array items)")
    if budget.text > MAX_TEXT:
        raise OutOfBounds(whole, f"holds more than {MAX_TEXT:,} characters of text")


def _check(value: object, depth: int, budget: _Budget) -> None:
    budget.values += 1
    kind = type(value)
    if kind is str:
        _check_text(value, MAX_STRING, budget)  # type: ignore[arg-type]
    elif kind is dict:
        _check_object(value, depth, budget)  # type: ignore[arg-type]
    elif kind is list:
        _check_array(value, depth, budget)  # type: ignore[arg-type]
    else:
        _check_scalar(value)


def _check_object(value: dict[Any, object], depth: int, budget: _Budget) -> None:
    _check_depth(depth)
    for key, item in value.items():
        try:
            if type(key) is not str:
                raise _Fault("an object key must be text")
            _check_text(key, MAX_KEY, budget)
            _check(item, depth + 1, budget)
        except _Fault as fault:
            fault.path.append(key)
            raise
        if _spent(budget):
            return  # reported by `check`, once, for the whole event


def _check_array(value: list[object], depth: int, budget: _Budget) -> None:
    _check_depth(depth)
    for index, item in enumerate(value):
        try:
            _check(item, depth + 1, budget)
        except _Fault as fault:
            fault.path.append(index)
            raise
        if _spent(budget):
            return


def _spent(budget: _Budget) -> bool:
    return budget.values > MAX_VALUES or budget.text > MAX_TEXT


def _check_scalar(value: object) -> None:
    kind = type(value)
    if kind is int or kind is float:
        _check_number(value)  # type: ignore[arg-type]
    elif kind is RefusedNumber:
        raise _Fault(value.reason)  # type: ignore[attr-defined]
    elif value is not None and kind is not bool:
        raise _Fault(f"is not a JSON value (a {kind.__name__})")


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Fault(DEPTH_REASON)


def _check_text(text: str, longest: int, budget: _Budget) -> None:
    budget.text += len(text)
    if len(text) > longest:
        raise _Fault(f"is {len(text):,} characters long; at most {longest:,}")
    if "\x00" in text:
        raise _Fault("contains a NUL character (U+0000)")
    if not text.isascii() and _SURROGATE.search(text):
        raise _Fault("is not valid Unicode: it holds a lone surrogate (U+D800 to U+DFFF) "
                     "or bytes that are not UTF-8")


def _check_number(number: int | float) -> None:
    if finite(number) is None:
        raise _Fault(_number_reason(number))


def _number_reason(number: int | float) -> str:
    if isinstance(number, float) and not math.isfinite(number):
        name = "NaN" if math.isnan(number) else ("-" if number < 0 else "") + "Infinity"
        return f"{name} is not a finite number"
    size = f"a number of {_digits(number)} digits" if isinstance(number, int) else repr(number)
    return f"{size} is out of range; numbers must be below 10^38 in magnitude"


def _digits(number: int) -> str:
    try:
        return f"{len(str(abs(number))):,}"
    except ValueError:  # past the interpreter's limit on integer-to-text conversion
        return f"about {math.floor(number.bit_length() * math.log10(2)) + 1:,}"


def is_safe_text(value: object) -> bool:
    """Whether `value` is text that can be shown and stored as it is (an event id quoted
    in a problem report, say)."""
    if type(value) is not str:
        return False
    try:
        _check_text(value, MAX_STRING, _Budget())
    except _Fault:
        return False
    return True


def finite(number: object) -> float | None:
    """The number as a float if it is within bounds (finite, below 10^38 in magnitude),
    else None. Booleans are not numbers."""
    kind = type(number)
    if kind is int:
        return float(number) if -MAX_MAGNITUDE < number < MAX_MAGNITUDE else None  # type: ignore[operator,arg-type]
    if kind is float:
        return number if -MAX_MAGNITUDE < number < MAX_MAGNITUDE else None  # type: ignore[operator,return-value]
    return None


def field_name(path: list[Any]) -> str:
    """["properties", "amount"] -> "properties.amount"; ["identifiers", 0, "value"] ->
    "identifiers[0].value". Keys that are not plain names are quoted and escaped to
    ASCII, and long paths are cut, so that a name is always safe to show and store."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not isinstance(part, str):
            text += f"[{type(part).__name__}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            shown = part if len(part) <= 40 else part[:40] + "..."
            text += f"[{json.dumps(shown)}]"
        if len(text) > 200:
            return text[:200] + "..."
    return text


# -- dates --------------------------------------------------------------------------------
def utc(moment: datetime) -> datetime:
    """An aware date-time moved to UTC, within EARLIEST..LATEST. Raises OutOfBounds (with
    no field: the caller knows it)."""
    try:
        moved = moment.astimezone(UTC)
    except OverflowError:
        moved = None
    if moved is None or not EARLIEST <= moved <= LATEST:
        raise OutOfBounds("", f"{moment.isoformat()} is outside the accepted range "
                              f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} (in UTC)")
    return moved
