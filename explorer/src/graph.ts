// The identity-graph drawing: cytoscape.js with the fcose layout. Identifiers are nodes,
// grouped in one box per customer; links are edges styled by status. Loaded on demand by
// the customer page (a chunk of its own: cytoscape is most of the page's script).

import cytoscape from "cytoscape";
import type { Core, EdgeSingular, ElementDefinition, NodeSingular, StylesheetJson } from "cytoscape";
import fcose from "cytoscape-fcose";
import { word } from "./api";
import type { GraphNode, IdentityGraph, Link } from "./api";
import { edgeId, isHub, linkKind, shortValue, typeStyle } from "./kit";
import { balloon } from "./placement";

cytoscape.use(fcose);

const STYLE: StylesheetJson = [
  {
    selector: "node[kind = 'identifier']",
    style: {
      "background-color": "data(color)",
      shape: "data(shape)" as never,
      width: "data(size)", height: "data(size)",
      label: "data(label)",
      "font-size": "data(fontSize)",
      "font-family": "system-ui, sans-serif",
      color: "#1e293b",
      "text-valign": "bottom",
      "text-margin-y": 3,
      "min-zoomed-font-size": 8,
      "text-background-color": "#ffffff",
      "text-background-opacity": 0.75,
      "text-background-padding": "1px",
      "border-width": 2,
      "border-color": "#ffffff",
      "overlay-padding": 4,
    },
  },
  // another customer's identifiers keep their full colour (faded, they fell below 3:1
  // against the drawing): their grey box and grey ring tell them apart
  { selector: "node[?outside]", style: { "border-color": "#94a3b8" } },
  {
    selector: "node[status = 'blocked']",
    style: {
      "background-color": "#64748b", "border-color": "#1e293b", "border-style": "dashed",
      "border-width": 2, color: "#334155",
    },
  },
  {
    selector: "node[status = 'quarantined']",
    style: { "border-color": "#ea580c", "border-width": 4, "border-style": "double" },
  },
  {
    selector: "node[?hub]",
    style: { "border-width": 6, "font-weight": "bold", color: "#9a3412" },
  },
  {
    selector: "node[?anchor]",
    style: { "border-color": "#4f46e5", "border-width": 3, "border-style": "solid" },
  },
  {
    selector: "node[kind = 'customer']",
    style: {
      shape: "round-rectangle",
      "background-color": "#f8fafc",
      "background-opacity": 1,
      "border-color": "#cbd5e1",
      "border-width": 1,
      label: "data(label)",
      "font-size": "data(fontSize)",
      "font-weight": "bold",
      color: "#475569",
      "text-valign": "top",
      "text-halign": "center",
      "text-margin-y": -4,
      "min-zoomed-font-size": 6,
      padding: "14px",
    },
  },
  {
    selector: "node[?focus]",
    style: { "background-color": "#eef2ff", "border-color": "#818cf8", "border-width": 2, color: "#3730a3" },
  },
  {
    selector: "edge",
    style: {
      width: "data(width)",
      "line-color": "#64748b",
      "curve-style": "straight",
      "overlay-padding": 5,
    },
  },
  { selector: "edge[kind = 'matched']", style: { "line-color": "#9333ea", width: 3 } },
  {
    // a matched link's match key along it, once zoomed in far enough to read
    selector: "edge[matchKey]",
    style: {
      label: "data(matchKey)", "font-size": 8, "font-family": "ui-monospace, monospace", color: "#581c87",
      "text-rotation": "autorotate", "text-background-color": "#ffffff", "text-background-opacity": 0.85,
      "text-background-padding": "1px", "min-zoomed-font-size": 9,
    },
  },
  { selector: "edge[kind = 'rejected']", style: { "line-color": "#c2410c", "line-style": "dashed", width: 2 } },
  { selector: "edge[kind = 'removed']", style: { "line-color": "#334155", "line-style": "dotted", width: 2.5 } },
  {
    selector: "edge[kind = 'banned']",
    style: {
      "line-color": "#dc2626", width: 3, "source-arrow-shape": "tee", "target-arrow-shape": "tee",
      "source-arrow-color": "#dc2626", "target-arrow-color": "#dc2626", "arrow-scale": 1.1,
    },
  },
  { selector: ".faded", style: { opacity: 0.18 } },
  { selector: "node[kind = 'customer'].faded", style: { opacity: 0.6 } },
  {
    selector: "edge.path",
    style: {
      "line-color": "#4f46e5", width: 5, "z-index": 10, opacity: 1,
      "underlay-color": "#c7d2fe", "underlay-padding": 4, "underlay-opacity": 0.9,
    } as never,
  },
  {
    selector: "node.path",
    style: { "underlay-color": "#818cf8", "underlay-padding": 5, "underlay-opacity": 0.55, opacity: 1, "z-index": 10 } as never,
  },
  {
    selector: "node:selected",
    style: { "border-color": "#111827", "border-width": 3, "border-style": "solid" },
  },
  { selector: "node[kind = 'customer']:selected", style: { "border-color": "#818cf8", "border-width": 2 } },
  {
    // the identifier the keyboard is on (arrow keys in the focused drawing)
    selector: "node.kbd",
    style: { "underlay-color": "#111827", "underlay-padding": 6, "underlay-opacity": 0.35, "underlay-shape": "ellipse" } as never,
  },
  {
    selector: "edge:selected",
    style: { "underlay-color": "#111827", "underlay-padding": 3, "underlay-opacity": 0.25, width: 5 } as never,
  },
];

