"""`idgraph outbox status` and `idgraph outbox publish`: what a file load's writes leave in
the outbox waits there until a publisher sends it, once, to the changes topic."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.conftest import KAFKA_BOOTSTRAP
from tests.helpers import raw_event
from tests.loaders.streams import read_topic, unique

pytestmark = pytest.mark.kafka


def idgraph(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_file_loads_changes_wait_in_the_outbox_until_they_are_published(tmp_path):
    url, topic = f"sqlite:///{tmp_path}/load.db", unique("changes")
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(raw_event(f"e{n}", "2024-01-01T00:00:00Z",
                                                   f"cookie:c{n}", f"email:p{n}@x.com")) + "\n"
                              for n in range(20)))
    assert idgraph("load", str(events), "--store", url,
                   "--rejects", str(tmp_path / "rejects.jsonl")).exit_code == 0

    waiting = json.loads(idgraph("outbox", "status", "--store", url).stdout)
    assert waiting["unpublished"] == 40 and waiting["holder"] is None  # created + identifiers
    published = idgraph("outbox", "publish", "--store", url, "--changes-topic", topic,
                        "--bootstrap-servers", KAFKA_BOOTSTRAP)
    assert json.loads(published.stdout.splitlines()[-1]) == {"published": 40}
    after = json.loads(idgraph("outbox", "status", "--store", url).stdout)
    assert (after["unpublished"], after["published"], after["destination"]) == (0, 40, topic)
    assert after["holder"] is None  # given up when done
    # (the commands run their own event loops: this test is not a coroutine)
    messages = [json.loads(m.value) for m in asyncio.run(read_topic(topic, 40))]
    assert sorted(m["kind"] for m in messages) == ["customer_created"] * 20 + [
        "identifiers_added"] * 20
    assert len({m["change_id"] for m in messages}) == 40
