"""Limits on what one request may ask for, each with a clear error: query depth
(strawberry's depth rule), aliases, estimated cost (CostLimiter, below), request body size
(BodyLimit), and error masking, so that no unexpected error leaks internals. Parsing and
validation are cached per query text: frontends send the same few queries.

Cost estimate: every object a query can return costs 1; a field's children are multiplied
by its `first` argument (or its default), by the number of `identifiers` given to
`customers`, and by DEFAULT_LIST_SIZE for other lists of objects; scalars are free.
Fields that read more than their size shows add a fixed estimate of those reads
(READ_COSTS): identityGraph 25 per depth level, fields computed from the customer's whole
history 100, campaignPerformance (every event in its window) 5,000.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    value_from_ast_untyped,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import MaskErrors, SchemaExtension

from app.api.types import InputError
from app.stores.errors import StoreUnavailable

DEFAULT_LIST_SIZE = 10
GRAPH_COST_PER_DEPTH = 25
READ_COSTS = {"computed": 100, "nextBestAction": 100, "campaignPerformance": 5_000}
MAX_ALIASES = 100
CACHED_DOCUMENTS = 256  # distinct query texts whose parse and validation are kept
log = logging.getLogger(__name__)


def query_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
               fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> int:
    root = schema.get_root_type(operation.operation)
    return int(_selection_cost(schema, root, operation.selection_set, fragments, variables, 1,
                               frozenset()))


def _selection_cost(schema: GraphQLSchema, parent: Any, selection_set: SelectionSetNode,
                    fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any],
                    multiplier: float, seen: frozenset[str]) -> float:
    total = 0.0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += _field_cost(schema, parent, selection, fragments, variables, multiplier,
                                 seen)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = schema.get_type(condition.name.value) if condition else parent
            total += _selection_cost(schema, target or parent, selection.selection_set,
                                     fragments, variables, multiplier, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue  # reported by the standard validation rules
            target = schema.get_type(fragment.type_condition.name.value)
            total += _selection_cost(schema, target or parent, fragment.selection_set,
                                     fragments, variables, multiplier, seen | {name})
    return total


def _field_cost(schema: GraphQLSchema, parent: Any, node: FieldNode,
                fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any],
                multiplier: float, seen: frozenset[str]) -> float:
    fields = getattr(parent, "fields", None) or {}
    field: GraphQLField | None = fields.get(node.name.value)
    if field is None or node.selection_set is None:
        return 0.0
    args = _arguments(field, node, variables)
    cost = multiplier
    if node.name.value == "identityGraph":
        cost += multiplier * GRAPH_COST_PER_DEPTH * (1 + _int(args.get("depth"), 1))
    if "first" in args:
        children = multiplier * max(_int(args["first"], DEFAULT_LIST_SIZE), 1)
    elif node.name.value == "customers" and isinstance(args.get("identifiers"), list):
        children = multiplier * max(len(args["identifiers"]), 1)
        cost = children
    elif _is_list(field.type) and not parent.name.endswith("Connection"):
        children = multiplier * DEFAULT_LIST_SIZE
        cost = children
    else:
        children = multiplier
    cost += multiplier * READ_COSTS.get(node.name.value, 0)
    return cost + _selection_cost(schema, get_named_type(field.type), node.selection_set,
                                  fragments, variables, children, seen)


def _arguments(field: GraphQLField, node: FieldNode, variables: dict[str, Any]
               ) -> dict[str, Any]:
    args = {name: arg.default_value for name, arg in field.args.items()
            if arg.default_value is not None}
    for arg in node.arguments or ():
        args[arg.name.value] = value_from_ast_untyped(arg.value, variables)
    return args


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class CostLimiter(SchemaExtension):
    """Refuse an operation whose estimated cost is over `max_cost`, before it runs. It is
    not a validation rule: the cost depends on the variables, and validation is cached."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # operation_name: the one the request names, else the document's first
        operation = get_operation_ast(document, context.operation_name) if document else None
        if document is not None and operation is not None:
            fragments = {d.name.value: d for d in document.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            cost = query_cost(context.schema._schema, operation, fragments,
                              context.variables or {})
            if cost > self.max_cost:
                name = operation.name.value if operation.name else "the query"
                context.result = ExecutionResult(None, [GraphQLError(
                    f"{name} costs an estimated {cost:,}, over the limit of "
                    f"{self.max_cost:,}: ask for fewer items (smaller `first`, fewer "
                    f"identifiers) or fewer nested lists; docs/api.md explains the estimate",
                    operation)])
        yield


class ErrorMasking(MaskErrors):
    """Keep the messages of errors idgraph means users to read; replace all others, whose
    text may hold internals, with a short message (the full error is in the server log)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_should_mask)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        message = ("the store is unavailable; try again shortly"
                   if isinstance(error.original_error, StoreUnavailable)
                   else "internal error; the server log has the details")
        return GraphQLError(message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path)


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, InputError | GraphQLError)


def limit_extensions(max_depth: int, max_cost: int, introspection: bool
                     ) -> list[Callable[[], SchemaExtension]]:
    """The extensions of a schema, as factories (one instance per request). The validation
    rules are made once, so that validation results can be cached by document."""
    from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
    from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
    from strawberry.extensions.max_aliases import create_validator as aliases_rule
    from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

    rules: list[type[ASTValidationRule]] = [depth_rule(max_depth, None),
                                            aliases_rule(MAX_ALIASES)]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return [
        functools.partial(ParserCache, maxsize=CACHED_DOCUMENTS),
        functools.partial(AddValidationRules, rules),
        functools.partial(ValidationCache, maxsize=CACHED_DOCUMENTS),
        functools.partial(CostLimiter, max_cost),
        ErrorMasking,
    ]


class BodyLimit:
    """Answer 413 with a GraphQL error to a request body over `max_bytes`, before it is
    parsed; the body is buffered (GraphQL requests are small) and replayed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(send)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._too_large(send)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"errors": [{"message": f"request body larger than "
                                       f"{self.max_bytes:,} bytes; send less per request "
                                       f"(IDGRAPH_API_MAX_BODY_BYTES)"}]}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
