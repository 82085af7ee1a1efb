import { randomUUID } from 'node:crypto';
import type { AwsEvent, EventLog } from '../events/log';
import {
  compilePattern,
  type EventMatcher,
  InvalidEventPatternError,
  validatePattern,
} from '../events/pattern';
import { AwsError } from '../http/errors';
import type { LambdaRegistry } from '../lambda/registry';
import type { LocalLogger } from '../log';
import { nextCronTime, parseCron } from '../secretsmanager/schedule';
import type { StepFunctions } from '../stepfunctions/service';
import type { Store } from '../store/db';
import { readPath, targetExecutionName, transformInput } from './targets';

export { eventBridgeJsonService } from './api';
export { type RuleContext, readPath, targetExecutionName, transformInput } from './targets';

interface RuleRow {
  name: string;
  pattern: string | null;
  schedule: string | null;
  state: 'ENABLED' | 'DISABLED';
  description: string | null;
  next_fire_ms: number | null;
}

interface Target {
  Id: string;
  Arn: string;
  RoleArn?: string | undefined;
  Input?: string | undefined;
  InputPath?: string | undefined;
  InputTransformer?:
    | { InputPathsMap?: Record<string, string> | undefined; InputTemplate: string }
    | undefined;
}

export interface EventBridgeOptions {
  store: Store;
  events: EventLog;
  lambdas: LambdaRegistry;
  stepFunctions: StepFunctions;
  region: string;
  accountId: string;
  logger: LocalLogger;
  /** Milliseconds since the epoch; injectable so tests can move time for scheduled rules. */
  now?: () => number;
}

const resourceNotFound = (m: string) => new AwsError('ResourceNotFoundException', m);

/**
 * When a schedule next fires after `from` (epoch ms): `rate(N unit)` counts from `from`,
 * `cron(...)` (EventBridge's six fields, UTC) takes the next matching minute. An invalid
 * expression is EventBridge's ValidationException.
 */
export function nextFire(expression: string, from: number): number {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate?.[1] && rate[2]) {
    const n = Number(rate[1]);
    // AWS spells one unit singular and more plural: rate(1 hour), rate(2 hours).
    if (n < 1 || (n === 1) !== !rate[2].endsWith('s'))
      throw new AwsError('ValidationException', `Parameter ScheduleExpression is not valid: ${expression}`);
    const unit = rate[2].startsWith('minute') ? 60_000 : rate[2].startsWith('hour') ? 3_600_000 : 86_400_000;
    return from + n * unit;
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (cron?.[1]) {
    try {
      return nextCronTime(parseCron(cron[1], expression), new Date(from));
    } catch (err) {
      throw new AwsError('ValidationException', (err as Error).message);
    }
  }
  throw new AwsError('ValidationException', `Parameter ScheduleExpression is not valid: ${expression}`);
}

/** PutEvents' Time: the SDK sends epoch seconds; accept a date string too. */
function eventTimeOf(t: unknown): Date {
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(String(t));
  if (Number.isNaN(d.getTime())) throw new AwsError('ValidationException', 'Parameter Time is not valid.');
  return d;
}

/**
 * EventBridge on the local cloud's default bus: rules with event patterns (our own matcher) or
 * schedules, targets that start state machines or invoke Lambda functions. Every event any
 * local service publishes, and every PutEvents entry, goes through the rules.
 */
