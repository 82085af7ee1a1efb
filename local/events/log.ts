import { randomUUID } from 'node:crypto';
import type { LocalLogger } from '../log';
import type { Store } from '../store/db';

/** An event in EventBridge's envelope, as AWS services deliver them. */
export interface AwsEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  /** ISO 8601 to the second, UTC (`2024-05-01T12:00:00Z`). */
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** What a publisher supplies; the log fills in the envelope. */
export type EventInput = Pick<AwsEvent, 'source' | 'detail-type' | 'detail'> &
  Partial<Pick<AwsEvent, 'id' | 'account' | 'region' | 'resources'>> & { time?: string | Date };

export interface EventFilter {
  source?: string;
  detailType?: string;
  /** Only events at or after this time. */
  since?: Date | string;
}

export type EventListener = (event: AwsEvent) => void | Promise<void>;

/** EventBridge retries a delivery for 24 hours; an older event that never got through is dropped. */
export const REDELIVERY_WINDOW_MS = 24 * 3_600_000;

/** EventBridge's time format: seconds precision, `Z`. */
export function eventTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/**
 * The local cloud's internal event bus. Services publish AWS-shaped events; each one is stored
 * (so they survive restarts and tests can query them) and then handed to subscribers.
 *
 * The rules engine is the one durable consumer (`deliverTo`): delivery to it is at least once,
 * as EventBridge's is. An event is stored undelivered, handed over after the publishing call
 * returns, and marked delivered once the consumer has taken it; a kill -9 in between leaves it
 * undelivered, and `redeliverPending` on the next start hands it over again (if it is less than
 * 24 hours old). The consumer must therefore tolerate seeing an event twice.
 */
export class EventLog {
  private readonly listeners = new Set<EventListener>();
  private consumer: EventListener | undefined;
  /** Events waiting for the durable consumer, oldest first. */
  private queue: { seq: number; event: AwsEvent }[] = [];
  private draining = false;
  /** The last event stored before this process opened the log: the older ones are the backlog. */
  private readonly openedAtSeq: number;

  constructor(
    private readonly store: Store,
    private readonly defaults: { region: string; accountId: string },
    private readonly logger: LocalLogger,
  ) {
    store.migrate('events', [
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
    ]);
    this.openedAtSeq =
      (store.db.prepare('SELECT MAX(seq) AS seq FROM events').get() as { seq: number | null }).seq ?? 0;
  }

  /** Stores the event durably, then delivers it to subscribers (asynchronously, in order). */
  publish(input: EventInput): AwsEvent {
    const when = input.time === undefined ? new Date() : new Date(input.time);
    const event: AwsEvent = {
      version: '0',
      id: input.id ?? randomUUID(),
      'detail-type': input['detail-type'],
      source: input.source,
      account: input.account ?? this.defaults.accountId,
      time: eventTime(when),
      region: input.region ?? this.defaults.region,
      resources: input.resources ?? [],
      detail: input.detail,
    };
    const stored = this.store.db
      .prepare(
        'INSERT INTO events (id, time_ms, source, detail_type, body, ingested_ms) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(event.id, when.getTime(), event.source, event['detail-type'], JSON.stringify(event), Date.now());
    if (this.consumer) {
      this.queue.push({ seq: Number(stored.lastInsertRowid), event });
      this.scheduleDrain();
    }
    for (const fn of this.listeners) {
      setImmediate(() => {
        Promise.resolve()
          .then(() => fn(event))
          .catch((err: unknown) =>
            this.logger.warn('event subscriber failed', { eventId: event.id, error: (err as Error)?.name }),
          );
      });
    }
    return event;
  }

  /** Stored events, oldest first. */
  list(filter: EventFilter = {}): AwsEvent[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.source !== undefined) {
      where.push('source = ?');
      args.push(filter.source);
    }
    if (filter.detailType !== undefined) {
      where.push('detail_type = ?');
      args.push(filter.detailType);
    }
    if (filter.since !== undefined) {
      // Event times have second precision: compare at the same precision.
      where.push('time_ms >= ?');
      args.push(Math.floor(new Date(filter.since).getTime() / 1000) * 1000);
    }
    const sql = `SELECT body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
    return (this.store.db.prepare(sql).all(...args) as { body: string }[]).map(
      (r) => JSON.parse(r.body) as AwsEvent,
    );
  }

  /**
   * Makes `fn` the durable consumer (the rules engine): every event published from now on
   * reaches it at least once, in order, after the publishing call returned. An event counts as
   * delivered when `fn` returns (or its promise resolves); one it throws on stays undelivered
   * for the next start's `redeliverPending`.
   */
  deliverTo(fn: EventListener): void {
    this.consumer = fn;
  }

  /**
   * After a restart: hands the consumer the events an earlier process stored but never
   * delivered (a kill -9 between the two), oldest first, before anything published since.
   * Events older than `windowMs` (EventBridge's 24-hour retry window) are dropped instead.
   * Call it once the consumer's targets exist. Returns how many are redelivered.
   */
  redeliverPending(windowMs: number = REDELIVERY_WINDOW_MS, now: number = Date.now()): number {
    if (!this.consumer) return 0;
    const dropped = this.store.db
      .prepare(
        'UPDATE events SET delivered_ms = 0 WHERE delivered_ms IS NULL AND seq <= ? AND ingested_ms < ?',
      )
      .run(this.openedAtSeq, now - windowMs).changes;
    if (dropped > 0) this.logger.warn('events never delivered and now too old: dropped', { count: dropped });
    const rows = this.store.db
      .prepare('SELECT seq, body FROM events WHERE delivered_ms IS NULL AND seq <= ? ORDER BY seq')
      .all(this.openedAtSeq) as { seq: number; body: string }[];
    // Queued events are at least as new as openedAtSeq: nothing is handed over twice here.
    const queued = new Set(this.queue.map((q) => q.seq));
    const backlog = rows
      .filter((r) => !queued.has(r.seq))
      .map((r) => ({ seq: r.seq, event: JSON.parse(r.body) as AwsEvent }));
    this.queue = [...backlog, ...this.queue];
    if (backlog.length > 0) {
      this.logger.info('redelivering events a restart interrupted', { count: backlog.length });
      this.scheduleDrain();
    }
    return backlog.length;
  }

  private scheduleDrain(): void {
    if (this.draining) return;
    this.draining = true;
    setImmediate(() => {
      this.drain().catch((err: unknown) =>
        this.logger.warn('event delivery failed', { error: (err as Error)?.name }),
      );
    });
  }

  /** Hands queued events to the consumer one by one, then marks the batch delivered in one write. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.consumer) {
        const batch = this.queue;
        this.queue = [];
        const delivered: number[] = [];
        for (const { seq, event } of batch) {
          try {
            await this.consumer(event);
            delivered.push(seq);
          } catch (err) {
            this.logger.warn('event consumer failed; redelivered at the next start', {
              eventId: event.id,
              error: (err as Error)?.name,
            });
          }
        }
        this.markDelivered(delivered);
      }
    } finally {
      this.draining = false;
    }
  }

  private markDelivered(seqs: number[]): void {
    if (seqs.length === 0 || !this.store.db.open) return;
    const now = Date.now();
    const mark = this.store.db.prepare('UPDATE events SET delivered_ms = ? WHERE seq = ?');
    this.store.tx(() => {
      for (const seq of seqs) mark.run(now, seq);
    });
  }

  /** Called for every event published from now on; returns the unsubscribe function. */
  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }
}
