import { randomUUID } from 'node:crypto';
import type { AwsEvent } from '../events/event';
import type { EventLog } from '../events/log';
import { AwsError } from '../http/errors';
import { assertJsonDepth, jsonDepth, MAX_JSON_DEPTH } from '../http/json-depth';
import type { LocalIam } from '../iam/local-iam';
import type { LambdaRegistry } from '../lambda/registry';
import type { LocalLogger } from '../log';
import type { StepFunctions } from '../stepfunctions/service';
import type { Store } from '../store/db';
import { compilePattern, type EventMatcher, InvalidEventPatternError, parsePatternJson } from './pattern';
import { nextFire } from './schedules';
import { EventBridgeStore, type RuleRow, type Target } from './store';
import { readPath, targetExecutionName, transformInput, undefinedPlaceholders } from './targets';

export interface EventBridgeOptions {
  store: Store;
  events: EventLog;
  lambdas: LambdaRegistry;
  stepFunctions: StepFunctions;
  /** IAM: a target is started as the role it names (RoleArn). */
  iam?: LocalIam | undefined;
  region: string;
  accountId: string;
  logger: LocalLogger;
  /** Milliseconds since the epoch; injectable so tests can move time for scheduled rules. */
  now?: () => number;
}

const resourceNotFound = (m: string) => new AwsError('ResourceNotFoundException', m);

/**
 * The fields TestEventPattern's Event must carry. The API reference calls `resources` mandatory
 * too ("the following fields are mandatory: id, account, source, time, region, resources,
 * detail-type"), but AWS, recorded, accepts events without it (most of its recorded
 * TestEventPattern cases send none) and looks only at whether the others are there, not at their
 * type (a `detail-type` that is an array is matched like any other field).
 */
const MANDATORY_EVENT_FIELDS = ['id', 'account', 'source', 'time', 'region', 'detail-type'] as const;

/** TestEventPattern's Event: a JSON object carrying the mandatory fields, else ValidationException. */
function testEvent(text: string): Record<string, unknown> {
  const invalid = () => new AwsError('ValidationException', 'Parameter Event is not valid.');
  assertJsonDepth(text, 'event');
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    throw invalid();
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw invalid();
  const e = event as Record<string, unknown>;
  if (MANDATORY_EVENT_FIELDS.some((k) => !Object.hasOwn(e, k))) throw invalid();
  return e;
}

/**
 * A PutEvents entry AWS fails on its own, with the code and words AWS answered: each missing (or
 * empty) required member named; a Detail that is not a JSON object is MalformedDetail (recorded
 * for "NotJSON", "[]", "{{}" and a JSON string alike).
 */
const required = (member: string) => ({
  ErrorCode: 'InvalidArgument',
  ErrorMessage: `Parameter ${member} is not valid. Reason: ${member} is a required argument.`,
});

function parseDetail(text: string): Record<string, unknown> | undefined {
  try {
    const detail: unknown = JSON.parse(text);
    if (detail !== null && typeof detail === 'object' && !Array.isArray(detail))
      return detail as Record<string, unknown>;
  } catch {
    // not JSON: MalformedDetail below
  }
  return undefined;
}

/** Targets per rule (EventBridge quotas). */
const MAX_TARGETS_PER_RULE = 5;

/** PutEvents takes at most 256 KB of entries in one request. */
const MAX_PUT_EVENTS_BYTES = 256 * 1024;

/**
 * An entry's size as EventBridge counts it ("Calculating PutEvents event entry size", EventBridge
 * User Guide): 14 bytes for a Time, and the UTF-8 bytes of Source, DetailType, Detail and each
 * Resource.
 */
