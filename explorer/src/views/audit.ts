// The audit log: every steward action (who, when, what, why), newest first, each undoable
// from here. An undo is itself an entry, and can be undone in turn.

import { AUDIT_LOG, gql, word } from "../api";
import type { AuditAction, AuditEntry } from "../api";
import { undo } from "../actions";
import { clear, errorText, fmtTime, h } from "../dom";
import { canAct } from "../session";
import type { Cleanup } from "../main";

interface AuditData {
  auditLog: { __typename: string; message?: string; edges?: { node: AuditEntry }[]; pageInfo?: { hasNextPage: boolean; endCursor: string | null } };
}

const PAGE = 30;
const ACTION_LABELS: Record<AuditAction, string> = {
  LINK: "Link", UNLINK: "Cut link", MERGE: "Merge", SPLIT: "Split", RELINK: "Relink",
  QUARANTINE: "Quarantine", RELEASE: "Release", REVIEW: "Review", FORGET: "Erase",
  RULES: "Rules change",
};

function actionLabel(entry: AuditEntry): string {
  const label = ACTION_LABELS[entry.action] ?? word(entry.action).replace(/_/g, " ");
  if (entry.action === "UNLINK" && entry.details?.ban) return `${label} and ban`;
  return label;
}

function details(entry: AuditEntry): HTMLElement | null {
  const d = entry.details ?? {};
  const keys = Object.keys(d);
  if (!keys.length) return null;
  return h("details.audit-details", null, h("summary", null, "details"),
    h("pre.mono.small", null, JSON.stringify(d, null, 2)));
}

export async function auditView(main: HTMLElement): Promise<Cleanup | void> {
  if (!canAct()) {
    clear(main, h("section.page", null, h("div.empty-state", { "data-testid": "forbidden" }, h("h2", null, "The audit log is for stewards"),
      h("p.muted", null, "Sign in with a steward key to see and undo steward actions."))));
    return;
  }
  let entries: AuditEntry[] = [];
  let page: { hasNextPage: boolean; endCursor: string | null } | null = null;
  const body = h("tbody");
  const footer = h("div.table-footer");
  clear(main, h("section.page.page-audit", null,
    h("div.page-head", null, h("div", null, h("h1", null, "Audit log"),
      h("p.muted", null, "Every steward action: who, when, what and why. Undo reverses an action as a new action of its own."))),
    h("div.card", null, h("table.table.audit", { "data-testid": "audit-log" },
      h("thead", null, h("tr", null, ...["#", "When", "Who", "Action", "Target", "Reason", ""].map((c) => h("th", null, c)))),
      body), footer)));

  async function load(more: boolean): Promise<void> {
    const data = await gql<AuditData>(AUDIT_LOG, { first: PAGE, before: more ? page?.endCursor ?? null : null });
    const log = data.auditLog;
    if (log.__typename !== "AuditConnection") throw new Error(log.message ?? "the audit log is not available");
    const got = (log.edges ?? []).map((e) => e.node);
    entries = more ? [...entries, ...got] : got;
    page = log.pageInfo ?? null;
    render();
  }

  function render(): void {
    if (!entries.length) {
      clear(body, h("tr", null, h("td", { colspan: 7 }, h("div.empty-state", { "data-testid": "audit-empty" }, h("p.muted", null, "No steward actions yet.")))));
    } else {
      // an undo is recorded as the reverse action; the entry it undid names it
      const undoes = new Map(entries.filter((e) => e.undoneBy != null).map((e) => [e.undoneBy!, e.seq]));
      clear(body, ...entries.map((e) => h("tr", { "data-testid": "audit-entry", "data-seq": e.seq, "data-action": word(e.action), class: e.undoneBy != null ? "undone" : "" },
        h("td.mono.muted", null, String(e.seq)),
        h("td.nowrap.muted", null, fmtTime(e.at)),
        h("td.mono.small", null, e.actor),
        h("td", null, h("span.action-label", { class: `act-${word(e.action)}` }, actionLabel(e)),
          undoes.has(e.seq) ? h("div.small.muted", { "data-testid": "undoes" }, `undo of #${undoes.get(e.seq)}`) : null),
        h("td.mono.small.break", null, e.target, details(e)),
        h("td", null, e.reason),
        h("td.nowrap", null, e.undoneBy != null
          ? h("span.muted.small", null, `undone by #${e.undoneBy}`)
          : e.undoable ? h("button.btn.btn-small.btn-secondary", {
            type: "button", "data-testid": "undo", "data-undo": e.seq, onclick: () => void undo(e.seq, async () => { await load(false); }),
          }, "Undo…") : h("span.muted.small", null, "")))));
    }
    clear(footer, page?.hasNextPage ? h("button.btn.btn-secondary", { type: "button", onclick: () => void load(true) }, "Older entries") : null);
  }

  clear(body, h("tr", null, h("td", { colspan: 7 }, h("div.loading", null, "Loading…"))));
  try {
    await load(false);
  } catch (e) {
    clear(body, h("tr", null, h("td", { colspan: 7 }, h("p.error", null, errorText(e)))));
  }
}
