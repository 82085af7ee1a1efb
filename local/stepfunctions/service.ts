import type { EventLog as CloudEvents } from '../events/log';
import { AwsError } from '../http/errors';
import type { ServiceRegistry } from '../http/registry';
import type { LocalIam } from '../iam/local-iam';
import type { LambdaRegistry } from '../lambda/registry';
import type { LocalLogger } from '../log';
import { type QuotaSettings, quotasOff } from '../quotas';
import type { Store } from '../store/db';
import { Executions } from './executions';
import { CompiledMachines, NAME, paginate, validateDefinition } from './machines';
import { ExecutionQuotas } from './quotas';
import { type RecoveryOptions, recoverInterrupted } from './recovery';
import { type StateMachineRow, StepFunctionsStore, type Tag } from './store';
import { tagMachine, untagMachine } from './tags';
import { type SdkEndpoint, TaskDispatcher } from './tasks';

export type { HistoryEvent } from './history';
export type { RecoveryOptions } from './recovery';
export type { ExecutionStatus, Tag } from './store';
export type { SdkEndpoint } from './tasks';

export interface StepFunctionsOptions {
  /** IAM: a state machine calls its integrations as its role. */
  iam?: LocalIam | undefined;
  store: Store;
  events: CloudEvents;
  lambdas: LambdaRegistry;
  services: ServiceRegistry;
  region: string;
  accountId: string;
  logger: LocalLogger;
  /** Payload and history quotas (`limits`); default none. */
  quotas?: QuotaSettings | undefined;
}

/**
 * Step Functions on the local cloud. Definitions are validated by the runner's own checks and
 * asl-validator (machines.ts) and run on the project's own runner (runner/); executions, their history and status events live in
 * executions.ts; every Task resource is dispatched by tasks.ts: Lambda functions to the
 * in-process registry, `aws-sdk:*`, `events:putEvents`, `sns:publish` and
 * `states:startExecution(.sync)` to the local services. This class answers the API.
 */
export class StepFunctions {
  private readonly db: StepFunctionsStore;
  private readonly machines = new CompiledMachines();
  private readonly executions: Executions;
  private readonly tasks: TaskDispatcher;

  constructor(private readonly o: StepFunctionsOptions) {
    this.db = new StepFunctionsStore(o.store);
    const quotas = new ExecutionQuotas(o.quotas ?? quotasOff());
    this.executions = new Executions({ db: this.db, machines: this.machines, ...o, quotas });
    this.tasks = new TaskDispatcher({ ...o, executions: this.executions });
    this.executions.dispatchTo(this.tasks);
  }

  /**
   * Where SDK-client integrations (`aws-sdk:rds:*`) send their requests: the cloud's own
   * endpoint, known only once it listens.
   */
  useEndpoint(endpoint: SdkEndpoint): void {
    this.tasks.useEndpoint(endpoint);
  }

  /** The role a state machine runs as (its `roleArn`), for IAM; undefined for no such machine. */
  roleOf(machineArn: string): string | undefined {
    return this.db.machine(machineArn)?.role_arn;
  }

  /**
   * Step Functions refuses a role it could not assume (its trust policy does not name
   * states.amazonaws.com or states.<region>.amazonaws.com, or no such role): AWS's
   * AccessDeniedException with its words, as CreateStateMachine and UpdateStateMachine answer it.
   */
  private assumable(roleArn: string): void {
    if (this.o.iam?.enabled && !this.o.iam.mayAssume(roleArn, 'states', { log: true }))
      throw new AwsError(
        'AccessDeniedException',
        'Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.',
      );
  }

  private smArn(name: string): string {
    return `arn:aws:states:${this.o.region}:${this.o.accountId}:stateMachine:${name}`;
  }

  private sm(arn: string): StateMachineRow {
    const row = this.db.machine(arn);
    if (!row) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return row;
  }

  // ------------------------------------------------------------------ state machines

  createStateMachine(input: { name: string; definition: string; roleArn: string; tags?: Tag[] }) {
    if (!NAME.test(input.name)) throw new AwsError('InvalidName', `Invalid Name: '${input.name}'`);
    this.assumable(input.roleArn);
    const arn = this.smArn(input.name);
    const existing = this.db.machine(arn);
    // AWS: creating the same machine again is idempotent (its tags stay as they were); a
    // different one is a conflict. A definition already stored was valid then, so a restart's
    // deployment skips asl-validator (about 250 ms per machine).
    if (existing && existing.definition === input.definition && existing.role_arn === input.roleArn) {
      return { stateMachineArn: arn, creationDate: new Date(existing.created_ms) };
    }
    validateDefinition(input.definition);
    if (existing) throw new AwsError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
    const now = Date.now();
    this.db.tx(() => {
      this.db.insertMachine({
        arn,
        name: input.name,
        definition: input.definition,
        role_arn: input.roleArn,
        created_ms: now,
        updated_ms: now,
      });
      if (input.tags?.length) tagMachine(this.db, arn, input.tags);
    });
    return { stateMachineArn: arn, creationDate: new Date(now) };
  }

