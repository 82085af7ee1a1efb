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

/** EventBridge's time format: seconds precision, `Z`. */
export function eventTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/**
 * The local cloud's internal event bus. Services publish AWS-shaped events; each one is stored
 * (so they survive restarts and tests can query them) and then handed to subscribers, which is
 * where the EventBridge rules engine plugs in.
 */
export class EventLog {
  private readonly listeners = new Set<EventListener>();

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
    ]);
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
    this.store.db
      .prepare('INSERT INTO events (id, time_ms, source, detail_type, body) VALUES (?, ?, ?, ?, ?)')
      .run(event.id, when.getTime(), event.source, event['detail-type'], JSON.stringify(event));
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

  /** Called for every event published from now on; returns the unsubscribe function. */
  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }
}
