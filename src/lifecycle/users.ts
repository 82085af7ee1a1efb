import { createHash } from 'node:crypto';
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetRandomPasswordCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  RotateSecretCommand,
  type SecretListEntry,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { aws } from '../aws/errors';
import type { Deps } from '../deps';
import { engineFor as defaultEngineFor } from '../engines';
import {
  assertNotSystemAccount,
  checkApplicationDatabase,
  DEFAULT_CONNECTION_LIMIT,
  MAX_CONNECTION_LIMIT,
} from '../engines/common';
import type { Credentials, DatabaseEngine } from '../engines/types';
import { NotFoundError, RotationStateError, ValidationError } from '../errors';
import { assertMasterApart, USER_TAG } from '../rotation/boundary';
import { credentialsOf, withMaster } from '../rotation/master';
import { grantsFingerprint, strategyNamed } from '../rotation/strategies';
import { CONNECTION_LIMIT_TAG, STRATEGIES, STRATEGY_TAG } from '../rotation/types';
import { readVersion } from '../rotation/versions';
import { type DbSecret, defaultPort, type EngineName, parseDbSecret, serialiseSecret } from '../secret';
import { parser } from '../validate';
import { locateDatabase } from './database';

/** Tags credflow puts on the secrets it creates. */
export const DB_TAG = 'credflow:db';
export const MANAGED_TAG = 'credflow:managed';
export const GRANTS_TAG = 'credflow:grants';
export const PROTECTED_TAG = 'credflow:protected';
export { STATUS_TAG } from '../rotation/types';

const PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'ALL'] as const;

export const createUserInput = z.object({
  dbIdentifier: z.string().min(1).max(63),
  kind: z.enum(['instance', 'cluster']).optional(),
  username: z.string().min(1).max(63),
  /** The database the grants apply to; default: the database RDS created. */
  database: z.string().min(1).max(63).optional(),
  privileges: z.array(z.enum(PRIVILEGES)).min(1).default(['SELECT']),
  /** Connections the user (and its clone) may hold at once, so no application starves the master. */
  connectionLimit: z.number().int().min(1).max(MAX_CONNECTION_LIMIT).default(DEFAULT_CONNECTION_LIMIT),
  strategy: z.enum(STRATEGIES).default('alternating-users'),
  secretName: z
    .string()
    .regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'may hold only letters, digits and /_+=.@-')
    .optional(),
  kmsKeyId: z.string().min(1).optional(),
  /** Keep the secret from deletion workflows (on-deletion restores it). */
  protected: z.boolean().default(false),
  /** Turn on scheduled rotation with the rotation Lambda. */
  rotation: z
    .object({
      scheduleExpression: z.string().min(1).optional(),
      automaticallyAfterDays: z.number().int().min(1).max(1000).optional(),
      duration: z.string().min(2).max(3).optional(),
      lambdaArn: z.string().min(1).optional(),
    })
    .optional(),
});
export type CreateUserInput = z.input<typeof createUserInput>;

/** The user secret's default name: `credflow/<db>/<user>`, with characters names cannot hold replaced. */
export function userSecretName(dbIdentifier: string, username: string): string {
  const safe = username.replace(/[^A-Za-z0-9_+=.@-]/g, '-');
  // Two usernames that differ only in replaced characters must not share a secret.
  const suffix =
    safe === username ? '' : `-${createHash('sha256').update(username).digest('hex').slice(0, 8)}`;
  return `credflow/${dbIdentifier}/${safe}${suffix}`;
}

const prepared = createUserInput.extend({
  secretArn: z.string().min(1),
  secretName: z.string().min(1),
  masterSecretArn: z.string().min(1),
  engine: z.string().min(1),
  database: z.string().min(1),
  userCreated: z.boolean().optional(),
  /** The secret existed already, made by an earlier attempt of this same request. */
  resumed: z.boolean().optional(),
});
export type PreparedUser = z.infer<typeof prepared>;

/** Parses the state the create-database-user Tasks after PrepareDatabaseUser pass along. */
export const parsePreparedUser = parser(prepared, 'invalid create-database-user state');

