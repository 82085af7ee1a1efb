/**
 * `npm run iam:minimal [-- ROLE...]`: least privilege, shown grant by grant. For each function and
 * state machine role named (default: every role of the map below), each of its grants (an Allow
 * statement, or one action of a statement that lists several) is removed in turn from the policies
 * the local cloud enforces, through the cloud's own stack hook (no file is copied), and the
 * workflows the role serves are run through the SDK as the CLI runs them. A grant is needed when
 * its removal makes the policy log record an AccessDenied of that role; the table names the
 * workflow step that was denied, or "nothing failed". Prints a Markdown table (for docs/iam.md).
 *
 * One local cloud and one PostgreSQL database serve every run; the full policies are put back
 * after each removal and the workflows run once with them first (they must pass: sufficiency).
 * Slow: a few workflow runs per grant. CI does not run it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DescribeSecretCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { type Connection, type Workflow, workflowArn } from '../cli/context';
import { runWorkflow } from '../cli/run';
import { bootLocalCloud, LOCAL_STAGE } from '../local/boot';
import { type Grant, grantsOf, withoutGrant } from '../local/iam/grants';
import { createClients } from '../src/aws/clients';

interface Fixture {
  secretArn: string;
  db: string;
}
type Step = { workflow: Workflow; input: (f: Fixture) => unknown };

const rotate: Step = { workflow: 'rotate-secret', input: (f) => ({ secretId: f.secretArn }) };
const verify: Step = { workflow: 'verify-credentials', input: (f) => ({ secretId: f.secretArn }) };
const connectivity: Step = { workflow: 'check-connectivity', input: (f) => ({ identifier: f.db }) };

/** Role (logical id) -> the workflows that exercise it, run in this order. */
const SERVES: Record<string, Step[]> = {
  VerifyFunctionRole: [rotate, verify],
  VerifyCredentialsStateMachineRole: [verify],
  PreflightFunctionRole: [connectivity],
  CheckConnectivityStateMachineRole: [connectivity],
  RotateSecretStateMachineRole: [rotate],
  RotationFunctionRole: [rotate],
};

/**
 * The state machines' monitoring policy (log delivery, X-Ray) serves Step Functions' own logging
 * and tracing on AWS, which the local cloud does not emulate: listed, not run.
 */
const MONITORING = /StateMachineMonitoringPolicy/;
const NOT_LOCAL = "not exercised locally (Step Functions' log delivery and X-Ray on AWS)";

interface Row {
  role: string;
  grant: string;
  neededBy: string;
}

/** Waits for the background workflows (the failure repairs) and removes any AWSPENDING left. */
async function settle(conn: Connection, fixtures: Fixture[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const running = await conn.clients.sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: await workflowArn(conn, 'on-rotation-failure'),
        statusFilter: 'RUNNING',
      }),
    );
    if (!running.executions?.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const f of fixtures) {
    const d = await conn.clients.secrets.send(new DescribeSecretCommand({ SecretId: f.secretArn }));
    for (const [version, stages] of Object.entries(d.VersionIdsToStages ?? {}))
      if (stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'))
        await conn.clients.secrets.send(
          new UpdateSecretVersionStageCommand({
            SecretId: f.secretArn,
            VersionStage: 'AWSPENDING',
            RemoveFromVersionId: version,
          }),
        );
  }
}

