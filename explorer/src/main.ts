import "./style.css";
import { AuthRequired, CUSTOMER, GRAPH, depthParam, prefetch } from "./api";
import { clear, errorText, h } from "./dom";
import { loadViewer, refreshReviewCount, signIn } from "./session";
import { auditView } from "./views/audit";
import { customerView } from "./views/customer";
import { reviewView } from "./views/review";
import { searchView } from "./views/search";
import { whyNotView } from "./views/whynot";

export type Cleanup = () => void;
/** A view renders into main; `current()` turns false once the page has moved on to
 * another view, so a view still waiting for its data leaves main alone. */
type View = (main: HTMLElement, params: URLSearchParams, path: string[], current: () => boolean,
) => Cleanup | void | Promise<Cleanup | void>;

const ROUTES: Record<string, View> = {
  "": searchView,
  customer: customerView,
  review: reviewView,
  audit: auditView,
  whynot: whyNotView,
};

let cleanup: Cleanup | void;
let rendering = 0;

function parseHash(): { path: string[]; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?", 2);
  return { path: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query ?? "") };
}

async function render(): Promise<void> {
  const ticket = ++rendering;
  const { path, params } = parseHash();
  const view = ROUTES[path[0] ?? ""] ?? searchView;
  document.querySelectorAll<HTMLAnchorElement>("[data-nav]").forEach((a) => {
    a.classList.toggle("active", a.dataset.nav === (path[0] ?? "search") || (!path[0] && a.dataset.nav === "search"));
  });
  if (cleanup) {
    cleanup();
    cleanup = undefined;
  }
  const main = document.getElementById("main")!;
  try {
    const result = await view(main, params, path.slice(1), () => ticket === rendering);
    if (ticket === rendering) cleanup = result;
    else result?.();
  } catch (e) {
    if (e instanceof AuthRequired) {
      await signIn(false, "Your key is no longer accepted: sign in again.");
      return;
    }
    clear(main, h("section.page", null, h("div.empty-state.error-state", null, h("h2", null, "Something went wrong"), h("p", null, errorText(e)))));
  }
}

async function boot(): Promise<void> {
  performance.mark("idgraph:boot");
  const { path, params } = parseHash();
  if (path[0] === "customer" && path[1]) {
    if (!params.get("asOf")) {
      prefetch("customer", CUSTOMER, { id: path[1], asOf: null });
      prefetch("graph", GRAPH, { id: path[1], depth: depthParam(params), asOf: null });
    }
    void import("./graph"); // the drawing's chunk, while the page learns the caller's role
  }
  try {
    await loadViewer();
    performance.mark("idgraph:viewer");
  } catch (e) {
    if (e instanceof AuthRequired) {
      await signIn();
    } else {
      clear(document.getElementById("main")!, h("section.page", null, h("div.empty-state.error-state", null,
        h("h2", null, "The idgraph API does not answer"), h("p", null, errorText(e)))));
      return;
    }
  }
  window.addEventListener("hashchange", () => { void render(); });
  await render();
  void refreshReviewCount();
}

void boot();
