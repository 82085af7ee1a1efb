/**
 * A state machine's ASL as a drawable graph: the top-level states and their transitions (Next,
 * Choice rules and Default, Catch), laid out in layers from the start downwards (a small
 * Sugiyama-style layout: back edges set aside, longest-path layers, dummy points on long edges,
 * barycentre ordering, then x positions pulled towards neighbours). The browser only draws the
 * boxes and lines it is given. Map and Parallel states are one box each.
 */

export type EdgeKind = 'next' | 'choice' | 'default' | 'catch';

export interface GraphNode {
  id: string;
  /** What the box says: the state's name, or Start / End. */
  label: string;
  /** The ASL state type, or `Start` / `End`. */
  type: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** A Choice rule or a Catch's errors, shortened. */
  label?: string;
  /** Points from the source's border to the target's, through the layers in between. */
  points: [number, number][];
  /** Goes back up (a loop, e.g. a Wait/Describe poll). */
  back: boolean;
}

export interface Graph {
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export const START = '(start)';
export const END = '(end)';

interface AslRule {
  Variable?: string;
  Next?: string;
  And?: unknown;
  Or?: unknown;
  Not?: unknown;
  [op: string]: unknown;
}

interface AslState {
  Type?: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: AslRule[];
  Catch?: { ErrorEquals?: string[]; Next?: string }[];
}

export interface AslDefinition {
  StartAt?: string;
  States?: Record<string, AslState>;
}

const NODE_H = 40;
const LAYER_GAP = 46;
const NODE_GAP = 28;
const MARGIN = 24;
const PRIORITY: Record<EdgeKind, number> = { next: 0, default: 1, choice: 2, catch: 3 };

const short = (text: string, max = 30) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** `$.diagnosis.action == roll-forward`, shortened: enough to tell the branches apart. */
function ruleLabel(rule: AslRule): string {
  for (const combinator of ['And', 'Or', 'Not'])
    if (rule[combinator] !== undefined) return combinator.toLowerCase();
  const op = Object.keys(rule).find((k) => k !== 'Variable' && k !== 'Next' && k !== 'Comment');
  if (!op) return '';
  const field = (rule.Variable ?? '').split('.').pop() ?? '';
  const value = rule[op];
  const shown =
    typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : '…';
  const sym =
    /Equals/.test(op) && !/Path$/.test(op) ? '=' : op.replace(/^(String|Numeric|Boolean|Timestamp)/, '');
  return short(`${field} ${sym} ${shown}`);
}

function transitions(def: AslDefinition): { from: string; to: string; kind: EdgeKind; label?: string }[] {
  const out: { from: string; to: string; kind: EdgeKind; label?: string }[] = [];
  const states = def.States ?? {};
  if (def.StartAt && states[def.StartAt]) out.push({ from: START, to: def.StartAt, kind: 'next' });
  for (const [name, s] of Object.entries(states)) {
    if (s.Next) out.push({ from: name, to: s.Next, kind: 'next' });
    for (const rule of s.Choices ?? [])
      if (rule.Next) out.push({ from: name, to: rule.Next, kind: 'choice', label: ruleLabel(rule) });
    if (s.Default) out.push({ from: name, to: s.Default, kind: 'default', label: 'default' });
    for (const c of s.Catch ?? [])
      if (c.Next) {
        const errors = (c.ErrorEquals ?? []).join(', ');
        // Catch-all edges are drawn as such (dashed); only a narrower Catch says which errors.
        out.push({
          from: name,
          to: c.Next,
          kind: 'catch',
          ...(errors !== 'States.ALL' ? { label: short(errors) } : {}),
        });
      }
    if (s.End === true || s.Type === 'Succeed' || s.Type === 'Fail')
      out.push({ from: name, to: END, kind: 'next' });
  }
  // One line per pair of states (a Task whose Next and Catch lead to the same state draws once).
  const best = new Map<string, (typeof out)[number]>();
  for (const t of out) {
    const key = `${t.from}\u0000${t.to}`;
    const seen = best.get(key);
    if (!seen || PRIORITY[t.kind] < PRIORITY[seen.kind]) best.set(key, t);
  }
  return [...best.values()].filter((t) => t.to === END || states[t.to] !== undefined);
}

/** Lays out the top-level states of `def` (see the file comment). */
export function layoutGraph(def: AslDefinition): Graph {
  const states = def.States ?? {};
  const edges = transitions(def);
  const ids = [START, ...Object.keys(states), ...(edges.some((e) => e.to === END) ? [END] : [])];
  const succ = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) succ.get(e.from)?.push(e.to);

