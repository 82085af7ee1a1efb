/**
 * What both engines share and that holds no SQL: input checks, TLS options, timeouts, and the
 * translation of driver failures into the typed errors the state machines Retry and Catch on.
 */
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { type CredflowError, DatabaseError, TransientError, ValidationError } from '../errors';
import type { Privilege } from './types';

export type { SessionInfo } from './types';

/** Tunables shared by both engines. */
export interface EngineOptions {
  /** TCP + TLS + authentication handshake. Default 5 s. */
  connectTimeoutMs?: number | undefined;
  /** Each statement. Default 15 s. */
  queryTimeoutMs?: number | undefined;
  /**
   * The CAs a server's certificate must verify against, on loopback as anywhere. Default: Node's
   * CA store plus the bundle NODE_EXTRA_CA_CERTS names (RDS's on Lambda, the local RDS's locally).
   */
  tls?: { ca?: string | Buffer | string[] | undefined } | undefined;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 15_000;

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return net.isIPv4(h) && h.startsWith('127.');
}

/**
 * TLS options for a database connection: the certificate must verify, on loopback exactly as
 * anywhere else (the local RDS's servers carry certificates from its own CA, as RDS's carry
 * theirs), against `ca` when given, else Node's CA store plus NODE_EXTRA_CA_CERTS.
 */
export function tlsOptions(options: EngineOptions, env: NodeJS.ProcessEnv = process.env): TrustOptions {
  const ca = options.tls?.ca ?? extraCaCertificates(env);
  return ca ? trustFor(ca) : VERIFY_DEFAULT;
}

/** What a driver's `ssl` option needs to verify the server: the CAs and one context made of them. */
export interface TrustOptions {
  rejectUnauthorized: true;
  ca?: string | Buffer | string[];
  secureContext?: tls.SecureContext;
}

// Not frozen: mysql2 writes `rejectUnauthorized = (value !== false)` onto the options it is given.
const VERIFY_DEFAULT: TrustOptions = { rejectUnauthorized: true };
const trustByCa = new Map<string | Buffer | string[], TrustOptions>();

/**
 * One options object, with one secure context, per set of CAs. A context made from Node's ~140
 * roots plus a bundle costs tens of milliseconds of CPU; made per connection (pg passes `ca` to
 * tls.connect, mysql2 caches by the identity of the options object) it cost ~300 ms per rotation.
 */
function trustFor(ca: string | Buffer | string[]): TrustOptions {
  let trust = trustByCa.get(ca);
  if (!trust) {
    if (trustByCa.size >= 16) trustByCa.clear(); // a few bundles at most; never unbounded
    trust = { rejectUnauthorized: true, ca, secureContext: tls.createSecureContext({ ca }) };
    trustByCa.set(ca, trust);
  }
  return trust;
}

let extraCa: { key: string; certificates: string[] } | undefined;

/**
 * Node's bundled CAs plus the PEM file NODE_EXTRA_CA_CERTS names, or undefined when it names none
 * (Node's defaults apply then). Node reads the variable once, when the process starts; reading it
 * again at connect time lets a host that learns its CA later trust it the same way: the local
 * cloud runs its functions in its own process and points the variable at the local RDS's bundle,
 * as Lambda points it at RDS's. On Lambda the result is the trust Node already has. A file that
 * cannot be read is ignored, as Node ignores it.
 */
export function extraCaCertificates(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const file = env['NODE_EXTRA_CA_CERTS'];
  if (!file) return undefined;
  let key: string;
  try {
    const st = statSync(file);
    key = `${file}\n${st.mtimeMs}\n${st.size}`;
    if (extraCa?.key !== key)
      extraCa = { key, certificates: [...tls.rootCertificates, readFileSync(file, 'utf8')] };
  } catch {
    return undefined;
  }
  return extraCa.certificates;
}

