/**
 * The conformance suite's harness: the bare local cloud, driven through the real SFN client. Each
 * case creates a machine, runs it to the end and reads back DescribeExecution and the whole
 * history, as a user of Step Functions would. The AWS behaviour each case holds the runner to is
 * cited next to it: the Step Functions developer guide, and where the guide is silent, what
 * executions recorded on AWS show.
 */
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { type Harness, startLocalCloud } from '../../support/cloud';

export const ROLE = 'arn:aws:iam::000000000000:role/conformance';

export interface Run {
  execution: DescribeExecutionCommandOutput;
  events: HistoryEvent[];
  /** The parsed output of a SUCCEEDED execution. */
  output: unknown;
}

export interface Sfn {
  h: Harness;
  client: SFNClient;
  /** Creates a machine from `definition`; returns its ARN. */
  create(definition: unknown): Promise<string>;
  /** Runs a new machine (or an existing ARN) to the end. */
  run(definition: unknown, input?: unknown): Promise<Run>;
  /** A function ARN that calls `handler` in-process. */
  lambda(name: string, handler: (event: unknown) => Promise<unknown>): string;
  stop(): Promise<void>;
}

let seq = 0;

export async function startSfn(): Promise<Sfn> {
  const h = await startLocalCloud();
  const client = new SFNClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
  const create = async (definition: unknown) => {
    const out = await client.send(
      new CreateStateMachineCommand({
        name: `conf-${process.pid}-${++seq}`,
        definition: typeof definition === 'string' ? definition : JSON.stringify(definition),
        roleArn: ROLE,
      }),
    );
    return out.stateMachineArn as string;
  };
  return {
    h,
    client,
    create,
    async run(definition, input = {}) {
      const arn =
        typeof definition === 'string' && definition.startsWith('arn:')
          ? definition
          : await create(definition);
      const { executionArn } = await client.send(
        new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(input) }),
      );
      await h.cloud.stepFunctions.awaitExecution(executionArn as string);
      const execution = await client.send(new DescribeExecutionCommand({ executionArn }));
      const events: HistoryEvent[] = [];
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new GetExecutionHistoryCommand({ executionArn, ...(nextToken ? { nextToken } : {}) }),
        );
        events.push(...(page.events ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
      const output = execution.output === undefined ? undefined : JSON.parse(execution.output);
      return { execution, events, output };
    },
    lambda(name, handler) {
      h.cloud.lambdas.register(name, handler);
      return h.cloud.lambdas.arn(name);
    },
    async stop() {
      client.destroy();
      await h.stop();
    },
  };
}

/** `[id, previousEventId, type]` of every event: the shape AWS's causal order is checked in. */
export function chain(events: HistoryEvent[]): [number, number, string][] {
  return events.map((e) => [e.id ?? 0, e.previousEventId ?? 0, e.type ?? '']);
}

export function types(events: HistoryEvent[]): string[] {
  return events.map((e) => e.type ?? '');
}

/** The `...EventDetails` of the first event of a type. */
export function detailsOf(events: HistoryEvent[], type: string): Record<string, unknown> | undefined {
  const e = events.find((x) => x.type === type) as Record<string, unknown> | undefined;
  if (!e) return undefined;
  const key = Object.keys(e).find((k) => k.endsWith('EventDetails'));
  return key ? (e[key] as Record<string, unknown>) : {};
}

/** The error and cause an execution failed with. */
export function failure(run: Run): { status?: string; error?: string; cause?: string } {
  const { status, error, cause } = run.execution;
  return {
    ...(status ? { status } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
}

/** A one-state machine around `state` (named S). */
export function single(state: Record<string, unknown>, top: Record<string, unknown> = {}) {
  return {
    ...top,
    StartAt: 'S',
    States: {
      S: { ...state, End: state['Type'] === 'Fail' || state['Type'] === 'Succeed' ? undefined : true },
    },
  };
}
