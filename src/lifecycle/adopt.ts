/**
 * Adoption: bringing a secret that AWS's own rotation functions (or a person) rotate under
 * credflow. A dry run reads and reports; applying binds the secret's user (and an existing
 * `_clone`) exactly as create-database-user does, records the rotation the secret had, moves its
 * rotation to credflow's function with the same schedule and verifies. Every change is undone
 * when a later one fails, and `undo` hands the secret back to the rotation it had.
 */
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
} from '@aws-sdk/client-rds';
import {
  CancelRotateSecretCommand,
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  ListSecretsCommand,
  RotateSecretCommand,
  type RotationRulesType,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { aws } from '../aws/errors';
import type { Deps } from '../deps';
import { engineFor as defaultEngineFor } from '../engines';
import { isSystemAccount } from '../engines/common';
import type { AdoptionFacts, Credentials, DatabaseEngine } from '../engines/types';
import { AuthenticationError, CredflowError, DatabaseError, ValidationError } from '../errors';
import { USER_TAG } from '../rotation/boundary';
import { credentialsOf, type MasterLogin, resolveMaster } from '../rotation/master';
import { grantsFingerprint } from '../rotation/strategies';
import { STRATEGY_TAG, type StrategyName } from '../rotation/types';
import { readVersion } from '../rotation/versions';
import { type DbSecret, defaultPort, parseDbSecret } from '../secret';
import { parser } from '../validate';
import { DRIFT_TAG } from './drift';
import { DB_TAG, GRANTS_TAG, MANAGED_TAG } from './users';
import { type VerifyReport, verifyCredentials } from './verify';

/** The rotation function a secret had before adoption (its ARN, or `none`). */
export const ADOPTED_FROM_TAG = 'credflow:adopted-from';
/** The rotation it had: base64 of `{"enabled":..,"rules":{..}}` (tag values cannot hold `(`). */
export const ADOPTED_RULES_TAG = 'credflow:adopted-rules';
const CLONE_SUFFIX = '_clone';

/** A RotationRules ScheduleExpression: `rate(N hours|days)` or `cron(...)`, as Secrets Manager takes. */
const scheduleExpression = z
  .string()
  .max(256)
  .regex(
    /^(rate\(\d{1,4} (hour|hours|day|days)\)|cron\([^()]+\))$/,
    'a rate(N days|hours) or cron(...) expression',
  );

export const adoptInput = z.object({
  secretId: z.string().min(1).max(2048),
  dryRun: z.boolean().default(false),
  undo: z.boolean().default(false),
  /** For a secret with a masterarn and no `_clone`: the operator's choice. */
  strategy: z.enum(['alternating-users', 'admin-single-user']).default('alternating-users'),
  /** The database's master secret when it is not RDS's managed one. */
  masterSecretArn: z.string().min(1).max(2048).optional(),
  /** The schedule credflow rotates the secret on; default: the one it has (30 days if none). */
  schedule: scheduleExpression.optional(),
});
export type AdoptInput = z.input<typeof adoptInput>;

/** Parses adoptSecret's input (a ValidationError naming each bad field). */
export const parseAdoptInput = parser(adoptInput, 'invalid adopt input');

export type BlockerCode =
  | 'not-aws-shape'
  | 'no-database'
  | 'wrong-master'
  | 'master-refused'
  | 'password-refused'
  | 'login-failed'
  | 'system-account'
  | 'master-account'
  | 'elevated-privileges'
  | 'rotation-in-flight'
  | 'bound-elsewhere'
  | 'user-missing'
  | 'inspect-failed'
  | 'clone-mismatch'
  | 'no-rotation-function'
  | 'verify-failed';

export interface Blocker {
  code: BlockerCode;
  detail: string;
}

export interface RotationNow {
  enabled: boolean;
  lambdaArn?: string | undefined;
  rules?: RotationRulesType | undefined;
}

export interface AdoptReport {
  secretArn: string;
  name: string;
  /** dry-run: nothing changed; adopted / undone: done; refused: blockers, nothing changed. */
  outcome: 'dry-run' | 'adopted' | 'already-adopted' | 'refused' | 'undone';
  database?:
    | { identifier: string; kind: 'instance' | 'cluster'; engine: string; endpoint: string }
    | undefined;
  engine?: string | undefined;
  /** The user the secret is bound to (without `_clone`). */
  username?: string | undefined;
  /** The `_clone` that exists next to it, if any. */
  clone?: string | undefined;
  strategy?: StrategyName | undefined;
  rotation: RotationNow;
  loginOk: boolean;
  blockers: Blocker[];
  /** What applying changed, in order. */
  changed: string[];
  verify?: Pick<VerifyReport, 'ok' | 'checks'> | undefined;
}

interface MatchedDb {
  identifier: string;
  kind: 'instance' | 'cluster';
  engine: string;
  endpoint: string;
  masterUsername: string | undefined;
  masterSecretArn: string | undefined;
}

function tagsOf(d: DescribeSecretCommandOutput): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const t of d.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return tags;
}

