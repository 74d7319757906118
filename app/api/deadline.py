"""The time budget of a query: an HTTP request whose operation is a query has
IDGRAPH_API_QUERY_TIMEOUT_SECONDS to finish; past it, what it still waits for (store
reads, mostly) is cancelled and the answer is an error that says so. Mutations are never
cut short: each is one transaction, and an answer must not call it failed once it has
committed. CPU work cannot be cut short this way: the request limits bound it instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.api.errors import ErrorCode, coded


def over_time(seconds: float) -> GraphQLError:
    return coded(f"the query ran longer than {seconds:g} s and was stopped; ask for "
                        f"less, such as fewer items or a shorter period "
                        f"(IDGRAPH_API_QUERY_TIMEOUT_SECONDS)", ErrorCode.QUERY_TIMEOUT)


class QueryDeadline(SchemaExtension):
    """Arms the request's time budget (Context.time_budget, opened unarmed by the HTTP
    view) once the operation is known to be a query."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        budget: asyncio.Timeout | None = getattr(context.context, "time_budget", None)
        if budget is not None and context.operation_type == OperationType.QUERY:
            budget.reschedule(asyncio.get_running_loop().time() + self.seconds)
        yield
