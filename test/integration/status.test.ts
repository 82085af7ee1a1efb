/**
 * `credflow status` on the local cloud with real PostgreSQL and MariaDB servers: a secret the
 * repair found broken, one with a stalled AWSPENDING, one past its rotation, an RDS-console
 * secret credflow does not manage and a healthy one are listed worst first (the healthy one
 * counted), as `--json` prints them; `--check-logins` finds a broken AWSCURRENT the repair never
 * saw; a user granted more behind credflow's back is listed drifted once verify (the workflow,
 * under its own IAM role) found it, and no longer once the grant is revoked and verify ran again.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Client as PgClient } from 'pg';
import { runWorkflow } from '../../cli/run';
import { status } from '../../cli/status';
import { engineFor } from '../../src/engines';
import { type AttentionView, attentionOf, listAllSecrets } from '../../src/lifecycle/attention';
import { DRIFT_TAG } from '../../src/lifecycle/drift';
import { GRANTS_TAG } from '../../src/lifecycle/users';
import { grantsFingerprint } from '../../src/rotation/strategies';
import { parseDbSecret } from '../../src/secret';
import { connectionOf } from '../e2e/support';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { startTestServers, type TestServers } from '../support/servers';
import { pgClient } from '../support/sql';
import { createUserSecret } from '../support/user-secret';

let servers: TestServers;
let tc: TestCloud;
let seq = 0;

beforeAll(async () => {
  [servers, tc] = await Promise.all([startTestServers(), startTestCloud()]);
}, 120_000);

afterAll(async () => {
  await Promise.all([tc?.stop(), servers?.stop()]);
});

/** A credflow secret on a real server, tagged as create-user tags it. */
async function managedSecret(
  label: string,
  engine: 'postgres' | 'mysql' = 'postgres',
  masterName = `status/master-${seq + 1}`,
): Promise<string> {
  seq++;
  const { arn } = await createUserSecret({
    secrets: tc.clients.secrets,
    engine,
    admin: servers[engine].admin,
    masterName,
    name: `credflow/status-db/${label}`,
    username: `status_${seq}`,
    password: `Status-${seq}-pw`,
    strategy: 'single-user',
  });
  await tc.clients.secrets.send(
    new TagResourceCommand({
      SecretId: arn,
      Tags: [
        { Key: 'credflow:managed', Value: 'true' },
        { Key: 'credflow:db', Value: 'status-db' },
      ],
    }),
  );
  return arn;
}

async function putWrong(arn: string, stages: string[], password: string, token?: string): Promise<void> {
  const good = parseDbSecret(
    (await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString,
  );
  await tc.clients.secrets.send(
    new PutSecretValueCommand({
      SecretId: arn,
      SecretString: JSON.stringify({ ...good, password }),
      VersionStages: stages,
      ...(token ? { ClientRequestToken: token } : {}),
    }),
  );
}

type StatusJson = AttentionView & { mode: string; pages: number };

/** Runs `credflow --json status` in this process against the test cloud. */
async function statusJson(o: Parameters<typeof status>[1] = {}): Promise<{ code: number; view: StatusJson }> {
  const config = tc.cloud.clientConfig();
  const creds = config.credentials as { accessKeyId: string; secretAccessKey: string };
  process.env['AWS_ACCESS_KEY_ID'] = creds.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = creds.secretAccessKey;
  const written: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    const code = await status(
      { stateDir: tc.stateDir, endpointUrl: tc.cloud.endpoint, region: tc.cloud.region, json: true },
      o,
    );
    return { code, view: JSON.parse(written.join('')) as StatusJson };
  } finally {
    spy.mockRestore();
  }
}

