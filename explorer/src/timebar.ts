// The time slider of the customer page: the customer as of a moment (event time), from
// its first sighting to now, with its merges and splits marked on the track. Moving the
// slider (or clicking a mark) asks the page for the customer as of that moment; the right
// end is now, the customer as it is.
//
// The track is piecewise linear: each stretch between two marked moments gets the same
// width, and time runs evenly within it. Events come in bursts and a steward acts long
// after them: on one linear scale the marks of a burst would sit on top of each other.

import type { CustomerDetail, HistoryEntry } from "./api";
import { clear, fmtTime, h } from "./dom";

const STEPS = 1000;

export interface Timebar {
  element: HTMLElement;
  /** Say the page shows this moment now (the tests wait for it), or found no customer
   * then. */
  shown(at: string | null, found: boolean): void;
}

interface Mark {
  kind: "merge" | "split";
  at: string;
  title: string;
}

function describe(e: HistoryEntry): string {
  return e.kind === "MERGE"
    ? `${e.absorbedId} merged into ${e.survivorId}${e.eventId ? ` (event ${e.eventId})` : ""}`
    : `${e.customerId} split: ${(e.parts ?? []).join(", ")} split off`;
}

/** One mark per moment: a split if anything split then, else a merge. */
function marksOf(history: HistoryEntry[]): Mark[] {
  const byMoment = new Map<string, HistoryEntry[]>();
  for (const e of history) byMoment.set(e.at, [...(byMoment.get(e.at) ?? []), e]);
  return [...byMoment].sort(([a], [b]) => Date.parse(a) - Date.parse(b)).map(([at, entries]) => ({
    kind: entries.some((e) => e.kind === "SPLIT") ? "split" as const : "merge" as const,
    at,
    title: `${fmtTime(at)}: ${entries.map(describe).join("; ")}`,
  }));
}

/** The scale: the moments that bound its stretches (the first sighting, each mark, the
 * latest evidence), in milliseconds. */
function stops(live: CustomerDetail, marks: Mark[]): number[] {
  const times = [...live.identifiers.flatMap((i) => [i.firstSeen, i.lastSeen]), ...marks.map((m) => m.at)]
    .map((t) => Date.parse(t)).filter((t) => !Number.isNaN(t));
  if (!times.length) return [0, 1];
  const start = Math.min(...times);
  const end = Math.max(...times);
  const inner = marks.map((m) => Date.parse(m.at)).filter((t) => t > start && t < end);
  const all = [...new Set([start, ...inner, end])].sort((a, b) => a - b);
  return all.length > 1 ? all : [start, start + 1];
}

function scale(bounds: number[]): { toStep: (at: string | null) => number; toMoment: (step: number) => string | null } {
  const stretch = STEPS / (bounds.length - 1);
  return {
    toStep(at) {
      if (at === null) return STEPS;
      const t = Date.parse(at);
      if (t <= bounds[0]) return 0;
      for (let i = 1; i < bounds.length; i++) {
        if (t <= bounds[i]) return Math.round(stretch * (i - 1 + (t - bounds[i - 1]) / (bounds[i] - bounds[i - 1])));
      }
      return STEPS;
    },
    // the last step is now; a moment is rounded down to the second
    toMoment(step) {
      if (step >= STEPS) return null;
      const i = Math.min(bounds.length - 2, Math.floor(step / stretch));
      const t = bounds[i] + (bounds[i + 1] - bounds[i]) * ((step - i * stretch) / stretch);
      return new Date(Math.floor(t / 1000) * 1000).toISOString().replace(".000Z", "Z");
    },
  };
}

export function timebar(live: CustomerDetail, initial: string | null,
  choose: (at: string | null) => void): Timebar {
  const marks = marksOf(live.mergeHistory);
  const { toStep, toMoment } = scale(stops(live, marks));

  const slider = h("input.time-slider", {
    type: "range", min: 0, max: STEPS, step: 1, value: toStep(initial),
    "data-testid": "time-slider", "aria-label": "As of",
  });
  const label = h("span.time-label", { "data-testid": "time-label" });
  const note = h("span.time-note.muted.small", { "data-testid": "time-note" });
  const now = h("button.btn.btn-small.btn-ghost", { type: "button", "data-testid": "time-now", onclick: () => pick(null) }, "Now");
  const track = h("div.time-marks", { "data-testid": "time-marks" },
    ...marks.map((m) => h("button.time-mark", {
      type: "button", class: `time-mark-${m.kind}`, "data-kind": m.kind, "data-at": m.at, "data-testid": "time-mark",
      title: m.title, "aria-label": m.title, style: `left:${(toStep(m.at) / STEPS) * 100}%`,
      onclick: () => pick(m.at),
    })));
  const element = h("div.timebar", { "data-testid": "timebar", "data-shown": "" },
    h("span.time-caption.small", null, "As of"),
    h("div.time-track", null, track, slider),
    label, now, note);
  let chosen = initial;

  function pick(at: string | null): void {
    show(at);
    choose(at);
  }

  function show(at: string | null): void {
    chosen = at;
    slider.value = String(toStep(at));
    label.textContent = at === null ? "now" : fmtTime(at);
    element.classList.toggle("time-past", at !== null);
    element.dataset.shown = "";
    clear(note, "Loading…");
  }

  slider.addEventListener("input", () => {
    const at = toMoment(Number(slider.value));
    label.textContent = at === null ? "now" : fmtTime(at);
  });
  slider.addEventListener("change", () => pick(toMoment(Number(slider.value))));

  show(initial);
  return {
    element,
    shown(at: string | null, found: boolean) {
      if (at !== chosen) return; // the answer for a moment left already
      element.dataset.shown = at ?? "now";
      clear(note, at === null ? "" : found
        ? "The customer as the evidence up to then, and the steward actions made by then, made it. Actions act on the present: go back to now to act."
        : "No customer yet at this moment: its first event came later.");
    },
  };
}
