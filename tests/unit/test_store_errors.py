"""Store errors say whether trying again can help (`retriable`), whichever adapter raised
them, so that the loaders and the outbox decide on the flag and never on driver types."""

from __future__ import annotations

import sqlite3

import pytest
from neo4j.exceptions import ClientError, TransientError

from app.domain.plan import Gather, Plan
from app.stores.errors import StoreBusy, StoreError, StoreUnavailable
from app.stores.neo4j.errors import translated
from loaders.kafka import is_transient


async def test_a_sqlite_file_held_by_another_writer_is_a_retriable_store_busy(sqlite_store):
    other = sqlite3.connect(sqlite_store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    sqlite_store.db.execute("PRAGMA busy_timeout=20")
    try:
        with pytest.raises(StoreBusy) as raised:
            await sqlite_store.transact(Gather(), lambda snapshot: Plan())
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert raised.value.retriable and is_transient(raised.value)
    # and the store works again once the other writer is done
    assert (await sqlite_store.transact(Gather(), lambda snapshot: Plan())).plan == Plan()


def test_other_sqlite_errors_stay_what_they_are(sqlite_store):
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        sqlite_store.db.execute("SELECT * FROM no_such_table")


class _Store:
    database = "neo4j"
    redacted_url = "neo4j://neo4j:***@127.0.0.1:7687"

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(str(exc))

    @translated
    async def fails(self, exc: Exception) -> None:
        raise exc


async def test_a_neo4j_error_the_driver_calls_retryable_becomes_a_retriable_store_busy():
    with pytest.raises(StoreBusy) as raised:
        await _Store().fails(TransientError("deadlock detected"))
    assert raised.value.retriable and is_transient(raised.value)


async def test_a_neo4j_error_that_is_not_retryable_is_raised_as_it_is():
    with pytest.raises(ClientError):
        await _Store().fails(ClientError("syntax"))
    assert not is_transient(ClientError("syntax"))


def test_the_flag_decides_and_plain_store_errors_are_not_retried():
    assert is_transient(StoreUnavailable("down"))
    assert not is_transient(StoreError("a merge names a customer the store does not hold"))
    assert not is_transient(sqlite3.OperationalError("database is locked"))
