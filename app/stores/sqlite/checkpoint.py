"""Copying the write-ahead log back into the database file: by a background thread
(Checkpointer), not by whichever COMMIT happens to cross SQLite's threshold (that copy took
~19 ms, one commit in 25); and all of it at once after an erasure (truncate_log)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time

# The background checkpointer runs this often; a pass with nothing to copy costs microseconds.
CHECKPOINT_INTERVAL = 0.05  # seconds
# Commits still checkpoint when the log reaches this many pages (~40 MB of 4 KiB pages):
# a safety net should no checkpointer keep up, never the normal path.
AUTOCHECKPOINT_PAGES = 10_000
# The checkpoint after an erasure is tried again this often, for this long: a reader in
# another process finishes in milliseconds, and the erasure's caller is waiting.
PURGE_TRY_MS = 50
PURGE_WAIT_S = 10.0


class Checkpointer:
    """Copies the write-ahead log into the database file, off the writers' path.

    Its own connection runs PASSIVE checkpoints, which never block readers or writers and
    give way to another process's checkpoint. Every store that writes runs one, so several
    processes sharing a file each keep it short; a process on older code still has its own
    automatic checkpoints.
    """

    def __init__(self, path: str) -> None:
        self._stop = threading.Event()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(CHECKPOINT_INTERVAL):
                # Busy or locked: the next pass catches up.
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            self._db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


async def truncate_log(db: sqlite3.Connection, busy_timeout_ms: int) -> bool:
    """Try the TRUNCATE checkpoint until it completes or PURGE_WAIT_S pass, waiting
    between tries without holding up the event loop; then put the connection's busy
    timeout back to `busy_timeout_ms`."""
    deadline = time.monotonic() + PURGE_WAIT_S
    db.execute(f"PRAGMA busy_timeout={PURGE_TRY_MS}")
    try:
        while True:
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(PURGE_TRY_MS / 1000)
    finally:
        db.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