export interface GraphHandlers {
  onSelection(nodes: GraphNode[], links: Link[]): void;
  onHoverNode(node: GraphNode | null, x: number, y: number): void;
  onHoverEdge(link: Link | null, x: number, y: number): void;
}

export interface DrawStats { nodes: number; edges: number; customers: string[]; ms: number }

/** The hook tests and the benchmark read: what is drawn, and where on the page. */
interface Hook {
  state: string;
  drawMs: number;
  drawnAt: number;
  draws: number;
  nodes(): number;
  edges(): number;
  customers(): string[];
  nodePoint(key: string): { x: number; y: number } | null;
  edgePoint(a: string, b: string): { x: number; y: number } | null;
  cy: Core | null;
}

declare global {
  interface Window { __idgraph: Hook }
}

export const hook: Hook = {
  state: "idle",
  drawMs: 0,
  drawnAt: 0,
  draws: 0,
  nodes: () => 0,
  edges: () => 0,
  customers: () => [],
  nodePoint: () => null,
  edgePoint: () => null,
  cy: null,
};
window.__idgraph = hook;

const POINTER_EVENTS = ["mousedown", "mousemove", "touchstart", "wheel"] as const;

export class GraphCanvas {
  readonly cy: Core;
  private nodesByKey = new Map<string, GraphNode>();
  private linksById = new Map<string, Link>();
  private selectionTimer = 0;
  private resizer: ResizeObserver;
  private forgetPlace: () => void;
  /** The identifier the keyboard is on, and the link of it last stepped to. */
  private cursor: string | null = null;
  private linkCursor = -1;
  private announcer: HTMLElement;

  /** Layout tuning, from the page address (?quality=draft|default|proof&iter=N). */
  tuning: { quality?: string; iter?: number } = {};

