"""Poisonous events, one fault each, with the field their rejection must name: the values
of issue 12 that once aborted a load or an API call, and their neighbours."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TS = "2024-05-01T12:00:00Z"


def good(event_id: str, **extra: Any) -> dict[str, Any]:
    """A v1 event that is valid: a page view of a cookie of its own."""
    return {"event_id": event_id, "type": "page_view", "timestamp": TS, "source": "web",
            "identifiers": [{"type": "cookie", "value": f"c-{event_id}"}], **extra}


def line(event: dict[str, Any], **literals: str) -> bytes:
    """The event as one JSON line; each string "@NAME@" in it becomes the raw text
    literals[NAME], for what no JSON writer produces (NaN, 400 digits, 5,000 brackets)."""
    text = json.dumps(event)
    for name, literal in literals.items():
        text = text.replace(f'"@{name}@"', literal)
    return text.encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@dataclass(frozen=True)
class Poison:
    name: str
    make: Callable[[str], bytes]  # the JSON line for an event id
    field: str  # the field its rejection names (it starts with this)
    reason: str  # a word its reason holds
    over_http: bool = True  # a JSON body any JSON parser reads can hold it


def _amount(literal: str) -> Callable[[str], bytes]:
    return lambda eid: line(good(eid, type="purchase", properties={"amount": "@A@"}), A=literal)


def _event(**extra: Any) -> Callable[[str], bytes]:
    return lambda eid: line({**good(eid), **extra})


POISONS = [
    Poison("an amount of 1 and 400 zeros", _amount("1" + "0" * 400), "properties.amount",
           "number"),
    Poison("an amount of 5,000 digits", _amount("9" * 5000), "properties.amount", "number",
           over_http=False),
    Poison("an amount of 10^38", _amount(str(10**38)), "properties.amount", "range"),
    Poison("an amount of 1e400", _amount("1e400"), "properties.amount", "finite number"),
    Poison("NaN", _amount("NaN"), "properties.amount", "finite number", over_http=False),
    Poison("Infinity", _amount("Infinity"), "properties.amount", "finite number",
           over_http=False),
    Poison("-Infinity", _amount("-Infinity"), "properties.amount", "finite number",
           over_http=False),
    Poison("a timestamp past 9999 in UTC", _event(timestamp="9999-12-31T23:59:59-23:59"),
           "timestamp", "range"),
    Poison("a timestamp before year 1 in UTC", _event(timestamp="0001-01-01T00:00:00+14:00"),
           "timestamp", "range"),
    Poison("a timestamp before 1900", _event(timestamp="1899-12-31T23:59:59Z"), "timestamp",
           "range"),
    Poison("a timestamp from year 3000", _event(timestamp="3000-01-01T00:00:00Z"),
           "timestamp", "range"),
    Poison("a lone surrogate in an identifier",
           lambda eid: line(good(eid, identifiers=[{"type": "cookie", "value": "\ud800"}])),
           "identifiers[0].value", "surrogate"),
    Poison("a lone surrogate in the event id",
           lambda eid: line({**good(eid), "event_id": eid + "\udfff"}), "event_id",
           "surrogate"),
    Poison("a lone surrogate as a trait name", _event(traits={"\udc00": "x"}), "traits[",
           "surrogate"),
    Poison("a NUL byte in the event id", lambda eid: line({**good(eid), "event_id": eid + "\0"}),
           "event_id", "NUL"),
    Poison("a NUL byte in an identifier",
           lambda eid: line(good(eid, identifiers=[{"type": "cookie", "value": "a\0b"}])),
           "identifiers[0].value", "NUL"),
    Poison("nesting 5,000 deep", lambda eid: line(good(eid, properties={"a": "@N@"}),
                                                  N=nested(5000)),
           "message", "nest", over_http=False),
    Poison("nesting 40 deep", lambda eid: line(good(eid, properties={"a": "@N@"}),
                                               N=nested(40)),
           "properties.a[0]", "nest"),
    Poison("a string of 70,000 characters", _event(traits={"note": "x" * 70_000}),
           "traits.note", "characters"),
    Poison("10,001 values", _event(properties={"list": [0] * 10_001}), "event", "values"),
    Poison("bytes that are not UTF-8",
           lambda eid: line(good(eid, identifiers=[{"type": "cookie", "value": "@V@"}]),
                            V='"caf\xe9"').replace("caf\xe9".encode(), b"caf\xe9"),
           "identifiers[0].value", "UTF-8", over_http=False),
]
HTTP_POISONS = [p for p in POISONS if p.over_http]
