"""CSV rows mapped to raw v1 events by a mapping file (TOML).

The mapping names, for each identifier type, trait and property, the column(s) it comes
from; docs/loaders.md ("CSV loads") has a full example. Empty cells are left out. A row
whose mapping fails (a timestamp that does not parse, a number that is not one) is
rejected with the column and the reason; the rest of the file loads.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain import bounds
from app.domain.events import EventError, format_ts

CONVERTERS: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": lambda text: {"true": True, "yes": True, "1": True, "false": False, "no": False,
                          "0": False}[text.strip().lower()],
}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    convert: str = "str"


@dataclass(frozen=True, slots=True)
class CsvMapping:
    source: str
    type: str | None = None  # a fixed event type ...
    type_column: str | None = None  # ... or the column that holds it
    timestamp: str | None = None
    timestamp_column: str | None = None
    timestamp_format: str | None = None  # strptime format; ISO 8601 when absent
    timezone: str = "UTC"  # for timestamps written without an offset
    event_id_column: str | None = None
    event_id_prefix: str = "csv-"
    delimiter: str = ","
    encoding: str = "utf-8-sig"  # tolerate the byte-order mark spreadsheets write
    identifiers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    traits: dict[str, Column] = field(default_factory=dict)
    properties: dict[str, Column] = field(default_factory=dict)

    def columns(self) -> set[str]:
        named = {self.type_column, self.timestamp_column, self.event_id_column}
        named |= {c for cols in self.identifiers.values() for c in cols}
        named |= {c.name for c in (*self.traits.values(), *self.properties.values())}
        return {c for c in named if c}

    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)


def load_mapping(path: Path) -> CsvMapping:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML ({exc})") from None
    try:
        return mapping_from_dict(data)
    except MappingError as exc:
        raise MappingError(f"{path}: {exc}") from None


def mapping_from_dict(data: dict[str, Any]) -> CsvMapping:
    event, table = data.get("event", {}), data.get("csv", {})
    unknown = set(event) - {"type", "type_column", "source", "timestamp", "timestamp_column",
                            "timestamp_format", "timezone", "event_id_column",
                            "event_id_prefix"}
    if unknown:
        raise MappingError(f"[event] has unknown keys: {', '.join(sorted(unknown))}")
    if not event.get("source"):
        raise MappingError("[event] needs source (the system of origin, e.g. \"crm\")")
    if bool(event.get("type")) == bool(event.get("type_column")):
        raise MappingError("[event] needs exactly one of type and type_column")
    if bool(event.get("timestamp")) == bool(event.get("timestamp_column")):
        raise MappingError("[event] needs exactly one of timestamp and timestamp_column")
    if not data.get("identifiers"):
        raise MappingError("[identifiers] must map at least one identifier type to a column")
    mapping = CsvMapping(
        **{k: event[k] for k in event},
        delimiter=table.get("delimiter", ","),
        encoding=table.get("encoding", "utf-8-sig"),
        identifiers={t: _names(t, cols) for t, cols in data["identifiers"].items()},
        traits={n: _column(n, spec) for n, spec in data.get("traits", {}).items()},
        properties={n: _column(n, spec) for n, spec in data.get("properties", {}).items()},
    )
    try:
        mapping.zone()
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"[event] timezone {mapping.timezone!r} is not a known time zone "
                           "such as UTC or Europe/Amsterdam") from None
    return mapping


def _names(type_: str, spec: object) -> tuple[str, ...]:
    names = [spec] if isinstance(spec, str) else spec
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise MappingError(f"[identifiers] {type_} must be a column name or a list of them")
    return tuple(names)


def _column(name: str, spec: object) -> Column:
    if isinstance(spec, str):
        return Column(spec)
    if isinstance(spec, dict) and isinstance(spec.get("column"), str):
        convert = spec.get("as", "str")
        if convert not in CONVERTERS:
            raise MappingError(f"{name}: as must be one of {', '.join(CONVERTERS)}")
        return Column(spec["column"], convert)
    raise MappingError(f"{name} must be a column name or {{ column = \"...\", as = \"int\" }}")


def check_header(mapping: CsvMapping, header: list[str], where: str) -> None:
    missing = sorted(mapping.columns() - set(header))
    if missing:
        raise MappingError(f"{where}: the mapping names columns the file does not have: "
                           f"{', '.join(missing)} (the file has: {', '.join(header)})")


def row_to_event(mapping: CsvMapping, row: dict[str, str]) -> dict[str, Any]:
    """The raw v1 event for one CSV row. Raises EventError naming the column."""
    cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
    for column in sorted(mapping.columns()):
        _check(column, cells.get(column, ""))
    identifiers = [{"type": type_, "value": cells[c]}
                   for type_, cols in mapping.identifiers.items() for c in cols if cells.get(c)]
    event: dict[str, Any] = {
        "event_id": _event_id(mapping, cells),
        "type": mapping.type or cells.get(mapping.type_column or "", ""),
        "timestamp": _timestamp(mapping, cells),
        "source": mapping.source,
        "identifiers": identifiers,
    }
    for name, columns in (("traits", mapping.traits), ("properties", mapping.properties)):
        values = _values(columns, cells)
        if values:
            event[name] = values
    return event


def _event_id(mapping: CsvMapping, cells: dict[str, str]) -> str:
    if mapping.event_id_column:
        value = cells.get(mapping.event_id_column, "")
        if not value:
            raise EventError(mapping.event_id_column, "the event id column is empty")
        return mapping.event_id_prefix + value
    # Derived from the row's content, so loading the file again changes nothing.
    canonical = json.dumps(cells, sort_keys=True, separators=(",", ":"))
    return mapping.event_id_prefix + hashlib.blake2b(canonical.encode(),
                                                     digest_size=12).hexdigest()


def _timestamp(mapping: CsvMapping, cells: dict[str, str]) -> str:
    column = mapping.timestamp_column
    text = mapping.timestamp or cells.get(column or "", "")
    try:
        if mapping.timestamp_format and column:
            moment = datetime.strptime(text, mapping.timestamp_format)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        expected = mapping.timestamp_format or "ISO 8601, e.g. 2024-05-01 12:00:00"
        raise EventError(column or "timestamp", f"{text!r} is not a date-time ({expected})"
                         ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=mapping.zone())
    try:
        return format_ts(bounds.utc(moment))
    except bounds.OutOfBounds as exc:
        raise EventError(column or "timestamp", exc.reason) from None


def _values(columns: dict[str, Column], cells: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, column in columns.items():
        text = cells.get(column.name, "")
        if not text:
            continue
        if len(text) > bounds.MAX_NUMBER_TEXT and column.convert in ("int", "float"):
            raise EventError(column.name, bounds.too_long(text))
        try:
            value = CONVERTERS[column.convert](text)
        except (ValueError, KeyError):
            raise EventError(column.name, f"{text!r} is not a {column.convert}") from None
        _check(column.name, value)
        values[name] = value
    return values


def _check(column: str, value: object) -> None:
    try:
        bounds.check(value)
    except bounds.OutOfBounds as exc:
        raise EventError(column, exc.reason) from None


def read_rows(path: Path, mapping: CsvMapping) -> Iterator[tuple[int, dict[str, str], int]]:
    """(row number, row, bytes) for each data row; the header is checked first."""
    # Bytes that are not in the encoding are kept as lone surrogates, which the bounds
    # reject with the column that holds them, rather than failing the whole file.
    with path.open(encoding=mapping.encoding, errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=mapping.delimiter)
        check_header(mapping, list(reader.fieldnames or []), str(path))
        for row in reader:
            # Bytes are approximate (decoded text), good enough for a progress bar.
            yield reader.line_num, row, sum(len(v or "") + 1 for v in row.values())
