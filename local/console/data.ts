import {
  type DBCluster,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  ListSecretsCommand,
  type SecretListEntry,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  type ExecutionListItem,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { AwsClients } from '../../src/aws/clients';
import { executionHistory } from '../../src/aws/history';
import { type ClientConfig, clientSettings } from '../../src/aws/settings';
import { fleetSnapshot } from '../../src/lifecycle/fleet-progress';
import { DB_TAG, MANAGED_TAG, STATUS_TAG } from '../../src/lifecycle/users';
import { USER_TAG } from '../../src/rotation/boundary';
import { LAST_ROTATED_TAG, STRATEGY_TAG } from '../../src/rotation/types';
import { POLLING_USER_AGENT } from '../http/server';
import { type AslDefinition, type Graph, layoutGraph } from './graph';
import { type ExecutionRuns, readRuns, safeText } from './runs';

/**
 * What the console shows, read through the AWS APIs of the cloud it is served by (the same calls
 * the CLI makes, so what the page says is what AWS would say). Secret values are never read:
 * no GetSecretValue is made here, and execution input and output pass through `runs.ts`, which
 * keeps names, enums and counts only.
 */
export interface ConsoleSources {
  clients: Pick<AwsClients, 'secrets' | 'rds' | 'sfn'>;
  /** The deployment stage: state machines are named `credflow-<stage>-<workflow>`. */
  stage: string;
  /** What was published to the alerts topic (the local SNS keeps it). */
  alerts(): { time: string; subject?: string | undefined; message: string }[];
}

/**
 * The console's own clients, marked in their User-Agent so that the endpoint logs their polling
 * at debug level.
 */
export function consoleClients(config: ClientConfig): ConsoleSources['clients'] {
  const s = { ...clientSettings(config), customUserAgent: POLLING_USER_AGENT };
  return { secrets: new SecretsManagerClient(s), rds: new RDSClient(s), sfn: new SFNClient(s) };
}

/** The days rotate-fleet waits by default before a secret with no schedule is due (fleet.ts). */
const FLEET_MAX_AGE_DAYS = 30;
const MAX_SECRETS = 2000;
const EXECUTIONS_PER_MACHINE = 25;
const RECENT_EXECUTIONS = 40;
const MAX_HISTORY_LINES = 1000;

export interface SecretRow {
  name: string;
  arn: string;
  strategy: string;
  user?: string;
  database?: string;
  rotation: 'schedule' | 'fleet' | 'rds';
  lastRotated?: string;
  nextRotation?: string;
  status: string;
}

export interface DatabaseRow {
  identifier: string;
  kind: 'instance' | 'cluster';
  engine: string;
  status: string;
  endpoint?: string;
  masterSecret?: string;
  problem?: string;
}

export interface ExecutionRow {
  arn: string;
  name: string;
  workflow: string;
  status: string;
  start?: string;
  stop?: string;
}

export interface FleetRow extends ExecutionRow {
  total?: number;
  rotated: number;
  failed: number;
  inFlight: number;
}

export interface Overview {
  generatedAt: string;
  stage: string;
  secrets: SecretRow[];
  databases: DatabaseRow[];
  executions: ExecutionRow[];
  fleets: FleetRow[];
  alerts: { time: string; subject?: string; message: string }[];
}

const iso = (d: Date | undefined) => (d ? new Date(d).toISOString() : undefined);
const tagOf = (s: SecretListEntry, key: string) => s.Tags?.find((t) => t.Key === key)?.Value;

function secretRow(s: SecretListEntry): SecretRow {
  const rds = s.OwningService === 'rds';
  const last = [iso(s.LastRotatedDate), tagOf(s, LAST_ROTATED_TAG), iso(s.CreatedDate)]
    .filter((d): d is string => !!d && !Number.isNaN(Date.parse(d)))
    .sort()
    .at(-1);
  const scheduled = s.RotationEnabled === true && s.NextRotationDate !== undefined;
  const fleetDue = last
    ? new Date(Date.parse(last) + FLEET_MAX_AGE_DAYS * 86_400_000).toISOString()
    : undefined;
  const next = scheduled ? iso(s.NextRotationDate) : rds ? undefined : fleetDue;
  const pending = Object.values(s.SecretVersionsToStages ?? {}).some(
    (stages) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'),
  );
  const user = tagOf(s, USER_TAG);
  const database = tagOf(s, DB_TAG);
  return {
    name: s.Name ?? '',
    arn: s.ARN ?? '',
    strategy: rds ? 'rds-managed' : (tagOf(s, STRATEGY_TAG) ?? 'default'),
    ...(user ? { user } : {}),
    ...(database ? { database } : {}),
    rotation: rds ? 'rds' : scheduled ? 'schedule' : 'fleet',
    ...(last ? { lastRotated: last } : {}),
    ...(next ? { nextRotation: next } : {}),
    status: s.DeletedDate
      ? 'scheduled-for-deletion'
      : pending
        ? 'rotating'
        : (tagOf(s, STATUS_TAG) ?? (next && Date.parse(next) < Date.now() ? 'due' : 'ok')),
  };
}

async function secrets(src: ConsoleSources): Promise<SecretRow[]> {
  const all: SecretListEntry[] = [];
  let token: string | undefined;
  do {
    const page = await src.clients.secrets.send(
      new ListSecretsCommand({ MaxResults: 100, ...(token ? { NextToken: token } : {}) }),
    );
    all.push(...(page.SecretList ?? []));
    token = page.NextToken;
  } while (token && all.length < MAX_SECRETS);
  return all
    .filter((s) => tagOf(s, MANAGED_TAG) === 'true' || s.OwningService === 'rds')
    .map(secretRow)
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function databases(src: ConsoleSources): Promise<DatabaseRow[]> {
  const [instances, clusters] = await Promise.all([
    src.clients.rds.send(new DescribeDBInstancesCommand({})),
    src.clients.rds.send(new DescribeDBClustersCommand({})),
  ]);
  const rows: DatabaseRow[] = (instances.DBInstances ?? []).map((d) => {
    const problem = d.StatusInfos?.find((i) => i.Normal === false)?.Message;
    return {
      identifier: d.DBInstanceIdentifier ?? '',
      kind: 'instance',
      engine: d.Engine ?? '',
      status: d.DBInstanceStatus ?? '',
      ...(d.Endpoint ? { endpoint: `${d.Endpoint.Address}:${d.Endpoint.Port}` } : {}),
      ...(d.MasterUserSecret?.SecretStatus ? { masterSecret: d.MasterUserSecret.SecretStatus } : {}),
      ...(problem ? { problem } : {}),
    };
  });
  for (const c of clusters.DBClusters ?? ([] as DBCluster[])) {
    rows.push({
      identifier: c.DBClusterIdentifier ?? '',
      kind: 'cluster',
      engine: c.Engine ?? '',
      status: c.Status ?? '',
      ...(c.Endpoint ? { endpoint: `${c.Endpoint}:${c.Port ?? ''}` } : {}),
      ...(c.MasterUserSecret?.SecretStatus ? { masterSecret: c.MasterUserSecret.SecretStatus } : {}),
    });
  }
  return rows.sort((a, b) => a.identifier.localeCompare(b.identifier));
}

/** `credflow-<stage>-rotate-secret` -> `rotate-secret`. */
function workflowOf(stateMachineArn: string | undefined, stage: string): string {
  const name = stateMachineArn?.split(':').pop() ?? '';
  const prefix = `credflow-${stage}-`;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

function executionRow(e: ExecutionListItem, stage: string): ExecutionRow {
  const start = iso(e.startDate);
  const stop = iso(e.stopDate);
  return {
    arn: e.executionArn ?? '',
    name: e.name ?? '',
    workflow: workflowOf(e.stateMachineArn, stage),
    status: e.status ?? '',
    ...(start ? { start } : {}),
    ...(stop ? { stop } : {}),
  };
}

async function executions(src: ConsoleSources): Promise<ExecutionRow[]> {
  const machines = await src.clients.sfn.send(new ListStateMachinesCommand({ maxResults: 1000 }));
  const lists = await Promise.all(
    (machines.stateMachines ?? []).map((m) =>
      src.clients.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: m.stateMachineArn, maxResults: EXECUTIONS_PER_MACHINE }),
      ),
    ),
  );
  return lists
    .flatMap((l) => l.executions ?? [])
    .map((e) => executionRow(e, src.stage))
    .sort((a, b) => (b.start ?? '').localeCompare(a.start ?? ''));
}