/** The RDS instance or cluster whose writer endpoint is host:port (all pages of both). */
export async function databaseAt(
  deps: Pick<Deps, 'rds'>,
  host: string,
  port: number,
): Promise<MatchedDb | undefined> {
  const same = (a: string | undefined, p: number | undefined) =>
    a !== undefined && a.toLowerCase() === host.toLowerCase() && p === port;
  // Instances first, then clusters: one pager over both, each page reduced to what matching needs.
  type Candidate = {
    id: string | undefined;
    address: string | undefined;
    port: number | undefined;
    db: DBInstance | DBCluster;
  };
  const lists: [MatchedDb['kind'], (marker?: string) => Promise<[Candidate[], string | undefined]>][] = [
    [
      'instance',
      async (marker) => {
        const page = await aws('DescribeDBInstances', () =>
          deps.rds.send(
            new DescribeDBInstancesCommand({ MaxRecords: 100, ...(marker ? { Marker: marker } : {}) }),
          ),
        );
        const dbs = (page.DBInstances ?? []).map((i) => ({
          id: i.DBInstanceIdentifier,
          address: i.Endpoint?.Address,
          port: i.Endpoint?.Port,
          db: i,
        }));
        return [dbs, page.Marker];
      },
    ],
    [
      'cluster',
      async (marker) => {
        const page = await aws('DescribeDBClusters', () =>
          deps.rds.send(
            new DescribeDBClustersCommand({ MaxRecords: 100, ...(marker ? { Marker: marker } : {}) }),
          ),
        );
        const dbs = (page.DBClusters ?? []).map((c) => ({
          id: c.DBClusterIdentifier,
          address: c.Endpoint,
          port: c.Port,
          db: c,
        }));
        return [dbs, page.Marker];
      },
    ],
  ];
  for (const [kind, list] of lists) {
    let marker: string | undefined;
    do {
      const [dbs, next] = await list(marker);
      const hit = dbs.find((d) => same(d.address, d.port));
      if (hit?.id) {
        return {
          identifier: hit.id,
          kind,
          engine: hit.db.Engine ?? '',
          endpoint: `${host}:${port}`,
          masterUsername: hit.db.MasterUsername,
          masterSecretArn: hit.db.MasterUserSecret?.SecretArn,
        };
      }
      marker = next;
    } while (marker);
  }
  return undefined;
}

/** Everything a dry run learns, kept for applying. */
interface Survey {
  report: AdoptReport;
  tags: Record<string, string>;
  current?: DbSecret;
  master?: MasterLogin;
  engine?: DatabaseEngine;
  facts?: Record<string, AdoptionFacts>;
  grants?: Record<string, string[] | null>;
}

function blocker(s: Survey, code: BlockerCode, detail: string): void {
  s.report.blockers.push({ code, detail });
}

