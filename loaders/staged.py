"""Events from files put in event-time order, for `idgraph replay --from FILE...`.

The files are read and checked as `idgraph load` reads them (a bad record is reported with
its position and reason, the rest goes on), and the events set aside in a temporary SQLite
file keyed by (timestamp, event id), from which they are read back in that order: a replay
interleaves them with steward actions by moment without holding them all in memory.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from app.domain.events import Event, parse_ts
from app.domain.identifiers import Identifier
from app.services.ingest import IngestService, Problem
from loaders.files import Source, read_records

PAGE = 5_000


class StagedEvents:
    def __init__(self, ingest: IngestService, folder: Path) -> None:
        self.ingest = ingest
        self.db = sqlite3.connect(folder / "staged.db")
        self.db.execute("CREATE TABLE staged (ts TEXT, event_id TEXT UNIQUE, body TEXT, "
                        "PRIMARY KEY (ts, event_id)) WITHOUT ROWID")
        self.problems: list[Problem] = []
        self.count = 0

    def add(self, paths: Iterable[Path], source: Source | None = None) -> None:
        for path in paths:
            rows = []
            for record in read_records(path, source or Source()):
                if isinstance(record.item, Problem):
                    self.problems.append(record.item)
                    continue
                event, problems = self.ingest.validate(record.item, record.position)
                self.problems += problems
                if event is not None:
                    rows.append((event.ts, event.event_id, json.dumps(event.to_json())))
            # an event id given twice: the first is kept, as a load keeps it
            self.db.executemany("INSERT OR IGNORE INTO staged VALUES (?, ?, ?)", rows)
            self.count += len(rows)
        self.db.commit()

    async def pages(self, page: int = PAGE) -> AsyncIterator[list[Event]]:
        after = ("", "")
        while rows := self.db.execute(
                "SELECT ts, event_id, body FROM staged WHERE (ts, event_id) > (?, ?) "
                "ORDER BY ts, event_id LIMIT ?", (*after, page)).fetchall():
            yield [_event(json.loads(body)) for _, _, body in rows]
            after = (rows[-1][0], rows[-1][1])

    def close(self) -> None:
        self.db.close()


def _event(data: dict[str, Any]) -> Event:
    """An event as Event.to_json wrote it: checked and normalised already."""
    return Event(data["event_id"], data["type"], parse_ts(data["timestamp"]), data["source"],
                 tuple(Identifier(i["type"], i["value"]) for i in data["identifiers"]),
                 data["traits"], data["properties"], data["consent"])
