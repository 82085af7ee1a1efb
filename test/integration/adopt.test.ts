/**
 * Adoption on real servers behind the local cloud's RDS: secrets made and rotated once by
 * stand-ins for AWS's four RDS rotation functions (test/support/aws-templates.ts) are reported
 * by a dry run, adopted, rotated twice by credflow, verified and handed back with undo; secrets
 * that would cross the privilege boundary are reported with their blockers and left alone.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { adopt as adoptCommand } from '../../cli/adopt';
import { runWorkflow as runWorkflowOf } from '../../cli/run';
import { SecretCredentials } from '../../src/client';
import type { Deps } from '../../src/deps';
import { engineFor } from '../../src/engines';
import type { Credentials } from '../../src/engines/types';
import { ValidationError } from '../../src/errors';
import {
  ADOPTED_FROM_TAG,
  type AdoptReport,
  adoptInput,
  adoptSecret,
  type BlockerCode,
} from '../../src/lifecycle/adopt';
import { DRIFT_TAG } from '../../src/lifecycle/drift';
import { MANAGED_TAG } from '../../src/lifecycle/users';
import { verifyCredentials } from '../../src/lifecycle/verify';
import { memoryLogger } from '../../src/log';
import { resolveMaster } from '../../src/rotation/master';
import { connectionOf, current, succeed } from '../e2e/support';
import { dbaUser, type TemplateKind, templateHandler, templateName } from '../support/aws-templates';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { type Family, sqlAs } from '../support/sql';

const FAMILIES: Family[] = ['postgres', 'mysql'];
const DBS: Record<Family, string> = { postgres: 'adopt-pg', mysql: 'adopt-my' };
const SCHEDULE = 'rate(10 days)';

let tc: TestCloud;
let deps: Deps;
const masters = {} as Record<Family, { arn: string; creds: Credentials }>;
const templates = {} as Record<string, string>;
let seq = 0;

beforeAll(async () => {
  tc = await startTestCloud();
  deps = {
    secrets: tc.clients.secrets,
    rds: tc.clients.rds,
    logger: memoryLogger(),
    rotationLambdaArn: tc.rotationLambdaArn,
  };
  const conn = connectionOf(tc);
  await Promise.all(
    FAMILIES.map(async (family) => {
      const out = await succeed(conn, 'provision-database', {
        identifier: DBS[family],
        engine: family,
        pollSeconds: 1,
      });
      const arn = out['masterSecretArn'] as string;
      masters[family] = { arn, creds: (await resolveMaster(tc.clients, arn)).creds };
      const inApp = { ...masters[family].creds, dbname: 'appdb' };
      await sqlAs(family, inApp, 'CREATE TABLE orders (id INT PRIMARY KEY, note TEXT)');
    }),
  );
  for (const family of FAMILIES) {
    for (const kind of ['SingleUser', 'MultiUser'] as TemplateKind[]) {
      const name = templateName(family, kind);
      templates[name] = tc.cloud.lambdas.register(name, templateHandler(tc.clients.secrets, family, kind));
      // As AWS's serverless application deploys with each template: Secrets Manager may invoke it.
      tc.cloud.iam.addPermission(templates[name], 'secretsmanager.amazonaws.com');
    }
  }
}, 300_000);

afterAll(async () => {
  await tc?.stop();
});

/** A database user with SELECT and INSERT on appdb, made by the master as a DBA would. */
async function makeUser(family: Family, username: string, password: string, extra: string[] = []) {
  await dbaUser(family, masters[family].creds, username, password, extra);
}

/** A secret in AWS's JSON shape for `username` on the family's database (appdb); its ARN. */
async function awsShapedSecret(
  family: Family,
  name: string,
  username: string,
  password: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const m = masters[family].creds;
  const made = await tc.clients.secrets.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: JSON.stringify({
        engine: family,
        host: m.host,
        port: m.port,
        username,
        password,
        dbname: 'appdb',
        ...extra,
      }),
    }),
  );
  return made.ARN as string;
}

interface Made {
  arn: string;
  username: string;
}

/**
 * A secret in AWS's JSON shape as AWS's template of `kind` leaves it: rotation on with that
 * template and SCHEDULE, rotated once (a MultiUser secret then holds `<user>_clone`).
 */
