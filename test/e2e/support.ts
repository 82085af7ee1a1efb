import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { type ExecutionListItem, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { type Connection, type Workflow, workflowArn } from '../../cli/context';
import { type ExecutionResult, runWorkflow } from '../../cli/run';
import { LOCAL_STAGE } from '../../local/boot';
import { engineFor } from '../../src/engines';
import { credentialsOf } from '../../src/rotation/master';
import { parseDbSecret } from '../../src/secret';
import type { TestCloud } from '../support/cloud';

/** The CLI's connection type over a test cloud, so tests start workflows exactly as the CLI does. */
export function connectionOf(tc: TestCloud): Connection {
  return {
    clients: tc.clients,
    stage: LOCAL_STAGE,
    mode: 'local',
    region: tc.cloud.region,
    endpoint: tc.cloud.endpoint,
  };
}

/** Runs a workflow to its end; fails the test with the execution's error when it does not succeed. */
export async function succeed(
  conn: Connection,
  workflow: Workflow,
  input: unknown,
): Promise<Record<string, unknown>> {
  const r = await runWorkflow(conn, workflow, input);
  if (r.status !== 'SUCCEEDED') throw new Error(`${workflow} ${r.status}: ${r.error}: ${r.cause}`);
  return r.output as Record<string, unknown>;
}

export async function run(conn: Connection, workflow: Workflow, input: unknown): Promise<ExecutionResult> {
  return runWorkflow(conn, workflow, input);
}

/** AWSCURRENT of a secret, parsed. */
export async function current(conn: Connection, secretId: string) {
  const v = await conn.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  return parseDbSecret(v.SecretString);
}

export async function logsIn(conn: Connection, secretId: string): Promise<boolean> {
  const s = await current(conn, secretId);
  return engineFor(s.engine)
    .testLogin(credentialsOf(s))
    .then(
      () => true,
      () => false,
    );
}

/** Waits for an execution of `workflow` started at or after `since` to stop; returns it. */
export async function awaitExecution(
  conn: Connection,
  workflow: Workflow,
  since: Date,
  timeoutMs = 60_000,
): Promise<ExecutionListItem> {
  const arn = await workflowArn(conn, workflow);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const list = await conn.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
    const e = (list.executions ?? []).find(
      (x) =>
        x.startDate && new Date(x.startDate).getTime() >= since.getTime() - 1000 && x.status !== 'RUNNING',
    );
    if (e) return e;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${workflow} execution finished within ${timeoutMs} ms`);
}
