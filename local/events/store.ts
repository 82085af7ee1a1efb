import type { Migration, Store } from '../store/db';
import type { AwsEvent } from './event';

const MIGRATIONS: Migration[] = [
  {
    id: '001-events',
    up: `CREATE TABLE events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      time_ms INTEGER NOT NULL,
      source TEXT NOT NULL,
      detail_type TEXT NOT NULL,
      body TEXT NOT NULL);
    CREATE INDEX events_source ON events (source, detail_type);
    CREATE INDEX events_time ON events (time_ms);`,
  },
  {
    // Events stored before delivery was tracked were delivered by the process that stored them.
    id: '002-delivery',
    up: `ALTER TABLE events ADD COLUMN ingested_ms INTEGER;
      ALTER TABLE events ADD COLUMN delivered_ms INTEGER;
      UPDATE events SET ingested_ms = time_ms, delivered_ms = time_ms;
      CREATE INDEX events_undelivered ON events (seq) WHERE delivered_ms IS NULL;`,
  },
];

/** Which stored events to list: every condition given must hold. */
export interface EventQuery {
  source?: string | undefined;
  detailType?: string | undefined;
  /** Epoch ms: events at or after it. */
  sinceMs?: number | undefined;
}

/** The event log's table and every statement on it. */
export class EventStore {
  constructor(private readonly store: Store) {
    store.migrate('events', MIGRATIONS);
  }

  /** Stores an event not yet delivered; returns its sequence number. */
  insert(event: AwsEvent, timeMs: number, ingestedMs: number): number {
    const r = this.store
      .sql(
        'INSERT INTO events (id, time_ms, source, detail_type, body, ingested_ms) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(event.id, timeMs, event.source, event['detail-type'], JSON.stringify(event), ingestedMs);
    return Number(r.lastInsertRowid);
  }

  lastSeq(): number {
    return (this.store.sql('SELECT MAX(seq) AS seq FROM events').get() as { seq: number | null }).seq ?? 0;
  }

  /** Stored events, oldest first. */
  list(q: EventQuery): AwsEvent[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.source !== undefined) {
      where.push('source = ?');
      args.push(q.source);
    }
    if (q.detailType !== undefined) {
      where.push('detail_type = ?');
      args.push(q.detailType);
    }
    if (q.sinceMs !== undefined) {
      where.push('time_ms >= ?');
      args.push(q.sinceMs);
    }
    const sql = `SELECT body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
    return (this.store.sql(sql).all(...args) as { body: string }[]).map(
      (r) => JSON.parse(r.body) as AwsEvent,
    );
  }

  /** Gives up on undelivered events up to `seq` ingested before `beforeMs`; returns how many. */
  dropUndelivered(seq: number, beforeMs: number): number {
    return this.store
      .sql('UPDATE events SET delivered_ms = 0 WHERE delivered_ms IS NULL AND seq <= ? AND ingested_ms < ?')
      .run(seq, beforeMs).changes;
  }

  /** Undelivered events up to `seq`, oldest first. */
  undelivered(seq: number): { seq: number; event: AwsEvent }[] {
    const rows = this.store
      .sql('SELECT seq, body FROM events WHERE delivered_ms IS NULL AND seq <= ? ORDER BY seq')
      .all(seq) as { seq: number; body: string }[];
    return rows.map((r) => ({ seq: r.seq, event: JSON.parse(r.body) as AwsEvent }));
  }

  /** Marks events delivered, in one transaction; a closed store (the cloud stopping) is left alone. */
  markDelivered(seqs: readonly number[], nowMs: number): void {
    if (seqs.length === 0 || !this.store.db.open) return;
    const mark = this.store.sql('UPDATE events SET delivered_ms = ? WHERE seq = ?');
    this.store.tx(() => {
      for (const seq of seqs) mark.run(nowMs, seq);
    });
  }
}