async function templateSecret(
  family: Family,
  kind: TemplateKind,
  opts: { rotate?: boolean; extra?: (u: string) => string[]; masterarn?: string } = {},
): Promise<Made> {
  seq += 1;
  const username = `app${seq}`;
  const password = `Init${seq}pw-${Math.random().toString(36).slice(2)}`;
  await makeUser(family, username, password, opts.extra?.(username));
  const arn = await awsShapedSecret(
    family,
    `apps/${family}/${kind}-${seq}`,
    username,
    password,
    kind === 'MultiUser' ? { masterarn: opts.masterarn ?? masters[family].arn } : {},
  );
  await tc.clients.secrets.send(
    new RotateSecretCommand({
      SecretId: arn,
      RotationLambdaARN: templates[templateName(family, kind)],
      RotationRules: { ScheduleExpression: SCHEDULE },
      RotateImmediately: opts.rotate ?? true,
    }),
  );
  await tc.cloud.secrets.awaitIdle();
  return { arn, username };
}

async function adopt(secretId: string, extra: Record<string, unknown> = {}): Promise<AdoptReport> {
  return adoptSecret(deps, adoptInput.parse({ secretId, ...extra }));
}

const codes = (r: AdoptReport): BlockerCode[] => r.blockers.map((b) => b.code).sort();

async function rotation(arn: string) {
  const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
  const tags = Object.fromEntries((d.Tags ?? []).map((t) => [t.Key, t.Value]));
  return { enabled: d.RotationEnabled, lambda: d.RotationLambdaARN, rules: d.RotationRules, tags };
}

async function rotateWithCredflow(arn: string): Promise<void> {
  await tc.clients.secrets.send(new RotateSecretCommand({ SecretId: arn, RotateImmediately: true }));
  await tc.cloud.secrets.awaitIdle();
}

