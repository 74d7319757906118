"""Parsing and validating GraphQL documents: bounded, cached, and off the event loop.

Parsing stops at `max_tokens` tokens (a 1 MB document of fields took seconds to parse and
validate). A document not seen before is parsed and validated in a worker thread, so the
event loop keeps serving other requests meanwhile; the outcome of each distinct query text
is kept (frontends send the same few queries), and a cached one costs a dictionary look-up.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


@dataclass(frozen=True, slots=True)
class Prepared:
    document: DocumentNode
    errors: list[GraphQLError]


class PreparedCache:
    """The last `size` query texts, parsed and validated; used from the event loop only."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[str, Prepared] = OrderedDict()

    def get(self, query: str) -> Prepared | None:
        found = self.entries.get(query)
        if found is not None:
            self.entries.move_to_end(query)
        return found

    def put(self, query: str, prepared: Prepared) -> None:
        self.entries[query] = prepared
        self.entries.move_to_end(query)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


def prepare(schema: GraphQLSchema, query: str, max_tokens: int,
            rules: tuple[type[ASTValidationRule], ...]) -> Prepared:
    """Parse and validate; raises GraphQLError when the text does not parse."""
    document = parse(query, max_tokens=max_tokens)
    return Prepared(document, validate_document(schema, document, rules))


class PrepareOffLoop(SchemaExtension):
    """Give strawberry the parsed document and its validation errors, prepared in a
    worker thread (or found in `cache`). A text that does not parse is left to strawberry,
    which parses it again, within the same token limit, and reports the syntax error."""

    def __init__(self, cache: PreparedCache, max_tokens: int) -> None:
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
        if self.prepared is not None:
            self.execution_context.pre_execution_errors = list(self.prepared.errors)
        yield


def prepare_off_loop(max_tokens: int, cache_size: int) -> Callable[[], PrepareOffLoop]:
    """The extension factory of one schema: its requests share one cache."""
    cache = PreparedCache(cache_size)
    return functools.partial(PrepareOffLoop, cache, max_tokens)
