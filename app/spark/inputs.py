"""What a rebuild reads: files of events, listed and cut into byte ranges.

JSONL files are read by Spark tasks in byte ranges (`chunks`), each task owning the lines
that start in its range, so that one large file is read by many tasks and every line keeps
its file and line number for the rejects (Spark's own text source gives neither, and it
replaces bytes that are not UTF-8 unseen; here they reach the bounds check, which rejects
them with the field that holds them, as `idgraph load` does). Paths may be local or any
URI pyarrow's file systems open (s3://, gs://, hdfs://), which a cluster's tasks reach.
Parquet files are read by Spark's own reader (app/spark/parse.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import pyarrow.fs as pafs

CHUNK_BYTES = 64 * 1024 * 1024
_READ_BYTES = 1024 * 1024  # how far past its range a task reads to finish its last line


class InputKind(StrEnum):
    JSONL = "jsonl"
    PARQUET = "parquet"


class RebuildInputError(ValueError):
    """An input that cannot be read; the message names it."""


@dataclass(frozen=True, slots=True)
class InputFile:
    index: int
    path: str  # as the user gave it: what the rejects name
    uri: str  # what the file system opens
    size: int
    kind: InputKind


@dataclass(frozen=True, slots=True)
class Chunk:
    file: int
    chunk: int
    uri: str
    start: int
    end: int


def _uri(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


def _kind(path: str) -> InputKind:
    lowered = path.lower()
    if lowered.endswith(".parquet"):
        return InputKind.PARQUET
    if lowered.endswith(".csv"):
        raise RebuildInputError(f"{path}: a rebuild reads JSONL and Parquet; load CSV files with "
                         "`idgraph load --mapping` or convert them first")
    return InputKind.JSONL


def list_inputs(paths: Sequence[str]) -> list[InputFile]:
    """The files to read, in the order given (a directory: its files by name, hidden ones
    and Spark's markers left out)."""
    found: list[tuple[str, str, int]] = []
    for path in paths:
        uri = _uri(path)
        try:
            fs, inner = pafs.FileSystem.from_uri(uri)
            info = fs.get_file_info(inner)
        except (OSError, ValueError) as exc:
            raise RebuildInputError(f"{path}: cannot read it ({exc})") from None
        if info.type == pafs.FileType.NotFound:
            raise RebuildInputError(f"{path}: no such file or directory")
        if info.type == pafs.FileType.Directory:
            inside = fs.get_file_info(pafs.FileSelector(inner, recursive=True))
            files = sorted((i for i in inside if i.type == pafs.FileType.File
                            and not i.base_name.startswith((".", "_"))), key=lambda i: i.path)
            found += [(f"{path.rstrip('/')}/{os.path.relpath(i.path, inner)}",
                       _join(uri, inner, i.path), i.size) for i in files]
        else:
            found.append((path, uri, info.size))
    return [InputFile(n, path, uri, size, _kind(path))
            for n, (path, uri, size) in enumerate(found)]


def _join(uri: str, inner: str, child: str) -> str:
    """The URI of `child`, a path under `inner` of the file system `uri` names."""
    return uri[: len(uri) - len(inner)] + child if uri.endswith(inner) else child


def chunks(files: Sequence[InputFile], chunk_bytes: int = CHUNK_BYTES) -> list[Chunk]:
    """Byte ranges of the JSONL files (an empty file is one empty range: it still counts)."""
    out = []
    for f in files:
        if f.kind is not InputKind.JSONL:
            continue
        starts = range(0, max(f.size, 1), chunk_bytes)
        out += [Chunk(f.index, n, f.uri, s, min(s + chunk_bytes, f.size))
                for n, s in enumerate(starts)]
    return out


def owned_lines(uri: str, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line without its newline) of every line that starts in [start, end),
    blank lines included, so that numbering them gives the file's line numbers."""
    fs, inner = pafs.FileSystem.from_uri(uri)
    with fs.open_input_file(inner) as handle:
        size = handle.size()
        begin = start
        if start > 0:
            handle.seek(start - 1)
            if handle.read(1) != b"\n":
                # The line that holds `start` began in the range before: skip to its end.
                begin = _next_line(handle, start, size)
        if begin >= end or begin >= size:
            return
        handle.seek(begin)
        data = handle.read(end - begin)
        tail = b""
        if not data.endswith(b"\n") and end < size:
            tail = _rest_of_line(handle)
        data += tail
        offset = begin
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines.pop()
        for line in lines:
            yield offset, line
            offset += len(line) + 1


def _next_line(handle: pafs.NativeFile, position: int, size: int) -> int:
    """The offset of the first line starting after `position`."""
    handle.seek(position)
    while position < size:
        block = handle.read(_READ_BYTES)
        at = block.find(b"\n")
        if at >= 0:
            return position + at + 1
        position += len(block)
    return size


def _rest_of_line(handle: pafs.NativeFile) -> bytes:
    parts = []
    while block := handle.read(_READ_BYTES):
        at = block.find(b"\n")
        if at >= 0:
            parts.append(block[: at + 1])
            break
        parts.append(block)
    return b"".join(parts)
