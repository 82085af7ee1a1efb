import {
  type DBCluster,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { type SecretListEntry, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  type ExecutionListItem,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { AwsClients } from '../../src/aws/clients';
import { executionHistory } from '../../src/aws/history';
import { type ClientConfig, clientSettings } from '../../src/aws/settings';
import {
  type AttentionRow,
  type AttentionView,
  attentionOf,
  listAllSecrets,
} from '../../src/lifecycle/attention';
import { nextRotationOf } from '../../src/lifecycle/fleet';
import { fleetSnapshot } from '../../src/lifecycle/fleet-progress';
import { byUrgency, executionSubject, sameSecret, secretStatusOf } from '../../src/lifecycle/status';
import { DB_TAG, MANAGED_TAG } from '../../src/lifecycle/users';
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
  /** The cloud's policy log endpoint (`/_credflow/iam/decisions`), read over HTTP. */
  policyLog(principal: string | undefined): Promise<PolicyLogView>;
}

/** One authorization decision, as the cloud's policy log endpoint reports it. */
export interface DecisionRow {
  time: string;
  principal: string;
  action: string;
  resource: string;
  allowed: boolean;
  kind: string;
  /** The statement that decided, or absent for an implicit deny. */
  by?: string;
}

export interface PolicyLogView {
  /** False when the cloud runs without IAM (`--no-iam`): nothing is decided, nothing is logged. */
  enabled: boolean;
  stats: { decisions: number; denies: number; cacheHits: number };
  /** Denied first, then the latest first. */
  decisions: DecisionRow[];
}

/**
 * Reads the policy log from the cloud's endpoint with the console's token (the same route the
 * CLI or a script would read), filtered by principal (a part of its ARN).
 */
export function policyLogReader(endpoint: string, token: string): ConsoleSources['policyLog'] {
  return async (principal) => {
    const url = new URL('/_credflow/iam/decisions', endpoint);
    if (principal) url.searchParams.set('principal', principal);
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, 'user-agent': POLLING_USER_AGENT },
    });
    if (!res.ok) throw Object.assign(new Error(`policy log: HTTP ${res.status}`), { name: 'PolicyLogError' });
    const body = (await res.json()) as PolicyLogView;
    return {
      enabled: body.enabled,
      stats: body.stats,
      decisions: body.decisions.map((d) => ({
        time: d.time,
        principal: d.principal,
        action: d.action,
        resource: d.resource,
        allowed: d.allowed,
        kind: d.kind,
        ...(d.by ? { by: d.by } : {}),
      })),
    };
  };
}

/**
 * The console's own clients, marked in their User-Agent so that the endpoint logs their polling
 * at debug level.
 */
export function consoleClients(config: ClientConfig): ConsoleSources['clients'] {
  const s = { ...clientSettings(config), customUserAgent: POLLING_USER_AGENT };
  return { secrets: new SecretsManagerClient(s), rds: new RDSClient(s), sfn: new SFNClient(s) };
}

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
  /** The latest execution that worked on this secret (rotation, verify, repair), if recent. */
  lastExecution?: { arn: string; name: string; workflow: string; status: string };
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
  /** What it was for: the secret or database its input names (a name, never a value). */
  for?: string;
}

/** A related execution an execution page links to. */
export interface ExecutionLink {
  rel: 'child' | 'parent' | 'failed-rotation';
  arn: string;
  name: string;
}

export interface FleetRow extends ExecutionRow {
  total?: number;
  rotated: number;
  failed: number;
  inFlight: number;
}

/** An execution a row of the attention view links to. */
export interface ExecutionRef {
  arn: string;
  name: string;
  status: string;
  start?: string;
}

/** One row of `credflow status`, with the latest rotation and repair of its secret. */
export interface AttentionConsoleRow extends AttentionRow {
  lastRotation?: ExecutionRef;
  lastRepair?: ExecutionRef;
}

/**
 * What needs attention, first: the view `credflow status` prints (src/lifecycle/attention), over
 * the secrets the console reads (at most MAX_SECRETS: `truncated` says when there were more).
 */
