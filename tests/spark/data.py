"""Event files for the rebuild tests: many small independent "universes" in one file, so
that one Spark run checks many random situations (merges through chains, late evidence,
per-type limits, a blocked value, hubs, households, duplicates, traits that are no
dates), with lines a load rejects and values it drops among them."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

DAYS = [f"2024-03-{d:02}" for d in range(1, 8)]
OFFSETS = ["Z", "+02:00", "-05:00"]
SOURCES = ["web", "app", "crm", "pos", "callcenter", "ads"]
# Lines a load rejects, or keeps without a value, with the reason it gives.
JUNK = [
    b"this is not json",
    b"[1, 2, 3]",
    b'{"event_id": "j1", "type": "page_view", "source": "web", '
    b'"identifiers": [{"type": "cookie", "value": "x"}]}',
    b'{"event_id": "j2", "type": "page_view", "timestamp": "yesterday", "source": "web", '
    b'"identifiers": [{"type": "cookie", "value": "x"}]}',
    b'{"event_id": "j3", "type": "page_view", "timestamp": "3000-01-01T00:00:00Z", '
    b'"source": "web", "identifiers": [{"type": "cookie", "value": "x"}]}',
    b'{"event_id": "j4", "type": "page_view", "timestamp": "2024-03-01T00:00:00Z", '
    b'"source": "web", "identifiers": [{"type": "phone", "value": "12"}]}',
    b'{"event_id": "j5", "type": "page_view", "timestamp": "2024-03-01T00:00:00Z", '
    b'"source": "web", "identifiers": [{"type": "cookie", "value": "jx"}], '
    b'"properties": {"amount": 1e400}}',
    b'{"event_id": "j6", "type": "page_view", "timestamp": "2024-03-01T00:00:00Z", '
    b'"source": "web", "identifiers": [{"type": "cookie", "value": "\xff\xfe"}]}',
    b'{"event_id": "j7", "type": "Page View", "timestamp": "2024-03-01T00:00:00Z", '
    b'"source": "web", "identifiers": [{"type": "cookie", "value": "x"}]}',
    b"",
    b"   ",
]


def _universe(rng: random.Random, u: int) -> list[dict[str, Any]]:
    cookies = [f"cookie:u{u}c{n}" for n in range(6)]
    emails = [f"email:p{n}@u{u}.example" for n in range(5)]
    crms = [f"crm_id:U{u}C{n}" for n in range(3)]
    phones = [f"phone:+316{u:03}{n:05}" for n in range(3)]
    pool = cookies + emails + crms + phones + ["email:test@test.com", "cookie:unknown",
                                               f"device_id:dev-u{u}"]
    events = []
    for n in range(rng.randint(3, 18)):
        keys = rng.sample(pool, rng.randint(1, 3))
        ts = f"{rng.choice(DAYS)}T{rng.choice([9, 10, 11])}:00:00{rng.choice(OFFSETS)}"
        traits: dict[str, Any] = {}
        if rng.random() < 0.3:
            person = rng.choice([("Ann", "1988-04-12"), ("Bo", "1990-02-31"), ("Cy", "x")])
            traits = {"first_name": person[0], "last_name": f"Jansen{u}",
                      "birth_date": person[1], "street": "Dorpsstraat", "house_number": "1"}
        events.append(_raw(f"u{u}e{n:02}", ts, keys, rng.choice(SOURCES), traits))
    if rng.random() < 0.3:  # a regular: one pair seen more often than a link's sample holds
        pair = rng.sample(cookies + emails, 2)
        for n in range(13):
            events.append(_raw(f"u{u}r{n:02}", f"{rng.choice(DAYS)}T{n + 7:02}:30:00Z", pair,
                               rng.choice(SOURCES)))
    if rng.random() < 0.4:  # a hub: a shared device seen with more people than the limit
        for n in range(17):
            events.append(_raw(f"u{u}h{n:02}", f"{rng.choice(DAYS)}T12:00:00Z",
                               [f"device_id:hub-u{u}", f"email:h{n}@u{u}.example"], "pos"))
    if rng.random() < 0.5 and events:  # a replay of an event, and a clash of event ids
        events.append(dict(rng.choice(events)))
        clash = dict(rng.choice(events))
        clash["identifiers"] = [{"type": "cookie", "value": f"u{u}clash"}]
        events.append(clash)
    if rng.random() < 0.3:  # an identifier the loader drops; the event is kept
        events.append(_raw(f"u{u}d", f"{DAYS[0]}T08:00:00Z", [cookies[0], "phone:12"], "web"))
    return events


def _raw(event_id: str, ts: str, keys: list[str], source: str,
         traits: dict[str, Any] | None = None) -> dict[str, Any]:
    identifiers = [dict(zip(("type", "value"), k.split(":", 1), strict=True)) for k in keys]
    raw: dict[str, Any] = {"event_id": event_id, "type": "page_view", "timestamp": ts,
                           "source": source, "identifiers": identifiers}
    if traits:
        raw["traits"] = traits
    return raw


def scenario(seed: int, universes: int) -> list[dict[str, Any]]:
    """The events of `universes` universes, in a random order."""
    rng = random.Random(seed)
    events = [e for u in range(universes) for e in _universe(rng, u)]
    rng.shuffle(events)
    return events


def write_jsonl(path: Path, events: list[dict[str, Any]], seed: int, junk: bool = True) -> Path:
    """The events as JSONL, with junk lines spread among them."""
    rng = random.Random(seed)
    lines = [json.dumps(e).encode() for e in events]
    if junk:
        for line in JUNK:
            lines.insert(rng.randint(0, len(lines)), line)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path
