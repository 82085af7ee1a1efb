import { randomUUID } from 'node:crypto';
import type { LocalLogger } from '../log';
import type { Store } from '../store/db';
import { type AwsEvent, type EventInput, eventTime } from './event';
import { EventStore } from './store';

export interface EventFilter {
  source?: string;
  detailType?: string;
  /** Only events at or after this time. */
  since?: Date | string;
}

export type EventListener = (event: AwsEvent) => void | Promise<void>;

/** EventBridge retries a delivery for 24 hours; an older event that never got through is dropped. */
export const REDELIVERY_WINDOW_MS = 24 * 3_600_000;

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
  private drained: Promise<void> = Promise.resolve();
  private draining = false;
  /** The last event stored before this process opened the log: the older ones are the backlog. */
  private readonly openedAtSeq: number;

  private readonly db: EventStore;

  constructor(
    store: Store,
    private readonly defaults: { region: string; accountId: string },
    private readonly logger: LocalLogger,
  ) {
    this.db = new EventStore(store);
    this.openedAtSeq = this.db.lastSeq();
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
    const seq = this.db.insert(event, when.getTime(), Date.now());
    if (this.consumer) {
      this.queue.push({ seq, event });
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
    return this.db.list({
      source: filter.source,
      detailType: filter.detailType,
      // Event times have second precision: compare at the same precision.
      sinceMs:
        filter.since === undefined ? undefined : Math.floor(new Date(filter.since).getTime() / 1000) * 1000,
    });
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
    const dropped = this.db.dropUndelivered(this.openedAtSeq, now - windowMs);
    if (dropped > 0) this.logger.warn('events never delivered and now too old: dropped', { count: dropped });
    // Queued events are at least as new as openedAtSeq: nothing is handed over twice here.
    const queued = new Set(this.queue.map((q) => q.seq));
    const backlog = this.db.undelivered(this.openedAtSeq).filter((r) => !queued.has(r.seq));
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
    this.drained = new Promise<void>((resolve) => {
      setImmediate(() => {
        this.drain()
          .catch((err: unknown) => this.logger.warn('event delivery failed', { error: (err as Error)?.name }))
          .finally(resolve);
      });
    });
  }

  /**
   * Settles once every event published or redelivered so far has been handed to the consumer
   * (delivered, or left undelivered because it threw): a point a caller can wait for instead of
   * guessing a delay.
   */
  async awaitDrained(): Promise<void> {
    while (this.draining) await this.drained;
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
        this.db.markDelivered(delivered, Date.now());
      }
    } finally {
      this.draining = false;
    }
  }

  /** Called for every event published from now on; returns the unsubscribe function. */
  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }
}