export interface AttentionPanel extends Omit<AttentionView, 'rows'> {
  rows: AttentionConsoleRow[];
  truncated: boolean;
}

export interface Overview {
  generatedAt: string;
  stage: string;
  attention: AttentionPanel;
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
  // The same answer as `credflow secrets` and rotate-fleet's "due" (one function).
  const next = rds && !s.NextRotationDate ? undefined : iso(nextRotationOf(s));
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
    status: secretStatusOf(s),
  };
}

/** The secrets the console looks at (deleted ones included, for the attention view's counts). */
async function listed(src: ConsoleSources): Promise<{ entries: SecretListEntry[]; truncated: boolean }> {
  return listAllSecrets(src.clients.secrets, MAX_SECRETS);
}

function secretRows(entries: readonly SecretListEntry[]): SecretRow[] {
  return entries
    .filter((s) => !s.DeletedDate && (tagOf(s, MANAGED_TAG) === 'true' || s.OwningService === 'rds'))
    .map(secretRow)
    .sort(byUrgency);
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

/** What each execution was for, by ARN: an input never changes, so it is read once. */
const subjects = new Map<string, string | null>();

async function subjectOf(src: ConsoleSources, arn: string): Promise<string | undefined> {
  if (!subjects.has(arn)) {
    const d = await src.clients.sfn
      .send(new DescribeExecutionCommand({ executionArn: arn }))
      .catch(() => undefined);
    if (!d) return undefined;
    if (subjects.size > 5000) subjects.clear();
    const s = executionSubject(d.input);
    subjects.set(arn, s ? safeText(s, 300) : null);
  }
  return subjects.get(arn) ?? undefined;
}

/** The workflows whose latest execution an attention row links to. */
const LINKED: Record<string, 'lastRotation' | 'lastRepair'> = {
  'rotate-secret': 'lastRotation',
  'on-rotation-failure': 'lastRepair',
};

/**
 * The executions the front page shows: the most recent ones, and every listed rotation and
 * repair (at most EXECUTIONS_PER_MACHINE of each), each with what it was for.
 */
async function executions(src: ConsoleSources): Promise<{ recent: ExecutionRow[]; linked: ExecutionRow[] }> {
  const machines = await src.clients.sfn.send(new ListStateMachinesCommand({ maxResults: 1000 }));
  const lists = await Promise.all(
    (machines.stateMachines ?? []).map((m) =>
      src.clients.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: m.stateMachineArn, maxResults: EXECUTIONS_PER_MACHINE }),
      ),
    ),
  );
  const all = lists
    .flatMap((l) => l.executions ?? [])
    .map((e) => executionRow(e, src.stage))
    .sort((a, b) => (b.start ?? '').localeCompare(a.start ?? ''));
  const recent = new Set(all.slice(0, RECENT_EXECUTIONS));
  const wanted = all.filter((r) => recent.has(r) || LINKED[r.workflow] !== undefined);
  const withSubject = await Promise.all(
    wanted.map(async (r) => {
      const f = await subjectOf(src, r.arn);
      return f ? { ...r, for: f } : r;
    }),
  );
  return {
    recent: withSubject.filter((_, i) => recent.has(wanted[i] as ExecutionRow)),
    linked: withSubject.filter((r) => LINKED[r.workflow] !== undefined),
  };
}

const ref = (e: ExecutionRow): ExecutionRef => ({
  arn: e.arn,
  name: e.name,
  status: e.status,
  ...(e.start ? { start: e.start } : {}),
});

/** AWSPENDING creation dates the console has read: each version is asked about once. */
const versionDates = new Map<string, Date>();

