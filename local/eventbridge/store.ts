import type { Migration, Store } from '../store/db';

/** A rule as stored: a pattern rule or a scheduled one. */
export interface RuleRow {
  name: string;
  pattern: string | null;
  schedule: string | null;
  state: 'ENABLED' | 'DISABLED';
  description: string | null;
  next_fire_ms: number | null;
}

/** A rule's target, as PutTargets takes it (kept whole, as JSON). */
export interface Target {
  Id: string;
  Arn: string;
  RoleArn?: string | undefined;
  Input?: string | undefined;
  InputPath?: string | undefined;
  InputTransformer?:
    | { InputPathsMap?: Record<string, string> | undefined; InputTemplate: string }
    | undefined;
}

const MIGRATIONS: Migration[] = [
  {
    id: '001-rules',
    up: `CREATE TABLE eb_rules (name TEXT PRIMARY KEY, pattern TEXT, schedule TEXT, state TEXT NOT NULL,
           description TEXT, next_fire_ms INTEGER);
         CREATE TABLE eb_targets (rule TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (rule, id));`,
  },
];

/** EventBridge's tables (rules of the default bus and their targets) and every statement on them. */
export class EventBridgeStore {
  constructor(private readonly store: Store) {
    store.migrate('eventbridge', MIGRATIONS);
  }

  rule(name: string): RuleRow | undefined {
    return this.store.sql('SELECT * FROM eb_rules WHERE name = ?').get(name) as RuleRow | undefined;
  }

  ruleNames(): string[] {
    return (this.store.sql('SELECT name FROM eb_rules ORDER BY name').all() as { name: string }[]).map(
      (r) => r.name,
    );
  }

  /** PutRule: creates the rule or replaces everything about it but its targets. */
  putRule(r: RuleRow): void {
    this.store
      .sql(
        `INSERT INTO eb_rules (name, pattern, schedule, state, description, next_fire_ms) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET pattern = excluded.pattern, schedule = excluded.schedule,
           state = excluded.state, description = excluded.description, next_fire_ms = excluded.next_fire_ms`,
      )
      .run(r.name, r.pattern, r.schedule, r.state, r.description, r.next_fire_ms);
  }

  deleteRule(name: string): void {
    this.store.sql('DELETE FROM eb_rules WHERE name = ?').run(name);
  }

  enabledPatternRules(): RuleRow[] {
    return this.store
      .sql("SELECT * FROM eb_rules WHERE state = 'ENABLED' AND pattern IS NOT NULL")
      .all() as RuleRow[];
  }

  /** Enabled scheduled rules whose next fire time is at or before `now`. */
  dueScheduledRules(now: number): RuleRow[] {
    return this.store
      .sql("SELECT * FROM eb_rules WHERE state = 'ENABLED' AND schedule IS NOT NULL AND next_fire_ms <= ?")
      .all(now) as RuleRow[];
  }

  setNextFire(name: string, nextFireMs: number): void {
    this.store.sql('UPDATE eb_rules SET next_fire_ms = ? WHERE name = ?').run(nextFireMs, name);
  }

  targetCount(rule: string): number {
    return (this.store.sql('SELECT COUNT(*) AS n FROM eb_targets WHERE rule = ?').get(rule) as { n: number })
      .n;
  }

  targets(rule: string): Target[] {
    return (
      this.store.sql('SELECT body FROM eb_targets WHERE rule = ? ORDER BY id').all(rule) as { body: string }[]
    ).map((r) => JSON.parse(r.body) as Target);
  }

  /** Adds or replaces targets, all or none. */
  putTargets(rule: string, targets: readonly Target[]): void {
    const upsert = this.store.sql(
      'INSERT INTO eb_targets (rule, id, body) VALUES (?, ?, ?) ON CONFLICT (rule, id) DO UPDATE SET body = excluded.body',
    );
    this.store.tx(() => {
      for (const t of targets) upsert.run(rule, t.Id, JSON.stringify(t));
    });
  }

  removeTargets(rule: string, ids: readonly string[]): void {
    const del = this.store.sql('DELETE FROM eb_targets WHERE rule = ? AND id = ?');
    this.store.tx(() => {
      for (const id of ids) del.run(rule, id);
    });
  }
}
