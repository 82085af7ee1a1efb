import { randomUUID } from 'node:crypto';
import aslValidator from 'asl-validator';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { Statement } from 'better-sqlite3';
import type { EventLog as CloudEvents } from '../events/log';
import { AwsError } from '../http/errors';
import type { RequestContext, ServiceRegistry } from '../http/registry';
import { toJsonWire } from '../http/server';
import { LambdaNotFoundError, type LambdaRegistry, LambdaTimeoutError } from '../lambda/registry';
import type { LocalLogger } from '../log';
import type { Store } from '../store/db';
import {
  type AslState,
  ExecutionHistory,
  type HistoryEvent,
  type RunnerEvent,
  statesByName,
} from './history';
import { sdkErrorName, toApiShape, toJavaShape } from './integrations';
import { DEFAULT_MAX_RERUNS, type RecoveryOptions, rerunName } from './recovery';
import { StateMachineTags, TAGS_MIGRATION, type Tag } from './tags';

export type { HistoryEvent } from './history';
export type { RecoveryOptions } from './recovery';
export type { Tag } from './tags';

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

/** A definition ready to run: parsed, its states indexed, its runner built once. */
interface Compiled {
  updatedMs: number;
  machine: StateMachine;
  states: Map<string, AslState>;
  tasks: [name: string, state: AslState][];
}

interface Running {
  history: ExecutionHistory;
  abort: () => void;
  done: Promise<void>;
  stopRequested?: { error?: string | undefined; cause?: string | undefined };
  /** `.sync` children: stopping the parent stops them, as on AWS. */
  children: Set<string>;
}