describe.each(FAMILIES)('%s: secrets AWS rotation functions made', (family) => {
  it('single-user: the dry run reports the database, single-user, the rotation it has, a working login, no blockers', async () => {
    const s = await templateSecret(family, 'SingleUser');
    const before = await rotation(s.arn);
    const r = await adopt(s.arn, { dryRun: true });
    expect(r).toMatchObject({
      outcome: 'dry-run',
      database: { identifier: DBS[family], kind: 'instance' },
      strategy: 'single-user',
      username: s.username,
      loginOk: true,
      rotation: { enabled: true, lambdaArn: templates[templateName(family, 'SingleUser')] },
      blockers: [],
      changed: [],
    });
    expect(r.rotation.rules?.ScheduleExpression).toBe(SCHEDULE);
    // Nothing changed.
    expect(await rotation(s.arn)).toEqual(before);
  });

  it('multi-user after one rotation: alternating-users with the clone AWS made; apply, rotate twice, verify, undo', async () => {
    const s = await templateSecret(family, 'MultiUser');
    expect((await current(connectionOf(tc), s.arn)).username).toBe(`${s.username}_clone`);
    const dry = await adopt(s.arn, { dryRun: true });
    expect(dry).toMatchObject({
      outcome: 'dry-run',
      strategy: 'alternating-users',
      username: s.username,
      clone: `${s.username}_clone`,
      loginOk: true,
      blockers: [],
    });

    const applied = await adopt(s.arn);
    expect(applied.outcome).toBe('adopted');
    expect(applied.verify?.ok).toBe(true);
    const after = await rotation(s.arn);
    expect(after.lambda).toBe(tc.rotationLambdaArn);
    expect(after.rules?.ScheduleExpression).toBe(SCHEDULE);
    expect(after.tags).toMatchObject({
      [MANAGED_TAG]: 'true',
      'credflow:user': s.username,
      'credflow:db': DBS[family],
      'credflow:strategy': 'alternating-users',
      [ADOPTED_FROM_TAG]: templates[templateName(family, 'MultiUser')],
    });
    const bindings = await engineFor(family).bindingsOf(masters[family].creds, [
      s.username,
      `${s.username}_clone`,
    ]);
    expect(bindings[s.username]?.binding).toBe(s.arn);
    expect(bindings[`${s.username}_clone`]?.binding).toBe(s.arn);
    // Applying again changes nothing.
    expect((await adopt(s.arn)).outcome).toBe('already-adopted');

    const seen = new Set<string>();
    for (let i = 0; i < 2; i++) {
      await rotateWithCredflow(s.arn);
      seen.add((await current(connectionOf(tc), s.arn)).username);
      const v = await verifyCredentials(deps, { secretId: s.arn });
      expect(v.checks.filter((c) => !c.ok)).toEqual([]);
    }
    expect([...seen].sort()).toEqual([s.username, `${s.username}_clone`].sort());

    // A drift a verify recorded while credflow had it (credflow status's drifted row)...
    await tc.clients.secrets.send(
      new TagResourceCommand({
        SecretId: s.arn,
        Tags: [{ Key: DRIFT_TAG, Value: 'grants 2026-12-07T13:00:00Z' }],
      }),
    );
    // credflow's rotations recorded theirs.
    expect((await rotation(s.arn)).tags).toHaveProperty(['credflow:last-rotated']);
    const undone = await adopt(s.arn, { undo: true });
    expect(undone.outcome).toBe('undone');
    const back = await rotation(s.arn);
    // ...goes with credflow's other tags, and so does what its rotations recorded.
    expect(back.tags[DRIFT_TAG]).toBeUndefined();
    expect(Object.keys(back.tags).filter((k) => k.startsWith('credflow:'))).toEqual([]);
    expect(back.lambda).toBe(templates[templateName(family, 'MultiUser')]);
    expect(back.enabled).toBe(true);
    expect(back.rules?.ScheduleExpression).toBe(SCHEDULE);
    expect(back.tags[MANAGED_TAG]).toBeUndefined();
    expect(back.tags[ADOPTED_FROM_TAG]).toBeUndefined();
    const unbound = await engineFor(family).bindingsOf(masters[family].creds, [s.username]);
    expect(unbound[s.username]?.binding).toBeUndefined();
    // AWS's function rotates it again.
    await tc.clients.secrets.send(new RotateSecretCommand({ SecretId: s.arn, RotateImmediately: true }));
    await tc.cloud.secrets.awaitIdle();
    expect((await adopt(s.arn, { dryRun: true })).loginOk).toBe(true);
  });

  it('single-user: apply, rotate twice with credflow, verify', async () => {
    const s = await templateSecret(family, 'SingleUser');
    const applied = await adopt(s.arn);
    expect(applied).toMatchObject({ outcome: 'adopted', strategy: 'single-user', verify: { ok: true } });
    for (let i = 0; i < 2; i++) {
      await rotateWithCredflow(s.arn);
      expect((await verifyCredentials(deps, { secretId: s.arn })).ok).toBe(true);
    }
  });

  it('multi-user before any rotation: alternating by default, admin-single-user when the operator says so', async () => {
    const s = await templateSecret(family, 'MultiUser', { rotate: false });
    expect(await adopt(s.arn, { dryRun: true })).toMatchObject({
      strategy: 'alternating-users',
      blockers: [],
    });
    const admin = await adopt(s.arn, { dryRun: true, strategy: 'admin-single-user' });
    expect(admin).toMatchObject({ strategy: 'admin-single-user', blockers: [] });
    expect(admin.clone).toBeUndefined();
  });

  it('blockers: a wrong masterarn, a rotation in flight, a refused password; nothing adopted', async () => {
    const m = masters[family].creds;
    const other = await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: `apps/${family}/not-the-master-${++seq}`,
        SecretString: JSON.stringify({
          engine: family,
          host: m.host,
          port: m.port,
          username: m.username,
          password: m.password,
        }),
      }),
    );
    const wrong = await templateSecret(family, 'MultiUser', {
      rotate: false,
      masterarn: other.ARN as string,
    });
    expect(codes(await adopt(wrong.arn, { dryRun: true }))).toContain('wrong-master');
    const refused = await adopt(wrong.arn);
    expect(refused.outcome).toBe('refused');
    expect((await rotation(wrong.arn)).tags[MANAGED_TAG]).toBeUndefined();

    const inFlight = await templateSecret(family, 'SingleUser');
    await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: inFlight.arn,
        ClientRequestToken: `pending-${crypto.randomUUID()}`,
        SecretString: '{}',
        VersionStages: ['AWSPENDING'],
      }),
    );
    expect(codes(await adopt(inFlight.arn, { dryRun: true }))).toEqual(['rotation-in-flight']);

    const bad = await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: `apps/${family}/bad-password-${++seq}`,
        SecretString: JSON.stringify({
          engine: family,
          host: m.host,
          port: m.port,
          username: `app${seq - 1}`,
          password: 'nope',
          dbname: 'appdb',
        }),
      }),
    );
    const r = await adopt(bad.ARN as string, { dryRun: true });
    expect(r.loginOk).toBe(false);
    expect(codes(r)).toContain('password-refused');

    const notShape = await tc.clients.secrets.send(
      new CreateSecretCommand({ Name: `apps/${family}/plain-${++seq}`, SecretString: 'just a password' }),
    );
    expect(codes(await adopt(notShape.ARN as string, { dryRun: true }))).toEqual(['not-aws-shape']);
  });

  it("blockers: the master's own secret, a user with more than database-level privileges", async () => {
    const m = masters[family].creds;
    const master = await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: `apps/${family}/master-copy-${++seq}`,
        SecretString: JSON.stringify({
          engine: family,
          host: m.host,
          port: m.port,
          username: m.username,
          password: m.password,
          dbname: 'appdb',
        }),
      }),
    );
    expect(codes(await adopt(master.ARN as string, { dryRun: true }))).toContain('master-account');

    const elevated = await templateSecret(family, 'SingleUser', {
      extra: (u) =>
        family === 'postgres' ? [`ALTER ROLE "${u}" CREATEROLE`] : [`GRANT PROCESS ON *.* TO '${u}'@'%'`],
    });
    const r = await adopt(elevated.arn, { dryRun: true });
    expect(codes(r)).toEqual(['elevated-privileges']);
    expect(r.blockers[0]?.detail).toMatch(family === 'postgres' ? /CREATEROLE/ : /PROCESS ON \*\.\*/);
    expect((await adopt(elevated.arn)).outcome).toBe('refused');
    const b = await engineFor(family).bindingsOf(m, [elevated.username]);
    expect(b[elevated.username]?.binding).toBeUndefined();
  });

  it('a clone with more than the user has is not its clone', async () => {
    const s = await templateSecret(family, 'MultiUser');
    const clone = `${s.username}_clone`;
    const m = masters[family].creds;
    await sqlAs(
      family,
      family === 'postgres' ? { ...m, dbname: 'appdb' } : m,
      family === 'postgres'
        ? `GRANT DELETE ON orders TO "${clone}"`
        : `GRANT DELETE ON appdb.* TO '${clone}'@'%'`,
    );
    expect(codes(await adopt(s.arn, { dryRun: true }))).toEqual(['clone-mismatch']);
  });

  it('undo refuses a secret credflow never adopted', async () => {
    const s = await templateSecret(family, 'SingleUser', { rotate: false });
    await expect(adopt(s.arn, { undo: true })).rejects.toThrow(ValidationError);
  });
});

