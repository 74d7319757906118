"""Builders and probes for the loader tests: known people, their events, malformed
messages with the reason each must be rejected for, and bounded waits."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import LoaderMetrics
from app.services.ingest import IngestService
from app.stores.base import IdentityStore
from loaders.dlq import DeadLetter
from loaders.kafka import KafkaLoader, LoaderConfig, message_key
from tests.conftest import KAFKA_BOOTSTRAP

ROOT = Path(__file__).resolve().parents[2]


def unique(name: str) -> str:
    return f"idgraph.test.{name}.{uuid.uuid4().hex[:10]}"


async def create_topic(topic: str, partitions: int = 4) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    return topic


@dataclass
class Stream:
    """Events of known people, and malformed messages with their expected reasons."""

    events: list[dict[str, Any]] = field(default_factory=list)
    person_of: dict[str, int] = field(default_factory=dict)  # event id -> person
    malformed: dict[bytes, str] = field(default_factory=dict)  # bytes -> reason pattern

    def per_person(self) -> Counter[int]:
        return Counter(self.person_of.values())

    def messages(self, seed: int = 0) -> list[bytes]:
        """Valid and malformed messages, shuffled together."""
        out = [json.dumps(e).encode() for e in self.events] + list(self.malformed)
        random.Random(seed).shuffle(out)
        return out


def email_of(person: int) -> str:
    return f"person{person}@example.com"


def people_stream(n_events: int, n_people: int, *, seed: int = 1, prefix: str = "ev") -> Stream:
    """Each person has a cookie, an e-mail and a device. Their first event carries all
    three; the others carry one at random, so events that arrive before the first one make
    separate customers that merge later. Each person ends as exactly one customer."""
    rng = random.Random(seed)
    stream = Stream()
    ids = {p: [f"cookie:ck-{p}-{seed}", f"email:{email_of(p)}", f"device_id:dev-{p}-{seed}"]
           for p in range(n_people)}
    for i in range(n_events):
        person = i if i < n_people else rng.randrange(n_people)
        chosen = ids[person] if i < n_people else [rng.choice(ids[person])]
        event_id = f"{prefix}-{seed}-{i:06d}"
        stream.events.append({
            "event_id": event_id, "type": rng.choice(["page_view", "click", "purchase"]),
            "timestamp": f"2024-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            "source": "web",
            "identifiers": [dict(zip(("type", "value"), c.split(":", 1), strict=True))
                            for c in chosen],
            "properties": {"n": i},
        })
        stream.person_of[event_id] = person
    return stream


MALFORMED_KINDS: list[tuple[Callable[[int], bytes], str]] = [
    (lambda i: f'{{"event_id": "bad-json-{i}", '.encode(), r"not valid JSON"),
    (lambda i: json.dumps({"event_id": f"bad-schema-{i}", "type": "page_view",
                           "source": "web",
                           "identifiers": [{"type": "cookie", "value": "x"}]}).encode(),
     r"^timestamp: is required$"),
    (lambda i: json.dumps({"event_id": f"bad-value-{i}", "type": "page_view",
                           "timestamp": "2024-01-01T00:00:00Z", "source": "web",
                           "identifiers": [{"type": "email", "value": f"nope{i}"}]}).encode(),
     r"^identifiers: no valid identifier"),
    (lambda i: b"\xff\xfe not utf-8 " + str(i).encode(), r"not valid JSON"),
]


def add_malformed(stream: Stream, count: int) -> None:
    for i in range(count):
        make, reason = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
        stream.malformed[make(i)] = reason


def letter_reason(letter: DeadLetter) -> str:
    return f"{letter.field}: {letter.reason}"


def check_dead_letters(stream: Stream, letters: list[DeadLetter], topic: str) -> None:
    """Every malformed message is dead-lettered once, with its reason and its source."""
    by_value = {letter.value: letter for letter in letters}
    assert len(letters) == len(stream.malformed) == len(by_value)
    for value, pattern in stream.malformed.items():
        letter = by_value[value]
        assert re.search(pattern, letter_reason(letter)) or re.search(pattern, letter.reason), (
            letter_reason(letter), pattern)
        assert letter.topic == topic and letter.partition >= 0 and letter.offset >= 0


async def produce(topic: str, messages: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all", linger_ms=10)
    await producer.start()
    try:
        pending = []
        for value in messages:
            try:
                key = message_key(json.loads(value))
            except (ValueError, RecursionError):  # not JSON, or poisonous on purpose
                key = None
            pending.append(await producer.send(topic, value, key=key))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def read_topic(topic: str, expected: int, timeout_s: float = 60.0) -> list[Any]:
    """The first `expected` messages of a topic (all partitions), within `timeout_s`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA_BOOTSTRAP,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=unique("reader"))
    messages: list[Any] = []
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            while len(messages) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                messages += [m for msgs in batch.values() for m in msgs]
        # a short grace period shows there is nothing more than expected
        batch = await consumer.getmany(timeout_ms=1000)
        messages += [m for msgs in batch.values() for m in msgs]
    finally:
        await consumer.stop()
    return messages


