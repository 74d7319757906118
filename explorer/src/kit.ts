// Identifier types and link statuses: how the page names and draws them (shared by the
// graph, the search results and the review queue; no cytoscape here, so the pages that do
// not draw a graph do not load it).

import { word } from "./api";
import type { IdentifierStatus, Link } from "./api";
import { fmtDate, h, plural } from "./dom";

export interface TypeStyle { color: string; shape: string; label: string }

export const TYPE_STYLES: Record<string, TypeStyle> = {
  email: { color: "#2563eb", shape: "ellipse", label: "E-mail" },
  phone: { color: "#059669", shape: "round-rectangle", label: "Phone" },
  cookie: { color: "#b45309", shape: "round-diamond", label: "Cookie" },
  device_id: { color: "#c026d3", shape: "round-hexagon", label: "Device id" },
  crm_id: { color: "#0e7490", shape: "round-tag", label: "CRM id" },
};
// every colour at 3:1 or more against the drawing and the customer boxes (WCAG 1.4.11), and
// e-mail and device ids apart under deuteranopia (tests/browser/test_accessibility.py)
const OTHER_COLORS = ["#db2777", "#4d7c0f", "#4b5563", "#a16207", "#0891b2", "#9333ea"];
const OTHER_SHAPES = ["round-triangle", "round-octagon", "round-pentagon", "barrel"];

export function typeStyle(type: string): TypeStyle {
  if (TYPE_STYLES[type]) return TYPE_STYLES[type];
  let hash = 0;
  for (const c of type) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return {
    color: OTHER_COLORS[hash % OTHER_COLORS.length],
    shape: OTHER_SHAPES[hash % OTHER_SHAPES.length],
    label: type.replace(/_/g, " "),
  };
}

export const LINK_STATUSES: { status: string; label: string; hint: string }[] = [
  { status: "active", label: "Active", hint: "seen together; holds the customer together" },
  { status: "matched", label: "Matched", hint: "a probabilistic match (weights)" },
  { status: "rejected", label: "Rejected by a rule", hint: "kept apart by the linking rules" },
  { status: "removed", label: "Removed", hint: "cut by a steward" },
  { status: "banned", label: "Banned", hint: "cut by a steward, never links again" },
];

export function isHub(node: { status: IdentifierStatus; reason: string }): boolean {
  return node.status === "QUARANTINED" && node.reason.startsWith("hub:");
}

export function linkKind(link: Link): string {
  if (link.status === "ACTIVE" && link.weights && typeof link.weights === "object"
    && Object.keys(link.weights as object).length) return "matched";
  return word(link.status);
}

export function shortValue(type: string, value: string): string {
  if (type === "device_id" && /^[0-9a-f]{8}-/.test(value)) return value.slice(0, 8) + "…";
  return value.length > 26 ? value.slice(0, 24) + "…" : value;
}

export function edgeId(a: string, b: string): string {
  return a < b ? `${a}\u0001${b}` : `${b}\u0001${a}`;
}

// -- the legend ---------------------------------------------------------------------------

function swatch(type: string): HTMLElement {
  const s = typeStyle(type);
  return h("span.swatch", { class: `shape-${s.shape}`, style: `--c:${s.color}` });
}

export function legend(types: string[]): HTMLElement {
  const shown = [...new Set([...Object.keys(TYPE_STYLES), ...types])];
  return h("div.legend", { "data-testid": "legend" },
    h("div.legend-group", null,
      h("div.legend-title", null, "Identifiers"),
      ...shown.map((t) => h("div.legend-item", null, swatch(t), typeStyle(t).label)),
    ),
    h("div.legend-group", null,
      h("div.legend-title", null, "Status"),
      h("div.legend-item", null, h("span.swatch.st-blocked"), "Blocked by a rule"),
      h("div.legend-item", null, h("span.swatch.st-quarantined"), "Quarantined"),
      h("div.legend-item", null, h("span.swatch.st-hub"), "Hub (quarantined)"),
      h("div.legend-item", null, h("span.swatch.st-anchor"), "Anchor (first seen)"),
      h("div.legend-item", null, h("span.swatch.st-outside"), "Another customer's"),
    ),
    h("div.legend-group", null,
      h("div.legend-title", null, "Links"),
      ...LINK_STATUSES.map((s) => h("div.legend-item", { title: s.hint }, h("span.line", { class: `ln-${s.status}` }), s.label)),
      h("div.legend-item", null, h("span.line.ln-path"), "Explanation path"),
    ),
  );
}

export function linkSummary(link: Link): string {
  const kind = linkKind(link);
  const label = LINK_STATUSES.find((s) => s.status === kind)?.label ?? kind;
  const parts = [label, link.matchKey ?? "", plural(link.count, "event"), link.sources.join(", ")];
  if (link.lastSeen) parts.push(`last ${fmtDate(link.lastSeen)}`);
  return parts.filter(Boolean).join(" · ");
}

/** A match weight as a bar from the middle: right (green) for a match, left (red) against;
 * `max` is the largest weight shown beside it. */
export function weightBar(w: number, max: number): HTMLElement {
  return h("div.weight-row.compact", null,
    h("span.weight-bar", null, h("span", { class: w >= 0 ? "pos" : "neg", style: `width:${(Math.abs(w) / max) * 100}%` })),
    h("span.weight-value.mono", null, w > 0 ? `+${w.toFixed(2)}` : w.toFixed(2)));
}

/** A matched link's stored match: the score, the model, and each comparison's weight. */
export interface StoredMatch { score: number | null; probability: number | null; model: string | null; weights: [string, number][] }

/** The matcher stores `{score, probability, weights: {comparison: weight}, model_version}`
 * on a MATCHED link; a reader's copy has its per-comparison values masked (no bars then). */
export function storedMatch(weights: unknown): StoredMatch | null {
  if (!weights || typeof weights !== "object") return null;
  const payload = weights as Record<string, unknown>;
  const nested = payload.weights && typeof payload.weights === "object" ? payload.weights as Record<string, unknown> : null;
  const num = (v: unknown) => (typeof v === "number" ? v : null);
  return {
    score: num(payload.score), probability: num(payload.probability),
    model: typeof payload.model_version === "string" ? payload.model_version : null,
    weights: Object.entries(nested ?? {}).filter(([, v]) => typeof v === "number") as [string, number][],
  };
}

/** `+FIRST_NAME+BIRTH_DATE-STREET`, each agreement green and each disagreement red. */
export function matchKeyView(key: string): HTMLElement {
  const parts = key.match(/[+-][^+-]+/g) ?? [];
  return h("span.match-key", { "data-testid": "match-key", title: "Match key: + a comparison that agreed, - one that disagreed" },
    ...parts.map((p) => h("span", { class: p.startsWith("+") ? "mk-pos" : "mk-neg" }, p)));
}
