// The customer view: the identity graph with an inspector, and tabs for the profile,
// identifiers, timeline, merge and split history, segments and consent.

import { CUSTOMER, EXPLAIN, GRAPH, MOMENT, TIMELINE, gql, gqlPartial, depthParam, identifierOf, takePrefetched, word } from "../api";
import type { ActionSuccess, CustomerDetail, EventNode, Explanation, GraphNode, IdentityGraph, Link, PageInfo } from "../api";
import { runAction } from "../actions";
import type { Preview } from "../actions";
import { clear, clip, errorText, fmtDate, fmtTime, fmtValue, h, plural } from "../dom";
import type { GraphCanvas } from "../graph";
import { isHub, legend, linkKind, linkSummary, matchKeyView, shortValue, storedMatch, typeStyle } from "../kit";
import { canAct, session } from "../session";
import { timebar } from "../timebar";
import { displayName, rememberCustomer } from "./search";
import type { Cleanup } from "../main";

const KNOWN_EVENT_TYPES = ["page_view", "click", "impression", "purchase", "chat_message", "call",
  "signup", "login", "crm_record", "app_open"];
const TIMELINE_PAGE = 20;

/** A status (an enum value of the schema) or a mark such as "hub", as a badge. */
function badge(status: string, extraClass = ""): HTMLElement {
  return h("span.badge", { class: `badge-${word(status)} ${extraClass}`.trim() }, word(status));
}

function keyLabel(key: string): HTMLElement {
  const { type, value } = identifierOf(key);
  const s = typeStyle(type);
  return h("span.key", { title: key }, h("span.swatch.swatch-sm", { class: `shape-${s.shape}`, style: `--c:${s.color}` }),
    h("span.key-type", null, s.label), " ", h("span.key-value", null, shortValue(type, value)));
}

/** A matched link's match: its key, score and model, and each comparison's weight as a bar. */
function matchSection(link: Link): HTMLElement | null {
  const match = storedMatch(link.weights);
  if (!match && !link.matchKey) return null;
  const rows = match?.weights ?? [];
  const max = Math.max(1, ...rows.map(([, v]) => Math.abs(v)));
  return h("div.section", { "data-testid": "match" },
    h("h3", null, "Match"),
    link.matchKey ? h("p", null, matchKeyView(link.matchKey)) : null,
    h("dl.facts", null,
      match?.score != null ? [h("dt", null, "Score"), h("dd", { "data-testid": "match-score" }, match.score.toFixed(2))] : null,
      match?.probability != null ? [h("dt", null, "Probability"), h("dd", null, match.probability.toFixed(3))] : null,
      match?.model ? [h("dt", null, "Model"), h("dd.mono", null, match.model)] : null),
    rows.length ? h("div.weights", { "data-testid": "weights" },
      ...rows.map(([name, v]) => h("div.weight-row", { "data-testid": "link-weight", "data-comparison": name },
        h("span.weight-name", null, name.replace(/_/g, " ")),
        h("span.weight-bar", null, h("span", { class: v >= 0 ? "pos" : "neg", style: `width:${(Math.abs(v) / max) * 100}%` })),
        h("span.weight-value.mono", null, v > 0 ? `+${v.toFixed(2)}` : v.toFixed(2))))) : null,
    rows.length ? h("p.muted.small", null, "Weights are log2(m/u): positive is evidence for one person, negative against.") : null);
}