  constructor(readonly container: HTMLElement, private handlers: GraphHandlers) {
    this.cy = cytoscape({
      container,
      style: STYLE,
      minZoom: 0.08,
      maxZoom: 4,
      boxSelectionEnabled: true,
      selectionType: "single",
      textureOnViewport: false,
      pixelRatio: "auto",
    });
    hook.cy = this.cy;
    this.resizer = new ResizeObserver(() => this.cy.resize());
    this.resizer.observe(container);
    // cytoscape keeps where its container is on the page, and forgets it only when the page
    // scrolls or the container resizes. Content above the graph that grows or shrinks (the
    // header, the time bar's note) moves the container without either, and a click would
    // then hit what used to be under the pointer: a customer box instead of a link. Forget it
    // before each pointer event reaches cytoscape (capture on the window runs first).
    const renderer = (this.cy as unknown as { renderer(): { invalidateContainerClientCoordsCache(): void } }).renderer();
    this.forgetPlace = () => renderer.invalidateContainerClientCoordsCache();
    for (const type of POINTER_EVENTS) window.addEventListener(type, this.forgetPlace, { capture: true, passive: true });
    hook.nodes = () => this.cy.nodes("[kind = 'identifier']").length;
    hook.edges = () => this.cy.edges().length;
    hook.customers = () => [...new Set(this.cy.nodes("[kind = 'identifier'][customerId]").map((n) => n.data("customerId") as string))].sort();
    hook.nodePoint = (key) => this.pagePoint(this.cy.getElementById(key));
    hook.edgePoint = (a, b) => this.pagePoint(this.cy.getElementById(edgeId(a, b)));

    const selectionChanged = () => {
      window.clearTimeout(this.selectionTimer);
      this.selectionTimer = window.setTimeout(() => this.emitSelection(), 20);
    };
    this.cy.on("select unselect", selectionChanged);
    this.cy.on("mouseover", "node[kind = 'identifier']", (e) => {
      const p = e.renderedPosition ?? e.target.renderedPosition();
      this.handlers.onHoverNode(this.nodesByKey.get(e.target.id()) ?? null, p.x, p.y);
      container.style.cursor = "pointer";
    });
    this.cy.on("mouseout", "node", () => { this.handlers.onHoverNode(null, 0, 0); container.style.cursor = ""; });
    this.cy.on("mouseover", "edge", (e) => {
      const p = e.renderedPosition ?? e.target.renderedMidpoint();
      this.handlers.onHoverEdge(this.linksById.get(e.target.id()) ?? null, p.x, p.y);
      container.style.cursor = "pointer";
    });
    this.cy.on("mouseout", "edge", () => { this.handlers.onHoverEdge(null, 0, 0); container.style.cursor = ""; });
    // customer boxes are not selectable on their own: a tap selects nothing
    this.cy.on("tap", "node[kind = 'customer']", (e) => { e.target.unselect(); });
    // a double click on another customer's identifier (or box) opens that customer
    this.cy.on("dbltap", "node", (e) => { this.openOther(e.target as NodeSingular); });
    // the drawing by keyboard: focusable, named, and what the keys are on is read out
    Object.assign(container, { tabIndex: 0 });
    container.setAttribute("role", "application");
    container.setAttribute("aria-roledescription", "identity graph");
    container.setAttribute("aria-label", "Identity graph, being drawn");
    container.setAttribute("aria-keyshortcuts", "ArrowRight ArrowLeft ArrowDown ArrowUp Enter L O Escape");
    this.announcer = Object.assign(document.createElement("div"), { className: "sr-only" });
    this.announcer.setAttribute("aria-live", "polite");
    this.announcer.dataset.testid = "graph-announcer";
    container.after(this.announcer);
    container.addEventListener("keydown", (e) => this.onKey(e));
  }

  private openOther(node: NodeSingular): boolean {
    const cid = node.data("customerId") as string | undefined;
    if (cid && !node.data("focus") && (node.data("outside") || node.data("kind") === "customer")) {
      location.hash = `#/customer/${encodeURIComponent(cid)}`;
      return true;
    }
    return false;
  }

  /** Identifiers in reading order: rows of the drawing top to bottom, left to right. */
  private readingOrder(): NodeSingular[] {
    const row = (n: NodeSingular) => Math.round(n.position("y") / 40);
    return this.cy.nodes("[kind = 'identifier']").toArray().map((n) => n as NodeSingular)
      .sort((a, b) => row(a) - row(b) || a.position("x") - b.position("x"));
  }

  private describe(node: GraphNode): string {
    const style = typeStyle(node.type);
    const el = this.cy.getElementById(node.key);
    const whose = el.data("outside") ? `another customer's (${node.customerId ?? "none"})` : "this customer's";
    const state = node.status === "ACTIVE" ? "" : `, ${word(node.status)}`;
    return `${style.label} ${node.value}, ${whose}${state}, ${el.connectedEdges().length} links`;
  }

