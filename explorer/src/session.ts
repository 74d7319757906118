// Who is using the page: the API key's role decides what it shows. A reader sees masked
// values and no actions; a steward (or admin) sees everything and can act.

import { AuthRequired, REVIEW_COUNT, VIEWER, apiKey, gql, setApiKey, word } from "./api";
import type { Viewer } from "./api";
import { clear, h } from "./dom";

export const session: { viewer: Viewer | null } = { viewer: null };

export function canAct(): boolean {
  const role = session.viewer?.role;
  return role === "STEWARD" || role === "ADMIN";
}

export async function loadViewer(): Promise<Viewer> {
  const data = await gql<{ viewer: Viewer }>(VIEWER);
  session.viewer = data.viewer;
  renderWho();
  return data.viewer;
}

export function renderWho(): void {
  const who = document.getElementById("who")!;
  const v = session.viewer;
  document.body.dataset.role = v ? word(v.role) : "none";
  document.querySelectorAll<HTMLElement>("[data-steward]").forEach((el) => { el.hidden = !canAct(); });
  if (!v) {
    clear(who);
    return;
  }
  clear(who,
    h("span.role", { class: `role-${word(v.role)}`, "data-testid": "role" }, word(v.role)),
    h("span.actor", { title: "How the audit log names you" }, v.developmentMode ? "local development mode" : v.actor),
    !v.seesPii && h("span.pii", { title: "E-mail addresses, phone numbers and names are masked for your role" }, "PII masked"),
    // in local development mode every caller may do everything: no key to give
    (!v.developmentMode || apiKey()) && h("button.btn.btn-small.btn-ghost-dark", { type: "button", onclick: () => signIn(true) }, apiKey() ? "Switch key" : "Sign in"),
    apiKey() && h("button.btn.btn-small.btn-ghost-dark", { type: "button", onclick: () => { setApiKey(null); location.reload(); } }, "Sign out"),
  );
}

/** The sign-in screen: asks for an API key (kept for this browser tab only). */
export function signIn(switching = false, message = ""): Promise<void> {
  return new Promise((resolve) => {
    const main = document.getElementById("main")!;
    const input = h("input.input", { id: "api-key", type: "password", autocomplete: "off", placeholder: "API key", "data-testid": "api-key" });
    const error = h("p.error", { role: "alert" }, message);
    const form = h("form.signin-form", null,
      h("h1", null, "Sign in to the explorer"),
      h("p.muted", null, "This idgraph server needs an API key (IDGRAPH_API_KEYS). A reader key shows masked customer data; a steward key can correct the graph. The key is kept in this browser tab only."),
      h("label.field", null, h("span", null, "API key"), input),
      error,
      h("div.row", null,
        h("button.btn.btn-primary", { type: "submit", "data-testid": "sign-in" }, "Sign in"),
        switching && h("a.btn.btn-ghost", { href: location.hash || "#/", onclick: () => location.reload() }, "Cancel")),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      setApiKey(key);
      try {
        await loadViewer();
        resolve();
        window.dispatchEvent(new HashChangeEvent("hashchange"));
      } catch (err) {
        setApiKey(null);
        error.textContent = err instanceof AuthRequired ? "This key is not accepted." : String(err);
      }
    });
    clear(main, h("section.signin", null, form));
    input.focus();
  });
}

export async function refreshReviewCount(): Promise<void> {
  const el = document.getElementById("review-count");
  if (!el || !canAct()) return;
  try {
    const data = await gql<{ reviewQueue: { __typename: string; edges?: unknown[]; pageInfo?: { hasNextPage: boolean } } }>(REVIEW_COUNT);
    const q = data.reviewQueue;
    const n = q.edges?.length ?? 0;
    el.textContent = n ? `${n}${q.pageInfo?.hasNextPage ? "+" : ""}` : "";
  } catch {
    el.textContent = "";
  }
}