export async function customerView(main: HTMLElement, params: URLSearchParams, path: string[],
  current: () => boolean): Promise<Cleanup> {
  let customerId = path[0] ?? "";
  let depth = depthParam(params);
  const steward = canAct();
  // the moment shown (event time, ISO); null: now. In the past the page only looks:
  // actions act on the present.
  let asOf: string | null = params.get("asOf");
  const acting = () => steward && asOf === null;
  let live: CustomerDetail; // the customer now: the slider's span and marks
  let detail: CustomerDetail; // the customer shown
  let shownId = customerId; // its id then (a later split part was its parent's then)
  let graph: IdentityGraph | null = null;
  let anchorKey: string | null = null;
  let disposed = false;

  clear(main, h("section.page", null, h("div.loading", null, "Loading customer…")));
  const graphModule = import("../graph"); // cytoscape: loads while the queries run
  // the graph is fetched while the customer is: it is the slow part of the page
  type GraphData = { customer: { id: string; identityGraph: IdentityGraph } | null };
  let prefetched: Promise<GraphData> | null = asOf ? null
    : takePrefetched<GraphData>("graph", { id: customerId, depth, asOf: null })
      ?? gql<GraphData>(GRAPH, { id: customerId, depth, asOf: null });
  prefetched?.catch(() => undefined);
  type DetailData = { customer: CustomerDetail | null };
  const first = await (takePrefetched<DetailData>("customer", { id: customerId, asOf: null })
    ?? gql<DetailData>(CUSTOMER, { id: customerId, asOf: null }));
  if (!current()) return () => {};
  if (!first.customer) {
    clear(main, h("section.page", null, h("div.empty-state", { "data-testid": "not-found" },
      h("h2", null, "No such customer"), h("p.muted", null, `idgraph has no customer ${clip(customerId)} (it may have been erased).`),
      h("a.btn.btn-primary", { href: "#/" }, "Search"))));
    return () => {};
  }
  live = detail = first.customer;
  performance.mark("idgraph:customer");
  const redirectedFrom = detail.id !== customerId ? customerId : null;
  customerId = shownId = detail.id;
  if (redirectedFrom) history.replaceState(null, "", address());

  // -- layout -----------------------------------------------------------------------------
  const header = h("div.customer-header");
  const graphBox = h("div.graph#graph", { "data-testid": "graph", "data-state": "loading" });
  const tooltip = document.getElementById("tooltip")!;
  const status = h("span.graph-status.muted.small", { "data-testid": "graph-status" });
  const depthControl = h("div.segmented", { role: "group", "aria-label": "Depth" },
    h("span.segmented-label", null, "Reach"),
    ...[0, 1, 2, 3].map((d) => h("button", {
      type: "button", class: d === depth ? "on" : "", "data-depth": d,
      title: d === 0 ? "Only this customer's identifiers" : `${plural(d, "hop")} beyond, along links kept out (rejected, removed, banned)`,
      onclick: () => { depth = d; depthControl.querySelectorAll("button").forEach((b) => b.classList.toggle("on", b.dataset.depth === String(d))); void loadGraph(false); },
    }, String(d))));
  const legendBox = h("div.legend-box", null);
  const legendToggle = h("button.btn.btn-small.btn-ghost", { type: "button", "aria-pressed": "true", onclick: () => {
    legendBox.hidden = !legendBox.hidden;
    legendToggle.setAttribute("aria-pressed", String(!legendBox.hidden));
  } }, "Legend");
  const toolbar = h("div.graph-toolbar", null, depthControl,
    h("button.btn.btn-small.btn-ghost", { type: "button", onclick: () => canvas.fit(), title: "Fit the drawing" }, "Fit"),
    h("button.btn.btn-small.btn-ghost", { type: "button", onclick: () => canvas.relayout(), title: "Lay the graph out again" }, "Re-layout"),
    legendToggle, status);
  const inspector = h("aside.inspector", { "data-testid": "inspector", "aria-live": "polite" });
  let time = timebar(live, asOf, (at) => void goTo(at));
  const tabsBar = h("div.tabs", { role: "tablist" });
  const tabBody = h("div.tab-body");
  clear(main, h("section.page.page-customer", null,
    redirectedFrom && h("div.notice", { "data-testid": "redirect-notice" }, `Customer ${redirectedFrom} was merged into ${customerId}; showing the survivor.`),
    header,
    time.element,
    h("div.customer-grid", null,
      h("div.card.graph-card", null, toolbar, h("div.graph-wrap", null, graphBox), legendBox),
      inspector),
    h("div.card.tabs-card", null, tabsBar, tabBody)));

  const { GraphCanvas: Canvas, hook } = await graphModule;
  if (!current()) return () => {};
  const canvas: GraphCanvas = new Canvas(graphBox, {
    onSelection: (nodes, links) => { tooltip.hidden = true; void showSelection(nodes, links); },
    onHoverNode: (node, x, y) => showTooltip(node ? nodeTip(node) : null, x, y),
    onHoverEdge: (link, x, y) => showTooltip(link ? edgeTip(link) : null, x, y),
  });

  canvas.tuning = {
    quality: params.get("quality") ?? undefined,
    iter: params.get("iter") ? Number(params.get("iter")) : undefined,
  };

  function showTooltip(content: HTMLElement | null, x: number, y: number): void {
    if (!content) {
      tooltip.hidden = true;
      return;
    }
    const box = graphBox.getBoundingClientRect();
    clear(tooltip, content);
    tooltip.hidden = false;
    tooltip.style.left = `${Math.min(window.innerWidth - 320, box.left + x + 14)}px`;
    tooltip.style.top = `${box.top + y + 14 + window.scrollY}px`;
  }

  function nodeTip(node: GraphNode): HTMLElement {
    return h("div", { "data-testid": "tooltip-node" },
      h("div.tip-title", null, `${typeStyle(node.type).label} ${node.value}`),
      h("div", null, node.status === "ACTIVE" ? (node.customerId === customerId ? "This customer" : `Customer ${node.customerId}`) : `${word(node.status)}${isHub(node) ? " (hub)" : ""}`),
      node.reason && h("div.muted", null, node.reason));
  }

  function edgeTip(link: Link): HTMLElement {
    return h("div", { "data-testid": "tooltip-edge" },
      h("div.tip-title", null, linkSummary(link)),
      link.reason && h("div.muted", null, link.reason),
      h("div.muted", null, "Click for the evidence"));
  }

  // -- header -----------------------------------------------------------------------------
  function renderHeader(): void {
    const name = displayName(detail.profile.traits) || "Unnamed customer";
    if (asOf === null) rememberCustomer(customerId, name);
    const merges = detail.mergeHistory.filter((e) => e.kind === "MERGE").length;
    const splits = detail.mergeHistory.filter((e) => e.kind === "SPLIT").length;
    const city = detail.profile.traits.find((t) => t.name === "city")?.value;
    clear(header,
      h("div.avatar.avatar-lg", { "aria-hidden": "true" }, name.slice(0, 1).toUpperCase()),
      h("div.customer-title", null,
        h("h1", { "data-testid": "customer-name" }, name),
        h("div.muted", null, h("span.mono", { "data-testid": "customer-id" }, shownId),
          typeof city === "string" ? ` · ${city}` : "",
          ` · ${plural(detail.identifiers.length, "identifier")}`,
          merges ? ` · ${plural(merges, "merge")}` : "", splits ? ` · ${plural(splits, "split")}` : "")),
      h("div.header-actions", null,
        h("a.btn.btn-secondary", { href: `#/whynot?a=${encodeURIComponent(customerId)}`, "data-testid": "why-not-link" }, "Why not one with…"),
        acting() && h("button.btn.btn-secondary", { type: "button", "data-action": "merge", "data-testid": "merge-customers", onclick: mergeWith }, "Merge with another customer…")));
  }

  // -- data -------------------------------------------------------------------------------
  function computeAnchor(): string | null {
    const active = detail.identifiers.filter((i) => i.status === "ACTIVE");
    if (!active.length) return null;
    const first = active.reduce((a, b) => (b.firstSeen < a.firstSeen ? b : a));
    return `${first.type}:${first.value}`;
  }

  async function loadDetail(): Promise<boolean> {
    const data = await gql<{ customer: CustomerDetail | null }>(CUSTOMER, { id: customerId, asOf: null });
    if (!data.customer) return false;
    if (data.customer.id !== customerId) {
      location.hash = `#/customer/${encodeURIComponent(data.customer.id)}`;
      return false;
    }
    live = detail = data.customer;
    anchorKey = computeAnchor();
    renderHeader();
    renderTab();
    return true;
  }

  async function loadGraph(animate: boolean): Promise<void> {
    graphBox.dataset.state = "loading";
    hook.state = "loading";
    status.textContent = "Loading…";
    try {
      let data = prefetched ? await prefetched : null;
      prefetched = null;
      if (!data?.customer || data.customer.id !== shownId) data = await gql<GraphData>(GRAPH, { id: customerId, depth, asOf });
      performance.mark("idgraph:graph-data");
      if (disposed) return;
      graph = data.customer?.identityGraph ?? { customerId: shownId, depth, nodes: [], links: [], truncated: false };
      const types = [...new Set(graph.nodes.map((n) => n.type))];
      clear(legendBox, legend(types));
      const stats = await canvas.draw(graph, shownId, anchorKey, animate);
      if (disposed) return;
      const own = graph.nodes.filter((n) => n.customerId === shownId).length;
      status.textContent = `${plural(own, "identifier")} · ${plural(graph.links.length, "link")}`
        + (stats.customers.length > 1 ? ` · ${plural(stats.customers.length, "customer")} in view` : "")
        + (graph.truncated ? " · truncated at 500 nodes" : "");
      status.classList.toggle("warn", graph.truncated);
      void showSelection([], []);
    } catch (e) {
      graphBox.dataset.state = "error";
      hook.state = "error";
      status.textContent = `Could not load the graph: ${errorText(e)}`;
    }
  }

  async function afterAction(result: ActionSuccess): Promise<void> {
    const absorbed = result.merges.find((m) => m.absorbedId === customerId);
    if (absorbed) {
      location.hash = `#/customer/${encodeURIComponent(absorbed.survivorId)}`;
      return;
    }
    const exists = await loadDetail();
    if (exists) {
      // the action is a moment of the customer's now: a mark on the slider
      const fresh = timebar(live, null, (at) => void goTo(at));
      time.element.replaceWith(fresh.element);
      time = fresh;
      time.shown(null, true);
    }
    if (!exists) {
      const next = result.affectedCustomers[0]?.id;
      if (next) location.hash = `#/customer/${encodeURIComponent(next)}`;
      return;
    }
    if (depth === 0 && result.splits.length) {
      depth = 1; // show the part split off next to this customer
      depthControl.querySelectorAll("button").forEach((b) => b.classList.toggle("on", b.dataset.depth === "1"));
    }
    await loadGraph(true);
  }

  // -- inspector ----------------------------------------------------------------------------
  let explainTicket = 0;

  async function showSelection(nodes: GraphNode[], links: Link[]): Promise<void> {
    const ticket = ++explainTicket;
    if (nodes.length === 1 && !links.length) return showNode(nodes[0], ticket);
    canvas.highlight([], []);
    if (links.length === 1 && !nodes.length) return showLink(links[0]);
    if (nodes.length > 1) return showMany(nodes);
    showOverview();
  }

  function showOverview(): void {
    const g = graph;
    const counts = new Map<string, number>();
    for (const l of g?.links ?? []) counts.set(linkKind(l), (counts.get(linkKind(l)) ?? 0) + 1);
    const flagged = (g?.nodes ?? []).filter((n) => n.status !== "ACTIVE");
    clear(inspector,
      h("h2.inspector-title", null, "The identity graph"),
      h("p.muted", null, "Each identifier is a node, grouped by customer; links carry the events that tied them. Click an identifier to see why it belongs here, or a link for its evidence."),
      h("dl.facts", null,
        ...[...counts].flatMap(([k, n]) => [h("dt", null, h("span.line", { class: `ln-${k}` }), k), h("dd", null, String(n))])),
      flagged.length ? h("div.section", null, h("h3", null, "Needs attention"),
        ...flagged.map((n) => h("button.list-item", { type: "button", onclick: () => { canvas.select([n.key]); canvas.focusOn(n.key); } },
          keyLabel(n.key), badge(isHub(n) ? "hub" : n.status)))) : null,
      h("p.muted.small", null, acting()
        ? "Shift-click or shift-drag to select several identifiers and split them off."
        : steward ? "The customer as of a past moment: actions act on the present."
          : "You are signed in as a reader: actions are hidden."),
    );
  }

  function linksOf(key: string): Link[] {
    return (graph?.links ?? []).filter((l) => l.a === key || l.b === key);
  }

  function linkRow(link: Link, from?: string): HTMLElement {
    const other = from ? (link.a === from ? link.b : link.a) : null;
    return h("button.list-item.link-item", {
      type: "button", "data-testid": "link-row",
      onclick: () => { canvas.select([], [[link.a, link.b]]); },
    },
    h("span.line", { class: `ln-${linkKind(link)}` }),
    other ? keyLabel(other) : h("span", null, keyLabel(link.a), " — ", keyLabel(link.b)),
    h("span.muted.small", null, `${link.count}×`));
  }

  async function showNode(node: GraphNode, ticket: number): Promise<void> {
    const outside = node.customerId !== shownId;
    const explainBox = h("div.section", { "data-testid": "explanation" }, h("h3", null, "Why it is here"), h("div.loading.small", null, "Explaining…"));
    const actions = h("div.actions");
    if (acting()) {
      if (node.status === "QUARANTINED") {
        actions.append(h("button.btn.btn-secondary", { type: "button", "data-action": "release", "data-testid": "release", onclick: () => void release(node) }, "Release…"));
      } else if (node.status === "ACTIVE") {
        actions.append(h("button.btn.btn-secondary", { type: "button", "data-action": "quarantine", "data-testid": "quarantine", onclick: () => void quarantine(node) }, "Quarantine…"));
        if (!outside && detail.identifiers.length > 1) {
          actions.append(h("button.btn.btn-secondary", { type: "button", "data-action": "split", onclick: () => void split([node]) }, "Split off…"));
        }
      }
      if (outside && node.customerId) {
        actions.append(h("button.btn.btn-secondary", { type: "button", "data-action": "merge", onclick: () => void mergeCustomer(node.customerId!) }, "Merge its customer into this one…"));
      }
    }
    clear(inspector,
      h("div.inspector-kicker", null, typeStyle(node.type).label, outside && node.customerId ? " · another customer" : ""),
      h("h2.inspector-title.break", { "data-testid": "node-title" }, node.value),
      h("div.row", null, badge(node.status), isHub(node) && badge("hub"), node.key === anchorKey && badge("anchor")),
      node.reason && h("p.reason", null, node.reason),
      outside && node.customerId && h("p", null, "Belongs to ", h("a.mono", { href: `#/customer/${encodeURIComponent(node.customerId)}` }, node.customerId), "."),
      !node.customerId && h("p.muted", null, "Belongs to no customer: it keeps its events, and its links merge nothing."),
      actions.childElementCount ? actions : null,
      explainBox,
      h("div.section", null, h("h3", null, `Links (${linksOf(node.key).length})`), ...linksOf(node.key).map((l) => linkRow(l, node.key))));

    // the explanation: the API's when it can (a steward sees raw values), else the
    // shortest active path in the drawing to the anchor
    let path: (Pick<Link, "a" | "b"> & Partial<Link>)[] = [];
    let anchor: string | null = outside ? null : anchorKey;
    let stopped: Link[] = [];
    let note = "";
    const masked = !session.viewer?.seesPii && (node.type === "email" || node.type === "phone");
    if (!masked) {
      try {
        const { type, value } = identifierOf(node.key);
        const { data } = await gqlPartial<{ customer: { explain: Explanation | null } | null }>(EXPLAIN, { id: customerId, type, value, asOf });
        const found = data.customer?.explain;
        if (found) {
          path = found.path;
          anchor = found.anchor;
          stopped = found.stopped;
        }
      } catch (e) {
        note = `The API could not explain it: ${errorText(e)}`;
      }
    } else if (anchor) {
      path = canvas.activePath(node.key, anchor);
      note = "Your role sees masked values: this is the shortest path of active links as drawn.";
    }
    if (ticket !== explainTicket || disposed) return;
    canvas.highlight(path, [node.key, ...(anchor ? [anchor] : [])]);
    const steps: HTMLElement[] = [];
    if (node.status !== "ACTIVE") {
      steps.push(h("p.muted", null, `It is ${word(node.status)}: it belongs to no customer, so no path holds it.`));
    } else if (node.key === anchor) {
      steps.push(h("p", null, "This is the customer's anchor: its first-seen identifier. Every other identifier is explained by a path of active links to it."));
    } else if (path.length) {
      steps.push(h("p.muted.small", null, `${plural(path.length, "active link")} from this identifier to the anchor, ${anchor ? "" : "the customer's first-seen identifier"}`, anchor ? keyLabel(anchor) : ""));
      // each step from the identifier towards the anchor
      let at = node.key;
      const oriented = path.map((l) => {
        const [from, to] = l.a === at ? [l.a, l.b] : l.b === at ? [l.b, l.a] : [l.a, l.b];
        at = to;
        return { l, from, to };
      });
      steps.push(h("ol.path", { "data-testid": "explain-path" }, ...oriented.map(({ l, from, to }) =>
        h("li", null, h("button.path-step", { type: "button", title: "Show this link's evidence", onclick: () => canvas.select([], [[l.a, l.b]]) },
          keyLabel(from), h("span.path-arrow", null, "↓ ", keyLabel(to)),
          l.count != null ? h("span.muted.small", null, `${plural(l.count, "event")} · ${(l.sources ?? []).join(", ")}`) : null)))));
    } else {
      steps.push(h("p.muted", null, outside ? "It belongs to another customer: open that customer for its explanation." : "No path found."));
    }
    if (stopped.length) {
      steps.push(h("h4", null, "Kept out"), ...stopped.map((l) => h("div.stopped", null, linkRow(l, node.key), h("div.reason.small", null, l.reason))));
    }
    if (note) steps.push(h("p.muted.small", null, note));
    clear(explainBox, h("h3", null, "Why it is here"), ...steps);
  }

  function showLink(link: Link): void {
    const kind = linkKind(link);
    const actions = h("div.actions");
    if (acting()) {
      if (link.status === "ACTIVE") {
        actions.append(h("button.btn.btn-danger", { type: "button", "data-action": "cut", "data-testid": "cut-link", onclick: () => void cut(link) }, "Cut link…"));
      } else if (link.status === "REMOVED") {
        actions.append(h("button.btn.btn-secondary", { type: "button", "data-action": "relink", "data-testid": "relink", onclick: () => void relink(link) }, "Link again…"));
      }
    }
    clear(inspector,
      h("div.inspector-kicker", null, "Link"),
      h("h2.inspector-title", { "data-testid": "link-title" }, keyLabel(link.a), h("div.muted.small.link-dash", null, "linked to"), keyLabel(link.b)),
      h("div.row", null, badge(kind, `badge-link-${kind}`)),
      link.reason && h("p.reason", { "data-testid": "link-reason" }, link.reason),
      link.status === "BANNED" && h("p.muted.small", null, "A banned pair never links again. To lift the ban, undo it from the ", h("a", { href: "#/audit" }, "audit log"), "."),
      link.status === "REJECTED" && h("p.muted.small", null, "The linking rules keep these apart; the link is re-evaluated when the component changes."),
      actions.childElementCount ? actions : null,
      h("div.section", { "data-testid": "evidence" },
        h("h3", null, "Evidence"),
        h("dl.facts", null,
          h("dt", null, "Events"), h("dd", { "data-testid": "evidence-count" }, String(link.count)),
          h("dt", null, "First seen"), h("dd", null, fmtTime(link.firstSeen)),
          h("dt", null, "Last seen"), h("dd", null, fmtTime(link.lastSeen)),
          h("dt", null, "Sources"), h("dd", { "data-testid": "evidence-sources" }, ...link.sources.map((s) => h("span.chip", null, s)))),
        link.sampleEventIds.length ? h("div", null, h("h4", null, "Events that showed them together"),
          h("ul.event-ids", { "data-testid": "evidence-events" }, ...link.sampleEventIds.map((id) => h("li.mono", null, id))),
          link.count > link.sampleEventIds.length ? h("p.muted.small", null, `A sample: ${link.sampleEventIds.length} of ${link.count}.`) : null) : null),
      matchSection(link),
    );
  }

  function showMany(nodes: GraphNode[]): void {
    const own = nodes.filter((n) => n.customerId === shownId && n.status === "ACTIVE");
    clear(inspector,
      h("div.inspector-kicker", null, "Selection"),
      h("h2.inspector-title", null, plural(nodes.length, "identifier")),
      h("div.section", null, ...nodes.map((n) => h("div.list-item", null, keyLabel(n.key), badge(n.status)))),
      acting() && own.length && own.length < detail.identifiers.length
        ? h("div.actions", null, h("button.btn.btn-danger", { type: "button", "data-action": "split", onclick: () => void split(own) }, `Split ${plural(own.length, "identifier")} off…`))
        : null);
  }

  // -- actions --------------------------------------------------------------------------------
  function cut(link: Link): Promise<unknown> {
    return runAction("unlink", { a: identifierOf(link.a), b: identifierOf(link.b) }, {
      title: "Cut this link",
      body: [h("p", null, keyLabel(link.a), " — ", keyLabel(link.b)),
        "If nothing else holds the customer together, it splits: the part with most identifiers keeps the id."],
      confirm: "Cut link", danger: true, kind: "unlink",
      checkbox: { label: "Ban the pair", hint: "— they never link again, not even through other identifiers" },
    }, "Link cut", afterAction, preview((answer) => ({ kind: "UNLINK", identifiers: [identifierOf(link.a), identifierOf(link.b)], ban: answer.checked })));
  }

  function relink(link: Link): Promise<unknown> {
    return runAction("link", { a: identifierOf(link.a), b: identifierOf(link.b) }, {
      title: "Link these identifiers again", body: [h("p", null, keyLabel(link.a), " — ", keyLabel(link.b))],
      confirm: "Link", kind: "link",
    }, "Identifiers linked", afterAction, preview(() => ({ kind: "LINK", identifiers: [identifierOf(link.a), identifierOf(link.b)] })));
  }

  function quarantine(node: GraphNode): Promise<unknown> {
    return runAction("quarantine", { identifier: identifierOf(node.key) }, {
      title: "Quarantine this identifier", body: [h("p", null, keyLabel(node.key)),
        "It keeps its events but links nothing; its customer is re-partitioned without it."],
      confirm: "Quarantine", danger: true, kind: "quarantine",
    }, "Identifier quarantined", afterAction, preview(() => ({ kind: "QUARANTINE", identifiers: [identifierOf(node.key)] })));
  }

  function release(node: GraphNode): Promise<unknown> {
    return runAction("release", { identifier: identifierOf(node.key) }, {
      title: "Release this identifier", body: [h("p", null, keyLabel(node.key)), "It links again under the rules."],
      confirm: "Release", kind: "release",
    }, "Identifier released", afterAction, preview(() => ({ kind: "RELEASE", identifiers: [identifierOf(node.key)] })));
  }

  function split(nodes: GraphNode[]): Promise<unknown> {
    return runAction("split", { identifiers: nodes.map((n) => identifierOf(n.key)) }, {
      title: `Split ${plural(nodes.length, "identifier")} off`,
      body: [h("div", null, ...nodes.map((n) => h("div", null, keyLabel(n.key)))), "They become a new customer: the links between them and the rest are removed."],
      confirm: "Split off", danger: true, kind: "split",
    }, "Customer split", afterAction, preview(() => ({ kind: "SPLIT", identifiers: nodes.map((n) => identifierOf(n.key)) })));
  }

  function mergeCustomer(other: string): Promise<unknown> {
    return runAction("merge", { a: customerId, b: other }, {
      title: "Merge two customers", body: [`Merge ${other} with ${customerId}. The first seen keeps its id; the rules still apply.`],
      confirm: "Merge", kind: "merge",
    }, "Customers merged", afterAction, preview(() => ({ kind: "MERGE", customers: [customerId, other] })));
  }

  function mergeWith(): Promise<unknown> {
    return runAction("merge", { a: customerId }, {
      title: "Merge with another customer",
      body: [`The customer first seen keeps its id; the other still finds it. The linking rules still apply.`],
      field: { label: "The other customer's id", placeholder: "c_…" },
      confirm: "Merge", kind: "merge",
    }, "Customers merged", afterAction,
    preview((answer) => (answer.field ? { kind: "MERGE", customers: [customerId, answer.field] } : null)));
  }

  function preview(input: Preview["input"]): Preview {
    return { input, here: customerId };
  }

  // -- the moment shown ---------------------------------------------------------------------------
  function address(): string {
    const query = new URLSearchParams(params);
    if (asOf) query.set("asOf", asOf);
    else query.delete("asOf");
    const rest = query.toString();
    return `#/customer/${encodeURIComponent(customerId)}${rest ? `?${rest}` : ""}`;
  }

  const nobody = (): CustomerDetail => ({ id: customerId, profile: { traits: [] }, consent: [], identifiers: [], segments: [], mergeHistory: [] });
  let moments = 0;

  /** Show the customer as of `at` (null: now): the header, the tabs and the graph. */
  async function goTo(at: string | null): Promise<void> {
    const ticket = ++moments;
    asOf = at;
    history.replaceState(null, "", address());
    let found = true;
    try {
      if (at === null) {
        detail = live;
        shownId = customerId;
      } else {
        type MomentData = { customer: (CustomerDetail & { identityGraph: IdentityGraph }) | null };
        const data = await gql<MomentData>(MOMENT, { id: customerId, depth, asOf: at });
        if (ticket !== moments || disposed) return;
        found = data.customer !== null;
        detail = data.customer ?? nobody();
        shownId = detail.id;
        prefetched = Promise.resolve({ customer: data.customer && { id: data.customer.id, identityGraph: data.customer.identityGraph } });
      }
      anchorKey = computeAnchor();
      renderHeader();
      renderTab();
      await loadGraph(true);
    } catch (e) {
      status.textContent = `Could not load the customer as of then: ${errorText(e)}`;
      found = false;
    }
    if (ticket === moments && !disposed) time.shown(at, found);
  }

  // -- tabs -----------------------------------------------------------------------------------
  type Tab = "profile" | "identifiers" | "timeline" | "history" | "segments";
  let tab: Tab = (params.get("tab") as Tab) || "profile";
  const TABS: [Tab, string][] = [["profile", "Profile"], ["identifiers", "Identifiers"], ["timeline", "Timeline"], ["history", "Merges & splits"], ["segments", "Segments & consent"]];

  function renderTabs(): void {
    clear(tabsBar, ...TABS.map(([t, label]) => h("button.tab", {
      type: "button", role: "tab", "aria-selected": String(t === tab), class: t === tab ? "on" : "", "data-tab": t,
      onclick: () => { tab = t; renderTabs(); renderTab(); },
    }, label, t === "identifiers" ? h("span.count", null, String(detail.identifiers.length))
      : t === "history" && detail.mergeHistory.length ? h("span.count", null, String(detail.mergeHistory.length)) : null)));
  }

  function renderTab(): void {
    renderTabs();
    if (tab === "profile") renderProfile();
    else if (tab === "identifiers") renderIdentifiers();
    else if (tab === "timeline") void renderTimeline();
    else if (tab === "history") renderHistory();
    else renderSegments();
  }

  function renderProfile(): void {
    const traits = detail.profile.traits;
    clear(tabBody, traits.length ? h("table.table", { "data-testid": "profile" },
      h("thead", null, h("tr", null, ...["Trait", "Value", "Source", "Observed", "Rule", "Seen in"].map((c) => h("th", null, c)))),
      h("tbody", null, ...traits.map((t) => h("tr", null,
        h("td.strong", null, t.name.replace(/_/g, " ")),
        h("td", { "data-testid": `trait-${t.name}` }, fmtValue(t.value)),
        h("td", null, h("span.chip", null, t.source)),
        h("td.muted", null, fmtDate(t.observedAt)),
        h("td.muted", null, word(t.rule).replace(/_/g, " ")),
        h("td.muted", null, plural(t.observations, "event")))))) : h("p.muted", null, "No traits yet."));
  }

  function renderIdentifiers(): void {
    const rows = [...detail.identifiers].sort((a, b) => a.type.localeCompare(b.type) || a.firstSeen.localeCompare(b.firstSeen));
    clear(tabBody, h("table.table", { "data-testid": "identifiers" },
      h("thead", null, h("tr", null, ...["Type", "Value", "Status", "Sources", "First seen", "Last seen"].map((c) => h("th", null, c)))),
      h("tbody", null, ...rows.map((i) => {
        const key = `${i.type}:${i.value}`;
        return h("tr.clickable", { onclick: () => { canvas.select([key]); canvas.focusOn(key); }, title: "Show in the graph" },
          h("td", null, h("span.swatch.swatch-sm", { class: `shape-${typeStyle(i.type).shape}`, style: `--c:${typeStyle(i.type).color}` }), " ", typeStyle(i.type).label),
          h("td.mono.break", { "data-testid": "identifier-value" }, i.value, key === anchorKey ? h("span.badge.badge-anchor", null, "anchor") : null),
          h("td", null, badge(i.status)),
          h("td", null, ...i.sources.map((s) => h("span.chip", null, s))),
          h("td.muted", null, fmtTime(i.firstSeen)),
          h("td.muted", null, fmtTime(i.lastSeen)));
      }))));
  }

  // the timeline keeps its filter and pages while the tab is open
  const timeline = { types: new Set<string>(), seen: new Set<string>(), events: [] as EventNode[], page: null as PageInfo | null, loading: false };

  async function loadTimeline(more: boolean): Promise<void> {
    timeline.loading = true;
    const data = await gql<{ customer: { timeline: { edges: { node: EventNode }[]; pageInfo: PageInfo } } | null }>(TIMELINE, {
      id: customerId, first: TIMELINE_PAGE, after: more ? timeline.page?.endCursor ?? null : null,
      types: timeline.types.size ? [...timeline.types] : null, asOf,
    });
    timeline.loading = false;
    const page = data.customer?.timeline;
    if (!page) return;
    const nodes = page.edges.map((e) => e.node);
    timeline.events = more ? [...timeline.events, ...nodes] : nodes;
    timeline.page = page.pageInfo;
    for (const e of nodes) timeline.seen.add(e.type);
  }

  async function renderTimeline(reload = true): Promise<void> {
    if (reload) {
      clear(tabBody, h("div.loading", null, "Loading the timeline…"));
      try {
        await loadTimeline(false);
      } catch (e) {
        clear(tabBody, h("p.error", null, errorText(e)));
        return;
      }
    }
    if (tab !== "timeline") return;
    const types = [...new Set([...KNOWN_EVENT_TYPES, ...timeline.seen, ...timeline.types])].sort();
    const filters = h("div.filters", { "data-testid": "timeline-filters" },
      h("span.muted.small", null, "Event types:"),
      h("button.chip.chip-toggle", { type: "button", class: timeline.types.size ? "" : "on", onclick: () => { timeline.types.clear(); void renderTimeline(); } }, "All"),
      ...types.map((t) => h("button.chip.chip-toggle", {
        type: "button", class: timeline.types.has(t) ? "on" : "", "data-type": t,
        onclick: () => { if (timeline.types.has(t)) timeline.types.delete(t); else timeline.types.add(t); void renderTimeline(); },
      }, t.replace(/_/g, " "))));
    const list = h("ol.timeline", { "data-testid": "timeline" }, ...timeline.events.map((e) => h("li.event", null,
      h("div.event-time.mono.small", null, fmtTime(e.timestamp)),
      h("div.event-main", null,
        h("div", null, h("span.event-type", null, e.type.replace(/_/g, " ")), h("span.chip", null, e.source), h("span.mono.muted.small", null, ` ${e.eventId}`)),
        h("div.event-ids", null, ...e.identifiers.map((i) => keyLabel(`${i.type}:${i.value}`))),
        Object.keys(e.properties ?? {}).length ? h("div.event-props.small.muted", null, Object.entries(e.properties).map(([k, v]) => `${k}: ${fmtValue(v)}`).join(" · ")) : null,
        Object.keys(e.traits ?? {}).length ? h("div.event-props.small", null, "traits: ", Object.entries(e.traits).map(([k, v]) => `${k} ${fmtValue(v)}`).join(" · ")) : null))));
    const more = timeline.page?.hasNextPage ? h("button.btn.btn-secondary", {
      type: "button", "data-testid": "timeline-more",
      onclick: async () => { more!.setAttribute("disabled", ""); await loadTimeline(true); void renderTimeline(false); },
    }, "Load older events") : null;
    clear(tabBody, filters, timeline.events.length ? list : h("p.muted", null, "No events of these types."), more);
  }

  function renderHistory(): void {
    const entries = detail.mergeHistory;
    clear(tabBody, entries.length ? h("ol.history", { "data-testid": "history" }, ...entries.map((e) => h("li", { class: `history-${e.kind.toLowerCase()}` },
      h("div.event-time.mono.small", null, fmtTime(e.at)),
      h("div", null,
        e.kind === "MERGE"
          ? h("div", null, h("strong", null, "Merged "), h("a.mono", { href: `#/customer/${encodeURIComponent(e.absorbedId ?? "")}` }, e.absorbedId ?? ""), " into ", h("span.mono", null, e.survivorId ?? ""),
            e.eventId ? h("span.muted", null, ` (event ${e.eventId})`) : null)
          : h("div", null, h("strong", null, "Split "), h("span.mono", null, e.customerId ?? ""), ": ",
            ...(e.parts ?? []).map((p, i) => h("span", null, i ? ", " : "", h("a.mono", { href: `#/customer/${encodeURIComponent(p)}` }, p))), " split off"),
        e.reason ? h("div.muted.small", null, e.reason) : null)))) : h("p.muted", null, "No merges or splits: this customer was one from the start."));
  }

  function renderSegments(): void {
    clear(tabBody,
      h("h3", null, "Segments"),
      detail.segments.length ? h("table.table", { "data-testid": "segments" },
        h("thead", null, h("tr", null, h("th", null, "Segment"), h("th", null, "Since"), h("th", null, "Why"))),
        h("tbody", null, ...detail.segments.map((s) => h("tr", null, h("td.mono", null, s.segmentId), h("td.muted", null, fmtTime(s.since)), h("td", null, s.why.join("; "))))))
        : h("p.muted", null, "Not in any segment."),
      h("h3", null, "Consent"),
      detail.consent.length ? h("table.table", null,
        h("thead", null, h("tr", null, ...["Purpose", "Answer", "Source", "When"].map((c) => h("th", null, c)))),
        h("tbody", null, ...detail.consent.map((c) => h("tr", null, h("td", null, c.purpose), h("td", null, badge(c.granted ? "granted" : "denied")),
          h("td", null, h("span.chip", null, c.source)), h("td.muted", null, fmtTime(c.observedAt))))))
        : h("p.muted", null, "No consent answers recorded."));
  }

  // -- go ---------------------------------------------------------------------------------------
  if (asOf !== null) {
    await goTo(asOf);
  } else {
    anchorKey = computeAnchor();
    renderHeader();
    renderTab();
    showOverview();
    await loadGraph(false);
    time.shown(null, true);
  }

  const onKey = (e: KeyboardEvent) => {
    if ((e.target as HTMLElement)?.closest("input, textarea, dialog")) return;
    if (e.key === "Escape") canvas.select([]);
    if (e.key === "f") canvas.fit();
  };
  document.addEventListener("keydown", onKey);
  return () => {
    disposed = true;
    document.removeEventListener("keydown", onKey);
    tooltip.hidden = true;
    canvas.destroy();
  };
}
