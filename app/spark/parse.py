"""Every input record decoded and validated inside Spark tasks by the loaders' own code
(loaders.files.decode_json, app.services.ingest.validate: the bounds, the v1 schema, the
identifiers' normalisation), into one row per event or per problem.

An event row keeps where it was read (file, byte offset), so that of several events with
one id the first read wins, as in a load; the problems a load reports after its batch is
deduplicated (traits left out of matching, identifiers dropped after an erasure) travel
with the event row and are kept only for the event that wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.domain import bounds
from app.domain.events import Event
from app.domain.matching.training import Matcher
from app.domain.plan import Plan
from app.domain.privacy import SuppressionKey
from app.domain.rebuild import trait_problems, without_suppressed
from app.domain.rules import Rules
from app.domain.search import name_term
from app.services.ingest import Problem, plan_problems, unexpected, validate
from app.spark.arrow import arrow_schema, batches_of
from app.spark.inputs import Chunk, owned_lines
from app.spark.kafka import Slice, messages
from app.stores.values import event_body
from loaders.files import decode_json
from loaders.segment_spec import SegmentConfig

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession


class RowKind:
    EVENT = "event"
    PROBLEM = "problem"
    CHUNK = "chunk"  # a JSONL range: how many lines it holds (for line numbers)


PROBLEM_FIELDS = ("position", "event_id", "field", "reason", "rejected", "erased")
PROBLEM_TYPE = ("struct<position:string,event_id:string,field:string,reason:string,"
                "rejected:boolean,erased:boolean>")
PARSED_SCHEMA = (
    "kind string, file int, chunk int, line long, offset long, "
    "event_id string, type string, ts string, source string, body string, profile boolean, "
    "keys array<string>, name string, trait_key string, "
    "match_traits string, match_blocks array<string>, "
    f"trait_problems array<{PROBLEM_TYPE}>, dropped array<{PROBLEM_TYPE}>, "
    "unsuppress array<string>, stored boolean, "
    f"problem {PROBLEM_TYPE}"
)


@dataclass(frozen=True, slots=True)
class ParseConfig:
    rules: Rules
    default_region: str = "NL"
    input_format: str = "auto"  # v1, segment, or auto (decided per line)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    # the store's suppression list (hash -> when erased) and the key of its hashes
    suppressed: Mapping[str, str] = field(default_factory=dict)
    suppression: SuppressionKey | None = None
    # the store's trained matcher: events keep the record of their traits for it
    matcher: Matcher | None = None


def _problem(p: Problem) -> dict[str, Any]:
    return {"position": p.position, "event_id": p.event_id, "field": p.field,
            "reason": p.reason, "rejected": p.rejected, "erased": p.erased}


def event_row(event: Event, config: ParseConfig) -> dict[str, Any]:
    """The stored form of a valid event, with what the load reports once it is deduplicated."""
    record, traits = trait_problems(event, config.rules)
    kept, plan = _suppressed(event, config)
    stored = kept if kept is not None else event
    # as the stream's _match: a record whose identifier was dropped (erased) makes none
    matched = (record if record is not None and config.matcher is not None
               and bool(record.blocks) and record.key in {i.key for i in stored.identifiers}
               else None)
    return {
        "kind": RowKind.EVENT, "event_id": event.event_id, "type": event.type,
        "ts": event.ts, "source": event.source, "body": event_body(stored),
        "profile": bool(stored.traits or stored.consent),
        "keys": [i.key for i in stored.identifiers], "name": name_term(stored.traits),
        "trait_key": record.key if record is not None else None,
        "match_traits": json.dumps(matched.record.traits) if matched else None,
        "match_blocks": list(matched.blocks) if matched else None,
        "trait_problems": [_problem(p) for p in plan_problems(Plan(trait_problems=traits))],
        "dropped": [_problem(p) for p in plan_problems(Plan(dropped=plan.dropped))],
        "unsuppress": plan.unsuppress, "stored": kept is not None,
    }


def _suppressed(event: Event, config: ParseConfig) -> tuple[Event | None, Plan]:
    if not config.suppressed or config.suppression is None:
        return event, Plan()
    hashes = config.suppression.hashes([i.key for i in event.identifiers])
    erased = {key: config.suppressed[h] for h, key in hashes.items() if h in config.suppressed}
    if not erased:
        return event, Plan()
    return without_suppressed(event, erased, config.rules)


def parse_raw(raw: object, position: str, config: ParseConfig) -> list[dict[str, Any]]:
    """Rows for one decoded record: its event, and the problems of the line."""
    if isinstance(raw, Problem):
        return [{"kind": RowKind.PROBLEM, "problem": _problem(raw)}]
    event, problems = validate(raw, position, config.default_region)
    rows = [{"kind": RowKind.PROBLEM, "problem": _problem(p)} for p in problems]
    if event is not None:
        try:
            rows.append(event_row(event, config))
        except Exception as exc:  # a fault of idgraph's: this event alone is rejected
            rows = [{"kind": RowKind.PROBLEM,
                     "problem": _problem(unexpected(position, "event", exc, event.event_id))}]
    return rows


# Line problems are made before the line's number is known (a task knows its range, not
# how many lines the ranges before it hold): they name the line by this placeholder,
# replaced once the ranges are counted (app/spark/job.py).
LINE_PLACEHOLDER = "\x00line"


def _chunk_rows(chunk: Chunk, config: ParseConfig) -> Iterator[dict[str, Any]]:
    where = {"file": chunk.file, "chunk": chunk.chunk}
    count = 0
    for count, (offset, raw) in enumerate(owned_lines(chunk.uri, chunk.start, chunk.end),
                                          start=1):
        text = raw.decode("utf-8", errors="surrogateescape").strip()
        if not text:
            continue
        item = decode_json(text, LINE_PLACEHOLDER, config.input_format, config.segment)
        for row in parse_raw(item, LINE_PLACEHOLDER, config):
            yield {**row, **where, "line": count, "offset": offset}
    yield {"kind": RowKind.CHUNK, **where, "line": count, "offset": chunk.start}


def parse_jsonl(spark: SparkSession, chunks: list[Chunk], config: ParseConfig) -> DataFrame:
    """One row per event, problem and range, from JSONL byte ranges (one task each)."""
    ranges = [(c.file, c.chunk, c.uri, c.start, c.end) for c in chunks]
    frame = spark.createDataFrame(ranges, "file int, chunk int, uri string, start long, "
                                          "end long")
    frame = frame.repartition(max(1, len(ranges)))
    schema = arrow_schema(PARSED_SCHEMA)

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for item in batch.to_pylist():
                yield from batches_of(_chunk_rows(Chunk(**item), config), schema)

    return frame.mapInArrow(read, PARSED_SCHEMA)


def parse_kafka(spark: SparkSession, bootstrap: str, slices: list[Slice],
                config: ParseConfig) -> DataFrame:
    """One row per event and problem from Kafka slices (one task each), each message named
    as the loader names it (topic/partition/offset)."""
    from loaders.kafka import decode_message, position

    frame = spark.createDataFrame(
        [(s.file, s.topic, s.partition, s.start, s.end) for s in slices],
        "file int, topic string, partition int, start long, end long")
    frame = frame.repartition(max(1, len(slices)))
    schema = arrow_schema(PARSED_SCHEMA)

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        def rows() -> Iterator[dict[str, Any]]:
            for batch in batches:
                for item in batch.to_pylist():
                    piece = Slice(**item)
                    for message in messages(bootstrap, piece):
                        where = position(message)
                        raw = decode_message(message, where, config.input_format,
                                             config.segment)
                        place = {"file": piece.file, "chunk": 0, "line": 0,
                                 "offset": message.offset}
                        for row in parse_raw(raw, where, config):
                            yield {**row, **place}

        yield from batches_of(rows(), schema)

    return frame.mapInArrow(read, PARSED_SCHEMA)


def parse_records(frame: DataFrame, config: ParseConfig,
                  decode: Callable[[dict[str, Any]], object]) -> DataFrame:
    """One row per event and problem from a DataFrame of records (Parquet rows, or the
    events a store holds), each made a raw v1 event by `decode`; a record is named by its
    `position` column, ordered by `file` and `offset`."""
    schema = arrow_schema(PARSED_SCHEMA)

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        def rows() -> Iterator[dict[str, Any]]:
            for batch in batches:
                for record in batch.to_pylist():
                    where = {"file": record["file"], "chunk": 0, "line": 0,
                             "offset": record["offset"]}
                    for row in parse_raw(decode(record), record["position"], config):
                        yield {**row, **where}

        yield from batches_of(rows(), schema)

    return frame.mapInArrow(read, PARSED_SCHEMA)


# -- Parquet -------------------------------------------------------------------------------
def parquet_raw(record: dict[str, Any]) -> object:
    """A Parquet row as a raw v1 event: nested columns as JSON values, a timestamp column
    as RFC 3339 text, and traits, properties or consent held as JSON text decoded."""
    raw = {name: _plain(value) for name, value in record.items()
           if name not in ("file", "offset", "position") and value is not None}
    for name in ("traits", "properties", "consent"):
        text = raw.get(name)
        if isinstance(text, str):
            try:
                raw[name] = bounds.decode(text)
            except (bounds.NotJSON, bounds.OutOfBounds) as exc:
                return Problem(record["position"], name, f"not a JSON object ({exc})", True,
                               raw.get("event_id") if bounds.is_safe_text(
                                   raw.get("event_id")) else None)
    return raw


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return {k: _plain(v) for k, v in value}  # a map column
        return [_plain(v) for v in value]
    return value