const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** C0 controls (NUL, tab, newline, ...), DEL and C1 controls. */
function hasControlCharacter(text: string): boolean {
  // Stryker disable next-line EqualityOperator: at i === length charCodeAt is NaN, which no comparison below accepts
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/** The checks both engines make on a username; engine-specific limits come on top. */
export function checkNameCommon(kind: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new ValidationError(`${kind} is empty`);
  if (name.includes('\0')) throw new ValidationError(`${kind} ${JSON.stringify(name)} contains a NUL byte`);
  if (hasControlCharacter(name)) {
    throw new ValidationError(
      `${kind} ${JSON.stringify(name)} contains control characters (tabs, newlines, ...)`,
    );
  }
  if (LONE_SURROGATE.test(name))
    throw new ValidationError(`${kind} ${JSON.stringify(name)} is not valid Unicode`);
  if (/^\s|\s$/.test(name)) {
    throw new ValidationError(`${kind} ${JSON.stringify(name)} starts or ends with whitespace`);
  }
  return name;
}

/** Passwords may hold anything a login can carry: quotes, backslashes, %, spaces, unicode. */
export function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length === 0) throw new ValidationError('password is empty');
  // Never echo the value, not even in part.
  if (password.includes('\0')) throw new ValidationError('password contains a NUL byte');
  if (LONE_SURROGATE.test(password)) throw new ValidationError('password is not valid Unicode');
  return password;
}

/**
 * Accounts that belong to the database system or to RDS, never to an application: credflow
 * refuses to create, clone or change the password of any of them, whatever a secret says.
 * Names are compared case-insensitively (a lookalike is refused too).
 */
const SYSTEM_ACCOUNT_NAMES = new Set([
  'root',
  'postgres',
  'rdsadmin',
  'mariadb.sys',
  'debian-sys-maint',
  'azure_superuser',
  'cloudsqladmin',
  'public',
  'none',
  'current_user',
  'session_user',
]);
const SYSTEM_ACCOUNT_PREFIXES = [/^rds/i, /^pg_/i, /^mysql\./i, /^mariadb\./i, /^aurora_/i];

/** True for a system or RDS account name (see SYSTEM_ACCOUNT_NAMES). */
export function isSystemAccount(name: string): boolean {
  return SYSTEM_ACCOUNT_NAMES.has(name.toLowerCase()) || SYSTEM_ACCOUNT_PREFIXES.some((p) => p.test(name));
}

/** Throws ValidationError for a system account name; checked before any SQL is sent. */
export function assertNotSystemAccount(name: string): void {
  if (isSystemAccount(name)) {
    throw new ValidationError(
      `username ${JSON.stringify(name)} is a system or RDS account; credflow never manages it`,
    );
  }
}

/**
 * Databases that hold the server's own catalog or RDS's: privileges there reach every account
 * (ALL on `mysql`.* lets a user rewrite mysql.global_priv), so grants go only into application
 * databases. `_credflow` holds the user bindings (MySQL family). `postgres` is RDS's maintenance
 * database, where every session of the master opens: a user with CREATE there could plant
 * objects in the master's path, so it is never an application database (on either engine: a
 * MySQL database of that name is refused too, for one rule everywhere).
 */
export const SYSTEM_DATABASES: readonly string[] = [
  'postgres',
  'mysql',
  'sys',
  'performance_schema',
  'information_schema',
  'template0',
  'template1',
  'rdsadmin',
  '_credflow',
];

/** Throws ValidationError unless `name` may receive application grants. */
export function checkApplicationDatabase(name: string): string {
  const checked = checkNameCommon('database name', name);
  if (SYSTEM_DATABASES.includes(checked.toLowerCase())) {
    throw new ValidationError(
      `database ${JSON.stringify(checked)} is a system database; credflow grants only into application databases`,
    );
  }
  return checked;
}

/**
 * The error every engine raises when a user is not bound to the secret asking to change it. The
 * binding the user holds is never named (it is another secret's ARN).
 */
export function notBoundError(username: string): ValidationError {
  return new ValidationError(
    `user ${JSON.stringify(username)} is not bound to this secret: credflow changes only the users it created or adopted for the secret (a user another rotation function made, such as AWS's multi-user function's _clone, is bound by 'credflow adopt <secret>' after it checks the user)`,
  );
}

