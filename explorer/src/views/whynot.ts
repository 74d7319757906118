// "Why not": why two customers are not one. Each side is a customer id or an identifier as
// type:value (an e-mail or phone number in any spelling); the answer lists the reasons,
// the best record pairs with their match weights as bars, the links rules or stewards
// stopped, the limits a merge would break, the steward decisions, and what a merge would do.

import { WHY_NOT, WHY_NOT_SIDES, gql, word } from "../api";
import type { Failure, GraphDiff, WhyNotAnswer, WhyNotData, WhyNotPair, WhyNotSidesData } from "../api";
import { clear, errorText, fmtTime, h, plural } from "../dom";
import { linkSummary, weightBar } from "../kit";
import { customerLine, summary } from "../preview";
import { canAct } from "../session";

const REASONS: Record<string, string> = {
  SAME_CUSTOMER: "They are one customer already.",
  BANNED: "A steward banned a link between them: they never link again.",
  REMOVED: "A steward cut a link between them; new evidence may link them again.",
  RULE_REJECTED: "A linking rule stopped a link between them.",
  LIMIT: "One customer may not hold both customers' identifiers of a type.",
  GUARD: "The household guard keeps their best pair apart: one address, different people.",
  NEEDS_MERGE_SCORE: "Their best pair is likely, but joining a second customer needs the merge probability.",
  IN_REVIEW: "Their best pair is between the thresholds: a steward decides (review queue).",
  WEAK_MATCH: "Their best pair scores below the review threshold.",
  NO_RECORDS: "One of them has no traits (name, birth date, address) to compare.",
  NO_MODEL: "No trained match model compares their records.",
  NOT_COMPARED: "Their best pair would merge them, but the two records were never compared.",
};

const TYPED = /^([a-z][a-z0-9]*(?:_[a-z0-9]+)*):(.+)$/;

/** A side as the page was given it: an identifier (type:value, or an e-mail address) or a
 * customer id. */
function sideInput(text: string): { type: string; value: string } | null {
  const typed = TYPED.exec(text);
  if (typed) return { type: typed[1], value: typed[2] };
  return text.includes("@") ? { type: "email", value: text } : null;
}

async function customerIds(a: string, b: string): Promise<[string, string]> {
  const [ia, ib] = [sideInput(a), sideInput(b)];
  if (!ia && !ib) return [a, b];
  const data = await gql<WhyNotSidesData>(WHY_NOT_SIDES, {
    aType: ia?.type ?? "", aValue: ia?.value ?? "", aTyped: Boolean(ia),
    bType: ib?.type ?? "", bValue: ib?.value ?? "", bTyped: Boolean(ib),
  });
  const found = (typed: unknown, given: string, name: string): string => {
    if (!typed) return given;
    const owner = name === "a" ? data.a : data.b;
    if (!owner) throw new Error(`${given}: no customer has this identifier`);
    return owner.id;
  };
  return [found(ia, a, "a"), found(ib, b, "b")];
}

export function whyNotView(main: HTMLElement, params: URLSearchParams, _path: string[], current: () => boolean): void {
  const a = params.get("a") ?? "";
  const b = params.get("b") ?? "";
  const field = (name: string, value: string, label: string) => h("label.field", null, label,
    h("input.input", { name, value, autocomplete: "off", spellcheck: "false", "data-testid": `whynot-${name}`,
      placeholder: "Customer id, or an identifier as type:value (email:anna@example.com)" }));
  const form = h("form.whynot-form", { "data-testid": "whynot-form" },
    field("a", a, "First customer"), field("b", b, "Second customer"),
    h("button.btn.btn-primary", { type: "submit", "data-testid": "whynot-submit" }, "Explain"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const values = new FormData(form);
    const [va, vb] = [String(values.get("a") ?? "").trim(), String(values.get("b") ?? "").trim()];
    if (!va || !vb) return;
    const target = `#/whynot?a=${encodeURIComponent(va)}&b=${encodeURIComponent(vb)}`;
    if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = target;
  });
  const answer = h("div.whynot-answer", { "data-testid": "whynot-answer", "aria-live": "polite" });
  clear(main, h("section.page.page-whynot", null,
    h("div.page-head", null, h("div", null, h("h1", null, "Why not one customer?"),
      h("p.muted", null, "Give two customers: the page says what keeps them apart — the match model's best record pairs, ",
        "the links rules or stewards stopped, the limits a merge would break — and what a merge would do."))),
    form, answer));
  if (!a || !b) return;
  clear(answer, h("div.loading", null, "Comparing…"));
  customerIds(a, b).then(([ca, cb]) => gql<WhyNotData>(WHY_NOT, { customers: [ca, cb] }))
    .then((data) => { if (current()) render(answer, data.whyNot); })
    .catch((e) => { if (current()) clear(answer, h("p.error", { "data-testid": "whynot-error" }, errorText(e))); })
    .finally(() => {
      // what the answer is for, once it is complete: a test (or a reader of the page)
      // waits for the answer to these two sides, not for any answer
      if (current()) Object.assign(answer.dataset, { state: "done", sides: `${a} ${b}` });
    });
}

