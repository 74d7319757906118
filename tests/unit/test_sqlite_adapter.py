"""The SQLite adapter's shape, without a database: every section of a Plan is written by the
statements records.WRITTEN_BY names, each with rows of the width its statement expects.

A recording connection stands in for sqlite3 here only to see which statements `_apply`
runs and with what; what those statements do to a real file is the contract suite's job
(tests/contract).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from typing import Any

import pytest

from app.domain.plan import Erased, Plan
from app.domain.privacy import SuppressionKey
from app.stores.sqlite import outbox, queries, records
from app.stores.sqlite.store import SQLiteStore
from tests.unit.plans import full_plan

KEY = SuppressionKey(b"k" * 32)
STATEMENTS: dict[str, str] = {
    **{name: text for name, text in vars(queries).items()
       if name.isupper() and isinstance(text, str)},
    **{f"outbox.{name}": getattr(outbox, name) for name in ("APPEND_OUTBOX", "RECORD_CHECK")},
}
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b")
# The placeholders a statement is formatted with (the chunk's marks, a column or table name).
PLACEHOLDER = re.compile(r"\\\{\w+\\\}")


def pattern(text: str) -> re.Pattern[str]:
    return re.compile(PLACEHOLDER.sub(".*?", re.escape(text)), re.DOTALL)


PATTERNS = {name: pattern(text) for name, text in STATEMENTS.items()}


def statement_name(sql: str) -> str | None:
    """The name of the statement `sql` was made from; None for the segment and outbox
    halves' own unnamed statements."""
    exact = [name for name, text in STATEMENTS.items() if text == sql]
    if exact:
        return exact[0]
    formatted = [name for name, p in PATTERNS.items() if "{" in STATEMENTS[name]
                 and p.fullmatch(sql)]
    return formatted[0] if formatted else None


class Cursor:
    rowcount = 0
    lastrowid = 1

    def fetchone(self) -> tuple[int]:
        return (0,)  # the one value `_apply` fetches: the newest search term's id

    def __iter__(self) -> Iterable[Any]:
        return iter(())


class RecordingConnection:
    """Answers every read with nothing, and notes each statement with its rows."""

    def __init__(self) -> None:
        self.runs: list[tuple[str | None, list[Sequence[Any]]]] = []

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        self.runs.append((statement_name(sql), [parameters]))
        return Cursor()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Cursor:
        rows = list(rows)
        if rows and not re.search(r"\?\d", sql):  # ?1-style parameters repeat: no width
            width = len(re.findall(r"\?", sql))
            assert {len(row) for row in rows} == {width}, f"rows do not fit: {sql[:60]}"
        self.runs.append((statement_name(sql), rows))
        return Cursor()

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        return None

    def written(self) -> set[str]:
        """The named statements that ran with at least one row."""
        return {name for name, rows in self.runs if name is not None and rows}


def recording_store() -> SQLiteStore:
    store = SQLiteStore.__new__(SQLiteStore)
    store.path, store.suppression = ":memory:", KEY
    store._dropped_documents = set()
    store.db = RecordingConnection()  # type: ignore[assignment]
    return store


def applied(plan: Plan) -> RecordingConnection:
    store = recording_store()
    store._apply(plan)
    return store.db  # type: ignore[return-value]


def test_every_plan_section_is_written_or_only_reports():
    """A section added to Plan fails here until the SQLite adapter writes it."""
    assert set(records.WRITTEN_BY) | records.REPORT_ONLY == {f.name for f in fields(Plan)}
    assert not set(records.WRITTEN_BY) & records.REPORT_ONLY


def test_the_statements_named_for_each_section_exist_and_write():
    for section, names in records.WRITTEN_BY.items():
        for name in names:
            assert name in STATEMENTS, f"{section}: no statement {name}"
            assert WRITE.match(STATEMENTS[name]), f"{section}: {name} writes nothing"


def test_a_full_plan_runs_every_statement_that_writes_a_section():
    plan = full_plan()
    for section in records.WRITTEN_BY:
        assert getattr(plan, section), f"full_plan() leaves {section} empty"
    named = {name for names in records.WRITTEN_BY.values() for name in names}
    assert named <= applied(plan).written()


@pytest.mark.parametrize("section", sorted(records.WRITTEN_BY))
def test_each_section_alone_is_written_by_its_statements(section):
    """Only the section is filled in: the statements WRITTEN_BY names for it get its rows,
    so the map says which statement writes what, not merely that all of them run."""
    alone = replace(Plan(), **{section: getattr(full_plan(), section)})
    assert set(records.WRITTEN_BY[section]) <= applied(alone).written()


def test_an_empty_plan_writes_no_rows():
    assert not applied(Plan()).written()


def test_the_receipt_reports_audit_seqs_and_erasures_and_the_plan_is_not_written_into():
    plan = full_plan()
    receipt = recording_store()._apply(plan)
    assert receipt.plan is plan
    assert receipt.audit_seqs == (1,)
    assert receipt.audit_seq == 1
    assert receipt.erased == Erased()  # the recording connection deletes no rows
    assert receipt.changes == tuple(full_plan().changes)
    assert plan.changes == full_plan().changes  # the store writes nothing into the plan
