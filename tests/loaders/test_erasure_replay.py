"""An erased customer's events replayed through Kafka: dropped, and none dead-lettered,
since a dead letter keeps the message's bytes and so the erased values."""

from __future__ import annotations

import json

import pytest

from app.services.ingest import IngestService
from app.services.privacy import PrivacyService
from loaders.dlq import read_dead_letters
from tests.conftest import KAFKA_BOOTSTRAP
from tests.contract.test_erasure_traces import everything_stored
from tests.loaders.streams import create_topic, loader, produce, run_loader, unique
from tests.privacy_data import EMAIL, ERASED_TRACES, other_events, person_events, traces

pytestmark = pytest.mark.kafka


async def test_an_erased_customers_events_replayed_leave_no_dead_letter_and_no_trace(store):
    await IngestService(store).ingest_raw((e["event_id"], e)
                                          for e in person_events() + other_events())
    cid = (await store.owners([f"email:{EMAIL}"]))[f"email:{EMAIL}"]
    await PrivacyService(store).forget(cid, "admin", "GDPR request 7")
    topic, dlq = await create_topic(unique("events")), unique("dlq")
    await produce(topic, [json.dumps(e).encode() for e in person_events()] + [b"{broken"])

    stats = await run_loader(loader(store, topic, dlq_topic=dlq, idle_exit_s=2))

    mine = len(person_events())
    assert (stats.messages, stats.stored, stats.duplicates, stats.rejected) == (mine + 1, 0, 0,
                                                                               mine + 1)
    assert stats.dead_letters == 1  # the broken line: the dead-letter queue works
    letters = await read_dead_letters(KAFKA_BOOTSTRAP, dlq, timeout_s=60)
    assert [letter.value for letter in letters] == [b"{broken"]
    assert traces(repr([letter.to_json() for letter in letters]), ERASED_TRACES) == []
    assert traces(await everything_stored(store), ERASED_TRACES) == []