const history = (src: ConsoleSources, executionArn: string) =>
  executionHistory(src.clients.sfn, executionArn);

/**
 * A rotate-fleet run's progress as the CLI shows it (src/lifecycle/fleet-progress): the counts its
 * execution last handed on, the page under way, followed through its continuations.
 */
async function fleetProgress(
  src: ConsoleSources,
  executionArn: string,
): Promise<Omit<FleetRow, keyof ExecutionRow>> {
  const p = await fleetSnapshot(src.clients.sfn, executionArn);
  return {
    ...(p.selected !== undefined ? { total: p.selected } : {}),
    rotated: p.rotated,
    failed: p.failed,
    inFlight: p.inFlight,
  };
}

/** Everything on the console's front page. */
export async function overview(src: ConsoleSources): Promise<Overview> {
  const [secretRows, databaseRows, executionRows] = await Promise.all([
    secrets(src),
    databases(src),
    executions(src),
  ]);
  const fleetRuns = executionRows.filter((e) => e.workflow === 'rotate-fleet').slice(0, 3);
  const fleets = await Promise.all(
    fleetRuns.map(async (f) => ({ ...f, ...(await fleetProgress(src, f.arn)) })),
  );
  const alerts = src
    .alerts()
    .slice(-20)
    .reverse()
    .map((a) => ({
      time: a.time,
      ...(a.subject ? { subject: safeText(a.subject, 200) } : {}),
      message: safeText(a.message, 1000),
    }));
  return {
    generatedAt: new Date().toISOString(),
    stage: src.stage,
    secrets: secretRows,
    databases: databaseRows,
    executions: executionRows.slice(0, RECENT_EXECUTIONS),
    fleets,
    alerts,
  };
}

