/**
 * The console's state machine graphs, laid out from every real workflow: every state drawn once,
 * every transition drawn, boxes never overlapping, forward edges going down, loops going up.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type AslDefinition, END, type GraphNode, layoutGraph, START } from '../../../../local/console/graph';

const dir = path.resolve(__dirname, '../../../../workflows');
const workflows = readdirSync(dir)
  .filter((f) => f.endsWith('.asl.json'))
  .map((f) => [f, JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as AslDefinition] as const);

const overlap = (a: GraphNode, b: GraphNode) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

describe('state machine graph layout', () => {
  it('has workflows to draw', () => {
    expect(workflows.length).toBeGreaterThanOrEqual(9);
  });

  it.each(workflows)('%s: every state once, Start on top, End at the bottom', (_f, def) => {
    const g = layoutGraph(def);
    const names = g.nodes.map((n) => n.id);
    expect(names.filter((n) => n !== START && n !== END).sort()).toEqual(
      Object.keys(def.States ?? {}).sort(),
    );
    const start = g.nodes.find((n) => n.id === START) as GraphNode;
    const end = g.nodes.find((n) => n.id === END) as GraphNode;
    for (const n of g.nodes) {
      if (n !== start) expect(n.y).toBeGreaterThan(start.y);
      if (n !== end) expect(n.y).toBeLessThan(end.y);
      expect(n.x).toBeGreaterThanOrEqual(0);
      expect(n.x + n.w).toBeLessThanOrEqual(g.width);
      expect(n.y + n.h).toBeLessThanOrEqual(g.height);
    }
  });

  it.each(workflows)('%s: no two boxes overlap', (_f, def) => {
    const { nodes } = layoutGraph(def);
    for (let i = 0; i < nodes.length; i++)
      for (let j = i + 1; j < nodes.length; j++) expect(overlap(nodes[i]!, nodes[j]!)).toBe(false);
  });

  it.each(workflows)('%s: every transition is drawn, forward edges downwards from box to box', (_f, def) => {
    const g = layoutGraph(def);
    const drawn = new Set(g.edges.map((e) => `${e.from}>${e.to}`));
    for (const [name, s] of Object.entries(def.States ?? {})) {
      const targets = [
        s.Next,
        s.Default,
        ...(s.Choices ?? []).map((c) => c.Next),
        ...(s.Catch ?? []).map((c) => c.Next),
      ].filter((t): t is string => typeof t === 'string');
      for (const t of targets) expect(drawn).toContain(`${name}>${t}`);
      if (s.End || s.Type === 'Succeed' || s.Type === 'Fail') expect(drawn).toContain(`${name}>${END}`);
    }
    expect(drawn).toContain(`${START}>${def.StartAt}`);
    const box = new Map(g.nodes.map((n) => [n.id, n]));
    for (const e of g.edges) {
      const a = box.get(e.from) as GraphNode;
      const b = box.get(e.to) as GraphNode;
      const [first, lastPoint] = [e.points[0]!, e.points[e.points.length - 1]!];
      if (e.back) {
        expect(b.y).toBeLessThanOrEqual(a.y);
        expect(first[0]).toBe(a.x + a.w);
        expect(lastPoint[0]).toBe(b.x + b.w);
      } else {
        expect(first).toEqual([a.x + a.w / 2, a.y + a.h]);
        expect(lastPoint).toEqual([b.x + b.w / 2, b.y]);
        for (let i = 1; i < e.points.length; i++)
          expect(e.points[i]![1]).toBeGreaterThan(e.points[i - 1]![1]);
      }
    }
  });

  it('draws a polling loop (Wait -> Describe -> Choice -> Wait) with one edge going back up', () => {
    const def = workflows.find(([f]) => f === 'provision-database.asl.json')?.[1] as AslDefinition;
    const back = layoutGraph(def).edges.filter((e) => e.back);
    expect(back.map((e) => `${e.from}>${e.to}`)).toEqual(['IsDatabaseAvailable>WaitForDatabase']);
  });

  it('labels Choice branches and Catch edges', () => {
    const def = workflows.find(([f]) => f === 'on-rotation-failure.asl.json')?.[1] as AslDefinition;
    const edges = layoutGraph(def).edges;
    expect(edges.find((e) => e.from === 'IsPendingWorking' && e.to === 'RollForwardRotation')).toMatchObject({
      kind: 'choice',
      label: 'action = roll-forward',
    });
    expect(edges.find((e) => e.from === 'IsPendingWorking' && e.to === 'RollBackRotation')?.kind).toBe(
      'default',
    );
    const catchAll = edges.find((e) => e.from === 'DiagnoseRotation' && e.to === 'RepairFailed');
    expect(catchAll?.kind).toBe('catch');
    expect(catchAll?.label).toBeUndefined();
  });
});