describe.each(FAMILIES)('%s: the other blockers, and an apply that fails half-way', (family) => {
  /** A secret in AWS's shape, made without a rotation. */
  const plainSecret = (username: string, password: string, extra: Record<string, unknown> = {}) =>
    awsShapedSecret(family, `apps/${family}/plain-${++seq}`, username, password, extra);

  it('a system account, a user that does not exist, an endpoint no database has, a user already bound to another secret, a pair the master cannot inspect, no rotation function', async () => {
    const system = 'rdsadmin';
    expect(codes(await adopt(await plainSecret(system, 'whatever-1'), { dryRun: true }))).toContain(
      'system-account',
    );
    const ghost = await adopt(await plainSecret(`ghost${++seq}`, 'whatever-2'), { dryRun: true });
    expect(codes(ghost)).toEqual(['password-refused', 'user-missing']);
    const nowhere = await adopt(await plainSecret('someone', 'whatever-3', { port: 1 }), { dryRun: true });
    expect(codes(nowhere)).toEqual(expect.arrayContaining(['login-failed', 'no-database']));

    // The same user behind a second secret, once the first one is adopted.
    const first = await templateSecret(family, 'SingleUser');
    expect((await adopt(first.arn)).outcome).toBe('adopted');
    const password = (await current(connectionOf(tc), first.arn)).password;
    const second = await adopt(await plainSecret(first.username, password), { dryRun: true });
    expect(codes(second)).toEqual(['bound-elsewhere']);

    // A user whose `_clone` would pass the engine's name limit: the master cannot inspect the pair.
    const long = `l${++seq}`.padEnd(engineFor(family).maxUsernameLength - 3, 'x');
    await makeUser(family, long, 'Long-pw-1');
    const inspect = await adopt(await plainSecret(long, 'Long-pw-1', { masterarn: masters[family].arn }), {
      dryRun: true,
    });
    expect(codes(inspect)).toEqual(['inspect-failed']);

    // A function whose environment names no rotation function of credflow's cannot take rotation.
    const unconfigured = await adoptSecret(
      { ...deps, rotationLambdaArn: undefined },
      adoptInput.parse({ secretId: (await templateSecret(family, 'SingleUser')).arn, dryRun: true }),
    );
    expect(codes(unconfigured)).toEqual(['no-rotation-function']);
  });

  it('an apply whose RotateSecret fails leaves the secret and the user as they were: tags, binding, rotation', async () => {
    const s = await templateSecret(family, 'MultiUser', { rotate: false });
    const before = await rotation(s.arn);
    // The secrets client fails RotateSecret once (as AWS may: throttled, a function not found),
    // every other call goes to the local cloud.
    const failing = new SecretsManagerClient(tc.cloud.clientConfig());
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'RotateSecretCommand') throw new Error('RotateSecret failed (injected)');
        return next(args);
      },
      { step: 'initialize', name: 'failRotateSecret' },
    );
    await expect(
      adoptSecret({ ...deps, secrets: failing }, adoptInput.parse({ secretId: s.arn })),
    ).rejects.toThrow('RotateSecret failed (injected)');
    failing.destroy();
    const after = await rotation(s.arn);
    expect(after).toEqual(before);
    const bindings = await engineFor(family).bindingsOf(masters[family].creds, [s.username]);
    expect(bindings[s.username]?.binding).toBeUndefined();
    // And it can be adopted afterwards, as if nothing had happened.
    expect((await adopt(s.arn)).outcome).toBe('adopted');
  });
});