function engineOf(deps: Deps, engine: string): DatabaseEngine {
  return (deps.engineFor ?? defaultEngineFor)(engine);
}

async function currentUserSecret(deps: Deps, secretArn: string): Promise<DbSecret> {
  const raw = await readVersion(deps.secrets, secretArn, { VersionStage: 'AWSCURRENT' });
  if (raw === undefined) throw new RotationStateError(`user secret ${secretArn} has no AWSCURRENT value`);
  return parseDbSecret(raw, `user secret ${secretArn}`);
}

/**
 * The request a PrepareDatabaseUser run belongs to: its Step Functions execution (the ASL passes
 * `$$.Execution.Id` and `$$.Execution.StartTime`). Absent when the core is called directly:
 * then no existing secret is ever resumed.
 */
const requestIdentity = z.object({
  executionId: z.string().min(1).max(2048),
  startTime: z.string().min(1).max(64),
});
export type RequestIdentity = z.infer<typeof requestIdentity>;

const parseCreateUser = parser(createUserInput, 'invalid create-database-user input');
const parseRequest = parser(requestIdentity, 'invalid create-database-user request identity');

/**
 * Parses prepareDatabaseUser's input (a ValidationError naming each bad field): the
 * create-database-user input, wrapped by the ASL as `{input, request}` with the execution's
 * identity, or bare.
 */
export function parsePrepareDatabaseUserInput(
  event: unknown,
): z.infer<typeof createUserInput> & { request?: RequestIdentity } {
  const wrapped = event as { input?: unknown; request?: unknown } | null;
  if (wrapped && typeof wrapped === 'object' && 'request' in wrapped && 'input' in wrapped) {
    return { ...parseCreateUser(wrapped.input), request: parseRequest(wrapped.request) };
  }
  return parseCreateUser(event);
}

/**
 * The mark of the request that creates a user secret: the ClientRequestToken of its CreateSecret,
 * which becomes the id of the secret's first version and can never change. Derived from the
 * execution's ARN, which Step Functions makes unique and, with the name it generates, unguessable
 * before the execution starts; one principal holding only CreateSecret cannot make a secret carry
 * the version id of a request it does not know. (A tag would not do: whoever may tag a secret can
 * write any tag.) A rerun of PrepareDatabaseUser in the same execution finds its own mark.
 */
export function requestToken(request: RequestIdentity): string {
  return createHash('sha256').update(`credflow:create-database-user\n${request.executionId}`).digest('hex');
}

/** How far a secret's CreatedDate may precede its request's start (clock skew between services). */
const CLOCK_SKEW_MS = 1_000;

/**
 * PrepareDatabaseUser: checks the request against the database and stores the user's secret
 * (AWS's JSON shape, with masterarn) before any user exists, so a password is never on the
 * server without being in Secrets Manager. A rerun finds the secret it stored and reuses it.
 */
