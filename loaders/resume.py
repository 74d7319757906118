"""Checkpoints for resumable file loads.

After each batch is durable in the store, the checkpoint records how many records of each
input file are done; a re-run after a crash skips them. The checkpoint is written after
the store commit, so a crash in between repeats at most one batch, which changes nothing
because writes are idempotent on event_id. A file whose size or modification time has
changed since is loaded again from its start, for the same reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class FileProgress:
    size: int
    mtime_ns: int
    records: int = 0
    complete: bool = False


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@dataclass(slots=True)
class Checkpoint:
    path: Path
    files: dict[str, FileProgress] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path) -> Checkpoint:
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(path, {k: FileProgress(**v) for k, v in data.get("files", {}).items()})

    def done(self, source: Path) -> FileProgress:
        """What is done of `source`: nothing when it is new or has changed."""
        size, mtime_ns = _identity(source)
        known = self.files.get(str(source.resolve()))
        if known and (known.size, known.mtime_ns) == (size, mtime_ns):
            return known
        return FileProgress(size, mtime_ns)

    def mark(self, source: Path, records: int, complete: bool) -> None:
        size, mtime_ns = _identity(source)
        self.files[str(source.resolve())] = FileProgress(size, mtime_ns, records, complete)

    def save(self) -> None:
        # Write aside, flush to disk, rename: a crash leaves the old or the new file whole.
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = {"files": {k: vars_of(v) for k, v in self.files.items()}}
        with tmp.open("w") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


def vars_of(progress: FileProgress) -> dict[str, object]:
    return {"size": progress.size, "mtime_ns": progress.mtime_ns,
            "records": progress.records, "complete": progress.complete}
