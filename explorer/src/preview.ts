// What a steward action will do, asked of the API (`previewAction`: the action planned as
// its mutation plans it, and rolled back) and shown in the reason dialog before the steward
// confirms: which customers merge, split, gain or lose identifiers, which segments each
// enters or leaves. Confirm waits for it; an action the API would refuse cannot be confirmed.

import { errorText, h, clear, plural } from "./dom";
import type { Gate, ReasonAnswer } from "./dom";
import { previewAction, word } from "./api";
import type { ActionInput, CustomerDiff, GraphDiff, PreviewResult, SegmentChangeDiff } from "./api";

/** waiting: the dialog lacks what the action needs (the other customer's id); none: the
 * action changes no customer and no segment. Confirm is allowed on ready and none. */
export type PreviewState = "waiting" | "loading" | "ready" | "none" | "refused" | "failed";

const SHOWN_KEYS = 6;
let panels = 0;

/** A gate for the reason dialog: `input` turns what the dialog holds into the action to
 * preview (null while something is missing); `here` is the customer on the page. */
export function previewGate(input: (answer: ReasonAnswer) => ActionInput | null, here?: string): Gate {
  const node = h("section.preview", {
    id: `preview-${++panels}`, "data-testid": "preview", role: "region",
    "aria-label": "What this action will do", "aria-live": "polite",
  });
  let state: PreviewState = "waiting";
  let asked = 0;
  let lastInput = "";
  const show = (next: PreviewState, ...body: (Node | string | null)[]) => {
    state = next;
    node.dataset.state = next;
    node.setAttribute("aria-busy", String(next === "loading"));
    clear(node, h("h3", null, "What it will do"), ...body);
  };
  show("waiting", h("p.muted", null, "Fill in the action to see what it will do."));
  return {
    node,
    ready: () => state === "ready" || state === "none",
    update(answer, changed) {
      const action = input(answer);
      const key = JSON.stringify(action);
      if (key === lastInput && state !== "failed") return;
      lastInput = key;
      const ticket = ++asked;
      if (!action) {
        show("waiting", h("p.muted", null, "Fill in the action to see what it will do."));
        changed();
        return;
      }
      show("loading", h("p.muted", null, "Working out what it will do…"));
      changed();
      previewAction(action).then((result) => {
        if (ticket !== asked) return; // a newer question is on its way
        render(result);
      }, (e: unknown) => {
        if (ticket !== asked) return;
        show("failed", h("p.error", null, `The preview failed: ${errorText(e)}. Nothing was changed.`));
      }).finally(() => { if (ticket === asked) changed(); });
    },
  };

  function render(result: PreviewResult): void {
    if (result.__typename !== "GraphDiff") {
      const failure = result as { message: string; suggestion: string };
      show("refused", h("p.error", { "data-testid": "preview-refused" }, failure.message),
        failure.suggestion ? h("p.muted.small", null, failure.suggestion) : null,
        h("p.muted.small", null, "It would not be done, so it cannot be confirmed."));
      return;
    }
    const diff = result as GraphDiff;
    if (!diff.customers.length && !diff.segmentChanges.length) {
      show("none", h("p.notice", { "data-testid": "preview-none" },
        "No change: no customer gains or loses an identifier, and no segment changes. ",
        "The audit log will still record the action."));
      return;
    }
    show("ready", summary(diff),
      h("ul.preview-list", { "data-testid": "preview-customers" }, ...diff.customers.map((c) => customerLine(c, here))),
      diff.segmentChanges.length ? h("div", null, h("h4", null, "Segments"),
        h("ul.preview-list", { "data-testid": "preview-segments" }, ...diff.segmentChanges.map(segmentLine))) : null);
  }
}

export function summary(d: GraphDiff): HTMLElement {
  const parts: string[] = [];
  if (d.merges) parts.push(plural(d.merges, "merge"));
  if (d.splits) parts.push(plural(d.splits, "split"));
  if (d.identifiersMoved) parts.push(`${plural(d.identifiersMoved, "identifier")} move`);
  if (d.identifiersDeactivated) parts.push(`${plural(d.identifiersDeactivated, "identifier")} stop linking`);
  if (d.identifiersActivated) parts.push(`${plural(d.identifiersActivated, "identifier")} link again`);
  if (d.segmentEntries || d.segmentExits) parts.push(`segments: ${d.segmentEntries} in, ${d.segmentExits} out`);
  parts.push(`customers in all: ${d.customersBefore} → ${d.customersAfter}`);
  return h("p.preview-summary", { "data-testid": "preview-summary" }, parts.join(" · "));
}

const CHANGE_LABELS: Record<CustomerDiff["change"], string> = {
  MERGED: "merges away", SPLIT: "splits", CHANGED: "changes", NEW: "new customer", EMPTIED: "emptied",
};

export function customerLine(c: CustomerDiff, here?: string): HTMLElement {
  const name = h("span", null, h("span.mono", null, c.customerId), c.customerId === here ? " (this customer)" : "");
  let what: (Node | string)[];
  if (c.change === "MERGED") what = [" merges into ", ids(c.toCustomers), ": its identifiers move there"];
  else if (c.change === "NEW") what = [" (a new customer; its id is given when the action is done)"];
  else if (c.change === "EMPTIED") what = [": every identifier it held stops linking"];
  else what = [];
  return h("li", { "data-testid": "preview-customer", "data-customer": c.customerId, "data-change": word(c.change) },
    h("span.chip", { class: `change-${word(c.change)}` }, CHANGE_LABELS[c.change]), " ", name, ...what,
    c.gained.length ? keys("gains", c.gained, c.fromCustomers, "from") : null,
    c.lost.length && c.change !== "MERGED" ? keys("loses", c.lost, c.toCustomers, "to") : null);
}

function keys(verb: string, list: string[], customers: string[], dir: string): HTMLElement {
  const shown = list.slice(0, SHOWN_KEYS);
  return h("div.small", { "data-testid": `preview-${verb}` }, `${verb} ${plural(list.length, "identifier")}`,
    customers.length ? h("span", null, ` ${dir} `, ids(customers)) : null, ": ",
    ...shown.map((k, i) => h("span", null, i ? ", " : "", h("span.mono", null, k))),
    list.length > shown.length ? ` and ${list.length - shown.length} more` : "");
}

function ids(list: string[]): HTMLElement {
  return h("span", null, ...list.map((c, i) => h("span", null, i ? ", " : "", h("span.mono", null, c))));
}

function segmentLine(s: SegmentChangeDiff): HTMLElement {
  const enters = s.change === "ENTERED";
  return h("li", { "data-testid": "preview-segment", "data-customer": s.customerId, "data-segment": s.segmentId, "data-change": s.change },
    h("span.mono", null, s.customerId), enters ? " enters " : " leaves ", h("strong", null, s.segmentId),
    s.why.length ? h("span.muted.small", null, ` (${enters ? "" : "no longer: "}${s.why.join("; ")})`) : null);
}
