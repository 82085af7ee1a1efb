import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database, { type Statement } from 'better-sqlite3';
import { StatementCache } from './statements';

export type Db = Database.Database;

/** One schema step. Applied once, in order, inside a transaction with its bookkeeping row. */
export interface Migration {
  /** Stable id, unique within its namespace (`001-secrets`). */
  id: string;
  up: string | ((db: Db) => void);
}

export const DB_FILE = 'credflow.db';

/**
 * The local cloud's state: one SQLite file in the state dir. In WAL mode every committed
 * transaction is in the WAL file before the call that made it returns, so a response the caller
 * received survives a kill -9 of this process (the crash test proves it); every multi-row change
 * runs in one transaction. `synchronous=NORMAL` skips the fsync per commit: only a power loss or
 * kernel crash could lose the last commits, which a local development cloud accepts for a rotation
 * ~40% faster (measured: 104 -> 65 ms per rotate-secret execution).
 */
export class Store {
  private readonly statements: StatementCache;

  private constructor(
    readonly db: Db,
    readonly dir: string,
  ) {
    this.statements = new StatementCache(db);
  }

  static open(stateDir: string): Store {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = path.join(stateDir, DB_FILE);
    // SQLite makes its -wal and -shm files with the database file's mode, so 0600 here is 0600
    // for all three (its own default would be 0644).
    closeSync(openSync(file, 'a', 0o600));
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.exec(`CREATE TABLE IF NOT EXISTS _migrations (
      namespace TEXT NOT NULL, id TEXT NOT NULL, applied_at INTEGER NOT NULL,
      PRIMARY KEY (namespace, id))`);
    return new Store(db, stateDir);
  }

  get file(): string {
    return path.join(this.dir, DB_FILE);
  }

  /**
   * Brings a service's tables up to date. Each service owns a namespace (`secretsmanager`,
   * `events`, `rds`...) and appends to its list; applied steps are never edited.
   */
  migrate(namespace: string, migrations: readonly Migration[]): void {
    const applied = new Set(
      (
        this.db.prepare('SELECT id FROM _migrations WHERE namespace = ?').all(namespace) as { id: string }[]
      ).map((r) => r.id),
    );
    const record = this.db.prepare('INSERT INTO _migrations (namespace, id, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) {
      if (applied.has(m.id)) continue;
      this.tx(() => {
        if (typeof m.up === 'string') this.db.exec(m.up);
        else m.up(this.db);
        record.run(namespace, m.id, Date.now());
      });
    }
  }

  /** The prepared statement for `text`, from the one cache every service shares. */
  sql(text: string): Statement {
    return this.statements.get(text);
  }

  /** Runs `fn` in a transaction (nested calls become savepoints). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