describe('a credflow secret that AWS multi-user function rotated once', () => {
  it.each(FAMILIES)(
    '%s: credflow refuses the unbound clone naming credflow adopt; adopting binds it; rotations go on',
    async (family) => {
      const conn = connectionOf(tc);
      const username = `made${++seq}`;
      const out = await succeed(conn, 'create-database-user', {
        dbIdentifier: DBS[family],
        username,
        privileges: ['SELECT', 'INSERT'],
        strategy: 'alternating-users',
      });
      const arn = out['secretArn'] as string;
      // A fallback: AWS's multi-user function rotates it once and makes <user>_clone itself.
      await tc.clients.secrets.send(
        new RotateSecretCommand({
          SecretId: arn,
          RotationLambdaARN: templates[templateName(family, 'MultiUser')],
          RotationRules: { ScheduleExpression: SCHEDULE },
          RotateImmediately: true,
        }),
      );
      await tc.cloud.secrets.awaitIdle();
      expect((await current(conn, arn)).username).toBe(`${username}_clone`);
      await expect(
        engineFor(family).cloneUser(
          masters[family].creds,
          username,
          `${username}_clone`,
          'Another-pw-1234',
          arn,
        ),
      ).rejects.toThrow(/is not bound to this secret.*credflow adopt/);

      const r = await adopt(arn);
      expect(r).toMatchObject({
        outcome: 'adopted',
        strategy: 'alternating-users',
        clone: `${username}_clone`,
      });
      expect(r.changed.join('\n')).toMatch(new RegExp(`bound ${username}_clone to the secret`));
      expect(r.changed.join('\n')).not.toMatch(new RegExp(`bound ${username} and`));
      for (let i = 0; i < 2; i++) {
        await rotateWithCredflow(arn);
        expect((await verifyCredentials(deps, { secretId: arn })).ok).toBe(true);
      }
    },
  );
});

