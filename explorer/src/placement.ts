// A quick placement for large identity graphs: a balloon tree. Each connected part of a
// customer's identifiers is spanned by a breadth-first tree from its best-linked
// identifier; every subtree gets a disc, and a node's children sit on rings around it,
// each child with an arc as wide as its disc needs. Identity graphs are mostly hubs and
// spokes (an e-mail address, the devices it logged in on, the cookies each device
// carried), so this draws one cluster per device around the e-mail. It takes a few
// milliseconds for 300 identifiers, where fcose took about a second (graph.ts uses it above
// a node count). Each group (customer) is placed on its own, then the groups side by
// side, so that their boxes do not overlap; links between groups are drawn, not followed.
// No cytoscape here: plain data in, positions out.

export interface Point { x: number; y: number }

export interface PlacementNode {
  id: string;
  radius: number;
  /** Nodes of one group (a customer) are placed together, apart from the other groups. */
  group?: string;
}

export interface PlacementInput {
  nodes: PlacementNode[];
  edges: { source: string; target: string }[];
  /** The least width of a group's block (its box's label may be wider than its nodes). */
  groupWidth?: Record<string, number>;
}

interface Tree { root: string; order: string[]; children: Map<string, string[]> }
interface Ring { r: number; kids: string[]; angles: number[] }
interface Block { w: number; h: number; ids: string[] }

const GAP = 6; // between neighbouring discs
const MIN_EDGE = 34; // the shortest distance from a node to its children
const PART_GAP = 24; // between unlinked parts of one group
const GROUP_GAP = 90; // between groups: room for a customer's box, its padding and label

export function balloon({ nodes, edges, groupWidth = {} }: PlacementInput): Map<string, Point> {
  const radius = new Map(nodes.map((n) => [n.id, n.radius]));
  const group = new Map(nodes.map((n) => [n.id, n.group ?? ""]));
  const adjacent = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const { source, target } of edges) {
    if (source === target || !adjacent.has(source) || !adjacent.has(target)) continue;
    if (group.get(source) !== group.get(target)) continue;
    adjacent.get(source)!.push(target);
    adjacent.get(target)!.push(source);
  }
  const placed = new Map<string, Point>();
  const trees = spanningTrees(adjacent);
  const { rings, wedge, disc } = measure(trees, radius);
  for (const tree of trees) place(tree, rings, wedge, placed);

  // the parts of each group side by side, then the groups (in the order of their nodes)
  const groups = new Map<string, Block[]>();
  for (const n of nodes) if (!groups.has(n.group ?? "")) groups.set(n.group ?? "", []);
  for (const { root, order } of trees) {
    const d = disc.get(root)!;
    groups.get(group.get(root)!)!.push({ w: 2 * d, h: 2 * d, ids: order });
  }
  const blocks = [...groups].map(([name, parts]) => {
    const block = pack(parts, PART_GAP, placed);
    return { ...block, w: Math.max(block.w, groupWidth[name] ?? 0) };
  });
  pack(blocks, GROUP_GAP, placed);
  return placed;
}

/** One breadth-first tree per connected part, from its best-linked node, largest first. */
function spanningTrees(adjacent: Map<string, string[]>): Tree[] {
  const degree = (id: string) => adjacent.get(id)!.length;
  const seen = new Set<string>();
  const trees: Tree[] = [];
  for (const start of [...adjacent.keys()].sort((a, b) => degree(b) - degree(a) || a.localeCompare(b))) {
    if (seen.has(start)) continue;
    const order = [start];
    const children = new Map<string, string[]>();
    seen.add(start);
    for (let i = 0; i < order.length; i++) {
      const kids: string[] = [];
      for (const next of adjacent.get(order[i])!) {
        if (seen.has(next)) continue;
        seen.add(next);
        kids.push(next);
        order.push(next);
      }
      children.set(order[i], kids);
    }
    trees.push({ root: start, order, children });
  }
  return trees.sort((a, b) => b.order.length - a.order.length);
}

/** Bottom-up: each node's children on rings around it (as few rings as hold them, the
 * smallest subtrees innermost, so that single identifiers sit next to their hub), then
 * the disc its whole subtree covers. A wedge of every ring is left free where the link
 * from the node's own parent comes in. */