export interface ExecutionView extends Omit<ExecutionRuns, 'states'> {
  execution: ExecutionRow & { secretId?: string; error?: string; cause?: string };
  graph: Graph;
  states: ExecutionRuns['states'];
  /** Older lines left out (the newest are kept). */
  historyOmitted: number;
}

const graphs = new Map<string, Graph>();

/** The graph of a definition, laid out once per definition text. */
function graphOf(definition: string): Graph {
  let g = graphs.get(definition);
  if (!g) {
    g = layoutGraph(JSON.parse(definition) as AslDefinition);
    if (graphs.size > 50) graphs.clear();
    graphs.set(definition, g);
  }
  return g;
}

/** The secret an execution works on, when its input names one (`{secretId}`): a name, never a value. */
function secretIdOf(input: string | undefined): string | undefined {
  try {
    const id = (JSON.parse(input ?? '{}') as { secretId?: unknown }).secretId;
    return typeof id === 'string' ? id.slice(0, 2048) : undefined;
  } catch {
    return undefined;
  }
}

/** One execution: its graph coloured by how each state ran, its history, its rotation summary. */
export async function executionView(src: ConsoleSources, executionArn: string): Promise<ExecutionView> {
  const d = await src.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  const [machine, events] = await Promise.all([
    src.clients.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: d.stateMachineArn })),
    history(src, executionArn),
  ]);
  const graph = graphOf(machine.definition ?? '{}');
  const drawn = new Set(graph.nodes.map((n) => n.id));
  const status = d.status ?? 'RUNNING';
  const runs = readRuns(events, drawn, status);
  const secretId = secretIdOf(d.input);
  const row = executionRow(
    { ...d, executionArn, stateMachineArn: d.stateMachineArn } as ExecutionListItem,
    src.stage,
  );
  return {
    ...runs,
    execution: {
      ...row,
      ...(secretId ? { secretId } : {}),
      ...(d.error ? { error: safeText(d.error, 200) } : {}),
      ...(d.cause ? { cause: safeText(d.cause) } : {}),
    },
    graph,
    history: runs.history.slice(-MAX_HISTORY_LINES),
    historyOmitted: Math.max(0, runs.history.length - MAX_HISTORY_LINES),
  };
}
