import { randomUUID } from 'node:crypto';
import aslValidator from 'asl-validator';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { EventLog as CloudEvents } from '../events/log';
import { AwsError } from '../http/errors';
import type { RequestContext, ServiceRegistry } from '../http/registry';
import { toJsonWire } from '../http/server';
import type { LambdaRegistry } from '../lambda/registry';
import type { LocalLogger } from '../log';
import type { Store } from '../store/db';

// aws-local-stepfunctions uses Promise.withResolvers, which Node 20 lacks.
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void };
const P = Promise as unknown as { withResolvers?: WithResolvers };
P.withResolvers ??= <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** One AWS-shaped history event (GetExecutionHistory). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: Date;
  type: string;
  [details: string]: unknown;
}

interface StateMachineRow {
  arn: string;
  name: string;
  definition: string;
  role_arn: string;
  created_ms: number;
  updated_ms: number;
}

interface ExecutionRow {
  arn: string;
  sm_arn: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
  start_ms: number;
  stop_ms: number | null;
  history: string | null;
}

interface Running {
  history: HistoryEvent[];
  abort: () => void;
  done: Promise<void>;
  stopRequested?: { error?: string | undefined; cause?: string | undefined };
}

const notFound = (code: string, message: string) => new AwsError(code, message);

/** State type -> the prefix of AWS's history event names. */
const TYPE_NAME: Record<string, string> = {
  Task: 'Task',
  Pass: 'Pass',
  Choice: 'Choice',
  Wait: 'Wait',
  Succeed: 'Succeed',
  Fail: 'Fail',
  Map: 'Map',
  Parallel: 'Parallel',
};

export interface StepFunctionsOptions {
  store: Store;
  events: CloudEvents;
  lambdas: LambdaRegistry;
  services: ServiceRegistry;
  region: string;
  accountId: string;
  logger: LocalLogger;
}

/** A failed Task, named as ASL Retry/Catch will match it. */
class TaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

function camelToPascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** `aws-sdk:<service>` -> the local JSON service's X-Amz-Target prefix and its error prefix. */
const SDK_SERVICES: Record<string, { target: string; errorPrefix: string }> = {
  secretsmanager: { target: 'secretsmanager', errorPrefix: 'SecretsManager' },
  sfn: { target: 'AWSStepFunctions', errorPrefix: 'Sfn' },
  eventbridge: { target: 'AWSEvents', errorPrefix: 'EventBridge' },
};

/**
 * Step Functions on the local cloud. Definitions are validated with asl-validator and run on
 * aws-local-stepfunctions; every Task resource is dispatched here: Lambda functions to the
 * in-process registry, `aws-sdk:*`, `events:putEvents`, `sns:publish` and
 * `states:startExecution(.sync)` to the local services. Executions and their history persist.
 */
export class StepFunctions {
  private readonly running = new Map<string, Running>();
  private stopped = false;
  /** Set when stop() gave up waiting: abandoned executions stay RUNNING in the store. */
  private abandoned = false;

  constructor(private readonly o: StepFunctionsOptions) {
    o.store.migrate('stepfunctions', [
      {
        id: '001-state-machines',
        up: `CREATE TABLE sfn_state_machines (
          arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
          created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
        CREATE TABLE sfn_executions (
          arn TEXT PRIMARY KEY, sm_arn TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
          input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT,
          start_ms INTEGER NOT NULL, stop_ms INTEGER, history TEXT);
        CREATE INDEX sfn_executions_sm ON sfn_executions (sm_arn, start_ms);`,
      },
    ]);
  }

  private smArn(name: string): string {
    return `arn:aws:states:${this.o.region}:${this.o.accountId}:stateMachine:${name}`;
  }

  private execArn(smName: string, name: string): string {
    return `arn:aws:states:${this.o.region}:${this.o.accountId}:execution:${smName}:${name}`;
  }