/**
 * Connections each user credflow creates may hold at once (PostgreSQL CONNECTION LIMIT, MySQL and
 * MariaDB MAX_USER_CONNECTIONS), so one application cannot take every connection the server has
 * and lock the master out (then every rotation on the instance fails). 40 because the smallest
 * RDS classes and PostgreSQL's default allow about 80 to 150 connections in all, and an
 * alternating secret's two users may both hold connections while applications move from one to
 * the other: 2 x 40 leaves the master room from 100 connections up, not on the smallest classes
 * (about 80), where create-user should be given a lower connectionLimit (docs/security-boundary.md).
 * Raise it per user for a bigger instance or pool.
 */
export const DEFAULT_CONNECTION_LIMIT = 40;
/** The highest connection limit create-user accepts (RDS's largest classes allow tens of thousands in all). */
export const MAX_CONNECTION_LIMIT = 10_000;

/** Number.isInteger, as the type guard it is (false for every non-number). */
const isInteger = (value: unknown): value is number => Number.isInteger(value);

/** The connection limit, checked at run time (input may come from JSON); the default when absent. */
export function checkConnectionLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_CONNECTION_LIMIT;
  if (!isInteger(limit) || limit < 1 || limit > MAX_CONNECTION_LIMIT) {
    throw new ValidationError(
      `connection limit must be a whole number from 1 to ${MAX_CONNECTION_LIMIT}, got ${JSON.stringify(limit)}`,
    );
  }
  return limit;
}

export const PRIVILEGES: readonly Privilege[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'ALL'];

/** The requested privileges, checked at run time (input may come from JSON), deduplicated. */
export function checkPrivileges(privileges: unknown): Privilege[] {
  if (!Array.isArray(privileges) || privileges.length === 0) {
    throw new ValidationError(`privileges must be a non-empty list of ${PRIVILEGES.join(', ')}`);
  }
  const out = new Set<Privilege>();
  for (const p of privileges) {
    if (typeof p !== 'string' || !(PRIVILEGES as readonly string[]).includes(p.toUpperCase())) {
      throw new ValidationError(`unknown privilege ${JSON.stringify(p)}; allowed: ${PRIVILEGES.join(', ')}`);
    }
    out.add(p.toUpperCase() as Privilege);
  }
  return [...out];
}

/**
 * Removes every occurrence of each secret (and its escaped forms) from a driver message. Server
 * messages rarely quote a statement, but a syntax error does ("... near '<text>'").
 */
export function redact(
  message: string,
  secrets: readonly string[],
  escapes: readonly ((s: string) => string)[] = [],
) {
  let out = message;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of [secret, ...escapes.map((e) => e(secret))]) {
      if (form) out = out.split(form).join('[redacted]');
    }
  }
  return out;
}

/** Network-level failures worth retrying (the ASL retries TransientError with backoff). */
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);

/** Certificate failures: retrying cannot help; the trust configuration must change. */
const TLS_CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A translation for failures below the database protocol, or undefined to let the engine decide. */
export function translateNodeError(
  code: string | undefined,
  where: string,
  message: string,
): CredflowError | undefined {
  if (code && TRANSIENT_NODE_CODES.has(code))
    return new TransientError(`${where}: ${message}`, { cause: { code } });
  // mysql2 reports a certificate that does not verify as a failed handshake.
  const certificate =
    (code && TLS_CERT_CODES.has(code)) ||
    (code === 'HANDSHAKE_SSL_ERROR' && /certificate|self.signed/i.test(message));
  if (certificate) {
    return new DatabaseError(
      `${where}: the server's TLS certificate did not verify (${code}); trust its CA (for RDS: ` +
        "NODE_EXTRA_CA_CERTS=<RDS bundle>) or set the secret's ssl key to false",
      { cause: { code } },
    );
  }
  return undefined;
}
