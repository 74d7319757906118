"""The quick screen in front of the event checks (app/domain/screen.py): it passes only
events that the bounds and the committed JSON Schema accept, it passes the plain events
(so that the fast path is the one taken), and parse_event answers with it exactly as with
the full checks alone, on valid and invalid events."""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from itertools import islice
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.demo import synthetic_events
from app.domain import bounds, events, screen
from app.domain.events import EventError, parse_event, schema

VALID = list(islice(synthetic_events(400, seed=7), 400))
BASE = {
    "event_id": "e1", "type": "purchase", "timestamp": "2024-03-01T10:00:00+02:00",
    "source": "web",
    "identifiers": [{"type": "email", "value": "ann@example.com"},
                    {"type": "cookie", "value": "c-1"}],
    "traits": {"first_name": "Ann", "tags": ["a", {"b": [1, 2.5, None, True]}]},
    "properties": {"amount": 19.95},
    "consent": {"email_marketing": True},
}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"x": value}
    return value


def with_(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    node: Any = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return raw


def without(name: str) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    del raw[name]
    return raw


INVALID: list[Any] = [
    *(without(name) for name in ("event_id", "type", "timestamp", "source", "identifiers")),
    with_(("extra",), 1),
    with_(("event_id",), ""), with_(("event_id",), "e" * 201), with_(("event_id",), 7),
    with_(("event_id",), "e\x00"), with_(("event_id",), "e\ud800"),
    with_(("type",), "Page_View"), with_(("type",), "page_view\n"), with_(("type",), "p" * 65),
    with_(("type",), None),
    with_(("timestamp",), "2024-03-01"), with_(("timestamp",), "2024-03-01T10:00:00Z\n"),
    with_(("timestamp",), 1709280000),
    with_(("source",), ""), with_(("source",), "s" * 65),
    with_(("identifiers",), []), with_(("identifiers",), {"type": "email"}),
    with_(("identifiers",), [{"type": "cookie", "value": f"c{n}"} for n in range(21)]),
    with_(("identifiers", 0), "ann@example.com"),
    with_(("identifiers", 0, "extra"), 1), with_(("identifiers", 0, "value"), ""),
    with_(("identifiers", 0, "value"), "v" * 513), with_(("identifiers", 0, "value"), 5),
    with_(("identifiers", 0, "type"), "E-mail"), with_(("identifiers", 0, "type"), "t" * 65),
    with_(("traits",), None), with_(("traits",), []), with_(("properties",), "x"),
    with_(("consent",), None), with_(("consent", "email_marketing"), "yes"),
    with_(("consent", "analytics"), 1),
    with_(("traits", "deep"), nested(bounds.MAX_DEPTH)),
    with_(("traits", "big"), 10**38), with_(("traits", "big"), -1e39),
    with_(("traits", "nan"), math.nan), with_(("traits", "inf"), math.inf),
    with_(("traits", "refused"), bounds.RefusedNumber("1e999", "too big")),
    with_(("traits", "tuple"), (1, 2)), with_(("traits", "set"), {1}),
    with_(("traits", 7), "int key"), with_(("traits", "k\x00"), 1),
    with_(("traits", "k" * 257), 1), with_(("traits", "surrogate"), "x\udfff"),
    with_(("traits", "long"), "x" * (bounds.MAX_STRING + 1)),
    with_(("traits", "many"), list(range(bounds.MAX_VALUES))),
    with_(("traits", "text"), ["x" * 60_000] * 17),
    OrderedDict(BASE),
]
EDGES: list[Any] = [
    with_(("traits", "deep"), nested(bounds.MAX_DEPTH - 2)),
    with_(("traits", "big"), 10**37), with_(("traits", "neg"), -1e37),
    with_(("traits", "unicode"), "Zoë 🎉"), with_(("traits", "k" * 256), 1),
    with_(("traits", "many"), list(range(bounds.MAX_VALUES - 30))),
    with_(("identifiers", 0, "value"), "v" * 512), with_(("event_id",), "e" * 200),
    with_(("consent",), {}), without("traits"),
]


def full_checks(raw: Any) -> str | None:
    """The reference: the full checks' answer, None when they accept."""
    try:
        events._check(raw)
    except EventError as exc:
        return str(exc)
    return None


def parsed(raw: Any) -> object:
    try:
        result = parse_event(raw)
    except EventError as exc:
        return ("rejected", exc.field, exc.reason)
    return result.event, [str(d) for d in result.dropped]


def parsed_by_full_checks(raw: Any, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patch:
        patch.setattr(screen, "plain", lambda raw: False)
        return parsed(raw)


def test_the_screen_passes_the_plain_events():
    assert all(screen.plain(raw) for raw in VALID)
    assert all(screen.plain(raw) for raw in EDGES)


@pytest.mark.parametrize("raw", INVALID, ids=range(len(INVALID)))
def test_the_screen_passes_no_event_the_full_checks_reject(raw, monkeypatch):
    assert full_checks(raw) is not None
    assert not screen.plain(raw)
    assert parsed(raw) == parsed_by_full_checks(raw, monkeypatch)


@pytest.mark.parametrize("raw", [*VALID[:50], *EDGES])
def test_events_it_passes_are_read_as_the_full_checks_read_them(raw, monkeypatch):
    assert full_checks(raw) is None
    jsonschema.validate(raw, schema())
    assert parsed(raw) == parsed_by_full_checks(raw, monkeypatch)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(["event_id", "type", "timestamp", "source", "identifiers",
                          "traits", "properties", "consent", "other"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(FIELDS, JSON, max_size=4), st.sampled_from(VALID[:20]))
def test_random_events_are_read_alike(overrides, base):
    raw = {**base, **overrides}
    if screen.plain(raw):
        assert full_checks(raw) is None
    with pytest.MonkeyPatch.context() as patch:
        reference = parsed_by_full_checks(raw, patch)
    assert parsed(raw) == reference