export async function prepareDatabaseUser(
  deps: Deps,
  input: z.infer<typeof createUserInput> & { request?: RequestIdentity | undefined },
): Promise<PreparedUser> {
  const db = await locateDatabase(deps, input.dbIdentifier, input.kind);
  if (!db.secretArn) {
    throw new ValidationError(`${input.dbIdentifier} has no RDS-managed master secret to create users with`);
  }
  if (!db.endpoint || db.status !== 'available') {
    throw new ValidationError(`${input.dbIdentifier} is ${db.status}, not available`);
  }
  const engine = engineOf(deps, db.engine);
  // The privilege boundary, before anything is stored: the users this secret will own are
  // valid, not system or RDS accounts, and not the master.
  const strategy = strategyNamed(input.strategy);
  for (const u of strategy.ownedUsers(input.username)) {
    engine.validateUsername(u);
    assertNotSystemAccount(u);
  }
  if (db.masterUsername) assertMasterApart(strategy, input.username, db.masterUsername, db.secretArn);
  const database = input.database ?? db.dbName;
  if (!database) throw new ValidationError(`${input.dbIdentifier} has no default database: name one`);
  checkApplicationDatabase(database);
  const secretName = input.secretName ?? userSecretName(input.dbIdentifier, input.username);
  const { request: _request, ...asked } = input;
  const base = { ...asked, secretName, masterSecretArn: db.secretArn, engine: db.engine, database };

  const existing = await deps.secrets
    .send(new DescribeSecretCommand({ SecretId: secretName }))
    .catch((err: unknown) => {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw err;
    });
  const token = input.request ? requestToken(input.request) : undefined;
  const engineName = db.engine as EngineName;
  const freshValue = async (): Promise<DbSecret> => {
    const pw = await aws('GetRandomPassword', () =>
      deps.secrets.send(
        new GetRandomPasswordCommand({
          PasswordLength: 32,
          ExcludeCharacters: engine.excludeCharacters,
          RequireEachIncludedType: true,
        }),
      ),
    );
    if (!pw.RandomPassword) throw new RotationStateError('GetRandomPassword returned no password');
    return {
      engine: engineName,
      host: db.endpoint as string,
      port: db.port ?? defaultPort(engineName),
      username: input.username,
      password: pw.RandomPassword,
      dbname: database,
      masterarn: db.secretArn as string,
    };
  };

  if (existing?.ARN) {
    await assertMadeByThisRequest(deps, { ...existing, ARN: existing.ARN }, input, token);
    // Whoever could read the secret before now must not hold the user's password: a new one,
    // which CreateDatabaseUser sets on the user if an earlier attempt created it.
    await aws(`PutSecretValue ${existing.ARN}`, async () =>
      deps.secrets.send(
        new PutSecretValueCommand({
          SecretId: existing.ARN,
          SecretString: serialiseSecret(await freshValue()),
        }),
      ),
    );
    deps.logger.info('PrepareDatabaseUser: this request made the secret; resuming with a new password', {
      secretArn: existing.ARN,
    });
    return { ...base, secretArn: existing.ARN, resumed: true };
  }

  const value = await freshValue();
  const created = await aws(`CreateSecret ${secretName}`, () =>
    deps.secrets.send(
      new CreateSecretCommand({
        Name: secretName,
        ...(token ? { ClientRequestToken: token } : {}),
        Description: `credflow: ${input.strategy} user ${input.username} on ${input.dbIdentifier}`,
        SecretString: serialiseSecret(value),
        ...(input.kmsKeyId ? { KmsKeyId: input.kmsKeyId } : {}),
        Tags: [
          { Key: STRATEGY_TAG, Value: input.strategy },
          { Key: USER_TAG, Value: input.username },
          { Key: DB_TAG, Value: input.dbIdentifier },
          { Key: MANAGED_TAG, Value: 'true' },
          { Key: CONNECTION_LIMIT_TAG, Value: String(input.connectionLimit) },
          ...(input.protected ? [{ Key: PROTECTED_TAG, Value: 'true' }] : []),
        ],
      }),
    ),
  );
  deps.logger.info('PrepareDatabaseUser: user secret stored', {
    secretArn: created.ARN,
    username: input.username,
  });
  return { ...base, secretArn: created.ARN ?? secretName };
}

/**
 * Refuses an existing secret this request did not make: without its mark (the first version's id,
 * see requestToken), older than the request, deleted, for another user or database, or with a
 * resource policy, KMS key, rotation function or replica Region the request did not ask for.
 * Adopting such a secret would give its maker's password, policy, key or code to the user
 * credflow is about to create.
 */