async function main(): Promise<void> {
  process.env['POWERTOOLS_LOG_LEVEL'] ??= 'ERROR';
  process.env['LOG_LEVEL'] ??= 'ERROR';
  process.env['CREDFLOW_LOG_LEVEL'] ??= 'error';
  const roles = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SERVES);
  for (const r of roles) if (!SERVES[r]) throw new Error(`no workflows mapped for ${r}`);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-iam-minimal-'));
  const cloud = await bootLocalCloud({ stateDir, port: 0, iam: true });
  const full = cloud.iam.principals.stack;
  if (!full) throw new Error('the stack IAM was not loaded');
  const conn: Connection = {
    clients: createClients(cloud.clientConfig()),
    stage: LOCAL_STAGE,
    mode: 'local',
    region: cloud.region,
    endpoint: cloud.endpoint,
  };
  const must = async (workflow: Workflow, input: unknown) => {
    const r = await runWorkflow(conn, workflow, input);
    if (r.status !== 'SUCCEEDED') throw new Error(`${workflow} ${r.status}: ${r.error}: ${r.cause}`);
    return r.output as Record<string, unknown>;
  };
  const rows: Row[] = [];
  try {
    // An instance and an Aurora cluster (each with the master password RDS keeps in Secrets
    // Manager, as provision-database makes them) and a user secret on each: the steps run on both.
    const fixtures: Fixture[] = [];
    for (const [db, engine] of [
      ['iam-minimal-db', 'postgres'],
      ['iam-minimal-cluster', 'aurora-postgresql'],
    ] as const) {
      await must('provision-database', { identifier: db, engine, pollSeconds: 1 });
      const user = await must('create-database-user', {
        dbIdentifier: db,
        username: 'minimal_app',
        privileges: ['SELECT'],
        strategy: 'alternating-users',
      });
      fixtures.push({ secretArn: String(user['secretArn']), db });
    }

    /** Runs the role's workflows; the first step during which the role was denied, or undefined. */
    const exercise = async (role: string): Promise<string | undefined> => {
      const roleName = full.roles.get(role)?.name ?? role;
      // Every function starts cold, as after a deploy: nothing a warm function remembered (a
      // master's location, a client) spares a call the removed grant would have refused.
      await cloud.lambdas.stop();
      let inconclusive: string | undefined;
      for (const [step, fixture] of (SERVES[role] ?? []).flatMap((st) =>
        fixtures.map((f) => [st, f] as const),
      )) {
        const since = new Date().toISOString();
        const r = await runWorkflow(conn, step.workflow, step.input(fixture));
        const denied = cloud.iam.gate
          .log({ principal: `/${roleName}/` })
          .filter((d) => !d.allowed && d.time >= since);
        if (denied.length > 0) {
          const d = denied[denied.length - 1] as (typeof denied)[number];
          const session = d.principal.split('/').pop();
          return `${step.workflow} on ${fixture.db} (${session}: ${d.action} denied; execution ${r.status})`;
        }
        if (r.status !== 'SUCCEEDED' && /AccessDenied|not authorized/.test(`${r.error} ${r.cause}`))
          return `${step.workflow} on ${fixture.db} (${r.error})`;
        // Failed, but not by this role's denial (an earlier removal left the fixture mid-rotation,
        // say): the steps after it did not run, so "nothing failed" would claim too much.
        if (r.status !== 'SUCCEEDED')
          inconclusive ??= `${step.workflow} on ${fixture.db}: ${r.status} ${r.error}`;
      }
      return inconclusive ? `inconclusive (${inconclusive})` : undefined;
    };

    for (const role of roles) {
      const baseline = await exercise(role);
      if (baseline) throw new Error(`${role}: denied with the full policies: ${baseline}`);
      const grants: Grant[] = grantsOf(full, role);
      const monitoring = grants.filter((g) => MONITORING.test(g.policy));
      if (monitoring.length)
        rows.push({
          role,
          grant: `StateMachineMonitoringPolicy (${monitoring.map((g) => g.action ?? g.label).join(', ')})`,
          neededBy: NOT_LOCAL,
        });
      for (const g of grants) {
        if (MONITORING.test(g.policy)) continue;
        cloud.iam.useStack(withoutGrant(full, g));
        let neededBy: string;
        try {
          neededBy = (await exercise(role)) ?? 'nothing failed';
        } finally {
          cloud.iam.useStack(full);
        }
        // A refused step can leave a rotation half done (AWSPENDING on a new version): the
        // failure workflow rolls it back in the background; clear what is left, so the next
        // grant's rotation starts clean and is not stopped by RotationInProgressError.
        await settle(conn, fixtures);
        rows.push({ role, grant: g.label, neededBy });
        process.stderr.write(`${role} | ${g.label} | ${neededBy}\n`);
      }
    }
  } finally {
    await cloud.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  process.stdout.write('| role | grant | the step that needs it |\n|---|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.role} | ${cell(r.grant)} | ${cell(r.neededBy)} |\n`);
}

main().catch((err) => {
  process.stderr.write(`iam:minimal failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