function render(into: HTMLElement, result: WhyNotData["whyNot"]): void {
  if (result.__typename !== "WhyNot") {
    clear(into, h("p.error", { "data-testid": "whynot-error" }, (result as Failure).message));
    return;
  }
  const w = result as WhyNotAnswer;
  const link = (id: string) => h("a.mono", { href: `#/customer/${encodeURIComponent(id)}` }, id);
  clear(into,
    h("div.card", null,
      h("h2", null, link(w.a.id), " and ", link(w.b.id)),
      w.reasons.length
        ? h("ol.reasons", { "data-testid": "whynot-reasons" }, ...w.reasons.map((r) =>
          h("li", { "data-reason": r }, REASONS[r] ?? r)))
        : h("p.notice", { "data-testid": "whynot-reasons" }, "Nothing keeps them apart.")),
    pairsCard(w),
    w.stoppedLinks.length ? h("div.card", null, h("h3", null, "Stopped links"),
      h("ul", { "data-testid": "whynot-stopped" }, ...w.stoppedLinks.map((l) =>
        h("li", null, h("span.mono", null, `${l.a} — ${l.b}`), " ", h("span.muted.small", null, linkSummary(l)),
          l.reason ? h("div.small", null, l.reason) : null)))) : null,
    w.conflicts.length ? h("div.card", null, h("h3", null, "Rules a merge would break"),
      h("ul", { "data-testid": "whynot-conflicts" }, ...w.conflicts.map((c) => h("li", null, c.message)))) : null,
    w.decisions && w.decisions.length ? h("div.card", null, h("h3", null, "Steward decisions"),
      h("ul", { "data-testid": "whynot-decisions" }, ...w.decisions.map((d) => h("li", null,
        h("strong", null, word(d.action)), ` by ${d.actor} on ${fmtTime(d.at)}: `, d.reason,
        h("span.muted.small", null, ` (#${d.seq}${d.undoneBy ? `, undone by #${d.undoneBy}` : ""})`))))) : null,
    mergeCard(w));
}

function pairsCard(w: WhyNotAnswer): HTMLElement {
  const t = w.thresholds;
  const head = t ? `Thresholds: review ${pct(t.review)}, link ${pct(t.link)}, merge ${pct(t.merge)}. ` : "";
  if (!w.pairs.length) {
    return h("div.card", null, h("h3", null, "Record pairs"),
      h("p.muted", { "data-testid": "whynot-no-pairs" }, head, "No record pair to score."));
  }
  return h("div.card", null, h("h3", null, "Best record pairs"),
    h("p.muted.small", null, head, `${plural(w.compared, "pair")} scored; weights are log2(m/u): right is evidence for one person, left against.`),
    ...w.pairs.map(pairBlock));
}

function pairBlock(p: WhyNotPair): HTMLElement {
  const max = Math.max(1, ...p.comparisons.map((c) => Math.abs(c.weight)));
  return h("div.whynot-pair", { "data-testid": "whynot-pair" },
    h("div", null, h("span.mono", null, p.a), " and ", h("span.mono", null, p.b)),
    h("div.small", null, `Score ${p.score.toFixed(2)} · probability ${pct(p.probability)} · model alone: ${word(p.decision)}`,
      p.guard ? h("span.chip", { "data-testid": "whynot-guard" }, ` ${word(p.guard).replace(/_/g, " ")} guard`) : null,
      p.basis !== "STRANGERS" ? h("span.muted", null, ` · weighed against ${word(p.basis)}`) : null),
    h("table.table.compare", null, h("tbody", null, ...p.comparisons.filter((c) => c.level !== "null").map((c) =>
      h("tr", { "data-testid": "whynot-weight", "data-comparison": c.comparison },
        h("td.strong", null, c.comparison.replace(/_/g, " ")), h("td.muted.small", null, c.level),
        h("td", null, weightBar(c.weight, max)))))));
}

function mergeCard(w: WhyNotAnswer): HTMLElement | null {
  if (!canAct() || w.a.id === w.b.id) return null;
  if (w.merge.__typename !== "GraphDiff") {
    return h("div.card", null, h("h3", null, "A merge"),
      h("p.error", { "data-testid": "whynot-merge" }, (w.merge as Failure).message));
  }
  const m = w.merge as GraphDiff;
  return h("div.card", { "data-testid": "whynot-merge" }, h("h3", null, "What a merge would do"), summary(m),
    h("ul.preview-list", null, ...m.customers.map((c) => customerLine(c))));
}

function pct(p: number): string {
  return `${(p * 100).toFixed(p >= 0.995 && p < 1 ? 2 : 0)}%`;
}