/** The dry run: reads the secret, its database and its users; changes nothing. */
async function survey(deps: Deps, input: z.infer<typeof adoptInput>): Promise<Survey> {
  const d = await aws(`DescribeSecret ${input.secretId}`, () =>
    deps.secrets.send(new DescribeSecretCommand({ SecretId: input.secretId })),
  );
  const arn = d.ARN ?? input.secretId;
  const tags = tagsOf(d);
  const s: Survey = {
    tags,
    report: {
      secretArn: arn,
      name: d.Name ?? arn,
      outcome: 'dry-run',
      rotation: {
        enabled: d.RotationEnabled === true,
        lambdaArn: d.RotationLambdaARN,
        rules: d.RotationRules,
      },
      loginOk: false,
      blockers: [],
      changed: [],
    },
  };
  if (d.DeletedDate) throw new ValidationError(`secret ${arn} is marked for deletion`);
  const stages = Object.values(d.VersionIdsToStages ?? {});
  const pending = stages.find((st) => st.includes('AWSPENDING') && !st.includes('AWSCURRENT'));
  if (pending) {
    blocker(
      s,
      'rotation-in-flight',
      'a version carries AWSPENDING: a rotation is in flight; let it finish first',
    );
  }

  try {
    s.current = parseDbSecret(
      await readVersion(deps.secrets, arn, { VersionStage: 'AWSCURRENT' }),
      `AWSCURRENT of ${arn}`,
    );
  } catch (err) {
    if (!(err instanceof CredflowError)) throw err;
    blocker(s, 'not-aws-shape', `AWSCURRENT is not in AWS's JSON shape: ${err.message}`);
    return s;
  }
  const current = s.current;
  const engine = (deps.engineFor ?? defaultEngineFor)(current.engine);
  s.engine = engine;
  s.report.engine = current.engine;
  const base = current.username.endsWith(CLONE_SUFFIX)
    ? current.username.slice(0, -CLONE_SUFFIX.length)
    : current.username;
  s.report.username = base;

  const login = credentialsOf(current);
  try {
    await engine.testLogin(login);
    s.report.loginOk = true;
  } catch (err) {
    if (err instanceof AuthenticationError)
      blocker(s, 'password-refused', `AWSCURRENT (${current.username}) is refused`);
    else
      blocker(s, 'login-failed', `AWSCURRENT (${current.username}) cannot log in: ${(err as Error).message}`);
  }

  for (const u of [current.username, base]) {
    if (isSystemAccount(u)) blocker(s, 'system-account', `${JSON.stringify(u)} is a system or RDS account`);
  }

  const db = await databaseAt(deps, login.host, login.port ?? defaultPort(current.engine));
  if (db)
    s.report.database = {
      identifier: db.identifier,
      kind: db.kind,
      engine: db.engine,
      endpoint: db.endpoint,
    };
  else blocker(s, 'no-database', `no RDS instance or cluster has the endpoint ${login.host}:${login.port}`);

  // The master: the database's own (RDS's managed secret) or the one the operator names, which
  // must log in to the same endpoint as the database's master user.
  const masterArn = input.masterSecretArn ?? db?.masterSecretArn;
  if (current.masterarn !== undefined && current.masterarn !== masterArn) {
    blocker(
      s,
      'wrong-master',
      `masterarn ${current.masterarn} is not the database's master secret${masterArn ? ` (${masterArn})` : ''}`,
    );
  }
  if (db && masterArn) {
    try {
      const m = await resolveMaster(deps, masterArn);
      const sameEndpoint =
        m.creds.host.toLowerCase() === login.host.toLowerCase() && m.creds.port === login.port;
      const sameUser = db.masterUsername === undefined || m.creds.username === db.masterUsername;
      if (!sameEndpoint || !sameUser) {
        blocker(s, 'wrong-master', `master secret ${masterArn} is not the master of ${db.identifier}`);
      } else {
        await engine.testLogin(m.creds);
        s.master = m;
      }
    } catch (err) {
      if (!(err instanceof CredflowError)) throw err;
      blocker(s, 'master-refused', `master secret ${masterArn} does not log in: ${err.message}`);
    }
  } else if (db) {
    blocker(
      s,
      'wrong-master',
      `${db.identifier} has no RDS-managed master secret: name its master (masterSecretArn)`,
    );
  }
  const masterUser = s.master?.creds.username ?? db?.masterUsername;
  if (masterUser && [current.username, base].some((u) => u.toLowerCase() === masterUser.toLowerCase())) {
    blocker(s, 'master-account', `${JSON.stringify(current.username)} is the database's master user`);
  }

  if (
    s.master &&
    engine.adoptionFacts &&
    !s.report.blockers.some((b) => b.code === 'system-account' || b.code === 'master-account')
  ) {
    const clone = `${base}${CLONE_SUFFIX}`;
    const names = [base, clone];
    let facts: Record<string, AdoptionFacts>;
    try {
      facts = await engine.adoptionFacts(s.master.creds, names);
    } catch (err) {
      // A name the engine cannot hold (a `_clone` past the length limit), a master without
      // access to the catalog: reported, not thrown, so the other secrets of a run go on.
      if (!(err instanceof ValidationError) && !(err instanceof DatabaseError)) throw err;
      blocker(s, 'inspect-failed', `the master cannot inspect ${JSON.stringify(base)}: ${err.message}`);
      return finish(s, input, current, deps);
    }
    s.facts = facts;
    const user = facts[base];
    const cloneFacts = facts[clone];
    if (!user?.exists) blocker(s, 'user-missing', `user ${JSON.stringify(base)} does not exist`);
    for (const name of names) {
      const f = facts[name];
      if (!f?.exists) continue;
      if (f.elevated.length > 0) {
        blocker(
          s,
          'elevated-privileges',
          `${JSON.stringify(name)} holds more than database-level privileges: ${f.elevated.join(', ')}`,
        );
      }
      if (f.binding !== undefined && f.binding !== arn) {
        blocker(s, 'bound-elsewhere', `${JSON.stringify(name)} is bound to another secret`);
      }
    }
    if (cloneFacts?.exists && user?.exists) {
      s.report.clone = clone;
      s.grants = await engine.inspectUsers(s.master.creds, names);
      const mismatch = cloneMismatch(
        engine,
        base,
        user,
        cloneFacts,
        s.grants[base] ?? null,
        s.grants[clone] ?? null,
      );
      if (mismatch)
        blocker(
          s,
          'clone-mismatch',
          `${JSON.stringify(clone)} is not ${JSON.stringify(base)}'s clone: ${mismatch}`,
        );
    } else if (user?.exists) {
      s.grants = await engine.inspectUsers(s.master.creds, [base]);
    }
  }

  return finish(s, input, current, deps);
}

