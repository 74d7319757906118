"""Change events out: what each batch changed, published for marketing tools to act on.

Each message is the change's JSON (app/domain/changes.py: kind, customer_id, at, lineage
with the triggering event ids and the customers it came from, data), plus `schema` and a
deterministic `change_id` that consumers can de-duplicate on. Messages are keyed by
customer id, so one customer's changes stay in order on one partition.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from app.domain.changes import Change

SCHEMA = "idgraph.change.v1"


def change_id(change: Change) -> str:
    parts = [change.kind, change.customer_id, *change.event_ids, "|", *change.from_customers]
    if "segment" in change.data:  # a membership change: which segment, and when
        parts += ["|", str(change.data["segment"]), change.at]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


def change_message(change: Change) -> dict[str, Any]:
    return {"schema": SCHEMA, "change_id": change_id(change), **change.to_json()}


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
