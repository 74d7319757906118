// Steward actions: each shows what it will do (previewAction) and asks for a reason, runs
// one mutation, says what happened (merges, splits, the audit seq) and offers the undo.

import { act, isSuccess } from "./api";
import type { ActionInput, ActionResult, ActionSuccess, MUTATIONS } from "./api";
import { askReason, errorText, h, toast } from "./dom";
import type { ReasonAnswer, ReasonOptions } from "./dom";
import { previewGate } from "./preview";
import { refreshReviewCount } from "./session";

export type Done = (result: ActionSuccess) => void | Promise<void>;

export function describe(result: ActionSuccess, what: string): HTMLElement {
  const lines: (HTMLElement | string)[] = [h("strong", null, what)];
  for (const s of result.splits) {
    lines.push(h("div", { "data-testid": "split-outcome" }, `Customer ${s.customerId} split: `,
      ...s.parts.map((p, i) => h("span", null, i ? ", " : "", h("a.mono", { href: `#/customer/${encodeURIComponent(p)}` }, p))),
      " split off"));
  }
  for (const m of result.merges) {
    lines.push(h("div", { "data-testid": "merge-outcome" }, `Customer ${m.absorbedId} merged into `,
      h("a.mono", { href: `#/customer/${encodeURIComponent(m.survivorId)}` }, m.survivorId)));
  }
  if (result.auditSeq != null) lines.push(h("div.muted.small", null, `Audit log entry #${result.auditSeq}`));
  return h("div", null, ...lines);
}

/** What the dialog previews: the action as `previewAction` takes it, from what the dialog
 * holds (null while something is missing), and the customer on the page. */
export interface Preview { input: (answer: ReasonAnswer) => ActionInput | null; here?: string }

/** Ask for the reason (showing the preview, when there is one, before Confirm can be
 * pressed), run the mutation with the dialog disabled, report; `done` runs after a
 * success. */
export async function runAction(kind: keyof typeof MUTATIONS, variables: Record<string, unknown>,
  dialog: ReasonOptions, what: string, done: Done, preview?: Preview): Promise<ActionResult | null> {
  let result: ActionResult | null = null;
  await askReason({
    ...dialog,
    gate: preview ? previewGate(preview.input, preview.here) : undefined,
    submit: async (answer) => {
      result = await perform(kind, { ...variables, reason: answer.reason, ...extra(kind, answer) }, what, done);
    },
  });
  return result;
}

function extra(kind: string, answer: ReasonAnswer): Record<string, unknown> {
  if (kind === "unlink") return { ban: answer.checked };
  if (kind === "merge" && answer.field) return { b: answer.field };
  return {};
}

export async function perform(kind: keyof typeof MUTATIONS, variables: Record<string, unknown>, what: string,
  done: Done): Promise<ActionResult | null> {
  let result: ActionResult;
  try {
    result = await act(kind, variables);
  } catch (e) {
    toast(`${what} failed: ${errorText(e)}`, "error");
    return null;
  }
  if (!isSuccess(result)) {
    toast(h("div", { "data-testid": "action-failure" }, h("strong", null, `${what}: not done`),
      h("div", null, result.message), result.suggestion ? h("div.muted.small", null, result.suggestion) : null), "error", undefined, 14000);
    return result;
  }
  const seq = result.auditSeq;
  toast(describe(result, what), "ok", seq != null && kind !== "undo"
    ? { label: "Undo", testid: "toast-undo", seq, run: () => { void undo(seq, done); } } : undefined);
  if (kind === "undo") {
    // the action undone can no longer be undone from its toast
    document.querySelectorAll(`[data-undo-seq="${variables.seq}"]`).forEach((t) => t.remove());
  }
  void refreshReviewCount();
  await done(result);
  return result;
}

export function undo(seq: number, done: Done): Promise<ActionResult | null> {
  return runAction("undo", { seq }, {
    title: `Undo action #${seq}`,
    body: ["The undo is an action of its own: it is recorded in the audit log, and can be undone in turn."],
    confirm: "Undo", kind: "undo", placeholder: "Why undo it?",
  }, `Action #${seq} undone`, done);
}
