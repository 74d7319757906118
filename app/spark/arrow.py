"""Rows of Python dicts to Arrow batches, in a schema written as Spark DDL: what the
Spark tasks of app/spark/ hand back to Spark (mapInArrow, applyInArrow).

Spark parses DDL in its JVM, which only the driver has: a task's schema is made on the
driver (`arrow_schema`) and travels to the tasks inside their function."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 4096


@cache
def arrow_schema(ddl: str) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StructType, _parse_datatype_string

    schema = _parse_datatype_string(ddl)
    assert isinstance(schema, StructType)
    return to_arrow_schema(schema)


def batches_of(rows: Iterable[dict[str, Any]], schema: pa.Schema
               ) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    buffer: list[dict[str, Any]] = []
    for row in rows:
        buffer.append(row)
        if len(buffer) >= BATCH_ROWS:
            yield pa.RecordBatch.from_pylist(buffer, schema=schema)
            buffer = []
    if buffer:
        yield pa.RecordBatch.from_pylist(buffer, schema=schema)


def table_of(rows: Iterable[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_batches(list(batches_of(rows, schema)), schema=schema)
