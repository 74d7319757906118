"""Change events out: what each write changed, published for marketing tools to act on.

The changes come from the store's outbox (app/services/outbox.py drains it here). Each
message is the change's JSON (app/domain/changes.py: kind, customer_id, at, lineage with
the triggering event ids and the customers it came from, data), plus `schema` and the
`change_id` the outbox recorded, which consumers de-duplicate on: a change can be
published more than once (after a crash), never with another id. Messages are keyed by
customer id, so one customer's changes stay in order on one partition.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from app.domain.changes import Change

SCHEMA = "idgraph.change.v1"


def change_message(change: Change) -> dict[str, Any]:
    return {"schema": SCHEMA, "change_id": change.change_id, **change.to_json()}


async def publish_changes(producer: AIOKafkaProducer, topic: str,
                          changes: Sequence[Change]) -> None:
    """Send the changes and wait until Kafka has every one."""
    futures = []
    for change in changes:
        value = json.dumps(change_message(change), separators=(",", ":"), default=str)
        futures.append(await producer.send(
            topic, value.encode(), key=change.customer_id.encode(),
            headers=[("idgraph.change.kind", change.kind.encode())]))
    await asyncio.gather(*futures)