async function assertMadeByThisRequest(
  deps: Deps,
  existing: DescribeSecretCommandOutput & { ARN: string },
  input: z.infer<typeof createUserInput> & { request?: RequestIdentity | undefined },
  token: string | undefined,
): Promise<void> {
  const name = input.secretName ?? userSecretName(input.dbIdentifier, input.username);
  const refuse = (why: string) => {
    deps.logger.warn('PrepareDatabaseUser: existing secret refused', { secretArn: existing.ARN, why });
    return new ValidationError(`secret ${name} exists and was not created by this request; nothing changed`);
  };
  if (!token || !input.request) throw refuse('no request identity to compare');
  if (existing.DeletedDate) throw refuse('scheduled for deletion');
  const started = Date.parse(input.request.startTime);
  const created = existing.CreatedDate ? new Date(existing.CreatedDate).getTime() : Number.NaN;
  if (!(created >= started - CLOCK_SKEW_MS)) throw refuse('created before the request started');
  const marked = await deps.secrets
    .send(new GetSecretValueCommand({ SecretId: existing.ARN, VersionId: token }))
    .then(
      () => true,
      (err: unknown) => {
        if (err instanceof ResourceNotFoundException) return false;
        throw err;
      },
    );
  if (!marked) throw refuse("no version carries this request's token");
  const tags = Object.fromEntries((existing.Tags ?? []).map((t) => [t.Key, t.Value]));
  const value = await currentUserSecret(deps, existing.ARN);
  if (
    tags[DB_TAG] !== input.dbIdentifier ||
    tags[USER_TAG] !== input.username ||
    value.username !== input.username
  ) {
    throw refuse('tags or value name another user or database');
  }
  const key = existing.KmsKeyId;
  const wanted = input.kmsKeyId;
  const sameKey =
    key === undefined || key === 'alias/aws/secretsmanager'
      ? wanted === undefined
      : wanted !== undefined && (key === wanted || key.endsWith(`/${wanted}`) || key.endsWith(`:${wanted}`));
  if (!sameKey) throw refuse('encrypted with a KMS key the request did not ask for');
  // This request turns rotation on only after the user exists (EnableRotation), and never
  // replicates: a rotation function or a replica here was set by someone else, who would run
  // code with the secret's value or hold a copy of it in another Region.
  if (existing.RotationLambdaARN) throw refuse('has a rotation function the request did not set');
  if ((existing.ReplicationStatus ?? []).length > 0)
    throw refuse('is replicated to Regions the request did not ask for');
  const policy = await aws(`GetResourcePolicy ${existing.ARN}`, () =>
    deps.secrets.send(new GetResourcePolicyCommand({ SecretId: existing.ARN })),
  );
  if (policy.ResourcePolicy) throw refuse('carries a resource policy the request did not ask for');
}

/** Runs `fn` with the master's credentials (see withMaster). */
function asMaster<T>(deps: Deps, masterArn: string, fn: (admin: Credentials) => Promise<T>): Promise<T> {
  return withMaster(deps, masterArn, (m) => fn(m.creds));
}

/**
 * CreateDatabaseUser: the master creates the user with exactly the requested database-level
 * privileges, bound to this secret. If the user exists already and is bound to this secret, a
 * previous run made it; a user bound elsewhere, or not at all, is refused: credflow never takes
 * over a user it did not create for the secret.
 */
export async function createDatabaseUser(deps: Deps, input: PreparedUser): Promise<PreparedUser> {
  const engine = engineOf(deps, input.engine);
  const secret = await currentUserSecret(deps, input.secretArn);
  let userCreated = true;
  const grants = await asMaster(deps, input.masterSecretArn, async (admin) => {
    assertMasterApart(strategyNamed(input.strategy), input.username, admin.username, input.masterSecretArn);
    const found = (await engine.bindingsOf(admin, [input.username]))[input.username];
    if (found?.exists) {
      if (found.binding !== input.secretArn) {
        throw new ValidationError(
          `user ${JSON.stringify(input.username)} already exists on ${input.dbIdentifier} and was not created by credflow for ${input.secretArn}; credflow does not take over users it did not create`,
        );
      }
      userCreated = false;
      // An earlier attempt of this request created the user; the secret has a new password since.
      await engine.setPassword(admin, input.username, secret.password, input.secretArn);
    } else {
      await engine.createUser(admin, {
        username: input.username,
        password: secret.password,
        database: input.database,
        privileges: input.privileges,
        connectionLimit: input.connectionLimit,
        binding: input.secretArn,
      });
    }
    return engine.listGrants(admin, input.username, { database: input.database });
  });
  await aws(`TagResource ${input.secretArn}`, () =>
    deps.secrets.send(
      new TagResourceCommand({
        SecretId: input.secretArn,
        Tags: [{ Key: GRANTS_TAG, Value: grantsFingerprint(grants) }],
      }),
    ),
  );
  deps.logger.info('CreateDatabaseUser: done', {
    username: input.username,
    userCreated,
    grants: grants.length,
  });
  return { ...input, userCreated };
}