  updateStateMachine(input: { stateMachineArn: string; definition?: string; roleArn?: string }) {
    const row = this.sm(input.stateMachineArn);
    if (input.definition === undefined && input.roleArn === undefined)
      // AWS's words, recorded (the local cloud has no logging or tracing configuration to take).
      throw new AwsError(
        'MissingRequiredParameter',
        'Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified',
      );
    if (input.roleArn !== undefined) this.assumable(input.roleArn);
    if (input.definition !== undefined) validateDefinition(input.definition);
    // Strictly later than the last update, so a cached compiled definition is never reused.
    const now = Math.max(Date.now(), row.updated_ms + 1);
    this.db.updateMachine(row.arn, input.definition ?? row.definition, input.roleArn ?? row.role_arn, now);
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
    const { page, nextToken } = paginate(this.db.machines(), input);
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
    this.db.deleteMachine(input.stateMachineArn);
    this.machines.forget(input.stateMachineArn);
    return {};
  }

  tagResource(input: { resourceArn: string; tags: Tag[] }) {
    this.taggable(input.resourceArn);
    tagMachine(this.db, input.resourceArn, input.tags);
    return {};
  }

  untagResource(input: { resourceArn: string; tagKeys: string[] }) {
    this.taggable(input.resourceArn);
    untagMachine(this.db, input.resourceArn, input.tagKeys);
    return {};
  }

  listTagsForResource(input: { resourceArn: string }) {
    this.taggable(input.resourceArn);
    return { tags: this.db.tags(input.resourceArn) };
  }

  /** Tags live on state machines here (AWS also tags activities, which the local cloud lacks). */
  private taggable(arn: string): void {
    if (!this.db.machine(arn)) throw new AwsError('ResourceNotFound', `Resource not found: '${arn}'`);
  }

  // ------------------------------------------------------------------ executions

  /**
   * Starts an execution. The name is an idempotency key, as on AWS for STANDARD machines: the
   * same name and input while that execution still runs returns it again; a finished one, or
   * other input, is `ExecutionAlreadyExists`.
   */
  startExecution(input: { stateMachineArn: string; name?: string; input?: string }) {
    return this.executions.startExecution(input);
  }

  describeExecution(input: { executionArn: string }) {
    return this.executions.describeExecution(input);
  }

  getExecutionHistory(input: {
    executionArn: string;
    maxResults?: number;
    nextToken?: string;
    reverseOrder?: boolean;
  }) {
    return this.executions.getExecutionHistory(input);
  }

  listExecutions(input: {
    stateMachineArn: string;
    statusFilter?: string;
    maxResults?: number;
    nextToken?: string;
  }) {
    return this.executions.listExecutions(input);
  }

  /** Aborts a running execution (and the `.sync` children it waits for). */
  stopExecution(input: { executionArn: string; error?: string; cause?: string }) {
    return this.executions.stopExecution(input);
  }

  /** Resolves when the execution has stopped (at once if it is not running here). */
  awaitExecution(executionArn: string): Promise<void> {
    return this.executions.awaitExecution(executionArn);
  }

  /** Resolves when no execution is running (including ones started meanwhile). */
  awaitIdle(): Promise<void> {
    return this.executions.awaitIdle();
  }

  /** How many executions run in this process now. */
  get runningCount(): number {
    return this.executions.runningCount;
  }

  /**
   * After a restart: fails the executions a crash interrupted and reruns those of machines
   * tagged as idempotent (see recovery.ts). boot.ts calls this once handlers and rules exist,
   * so the events find their rules.
   */
  recoverInterrupted(opts: RecoveryOptions = {}): number {
    return recoverInterrupted({ db: this.db, executions: this.executions, ...this.o }, opts);
  }

  /** Stops accepting executions; waits for running ones up to `graceMs`, then aborts them. */
  async stop(graceMs: number): Promise<void> {
    await this.executions.stop(graceMs);
    this.tasks.destroy();
  }
}