  private sm(arn: string): StateMachineRow {
    const row = this.o.store.db.prepare('SELECT * FROM sfn_state_machines WHERE arn = ?').get(arn) as
      | StateMachineRow
      | undefined;
    if (!row) throw notFound('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return row;
  }

  private exec(arn: string): ExecutionRow {
    const row = this.o.store.db.prepare('SELECT * FROM sfn_executions WHERE arn = ?').get(arn) as
      | ExecutionRow
      | undefined;
    if (!row) throw notFound('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return row;
  }

  private validate(definition: string): StateMachineDefinition {
    let parsed: unknown;
    try {
      parsed = JSON.parse(definition);
    } catch {
      throw new AwsError('InvalidDefinition', 'Invalid State Machine Definition: definition is not JSON');
    }
    const r = aslValidator(structuredClone(parsed) as never);
    if (!r.isValid) {
      const why = r.errors.map((e) => ('message' in e ? String(e.message) : JSON.stringify(e))).join('; ');
      throw new AwsError('InvalidDefinition', `Invalid State Machine Definition: ${why}`);
    }
    return parsed as StateMachineDefinition;
  }

  createStateMachine(input: { name: string; definition: string; roleArn: string }) {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(input.name))
      throw new AwsError('InvalidName', `Invalid Name: '${input.name}'`);
    this.validate(input.definition);
    const arn = this.smArn(input.name);
    const existing = this.o.store.db.prepare('SELECT * FROM sfn_state_machines WHERE arn = ?').get(arn) as
      | StateMachineRow
      | undefined;
    if (existing) {
      if (existing.definition === input.definition && existing.role_arn === input.roleArn) {
        return { stateMachineArn: arn, creationDate: new Date(existing.created_ms) };
      }
      throw new AwsError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
    }
    const now = Date.now();
    this.o.store.db
      .prepare('INSERT INTO sfn_state_machines VALUES (?, ?, ?, ?, ?, ?)')
      .run(arn, input.name, input.definition, input.roleArn, now, now);
    return { stateMachineArn: arn, creationDate: new Date(now) };
  }

  updateStateMachine(input: { stateMachineArn: string; definition?: string; roleArn?: string }) {
    const row = this.sm(input.stateMachineArn);
    if (input.definition !== undefined) this.validate(input.definition);
    const now = Date.now();
    this.o.store.db
      .prepare('UPDATE sfn_state_machines SET definition = ?, role_arn = ?, updated_ms = ? WHERE arn = ?')
      .run(input.definition ?? row.definition, input.roleArn ?? row.role_arn, now, row.arn);
    return { updateDate: new Date(now) };
  }

  describeStateMachine(input: { stateMachineArn: string }) {
    const row = this.sm(input.stateMachineArn);
    return {
      stateMachineArn: row.arn,
      name: row.name,
      status: 'ACTIVE',
      definition: row.definition,
      roleArn: row.role_arn,
      type: 'STANDARD',
      creationDate: new Date(row.created_ms),
    };
  }

  listStateMachines() {
    const rows = this.o.store.db
      .prepare('SELECT * FROM sfn_state_machines ORDER BY name')
      .all() as StateMachineRow[];
    return {
      stateMachines: rows.map((r) => ({
        stateMachineArn: r.arn,
        name: r.name,
        type: 'STANDARD',
        creationDate: new Date(r.created_ms),
      })),
    };
  }

  deleteStateMachine(input: { stateMachineArn: string }) {
    this.o.store.db.prepare('DELETE FROM sfn_state_machines WHERE arn = ?').run(input.stateMachineArn);
    return {};
  }

  /** Starts an execution; the same name with the same input returns the same execution. */
  startExecution(input: { stateMachineArn: string; name?: string; input?: string }) {
    if (this.stopped) throw new AwsError('ServiceUnavailable', 'the local cloud is stopping', 503);
    const sm = this.sm(input.stateMachineArn);
    const name = input.name ?? randomUUID();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
    const text = input.input ?? '{}';
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(text);
    } catch {
      throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: not JSON');
    }
    const arn = this.execArn(sm.name, name);
    const existing = this.o.store.db.prepare('SELECT * FROM sfn_executions WHERE arn = ?').get(arn) as
      | ExecutionRow
      | undefined;
    if (existing) {
      if (existing.input === text && existing.status === 'RUNNING') {
        return { executionArn: arn, startDate: new Date(existing.start_ms) };
      }
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const start = Date.now();
    this.o.store.db
      .prepare(
        "INSERT INTO sfn_executions (arn, sm_arn, name, status, input, start_ms) VALUES (?, ?, ?, 'RUNNING', ?, ?)",
      )
      .run(arn, sm.arn, name, text, start);
    this.launch(sm, arn, name, parsedInput, start);
    return { executionArn: arn, startDate: new Date(start) };
  }

  private launch(sm: StateMachineRow, arn: string, name: string, input: unknown, start: number): void {
    const definition = JSON.parse(sm.definition) as StateMachineDefinition;
    const history: HistoryEvent[] = [];
    const push = (type: string, details: Record<string, unknown> = {}, at = Date.now()) => {
      const id = history.length + 1;
      history.push({ id, previousEventId: id - 1, timestamp: new Date(at), type, ...details });
    };
    push(
      'ExecutionStarted',
      { executionStartedEventDetails: { input: JSON.stringify(input), roleArn: sm.role_arn } },
      start,
    );
    this.publishStatus(sm, arn, name, 'RUNNING', JSON.stringify(input), start);

    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, state] of allStates(definition)) {
      if (state.Type !== 'Task') continue;
      const resource = String(state.Resource);
      handlers[stateName] = async (taskInput: unknown) => {
        // Let the runner's own StateEntered event land in the history first.
        await new Promise((r) => setImmediate(r));
        push('TaskScheduled', {
          taskScheduledEventDetails: {
            resourceType: resourceType(resource),
            resource: resource,
            region: this.o.region,
            parameters: JSON.stringify(taskInput),
            timeoutInSeconds: state.TimeoutSeconds,
          },
        });
        push('TaskStarted', { taskStartedEventDetails: { resourceType: resourceType(resource), resource } });
        try {
          const out = await this.invokeResource(resource, taskInput, arn);
          push('TaskSucceeded', {
            taskSucceededEventDetails: {
              resourceType: resourceType(resource),
              resource,
              output: JSON.stringify(out),
            },
          });
          return out as never;
        } catch (err) {
          const e = err as Error;
          push('TaskFailed', {
            taskFailedEventDetails: {
              resourceType: resourceType(resource),
              resource,
              error: e.name,
              cause: e.message,
            },
          });
          throw err;
        }
      };
    }

