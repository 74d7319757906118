"""Incremental delivery (`@defer` and `@stream`, answered as multipart/mixed): the parts
after the first go out as every other answer does, and within the query's time budget.

Strawberry formats the first part through the schema's extensions (ErrorMasking gives each
error its `extensions.code`) but hands graphql-core's later parts to the transport as they
come, and the view's time budget closes once the first part is made. Here each later part's
errors pass through the same masking, and each wait for a part is bounded by the deadline
QueryDeadline armed for the request; past it the parts still pending complete with the
QUERY_TIMEOUT error and the response ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

from graphql.execution import (
    CompletedResult,
    ExperimentalIncrementalExecutionResults,
    SubsequentIncrementalExecutionResult,
)

from app.api.deadline import over_time
from app.api.limits import ErrorMasking

Parts = AsyncGenerator[SubsequentIncrementalExecutionResult, None]


def within_budget(results: ExperimentalIncrementalExecutionResults, deadline: float | None,
                  seconds: float) -> ExperimentalIncrementalExecutionResults:
    """The same results, their later parts formatted and bounded by `deadline` (the event
    loop's clock; None: no limit, as for a mutation)."""
    pending = {p.id for p in results.initial_result.pending}
    return results._replace(subsequent_results=_later_parts(
        results.subsequent_results, pending, deadline, seconds))


async def _later_parts(parts: Parts, pending: set[str], deadline: float | None,
                       seconds: float) -> Parts:
    masking = ErrorMasking()
    async with aclosing(parts):
        while pending:
            try:
                async with asyncio.timeout_at(deadline) as budget:
                    part = await anext(parts)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if not budget.expired():
                    raise
                # closing `parts` (on leaving) cancels the work still running
                yield SubsequentIncrementalExecutionResult(has_next=False, completed=[
                    CompletedResult(id=i, errors=[over_time(seconds)]) for i in sorted(pending)])
                return
            for done in [*(part.incremental or ()), *(part.completed or ())]:
                if done.errors:
                    done.errors = masking._process_errors(done.errors)
            pending |= {p.id for p in part.pending or ()}
            pending -= {c.id for c in part.completed or ()}
            yield part