/** The strategy the secret maps to, and whether credflow can take its rotation. */
function finish(s: Survey, input: z.infer<typeof adoptInput>, current: DbSecret, deps: Deps): Survey {
  s.report.strategy =
    current.masterarn === undefined ? 'single-user' : s.report.clone ? 'alternating-users' : input.strategy;
  if (!deps.rotationLambdaArn) {
    blocker(
      s,
      'no-rotation-function',
      "credflow's rotation function is not configured (ROTATION_LAMBDA_ARN)",
    );
  }
  return s;
}

/**
 * Why `clone` is not `user`'s clone (as AWS's multi-user functions and credflow make them: the
 * same grants; PostgreSQL: a member of the user's role and of nothing else directly), or
 * undefined when it is.
 */
function cloneMismatch(
  engine: DatabaseEngine,
  base: string,
  user: AdoptionFacts,
  clone: AdoptionFacts,
  userGrants: string[] | null,
  cloneGrants: string[] | null,
): string | undefined {
  // A connection limit is no privilege, and binding sets credflow's on both (as create-user does):
  // a user credflow made has one, the clone AWS's function made beside it has none.
  const privileges = (grants: string[] | null) =>
    grants?.filter((g) => !/^(ROLE CONNECTION LIMIT|LIMIT MAX_USER_CONNECTIONS) -?\d+$/.test(g));
  if (JSON.stringify(privileges(userGrants)) !== JSON.stringify(privileges(cloneGrants)))
    return 'their grants differ';
  if (engine.family === 'postgres') {
    if (clone.directMemberOf.length !== 1 || clone.directMemberOf[0] !== base) {
      return `it is a member of ${clone.directMemberOf.join(', ') || 'no role'}, not of ${base} alone`;
    }
    const expected = [...new Set([base, ...user.memberOf])].sort();
    if (JSON.stringify([...clone.memberOf].sort()) !== JSON.stringify(expected))
      return 'its memberships differ';
  }
  return undefined;
}

function encodeRotation(r: RotationNow): string {
  return Buffer.from(JSON.stringify({ enabled: r.enabled, rules: r.rules ?? null })).toString('base64');
}

function decodeRotation(value: string | undefined): { enabled: boolean; rules?: RotationRulesType } {
  try {
    const parsed = JSON.parse(Buffer.from(value ?? '', 'base64').toString('utf8')) as {
      enabled?: unknown;
      rules?: RotationRulesType | null;
    };
    return { enabled: parsed.enabled === true, ...(parsed.rules ? { rules: parsed.rules } : {}) };
  } catch {
    return { enabled: false };
  }
}

