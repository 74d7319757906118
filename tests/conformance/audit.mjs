// The GraphQL-over-HTTP audit of graphql-http against a running server.
//   node audit.mjs URL [BEARER_KEY]
// Prints one JSON line per audit: {id, name, status: "ok"|"warn"|"error", reason}.
import { auditServer } from "graphql-http";

const [url, key] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (key) headers.set("authorization", `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
for (const result of results) {
  const { id, name, status } = result;
  const reason = status === "ok" ? "" : result.reason;
  console.log(JSON.stringify({ id, name, status, reason }));
}