export class EventBridge {
  private readonly matchers = new Map<string, EventMatcher>();
  private timer: NodeJS.Timeout | undefined;
  private now: () => number;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly o: EventBridgeOptions) {
    this.now = o.now ?? Date.now;
    o.store.migrate('eventbridge', [
      {
        id: '001-rules',
        up: `CREATE TABLE eb_rules (name TEXT PRIMARY KEY, pattern TEXT, schedule TEXT, state TEXT NOT NULL,
               description TEXT, next_fire_ms INTEGER);
             CREATE TABLE eb_targets (rule TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (rule, id));`,
      },
    ]);
    o.events.deliverTo((e) => this.route(e));
  }

  /** Moves the scheduler's clock (tests); rules keep their stored next fire time. */
  setClock(now: () => number): void {
    this.now = now;
  }

  private ruleArn(name: string): string {
    return `arn:aws:events:${this.o.region}:${this.o.accountId}:rule/${name}`;
  }

  private rule(name: string): RuleRow {
    const r = this.o.store.db.prepare('SELECT * FROM eb_rules WHERE name = ?').get(name) as
      | RuleRow
      | undefined;
    if (!r) throw resourceNotFound(`Rule ${name} does not exist.`);
    return r;
  }

  putRule(i: {
    Name: string;
    EventPattern?: string;
    ScheduleExpression?: string;
    State?: string;
    Description?: string;
  }) {
    if (!i.EventPattern && !i.ScheduleExpression) {
      throw new AwsError(
        'ValidationException',
        'Parameter(s) EventPattern or ScheduleExpression must be specified.',
      );
    }
    if (i.EventPattern) {
      try {
        validatePattern(JSON.parse(i.EventPattern));
      } catch (err) {
        const msg = err instanceof InvalidEventPatternError ? err.message : 'Event pattern is not valid JSON';
        throw new AwsError('InvalidEventPatternException', msg);
      }
    }
    const next = i.ScheduleExpression ? nextFire(i.ScheduleExpression, this.now()) : null;
    this.o.store.db
      .prepare(
        `INSERT INTO eb_rules (name, pattern, schedule, state, description, next_fire_ms) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET pattern = excluded.pattern, schedule = excluded.schedule,
           state = excluded.state, description = excluded.description, next_fire_ms = excluded.next_fire_ms`,
      )
      .run(
        i.Name,
        i.EventPattern ?? null,
        i.ScheduleExpression ?? null,
        i.State ?? 'ENABLED',
        i.Description ?? null,
        next,
      );
    this.matchers.delete(i.Name);
    return { RuleArn: this.ruleArn(i.Name) };
  }

  describeRule(i: { Name: string }) {
    const r = this.rule(i.Name);
    return {
      Name: r.name,
      Arn: this.ruleArn(r.name),
      State: r.state,
      EventBusName: 'default',
      ...(r.pattern ? { EventPattern: r.pattern } : {}),
      ...(r.schedule ? { ScheduleExpression: r.schedule } : {}),
      ...(r.description ? { Description: r.description } : {}),
    };
  }

  listRules(i: { NamePrefix?: string }) {
    const rows = this.o.store.db.prepare('SELECT name FROM eb_rules ORDER BY name').all() as {
      name: string;
    }[];
    return {
      Rules: rows
        .filter((r) => !i.NamePrefix || r.name.startsWith(i.NamePrefix))
        .map((r) => this.describeRule({ Name: r.name })),
    };
  }

  deleteRule(i: { Name: string }) {
    this.rule(i.Name);
    const n = this.o.store.db.prepare('SELECT COUNT(*) AS n FROM eb_targets WHERE rule = ?').get(i.Name) as {
      n: number;
    };
    if (n.n > 0) throw new AwsError('ValidationException', "Rule can't be deleted since it has targets.");
    this.o.store.db.prepare('DELETE FROM eb_rules WHERE name = ?').run(i.Name);
    this.matchers.delete(i.Name);
    return {};
  }

  putTargets(i: { Rule: string; Targets: Target[] }) {
    this.rule(i.Rule);
    for (const t of i.Targets) {
      const ways = [t.Input, t.InputPath, t.InputTransformer].filter((x) => x !== undefined).length;
      if (ways > 1)
        throw new AwsError(
          'ValidationException',
          `Target ${t.Id}: only one of Input, InputPath and InputTransformer can be given.`,
        );
      if (t.Input !== undefined) {
        try {
          JSON.parse(t.Input);
        } catch {
          throw new AwsError('ValidationException', `Target ${t.Id}: Input is not valid JSON.`);
        }
      }
    }
    const insert = this.o.store.db.prepare(
      'INSERT INTO eb_targets (rule, id, body) VALUES (?, ?, ?) ON CONFLICT (rule, id) DO UPDATE SET body = excluded.body',
    );
    this.o.store.tx(() => {
      for (const t of i.Targets) insert.run(i.Rule, t.Id, JSON.stringify(t));
    });
    return { FailedEntryCount: 0, FailedEntries: [] };
  }

  listTargetsByRule(i: { Rule: string }) {
    this.rule(i.Rule);
    return { Targets: this.targets(i.Rule) };
  }

  removeTargets(i: { Rule: string; Ids: string[] }) {
    this.rule(i.Rule);
    const del = this.o.store.db.prepare('DELETE FROM eb_targets WHERE rule = ? AND id = ?');
    this.o.store.tx(() => {
      for (const id of i.Ids) del.run(i.Rule, id);
    });
    return { FailedEntryCount: 0, FailedEntries: [] };
  }

  private targets(rule: string): Target[] {
    return (
      this.o.store.db.prepare('SELECT body FROM eb_targets WHERE rule = ? ORDER BY id').all(rule) as {
        body: string;
      }[]
    ).map((r) => JSON.parse(r.body) as Target);
  }

  putEvents(i: {
    Entries: {
      Source?: string;
      DetailType?: string;
      Detail?: string;
      Resources?: string[];
      Time?: unknown;
    }[];
  }) {
    const entries = i.Entries.map((e) => {
      if (!e.Source || !e.DetailType || e.Detail === undefined) {
        return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Source, DetailType and Detail are required' };
      }
      let detail: Record<string, unknown>;
      try {
        detail = JSON.parse(e.Detail) as Record<string, unknown>;
      } catch {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      }
      const ev = this.o.events.publish({
        source: e.Source,
        'detail-type': e.DetailType,
        detail,
        ...(e.Resources ? { resources: e.Resources } : {}),
        ...(e.Time !== undefined ? { time: eventTimeOf(e.Time) } : {}),
      });
      return { EventId: ev.id };
    });
    return { FailedEntryCount: entries.filter((e) => 'ErrorCode' in e).length, Entries: entries };
  }

  testEventPattern(i: { EventPattern: string; Event: string }) {
    let matcher: EventMatcher;
    try {
      matcher = compilePattern(JSON.parse(i.EventPattern));
    } catch (err) {
      throw new AwsError(
        'InvalidEventPatternException',
        err instanceof Error ? err.message : 'invalid pattern',
      );
    }
    let event: unknown;
    try {
      event = JSON.parse(i.Event);
    } catch {
      throw new AwsError('ValidationException', 'Parameter Event is not valid.');
    }
    return { Result: matcher(event) };
  }

  private matcher(r: RuleRow): EventMatcher | undefined {
    if (!r.pattern) return undefined;
    let m = this.matchers.get(r.name);
    if (!m) {
      m = compilePattern(JSON.parse(r.pattern));
      this.matchers.set(r.name, m);
    }
    return m;
  }

  /**
   * Matches one event against every enabled pattern rule and delivers it. Throws when a target
   * could not take it because the cloud is stopping: the event then stays undelivered in the
   * event log and goes out again at the next start.
   */
  private route(event: AwsEvent): void {
    const rules = this.o.store.db
      .prepare("SELECT * FROM eb_rules WHERE state = 'ENABLED' AND pattern IS NOT NULL")
      .all() as RuleRow[];
    let retry: unknown;
    for (const r of rules) {
      if (!this.matcher(r)?.(event)) continue;
      try {
        this.deliver(r.name, event);
      } catch (err) {
        retry = err;
      }
    }
    if (retry !== undefined) throw retry;
  }

  private deliver(rule: string, event: AwsEvent): void {
    const ctx = { name: rule, arn: this.ruleArn(rule) };
    let retry: unknown;
    for (const t of this.targets(rule)) {
      const failed = (err: unknown) =>
        this.o.logger.warn('rule target failed', { rule, target: t.Arn, error: (err as Error).message });
      let input: string;
      try {
        input =
          t.Input ??
          (t.InputTransformer
            ? transformInput(event, t.InputTransformer, ctx)
            : JSON.stringify(t.InputPath ? (readPath(event, t.InputPath) ?? null) : event));
      } catch (err) {
        failed(err);
        continue;
      }
      if (t.Arn.includes(':states:') && t.Arn.includes(':stateMachine:')) {
        // Started synchronously: the execution exists (durably) before the event counts as delivered.
        try {
          this.startTarget(t.Arn, targetExecutionName(event.id, rule, t.Id), input);
        } catch (err) {
          if (err instanceof AwsError && err.status === 503) retry = err;
          else failed(err);
        }
      } else if (t.Arn.startsWith('arn:aws:lambda:')) {
        // A text template (not JSON) reaches a function as a JSON string.
        let payload: unknown = input;
        try {
          payload = JSON.parse(input);
        } catch {}
        const p = this.o.lambdas
          .invoke(t.Arn, payload)
          .then(() => undefined, failed)
          .finally(() => this.inflight.delete(p));
        this.inflight.add(p);
      } else {
        this.o.logger.warn('unsupported rule target', { rule, target: t.Arn });
      }
    }
    if (retry !== undefined) throw retry;
  }

  /**
   * Delivery is at least once, so the same event may reach a rule twice (after a restart). The
   * execution's name comes from the event, rule and target, and Step Functions' name
   * idempotency turns the second start into the first execution, never a second run.
   */
  private startTarget(stateMachineArn: string, name: string, input: string): void {
    try {
      this.o.stepFunctions.startExecution({ stateMachineArn, name, input });
    } catch (err) {
      if (err instanceof AwsError && err.code === 'ExecutionAlreadyExists') {
        this.o.logger.info('event delivered again: its execution exists already', { stateMachineArn, name });
        return;
      }
      throw err;
    }
  }

  /** Fires every scheduled rule whose time has come (the scheduler calls this each second). */
  tick(): number {
    const now = this.now();
    const due = this.o.store.db
      .prepare(
        "SELECT * FROM eb_rules WHERE state = 'ENABLED' AND schedule IS NOT NULL AND next_fire_ms <= ?",
      )
      .all(now) as RuleRow[];
    for (const r of due) {
      this.o.store.db
        .prepare('UPDATE eb_rules SET next_fire_ms = ? WHERE name = ?')
        .run(nextFire(r.schedule ?? '', now), r.name);
      this.deliver(r.name, {
        version: '0',
        id: randomUUID(),
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: this.o.accountId,
        time: new Date(now).toISOString().replace(/\.\d+Z$/, 'Z'),
        region: this.o.region,
        resources: [this.ruleArn(r.name)],
        detail: {},
      });
    }
    return due.length;
  }

  /** Starts the once-a-second scheduler. */
  startScheduler(): void {
    this.timer ??= setInterval(() => {
      try {
        this.tick();
      } catch (err) {
        this.o.logger.warn('scheduler tick failed', { error: (err as Error).message });
      }
    }, 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.inflight]);
  }
}
