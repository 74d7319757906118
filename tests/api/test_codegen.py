"""What a frontend team builds from the committed SDL: graphql-codegen (typescript and
typescript-operations) over one operation per root field, every argument a variable, every
union member spelled out and every type of the schema selected somewhere, then
`tsc --strict`. A schema that codegen cannot read, an operation
the schema refuses, or a custom scalar without a TypeScript type fails it. And the explorer's
copies of the schema's enums hold the schema's values."""

from __future__ import annotations

import json
import re
from pathlib import Path

from graphql import GraphQLEnumType, GraphQLObjectType, build_schema

from tests.api.nodejs import installed, node

SDL = Path(__file__).parents[2] / "app" / "api" / "schema.graphql"
EXPLORER_API = Path(__file__).parents[2] / "explorer" / "src" / "api.ts"


async def test_codegen_over_the_committed_sdl_passes_tsc_strict(tmp_path):
    await installed()
    made = json.loads(await node("node", "codegen.mjs", str(SDL), str(tmp_path)))
    schema = build_schema(SDL.read_text())
    roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
    assert made["operations"] == sum(len(root.fields) for root in roots if root)
    operations = (tmp_path / "operations.ts").read_text()
    # every object type and enum a client can meet is in some operation's types
    named = {name for name, t in schema.type_map.items() if not name.startswith("__")
             and (isinstance(t, GraphQLEnumType) or isinstance(t, GraphQLObjectType)
                  and t not in roots)}
    assert {name for name in named if not re.search(rf"\b{name}\b", operations)} == set()
    assert "status: IdentifierStatus" in operations  # an enum, not a string
    await node("npx", "--no-install", "tsc", "--strict", "--noEmit", "--target", "es2022",
               str(tmp_path / "schema.ts"), str(tmp_path / "operations.ts"))


def test_the_explorer_spells_the_schema_enums_it_reads():
    schema = build_schema(SDL.read_text())
    source = EXPLORER_API.read_text()
    spelled = dict(re.findall(r"export type (\w+) =((?:\s*\|?\s*\"[A-Z_]+\")+);", source))
    assert len(spelled) >= 8
    for name, union in spelled.items():
        enum = schema.type_map.get(name)
        assert isinstance(enum, GraphQLEnumType), name
        assert set(re.findall(r"\"([A-Z_]+)\"", union)) == set(enum.values), name
