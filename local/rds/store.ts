import type { Migration, Store } from '../store/db';
import {
  type DbKind,
  type DbRecord,
  notFoundCluster,
  notFoundInstance,
  type SnapshotRecord,
} from './records';

const MIGRATIONS: Migration[] = [
  {
    id: '001-databases',
    up: `CREATE TABLE rds_databases (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id));
         CREATE TABLE rds_snapshots (id TEXT PRIMARY KEY, body TEXT NOT NULL);`,
  },
];

/** RDS's tables (databases and snapshots, one JSON body per row) and every statement on them. */
export class RdsStore {
  constructor(private readonly store: Store) {
    store.migrate('rds', MIGRATIONS);
  }

  get(kind: DbKind, id: string): DbRecord | undefined {
    const row = this.store.sql('SELECT body FROM rds_databases WHERE kind = ? AND id = ?').get(kind, id) as
      | { body: string }
      | undefined;
    return row ? (JSON.parse(row.body) as DbRecord) : undefined;
  }

  /** Accepts an identifier or an ARN. */
  find(kind: DbKind, idOrArn: string): DbRecord {
    const id = idOrArn.startsWith('arn:') ? (idOrArn.split(':').pop() ?? '') : idOrArn;
    const r = this.get(kind, id);
    if (!r) throw kind === 'cluster' ? notFoundCluster(id) : notFoundInstance(id);
    return r;
  }

  list(kind: DbKind): DbRecord[] {
    return (
      this.store.sql('SELECT body FROM rds_databases WHERE kind = ? ORDER BY id').all(kind) as {
        body: string;
      }[]
    ).map((r) => JSON.parse(r.body) as DbRecord);
  }

  save(r: DbRecord): void {
    this.store
      .sql(
        'INSERT INTO rds_databases (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body',
      )
      .run(r.kind, r.id, JSON.stringify(r));
  }

  update(kind: DbKind, id: string, change: Partial<DbRecord>): DbRecord {
    const r = { ...this.find(kind, id), ...change };
    this.save(r);
    return r;
  }

  remove(r: DbRecord): void {
    this.store.sql('DELETE FROM rds_databases WHERE kind = ? AND id = ?').run(r.kind, r.id);
  }

  /** Ports held by any database's endpoint, so a new one never takes another's. */
  portsInUse(): Set<number> {
    return new Set(
      [...this.list('cluster'), ...this.list('instance')].map((r) => r.port).filter((p) => p > 0),
    );
  }

  snapshot(id: string): SnapshotRecord | undefined {
    const row = this.store.sql('SELECT body FROM rds_snapshots WHERE id = ?').get(id) as
      | { body: string }
      | undefined;
    return row ? (JSON.parse(row.body) as SnapshotRecord) : undefined;
  }

  snapshots(): SnapshotRecord[] {
    return (this.store.sql('SELECT body FROM rds_snapshots ORDER BY id').all() as { body: string }[]).map(
      (r) => JSON.parse(r.body) as SnapshotRecord,
    );
  }

  addSnapshot(s: SnapshotRecord): void {
    this.store.sql('INSERT INTO rds_snapshots (id, body) VALUES (?, ?)').run(s.id, JSON.stringify(s));
  }
}
