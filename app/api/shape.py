"""The shape limits of a GraphQL document: how deep its operations reach and how many
aliases they use, counted as if every fragment spread were written out in place.

Each fragment is measured once and remembered, so a document whose fragments spread each
other twice at every level (2^n fields written out) costs n steps to measure, not 2^n.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions.utils import is_introspection_key

from app.api.errors import ErrorCode, coded


@dataclass(frozen=True, slots=True)
class Shape:
    depth: int  # nesting of fields below this point; a field without a selection: 0
    aliases: int  # aliased fields, with every fragment spread written out


@dataclass
class ShapeMeter:
    """Measures selection sets of one document, remembering each fragment's shape."""

    fragments: dict[str, FragmentDefinitionNode]
    known: dict[str, Shape] = field(default_factory=dict)
    measuring: set[str] = field(default_factory=set)

    def selections(self, selection_set: SelectionSetNode) -> Shape:
        depth, aliases = 0, 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                shape = self.field(selection)
                depth = max(depth, shape.depth)
            elif isinstance(selection, InlineFragmentNode):
                shape = self.selections(selection.selection_set)
                depth = max(depth, shape.depth)
            elif isinstance(selection, FragmentSpreadNode):
                shape = self.fragment(selection.name.value)
                depth = max(depth, shape.depth)
            else:  # pragma: no cover - the grammar has no other selection
                continue
            aliases += shape.aliases
        return Shape(depth, aliases)

    def field(self, node: FieldNode) -> Shape:
        aliased = int(node.alias is not None)
        if node.selection_set is None or is_introspection_key(node.name.value):
            return Shape(0, aliased)
        below = self.selections(node.selection_set)
        return Shape(below.depth + 1, below.aliases + aliased)

    def fragment(self, name: str) -> Shape:
        if name in self.known:
            return self.known[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.measuring:
            return Shape(0, 0)  # unknown fragments and cycles: the standard rules report them
        self.measuring.add(name)
        shape = self.selections(definition.selection_set)
        self.measuring.discard(name)
        self.known[name] = shape
        return shape


def fragments_of(definitions: object) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in definitions  # type: ignore[attr-defined]
            if isinstance(d, FragmentDefinitionNode)}


def shape_rule(max_depth: int, max_aliases: int) -> Callable[[ValidationContext],
                                                             ValidationRule]:
    """A validation rule refusing operations deeper than `max_depth` or with more than
    `max_aliases` aliases in the whole document (messages as strawberry's own rules)."""

    class ShapeLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            meter = ShapeMeter(fragments_of(document.definitions))
            total_aliases = 0
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                shape = meter.selections(definition.selection_set)
                total_aliases += shape.aliases
                if shape.depth > max_depth:
                    name = definition.name.value if definition.name else "anonymous"
                    context.report_error(coded(
                        f"'{name}' exceeds maximum operation depth of {max_depth}",
                        ErrorCode.QUERY_TOO_COMPLEX, nodes=definition))
            if total_aliases > max_aliases:
                context.report_error(coded(
                    f"{total_aliases} aliases found. Allowed: {max_aliases}",
                    ErrorCode.QUERY_TOO_COMPLEX))

    return ShapeLimits
