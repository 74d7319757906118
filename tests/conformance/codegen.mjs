// graphql-codegen (typescript + typescript-operations) over the committed SDL, as a frontend
// team runs it: one operation per root field (every argument a variable, the selection four
// levels deep and deeper where a type is not selected yet, every member of a union or
// interface spelled out), validated against the schema, then written as TypeScript for
// `tsc --strict` to check.
//
//   node codegen.mjs SCHEMA.graphql OUT_DIR
//
// Writes OUT_DIR/operations.graphql, OUT_DIR/schema.ts (typescript) and OUT_DIR/operations.ts
// (typescript-operations); prints the operation count.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { codegen } from "@graphql-codegen/core";
import * as typescript from "@graphql-codegen/typescript";
import * as typescriptOperations from "@graphql-codegen/typescript-operations";
import {
  buildSchema, getNamedType, isInterfaceType, isLeafType, isNonNullType, isObjectType,
  isUnionType, parse, validate,
} from "graphql";

const DEPTH = 4;
const MAX_DEPTH = 10;
const covered = new Set(); // object types selected somewhere: deeper than DEPTH only the rest
// strictScalars: a custom scalar the schema adds without a TypeScript type here fails the run,
// as it would fail a client's build
const SCALARS = { DateTime: "string", JSON: "unknown" };

const [schemaPath, out] = process.argv.slice(2);
const sdl = readFileSync(schemaPath, "utf8");
const schema = buildSchema(sdl);

function operations() {
  const documents = [];
  for (const [keyword, root] of [["query", schema.getQueryType()],
    ["mutation", schema.getMutationType()], ["subscription", schema.getSubscriptionType()]]) {
    if (!root) continue;
    for (const field of Object.values(root.getFields())) {
      const variables = [];
      const selection = fieldSelection(field, field.name, 0, variables, true);
      const declared = variables.length ? `(${variables.join(", ")})` : "";
      const name = `${keyword[0].toUpperCase()}${keyword.slice(1)}${field.name[0].toUpperCase()}${field.name.slice(1)}`;
      documents.push(`${keyword} ${name}${declared} {\n  ${selection}\n}`);
    }
  }
  return documents;
}

/** A field with its arguments as variables (every one at the root, the required ones below)
 * and its selection; null when it cannot be selected at this depth. */
function fieldSelection(field, alias, depth, variables, root = false) {
  const before = variables.length;
  const picked = pick(field, alias, depth, variables, root);
  if (!picked) variables.length = before; // its variables go with it
  return picked;
}

function pick(field, alias, depth, variables, root) {
  const args = field.args.filter((a) => root || isNonNullType(a.type));
  const passed = args.map((a) => {
    const name = `v${variables.length}_${a.name}`;
    variables.push(`$${name}: ${a.type}`);
    return `${a.name}: $${name}`;
  });
  const head = `${alias === field.name ? "" : `${alias}: `}${field.name}${passed.length ? `(${passed.join(", ")})` : ""}`;
  const type = getNamedType(field.type);
  if (isLeafType(type)) return head;
  if (depth >= MAX_DEPTH || (depth >= DEPTH && covered.has(type.name))) return null;
  const inner = typeSelection(type, depth + 1, variables);
  return inner ? `${head} { ${inner} }` : null;
}

function typeSelection(type, depth, variables) {
  covered.add(type.name);
  const parts = ["__typename"];
  if (isObjectType(type) || isInterfaceType(type)) {
    for (const field of Object.values(type.getFields())) {
      const picked = fieldSelection(field, field.name, depth, variables);
      if (picked) parts.push(picked);
    }
  }
  if (isUnionType(type) || isInterfaceType(type)) {
    const members = isUnionType(type) ? type.getTypes() : schema.getPossibleTypes(type);
    for (const member of members) {
      // aliased by type: two members may name one field with different types
      const fields = Object.values(member.getFields())
        .map((f) => fieldSelection(f, `${member.name}_${f.name}`, depth, variables))
        .filter(Boolean);
      parts.push(`... on ${member.name} { ${fields.join(" ")} }`);
    }
  }
  return parts.join(" ");
}

const text = operations();
const document = parse(text.join("\n\n"));
const errors = validate(schema, document);
if (errors.length) {
  for (const e of errors) console.error(e.message);
  process.exit(1);
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "operations.graphql"), text.join("\n\n") + "\n");
// typescript-operations 6 writes the enums and inputs its operations use itself: each plugin
// gets a file of its own, as the two would declare those types twice in one
const config = { scalars: SCALARS, strictScalars: true, enumsAsTypes: true };
for (const [filename, plugin, name] of [["schema.ts", typescript, "typescript"],
  ["operations.ts", typescriptOperations, "typescriptOperations"]]) {
  const types = await codegen({
    schema: parse(sdl),
    documents: [{ location: "operations.graphql", document }],
    filename,
    plugins: [{ [name]: {} }],
    pluginMap: { [name]: plugin },
    config,
  });
  writeFileSync(join(out, filename), types);
}
console.log(JSON.stringify({ operations: text.length }));