function entrySize(e: {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Resources?: string[];
  Time?: unknown;
}): number {
  const bytes = (s: string | undefined) => (s ? Buffer.byteLength(s, 'utf8') : 0);
  return (
    (e.Time !== undefined ? 14 : 0) +
    bytes(e.Source) +
    bytes(e.DetailType) +
    bytes(e.Detail) +
    (e.Resources ?? []).reduce((n, r) => n + bytes(r), 0)
  );
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
  private readonly db: EventBridgeStore;

  constructor(private readonly o: EventBridgeOptions) {
    this.now = o.now ?? Date.now;
    this.db = new EventBridgeStore(o.store);
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
    const r = this.db.rule(name);
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
        parsePatternJson(i.EventPattern);
      } catch (err) {
        if (!(err instanceof InvalidEventPatternError)) throw err;
        throw new AwsError('InvalidEventPatternException', err.message);
      }
    }
    const next = i.ScheduleExpression ? nextFire(i.ScheduleExpression, this.now()) : null;
    this.db.putRule({
      name: i.Name,
      pattern: i.EventPattern ?? null,
      schedule: i.ScheduleExpression ?? null,
      state: i.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      description: i.Description ?? null,
      next_fire_ms: next,
    });
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
    return {
      Rules: this.db
        .ruleNames()
        .filter((name) => !i.NamePrefix || name.startsWith(i.NamePrefix))
        .map((name) => this.describeRule({ Name: name })),
    };
  }

  deleteRule(i: { Name: string }) {
    this.rule(i.Name);
    if (this.db.targetCount(i.Name) > 0)
      throw new AwsError('ValidationException', "Rule can't be deleted since it has targets.");
    this.db.deleteRule(i.Name);
    this.matchers.delete(i.Name);
    return {};
  }

  putTargets(i: { Rule: string; Targets: Target[] }) {
    this.rule(i.Rule);
    for (const t of i.Targets) {
      // AWS's words for both, recorded.
      const ways = [t.Input, t.InputPath, t.InputTransformer].filter((x) => x !== undefined).length;
      if (ways > 1)
        throw new AwsError(
          'ValidationException',
          `Only one of Input, InputPath, or InputTransformer must be provided for target ${t.Id}.`,
        );
      const [unknown] = t.InputTransformer ? undefinedPlaceholders(t.InputTransformer) : [];
      if (unknown !== undefined)
        throw new AwsError(
          'ValidationException',
          `InputTemplate for target ${t.Id} contains invalid placeholder ${unknown}.`,
        );
      if (t.Input !== undefined) {
        try {
          JSON.parse(t.Input);
        } catch {
          throw new AwsError('ValidationException', `Target ${t.Id}: Input is not valid JSON.`);
        }
      }
    }
    // A rule has at most 5 targets; AWS, recorded, refuses a sixth in these words.
    const ids = new Set([...this.db.targets(i.Rule).map((t) => t.Id), ...i.Targets.map((t) => t.Id)]);
    if (ids.size > MAX_TARGETS_PER_RULE)
      throw new AwsError(
        'LimitExceededException',
        'The requested resource exceeds the maximum number allowed.',
      );
    this.db.putTargets(i.Rule, i.Targets);
    return { FailedEntryCount: 0, FailedEntries: [] };
  }

  listTargetsByRule(i: { Rule: string }) {
    this.rule(i.Rule);
    return { Targets: this.db.targets(i.Rule) };
  }

  removeTargets(i: { Rule: string; Ids: string[] }) {
    this.rule(i.Rule);
    this.db.removeTargets(i.Rule, i.Ids);
    return { FailedEntryCount: 0, FailedEntries: [] };
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
    const size = i.Entries.reduce((sum, e) => sum + entrySize(e), 0);
    if (size > MAX_PUT_EVENTS_BYTES)
      throw new AwsError(
        'ValidationException',
        'Total size of the entries in the request is over the limit.',
      );
    const entries = i.Entries.map((e) => {
      if (!e.Source) return required('Source');
      if (!e.DetailType) return required('DetailType');
      if (e.Detail === undefined) return required('Detail');
      // Sources starting with `aws.` belong to AWS services: EventBridge refuses them entry by
      // entry (PutEvents, https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html,
      // and PutEventsResultEntry's error codes). The emulated services publish theirs to the
      // event log directly, never through PutEvents, so a caller cannot fake a DeleteSecret or a
      // RotationFailed and start the workflows that react to them.
      if (e.Source.startsWith('aws.')) {
        return {
          ErrorCode: 'NotAuthorizedForSourceException',
          ErrorMessage: 'Not authorized for the source.',
        };
      }
      if (jsonDepth(e.Detail) > MAX_JSON_DEPTH) {
        return {
          ErrorCode: 'ValidationException',
          ErrorMessage: `Detail is nested deeper than ${MAX_JSON_DEPTH} levels.`,
        };
      }
      const detail = parseDetail(e.Detail);
      if (!detail) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
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
      matcher = compilePattern(parsePatternJson(i.EventPattern));
    } catch (err) {
      if (!(err instanceof InvalidEventPatternError)) throw err;
      throw new AwsError('InvalidEventPatternException', err.message);
    }
    return { Result: matcher(testEvent(i.Event)) };
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
    const rules = this.db.enabledPatternRules();
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
    for (const t of this.db.targets(rule)) {
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
          // EventBridge starts the machine as the role the target names.
          if (this.o.iam?.enabled)
            this.o.iam.gate.require(this.o.iam.ruleTarget(t.RoleArn, rule), {
              action: 'states:StartExecution',
              resource: t.Arn,
            });
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
        try {
          // EventBridge invokes a function as events.amazonaws.com: the function's resource policy decides.
          this.o.iam?.requireInvoke(this.o.iam.service('events.amazonaws.com'), t.Arn, {
            'aws:SourceArn': ctx.arn,
            'aws:SourceAccount': this.o.accountId,
          });
        } catch (err) {
          failed(err);
          continue;
        }
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
    const due = this.db.dueScheduledRules(now);
    for (const r of due) {
      this.db.setNextFire(r.name, nextFire(r.schedule ?? '', now));
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