/** The attention view, each row with its secret's latest rotation and repair (newest first in `linked`). */
async function attention(
  src: ConsoleSources,
  entries: readonly SecretListEntry[],
  truncated: boolean,
  linked: readonly ExecutionRow[],
): Promise<AttentionPanel> {
  if (versionDates.size > 5000) versionDates.clear();
  const view = await attentionOf(src.clients.secrets, entries, { versionDates });
  const rows = view.rows.map((r) => {
    const row: AttentionConsoleRow = { ...r };
    for (const e of linked) {
      const key = LINKED[e.workflow];
      if (!key || row[key] || e.for === undefined) continue;
      if (sameSecret(e.for, r.secret) || (r.arn !== undefined && sameSecret(e.for, r.arn))) row[key] = ref(e);
    }
    return row;
  });
  const notes = truncated
    ? [
        ...view.notes,
        `only the first ${entries.length} secrets were read; \`credflow status\` reads them all`,
      ]
    : view.notes;
  return { ...view, rows, notes, truncated };
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

/** Everything on the console's front page: what needs attention first, then the rest. */
export async function overview(src: ConsoleSources): Promise<Overview> {
  const [{ entries, truncated }, databaseRows, { recent: executionRows, linked }] = await Promise.all([
    listed(src),
    databases(src),
    executions(src),
  ]);
  const secretRowsShown = secretRows(entries);
  const fleetRuns = executionRows.filter((e) => e.workflow === 'rotate-fleet').slice(0, 3);
  const seen = [...executionRows, ...linked].sort((a, b) => (b.start ?? '').localeCompare(a.start ?? ''));
  for (const s of secretRowsShown) {
    const e = seen.find(
      (x) => x.for !== undefined && (sameSecret(x.for, s.arn) || sameSecret(x.for, s.name)),
    );
    if (e) s.lastExecution = { arn: e.arn, name: e.name, workflow: e.workflow, status: e.status };
  }
  const [fleets, attentionPanel] = await Promise.all([
    Promise.all(fleetRuns.map(async (f) => ({ ...f, ...(await fleetProgress(src, f.arn)) }))),
    attention(src, entries, truncated, linked),
  ]);
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
    attention: attentionPanel,
    secrets: secretRowsShown,
    databases: databaseRows,
    executions: executionRows,
    fleets,
    alerts,
  };
}

export interface ExecutionView extends Omit<ExecutionRuns, 'states'> {
  execution: ExecutionRow & { secretId?: string; error?: string; cause?: string };
  /** The executions it started (fleet pages, rotations, repairs), its parent, the rotation it repairs. */
  links: ExecutionLink[];
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

/** The secret an execution works on, when its input names one: a name, never a value. */
function secretIdOf(input: string | undefined): string | undefined {
  return executionSubject(input)?.slice(0, 2048);
}

const MAX_LINKS = 200;
const nameOfArn = (arn: string) => arn.split(':').pop() ?? arn;

/**
 * Executions related to this one: the children it started (from the history's task outputs,
 * which name them), the one that started it, and, for a repair, the rotation that failed.
 */
function linksOf(input: string | undefined, events: HistoryEvent[]): ExecutionLink[] {
  const links: ExecutionLink[] = [];
  const seen = new Set<string>();
  const add = (rel: ExecutionLink['rel'], arn: unknown) => {
    if (typeof arn !== 'string' || !arn.includes(':execution:') || seen.has(arn) || links.length >= MAX_LINKS)
      return;
    seen.add(arn);
    links.push({ rel, arn, name: nameOfArn(arn) });
  };
  try {
    const v = JSON.parse(input ?? '{}') as Record<string, unknown>;
    add('parent', v['AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID']);
    const detail = v['detail'] as Record<string, unknown> | undefined;
    if (v['source'] === 'aws.states') add('failed-rotation', detail?.['executionArn']);
  } catch {
    // no input to read
  }
  for (const e of events) {
    const d = e.taskSubmittedEventDetails ?? e.taskSucceededEventDetails;
    if (!d?.output || d.resourceType !== 'states') continue;
    try {
      add('child', (JSON.parse(d.output) as { ExecutionArn?: unknown }).ExecutionArn);
    } catch {
      // not JSON: nothing to link
    }
  }
  return links;
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
    links: linksOf(d.input, events),
    graph,
    history: runs.history.slice(-MAX_HISTORY_LINES),
    historyOmitted: Math.max(0, runs.history.length - MAX_HISTORY_LINES),
  };
}
