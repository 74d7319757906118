"""Builders shared by the tests."""

from __future__ import annotations

from typing import Any

from app.domain.events import Event, parse_event


def raw_event(
    event_id: str,
    ts: str,
    *identifiers: str,
    type_: str = "page_view",
    source: str = "web",
    **extra: Any,
) -> dict[str, Any]:
    """A raw v1 event; identifiers are written "type:value"."""
    idents = [dict(zip(("type", "value"), i.split(":", 1), strict=True)) for i in identifiers]
    return {
        "event_id": event_id,
        "type": type_,
        "timestamp": ts,
        "source": source,
        "identifiers": idents,
        **extra,
    }


def event(event_id: str, ts: str, *identifiers: str, **kwargs: Any) -> Event:
    return parse_event(raw_event(event_id, ts, *identifiers, **kwargs)).event
