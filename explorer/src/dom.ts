// Small DOM helpers: element building, formatting, the reason dialog and toasts.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

/** h("div.card#x", {title: "..."}, children...) */
export function h<K extends keyof HTMLElementTagNameMap>(
  spec: K | `${K}.${string}` | `${K}#${string}`, attrs: Attrs | null = null, ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const tag = /^[a-z0-9]+/.exec(spec)![0];
  const el = document.createElement(tag as K);
  const classes: string[] = [];
  for (const [, mark, name] of spec.slice(tag.length).matchAll(/([.#])([^.#]+)/g)) {
    if (mark === "#") el.id = name;
    else classes.push(name);
  }
  if (classes.length) el.className = classes.join(" ");
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else if (name === "class") {
      el.className = `${el.className} ${value}`.trim();
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function fmtDate(iso: string | null | undefined): string {
  return iso ? fmtTime(iso).slice(0, 10) : "";
}

export function fmtValue(value: unknown): string {
  if (value == null) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** Text a message repeats back (a search, an id), cut short: a 5,000-character search must
 * not push the message it is quoted in off the screen. */
export function clip(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number) {
  let timer: number | undefined;
  return (...args: A) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}

// -- the reason dialog ------------------------------------------------------------------

export interface ReasonOptions {
  title: string;
  body?: (Node | string)[];
  confirm: string;
  danger?: boolean;
  kind: string; // remembers the last reason per kind of action
  placeholder?: string;
  checkbox?: { label: string; hint?: string; checked?: boolean };
  field?: { label: string; placeholder?: string; value?: string };
  /** Shown above the reason: what the action will do; Confirm waits until it is ready. */
  gate?: Gate;
  /** Runs the action on Confirm with the dialog still open, its buttons disabled, so that
   * nothing is submitted twice; the dialog closes when it is done. */
  submit?: (answer: ReasonAnswer) => Promise<unknown>;
}

export interface ReasonAnswer { reason: string; checked: boolean; field: string }

/** Something the reason dialog shows and waits on before it lets the steward confirm. */
export interface Gate {
  node: HTMLElement;
  ready(): boolean;
  /** The field or the checkbox changed (and once at the start); `changed` when ready() may have. */
  update(answer: ReasonAnswer, changed: () => void): void;
}

const lastReasons = new Map<string, string>();

/** Ask for the reason of a steward action (required: the audit log keeps it). Enter
 * confirms, Escape cancels; resolves null when cancelled. */
export function askReason(opts: ReasonOptions): Promise<ReasonAnswer | null> {
  return new Promise((resolve) => {
    const reason = h("textarea.input", {
      id: "reason-input", rows: 3, required: true, "data-testid": "reason",
      placeholder: opts.placeholder ?? "Why? The audit log keeps this (required)",
    });
    reason.value = lastReasons.get(opts.kind) ?? "";
    const box = opts.checkbox ? h("input", { type: "checkbox", id: "reason-check", "data-testid": "reason-check" }) : null;
    if (box && opts.checkbox?.checked) box.checked = true;
    const field = opts.field ? h("input.input", {
      id: "reason-field", "data-testid": "reason-field", placeholder: opts.field.placeholder ?? "",
    }) : null;
    if (field && opts.field?.value) field.value = opts.field.value;
    const ok = h("button.btn", {
      type: "submit", class: opts.danger ? "btn-danger" : "btn-primary", "data-testid": "confirm",
    }, opts.confirm);
    const cancel = h("button.btn.btn-ghost", { type: "button", "data-testid": "cancel" }, "Cancel");
    const form = h("form.dialog-body", { method: "dialog" },
      h("h2", null, opts.title),
      ...(opts.body ?? []).map((b) => (typeof b === "string" ? h("p.muted", null, b) : b)),
      field && h("label.field", null, h("span", null, opts.field!.label), field),
      opts.gate?.node,
      h("label.field", null, h("span", null, "Reason"), reason),
      box && h("label.check", null, box, h("span", null, opts.checkbox!.label,
        opts.checkbox!.hint ? h("small.muted", null, ` ${opts.checkbox!.hint}`) : null)),
      h("div.dialog-actions", null, h("span.muted.small", null, "Enter to confirm · Esc to cancel"), cancel, ok),
    );
    const gate = opts.gate;
    const dialog = h("dialog.dialog", { "aria-label": opts.title, "aria-describedby": gate?.node.id || null,
      class: gate ? "dialog-wide" : null }, form);
    document.body.append(dialog);
    const current = (): ReasonAnswer => ({ reason: reason.value.trim(), checked: box?.checked ?? false, field: field?.value.trim() ?? "" });
    const valid = () => reason.value.trim().length > 0 && (!field || field.value.trim().length > 0) && (!gate || gate.ready());
    let busy = false;
    const sync = () => { ok.disabled = busy || !valid(); };
    const ask = () => gate?.update(current(), sync);
    const askSoon = debounce(ask, 300);
    reason.addEventListener("input", sync);
    field?.addEventListener("input", () => { sync(); askSoon(); });
    box?.addEventListener("change", ask);
    sync();
    ask();
    let answered = false;
    const finish = (answer: ReasonAnswer | null) => {
      if (answered) return;
      answered = true;
      if (answer) lastReasons.set(opts.kind, answer.reason);
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (busy || !valid()) return;
      const answer = current();
      if (opts.submit) {
        busy = true;
        ok.disabled = cancel.disabled = reason.readOnly = true;
        if (box) box.disabled = true;
        if (field) field.readOnly = true;
        dialog.setAttribute("aria-busy", "true");
        ok.textContent = "Working…";
        try {
          await opts.submit(answer);
        } finally {
          busy = false;
        }
      }
      finish(answer);
    });
    reason.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); if (!busy) finish(null); });
    dialog.showModal();
    (field && !field.value ? field : reason).focus();
    reason.select();
  });
}

// -- toasts ---------------------------------------------------------------------------

export interface ToastAction { label: string; run: () => void; testid?: string; seq?: number }

export function toast(message: string | Node, kind: "ok" | "error" | "info" = "ok",
  action?: ToastAction, ms = 9000): void {
  const host = document.getElementById("toasts")!;
  const close = h("button.toast-close", { "aria-label": "Dismiss", type: "button" }, "×");
  const el = h("div.toast", { class: `toast-${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": "toast", "data-undo-seq": action?.seq },
    h("div.toast-msg", null, message),
    action && h("button.btn.btn-small", { type: "button", "data-testid": action.testid ?? "toast-action", onclick: () => { el.remove(); action.run(); } }, action.label),
    close);
  close.addEventListener("click", () => el.remove());
  // one message at a time: the newest replaces the last, so messages never pile up over
  // the page (an action's Undo stays in the audit log)
  host.replaceChildren(el);
  window.setTimeout(() => el.remove(), ms);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
