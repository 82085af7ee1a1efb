import { z } from 'zod';
import { ValidationError } from './errors';
import { describeIssues } from './validate';

/** Engines a secret's `engine` key may name (AWS's values plus Aurora's). */
export const ENGINES = [
  'mysql',
  'mariadb',
  'aurora-mysql',
  'postgres',
  'aurora-postgresql',
  'aurora',
] as const;
export type EngineName = (typeof ENGINES)[number];

/**
 * AWS's JSON shape for a database credential secret. Unknown keys are kept: rotation copies
 * the whole object to the pending version, as AWS's templates do.
 */
const dbSecretSchema = z
  .object({
    engine: z.enum(ENGINES, { error: () => `engine must be one of ${ENGINES.join(', ')}` }),
    host: z.string().min(1, 'host is required').max(255),
    port: z.coerce.number().int().min(1).max(65535).optional(),
    username: z.string().min(1, 'username is required'),
    password: z.string().min(1, 'password is required'),
    dbname: z.string().min(1).optional(),
    masterarn: z.string().min(1).optional(),
    ssl: z.union([z.boolean(), z.string()]).optional(),
  })
  .passthrough();

export type DbSecret = z.infer<typeof dbSecretSchema>;

/** An RDS-managed master secret holds only these two keys. */
const managedMasterSchema = z
  .object({ username: z.string().min(1), password: z.string().min(1) })
  .passthrough();
export type ManagedMasterSecret = z.infer<typeof managedMasterSchema>;

function parseJson(secretString: string | undefined, what: string): unknown {
  if (secretString === undefined) throw new ValidationError(`${what} has no SecretString`);
  try {
    return JSON.parse(secretString);
  } catch {
    // The parser's message can quote the input, which is a secret: say only where it broke.
    throw new ValidationError(`${what} is not valid JSON`);
  }
}

/** Parses and validates a database credential secret. Throws ValidationError naming the bad keys. */
export function parseDbSecret(secretString: string | undefined, what = 'secret'): DbSecret {
  const parsed = dbSecretSchema.safeParse(parseJson(secretString, what));
  if (!parsed.success) throw new ValidationError(`${what} is malformed: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Parses a secret that may be either a full DbSecret or an RDS-managed {username,password}. */
export function parseMasterSecret(
  secretString: string | undefined,
  what = 'master secret',
): { kind: 'full'; secret: DbSecret } | { kind: 'managed'; secret: ManagedMasterSecret } {
  const raw = parseJson(secretString, what);
  if (raw !== null && typeof raw === 'object' && 'host' in raw)
    return { kind: 'full', secret: parseDbSecret(secretString, what) };
  const parsed = managedMasterSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(`${what} is malformed: ${describeIssues(parsed.error)}`);
  return { kind: 'managed', secret: parsed.data };
}

/** Default port per engine family, as AWS's templates assume when the key is absent. */
export function defaultPort(engine: EngineName): number {
  return engine === 'postgres' || engine === 'aurora-postgresql' || engine === 'aurora' ? 5432 : 3306;
}

/**
 * The `ssl` key as AWS's rotation templates read it: absent or unreadable -> undefined (try TLS;
 * the engines fall back to plain only on loopback); a boolean or "true"/"false" -> exactly that.
 */
export function sslPreference(ssl: unknown): boolean | undefined {
  if (typeof ssl === 'boolean') return ssl;
  if (typeof ssl === 'string') {
    const v = ssl.toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return undefined;
}

/** Serialises a secret for storage; key order is stable so equal secrets compare equal. */
export function serialiseSecret(secret: Record<string, unknown>): string {
  return JSON.stringify(secret);
}