/** The rules RotateSecret accepts, from what DescribeSecret reported. */
function rulesFor(rules: RotationRulesType | undefined): RotationRulesType {
  if (!rules) return { AutomaticallyAfterDays: 30 };
  // DescribeSecret reports AutomaticallyAfterDays next to a ScheduleExpression; RotateSecret takes one.
  return rules.ScheduleExpression
    ? {
        ScheduleExpression: rules.ScheduleExpression,
        ...(rules.Duration ? { Duration: rules.Duration } : {}),
      }
    : { ...rules };
}

async function tag(deps: Deps, arn: string, tags: Record<string, string>): Promise<void> {
  await aws(`TagResource ${arn}`, () =>
    deps.secrets.send(
      new TagResourceCommand({
        SecretId: arn,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    ),
  );
}

async function untag(deps: Deps, arn: string, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await aws(`UntagResource ${arn}`, () =>
    deps.secrets.send(new UntagResourceCommand({ SecretId: arn, TagKeys: keys })),
  );
}

/** Puts back the rotation a secret had: its function and schedule, or none. */
async function restoreRotation(
  deps: Deps,
  arn: string,
  lambdaArn: string | undefined,
  was: { enabled: boolean; rules?: RotationRulesType | undefined },
) {
  if (lambdaArn) {
    await aws(`RotateSecret ${arn}`, () =>
      deps.secrets.send(
        new RotateSecretCommand({
          SecretId: arn,
          RotationLambdaARN: lambdaArn,
          RotationRules: rulesFor(was.rules),
          RotateImmediately: false,
        }),
      ),
    );
  }
  if (!was.enabled || !lambdaArn) {
    await aws(`CancelRotateSecret ${arn}`, () =>
      deps.secrets.send(new CancelRotateSecretCommand({ SecretId: arn })),
    );
  }
}

/**
 * The tags that bind the secret as create-database-user does; a failed adoption puts back the
 * values the secret had (undo, later, removes every credflow:* tag).
 */
const BINDING_TAGS = [MANAGED_TAG, USER_TAG, DB_TAG, STRATEGY_TAG, GRANTS_TAG];

/**
 * AdoptSecret: the dry-run report, adoption, or its undo, for one secret. A secret with blockers
 * is reported and left as it is. Applying: (1) records the rotation the secret has (tags, kept
 * on reruns), (2) binds the user and its clone through the master, (3) tags the secret as
 * create-database-user does, with the grants fingerprint, (4) moves the rotation to credflow's
 * function with the same schedule (RotateImmediately false), (5) verifies. A failure in any step
 * undoes the earlier ones, so the secret rotates as before.
 */
export async function adoptSecret(deps: Deps, input: z.infer<typeof adoptInput>): Promise<AdoptReport> {
  if (input.undo) return undoAdoption(deps, input);
  const s = await survey(deps, input);
  const r = s.report;
  const ours = deps.rotationLambdaArn;
  if (r.blockers.length > 0) return { ...r, outcome: input.dryRun ? 'dry-run' : 'refused' };
  if (input.dryRun) return r;
  if (!s.master || !s.engine || !r.database || !r.username || !r.strategy || !ours) {
    throw new ValidationError('adoption needs the database, its master and the user: the dry run found none');
  }
  const { master, engine } = s;
  const arn = r.secretArn;
  if (
    s.tags[MANAGED_TAG] === 'true' &&
    s.tags[ADOPTED_FROM_TAG] !== undefined &&
    r.rotation.lambdaArn === ours &&
    Object.values(s.facts ?? {}).every((f) => !f.exists || f.binding === arn)
  ) {
    return { ...r, outcome: 'already-adopted' };
  }
  const users = [r.username, ...(r.clone ? [r.clone] : [])];
  const undo: (() => Promise<unknown>)[] = [];
  try {
    // (1) The rotation it had, recorded once: a rerun after (4) must not record credflow's own.
    if (s.tags[ADOPTED_FROM_TAG] === undefined) {
      await tag(deps, arn, {
        [ADOPTED_FROM_TAG]: r.rotation.lambdaArn ?? 'none',
        [ADOPTED_RULES_TAG]: encodeRotation(r.rotation),
      });
      undo.push(() => untag(deps, arn, [ADOPTED_FROM_TAG, ADOPTED_RULES_TAG]));
      r.changed.push(`recorded the previous rotation (${r.rotation.lambdaArn ?? 'none'})`);
    }
    // (2) The database-side binding, through the master, for each user not yet bound here.
    const unbound = users.filter((u) => s.facts?.[u]?.binding !== arn);
    if (unbound.length > 0) {
      if (!engine.bindExisting || !engine.unbindExisting)
        throw new ValidationError(`${engine.family} cannot bind existing users`);
      await engine.bindExisting(master.creds, unbound, arn);
      undo.push(() => engine.unbindExisting?.(master.creds, unbound, arn) ?? Promise.resolve());
      r.changed.push(`bound ${unbound.join(' and ')} to the secret on ${r.database.identifier}`);
    }
    // (3) The tags create-database-user sets, and the grants fingerprint.
    const grants = await engine.listGrants(master.creds, r.username);
    const added = BINDING_TAGS.filter((k) => s.tags[k] === undefined);
    await tag(deps, arn, {
      [MANAGED_TAG]: 'true',
      [USER_TAG]: r.username,
      [DB_TAG]: r.database.identifier,
      [STRATEGY_TAG]: r.strategy,
      [GRANTS_TAG]: grantsFingerprint(grants),
    });
    const previous = Object.fromEntries(
      BINDING_TAGS.filter((k) => s.tags[k] !== undefined).map((k) => [k, s.tags[k] as string]),
    );
    undo.push(async () => {
      // The verify below may have recorded drift (on a secret it had never seen): that goes too.
      await untag(deps, arn, s.tags[DRIFT_TAG] === undefined ? [...added, DRIFT_TAG] : added);
      if (Object.keys(previous).length > 0) await tag(deps, arn, previous);
    });
    r.changed.push('tagged the secret as credflow creates its secrets');
    // (4) credflow's rotation function, the same schedule (or the one asked for).
    const scheduleDiffers =
      input.schedule !== undefined && input.schedule !== r.rotation.rules?.ScheduleExpression;
    if (r.rotation.lambdaArn !== ours || !r.rotation.enabled || scheduleDiffers) {
      await aws(`RotateSecret ${arn}`, () =>
        deps.secrets.send(
          new RotateSecretCommand({
            SecretId: arn,
            RotationLambdaARN: ours,
            RotationRules: input.schedule
              ? { ScheduleExpression: input.schedule }
              : rulesFor(r.rotation.rules),
            RotateImmediately: false,
          }),
        ),
      );
      undo.push(() => restoreRotation(deps, arn, r.rotation.lambdaArn, r.rotation));
      r.changed.push(`rotation moved to ${ours}`);
    }
    // (5) Verify, as after every rotation.
    const v = await verifyCredentials(deps, { secretId: arn, strategy: r.strategy });
    r.verify = { ok: v.ok, checks: v.checks };
    if (!v.ok) {
      const failed = v.checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail}`);
      throw new AdoptionVerifyFailed(failed.join('; '));
    }
  } catch (err) {
    for (const step of undo.reverse()) {
      await step().catch((e: unknown) =>
        deps.logger.error('AdoptSecret: undo step failed', { secretArn: arn, error: (e as Error).name }),
      );
    }
    if (err instanceof AdoptionVerifyFailed) {
      r.blockers.push({ code: 'verify-failed', detail: err.message });
      return { ...r, outcome: 'refused', changed: [] };
    }
    throw err;
  }
  deps.logger.info('AdoptSecret: adopted', { secretArn: arn, strategy: r.strategy });
  return { ...r, outcome: 'adopted' };
}

class AdoptionVerifyFailed extends CredflowError {
  override name = 'AdoptionVerifyFailed' as const;
}

/** Hands an adopted secret back to the rotation it had and removes credflow's binding and tags. */
async function undoAdoption(deps: Deps, input: z.infer<typeof adoptInput>): Promise<AdoptReport> {
  const d = await aws(`DescribeSecret ${input.secretId}`, () =>
    deps.secrets.send(new DescribeSecretCommand({ SecretId: input.secretId })),
  );
  const arn = d.ARN ?? input.secretId;
  const tags = tagsOf(d);
  const from = tags[ADOPTED_FROM_TAG];
  if (from === undefined)
    throw new ValidationError(`secret ${arn} was not adopted by credflow (no ${ADOPTED_FROM_TAG} tag)`);
  const was = decodeRotation(tags[ADOPTED_RULES_TAG]);
  const report: AdoptReport = {
    secretArn: arn,
    name: d.Name ?? arn,
    outcome: 'undone',
    rotation: { enabled: d.RotationEnabled === true, lambdaArn: d.RotationLambdaARN, rules: d.RotationRules },
    loginOk: false,
    blockers: [],
    changed: [],
  };
  if (input.dryRun) return { ...report, outcome: 'dry-run' };
  const lambdaArn = from === 'none' ? undefined : from;
  await restoreRotation(deps, arn, lambdaArn, was);
  report.changed.push(`rotation handed back to ${lambdaArn ?? 'none'}`);
  const user = tags[USER_TAG];
  const current = parseDbSecret(
    await readVersion(deps.secrets, arn, { VersionStage: 'AWSCURRENT' }),
    `AWSCURRENT of ${arn}`,
  );
  report.engine = current.engine;
  if (user) {
    report.username = user;
    const masterArn =
      input.masterSecretArn ??
      current.masterarn ??
      (await databaseAt(deps, current.host, current.port ?? defaultPort(current.engine)))?.masterSecretArn;
    const engine = (deps.engineFor ?? defaultEngineFor)(current.engine);
    if (masterArn && engine.unbindExisting) {
      const m = await resolveMaster(deps, masterArn);
      await engine.unbindExisting(m.creds as Credentials, [user, `${user}${CLONE_SUFFIX}`], arn);
      report.changed.push(`removed the binding of ${user} (and its clone)`);
    }
  }
  // Every tag of credflow's goes: the binding, and what its rotations, repairs and verifies
  // recorded (last rotated, status, drift): credflow no longer rotates or verifies this secret.
  await untag(
    deps,
    arn,
    Object.keys(tags).filter((k) => k.startsWith('credflow:')),
  );
  report.changed.push("removed credflow's tags");
  deps.logger.info('AdoptSecret: undone', { secretArn: arn });
  return report;
}

// ---- the adopt-secrets workflow ---------------------------------------------------------------

const options = z.object({
  dryRun: z.boolean().default(false),
  undo: z.boolean().default(false),
  strategy: z.enum(['alternating-users', 'admin-single-user']).default('alternating-users'),
  masterSecretArn: z.string().min(1).max(2048).optional(),
  schedule: scheduleExpression.optional(),
});

const selector = z.object({
  secretId: z.string().min(1).max(2048).optional(),
  prefix: z.string().min(1).max(512).optional(),
  tag: z.object({ key: z.string().min(1).max(128), value: z.string().max(256) }).optional(),
});

/** One secret's line in the workflow's output (the full report is the AdoptSecret step's output). */
export interface AdoptRow {
  secretArn: string;
  name?: string | undefined;
  outcome: AdoptReport['outcome'] | 'failed';
  database?: string | undefined;
  strategy?: string | undefined;
  loginOk?: boolean | undefined;
  blockers: Blocker[];
  error?: string | undefined;
}

const row = z.object({
  secretArn: z.string(),
  name: z.string().optional(),
  outcome: z.string(),
  database: z.unknown().optional(),
  strategy: z.string().optional(),
  loginOk: z.boolean().optional(),
  blockers: z.array(z.object({ code: z.string(), detail: z.string() })).default([]),
  error: z.string().optional(),
  cause: z.string().optional(),
});

export const selectState = z.union([
  z.object({
    selection: selector.extend({ options }),
    nextToken: z.string().min(1),
    reports: z.array(row).default([]),
    omitted: z.number().int().min(0).default(0),
  }),
  selector.extend(options.shape).strict(),
]);

/** Parses SelectSecretsToAdopt's input: the execution's input, or the state of a next page. */
export const parseSelectState = parser(selectState, 'invalid adopt-secrets input');

export interface AdoptPage {
  selection: z.infer<typeof selector> & { options: z.infer<typeof options> };
  secretIds: string[];
  nextToken: string | null;
  reports: z.infer<typeof row>[];
  omitted: number;
}

/**
 * SelectSecretsToAdopt: one page (up to 100) of the secrets the selection names: one secret by
 * id, a name prefix or a tag. Carries the options and the rows of earlier pages along.
 */
export async function selectSecretsToAdopt(
  deps: Pick<Deps, 'secrets'>,
  input: z.infer<typeof selectState>,
): Promise<AdoptPage> {
  const paged = 'selection' in input;
  const selection = paged
    ? input.selection
    : {
        ...(input.secretId ? { secretId: input.secretId } : {}),
        ...(input.prefix ? { prefix: input.prefix } : {}),
        ...(input.tag ? { tag: input.tag } : {}),
        options: {
          dryRun: input.dryRun,
          undo: input.undo,
          strategy: input.strategy,
          ...(input.masterSecretArn ? { masterSecretArn: input.masterSecretArn } : {}),
          ...(input.schedule ? { schedule: input.schedule } : {}),
        },
      };
  const chosen = [selection.secretId, selection.prefix, selection.tag].filter((x) => x !== undefined);
  if (chosen.length !== 1)
    throw new ValidationError('adopt-secrets: give exactly one of secretId, prefix, tag');
  const carried = { reports: paged ? input.reports : [], omitted: paged ? input.omitted : 0 };
  if (selection.secretId) return { selection, secretIds: [selection.secretId], nextToken: null, ...carried };
  const filters = selection.prefix
    ? [{ Key: 'name' as const, Values: [selection.prefix] }]
    : [
        { Key: 'tag-key' as const, Values: [selection.tag?.key ?? ''] },
        { Key: 'tag-value' as const, Values: [selection.tag?.value ?? ''] },
      ];
  const page = await aws('ListSecrets', () =>
    deps.secrets.send(
      new ListSecretsCommand({
        Filters: filters,
        MaxResults: 100,
        ...(paged ? { NextToken: input.nextToken } : {}),
      }),
    ),
  );
  // The name filter matches a prefix of any word of the name: keep names that start with it.
  const secretIds = (page.SecretList ?? [])
    .filter((e) => !e.DeletedDate && e.ARN)
    .filter((e) => (selection.prefix ? (e.Name ?? '').startsWith(selection.prefix) : true))
    .filter((e) =>
      selection.tag
        ? e.Tags?.some((t) => t.Key === selection.tag?.key && t.Value === selection.tag?.value)
        : true,
    )
    .map((e) => e.ARN as string);
  return { selection, secretIds, nextToken: page.NextToken ?? null, ...carried };
}

const itemInput = z.object({ secretId: z.string().min(1).max(2048), options });

/** Parses AdoptSecret's input: the workflow's item ({secretId, options}) or adoptSecret's own input. */
export function parseAdoptTask(event: unknown): z.infer<typeof adoptInput> {
  const item = itemInput.safeParse(event);
  if (item.success) return parseAdoptInput({ ...item.data.options, secretId: item.data.secretId });
  return parseAdoptInput(event);
}

/** The most rows the workflow's output holds (AWS's 256 KiB state cap); the rest are counted. */
export const MAX_ROWS = 400;

const collectInput = z.object({
  reports: z.array(row).default([]),
  omitted: z.number().int().min(0).default(0),
  pageReports: z.array(row),
});

export const parseCollectInput = parser(collectInput, 'invalid CollectAdoptReports input');

/** CollectAdoptReports: one row per secret of the page added to the rows so far, and counts. */
export function collectAdoptReports(
  _deps: unknown,
  input: z.infer<typeof collectInput>,
): { reports: z.infer<typeof row>[]; omitted: number; counts: Record<string, number> } {
  const rows = input.pageReports.map((r) => ({
    secretArn: r.secretArn,
    ...(r.name ? { name: r.name } : {}),
    outcome: r.outcome,
    ...(r.database && typeof r.database === 'object' && 'identifier' in r.database
      ? { database: String((r.database as { identifier: unknown }).identifier) }
      : typeof r.database === 'string'
        ? { database: r.database }
        : {}),
    ...(r.strategy ? { strategy: r.strategy } : {}),
    ...(r.loginOk !== undefined ? { loginOk: r.loginOk } : {}),
    blockers: r.blockers,
    ...(r.error ? { error: r.error } : {}),
  }));
  const all = [...input.reports, ...rows];
  const kept = all.slice(0, MAX_ROWS);
  const counts: Record<string, number> = {};
  for (const r of all) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return { reports: kept, omitted: input.omitted + all.length - kept.length, counts };
}