/** Endpoint and credentials for integrations that go through a real SDK client. */
export interface SdkEndpoint {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

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

const NAME = /^[A-Za-z0-9_-]{1,80}$/;

function camelToPascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * `aws-sdk:<service>` on JSON services: called in-process through the ServiceRegistry. Their wire
 * members already are the SDK's (PascalCase JSON), so no translation beyond Java's naming, and
 * no HTTP, SigV4 or serialization on the rotation hot path.
 */
const JSON_SDK_SERVICES: Record<string, string> = {
  secretsmanager: 'secretsmanager',
  sfn: 'AWSStepFunctions',
  eventbridge: 'AWSEvents',
};

/**
 * `aws-sdk:<service>` on query services: called over HTTP with the real SDK client, because
 * only the service model knows how a list is flattened (`Filters.Filter.1.Name`) and how the XML
 * answer maps back to members. These are polled RDS calls, not the hot path.
 */
const HTTP_SDK_SERVICES: Record<string, { module: string; client: string }> = {
  rds: { module: '@aws-sdk/client-rds', client: 'RDSClient' },
  sns: { module: '@aws-sdk/client-sns', client: 'SNSClient' },
};

interface SdkClient {
  send(command: unknown): Promise<Record<string, unknown>>;
  destroy(): void;
}

/**
 * Step Functions on the local cloud. Definitions are validated with asl-validator and run on
 * aws-local-stepfunctions; every Task resource is dispatched here: Lambda functions to the
 * in-process registry, `aws-sdk:*`, `events:putEvents`, `sns:publish` and
 * `states:startExecution(.sync)` to the local services. Executions and their history persist:
 * one row written when an execution starts, one update when it stops (the history travels
 * with it), so a busy machine costs two small writes per execution, not one per state.
 */
export class StepFunctions {
  private readonly running = new Map<string, Running>();
  private readonly compiled = new Map<string, Compiled>();
  private readonly statements = new Map<string, Statement>();
  private readonly sdkClients = new Map<string, SdkClient>();
  private readonly tags: StateMachineTags;
  private sdkEndpoint: SdkEndpoint | undefined;
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
      TAGS_MIGRATION,
    ]);
    this.tags = new StateMachineTags(o.store);
  }

  /**
   * Where SDK-client integrations (`aws-sdk:rds:*`) send their requests: the cloud's own
   * endpoint, known only once it listens.
   */
  useEndpoint(endpoint: SdkEndpoint): void {
    this.sdkEndpoint = endpoint;
  }

  private sql(text: string): Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.o.store.db.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  private smArn(name: string): string {
    return `arn:aws:states:${this.o.region}:${this.o.accountId}:stateMachine:${name}`;
  }

  private execArn(smName: string, name: string): string {
    return `arn:aws:states:${this.o.region}:${this.o.accountId}:execution:${smName}:${name}`;
  }

  private findSm(arn: string): StateMachineRow | undefined {
    return this.sql('SELECT * FROM sfn_state_machines WHERE arn = ?').get(arn) as StateMachineRow | undefined;
  }

  private sm(arn: string): StateMachineRow {
    const row = this.findSm(arn);
    if (!row) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return row;
  }

  private findExec(arn: string): ExecutionRow | undefined {
    return this.sql('SELECT * FROM sfn_executions WHERE arn = ?').get(arn) as ExecutionRow | undefined;
  }

  private exec(arn: string): ExecutionRow {
    const row = this.findExec(arn);
    if (!row) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return row;
  }

  private validate(definition: string): StateMachineDefinition {
    let parsed: unknown;
    try {
      parsed = JSON.parse(definition);
    } catch {
      throw new AwsError('InvalidDefinition', 'Invalid State Machine Definition: definition is not JSON');
    }
    // asl-validator annotates the object it is given: hand it a copy.
    const r = aslValidator(structuredClone(parsed) as never);
    if (!r.isValid) {
      const why = r.errors.map((e) => ('message' in e ? String(e.message) : JSON.stringify(e))).join('; ');
      throw new AwsError('InvalidDefinition', `Invalid State Machine Definition: ${why}`);
    }
    return parsed as StateMachineDefinition;
  }

  private compile(sm: StateMachineRow): Compiled {
    const cached = this.compiled.get(sm.arn);
    if (cached && cached.updatedMs === sm.updated_ms) return cached;
    const definition = JSON.parse(sm.definition) as StateMachineDefinition;
    const states = statesByName(definition as never);
    const c: Compiled = {
      updatedMs: sm.updated_ms,
      // Validated once at Create/Update; validating again per run costs ~100 ms.
      machine: new StateMachine(definition, { validationOptions: { noValidate: true } }),
      states,
      tasks: [...states].filter(([, s]) => s.Type === 'Task'),
    };
    this.compiled.set(sm.arn, c);
    return c;
  }

  createStateMachine(input: { name: string; definition: string; roleArn: string; tags?: Tag[] }) {
    if (!NAME.test(input.name)) throw new AwsError('InvalidName', `Invalid Name: '${input.name}'`);
    const arn = this.smArn(input.name);
    const existing = this.findSm(arn);
    // AWS: creating the same machine again is idempotent (its tags stay as they were); a
    // different one is a conflict. A definition already stored was valid then, so a restart's
    // deployment skips asl-validator (about 250 ms per machine).
    if (existing && existing.definition === input.definition && existing.role_arn === input.roleArn) {
      return { stateMachineArn: arn, creationDate: new Date(existing.created_ms) };
    }
    this.validate(input.definition);
    if (existing) throw new AwsError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
    const now = Date.now();
    this.o.store.tx(() => {
      this.sql('INSERT INTO sfn_state_machines VALUES (?, ?, ?, ?, ?, ?)').run(
        arn,
        input.name,
        input.definition,
        input.roleArn,
        now,
        now,
      );
      if (input.tags?.length) this.tags.tag(arn, input.tags);
    });
    return { stateMachineArn: arn, creationDate: new Date(now) };
  }

  updateStateMachine(input: { stateMachineArn: string; definition?: string; roleArn?: string }) {
    const row = this.sm(input.stateMachineArn);
    if (input.definition === undefined && input.roleArn === undefined)
      throw new AwsError(
        'MissingRequiredParameter',
        'Either the definition or the roleArn must be specified',
      );
    if (input.definition !== undefined) this.validate(input.definition);
    // Strictly later than the last update, so a cached compiled definition is never reused.
    const now = Math.max(Date.now(), row.updated_ms + 1);
    this.sql('UPDATE sfn_state_machines SET definition = ?, role_arn = ?, updated_ms = ? WHERE arn = ?').run(
      input.definition ?? row.definition,
      input.roleArn ?? row.role_arn,
      now,
      row.arn,
    );
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

  listStateMachines(input: { maxResults?: number; nextToken?: string } = {}) {
    const rows = this.sql('SELECT * FROM sfn_state_machines ORDER BY name').all() as StateMachineRow[];
    const { page, nextToken } = paginate(rows, input);
    return {
      stateMachines: page.map((r) => ({
        stateMachineArn: r.arn,
        name: r.name,
        type: 'STANDARD',
        creationDate: new Date(r.created_ms),
      })),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  /** Deletes the machine; running executions finish (AWS lets them run too). */
  deleteStateMachine(input: { stateMachineArn: string }) {
    this.sql('DELETE FROM sfn_state_machines WHERE arn = ?').run(input.stateMachineArn);
    this.tags.forget(input.stateMachineArn);
    this.compiled.delete(input.stateMachineArn);
    return {};
  }

  tagResource(input: { resourceArn: string; tags: Tag[] }) {
    this.taggable(input.resourceArn);
    this.tags.tag(input.resourceArn, input.tags);
    return {};
  }

  untagResource(input: { resourceArn: string; tagKeys: string[] }) {
    this.taggable(input.resourceArn);
    this.tags.untag(input.resourceArn, input.tagKeys);
    return {};
  }

  listTagsForResource(input: { resourceArn: string }) {
    this.taggable(input.resourceArn);
    return { tags: this.tags.list(input.resourceArn) };
  }

  /** Tags live on state machines here (AWS also tags activities, which the local cloud lacks). */
  private taggable(arn: string): void {
    if (!this.findSm(arn)) throw new AwsError('ResourceNotFound', `Resource not found: '${arn}'`);
  }

  /**
   * Starts an execution. The name is an idempotency key, as on AWS for STANDARD machines: the
   * same name and input while that execution still runs returns it again; a finished one, or
   * other input, is `ExecutionAlreadyExists`.
   */
  startExecution(input: { stateMachineArn: string; name?: string; input?: string }) {
    if (this.stopped) throw new AwsError('ServiceUnavailable', 'the local cloud is stopping', 503);
    const sm = this.sm(input.stateMachineArn);
    const name = input.name ?? randomUUID();
    if (!NAME.test(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
    const text = input.input ?? '{}';
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(text);
    } catch {
      throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: not JSON');
    }
    const arn = this.execArn(sm.name, name);
    const existing = this.findExec(arn);
    if (existing) {
      if (existing.input === text && existing.status === 'RUNNING') {
        return { executionArn: arn, startDate: new Date(existing.start_ms) };
      }
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const compiled = this.compile(sm);
    const start = Date.now();
    const history = new ExecutionHistory();
    history.started(text, sm.role_arn, start);
    // The first event is stored with the row: an execution a crash interrupts keeps it.
    this.sql(
      "INSERT INTO sfn_executions (arn, sm_arn, name, status, input, start_ms, history) VALUES (?, ?, ?, 'RUNNING', ?, ?, ?)",
    ).run(arn, sm.arn, name, text, start, JSON.stringify(history));
    this.launch(sm, compiled, history, arn, name, parsedInput, text, start);
    return { executionArn: arn, startDate: new Date(start) };
  }

  private launch(
    sm: StateMachineRow,
    compiled: Compiled,
    history: ExecutionHistory,
    arn: string,
    name: string,
    input: unknown,
    inputText: string,
    start: number,
  ): void {
    this.publishStatus(sm, arn, name, 'RUNNING', inputText, start);
    const running: Running = { history, abort: () => {}, done: Promise.resolve(), children: new Set() };

    // The runner's local handlers are keyed by state name (its only hook); names are unique
    // across a machine, nested Map/Parallel states included, so each maps to one resource.
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, state] of compiled.tasks) {
      handlers[stateName] = (taskInput) => this.runTask(state, taskInput, running, arn);
    }
    const run = compiled.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      context: {
        Execution: { Id: arn, Name: name, RoleArn: sm.role_arn },
        StateMachine: { Id: sm.arn, Name: sm.name },
      },
    });
    running.abort = run.abort;
    const consume = (async () => {
      for await (const ev of run.eventLogs) history.record(ev as unknown as RunnerEvent, compiled.states);
    })();

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
      // The event log closes with the execution; an abort may leave it open, so bound the wait.
      await Promise.race([consume, new Promise((r) => setTimeout(r, 50))]);
      if (this.abandoned) {
        this.running.delete(arn);
        return;
      }
      const stop = Date.now();
      history.finished(status, { output, error, cause }, stop);
      // One transaction: a kill -9 cannot leave the execution stopped without its status event
      // (which is what starts the repair of a failed rotation).
      this.o.store.tx(() => {
        this.sql(
          'UPDATE sfn_executions SET status = ?, output = ?, error = ?, cause = ?, stop_ms = ?, history = ? WHERE arn = ?',
        ).run(status, output, error, cause, stop, JSON.stringify(history), arn);
        this.publishStatus(sm, arn, name, status, inputText, start, stop, output, error, cause);
      });
      this.running.delete(arn);
    })().catch((err: unknown) => {
      this.o.logger.error('execution bookkeeping failed', { executionArn: arn, error: String(err) });
      this.running.delete(arn);
    });
    this.running.set(arn, running);
  }

  /** One Task attempt: history events around the dispatch to its resource. */
  private async runTask(
    state: AslState,
    taskInput: unknown,
    running: Running,
    arn: string,
  ): Promise<unknown> {
    const resource = String(state.Resource);
    // Let the runner's own TaskStateEntered land in the history first.
    await new Promise((r) => setImmediate(r));
    running.history.taskScheduled(resource, taskInput, state.TimeoutSeconds, this.o.region);
    try {
      const out = await this.invokeResource(resource, taskInput, running, arn);
      running.history.taskSucceeded(resource, out);
      return out;
    } catch (err) {
      const e = err instanceof TaskError ? err : new TaskError('States.TaskFailed', (err as Error).message);
      running.history.taskFailed(resource, e.name, e.message);
      throw e;
    }
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
        inputDetails: { included: true },
        output: output ?? null,
        outputDetails: output ? { included: true } : null,
        ...(error ? { error } : {}),
        ...(cause ? { cause } : {}),
      },
    });
  }

  /** Runs one Task resource. */
  private async invokeResource(
    resource: string,
    input: unknown,
    running: Running,
    parentArn: string,
  ): Promise<unknown> {
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
      return this.callJson('AWSEvents', 'PutEvents', { Entries: entries }, (c) => `EventBridge.${c}`);
    }
    if (target === 'sns:publish') return this.callQuery('sns', 'Publish', params, (c) => `SNS.${c}`);
    if (target.startsWith('states:startExecution'))
      return this.startChild(target, params, running, parentArn);
    const sdk = /^aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/.exec(target);
    if (sdk?.[1] && sdk[2]) return this.callSdk(sdk[1], camelToPascal(sdk[2]), params);
    throw new TaskError('States.Runtime', `unsupported Task resource ${resource}`);
  }

  private async invokeLambda(fn: string, input: unknown): Promise<unknown> {
    try {
      return await this.o.lambdas.invoke(fn, input);
    } catch (err) {
      if (err instanceof LambdaNotFoundError)
        throw new TaskError('Lambda.ResourceNotFoundException', err.message);
      if (err instanceof LambdaTimeoutError) throw new TaskError('Sandbox.Timedout', err.message);
      const e = err as Error;
      // The handler's error name is the ASL error name (errorType on AWS); message is the cause.
      throw new TaskError(e.name && e.name !== 'Error' ? e.name : 'Error', e.message);
    }
  }

  private async callSdk(service: string, action: string, params: Record<string, unknown>): Promise<unknown> {
    const apiInput = toApiShape(service, params) as Record<string, unknown>;
    const jsonTarget = JSON_SDK_SERVICES[service];
    if (jsonTarget) {
      const out = await this.callJson(jsonTarget, action, apiInput, (c) => sdkErrorName(service, c));
      return toJavaShape(out);
    }
    const spec = HTTP_SDK_SERVICES[service];
    if (!spec)
      throw new TaskError('States.Runtime', `aws-sdk:${service} is not available on the local cloud`);
    if (!this.sdkEndpoint)
      throw new TaskError('States.Runtime', `aws-sdk:${service} needs the endpoint (useEndpoint) first`);
    // Loaded on first use: most runs never touch these clients, and they are large.
    const mod = require(spec.module) as Record<string, unknown>;
    const Command = mod[`${action}Command`] as (new (input: unknown) => unknown) | undefined;
    if (!Command) throw new TaskError('States.Runtime', `aws-sdk:${service}:${action} is not an API action`);
    let client = this.sdkClients.get(service);
    if (!client) {
      const Client = mod[spec.client] as new (config: unknown) => SdkClient;
      client = new Client({ ...this.sdkEndpoint, maxAttempts: 1 });
      this.sdkClients.set(service, client);
    }
    try {
      return toJavaShape(toJsonWire(await client.send(new Command(apiInput))));
    } catch (err) {
      const e = err as Error & { $metadata?: unknown };
      if (e.$metadata) throw new TaskError(sdkErrorName(service, e.name), e.message);
      throw new TaskError('States.TaskFailed', e.message);
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

  private async callJson(
    target: string,
    op: string,
    input: unknown,
    errorName: (code: string) => string,
  ): Promise<unknown> {
    const svc = this.o.services.jsonService(target);
    const fn = svc?.operations[op];
    if (!fn) throw new TaskError('States.Runtime', `${target}.${op} is not available on the local cloud`);
    try {
      return toJsonWire(await fn((input ?? {}) as Record<string, unknown>, this.internalContext(target)));
    } catch (err) {
      if (err instanceof AwsError) throw new TaskError(errorName(err.code), err.message);
      throw err;
    }
  }

  private async callQuery(
    signingName: string,
    action: string,
    input: Record<string, unknown>,
    errorName: (code: string) => string,
  ) {
    const svc = this.o.services.queryService(action, signingName);
    const fn = svc?.actions[action];
    if (!fn)
      throw new TaskError('States.Runtime', `${signingName}:${action} is not available on the local cloud`);
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(input)) {
      if (v === undefined || v === null) continue;
      // sns:publish takes a JSON Message as an object and sends its text.
      flat[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    try {
      return toJsonWire(await fn(flat, this.internalContext(signingName)));
    } catch (err) {
      if (err instanceof AwsError) throw new TaskError(errorName(err.code), err.message);
      throw err;
    }
  }

  /** `states:startExecution`, `.sync` (Output as text) and `.sync:2` (Output as JSON). */
  private async startChild(
    target: string,
    params: Record<string, unknown>,
    parent: Running,
    parentArn: string,
  ): Promise<unknown> {
    const input = params['Input'];
    let started: { executionArn: string; startDate: Date };
    try {
      started = this.startExecution({
        stateMachineArn: String(params['StateMachineArn']),
        ...(params['Name'] ? { name: String(params['Name']) } : {}),
        input: typeof input === 'string' ? input : JSON.stringify(input ?? {}),
      });
    } catch (err) {
      if (err instanceof AwsError) throw new TaskError(sdkErrorName('StepFunctions', err.code), err.message);
      throw err;
    }
    if (target === 'states:startExecution')
      return { ExecutionArn: started.executionArn, StartDate: started.startDate.getTime() };
    parent.children.add(started.executionArn);
    try {
      await this.awaitExecution(started.executionArn);
    } finally {
      parent.children.delete(started.executionArn);
    }
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
      inputDetails: { included: true },
      ...(r.output !== null ? { output: r.output, outputDetails: { included: true } } : {}),
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
    let events: HistoryEvent[] = live ? [...live.history.events] : ExecutionHistory.parse(r.history).events;
    if (input.reverseOrder) events = events.reverse();
    const { page, nextToken } = paginate(events, input);
    return { events: page, ...(nextToken ? { nextToken } : {}) };
  }

  listExecutions(input: {
    stateMachineArn: string;
    statusFilter?: string;
    maxResults?: number;
    nextToken?: string;
  }) {
    this.sm(input.stateMachineArn);
    const rows = (
      input.statusFilter
        ? this.sql(
            `SELECT arn, sm_arn, name, status, start_ms, stop_ms FROM sfn_executions WHERE sm_arn = ? AND status = ?
             ORDER BY start_ms DESC, rowid DESC`,
          ).all(input.stateMachineArn, input.statusFilter)
        : this.sql(
            `SELECT arn, sm_arn, name, status, start_ms, stop_ms FROM sfn_executions WHERE sm_arn = ?
             ORDER BY start_ms DESC, rowid DESC`,
          ).all(input.stateMachineArn)
    ) as ExecutionRow[];
    const { page, nextToken } = paginate(rows, input);
    return {
      executions: page.map((e) => ({
        executionArn: e.arn,
        stateMachineArn: e.sm_arn,
        name: e.name,
        status: e.status,
        startDate: new Date(e.start_ms),
        ...(e.stop_ms ? { stopDate: new Date(e.stop_ms) } : {}),
      })),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  /** Aborts a running execution (and the `.sync` children it waits for). */
  stopExecution(input: { executionArn: string; error?: string; cause?: string }) {
    const r = this.exec(input.executionArn);
    const live = this.running.get(r.arn);
    if (live) {
      live.stopRequested = { error: input.error, cause: input.cause };
      live.abort();
      for (const child of live.children)
        this.stopExecution({
          executionArn: child,
          error: 'States.Aborted',
          cause: 'parent execution stopped',
        });
    }
    return { stopDate: new Date() };
  }

  /** Resolves when the execution has stopped (at once if it is not running here). */
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

  /** How many executions run in this process now. */
  get runningCount(): number {
    return this.running.size;
  }

  /**
   * After a restart: executions that were RUNNING when the cloud died are marked FAILED
   * (error `States.Runtime`), not resumed. A Task may have half-run (a password changed on the
   * server but not yet stored), and re-running it from a guessed point could do it twice; only
   * the workflow's own repair path knows what a half-done step means. Failing emits the
   * status-change event that starts it (on-rotation-failure rolls a rotation forward or back).
   *
   * A machine tagged `opts.rerunTag` = `true` declares that its steps are idempotent (the repair
   * workflows): its interrupted executions are also started again from the beginning with the
   * same input as `<name>-rerun-<n>`, at most `opts.maxReruns` times. Marking one failed, its
   * event and its rerun are one transaction, so a crash during recovery loses none of them.
   * boot.ts calls this once handlers and rules exist, so the events find their rules.
   */
  recoverInterrupted(opts: RecoveryOptions = {}): number {
    const rows = this.sql("SELECT * FROM sfn_executions WHERE status = 'RUNNING'").all() as ExecutionRow[];
    let failed = 0;
    for (const r of rows) {
      if (this.running.has(r.arn)) continue;
      const sm = this.findSm(r.sm_arn);
      const rerun = sm ? this.rerunOf(sm, r.name, opts) : undefined;
      const stop = Date.now();
      const cause = `The local cloud stopped while this execution was running (local cloud restarted)${
        rerun ? `; started again as ${rerun}` : ''
      }`;
      const history = ExecutionHistory.parse(r.history);
      if (history.events.length === 0) history.started(r.input, '', r.start_ms);
      history.finished('FAILED', { error: 'States.Runtime', cause }, stop);
      this.o.store.tx(() => {
        this.sql(
          "UPDATE sfn_executions SET status = 'FAILED', error = 'States.Runtime', cause = ?, stop_ms = ?, history = ? WHERE arn = ?",
        ).run(cause, stop, JSON.stringify(history), r.arn);
        if (!sm) return;
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
        if (rerun) this.startExecution({ stateMachineArn: sm.arn, name: rerun, input: r.input });
      });
      failed++;
      if (rerun) this.o.logger.info('interrupted execution started again', { executionArn: r.arn, rerun });
    }
    return failed;
  }

  /** The name an interrupted execution is rerun under, if its machine asks for reruns and attempts remain. */
  private rerunOf(sm: StateMachineRow, name: string, opts: RecoveryOptions): string | undefined {
    if (!opts.rerunTag || this.tags.value(sm.arn, opts.rerunTag) !== 'true') return undefined;
    const next = rerunName(name, opts.maxReruns ?? DEFAULT_MAX_RERUNS);
    if (next === undefined) {
      this.o.logger.error('interrupted execution left failed: it was started again too often', {
        executionArn: this.execArn(sm.name, name),
      });
      return undefined;
    }
    // A shortened long name could meet an existing execution; that one is not overwritten.
    return this.findExec(this.execArn(sm.name, next)) ? undefined : next;
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
    for (const c of this.sdkClients.values()) c.destroy();
    this.sdkClients.clear();
  }
}

/** AWS-style paging over an in-memory list; the token is an opaque offset. */
function paginate<T>(items: T[], input: { maxResults?: number; nextToken?: string }) {
  let start = 0;
  if (input.nextToken) {
    start = Number(Buffer.from(input.nextToken, 'base64url').toString());
    if (!Number.isInteger(start) || start < 0)
      throw new AwsError('InvalidToken', `Invalid Token: '${input.nextToken}'`);
  }
  const max = input.maxResults && input.maxResults > 0 ? input.maxResults : 100;
  const page = items.slice(start, start + max);
  const nextToken =
    start + max < items.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
  return { page, nextToken };
}
