import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ListStateMachinesCommand } from '@aws-sdk/client-sfn';
import { readToken } from '../local/credentials';
import { processArgs, processStartTicks } from '../local/dbserver/process';
import { type AwsClients, createClients } from '../src/aws/clients';
import { CliError, EXIT } from './errors';

export interface GlobalOptions {
  local?: boolean;
  stateDir: string;
  endpointUrl?: string;
  profile?: string;
  region?: string;
  stage?: string;
  json?: boolean;
}

/** Written by `credflow up` into the state dir so other commands find the running cloud. */
export const ENDPOINT_FILE = 'endpoint.json';

export interface EndpointInfo {
  endpoint: string;
  pid: number;
  /** When that pid started (processStartTicks): a pid reused by another process does not match. */
  pidStart?: string;
  region: string;
  stage: string;
  startedAt: string;
}

export interface Connection {
  clients: AwsClients;
  stage: string;
  mode: 'local' | 'aws';
  region: string | undefined;
  endpoint: string | undefined;
}

/** What endpoint.json says, or undefined when there is none (or it is unreadable). */
export function recordedLocalCloud(stateDir: string): EndpointInfo | undefined {
  const file = path.join(stateDir, ENDPOINT_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as EndpointInfo;
  } catch {
    return undefined;
  }
}

/**
 * Why the recorded process is not the cloud `credflow up` started, or undefined when it still
 * is: it must be alive (a zombie is not), have started when the record says (a reused pid has
 * not), and be a `credflow up`.
 */
export function notTheCloud(info: EndpointInfo): string | undefined {
  const args = processArgs(info.pid);
  if (!args) return `pid ${info.pid} is gone`;
  if (info.pidStart !== undefined && processStartTicks(info.pid) !== info.pidStart) {
    return `pid ${info.pid} now belongs to another process (${args.join(' ')})`;
  }
  if (!args.includes('up')) return `pid ${info.pid} is not a credflow cloud (${args.join(' ')})`;
  return undefined;
}

/** The running local cloud of a state dir, if any (its recorded process must still be it). */
export function runningLocalCloud(stateDir: string): EndpointInfo | undefined {
  const info = recordedLocalCloud(stateDir);
  return info && notTheCloud(info) === undefined ? info : undefined;
}

/**
 * Asks the recorded endpoint which process answers it, with this state dir's token: true only
 * when the recorded cloud itself answers (so the port works and it is this state dir's cloud).
 */
export async function cloudAnswers(stateDir: string, info: EndpointInfo, timeoutMs = 3000): Promise<boolean> {
  let token: string;
  try {
    token = readToken(stateDir);
  } catch {
    return false;
  }
  try {
    const res = await fetch(`${info.endpoint}/_credflow/health`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return false;
    const body = (await res.json()) as { status?: string; pid?: number };
    return body.status === 'running' && body.pid === info.pid;
  } catch {
    return false;
  }
}

function localCredentials(stateDir: string): { accessKeyId: string; secretAccessKey: string } {
  const file = path.join(stateDir, 'credentials.json');
  const c = JSON.parse(readFileSync(file, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
}

/**
 * AWS or the local cloud, the same commands either way: `--local` (the cloud `credflow up`
 * started in --state-dir), `--endpoint-url` / AWS_ENDPOINT_URL (any endpoint, credentials from
 * the default chain), or else AWS with the default chain, `--profile` and `--region`.
 */
export function connect(opts: GlobalOptions): Connection {
  if (opts.profile) process.env['AWS_PROFILE'] = opts.profile;
  if (opts.region) process.env['AWS_REGION'] = opts.region;
  if (opts.local) {
    const info = runningLocalCloud(opts.stateDir);
    if (!info) {
      throw new CliError(
        `the local cloud is not running in ${opts.stateDir}: start it with \`credflow up\``,
        'LocalCloudNotRunning',
        EXIT.unreachable,
      );
    }
    return {
      clients: createClients({
        endpoint: info.endpoint,
        region: info.region,
        credentials: localCredentials(opts.stateDir),
      }),
      stage: opts.stage ?? info.stage,
      mode: 'local',
      region: info.region,
      endpoint: info.endpoint,
    };
  }
  const endpoint = opts.endpointUrl ?? process.env['AWS_ENDPOINT_URL'];
  const isLocal = endpoint !== undefined && /^https?:\/\/(127\.0\.0\.1|localhost)(:|\/|$)/.test(endpoint);
  return {
    clients: createClients({
      ...(endpoint ? { endpoint } : {}),
      ...(opts.region ? { region: opts.region } : {}),
    }),
    stage: opts.stage ?? (isLocal ? 'local' : 'dev'),
    mode: isLocal ? 'local' : 'aws',
    region: opts.region ?? process.env['AWS_REGION'],
    endpoint,
  };
}

export const WORKFLOWS = [
  'provision-database',
  'create-database-user',
  'rotate-secret',
  'rotate-master-password',
  'verify-credentials',
  'decommission-database',
  'rotate-fleet',
  'rotate-fleet-page',
  'on-rotation-failure',
  'reconcile-rotations',
  'on-deletion',
  'check-connectivity',
  'adopt-secrets',
] as const;
export type Workflow = (typeof WORKFLOWS)[number];

/** The ARN of `credflow-<stage>-<workflow>`, found with ListStateMachines. */
export async function workflowArn(conn: Connection, workflow: Workflow): Promise<string> {
  const name = `credflow-${conn.stage}-${workflow}`;
  let token: string | undefined;
  do {
    const page = await conn.clients.sfn.send(
      new ListStateMachinesCommand({ maxResults: 1000, ...(token ? { nextToken: token } : {}) }),
    );
    const found = page.stateMachines?.find((m) => m.name === name);
    if (found?.stateMachineArn) return found.stateMachineArn;
    token = page.nextToken;
  } while (token);
  throw new CliError(
    `state machine ${name} is not deployed (stage ${conn.stage}); deploy with \`serverless deploy\` or \`credflow deploy --local\``,
    'StateMachineDoesNotExist',
    EXIT.notFound,
  );
}