describe('credflow status: what needs attention first', () => {
  const names = {
    broken: 'credflow/status-db/broken',
    stuck: 'credflow/status-db/stuck',
    overdue: 'credflow/status-db/overdue',
    healthy: 'credflow/status-db/healthy',
    lying: 'credflow/status-db/lying',
    copy: 'credflow/status-db/copy',
    unadopted: 'rds-db-credentials/status-db/legacy',
  };

  beforeAll(async () => {
    // Broken: AWSCURRENT and AWSPENDING both wrong; the real repair tags it broken.
    const broken = await managedSecret('broken');
    await putWrong(broken, ['AWSCURRENT'], 'Wrong-1-pw');
    const pendingToken = 'status-broken-token'.padEnd(36, '0');
    await putWrong(broken, ['AWSPENDING'], 'Wrong-2-pw', pendingToken);
    const r = await runWorkflow(connectionOf(tc), 'on-rotation-failure', {
      secretId: broken,
      token: pendingToken,
      reason: 'test',
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'SecretBroken' });

    // Stuck: an AWSPENDING nobody finishes.
    const stuck = await managedSecret('stuck', 'mysql');
    await putWrong(stuck, ['AWSPENDING'], 'Pending-pw', 'status-stuck-token'.padEnd(36, '0'));

    // Overdue: created 40 days ago, never rotated (30 days is the fleet's age).
    tc.cloud.secrets.setClock(() => new Date(Date.now() - 40 * 86_400_000));
    try {
      await managedSecret('overdue');
    } finally {
      tc.cloud.secrets.setClock(() => new Date());
    }

    const healthy = await managedSecret('healthy', 'mysql');
    // A copy of a healthy secret: it logs in, but the database binds the user to the original.
    const value = (await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: healthy })))
      .SecretString;
    await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: names.copy,
        SecretString: value,
        Tags: [
          { Key: 'credflow:managed', Value: 'true' },
          { Key: 'credflow:db', Value: 'status-db' },
        ],
      }),
    );
    // Its AWSCURRENT does not log in, but no repair ran: only a login check finds it.
    const lying = await managedSecret('lying');
    await putWrong(lying, ['AWSCURRENT'], 'Wrong-3-pw');

    await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: names.unadopted,
        SecretString: JSON.stringify({ engine: 'postgres', host: 'h', username: 'legacy', password: 'x' }),
      }),
    );
  }, 180_000);

  it('lists broken, stuck, overdue and unadopted secrets worst first, and counts the healthy', async () => {
    // The test's AWSPENDING is seconds old: with the reconciler's 30 minutes it is a rotation in flight.
    const fresh = await statusJson();
    expect(fresh.code).toBe(0);
    expect(fresh.view.rows.map((r) => [r.kind, r.secret])).toEqual([
      ['broken', names.broken],
      ['overdue', names.overdue],
      ['unadopted', names.unadopted],
    ]);
    expect(fresh.view.healthy).toMatchObject({ ok: 3, rotating: 1 });
    expect(fresh.view.notes.join('\n')).toMatch(/unbound not checked/);

    const now = await statusJson({ stuckAfterMinutes: 0 });
    expect(now.view.rows.map((r) => [r.kind, r.secret])).toEqual([
      ['broken', names.broken],
      ['stuck', names.stuck],
      ['overdue', names.overdue],
      ['unadopted', names.unadopted],
    ]);
    const [broken, stuck, overdue, unadopted] = now.view.rows;
    expect(broken).toMatchObject({
      database: 'status-db',
      look: `credflow executions --secret ${names.broken}`,
    });
    expect(stuck).toMatchObject({ database: 'status-db', look: 'credflow reconcile' });
    expect(Date.now() - Date.parse(stuck?.since ?? '')).toBeLessThan(10 * 60_000);
    expect(overdue).toMatchObject({ look: `credflow rotate-now ${names.overdue}` });
    expect(Date.parse(overdue?.since ?? '')).toBeLessThan(Date.now() - 9 * 86_400_000);
    expect(unadopted).toMatchObject({
      database: 'status-db',
      look: `credflow adopt ${names.unadopted} --dry-run`,
    });
    expect(now.view.healthy).toMatchObject({ ok: 3, rotating: 0 });
    // The masters createUserSecret made are plain secrets: not credflow's, not listed.
    expect(now.view.healthy.other).toBeGreaterThanOrEqual(5);
    expect(now.view.pages).toBe(1);
    // Nothing in the view carries a password.
    expect(JSON.stringify(now.view)).not.toMatch(/-pw/);
  });

  it('--check-logins finds the AWSCURRENT that does not log in although no repair ran, and the user not bound to its secret', async () => {
    const { view } = await statusJson({ checkLogins: true });
    expect(view.rows.filter((r) => r.kind === 'broken').map((r) => r.secret)).toEqual([
      names.broken,
      names.lying,
    ]);
    expect(view.rows.find((r) => r.secret === names.lying)?.detail).toMatch(/checked now/);
    // The master reads the binding: the copy's user is bound to the original secret.
    expect(view.rows.filter((r) => r.kind === 'unbound').map((r) => r.secret)).toEqual([names.copy]);
    expect(view.notes.join('\n')).not.toMatch(/unbound not checked/);
    expect(view.healthy).toMatchObject({ ok: 1 });
    expect(JSON.stringify(view)).not.toMatch(/-pw/);
  });
});

