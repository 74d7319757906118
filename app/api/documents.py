"""Parsing and validating GraphQL documents: bounded, cached, and off the event loop.

Parsing stops at `max_tokens` tokens (a 1 MB document of fields took seconds to parse and
validate). A document not seen before is parsed and validated in a worker thread, so the
event loop keeps serving other requests meanwhile; the outcome of each distinct query text
is kept (frontends send the same few queries), and a cached one costs a dictionary look-up.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, parse
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from app.api.errors import ErrorCode, coded
from app.api.recent import RecentlyUsed


@dataclass(frozen=True, slots=True)
class Prepared:
    document: DocumentNode
    errors: list[GraphQLError]


def prepare(schema: GraphQLSchema, query: str, max_tokens: int,
            rules: tuple[type[ASTValidationRule], ...]) -> Prepared:
    """Parse and validate; raises GraphQLError when the text does not parse."""
    document = parse(query, max_tokens=max_tokens)
    return Prepared(document, validate_document(schema, document, rules))


class PrepareOffLoop(SchemaExtension):
    """Give strawberry the parsed document and its validation errors, prepared in a
    worker thread (or found in `cache`). A text that does not parse is left to strawberry,
    which parses it again, within the same token limit, and reports the syntax error."""

    def __init__(self, cache: RecentlyUsed[str, Prepared], max_tokens: int) -> None:
        self.cache = cache
        self.max_tokens = max_tokens
        self.prepared: Prepared | None = None

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        if context.query and context.graphql_document is None:
            self.prepared = self.cache.get(context.query)
            if self.prepared is None:
                work = functools.partial(prepare, context.schema._schema, context.query,
                                         self.max_tokens, context.validation_rules)
                try:
                    self.prepared = await anyio.to_thread.run_sync(work)
                except GraphQLError:
                    self.prepared = None
                else:
                    self.cache.put(context.query, self.prepared)
            if self.prepared is not None:
                context.graphql_document = self.prepared.document
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        if self.prepared is not None:
            errors = list(self.prepared.errors)
            # The name the client sent: `operation_name` falls back to the first
            # operation's, and `provided_operation_name` is an init-only field.
            if not errors and context._provided_operation_name is None:
                errors.extend(unnamed_choice(self.prepared.document))
            context.pre_execution_errors = errors
        yield


def unnamed_choice(document: DocumentNode) -> list[GraphQLError]:
    """A document of several operations sent without operationName: which one to run is
    the client's to say (GraphQL spec, GetOperation), not the first one's by default."""
    names = [d.name.value if d.name else "(anonymous)" for d in document.definitions
             if isinstance(d, OperationDefinitionNode)]
    if len(names) < 2:
        return []
    return [coded(f"operationName: the document holds {len(names)} operations "
                  f"({', '.join(names[:5])}); name the one to run", ErrorCode.BAD_REQUEST)]


def prepare_off_loop(max_tokens: int, cache_size: int) -> Callable[[], PrepareOffLoop]:
    """The extension factory of one schema: its requests share one cache."""
    cache: RecentlyUsed[str, Prepared] = RecentlyUsed(cache_size)
    return functools.partial(PrepareOffLoop, cache, max_tokens)