  private moveTo(node: NodeSingular): void {
    this.cy.nodes(".kbd").removeClass("kbd");
    node.addClass("kbd");
    this.cursor = node.id();
    this.linkCursor = -1;
    this.container.dataset.keyboard = node.id();
    const known = this.nodesByKey.get(node.id());
    if (known) this.announcer.textContent = this.describe(known);
    const e = this.cy.extent();
    const p = node.position();
    if (p.x < e.x1 || p.x > e.x2 || p.y < e.y1 || p.y > e.y2) this.cy.center(node);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.metaKey || e.ctrlKey || e.altKey) return;
    const order = this.readingOrder();
    if (!order.length) return;
    const at = this.cursor ? order.findIndex((n) => n.id() === this.cursor) : -1;
    const current = at >= 0 ? order[at] : null;
    if (["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"].includes(e.key)) {
      const step = e.key === "ArrowRight" || e.key === "ArrowDown" ? 1 : -1;
      const next = at < 0 ? (step > 0 ? 0 : order.length - 1) : (at + step + order.length) % order.length;
      this.moveTo(order[next]);
    } else if (e.key === "Enter" && current) {
      this.select([current.id()]);
    } else if ((e.key === "l" || e.key === "L") && current) {
      const edges = current.connectedEdges().toArray();
      if (!edges.length) return;
      this.linkCursor = (this.linkCursor + 1) % edges.length;
      const edge = edges[this.linkCursor];
      this.select([], [[edge.data("source") as string, edge.data("target") as string]]);
      const link = this.linksById.get(edge.id());
      if (link) this.announcer.textContent = `Link ${this.linkCursor + 1} of ${edges.length}: ${link.a} to ${link.b}, ${linkKind(link)}`;
    } else if ((e.key === "o" || e.key === "O") && current) {
      if (!this.openOther(current)) this.announcer.textContent = "This customer's own identifier: Enter shows it.";
    } else {
      return;
    }
    e.preventDefault();
    e.stopPropagation();
  }

  private pagePoint(el: cytoscape.CollectionReturnValue): { x: number; y: number } | null {
    if (el.empty()) return null;
    const box = this.container.getBoundingClientRect();
    const p = el.isEdge() ? (el as unknown as EdgeSingular).renderedMidpoint() : (el as unknown as NodeSingular).renderedPosition();
    return { x: box.left + p.x, y: box.top + p.y };
  }

  private emitSelection(): void {
    const nodes = this.cy.nodes("[kind = 'identifier']:selected").map((n) => this.nodesByKey.get(n.id())!).filter(Boolean);
    const links = this.cy.edges(":selected").map((e) => this.linksById.get(e.id())!).filter(Boolean);
    this.handlers.onSelection(nodes, links);
  }

  /** Draw the graph; keeps the positions of identifiers already drawn (so that a split or a
   * merge shows as movement) and lays out the rest. Resolves when the layout is done. */
  draw(graph: IdentityGraph, focus: string, anchorKey: string | null, animate: boolean): Promise<DrawStats> {
    const started = performance.now();
    performance.mark("idgraph:draw-start");
    hook.state = "drawing";
    this.container.dataset.state = "drawing";
    const previous = new Map<string, cytoscape.Position>();
    this.cy.nodes("[kind = 'identifier']").forEach((n) => { previous.set(n.id(), { ...n.position() }); });
    const keepPositions = animate && previous.size > 0;
    const big = graph.nodes.length > 150;

    this.nodesByKey.clear();
    this.linksById.clear();
    const elements: ElementDefinition[] = [];
    const customers = new Map<string, number>();
    for (const node of graph.nodes) {
      if (node.customerId) customers.set(node.customerId, (customers.get(node.customerId) ?? 0) + 1);
    }
    // a box per customer, when the view holds more than this customer's identifiers
    const grouped = graph.nodes.some((n) => n.customerId !== focus);
    const ordered = grouped ? [...customers.keys()].sort((a, b) => (a === focus ? -1 : b === focus ? 1 : a.localeCompare(b))) : [];
    for (const cid of ordered) {
      elements.push({
        group: "nodes",
        data: {
          // fontSize: the style maps it from the data (16 px, cytoscape's default, as before,
          // without the warning cytoscape logs for a mapping with no data)
          id: `customer:${cid}`, kind: "customer", customerId: cid, focus: cid === focus, fontSize: 16,
          label: cid === focus ? `This customer · ${cid}` : `Customer ${cid}`,
        },
        selectable: false,
      });
    }
    for (const node of graph.nodes) {
      if (this.nodesByKey.has(node.key)) continue; // masked keys can collide for readers
      this.nodesByKey.set(node.key, node);
      const style = typeStyle(node.type);
      const hub = isHub(node);
      const label = (hub ? "HUB · " : node.status === "BLOCKED" ? "⊘ " : "") + shortValue(node.type, node.value);
      const def: ElementDefinition = {
        group: "nodes",
        data: {
          id: node.key, kind: "identifier", type: node.type, status: word(node.status), customerId: node.customerId ?? undefined,
          color: style.color, shape: style.shape, label, hub, size: hub ? 42 : big ? 16 : 26, fontSize: big ? 7 : 11,
          outside: node.customerId !== focus, anchor: node.key === anchorKey,
          parent: grouped && node.customerId ? `customer:${node.customerId}` : undefined,
        },
      };
      const pos = previous.get(node.key);
      if (keepPositions && pos) def.position = { ...pos };
      elements.push(def);
    }
    for (const link of graph.links) {
      if (!this.nodesByKey.has(link.a) || !this.nodesByKey.has(link.b)) continue;
      const id = edgeId(link.a, link.b);
      if (this.linksById.has(id)) continue;
      this.linksById.set(id, link);
      elements.push({
        group: "edges",
        data: {
          id, source: link.a, target: link.b, kind: linkKind(link), matchKey: link.matchKey ?? undefined,
          width: Math.min(6, 1.4 + Math.log2(Math.max(1, link.count)) * 0.8),
        },
      });
    }

    const cy = this.cy;
    cy.resize();
    cy.batch(() => {
      cy.elements().remove();
      cy.add(elements);
    });
    // new nodes start next to a drawn neighbour, so the layout moves them in smoothly
    if (keepPositions) {
      cy.nodes("[kind = 'identifier']").forEach((n) => {
        if (previous.has(n.id())) return;
        const placed = n.neighborhood("node[kind = 'identifier']").filter((m) => previous.has(m.id()));
        if (placed.nonempty()) {
          const p = (placed.first() as NodeSingular).position();
          n.position({ x: p.x + 30, y: p.y + 30 });
        }
      });
    }

    return new Promise((resolve) => {
      if (cy.nodes().empty()) {
        this.finish(started, resolve);
        return;
      }
      performance.mark("idgraph:layout-start");
      // A large graph is placed as a balloon tree (placement.ts: a few milliseconds, where
      // fcose took about a second for 300 nodes, most of it in its spectral start and its
      // force iterations). ?quality= asks for fcose from a random start instead, and ?iter=N
      // for N iterations of fcose from the balloon tree.
      const placed = big && !keepPositions && this.tuning.quality === undefined;
      if (placed) this.placeBalloon(focus, grouped);
      const refine = !placed || (this.tuning.iter ?? 0) > 0;
      const layout = cy.layout(!refine ? { name: "preset", fit: true, padding: 36 } : {
        name: "fcose",
        quality: this.tuning.quality ?? (big ? "default" : "proof"),
        randomize: !keepPositions && !placed,
        animate: keepPositions ? "end" : false,
        animationDuration: 700,
        fit: true,
        padding: 36,
        nodeDimensionsIncludeLabels: !big,
        packComponents: true,
        nodeRepulsion: () => (big ? 4500 : 9000),
        idealEdgeLength: () => (big ? 45 : 80),
        edgeElasticity: () => 0.45,
        nestingFactor: 0.1,
        gravity: 0.3,
        numIter: this.tuning.iter ?? (big ? 1500 : 2500),
        tile: true,
        tilingPaddingVertical: 14,
        tilingPaddingHorizontal: 14,
      } as cytoscape.LayoutOptions);
      layout.one("layoutstop", () => {
        performance.mark("idgraph:layout-stop");
        if (cy.zoom() > 1.6) {
          cy.zoom(1.6);
          cy.center();
        }
        this.finish(started, resolve);
      });
      layout.run();
    });
  }

  /** Balloon-tree positions for every identifier, one customer's apart from another's
   * (this customer's first); the customer boxes follow their identifiers. */
  private placeBalloon(focus: string, grouped: boolean): void {
    const identifiers = this.cy.nodes("[kind = 'identifier']");
    const group = (n: NodeSingular) => (grouped ? (n.data("customerId") as string | undefined) ?? "" : "");
    const nodes = identifiers.map((n) => ({ id: n.id(), radius: (n.data("size") as number) / 2, group: group(n) }));
    // a customer's box is at least as wide as its label (about 0.6 em a character)
    const groupWidth = Object.fromEntries(this.cy.nodes("[kind = 'customer']").map((n) =>
      [n.data("customerId") as string, (n.data("label") as string).length * 0.6 * (n.data("fontSize") as number)]));
    const at = balloon({
      groupWidth,
      nodes: [...nodes.filter((n) => n.group === focus), ...nodes.filter((n) => n.group !== focus)],
      edges: this.cy.edges().map((e) => ({ source: e.data("source") as string, target: e.data("target") as string })),
    });
    identifiers.positions((n) => at.get(n.id()) ?? { x: 0, y: 0 });
  }

  private finish(started: number, resolve: (s: DrawStats) => void): void {
    const stats: DrawStats = {
      nodes: hook.nodes(), edges: hook.edges(), customers: hook.customers(),
      ms: performance.now() - started,
    };
    // report after the frame that shows the drawing has been painted
    requestAnimationFrame(() => requestAnimationFrame(() => {
      performance.mark("idgraph:painted");
      hook.drawMs = stats.ms;
      hook.drawnAt = performance.now();
      hook.draws += 1;
      hook.state = "drawn";
      this.container.setAttribute("aria-label", `Identity graph: ${stats.nodes} identifiers, ${stats.edges} links, `
        + `${stats.customers.length} ${stats.customers.length === 1 ? "customer" : "customers"}. Arrow keys move between `
        + "identifiers, Enter shows one in the inspector, L steps through its links, O opens another customer's.");
      if (this.cursor && this.cy.getElementById(this.cursor).empty()) this.cursor = null;
      Object.assign(this.container.dataset, {
        state: "drawn", nodes: String(stats.nodes), edges: String(stats.edges),
        customers: String(stats.customers.length), draws: String(hook.draws),
      });
      resolve(stats);
    }));
  }

  node(key: string): GraphNode | undefined {
    return this.nodesByKey.get(key);
  }

  link(a: string, b: string): Link | undefined {
    return this.linksById.get(edgeId(a, b));
  }

  select(keys: string[], edges: [string, string][] = []): void {
    this.cy.elements().unselect();
    for (const key of keys) this.cy.getElementById(key).select();
    for (const [a, b] of edges) this.cy.getElementById(edgeId(a, b)).select();
  }

  /** Highlight a path of links (and their identifiers); everything else fades. */
  highlight(links: { a: string; b: string }[], keys: string[]): void {
    const cy = this.cy;
    cy.resize();
    cy.batch(() => {
      cy.elements().removeClass("path faded");
      if (!links.length && !keys.length) return;
      cy.elements().addClass("faded");
      for (const key of keys) cy.getElementById(key).removeClass("faded").addClass("path");
      for (const { a, b } of links) {
        cy.getElementById(a).removeClass("faded").addClass("path");
        cy.getElementById(b).removeClass("faded").addClass("path");
        cy.getElementById(edgeId(a, b)).removeClass("faded").addClass("path");
      }
      cy.nodes("[kind = 'customer']").removeClass("faded");
    });
  }

  /** Shortest path of active links from `from` to `to`, as drawn (the readers' fallback
   * when the API cannot explain a masked value). */
  activePath(from: string, to: string): { a: string; b: string }[] {
    const cy = this.cy;
    const source = cy.getElementById(from);
    const target = cy.getElementById(to);
    if (source.empty() || target.empty()) return [];
    const active = cy.edges("[kind = 'active'], [kind = 'matched']");
    const search = cy.elements("node[kind = 'identifier']").union(active).aStar({ root: source, goal: target });
    if (!search.found) return [];
    return search.path.edges().map((e) => ({ a: e.data("source") as string, b: e.data("target") as string }));
  }

  fit(): void {
    this.cy.animate({ fit: { eles: this.cy.elements(), padding: 36 }, duration: 250 });
  }

  focusOn(key: string): void {
    const el = this.cy.getElementById(key);
    if (el.nonempty()) this.cy.animate({ center: { eles: el }, zoom: Math.max(this.cy.zoom(), 1.2), duration: 250 });
  }

  relayout(): void {
    this.cy.layout({ name: "fcose", quality: "proof", randomize: true, animate: true, animationDuration: 500, fit: true, padding: 36, packComponents: true } as cytoscape.LayoutOptions).run();
  }

  png(): string {
    return this.cy.png({ full: false, bg: "#ffffff" });
  }

  destroy(): void {
    this.resizer.disconnect();
    for (const type of POINTER_EVENTS) window.removeEventListener(type, this.forgetPlace, { capture: true });
    this.announcer.remove();
    this.cy.destroy();
    if (hook.cy === this.cy) hook.cy = null;
  }
}
