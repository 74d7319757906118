"""Batch loads of files: JSONL of v1 events, JSONL of Segment-spec messages, and CSV with a
column mapping file.

A bad record is reported (file, line number, field, reason) and the rest of the file loads.
With a checkpoint, a re-run after a crash skips the records already durable in the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from app.domain import bounds
from app.domain.events import EventError
from app.services.ingest import IngestResult, IngestService, Problem, unexpected
from loaders.csv_mapping import CsvMapping, MappingError, read_rows, row_to_event
from loaders.resume import Checkpoint
from loaders.segment_spec import SegmentConfig, as_v1

Progress = Callable[[int, int], None]  # (lines done in this step, bytes read in this step)
FILE_FORMATS = ("auto", "v1", "segment", "csv")


@dataclass(frozen=True, slots=True)
class Line:
    position: str
    text: str
    size: int


@dataclass(frozen=True, slots=True)
class Record:
    position: str
    item: object  # a raw v1 event, or the Problem that says why there is none
    size: int
    index: int  # 1-based number of the record in its file, what a checkpoint counts


@dataclass(frozen=True, slots=True)
class Source:
    """How to read the input files."""

    input_format: str = "auto"  # auto: .csv is CSV, anything else JSONL of v1 or Segment
    mapping: CsvMapping | None = None
    segment: SegmentConfig = field(default_factory=SegmentConfig)

    def format_of(self, path: Path) -> str:
        if self.input_format != "auto":
            return self.input_format
        return "csv" if path.suffix.lower() == ".csv" else "auto"


def read_lines(path: Path) -> Iterator[Line]:
    """The file's non-blank lines. Bytes that are not UTF-8 are kept as lone surrogates
    (`surrogateescape`), which the bounds reject with the field that holds them, instead
    of being replaced unseen."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.decode("utf-8", errors="surrogateescape").strip()
            if text:
                yield Line(f"{path}:{number}", text, len(raw))


def decode_json(
    text: str | bytes, position: str, input_format: str, segment: SegmentConfig
) -> object:
    """The raw v1 event in a JSON text (v1, Segment or auto), or the Problem with it. One
    message's fault, even an unexpected one, is that message's Problem."""
    try:
        value = bounds.decode(text)
    except bounds.NotJSON as exc:
        return Problem(position, "message", f"not valid JSON ({exc.reason})", True)
    except bounds.OutOfBounds as exc:
        return Problem(position, exc.field or "message", exc.reason, True)
    try:
        return as_v1(value, input_format, segment)
    except EventError as exc:
        message_id = value.get("messageId") if isinstance(value, dict) else None
        return Problem(
            position,
            exc.field,
            exc.reason,
            True,
            message_id if bounds.is_safe_text(message_id) else None,
        )
    except Exception as exc:  # a fault of idgraph's, reported with this message alone
        return unexpected(position, "message", exc)


def read_records(path: Path, source: Source, skip: int = 0) -> Iterator[Record]:
    """The file's records after the first `skip`, which are read but not decoded."""
    fmt = source.format_of(path)
    if fmt == "csv":
        yield from _csv_records(path, source, skip)
        return
    for index, line in enumerate(read_lines(path), start=1):
        item = None if index <= skip else decode_json(line.text, line.position, fmt, source.segment)
        yield Record(line.position, item, line.size, index)


def _csv_records(path: Path, source: Source, skip: int) -> Iterator[Record]:
    if source.mapping is None:
        raise MappingError(f"{path}: a CSV file needs a mapping file (--mapping)")
    for index, (number, row, size) in enumerate(read_rows(path, source.mapping), start=1):
        position = f"{path}:{number}"
        if index <= skip:
            yield Record(position, None, size, index)
            continue
        try:
            item: object = row_to_event(source.mapping, row)
        except EventError as exc:
            item = Problem(position, exc.field, exc.reason, True)
        except Exception as exc:  # a fault of idgraph's, reported with this row alone
            item = unexpected(position, "row", exc)
        yield Record(position, item, size, index)


@dataclass(slots=True)
class _Batch:
    items: list[tuple[str, object]] = field(default_factory=list)
    size: int = 0
    skipped_size: int = 0
    # the furthest record of each file in the batch, and whether the file ended there
    reached: dict[Path, tuple[int, bool]] = field(default_factory=dict)


async def load_files(
    ingest: IngestService,
    paths: list[Path],
    *,
    batch_size: int = 1000,
    rejects: IO[str] | None = None,
    progress: Progress | None = None,
    source: Source | None = None,
    checkpoint: Path | None = None,
) -> IngestResult:
    """Load the files in batches of `batch_size` events, one store transaction each. With a
    `checkpoint` file, records that an earlier run made durable are skipped."""
    load = _Load(ingest, source or Source(), batch_size, rejects, progress,
                 Checkpoint.open(checkpoint) if checkpoint else None)
    for path in paths:
        await load.file(path)
    if load.batch.items or load.batch.reached:
        await load.flush()
    return load.total


@dataclass(slots=True)
class _Load:
    """One load_files call: the batch being filled, and what each flush reports."""

    ingest: IngestService
    source: Source
    batch_size: int
    rejects: IO[str] | None
    progress: Progress | None
    state: Checkpoint | None
    total: IngestResult = field(default_factory=IngestResult)
    batch: _Batch = field(default_factory=_Batch)

    async def file(self, path: Path) -> None:
        """Add the file's records to the batch, flushing each time it is full."""
        skip = self._skip(path)
        if skip is None:
            return
        index = skip
        for record in read_records(path, self.source, skip):
            index = record.index
            if record.index <= skip:
                self.batch.skipped_size += record.size
                continue
            self.batch.items.append((record.position, record.item))
            self.batch.size += record.size
            self.batch.reached[path] = (record.index, False)
            if len(self.batch.items) >= self.batch_size:
                await self.flush()
        self.batch.reached[path] = (index, True)

    def _skip(self, path: Path) -> int | None:
        """How many of the file's records an earlier run made durable; None when all."""
        done = self.state.done(path) if self.state else None
        if done and done.complete:
            if self.progress is not None:
                self.progress(0, path.stat().st_size)
            return None
        return done.records if done else 0

    async def flush(self) -> None:
        """Ingest the batch, then report its rejects, checkpoint and progress."""
        batch, self.batch = self.batch, _Batch()
        result = await self.ingest.ingest_raw(batch.items)
        self.total.add(result)
        if self.rejects is not None:
            for problem in result.problems:
                self.rejects.write(json.dumps(problem.to_json()) + "\n")
            self.rejects.flush()
        if self.state is not None:
            for path, (records, complete) in batch.reached.items():
                self.state.mark(path, records, complete)
            self.state.save()
        if self.progress is not None:
            self.progress(result.received, batch.size + batch.skipped_size)
