"""The estimated cost of an operation, and CostLimiter, which refuses one over the limit.

Every object a query can return costs 1; a field's children are multiplied by its `first`
argument (or its default), by the number of `identifiers` given to `customers` (of `ids`
to `nodes`), and by DEFAULT_LIST_SIZE for other lists of objects; scalars are free. Fields
that read more than their size shows add a fixed estimate of those reads (READ_COSTS):
identityGraph 25 per depth level, fields computed from the customer's whole history 100,
campaignPerformance (every event in its window) 5,000.

Every term is proportional to the multiplier a selection set is reached with, so a
fragment's cost is computed once per parent type, at multiplier 1, and scaled: fragments
that spread each other twice at every level cost one step per fragment to estimate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
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
from strawberry.extensions import SchemaExtension

from app.api.errors import ErrorCode, coded
from app.api.shape import fragments_of
from app.services.customers import MAX_PAGE, MAX_SEARCH

DEFAULT_LIST_SIZE = 10
GRAPH_COST_PER_DEPTH = 25
READ_COSTS = {"computed": 100, "nextBestAction": 100, "campaignPerformance": 5_000}
# Fields that return one object per item of a list argument.
LISTED_BY = {"customers": "identifiers", "nodes": "ids"}
PAGE_LIMITS = {"searchCustomers": MAX_SEARCH}  # `first` of any other field: MAX_PAGE


@dataclass
class CostMeter:
    """Estimates selection sets of one operation with its variables, remembering the cost
    of each fragment on each parent type."""

    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    known: dict[tuple[str, str], float] = field(default_factory=dict)
    measuring: set[str] = field(default_factory=set)

    def selections(self, parent: Any, selection_set: SelectionSetNode) -> float:
        """The cost of a selection set reached with multiplier 1."""
        total = 0.0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(target or parent, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(parent, selection.name.value)
        return total

    def fragment(self, parent: Any, name: str) -> float:
        memo = (name, getattr(parent, "name", ""))
        if memo in self.known:
            return self.known[memo]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.measuring:
            return 0.0  # unknown fragments and cycles: the standard rules report them
        target = self.schema.get_type(fragment.type_condition.name.value)
        self.measuring.add(name)
        cost = self.selections(target or parent, fragment.selection_set)
        self.measuring.discard(name)
        self.known[memo] = cost
        return cost

    def field(self, parent: Any, node: FieldNode) -> float:
        fields = getattr(parent, "fields", None) or {}
        definition: GraphQLField | None = fields.get(node.name.value)
        if definition is None or node.selection_set is None:
            return 0.0
        args = self.arguments(definition, node)
        cost = 1.0
        if node.name.value == "identityGraph":
            cost += GRAPH_COST_PER_DEPTH * (1 + _int(args.get("depth"), 1))
        if "first" in args:
            children = float(max(page(node, _int(args["first"], DEFAULT_LIST_SIZE)), 1))
        elif isinstance(listed := args.get(LISTED_BY.get(node.name.value, "")), list):
            children = cost = float(max(len(listed), 1))
        elif _is_list(definition.type) and not parent.name.endswith("Connection"):
            children = cost = float(DEFAULT_LIST_SIZE)
        else:
            children = 1.0
        cost += READ_COSTS.get(node.name.value, 0)
        below = self.selections(get_named_type(definition.type), node.selection_set)
        return cost + children * below

    def arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        args = {name: arg.default_value for name, arg in definition.args.items()
                if arg.default_value is not None}
        for arg in node.arguments or ():
            args[arg.name.value] = value_from_ast_untyped(arg.value, self.variables)
        return args


def query_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
               fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> int:
    root = schema.get_root_type(operation.operation)
    return int(CostMeter(schema, fragments, variables).selections(root,
                                                                  operation.selection_set))


def page(node: FieldNode, first: int) -> int:
    """A page size within its field's bounds. Checked here, before anything runs, so that
    a page too large is a request error: raised by the field, it would null the object
    that holds the field (a customer, for its timeline)."""
    limit = PAGE_LIMITS.get(node.name.value, MAX_PAGE)
    if not 0 <= first <= limit:
        raise coded(f"first: must be between 0 and {limit}, not {first}",
                    ErrorCode.BAD_USER_INPUT, nodes=node)
    return first


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class CostLimiter(SchemaExtension):
    """Refuse an operation whose estimated cost is over `max_cost`, before it runs. It is
    not a validation rule: the cost depends on the variables, and validation is cached.
    The refusal is raised, not set as the result, so that it holds for subscriptions."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # operation_name: the one the request names, else the document's first
        operation = get_operation_ast(document, context.operation_name) if document else None
        if document is not None and operation is not None:
            cost = query_cost(context.schema._schema, operation,
                              fragments_of(document.definitions), context.variables or {})
            if cost > self.max_cost:
                name = operation.name.value if operation.name else "the query"
                raise coded(
                    f"{name} costs an estimated {cost:,}, over the limit of "
                    f"{self.max_cost:,}: ask for fewer items (smaller `first`, fewer "
                    f"identifiers) or fewer nested lists; docs/api.md explains the estimate",
                    ErrorCode.QUERY_TOO_COSTLY, nodes=operation)
        yield