async def wait_for(probe: Callable[[], Awaitable[bool]], timeout_s: float, what: str,
                   every_s: float = 0.25) -> None:
    deadline = time.monotonic() + timeout_s
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(every_s)


async def committed(group: str) -> int:
    """Messages the group has committed, over all partitions. Progress is read from Kafka,
    not from the shared Neo4j, which other test runs may write to at the same time."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(max(meta.offset, 0) for meta in offsets.values())


async def check_people(store: IdentityStore, stream: Stream, people: int) -> None:
    """Every event of every person is on that person's customer, once; each person is one
    customer of their own. Only this test's data is read, so others' writes do not count."""
    assert await events_per_person(store, people) == stream.per_person()
    owners = await store.owners([f"email:{email_of(p)}" for p in range(people)])
    assert len(set(owners.values())) == people


async def events_per_person(store: IdentityStore, people: int) -> Counter[int]:
    """For each person: the number of events on the timeline of the customer that owns
    their e-mail. Doubled or lost events, or people split or glued, all show here."""
    owners = await store.owners([f"email:{email_of(p)}" for p in range(people)])
    counts: Counter[int] = Counter()
    for person in range(people):
        customer = owners.get(f"email:{email_of(person)}")
        after = None
        while customer:
            page = await store.timeline(customer, 500, after)
            counts[person] += len(page)
            if len(page) < 500:
                break
            after = page[-1].cursor
    return counts


def loader(store: IdentityStore, topic: str, **options: Any) -> KafkaLoader:
    """An in-process loader with its own metrics registry."""
    defaults: dict[str, Any] = {"group_id": unique("group"), "idle_exit_s": 3.0,
                                "retry_initial_s": 0.2, "retry_max_s": 2.0}
    config = LoaderConfig(bootstrap_servers=KAFKA_BOOTSTRAP, topics=(topic,),
                          **{**defaults, **options})
    return KafkaLoader(IngestService(store), config, LoaderMetrics(CollectorRegistry()))


async def run_loader(instance: KafkaLoader, timeout_s: float = 300.0) -> Any:
    async with asyncio.timeout(timeout_s):
        return await instance.run()


def consume_process(store_url: str, topic: str, group: str, *extra: str,
                    log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m app consume` as a subprocess, its stderr in `log` (`env`: more
    environment variables)."""
    command = [sys.executable, "-m", "app", "consume", "--store", store_url, "--topic", topic,
               "--group", group, "--metrics-port", "0", "--max-retry-delay", "2", *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log.open("ab") as err:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, env=env)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples a /metrics endpoint serves, by (name, sorted labels)."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    """The sum of the samples named `name` that carry `labels`."""
    return sum(v for (n, ls), v in found.items()
               if n == name and all(item in ls for item in labels.items()))


def metrics_url(log: Path, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.findall(r"metrics at (http://\S+)", log.read_text())
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no metrics address in {log}")
