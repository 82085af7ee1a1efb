import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ListStateMachinesCommand } from '@aws-sdk/client-sfn';
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

/** The running local cloud of a state dir, if any (the pid must be alive). */
export function runningLocalCloud(stateDir: string): EndpointInfo | undefined {
  const file = path.join(stateDir, ENDPOINT_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as EndpointInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
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