  // Back edges: those closing a cycle in a depth-first walk from the start (then from the rest).
  const back = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const order: string[] = [];
  const visit = (id: string) => {
    state.set(id, 'open');
    order.push(id);
    for (const to of succ.get(id) ?? []) {
      if (state.get(to) === 'open') back.add(`${id}\u0000${to}`);
      else if (!state.has(to)) visit(to);
    }
    state.set(id, 'done');
  };
  for (const id of ids) if (!state.has(id)) visit(id);
  const isBack = (from: string, to: string) => back.has(`${from}\u0000${to}`);

  // Longest-path layers over the forward edges, in topological order.
  const layer = new Map<string, number>(ids.map((id) => [id, 0]));
  const indegree = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const e of edges) if (!isBack(e.from, e.to)) indegree.set(e.to, (indegree.get(e.to) ?? 0) + 1);
  const queue = ids.filter((id) => indegree.get(id) === 0);
  while (queue.length > 0) {
    const id = queue.shift() as string;
    for (const to of succ.get(id) ?? []) {
      if (isBack(id, to)) continue;
      layer.set(to, Math.max(layer.get(to) ?? 0, (layer.get(id) ?? 0) + 1));
      indegree.set(to, (indegree.get(to) ?? 0) - 1);
      if (indegree.get(to) === 0) queue.push(to);
    }
  }
  const last = Math.max(0, ...ids.filter((id) => id !== END).map((id) => layer.get(id) ?? 0));
  if (ids.includes(END)) layer.set(END, last + 1);

  // Long forward edges get a dummy point per layer they cross, so they bend around boxes.
  const width = new Map<string, number>();
  for (const id of ids) width.set(id, id === START || id === END ? 64 : Math.max(110, id.length * 7.4 + 28));
  const chains = new Map<string, string[]>();
  // Neighbours with a weight: a Catch pulls a box sideways far less than the path it is on.
  type Near = [id: string, weight: number];
  const up = new Map<string, Near[]>(ids.map((id) => [id, []]));
  const down = new Map<string, Near[]>(ids.map((id) => [id, []]));
  const link = (a: string, b: string, w: number) => {
    down.get(a)?.push([b, w]);
    up.get(b)?.push([a, w]);
  };
  const mean = (ns: Near[], at: (id: string) => number, fallback: number) => {
    const total = ns.reduce((a, [, w]) => a + w, 0);
    return total > 0 ? ns.reduce((a, [n, w]) => a + w * at(n), 0) / total : fallback;
  };
  let dummies = 0;
  for (const e of edges) {
    if (isBack(e.from, e.to)) continue;
    const chain = [e.from];
    for (let l = (layer.get(e.from) ?? 0) + 1; l < (layer.get(e.to) ?? 0); l++) {
      const d = `\u0000dummy${dummies++}`;
      layer.set(d, l);
      width.set(d, 8);
      up.set(d, []);
      down.set(d, []);
      chain.push(d);
    }
    chain.push(e.to);
    const weight = e.kind === 'catch' ? 0.05 : 1;
    for (let i = 1; i < chain.length; i++) link(chain[i - 1] as string, chain[i] as string, weight);
    chains.set(`${e.from}\u0000${e.to}`, chain);
  }

  // Order within layers: first seen first, then barycentre sweeps down and up.
  const layers: string[][] = [];
  const all = [...order, ...[...layer.keys()].filter((id) => id.startsWith('\u0000'))];
  for (const id of all) {
    const l = layer.get(id) ?? 0;
    const row = layers[l] ?? [];
    row.push(id);
    layers[l] = row;
  }
  const pos = new Map<string, number>();
  const index = (row: string[]) => {
    for (const [i, id] of row.entries()) pos.set(id, i);
  };
  for (const row of layers) if (row) index(row);
  for (let sweep = 0; sweep < 6; sweep++) {
    const downwards = sweep % 2 === 0;
    const rows = downwards ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const row of rows) {
      if (!row) continue;
      const bary = (id: string) =>
        mean((downwards ? up : down).get(id) ?? [], (n) => pos.get(n) ?? 0, pos.get(id) ?? 0);
      const keyed = row.map((id) => [id, bary(id)] as const);
      keyed.sort((a, b) => a[1] - b[1]);
      keyed.forEach(([id], i) => {
        row[i] = id;
      });
      index(row);
    }
  }

  // x: each layer packed in order, then pulled towards its neighbours' centres, keeping gaps.
  const cx = new Map<string, number>();
  for (const row of layers) {
    let x = 0;
    for (const id of row ?? []) {
      const w = width.get(id) ?? 0;
      cx.set(id, x + w / 2);
      x += w + NODE_GAP;
    }
  }
  for (let pass = 0; pass < 8; pass++) {
    const downwards = pass % 2 === 0;
    const rows = downwards ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const row of rows) {
      if (!row?.length) continue;
      const want = row.map((id) => {
        const ns = [
          ...((downwards ? up : down).get(id) ?? []),
          ...(pass > 3 ? ((downwards ? down : up).get(id) ?? []) : []),
        ];
        return mean(ns, (n) => cx.get(n) ?? 0, cx.get(id) ?? 0);
      });
      let right = Number.NEGATIVE_INFINITY;
      row.forEach((id, i) => {
        const half = (width.get(id) ?? 0) / 2;
        const x = Math.max(want[i] as number, right + NODE_GAP + half);
        cx.set(id, x);
        right = x + half;
      });
      // Packing only pushes right; shift the layer back by its mean error.
      const shift = row.reduce((a, id, i) => a + ((want[i] as number) - (cx.get(id) ?? 0)), 0) / row.length;
      for (const id of row) cx.set(id, (cx.get(id) ?? 0) + shift);
    }
  }

  const minX = Math.min(...[...cx.entries()].map(([id, x]) => x - (width.get(id) ?? 0) / 2));
  const yOf = (id: string) => MARGIN + (layer.get(id) ?? 0) * (NODE_H + LAYER_GAP);
  const xOf = (id: string) => (cx.get(id) ?? 0) - minX + MARGIN;
  const nodes: GraphNode[] = ids.map((id) => ({
    id,
    label: id === START ? 'Start' : id === END ? 'End' : id,
    type: id === START ? 'Start' : id === END ? 'End' : (states[id]?.Type ?? 'Unknown'),
    x: Math.round(xOf(id) - (width.get(id) ?? 0) / 2),
    y: yOf(id),
    w: Math.round(width.get(id) ?? 0),
    h: NODE_H,
  }));
  const box = new Map(nodes.map((n) => [n.id, n]));
  const graphWidth = Math.max(...nodes.map((n) => n.x + n.w)) + MARGIN;

  let loops = 0;
  const out: GraphEdge[] = edges.map((e) => {
    const a = box.get(e.from) as GraphNode;
    const b = box.get(e.to) as GraphNode;
    const base = { from: e.from, to: e.to, kind: e.kind, ...(e.label ? { label: e.label } : {}) };
    if (isBack(e.from, e.to)) {
      // Up the right-hand side, outside every box.
      const lane = graphWidth + 14 * loops++;
      const ya = a.y + a.h / 2;
      const yb = b.y + b.h / 2;
      return {
        ...base,
        back: true,
        points: [
          [a.x + a.w, ya],
          [lane, ya],
          [lane, yb],
          [b.x + b.w, yb],
        ],
      };
    }
    const chain = chains.get(`${e.from}\u0000${e.to}`) ?? [e.from, e.to];
    const inner = chain
      .slice(1, -1)
      .map((d) => [Math.round(xOf(d)), yOf(d) + NODE_H / 2] as [number, number]);
    return {
      ...base,
      back: false,
      points: [[a.x + a.w / 2, a.y + a.h], ...inner, [b.x + b.w / 2, b.y]],
    };
  });
  return {
    width: Math.round(graphWidth + 14 * loops + (loops ? MARGIN : 0)),
    height: Math.max(...nodes.map((n) => n.y + n.h)) + MARGIN,
    nodes,
    edges: out,
  };
}
