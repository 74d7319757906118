// The review queue: candidate matches with their weights side by side, to accept or reject
// quickly from the keyboard (j/k to move, a to accept, r to reject, o to open).

import { REVIEW_QUEUE, gql } from "../api";
import type { Review, ReviewSide, Trait } from "../api";
import { runAction } from "../actions";
import { clear, errorText, fmtTime, fmtValue, h, plural } from "../dom";
import { matchKeyView, shortValue, typeStyle, weightBar } from "../kit";
import { canAct } from "../session";
import { displayName } from "./search";
import type { Cleanup } from "../main";

interface QueueData {
  reviewQueue: { __typename: string; message?: string; edges?: { node: Review }[]; pageInfo?: { hasNextPage: boolean; endCursor: string | null } };
}

function sideKey(side: ReviewSide): HTMLElement {
  const s = typeStyle(side.type);
  return h("span.key", null, h("span.swatch.swatch-sm", { class: `shape-${s.shape}`, style: `--c:${s.color}` }),
    h("span.key-type", null, s.label), " ", h("span.key-value", null, shortValue(side.type, side.value)));
}

function traitMap(side: ReviewSide): Map<string, Trait> {
  return new Map((side.customer?.profile.traits ?? []).map((t) => [t.name, t]));
}

const COMPARED = ["first_name", "last_name", "birth_date", "street", "house_number", "postcode", "city", "country", "gender"];

