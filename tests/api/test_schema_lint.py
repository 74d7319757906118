"""Every part of the schema a client sees carries a description.

Frontend teams read the schema through introspection (GraphiQL, codegen, IDE plugins); a
type, field, argument or enum value without a description leaves them guessing at units, formats,
roles and what null means. The lint reads the schema the code serves, so a new field without a
description fails here, and test_schema_file keeps app/api/schema.graphql equal to it.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    is_introspection_type,
    is_specified_directive,
    is_specified_scalar_type,
)

from app.api.sdl import sdl


def _undescribed_arguments(owner: str, arguments: dict[str, GraphQLArgument]) -> Iterator[str]:
    for name, argument in arguments.items():
        if not (argument.description or "").strip():
            yield f"argument {owner}({name}:)"


def _undescribed_parts(named: GraphQLNamedType) -> Iterator[str]:
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        for name, field in named.fields.items():
            if not (field.description or "").strip():
                yield f"field {named.name}.{name}"
            yield from _undescribed_arguments(f"{named.name}.{name}", field.args)
    elif isinstance(named, GraphQLInputObjectType):
        for name, input_field in named.fields.items():
            if not (input_field.description or "").strip():
                yield f"input field {named.name}.{name}"
    elif isinstance(named, GraphQLEnumType):
        for name, value in named.values.items():
            if not (value.description or "").strip():
                yield f"enum value {named.name}.{name}"


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Every client-visible part of `schema` that has no description, by kind and name."""
    missing: list[str] = []
    for named in schema.type_map.values():
        if is_introspection_type(named) or is_specified_scalar_type(named):
            continue
        if not (named.description or "").strip():
            missing.append(f"type {named.name}")
        missing.extend(_undescribed_parts(named))
    for directive in schema.directives:
        if not is_specified_directive(directive):
            if not (directive.description or "").strip():
                missing.append(f"directive @{directive.name}")
            missing.extend(_undescribed_arguments(f"@{directive.name}", directive.args))
    return missing


def test_the_lint_finds_what_has_no_description():
    schema = build_schema('''
        """Described."""
        type Query {
          """Described."""
          described("""Described.""" a: Int): Int
          bare(b: Int): Int
        }
        enum Kind { ONE }
        input Filter { field: Int }
        union Either = Query
    ''')
    assert sorted(undescribed(schema)) == sorted([
        "field Query.bare", "argument Query.bare(b:)", "type Kind", "enum value Kind.ONE",
        "type Filter", "input field Filter.field", "type Either"])


def test_every_type_field_argument_and_enum_value_has_a_description():
    missing = undescribed(build_schema(sdl()))
    assert not missing, f"{len(missing)} parts of the schema lack a description:\n" + "\n".join(
        missing)