describe('the adopt-secrets workflow', () => {
  it('reports every secret a name prefix selects, one row each, and adopts one by id', async () => {
    const conn = connectionOf(tc);
    const a = await templateSecret('postgres', 'SingleUser');
    const b = await templateSecret('mysql', 'MultiUser');
    const prefix = 'apps/';
    const dry = (await succeed(conn, 'adopt-secrets', { prefix, dryRun: true })) as {
      reports: {
        secretArn: string;
        outcome: string;
        strategy?: string;
        database?: string;
        blockers: unknown[];
      }[];
      counts: Record<string, number>;
    };
    const rowOf = (arn: string) => dry.reports.find((x) => x.secretArn === arn);
    expect(rowOf(a.arn)).toMatchObject({
      outcome: 'dry-run',
      strategy: 'single-user',
      database: DBS.postgres,
      blockers: [],
    });
    expect(rowOf(b.arn)).toMatchObject({
      outcome: 'dry-run',
      strategy: 'alternating-users',
      database: DBS.mysql,
    });
    expect(dry.reports.every((x) => x.outcome === 'dry-run')).toBe(true);
    expect((await rotation(a.arn)).tags[MANAGED_TAG]).toBeUndefined();

    const applied = (await succeed(conn, 'adopt-secrets', { secretId: a.arn })) as {
      reports: { outcome: string }[];
    };
    expect(applied.reports).toEqual([expect.objectContaining({ outcome: 'adopted' })]);
    expect((await rotation(a.arn)).lambda).toBe(tc.rotationLambdaArn);
  });

  it('an adopted secret outside credflow/ whose rotation stalled is found and rolled back by reconcile-rotations, under its roles', async () => {
    const conn = connectionOf(tc);
    seq += 1;
    const username = `app${seq}`;
    const password = `Init${seq}pw-${Math.random().toString(36).slice(2)}`;
    await makeUser('mysql', username, password);
    const arn = await awsShapedSecret('mysql', `apps/stalled/${username}`, username, password);
    const value = await current(conn, arn);
    await succeed(conn, 'adopt-secrets', { secretId: arn });
    // A rotation cut after createSecret: an AWSPENDING the database never got.
    const token = `stalled-${seq}-${'0'.repeat(32)}`;
    await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token,
        SecretString: JSON.stringify({ ...value, password: 'Never-set-1' }),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const out = (await succeed(conn, 'reconcile-rotations', { olderThanMinutes: 0 })) as {
      stalled: number;
      rolledBack: number;
    };
    expect(out.stalled).toBeGreaterThanOrEqual(1);
    expect(out.rolledBack).toBeGreaterThanOrEqual(1);
    const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(d.VersionIdsToStages?.[token]).toBeUndefined();
    expect(d.Tags).toContainEqual({ Key: 'credflow:rotation-status', Value: 'rolled-back' });
    expect((await adopt(arn, { dryRun: true })).loginOk).toBe(true);
  });

  it('--schedule: credflow rotates on the schedule asked for, not the one the secret had; a malformed one changes nothing', async () => {
    const conn = connectionOf(tc);
    const s = await templateSecret('postgres', 'SingleUser', { rotate: false });
    const bad = await runWorkflowOf(conn, 'adopt-secrets', { secretId: s.arn, schedule: 'every tuesday' });
    expect(bad).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    expect((await rotation(s.arn)).tags[MANAGED_TAG]).toBeUndefined();
    await succeed(conn, 'adopt-secrets', { secretId: s.arn, schedule: 'rate(7 days)' });
    const after = await rotation(s.arn);
    expect(after.lambda).toBe(tc.rotationLambdaArn);
    expect(after.rules?.ScheduleExpression).toBe('rate(7 days)');
    // Undo hands back the schedule the secret had.
    await succeed(conn, 'adopt-secrets', { secretId: s.arn, undo: true });
    expect((await rotation(s.arn)).rules?.ScheduleExpression).toBe(SCHEDULE);
  });

  it('undo of a secret that had no rotation turns rotation off again, as the adopt function role', async () => {
    const conn = connectionOf(tc);
    seq += 1;
    const username = `app${seq}`;
    const password = `Init${seq}pw-${Math.random().toString(36).slice(2)}`;
    await makeUser('postgres', username, password);
    const arn = await awsShapedSecret('postgres', `apps/no-rotation/${username}`, username, password);
    const applied = (await succeed(conn, 'adopt-secrets', { secretId: arn })) as {
      reports: { outcome: string }[];
    };
    expect(applied.reports).toEqual([expect.objectContaining({ outcome: 'adopted' })]);
    expect((await rotation(arn)).enabled).toBe(true);
    // CancelRotateSecret carries no RotationLambdaARN: it is granted apart from RotateSecret.
    const undone = (await succeed(conn, 'adopt-secrets', { secretId: arn, undo: true })) as {
      reports: { outcome: string; error?: string }[];
    };
    expect(undone.reports).toEqual([expect.objectContaining({ outcome: 'undone' })]);
    const after = await rotation(arn);
    expect(after.enabled).toBe(false);
    expect(after.tags[MANAGED_TAG]).toBeUndefined();
  });
});