export async function reviewView(main: HTMLElement): Promise<Cleanup> {
  if (!canAct()) {
    clear(main, h("section.page", null, h("div.empty-state", { "data-testid": "forbidden" }, h("h2", null, "The review queue is for stewards"),
      h("p.muted", null, "Sign in with a steward key to accept or reject candidate matches."))));
    return () => {};
  }
  let items: Review[] = [];
  let index = 0;
  let busy = false;
  let more = false;
  const list = h("div.queue-list", { role: "listbox", "aria-label": "Candidate matches", "data-testid": "review-list" });
  const detail = h("div.queue-detail.card", { "data-testid": "review-detail" });
  const counter = h("span.muted", null);
  clear(main, h("section.page.page-review", null,
    h("div.page-head", null,
      h("div", null, h("h1", null, "Review queue"), h("p.muted", null, "Candidate matches scored between the thresholds, oldest first. Accept links the two identifiers (their customers merge); reject closes the item.")),
      h("div.kbd-help", { "aria-label": "Keyboard" }, kbd("j"), kbd("k"), " move ", kbd("a"), " accept ", kbd("r"), " reject ", kbd("o"), " open", counter)),
    h("div.queue", null, list, detail)));

  async function load(): Promise<void> {
    const data = await gql<QueueData>(REVIEW_QUEUE, { first: 50, after: null });
    const q = data.reviewQueue;
    if (q.__typename !== "ReviewConnection") throw new Error(q.message ?? "the review queue is not available");
    items = (q.edges ?? []).map((e) => e.node);
    more = q.pageInfo?.hasNextPage ?? false;
    index = Math.min(index, Math.max(0, items.length - 1));
    render();
  }

  function render(fromKeyboard = false): void {
    counter.textContent = ` · ${plural(items.length, "open item")}${more ? " (more after these)" : ""}`;
    clear(list, ...items.map((r, i) => h("button.queue-item", {
      type: "button", role: "option", "aria-selected": String(i === index), class: i === index ? "on" : "",
      "data-testid": "review-item", "data-review": r.id, onclick: () => { index = i; render(); },
    },
    h("div.queue-score", null, r.score.toFixed(1)),
    h("div.queue-sides", null, h("div", null, sideKey(r.a)), h("div", null, sideKey(r.b))))));
    if (!items.length) {
      clear(detail, h("div.empty-state", { "data-testid": "review-empty" }, h("h2", null, "Nothing to review"), h("p.muted", null, "Every candidate match has been decided.")));
      return;
    }
    list.querySelector<HTMLElement>(".queue-item.on")?.scrollIntoView({ block: "nearest" });
    renderDetail(items[index]);
    // in a narrow window the comparison sits below the list: keep it in view as the keys move
    if (fromKeyboard) detail.scrollIntoView({ block: "nearest" });
  }

  function sideHead(side: ReviewSide, label: string): HTMLElement {
    const name = side.customer ? displayName(side.customer.profile.traits) : "";
    return h("div.side-head", null,
      h("div.muted.small", null, label),
      h("div", null, sideKey(side)),
      side.customerId
        ? h("a.mono.small", { href: `#/customer/${encodeURIComponent(side.customerId)}` }, `${name || "customer"} · ${side.customerId}`)
        : h("span.muted.small", null, "no customer"));
  }

  function renderDetail(r: Review): void {
    const a = traitMap(r.a);
    const b = traitMap(r.b);
    const names = [...new Set([...COMPARED.filter((n) => a.has(n) || b.has(n)), ...a.keys(), ...b.keys()])];
    const weights = Object.entries(r.weights).filter(([, v]) => typeof v === "number") as [string, number][];
    const max = Math.max(1, ...weights.map(([, v]) => Math.abs(v)));
    const weightOf = new Map(weights);
    const sameCustomer = r.a.customerId && r.a.customerId === r.b.customerId;
    clear(detail,
      h("div.review-top", null,
        h("div", null, h("div.muted.small", null, `Item ${r.id} · proposed ${fmtTime(r.createdAt)}`), h("div.review-score", null, "Score ", h("strong", null, r.score.toFixed(2))),
          r.matchKey ? h("div", null, matchKeyView(r.matchKey)) : null),
        h("div.actions", null,
          h("button.btn.btn-secondary", { type: "button", "data-action": "reject", "data-testid": "review-reject", onclick: () => void resolve(false) }, "Reject ", kbd("r")),
          h("button.btn.btn-primary", { type: "button", "data-action": "accept", "data-testid": "review-accept", onclick: () => void resolve(true) }, "Accept ", kbd("a")))),
      sameCustomer ? h("p.notice", null, "Both sides already belong to one customer.") : null,
      h("table.table.compare", { "data-testid": "review-compare" },
        h("thead", null, h("tr", null, h("th", null, ""), h("th", null, sideHead(r.a, "A")), h("th", null, sideHead(r.b, "B")), h("th", null, "Match weight"))),
        h("tbody", null, ...names.map((n) => {
          const va = a.get(n);
          const vb = b.get(n);
          const same = va && vb && fmtValue(va.value).toLowerCase().replace(/\s/g, "") === fmtValue(vb.value).toLowerCase().replace(/\s/g, "");
          const w = weightOf.get(n);
          return h("tr", { class: same ? "same" : va && vb ? "differs" : "" },
            h("td.strong", null, n.replace(/_/g, " ")),
            h("td", null, va ? fmtValue(va.value) : h("span.muted", null, "—"), va ? h("div.muted.small", null, va.source) : null),
            h("td", null, vb ? fmtValue(vb.value) : h("span.muted", null, "—"), vb ? h("div.muted.small", null, vb.source) : null),
            h("td", null, w == null ? h("span.muted.small", null, "") : weightBar(w, max)));
        }),
        ...weights.filter(([n]) => !names.includes(n)).map(([n, w]) => h("tr", null,
          h("td.strong", null, n.replace(/_/g, " ")), h("td", { colspan: 2 }, h("span.muted.small", null, n === "prior" ? "prior log-odds of a match" : "")), h("td", null, weightBar(w, max)))))),
      h("p.muted.small", null, "Weights are log2(m/u) per comparison: positive is evidence for a match, negative against; the score is their sum."));
  }

  async function resolve(accept: boolean): Promise<void> {
    const r = items[index];
    if (!r || busy) return;
    busy = true;
    try {
      await runAction("resolveReview", { id: r.id, accept }, {
        title: accept ? "Accept this match" : "Reject this match",
        body: [h("p", null, sideKey(r.a), " and ", sideKey(r.b)),
          accept ? "The two identifiers are linked; their customers merge unless a rule keeps them apart." : "The item is closed; nothing is linked."],
        confirm: accept ? "Accept" : "Reject", danger: !accept, kind: accept ? "review-accept" : "review-reject",
        placeholder: accept ? "e.g. same name, birth date and address" : "e.g. different people at one address",
      }, accept ? `Match ${r.id} accepted` : `Match ${r.id} rejected`, async () => { await load(); },
      accept ? { input: () => ({ kind: "ACCEPT_REVIEW", reviewId: r.id }) } : undefined);
    } finally {
      busy = false;
    }
  }

  const onKey = (e: KeyboardEvent) => {
    if (e.defaultPrevented || e.metaKey || e.ctrlKey || e.altKey) return;
    if ((e.target as HTMLElement)?.closest("input, textarea, dialog")) return;
    const r = items[index];
    if (e.key === "j" || e.key === "ArrowDown") { index = Math.min(items.length - 1, index + 1); render(true); e.preventDefault(); }
    else if (e.key === "k" || e.key === "ArrowUp") { index = Math.max(0, index - 1); render(true); e.preventDefault(); }
    else if (e.key === "a" && r) { e.preventDefault(); void resolve(true); }
    else if (e.key === "r" && r) { e.preventDefault(); void resolve(false); }
    else if (e.key === "o" && r?.a.customerId) { location.hash = `#/customer/${encodeURIComponent(r.a.customerId)}`; }
  };
  document.addEventListener("keydown", onKey);
  clear(detail, h("div.loading", null, "Loading the queue…"));
  try {
    await load();
  } catch (e) {
    clear(detail, h("p.error", null, errorText(e)));
  }
  return () => document.removeEventListener("keydown", onKey);
}

function kbd(key: string): HTMLElement {
  return h("kbd", null, key);
}