describe('the view for a poller (the console)', () => {
  it("asks for each AWSPENDING's date once: a date it already holds is used as it is", async () => {
    const versionDates = new Map<string, Date>();
    const { entries, truncated } = await listAllSecrets(tc.clients.secrets);
    expect(truncated).toBe(false);
    const first = await attentionOf(tc.clients.secrets, entries, { stuckAfterMinutes: 0, versionDates });
    const stuck = first.rows.find((r) => r.kind === 'stuck');
    expect(stuck?.secret).toBe('credflow/status-db/stuck');
    expect([...versionDates.keys()]).toEqual([expect.stringMatching(new RegExp(`^${stuck?.arn} `))]);
    expect(versionDates.values().next().value?.toISOString()).toBe(stuck?.since);
    // Not asked again: the date held is the one shown.
    const held = new Date('2026-01-01T00:00:00Z');
    for (const k of versionDates.keys()) versionDates.set(k, held);
    const again = await attentionOf(tc.clients.secrets, entries, { stuckAfterMinutes: 0, versionDates });
    expect(again.rows.find((r) => r.kind === 'stuck')?.since).toBe(held.toISOString());
  });
});

describe('credflow status: drift as verify recorded it', () => {
  const name = 'credflow/status-db/drifting';
  let arn = '';
  let username = '';

  /** SQL as the master, behind credflow's back. */
  async function asMaster(sql: (pg: PgClient) => string): Promise<void> {
    const pg = pgClient({ ...servers.postgres.admin, dbname: 'appdb' });
    await pg.connect();
    try {
      await pg.query(sql(pg));
    } finally {
      await pg.end();
    }
  }

  const driftTag = async () =>
    (await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }))).Tags?.find(
      (t) => t.Key === DRIFT_TAG,
    )?.Value;

  beforeAll(async () => {
    // The master where the verify role may read it (credflow/*), as RDS's own would be (rds!*).
    arn = await managedSecret('drifting', 'postgres', 'credflow/status-db/drifting-master');
    username = `status_${seq}`;
    // A table the user may read (create-user's SELECT reaches new tables in its schema too).
    await asMaster(() => 'CREATE TABLE IF NOT EXISTS payroll (id int)');
    // The fingerprint of the grants create-user made, as create-user records it.
    const grants = await engineFor('postgres').listGrants(servers.postgres.admin, username, {
      database: 'appdb',
    });
    await tc.clients.secrets.send(
      new TagResourceCommand({
        SecretId: arn,
        Tags: [{ Key: GRANTS_TAG, Value: grantsFingerprint(grants) }],
      }),
    );
    const clean = await runWorkflow(connectionOf(tc), 'verify-credentials', { secretId: arn });
    expect(clean.status).toBe('SUCCEEDED');
    expect(await driftTag()).toBeUndefined();
  }, 120_000);

  it('lists a user granted more out of band as drifted after verify, since then, and clears it after a clean verify', async () => {
    const before = Date.now();
    await asMaster((pg) => `GRANT INSERT, UPDATE ON payroll TO ${pg.escapeIdentifier(username)}`);
    const drifted = await runWorkflow(connectionOf(tc), 'verify-credentials', { secretId: arn });
    expect(drifted).toMatchObject({ status: 'FAILED', error: 'VerificationFailed' });
    expect(await driftTag()).toMatch(/^grants \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const { view } = await statusJson();
    const row = view.rows.find((r) => r.secret === name);
    expect(row).toMatchObject({
      kind: 'drifted',
      database: 'status-db',
      detail: 'verify found the grants different from the record',
      look: `credflow verify ${name}`,
    });
    const since = Date.parse(row?.since ?? '');
    expect(since).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(since).toBeLessThanOrEqual(Date.now());

    // Verify again with the grant still there: the date stays when it was first found.
    const tag = await driftTag();
    await runWorkflow(connectionOf(tc), 'verify-credentials', { secretId: arn });
    expect(await driftTag()).toBe(tag);

    await asMaster((pg) => `REVOKE INSERT, UPDATE ON payroll FROM ${pg.escapeIdentifier(username)}`);
    const restored = await runWorkflow(connectionOf(tc), 'verify-credentials', { secretId: arn });
    expect(restored.status).toBe('SUCCEEDED');
    expect(await driftTag()).toBeUndefined();
    const after = await statusJson();
    expect(after.view.rows.find((r) => r.secret === name)).toBeUndefined();
  }, 180_000);
});

