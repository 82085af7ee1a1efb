/**
 * Where a Task state's resource goes: Lambda functions to the in-process registry,
 * `lambda:invoke`, `aws-sdk:*`, `events:putEvents`, `sns:publish` and `states:startExecution`
 * (`.sync`, `.sync:2`) to the local services. Failures become errors named as ASL Retry/Catch
 * match them.
 */
import { randomUUID } from 'node:crypto';
import { LocalCloudError } from '../errors';
import { AwsError } from '../http/errors';
import type { RequestContext, ServiceRegistry } from '../http/registry';
import { toJsonWire } from '../http/server';
import type { Caller, LocalIam } from '../iam/local-iam';
import { LambdaNotFoundError, type LambdaRegistry, LambdaTimeoutError } from '../lambda/registry';
import type { LocalLogger } from '../log';
import { sdkErrorName, toApiShape, toJavaShape } from './integrations';
import type { ExecutionStatus } from './store';

/** A failed Task, named as ASL Retry/Catch will match it. */
export class TaskError extends LocalCloudError {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** Endpoint and credentials for integrations that go through a real SDK client. */
export interface SdkEndpoint {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
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

/** A child execution as `.sync` integrations report it. */
export interface ChildDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

/** What `states:startExecution` needs of Step Functions itself. */
export interface ChildExecutions {
  startExecution(input: { stateMachineArn: string; name?: string; input?: string }): {
    executionArn: string;
    startDate: Date;
  };
  awaitExecution(executionArn: string): Promise<void>;
  describeExecution(input: { executionArn: string }): ChildDescription;
}

/** The running execution a Task belongs to. */
export interface TaskParent {
  arn: string;
  /** `.sync` children: stopping the parent stops them, as on AWS. */
  children: Set<string>;
}

export interface TaskDispatcherOptions {
  /** IAM: the integrations are authorized as the state machine's role. */
  iam?: LocalIam | undefined;
  lambdas: LambdaRegistry;
  services: ServiceRegistry;
  region: string;
  logger: LocalLogger;
  executions: ChildExecutions;
}

function camelToPascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export class TaskDispatcher {
  private readonly sdkClients = new Map<string, SdkClient>();
  private sdkEndpoint: SdkEndpoint | undefined;

  constructor(private readonly o: TaskDispatcherOptions) {}

  /** Where SDK-client integrations send their requests, once the cloud listens. */
  useEndpoint(endpoint: SdkEndpoint): void {
    this.sdkEndpoint = endpoint;
  }

  /**
   * Runs one Task resource. `submitted` hears of a `.sync` request once it went out (the
   * history's TaskSubmitted).
   */
  async invoke(
    resource: string,
    input: unknown,
    parent: TaskParent,
    submitted?: (output: unknown) => void,
  ): Promise<unknown> {
    if (resource.startsWith('arn:aws:lambda:')) return this.invokeLambda(resource, input, parent);
    const m = /^arn:aws:states:::(.+)$/.exec(resource);
    if (!m?.[1]) throw new TaskError('States.Runtime', `unsupported Task resource ${resource}`);
    const target = m[1];
    const params = (input ?? {}) as Record<string, unknown>;
    if (target === 'lambda:invoke') {
      const payload = await this.invokeLambda(String(params['FunctionName']), params['Payload'], parent);
      return { Payload: payload, StatusCode: 200, ExecutedVersion: '$LATEST' };
    }
    if (target === 'events:putEvents') {
      const entries = ((params['Entries'] as Record<string, unknown>[]) ?? []).map((e) => ({
        ...e,
        Detail: typeof e['Detail'] === 'string' ? e['Detail'] : JSON.stringify(e['Detail'] ?? {}),
      }));
      return this.callJson('AWSEvents', 'PutEvents', { Entries: entries }, (c) => `EventBridge.${c}`, parent);
    }
    if (target === 'sns:publish') return this.callQuery('sns', 'Publish', params, (c) => `SNS.${c}`, parent);
    if (target.startsWith('states:startExecution')) return this.startChild(target, params, parent, submitted);
    const sdk = /^aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/.exec(target);
    if (sdk?.[1] && sdk[2]) return this.callSdk(sdk[1], camelToPascal(sdk[2]), params, parent);
    throw new TaskError('States.Runtime', `unsupported Task resource ${resource}`);
  }

  /** Closes the SDK clients the integrations opened. */
  destroy(): void {
    for (const c of this.sdkClients.values()) c.destroy();
    this.sdkClients.clear();
  }

  /**
   * IAM's check of one integration call, as the state machine's role; a denial fails the Task with
   * the integration's error name, as on AWS.
   */
  private authorize(
    parent: TaskParent,
    check: (iam: LocalIam, caller: Caller) => void,
    errorName: string,
  ): void {
    const iam = this.o.iam;
    if (!iam?.enabled) return;
    try {
      check(iam, iam.stateMachine(parent.arn));
    } catch (err) {
      if (err instanceof AwsError) throw new TaskError(errorName, err.message);
      throw err;
    }
  }

  private async invokeLambda(fn: string, input: unknown, parent: TaskParent): Promise<unknown> {
    const own = this.o.lambdas.resolve(fn);
    const fnArn = own ? this.o.lambdas.arn(own) : fn;
    this.authorize(parent, (iam, caller) => iam.requireInvoke(caller, fnArn), 'Lambda.AWSLambdaException');
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

  private async callSdk(
    service: string,
    action: string,
    params: Record<string, unknown>,
    parent: TaskParent,
  ): Promise<unknown> {
    const apiInput = toApiShape(service, params) as Record<string, unknown>;
    const jsonTarget = JSON_SDK_SERVICES[service];
    if (jsonTarget) {
      const out = await this.callJson(jsonTarget, action, apiInput, (c) => sdkErrorName(service, c), parent);
      return toJavaShape(out);
    }
    // Sent over HTTP with the cloud's own key: authorized here first, as the machine's role.
    this.authorize(
      parent,
      (iam, caller) => iam.requireCall(caller, service, action, apiInput),
      sdkErrorName(service, 'AccessDeniedException'),
    );
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

  private internalContext(service: string, signingName: string, parent: TaskParent): RequestContext {
    const iam = this.o.iam;
    return {
      // A call authorized again per item (BatchGetSecretValue) is decided for the machine's role.
      denial: iam?.enabled ? iam.denialFor(iam.stateMachine(parent.arn), signingName) : undefined,
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
    parent: TaskParent,
  ): Promise<unknown> {
    const svc = this.o.services.jsonService(target);
    const fn = svc?.operations[op];
    if (!svc || !fn)
      throw new TaskError('States.Runtime', `${target}.${op} is not available on the local cloud`);
    this.authorize(
      parent,
      (iam, caller) => iam.requireCall(caller, svc.signingName, op, (input ?? {}) as Record<string, unknown>),
      errorName('AccessDeniedException'),
    );
    try {
      return toJsonWire(
        await fn(
          (input ?? {}) as Record<string, unknown>,
          this.internalContext(target, svc.signingName, parent),
        ),
      );
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
    parent: TaskParent,
  ) {
    const svc = this.o.services.queryService(action, signingName);
    const fn = svc?.actions[action];
    if (!fn)
      throw new TaskError('States.Runtime', `${signingName}:${action} is not available on the local cloud`);
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(input)) {
      if (v === undefined || v === null) continue;
      if (k === 'MessageAttributes' && typeof v === 'object') {
        // The query protocol's map form: MessageAttributes.entry.N.Name / .Value.<field>.
        let n = 0;
        for (const [name, value] of Object.entries(v as Record<string, Record<string, unknown>>)) {
          n++;
          flat[`MessageAttributes.entry.${n}.Name`] = name;
          for (const [f, x] of Object.entries(value ?? {}))
            if (x !== undefined && x !== null) flat[`MessageAttributes.entry.${n}.Value.${f}`] = String(x);
        }
        continue;
      }
      // sns:publish takes a JSON Message as an object and sends its text.
      flat[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    this.authorize(
      parent,
      (iam, caller) => iam.requireCall(caller, signingName, action, flat),
      errorName(svc?.accessDeniedCode ?? 'AccessDenied'),
    );
    try {
      return toJsonWire(await fn(flat, this.internalContext(signingName, signingName, parent)));
    } catch (err) {
      if (err instanceof AwsError) throw new TaskError(errorName(err.code), err.message);
      throw err;
    }
  }

  /** `states:startExecution`, `.sync` (Output as text) and `.sync:2` (Output as JSON). */
  private async startChild(
    target: string,
    params: Record<string, unknown>,
    parent: TaskParent,
    submitted?: (output: unknown) => void,
  ): Promise<unknown> {
    const input = params['Input'];
    const executions = this.o.executions;
    const denied = sdkErrorName('StepFunctions', 'AccessDeniedException');
    const child = String(params['StateMachineArn']);
    this.authorize(
      parent,
      (iam, caller) => {
        iam.requireCall(caller, 'states', 'StartExecution', { stateMachineArn: child });
        if (target === 'states:startExecution') return;
        // `.sync`: Step Functions follows the child through a managed rule and DescribeExecution.
        const rule = `arn:aws:events:${this.o.region}:${/^arn:[^:]+:states:[^:]*:(\d+):/.exec(parent.arn)?.[1] ?? ''}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`;
        for (const action of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'])
          iam.gate.require(caller, { action, resource: rule });
      },
      denied,
    );
    let started: { executionArn: string; startDate: Date };
    try {
      started = executions.startExecution({
        stateMachineArn: String(params['StateMachineArn']),
        ...(params['Name'] ? { name: String(params['Name']) } : {}),
        input: typeof input === 'string' ? input : JSON.stringify(input ?? {}),
      });
    } catch (err) {
      if (err instanceof AwsError) throw new TaskError(sdkErrorName('StepFunctions', err.code), err.message);
      throw err;
    }
    const response = { ExecutionArn: started.executionArn, StartDate: started.startDate.getTime() };
    if (target === 'states:startExecution') return response;
    this.authorize(
      parent,
      (iam, caller) =>
        iam.requireCall(caller, 'states', 'DescribeExecution', { executionArn: started.executionArn }),
      denied,
    );
    submitted?.(response);
    parent.children.add(started.executionArn);
    try {
      await executions.awaitExecution(started.executionArn);
    } finally {
      parent.children.delete(started.executionArn);
    }
    const d = executions.describeExecution({ executionArn: started.executionArn });
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
        parentArn: parent.arn,
        child: d.executionArn,
        status: d.status,
      });
      throw new TaskError('States.TaskFailed', JSON.stringify({ ...out, Error: d.error, Cause: d.cause }));
    }
    return out;
  }
}
