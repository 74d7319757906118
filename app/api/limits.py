"""The limits on what one request may ask for, assembled as the schema's extensions, and
error masking, so that no unexpected error leaks internals.

In the order a request meets them: the caller (RequireCaller, app/api/auth.py); the
document's size in tokens, parsed and validated off the event loop with the result cached
per query text (app/api/documents.py); its depth and aliases, fragments written out
(app/api/shape.py); its estimated cost with the request's variables (app/api/cost.py);
and for a query over HTTP, its time (app/api/deadline.py).
The size of the request itself is bounded before any of this (app/api/budget.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension

from app.api.arguments import TextVariables
from app.api.auth import RequireCaller
from app.api.cost import CostLimiter
from app.api.deadline import QueryDeadline
from app.api.documents import prepare_off_loop
from app.api.errors import ErrorCode, InputError, coded, with_code
from app.api.shape import shape_rule
from app.config import Settings
from app.stores.base import StoreUnavailable

MAX_ALIASES = 100
CACHED_DOCUMENTS = 256  # distinct query texts whose parse and validation are kept


class ErrorMasking(MaskErrors):
    """Keep the messages of errors idgraph means users to read; replace all others, whose
    text may hold internals, with a short message (the full error is in the server log).
    Every error leaves with its `extensions.code` (app/api/errors.py)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_should_mask)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if isinstance(error.original_error, StoreUnavailable):
            message, code = ("the store is unavailable; try again shortly",
                             ErrorCode.STORE_UNAVAILABLE)
        else:
            message, code = ("internal error; the server log has the details",
                             ErrorCode.INTERNAL_SERVER_ERROR)
        return coded(message, code, nodes=error.nodes, source=error.source,
                     positions=error.positions, path=error.path)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [with_code(error) for error in super()._process_errors(errors)]


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, InputError | GraphQLError)


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """The extensions of a schema, as factories (one instance per request). The validation
    rules are made once, so that validation results can be cached by query text."""
    from graphql.validation import NoSchemaIntrospectionCustomRule

    rules = [shape_rule(settings.api_max_depth, MAX_ALIASES)]
    if not settings.api_introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return [
        RequireCaller,
        TextVariables,
        functools.partial(AddValidationRules, rules),
        prepare_off_loop(settings.api_max_query_tokens, CACHED_DOCUMENTS),
        functools.partial(CostLimiter, settings.api_max_cost),
        functools.partial(QueryDeadline, settings.api_query_timeout_seconds),
        ErrorMasking,
    ]
