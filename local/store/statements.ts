import type { Statement } from 'better-sqlite3';
import type { Db } from './db';

/**
 * Prepared statements, each prepared once per database connection and reused: preparing costs
 * more than running the small statements the services issue on every call. Keyed by the SQL
 * text, so a service's `store.ts` just names its statements and never manages the cache.
 */
export class StatementCache {
  private readonly prepared = new Map<string, Statement>();

  constructor(private readonly db: Db) {}

  get(sql: string): Statement {
    let s = this.prepared.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.prepared.set(sql, s);
    }
    return s;
  }
}
