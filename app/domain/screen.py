"""A quick screen in front of the event checks: it passes the plain events, the ones that
the bounds (app/domain/bounds.py) and the committed JSON Schema would both accept, in one
lean walk; every other event goes through those checks, which say which field is wrong
and why. The screen never rejects and never reports: when it is unsure it says "not
plain", so an event it passes is one the full checks accept, and its errors are theirs.

Its numbers and patterns are read from the committed schema itself, so that the file users
read stays the one that is enforced; tests/unit/test_screen.py holds it to the full checks
on valid and invalid events.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from app.domain import bounds

SCHEMA_RESOURCE = "event.v1.schema.json"
_SURROGATE = re.compile("[\ud800-\udfff]")
_EMPTY: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Text:
    """The schema's constraints on one text field."""

    shortest: int = 0
    longest: int = bounds.MAX_STRING
    pattern: re.Pattern[str] | None = None

    def admits(self, value: object) -> bool:
        return (type(value) is str and self.shortest <= len(value) <= self.longest
                and (self.pattern is None or self.pattern.search(value) is not None))


@dataclass(frozen=True, slots=True)
class Shape:
    fields: frozenset[str]
    required: frozenset[str]
    texts: tuple[tuple[str, Text], ...]  # the event's own text fields
    fewest_identifiers: int
    most_identifiers: int
    identifier_type: Text
    identifier_value: Text


def _text(spec: dict[str, Any]) -> Text:
    pattern = spec.get("pattern")
    # JSON Schema's `$` ends the text; Python's also matches before a final newline.
    compiled = re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern)) if pattern else None
    return Text(spec.get("minLength", 0), spec.get("maxLength", bounds.MAX_STRING), compiled)


def committed_schema() -> dict[str, Any]:
    """The committed JSON Schema of v1 events, read afresh (callers may change their copy)."""
    return json.loads(resources.files("app.schemas").joinpath(SCHEMA_RESOURCE).read_text())


@cache
def shape() -> Shape:
    schema = committed_schema()
    props = schema["properties"]
    identifiers = props["identifiers"]
    item = identifiers["items"]["properties"]
    return Shape(
        fields=frozenset(props),
        required=frozenset(schema["required"]),
        texts=tuple((name, _text(spec)) for name, spec in props.items()
                    if spec["type"] == "string"),
        fewest_identifiers=identifiers["minItems"],
        most_identifiers=identifiers["maxItems"],
        identifier_type=_text(item["type"]),
        identifier_value=_text(item["value"]),
    )


def plain(raw: dict[str, Any]) -> bool:
    """Whether `raw` is certainly within the bounds and the schema."""
    return type(raw) is dict and _fits_schema(raw, shape()) and _within_bounds(raw)


def _fits_schema(raw: dict[str, Any], shape: Shape) -> bool:
    keys = raw.keys()
    if not (keys <= shape.fields and shape.required <= keys):
        return False
    for name, text in shape.texts:
        if name in raw and not text.admits(raw[name]):
            return False
    return (_identifiers_fit(raw["identifiers"], shape)
            and type(raw.get("traits", _EMPTY)) is dict
            and type(raw.get("properties", _EMPTY)) is dict
            and _consent_fits(raw.get("consent", _EMPTY)))


def _identifiers_fit(identifiers: object, shape: Shape) -> bool:
    if type(identifiers) is not list or not (
            shape.fewest_identifiers <= len(identifiers) <= shape.most_identifiers):
        return False
    kind, value = shape.identifier_type.admits, shape.identifier_value.admits
    for item in identifiers:
        if type(item) is not dict or len(item) != 2 or not (
                kind(item.get("type")) and value(item.get("value"))):
            return False
    return True


def _consent_fits(consent: object) -> bool:
    if type(consent) is not dict:
        return False
    for given in consent.values():  # noqa: SIM110 - a loop, not all() over a generator: hot
        if type(given) is not bool:
            return False
    return True


def _plain_text(text: str) -> bool:
    return "\x00" not in text and (text.isascii() or _SURROGATE.search(text) is None)


def _within_bounds(raw: dict[str, Any]) -> bool:
    """The bounds' walk without its bookkeeping: values, text, depth, numbers."""
    values, text = 1, 0
    pending: list[tuple[object, int]] = [(raw, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > bounds.MAX_DEPTH:
            return False
        values += len(node)  # type: ignore[arg-type]
        if type(node) is dict:
            keys = _key_text(node)
            if keys < 0:
                return False
            text += keys
            items = node.values()
        else:
            items = node  # type: ignore[assignment]
        for item in items:
            kind = type(item)
            if kind is str:
                if len(item) > bounds.MAX_STRING or not _plain_text(item):
                    return False
                text += len(item)
            elif kind is dict or kind is list:
                pending.append((item, depth + 1))
            elif not _plain_scalar(item):
                return False
    return values <= bounds.MAX_VALUES and text <= bounds.MAX_TEXT


def _key_text(node: dict[Any, object]) -> int:
    """The characters of an object's keys; -1 when a key is not plain text."""
    total = 0
    for key in node:
        if type(key) is not str or len(key) > bounds.MAX_KEY or not _plain_text(key):
            return -1
        total += len(key)
    return total


def _plain_scalar(value: object) -> bool:
    kind = type(value)
    if kind is int or kind is float:
        return bounds.finite(value) is not None
    return value is None or kind is bool