/** ValidateUserLogin: the new secret logs in (seed 001, step 2). */
export async function validateUserLogin(deps: Deps, input: PreparedUser): Promise<PreparedUser> {
  const secret = await currentUserSecret(deps, input.secretArn);
  await engineOf(deps, secret.engine).testLogin(credentialsOf(secret));
  return input;
}

/**
 * EnableRotation: scheduled rotation with the rotation Lambda, starting at the next window
 * (RotateImmediately false: the password was just made).
 */
export async function enableRotation(
  deps: Deps,
  input: PreparedUser,
): Promise<PreparedUser & { rotationEnabled: boolean }> {
  if (!input.rotation) return { ...input, rotationEnabled: false };
  const lambdaArn = input.rotation.lambdaArn ?? deps.rotationLambdaArn;
  if (!lambdaArn) throw new ValidationError('rotation requested but no rotation Lambda ARN is configured');
  const r = input.rotation;
  await aws(`RotateSecret ${input.secretArn}`, () =>
    deps.secrets.send(
      new RotateSecretCommand({
        SecretId: input.secretArn,
        RotationLambdaARN: lambdaArn,
        RotateImmediately: false,
        RotationRules: {
          ...(r.scheduleExpression ? { ScheduleExpression: r.scheduleExpression } : {}),
          ...(r.automaticallyAfterDays ? { AutomaticallyAfterDays: r.automaticallyAfterDays } : {}),
          ...(!r.scheduleExpression && !r.automaticallyAfterDays ? { AutomaticallyAfterDays: 30 } : {}),
          ...(r.duration ? { Duration: r.duration } : {}),
        },
      }),
    ),
  );
  return { ...input, rotationEnabled: true };
}

/**
 * CleanUpUserSecret: after a failed CreateDatabaseUser, the stored secret goes again unless its
 * user exists on the server bound to it, so a failed request leaves nothing behind (a secret
 * left for a user credflow refused to take over would let rotate-now reach that user).
 */
export async function cleanUpUserSecret(
  deps: Deps,
  input: PreparedUser,
): Promise<{ secretArn: string; removed: boolean }> {
  const engine = engineOf(deps, input.engine);
  let exists = true;
  try {
    exists = await asMaster(deps, input.masterSecretArn, async (admin) => {
      const found = (await engine.bindingsOf(admin, [input.username]))[input.username];
      return found?.exists === true && found.binding === input.secretArn;
    });
  } catch (err) {
    // Without the master we cannot tell; keeping the secret is the safe side.
    deps.logger.warn('CleanUpUserSecret: cannot check the user, keeping the secret', {
      error: (err as Error).name,
    });
  }
  if (exists) return { secretArn: input.secretArn, removed: false };
  await aws(`DeleteSecret ${input.secretArn}`, () =>
    deps.secrets.send(
      new DeleteSecretCommand({ SecretId: input.secretArn, ForceDeleteWithoutRecovery: true }),
    ),
  );
  deps.logger.info('CleanUpUserSecret: removed the secret of a user that was never created', {
    secretArn: input.secretArn,
  });
  return { secretArn: input.secretArn, removed: true };
}

/**
 * Every live secret carrying tag `key` = `value` (all pages; the two filters match
 * independently, so the pair is checked). `includeScheduled`: secrets already scheduled for
 * deletion too.
 */