describe('credflow status over many pages', () => {
  it('reads every page of ListSecrets (100 a page) and prints the rows worst first as text', async () => {
    const n = 230;
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = `credflow/paged-db/u${String(i).padStart(3, '0')}`;
      names.push(name);
      await tc.clients.secrets.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: '{"n":1}',
          Tags: [
            { Key: 'credflow:managed', Value: 'true' },
            { Key: 'credflow:db', Value: 'paged-db' },
            // Every tenth a broken one, the rest failing: both kinds found on every page.
            { Key: 'credflow:rotation-status', Value: i % 10 === 0 ? 'broken' : 'rolled-back' },
          ],
        }),
      );
    }
    const { view } = await statusJson();
    expect(view.pages).toBeGreaterThanOrEqual(Math.ceil(n / 100));
    const paged = view.rows.filter((r) => r.database === 'paged-db');
    expect(paged.map((r) => r.secret).sort()).toEqual(names);
    expect(paged.filter((r) => r.kind === 'broken')).toHaveLength(n / 10);

    // The text a person reads: a header, then one line per row, broken ones first.
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const code = await status({
        stateDir: tc.stateDir,
        endpointUrl: tc.cloud.endpoint,
        region: tc.cloud.region,
      });
      // As documented: 0 whatever the view shows (scripts read --json's rows).
      expect(code).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const lines = written.join('').split('\n');
    const header = lines.findIndex((l) => /^kind\s+secret\s+database\s+since\s+what\s+look at/.test(l));
    expect(header).toBeGreaterThanOrEqual(0);
    const kinds = lines
      .slice(header + 1)
      .map((l) => /^([A-Z]+)\s/.exec(l)?.[1])
      .filter(Boolean);
    expect(kinds.length).toBe(view.rows.length);
    expect(kinds[0]).toBe('BROKEN');
    expect(kinds.lastIndexOf('BROKEN')).toBeLessThan(kinds.indexOf('FAILING'));
    for (const name of names) expect(written.join('')).toContain(name);
  }, 180_000);
});
