"""Builders shared by the tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.domain.events import Event, parse_event

if TYPE_CHECKING:
    from app.bootstrap import Services


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


async def ingest_trained(services: Services, events: list[dict[str, Any]]) -> None:
    """Train the matcher on the events, then load them through it, as a deployment would."""
    from app.services.matching import train_from_events

    await train_from_events(services.store, events, services.ingest.rules)
    await services.ingest.load_matcher()
    await services.ingest.ingest_raw((str(n), e) for n, e in enumerate(events))
