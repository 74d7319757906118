// Search: a customer by any identifier (raw spelling), by name, or by customer id.

import { BUILT_IN_TYPES, SEARCH, SEARCH_MORE, gql, gqlPartial, word } from "../api";
import type { CustomerSummary, IdentifierStatus } from "../api";
import { clear, clip, errorText, h, plural } from "../dom";
import { typeStyle } from "../kit";
import { canAct, session } from "../session";

interface IdentifierHit {
  type: string; value: string; status: IdentifierStatus; reason: string; customer: CustomerSummary | null;
}
type SearchData = {
  byId: CustomerSummary | null;
  typed?: IdentifierHit | null;
  search?: SearchPage;
} & Record<string, IdentifierHit | null | undefined | CustomerSummary | object>;
interface SearchPage {
  edges: { score: number; matched: string; hint: string | null; node: CustomerSummary }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

interface Hit {
  customer: CustomerSummary | null;
  how: string;
  score?: number;
  hint?: string | null;
  identifier?: IdentifierHit;
}

/** The hits found, and the cursor of the fuzzy search's next page (null: no more). */
export interface Found { hits: Hit[]; next: string | null }

function fuzzyHits(page: SearchPage | undefined): Hit[] {
  return (page?.edges ?? []).map((edge) => ({
    customer: edge.node, how: `name or contact “${edge.matched}”`, score: edge.score, hint: edge.hint,
  }));
}

const RECENT = "idgraph.recent";

export function rememberCustomer(id: string, name: string): void {
  const list = recent().filter((r) => r.id !== id);
  list.unshift({ id, name });
  sessionStorage.setItem(RECENT, JSON.stringify(list.slice(0, 8)));
}

function recent(): { id: string; name: string }[] {
  try {
    return JSON.parse(sessionStorage.getItem(RECENT) ?? "[]");
  } catch {
    return [];
  }
}

export function displayName(traits: { name: string; value: unknown }[]): string {
  const get = (n: string) => traits.find((t) => t.name === n)?.value;
  const full = get("full_name") ?? get("name");
  if (typeof full === "string" && full) return full;
  const parts = [get("first_name"), get("last_name")].filter((v) => typeof v === "string" && v);
  return parts.join(" ");
}

export async function searchCustomers(q: string): Promise<Found> {
  const typed = /^([a-z][a-z0-9]*(?:_[a-z0-9]+)*):(.+)$/.exec(q);
  const { data } = await gqlPartial<SearchData>(SEARCH, {
    q,
    id: q,
    fuzzy: q.length >= 3,
    hasTyped: Boolean(typed),
    typedType: typed?.[1] ?? "",
    typedValue: typed?.[2] ?? "",
  });
  const hits: Hit[] = [];
  const seen = new Set<string>();
  const add = (hit: Hit) => {
    const id = hit.customer?.id;
    if (id && seen.has(id)) return;
    if (id) seen.add(id);
    hits.push(hit);
  };
  if (data.byId) add({ customer: data.byId, how: "customer id" });
  const identifierHits = [...BUILT_IN_TYPES.map((t) => data[t] as IdentifierHit | null | undefined), data.typed];
  for (const ident of identifierHits) {
    if (!ident) continue;
    const how = `${typeStyle(ident.type).label} ${ident.value}`;
    add({ customer: ident.customer, how, identifier: ident });
  }
  fuzzyHits(data.search).forEach(add);
  const info = data.search?.pageInfo;
  return { hits, next: info?.hasNextPage ? info.endCursor : null };
}

/** The fuzzy search's page after `after`. */
export async function moreCustomers(q: string, after: string): Promise<Found> {
  const data = await gql<{ search: SearchPage }>(SEARCH_MORE, { q, after });
  const info = data.search.pageInfo;
  return { hits: fuzzyHits(data.search), next: info.hasNextPage ? info.endCursor : null };
}

function typeCounts(c: CustomerSummary): HTMLElement {
  const counts = new Map<string, number>();
  for (const i of c.identifiers) counts.set(i.type, (counts.get(i.type) ?? 0) + 1);
  return h("div.type-counts", null, ...[...counts].map(([t, n]) =>
    h("span.type-chip", { title: typeStyle(t).label }, h("span.dot", { style: `--c:${typeStyle(t).color}` }), `${n} ${typeStyle(t).label}`)));
}

function resultCard(hit: Hit): HTMLElement {
  const c = hit.customer;
  if (!c) {
    const ident = hit.identifier!;
    return h("div.result.result-orphan", { "data-testid": "search-result" },
      h("div.result-main", null,
        h("div.result-title", null, `${typeStyle(ident.type).label} ${ident.value}`),
        h("div.muted", null, `Belongs to no customer: ${word(ident.status)}${ident.reason ? ` — ${ident.reason}` : ""}`)),
      h("span.badge", { class: `badge-${word(ident.status)}` }, word(ident.status)));
  }
  const name = displayName(c.profile.traits) || "Unnamed customer";
  return h("a.result", { href: `#/customer/${encodeURIComponent(c.id)}`, "data-testid": "search-result", "data-customer": c.id },
    h("div.avatar", { "aria-hidden": "true" }, name.slice(0, 1).toUpperCase()),
    h("div.result-main", null,
      h("div.result-title", null, name, h("span.mono.muted", null, ` ${c.id}`)),
      hit.hint ? h("div.result-hint", { "data-testid": "result-hint" }, hit.hint) : null,
      h("div.muted.small", null, `Found by ${hit.how}`, hit.score != null ? ` · score ${Math.round(hit.score)}` : ""),
      typeCounts(c)),
    h("div.result-side", null, h("span.muted.small", null, plural(c.identifiers.length, "identifier")), h("span.chev", null, "›")));
}

export function searchView(main: HTMLElement, params: URLSearchParams): void {
  const q = params.get("q") ?? "";
  const input = h("input.input.input-lg", {
    id: "search-input", type: "search", value: q, autocomplete: "off", spellcheck: "false",
    placeholder: "E-mail, phone (any spelling), cookie, device or CRM id, name, or customer id",
    "aria-label": "Search customers", "data-testid": "search-input",
  });
  const results = h("div.results", { id: "results", "data-testid": "results" });
  const form = h("form.search-form", { role: "search" }, input, h("button.btn.btn-primary.btn-lg", { type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    const target = `#/?q=${encodeURIComponent(value)}`;
    if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = target;
  });
  const hints = h("p.muted.small", null,
    "Identifiers are normalised before the look-up, so ", h("code", null, "06-12345678"), " finds ", h("code", null, "+31612345678"),
    ". Use ", h("code", null, "type:value"), " for other identifier types, e.g. ", h("code", null, "loyalty_id:L-77"), ".");
  clear(main, h("section.page.page-search", null,
    h("div.search-hero", null,
      h("h1", null, "Find a customer"),
      h("p.muted", null, session.viewer && !session.viewer.seesPii
        ? "You are signed in as a reader: personal values are masked and actions are hidden."
        : "Look up who is who, understand every link, and correct the graph."),
      form, hints),
    results));
  input.focus();
  if (!q) {
    const list = recent();
    if (list.length) {
      clear(results, h("h2.section-title", null, "Recently viewed"),
        ...list.map((r) => h("a.result.result-compact", { href: `#/customer/${encodeURIComponent(r.id)}` },
          h("div.avatar", null, (r.name || "?").slice(0, 1).toUpperCase()),
          h("div.result-main", null, h("div.result-title", null, r.name || "Unnamed customer", h("span.mono.muted", null, ` ${r.id}`))))));
    } else if (canAct()) {
      clear(results, h("div.empty-state", null, h("p", null, "Tip: the ", h("a", { href: "#/review" }, "review queue"), " lists candidate matches waiting for a decision.")));
    }
    return;
  }
  clear(results, h("div.loading", null, "Searching…"));
  searchCustomers(q).then(({ hits, next }) => {
    if (!hits.length) {
      clear(results, h("div.empty-state", { "data-testid": "no-results" }, h("h2", null, "No customer found"),
        h("p.muted", null, `Nothing matches “${clip(q)}” as a customer id, an identifier of any type, or a name. Names need at least three characters.`)));
      return;
    }
    const count = h("h2.section-title", { "data-testid": "results-count" });
    const list = h("div.result-list", { "data-testid": "result-list" });
    const more = h("button.btn.btn-secondary", { type: "button", "data-testid": "more-results" }, "More results");
    const shown = new Set<string>();
    let cursor = next;
    const show = (found: Hit[]) => {
      for (const hit of found) {
        if (hit.customer && shown.has(hit.customer.id)) continue;
        if (hit.customer) shown.add(hit.customer.id);
        list.append(resultCard(hit));
      }
      count.textContent = `${plural(list.children.length, "result")}${cursor ? ", more to come" : ""}`;
      more.hidden = !cursor;
    };
    more.addEventListener("click", () => {
      if (!cursor || more.disabled) return;
      more.disabled = true;
      moreCustomers(q, cursor).then((page) => {
        cursor = page.next;
        show(page.hits);
      }).catch((e) => {
        list.append(h("p.error", null, errorText(e)));
      }).finally(() => { more.disabled = false; });
    });
    clear(results, count, list, more);
    show(hits);
  }).catch((e) => {
    clear(results, h("div.empty-state.error-state", { "data-testid": "search-error" }, h("p", null, clip(errorText(e), 400))));
  });
}