describe('credflow adopt', () => {
  /** Runs the command in this process against the test cloud; returns its exit code and stdout. */
  async function cli(secret: string | undefined, o: Parameters<typeof adoptCommand>[2], json = false) {
    const config = tc.cloud.clientConfig();
    const creds = config.credentials as { accessKeyId: string; secretAccessKey: string };
    process.env['AWS_ACCESS_KEY_ID'] = creds.accessKeyId;
    process.env['AWS_SECRET_ACCESS_KEY'] = creds.secretAccessKey;
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const quiet = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await adoptCommand(
        { stateDir: tc.stateDir, endpointUrl: tc.cloud.endpoint, region: tc.cloud.region, json },
        secret,
        o,
      );
      return { code, stdout: written.join('') };
    } finally {
      spy.mockRestore();
      quiet.mockRestore();
    }
  }

  it('prints a table of secret, database, strategy, login and blockers; --json the full reports; exit 1 on a blocker', async () => {
    const ok = await templateSecret('postgres', 'MultiUser');
    const r = await cli(ok.arn, { dryRun: true });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SECRET\s+DATABASE\s+STRATEGY\s+LOGIN\s+OUTCOME\s+BLOCKERS$/);
    expect(lines[2]).toMatch(
      new RegExp(`MultiUser-\\d+\\s+${DBS.postgres}\\s+alternating-users\\s+ok\\s+dry-run\\s+-$`),
    );

    const m = masters.mysql.creds;
    const master = await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: `cli/master-${++seq}`,
        SecretString: JSON.stringify({
          engine: 'mysql',
          host: m.host,
          port: m.port,
          username: m.username,
          password: m.password,
        }),
      }),
    );
    const j = await cli(master.ARN as string, { dryRun: true }, true);
    expect(j.code).toBe(1);
    const parsed = JSON.parse(j.stdout) as { reports: AdoptReport[]; details: AdoptReport[] };
    expect(parsed.details[0]?.blockers.map((b) => b.code)).toContain('master-account');
    expect(parsed.details[0]?.rotation).toEqual({ enabled: false });
  });
});

describe('applications during adoption', () => {
  /** An application loop: log in and SELECT 1 every few ms until stopped; counts outcomes. */
  function appLoop(login: () => Promise<void>) {
    const stats = { ok: 0, failed: 0 };
    let running = true;
    const done = (async () => {
      while (running) {
        try {
          await login();
          stats.ok++;
        } catch {
          stats.failed++;
        }
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    return {
      stats,
      atLeast: async (n: number) => {
        while (running && stats.ok < n) await new Promise((r) => setTimeout(r, 5));
      },
      stop: async () => {
        running = false;
        await done;
      },
    };
  }

  it.each(
    FAMILIES.flatMap((f) => (['SingleUser', 'MultiUser'] as TemplateKind[]).map((k) => [f, k] as const)),
  )(
    '%s %s: a login loop through SecretCredentials sees no failed login across adoption and two credflow rotations',
    async (family, kind) => {
      const s = await templateSecret(family, kind);
      const engine = engineFor(family);
      const creds = new SecretCredentials({ secretId: s.arn, client: tc.clients.secrets, ttlMs: 60_000 });
      const loop = appLoop(() => creds.withCredentials((c: Credentials) => engine.testLogin(c)));
      await loop.atLeast(3);
      expect((await adopt(s.arn)).outcome).toBe('adopted');
      await loop.atLeast(loop.stats.ok + 3);
      for (let i = 0; i < 2; i++) {
        await rotateWithCredflow(s.arn);
        await loop.atLeast(loop.stats.ok + 3);
      }
      await loop.stop();
      expect(loop.stats.failed).toBe(0);
      expect(loop.stats.ok).toBeGreaterThanOrEqual(12);
    },
  );
});