export async function secretsTagged(
  deps: Pick<Deps, 'secrets'>,
  key: string,
  value: string,
  o: { includeScheduled?: boolean } = {},
): Promise<SecretListEntry[]> {
  const found: SecretListEntry[] = [];
  let token: string | undefined;
  do {
    const page = await aws('ListSecrets', () =>
      deps.secrets.send(
        new ListSecretsCommand({
          Filters: [
            { Key: 'tag-key', Values: [key] },
            { Key: 'tag-value', Values: [value] },
          ],
          MaxResults: 100,
          ...(o.includeScheduled ? { IncludePlannedDeletion: true } : {}),
          ...(token ? { NextToken: token } : {}),
        }),
      ),
    );
    for (const s of page.SecretList ?? []) {
      if (!s.ARN || (s.DeletedDate && !o.includeScheduled)) continue;
      if (s.Tags?.some((t) => t.Key === key && t.Value === value)) found.push(s);
    }
    token = page.NextToken;
  } while (token);
  return found;
}

/** A user secret of a database, as decommission and its dry run list them. */
export interface ChildSecret {
  arn: string;
  name: string;
  rotationEnabled: boolean;
  /** Already scheduled for deletion (by the deletion rule, or a person). */
  scheduledForDeletion: boolean;
}

/**
 * Every secret credflow created for users of one database (by its credflow:db tag);
 * `includeScheduled`: those already scheduled for deletion too.
 */
export async function childSecrets(
  deps: Pick<Deps, 'secrets'>,
  dbIdentifier: string,
  o: { includeScheduled?: boolean } = {},
): Promise<ChildSecret[]> {
  return (await secretsTagged(deps, DB_TAG, dbIdentifier, o)).map((s) => ({
    arn: s.ARN as string,
    name: s.Name ?? (s.ARN as string),
    rotationEnabled: s.RotationEnabled ?? false,
    scheduledForDeletion: s.DeletedDate !== undefined && s.DeletedDate !== null,
  }));
}

const deleteChildSecretsInput = z.object({
  identifier: z.string().min(1),
  recoveryWindowInDays: z.number().int().min(7).max(30).default(7),
});

/** Parses deleteChildSecrets's input (a ValidationError naming each bad field). */
export const parseDeleteChildSecretsInput = parser(
  deleteChildSecretsInput,
  'invalid DeleteChildSecrets input',
);

/**
 * DeleteChildSecrets: a database's user secrets are scheduled for deletion (with a recovery
 * window, so a mistake can be undone with RestoreSecret) and their rotation turned off.
 * `deletedSecrets` lists every one that is now scheduled for deletion, including those the
 * deletion rule (started by RDS's own deletion event) scheduled first, which are also listed
 * in `alreadyScheduled`.
 */
export async function deleteChildSecrets(
  deps: Deps,
  input: z.infer<typeof deleteChildSecretsInput>,
): Promise<{ identifier: string; deletedSecrets: string[]; alreadyScheduled: string[] }> {
  const deleted: string[] = [];
  const already: string[] = [];
  for (const s of await childSecrets(deps, input.identifier, { includeScheduled: true })) {
    if (s.scheduledForDeletion) {
      already.push(s.arn);
      deleted.push(s.arn);
      continue;
    }
    if (s.rotationEnabled) {
      await aws(`CancelRotateSecret ${s.arn}`, () =>
        deps.secrets.send(new CancelRotateSecretCommand({ SecretId: s.arn })),
      ).catch((err: unknown) => {
        deps.logger.warn('DeleteChildSecrets: could not cancel rotation', {
          secretArn: s.arn,
          error: (err as Error).name,
        });
      });
    }
    try {
      await aws(`DeleteSecret ${s.arn}`, () =>
        deps.secrets.send(
          new DeleteSecretCommand({ SecretId: s.arn, RecoveryWindowInDays: input.recoveryWindowInDays }),
        ),
      );
    } catch (err) {
      // Another run (decommission and on-deletion race for the same database) got there first:
      // it is scheduled all the same.
      if (err instanceof NotFoundError) {
        already.push(s.arn);
        deleted.push(s.arn);
        continue;
      }
      throw err;
    }
    deleted.push(s.arn);
  }
  deps.logger.info('DeleteChildSecrets: scheduled for deletion', {
    identifier: input.identifier,
    count: deleted.length,
    alreadyScheduled: already.length,
  });
  return { identifier: input.identifier, deletedSecrets: deleted, alreadyScheduled: already };
}