    // Validated once at CreateStateMachine; validating again per run costs ~100 ms.
    const run = new StateMachine(definition, {
      validationOptions: { noValidate: true },
    }).run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      context: {
        Execution: { Id: arn, Name: name, RoleArn: sm.role_arn },
        StateMachine: { Id: sm.arn, Name: sm.name },
      },
    });
    const consume = (async () => {
      for await (const ev of run.eventLogs) {
        const e = ev as unknown as {
          type: string;
          timestamp: number;
          state?: { name: string; type: string; input: unknown; output?: unknown };
          index?: number;
          parentState?: { name: string };
        };
        const prefix = e.state ? (TYPE_NAME[e.state.type] ?? e.state.type) : '';
        if (e.type === 'StateEntered' && e.state) {
          push(
            `${prefix}StateEntered`,
            {
              stateEnteredEventDetails: { name: e.state.name, input: JSON.stringify(e.state.input) },
            },
            e.timestamp,
          );
        } else if (e.type === 'StateExited' && e.state) {
          push(
            `${prefix}StateExited`,
            {
              stateExitedEventDetails: { name: e.state.name, output: JSON.stringify(e.state.output ?? null) },
            },
            e.timestamp,
          );
        } else if (e.type.startsWith('MapIteration')) {
          push(
            e.type,
            {
              [`${e.type.charAt(0).toLowerCase()}${e.type.slice(1)}EventDetails`]: {
                name: e.parentState?.name,
                index: e.index,
              },
            },
            e.timestamp,
          );
        }
      }
    })();

    const running: Running = { history, abort: run.abort, done: Promise.resolve() };
    running.done = (async () => {
      let status: ExecutionStatus;
      let output: string | null = null;
      let error: string | null = null;
      let cause: string | null = null;
      try {
        const result = await run.result;
        status = 'SUCCEEDED';
        output = JSON.stringify(result ?? null);
      } catch (err) {
        if (err instanceof ExecutionAbortedError || running.stopRequested) {
          status = 'ABORTED';
          error = running.stopRequested?.error ?? null;
          cause = running.stopRequested?.cause ?? null;
        } else if (err instanceof ExecutionTimeoutError) {
          status = 'TIMED_OUT';
          error = 'States.Timeout';
          cause = 'The execution timed out';
        } else {
          status = 'FAILED';
          const inner = err instanceof ExecutionError ? (err.cause as Error | undefined) : (err as Error);
          error = inner?.name ?? 'States.Runtime';
          cause = inner?.message ?? String(err);
        }
      }
      await Promise.race([consume, new Promise((r) => setTimeout(r, 50))]);
      if (this.abandoned) {
        this.running.delete(arn);
        return;
      }
      const stop = Date.now();
      if (status === 'SUCCEEDED')
        push('ExecutionSucceeded', { executionSucceededEventDetails: { output } }, stop);
      else if (status === 'FAILED')
        push('ExecutionFailed', { executionFailedEventDetails: { error, cause } }, stop);
      else if (status === 'TIMED_OUT')
        push('ExecutionTimedOut', { executionTimedOutEventDetails: { error, cause } }, stop);
      else push('ExecutionAborted', { executionAbortedEventDetails: { error, cause } }, stop);
      this.o.store.db
        .prepare(
          'UPDATE sfn_executions SET status = ?, output = ?, error = ?, cause = ?, stop_ms = ?, history = ? WHERE arn = ?',
        )
        .run(status, output, error, cause, stop, JSON.stringify(history), arn);
      this.running.delete(arn);
      this.publishStatus(sm, arn, name, status, JSON.stringify(input), start, stop, output, error, cause);
    })().catch((err: unknown) => {
      this.o.logger.error('execution bookkeeping failed', { executionArn: arn, error: String(err) });
      this.running.delete(arn);
    });
    this.running.set(arn, running);
  }

  private publishStatus(
    sm: StateMachineRow,
    arn: string,
    name: string,
    status: ExecutionStatus,
    input: string,
    start: number,
    stop?: number,
    output?: string | null,
    error?: string | null,
    cause?: string | null,
  ): void {
    this.o.events.publish({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      resources: [arn],
      detail: {
        executionArn: arn,
        stateMachineArn: sm.arn,
        name,
        status,
        startDate: start,
        stopDate: stop ?? null,
        input,
        output: output ?? null,
        ...(error ? { error } : {}),
        ...(cause ? { cause } : {}),
      },
    });
  }

  /** Runs one Task resource. */
  private async invokeResource(resource: string, input: unknown, parentArn: string): Promise<unknown> {
    if (resource.startsWith('arn:aws:lambda:')) return this.invokeLambda(resource, input);
    const m = /^arn:aws:states:::(.+)$/.exec(resource);
    if (!m?.[1]) throw new TaskError('States.Runtime', `unsupported Task resource ${resource}`);
    const target = m[1];
    const params = (input ?? {}) as Record<string, unknown>;
    if (target === 'lambda:invoke') {
      const payload = await this.invokeLambda(String(params['FunctionName']), params['Payload']);
      return { Payload: payload, StatusCode: 200, ExecutedVersion: '$LATEST' };
    }
    if (target === 'events:putEvents') {
      const entries = ((params['Entries'] as Record<string, unknown>[]) ?? []).map((e) => ({
        ...e,
        Detail: typeof e['Detail'] === 'string' ? e['Detail'] : JSON.stringify(e['Detail'] ?? {}),
      }));
      return this.callJson('AWSEvents', 'PutEvents', { Entries: entries }, 'EventBridge');
    }
    if (target === 'sns:publish') return this.callQuery('sns', 'Publish', params, 'SNS');
    if (target.startsWith('states:startExecution')) return this.startChild(target, params, parentArn);
    const sdk = /^aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/.exec(target);
    if (sdk?.[1] && sdk[2]) {
      const svc = SDK_SERVICES[sdk[1]];
      if (!svc)
        throw new TaskError('States.Runtime', `aws-sdk:${sdk[1]} is not available on the local cloud`);
      return this.callJson(svc.target, camelToPascal(sdk[2]), params, svc.errorPrefix);
    }
    throw new TaskError('States.Runtime', `unsupported Task resource ${resource}`);
  }

  private async invokeLambda(fn: string, input: unknown): Promise<unknown> {
    try {
      return await this.o.lambdas.invoke(fn, input);
    } catch (err) {
      const e = err as Error;
      // The handler's error name is the ASL error name (errorType on AWS).
      throw new TaskError(e.name && e.name !== 'Error' ? e.name : 'Error', e.message);
    }
  }

  private internalContext(service: string): RequestContext {
    return {
      requestId: randomUUID(),
      accessKeyId: 'states.amazonaws.com',
      region: this.o.region,
      signingService: service,
      sourceIp: 'states.amazonaws.com',
      userAgent: 'credflow-local-states',
    };
  }

  private async callJson(target: string, op: string, input: unknown, errorPrefix: string): Promise<unknown> {
    const svc = this.o.services.jsonService(target);
    const fn = svc?.operations[op];
    if (!fn) throw new TaskError('States.Runtime', `${target}.${op} is not available on the local cloud`);
    try {
      return toJsonWire(await fn((input ?? {}) as Record<string, unknown>, this.internalContext(target)));
    } catch (err) {
      if (err instanceof AwsError) throw new TaskError(`${errorPrefix}.${err.code}`, err.message);
      throw err;
    }
  }

  private async callQuery(
    signingName: string,
    action: string,
    input: Record<string, unknown>,
    errorPrefix: string,
  ) {
    const svc = this.o.services.queryService(action, signingName);
    const fn = svc?.actions[action];
    if (!fn)
      throw new TaskError('States.Runtime', `${signingName}:${action} is not available on the local cloud`);
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(input)) if (v !== undefined && v !== null) flat[k] = String(v);
    try {
      return toJsonWire(await fn(flat, this.internalContext(signingName)));
    } catch (err) {
      if (err instanceof AwsError) throw new TaskError(`${errorPrefix}.${err.code}`, err.message);
      throw err;
    }
  }

  private async startChild(
    target: string,
    params: Record<string, unknown>,
    parentArn: string,
  ): Promise<unknown> {
    const input = params['Input'];
    const started = this.startExecution({
      stateMachineArn: String(params['StateMachineArn']),
      ...(params['Name'] ? { name: String(params['Name']) } : {}),
      input: typeof input === 'string' ? input : JSON.stringify(input ?? {}),
    });
    if (target === 'states:startExecution')
      return { ExecutionArn: started.executionArn, StartDate: started.startDate };
    await this.awaitExecution(started.executionArn);
    const d = this.describeExecution({ executionArn: started.executionArn });
    const v2 = target.endsWith(':2');
    const out = {
      ExecutionArn: d.executionArn,
      StateMachineArn: d.stateMachineArn,
      Name: d.name,
      Status: d.status,
      StartDate: d.startDate.getTime(),
      StopDate: d.stopDate?.getTime(),
      Input: v2 ? JSON.parse(d.input) : d.input,
      Output: v2 && d.output ? JSON.parse(d.output) : (d.output ?? null),
    };
    if (d.status !== 'SUCCEEDED') {
      this.o.logger.debug('child execution did not succeed', {
        parentArn,
        child: d.executionArn,
        status: d.status,
      });
      throw new TaskError('States.TaskFailed', JSON.stringify({ ...out, Error: d.error, Cause: d.cause }));
    }
    return out;
  }

  describeExecution(input: { executionArn: string }) {
    const r = this.exec(input.executionArn);
    return {
      executionArn: r.arn,
      stateMachineArn: r.sm_arn,
      name: r.name,
      status: r.status,
      startDate: new Date(r.start_ms),
      ...(r.stop_ms ? { stopDate: new Date(r.stop_ms) } : {}),
      input: r.input,
      ...(r.output !== null ? { output: r.output } : {}),
      ...(r.error !== null ? { error: r.error } : {}),
      ...(r.cause !== null ? { cause: r.cause } : {}),
    };
  }

  getExecutionHistory(input: {
    executionArn: string;
    maxResults?: number;
    nextToken?: string;
    reverseOrder?: boolean;
  }) {
    const r = this.exec(input.executionArn);
    const live = this.running.get(r.arn);
    let events: HistoryEvent[] = live
      ? [...live.history]
      : (JSON.parse(r.history ?? '[]') as HistoryEvent[]).map((e) => ({
          ...e,
          timestamp: new Date(e.timestamp),
        }));
    if (input.reverseOrder) events = events.reverse();
    const start = input.nextToken ? Number(Buffer.from(input.nextToken, 'base64url').toString()) : 0;
    const max = input.maxResults && input.maxResults > 0 ? input.maxResults : 100;
    const page = events.slice(start, start + max);
    const next =
      start + max < events.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
    return { events: page, ...(next ? { nextToken: next } : {}) };
  }

  listExecutions(input: {
    stateMachineArn: string;
    statusFilter?: string;
    maxResults?: number;
    nextToken?: string;
  }) {
    this.sm(input.stateMachineArn);
    const rows = this.o.store.db
      .prepare(
        `SELECT arn, sm_arn, name, status, start_ms, stop_ms FROM sfn_executions WHERE sm_arn = ?
         ${input.statusFilter ? 'AND status = ?' : ''} ORDER BY start_ms DESC, rowid DESC`,
      )
      .all(...[input.stateMachineArn, ...(input.statusFilter ? [input.statusFilter] : [])]) as ExecutionRow[];
    const start = input.nextToken ? Number(Buffer.from(input.nextToken, 'base64url').toString()) : 0;
    const max = input.maxResults && input.maxResults > 0 ? input.maxResults : 100;
    const page = rows.slice(start, start + max);
    const next =
      start + max < rows.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
    return {
      executions: page.map((e) => ({
        executionArn: e.arn,
        stateMachineArn: e.sm_arn,
        name: e.name,
        status: e.status,
        startDate: new Date(e.start_ms),
        ...(e.stop_ms ? { stopDate: new Date(e.stop_ms) } : {}),
      })),
      ...(next ? { nextToken: next } : {}),
    };
  }

  stopExecution(input: { executionArn: string; error?: string; cause?: string }) {
    const r = this.exec(input.executionArn);
    const live = this.running.get(r.arn);
    if (live) {
      live.stopRequested = { error: input.error, cause: input.cause };
      live.abort();
    }
    return { stopDate: new Date() };
  }

  /** Resolves when the execution has stopped. */
  async awaitExecution(executionArn: string): Promise<void> {
    await this.running.get(executionArn)?.done;
  }

  /** Resolves when no execution is running (including ones started meanwhile). */
  async awaitIdle(): Promise<void> {
    while (this.running.size > 0) {
      const now = [...this.running.values()];
      await Promise.all(now.map((r) => r.done));
      // Bookkeeping always removes a finished run; if not, yield rather than spin.
      if (now.every((r) => [...this.running.values()].includes(r)))
        await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * After a restart: executions that were RUNNING when the cloud died are marked FAILED
   * (error `States.Runtime`), not resumed. A Task may have half-run, and only the workflow's own
   * repair path knows what that means; failing emits the status-change event that starts it
   * (on-rotation-failure rolls a rotation forward or back). Call once handlers are registered.
   */
  recoverInterrupted(): number {
    const rows = this.o.store.db
      .prepare("SELECT * FROM sfn_executions WHERE status = 'RUNNING'")
      .all() as ExecutionRow[];
    for (const r of rows) {
      if (this.running.has(r.arn)) continue;
      const stop = Date.now();
      const cause = 'The local cloud stopped while this execution was running';
      this.o.store.db
        .prepare(
          "UPDATE sfn_executions SET status = 'FAILED', error = 'States.Runtime', cause = ?, stop_ms = ? WHERE arn = ?",
        )
        .run(cause, stop, r.arn);
      const sm = this.o.store.db.prepare('SELECT * FROM sfn_state_machines WHERE arn = ?').get(r.sm_arn) as
        | StateMachineRow
        | undefined;
      if (sm)
        this.publishStatus(
          sm,
          r.arn,
          r.name,
          'FAILED',
          r.input,
          r.start_ms,
          stop,
          null,
          'States.Runtime',
          cause,
        );
    }
    return rows.length;
  }

  /** Stops accepting executions; waits for running ones up to `graceMs`, then aborts them. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.awaitIdle(),
      new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(timer);
    // Left RUNNING in the store on purpose: the next start marks them failed (recoverInterrupted).
    this.abandoned = true;
    for (const r of this.running.values()) r.abort();
  }
}

interface AnyState {
  Type: string;
  Resource?: unknown;
  TimeoutSeconds?: number;
  ItemProcessor?: { States: Record<string, AnyState> };
  Iterator?: { States: Record<string, AnyState> };
  Branches?: { States: Record<string, AnyState> }[];
}

function allStates(def: { States: Record<string, unknown> }): [string, AnyState][] {
  return Object.entries(def.States as Record<string, AnyState>).flatMap(([name, s]) => [
    [name, s] as [string, AnyState],
    ...[s.ItemProcessor, s.Iterator, ...(s.Branches ?? [])]
      .filter((m) => !!m)
      .flatMap((m) => allStates(m as never)),
  ]);
}

function resourceType(resource: string): string {
  if (resource.startsWith('arn:aws:lambda:')) return 'lambda';
  const m = /^arn:aws:states:::(?:aws-sdk:)?([a-z0-9]+)/.exec(resource);
  return m?.[1] ?? 'unknown';
}
