"""Bounds on argument values that their GraphQL types alone do not give: whole numbers in
cursors, report times, and text in variables (JSON may carry unpaired UTF-16 surrogates,
which no store can write; document literals cannot: the parser refuses them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ListTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from app.api.errors import ErrorCode, coded

# Variables of these types are events, which ingest checks value by value (and rejects
# one by one, keeping the rest of the batch).
CHECKED_BY_INGEST = frozenset({"JSON"})
MAX_STORED_INT = 2**63 - 1  # the largest audit seq or review id a store holds


def ascii_int(text: str, limit: int) -> int | None:
    """A whole number written in ASCII digits, up to `limit`; None for anything else.
    (str.isdigit accepts "²", which int() refuses, and a store column holds 64 bits.)"""
    if not text or len(text) > len(str(limit)) or not all("0" <= c <= "9" for c in text):
        return None
    number = int(text)
    return number if number <= limit else None


def unpaired_surrogate(value: Any) -> tuple[str, str] | None:
    """The path (".a[2]") and the character of the first unpaired surrogate in a decoded
    JSON value; None when it has none. Iterative: variables are bounded in depth already,
    but a stack is cheaper than recursion either way."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if odd := next((c for c in item if "\ud800" <= c <= "\udfff"), None):
                return path, odd
        elif isinstance(item, dict):
            stack.extend((f"{path}.{k}", v) for k, v in reversed(item.items()))
            stack.extend((f"{path}.{k}", k) for k in item if isinstance(k, str))
        elif isinstance(item, list):
            stack.extend((f"{path}[{n}]", v) for n, v in reversed(list(enumerate(item))))
    return None


def _type_name(node: TypeNode) -> str:
    while isinstance(node, ListTypeNode | NonNullTypeNode):
        node = node.type
    return node.name.value  # type: ignore[attr-defined]


def _checked_variables(operation: OperationDefinitionNode) -> Iterator[str]:
    for definition in operation.variable_definitions or ():
        if _type_name(definition.type) not in CHECKED_BY_INGEST:
            yield definition.variable.name.value


class TextVariables(SchemaExtension):
    """Refuse an operation whose variables hold an unpaired UTF-16 surrogate ("\\ud800"
    in JSON), naming the variable, before any resolver sees it."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) \
            if document else None
        variables = context.variables or {}
        for name in _checked_variables(operation) if operation else ():
            if (found := unpaired_surrogate(variables.get(name))) is not None:
                path, char = found
                raise coded(f"${name}{path}: holds U+{ord(char):04X}, half of a "
                                   f"UTF-16 surrogate pair, which is not text; send the "
                                   f"whole character", ErrorCode.BAD_USER_INPUT)
        yield
