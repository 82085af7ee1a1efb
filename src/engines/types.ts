/**
 * The one interface every database engine implements. All SQL lives behind it, in
 * src/engines/<engine>.ts; the rotation core never builds SQL itself.
 */
export type EngineFamily = 'mysql' | 'postgres';

/** Where and as whom to connect. `ssl` follows AWS's rotation templates (see `ssl` below). */
export interface Credentials {
  host: string;
  port: number;
  username: string;
  password: string;
  /** Database to connect to; engines fall back to their default (mysql: none, postgres: 'postgres'). */
  dbname?: string | undefined;
  /**
   * true: TLS required; false: plain only; undefined: TLS when the server offers it, else plain.
   * Certificates are verified (Node's CA store; add RDS's bundle with NODE_EXTRA_CA_CERTS) except
   * on loopback, where the local cloud's self-signed servers run.
   */
  ssl?: boolean | undefined;
}

/** Database-level privileges a created user may be granted. */
export type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | 'CREATE' | 'ALL';

export interface NewUser {
  username: string;
  password: string;
  /** The database the privileges apply to. */
  database: string;
  privileges: readonly Privilege[];
}

/** What a login turned out to be; lets callers check that TLS was negotiated. */
export interface SessionInfo {
  /** The authenticated user as the server names it (mysql: 'name@host'; postgres: the role). */
  user: string;
  serverVersion: string;
  tls: boolean;
  /** The negotiated cipher; undefined without TLS. */
  cipher?: string | undefined;
}

export interface DatabaseEngine {
  readonly family: EngineFamily;
  /** Longest username the engine accepts (mysql 32 chars, postgres 63 bytes). */
  readonly maxUsernameLength: number;
  /** Characters GetRandomPassword must exclude for this engine (AWS templates' list). */
  readonly excludeCharacters: string;

  /** Opens a connection, runs `SELECT 1`, closes. Throws AuthenticationError / TransientError. */
  testLogin(creds: Credentials): Promise<void>;
  /** Logs in as `creds` and changes that same user's password (single-user strategy). */
  changeOwnPassword(creds: Credentials, newPassword: string): Promise<void>;
  /** Logs in as the admin and sets another user's password (admin-single and alternating). */
  setPassword(admin: Credentials, username: string, newPassword: string): Promise<void>;
  /** Creates a login user with the given database-level privileges. */
  createUser(admin: Credentials, user: NewUser): Promise<void>;
  /**
   * Makes `cloneName` an equivalent of `sourceName` with `password`: creates it when missing,
   * copies (or re-copies) its grants, sets the password.
   */
  cloneUser(admin: Credentials, sourceName: string, cloneName: string, password: string): Promise<void>;
  userExists(admin: Credentials, username: string): Promise<boolean>;
  listUsers(admin: Credentials): Promise<string[]>;
  dropUser(admin: Credentials, username: string): Promise<void>;
  /**
   * The user's effective privileges, normalised so two users' lists compare equal when they can
   * do the same things (the username itself never appears in the strings). Sorted.
   */
  listGrants(admin: Credentials, username: string): Promise<string[]>;
  /**
   * listGrants for several users in one pass (one admin login, plus one per other database on
   * PostgreSQL): each name maps to its grants, or null when the user does not exist.
   */
  inspectUsers(admin: Credentials, usernames: readonly string[]): Promise<Record<string, string[] | null>>;
  /** Validates a username for this engine; throws ValidationError with a clear reason. */
  validateUsername(username: string): void;
  /**
   * Logs in and reports the session: user, server version, whether TLS is in use. Optional so
   * test doubles need not implement it; both real engines do.
   */
  describeSession?(creds: Credentials): Promise<SessionInfo>;
}