function measure(trees: Tree[], radius: Map<string, number>) {
  const rings = new Map<string, Ring[]>();
  const wedge = new Map<string, number>();
  const disc = new Map<string, number>();
  const arc = (d: number, r: number) => 2 * Math.asin(Math.min(1, d / r));
  for (const { root, order, children } of trees) {
    for (let i = order.length - 1; i >= 0; i--) {
      const id = order[i];
      const own = radius.get(id)! + GAP;
      const kids = [...children.get(id)!].sort((a, b) => disc.get(a)! - disc.get(b)!);
      if (!kids.length) {
        disc.set(id, own);
        continue;
      }
      let r = Math.max(MIN_EDGE + own, own + disc.get(kids[0])!);
      const free = id === root ? 0 : Math.min(Math.PI / 2, 2 * own / r);
      const around: Ring[] = [{ r, kids: [], angles: [] }];
      let used = 0;
      for (const k of kids) {
        let ring = around[around.length - 1];
        const d = disc.get(k)!;
        if (ring.kids.length && (used + arc(d, r) > 2 * Math.PI - free || r < own + d)) {
          r = Math.max(r + disc.get(ring.kids[ring.kids.length - 1])! + d, own + d);
          ring = { r, kids: [], angles: [] };
          around.push(ring);
          used = 0;
        }
        ring.kids.push(k);
        ring.angles.push(arc(d, r));
        used += arc(d, r);
      }
      const last = around[around.length - 1];
      rings.set(id, around);
      wedge.set(id, free);
      disc.set(id, Math.max(own, last.r + disc.get(last.kids[last.kids.length - 1])!));
    }
  }
  return { rings, wedge, disc };
}

/** Top-down, around (0, 0): the children of a ring spread over it, each in the middle of
 * its arc; every other ring turned half an arc, so that the links to an outer ring pass
 * between the subtrees of the inner one. */
function place({ root, order }: Tree, rings: Map<string, Ring[]>, wedge: Map<string, number>,
  placed: Map<string, Point>): void {
  const heading = new Map<string, number>([[root, 0]]);
  placed.set(root, { x: 0, y: 0 });
  for (const id of order) {
    const at = placed.get(id)!;
    const free = wedge.get(id) ?? 0;
    (rings.get(id) ?? []).forEach(({ r, kids, angles }, n) => {
      const scale = (2 * Math.PI - free) / angles.reduce((sum, a) => sum + a, 0);
      let angle = heading.get(id)! + Math.PI + free / 2 + (n % 2 ? (angles[0] * scale) / 2 : 0);
      kids.forEach((k, i) => {
        const mid = angle + (angles[i] * scale) / 2;
        placed.set(k, { x: at.x + r * Math.cos(mid), y: at.y + r * Math.sin(mid) });
        heading.set(k, mid);
        angle += angles[i] * scale;
      });
    });
  }
}

/** Blocks (centred on (0, 0)) in rows about as wide as they are tall, `gap` apart; moves
 * their nodes, and returns the block they make, centred on (0, 0) in turn. */
function pack(blocks: Block[], gap: number, placed: Map<string, Point>): Block {
  const area = blocks.reduce((sum, b) => sum + (b.w + gap) * (b.h + gap), 0);
  const rowWidth = Math.max(...blocks.map((b) => b.w), Math.sqrt(area) * 1.2);
  const shifts: Point[] = [];
  let x = 0, y = 0, rowHeight = 0, width = 0;
  for (const b of blocks) {
    if (x > 0 && x + b.w > rowWidth) {
      x = 0;
      y += rowHeight + gap;
      rowHeight = 0;
    }
    shifts.push({ x: x + b.w / 2, y: y + b.h / 2 });
    x += b.w + gap;
    width = Math.max(width, x - gap);
    rowHeight = Math.max(rowHeight, b.h);
  }
  const height = y + rowHeight;
  blocks.forEach((b, i) => {
    const dx = shifts[i].x - width / 2, dy = shifts[i].y - height / 2;
    for (const id of b.ids) {
      const p = placed.get(id)!;
      placed.set(id, { x: p.x + dx, y: p.y + dy });
    }
  });
  return { w: width, h: height, ids: blocks.flatMap((b) => b.ids) };
}
