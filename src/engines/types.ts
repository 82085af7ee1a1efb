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
   * true: TLS required; false: plain only; undefined: TLS, falling back to plain only on loopback
   * when the server offers none (anywhere else that is refused: RDS always offers TLS).
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
  /** Connections the user may hold at once; default DEFAULT_CONNECTION_LIMIT (engines/common). */
  connectionLimit?: number | undefined;
  /**
   * The secret the user is bound to (its ARN): recorded on the database side in the same step
   * that creates the user, and checked by the master before it ever changes the user again.
   */
  binding: string;
}

/** What a clone gets besides the source's privileges: credflow's own fixed attributes, never the source's. */
export interface CloneOptions {
  /** Connections the clone may hold at once; default DEFAULT_CONNECTION_LIMIT (engines/common). */
  connectionLimit?: number | undefined;
}

/** Which grants listGrants and inspectUsers look at. */
export interface GrantScope {
  /**
   * The user's application database: only grants there count (PostgreSQL; the master then opens
   * no session in any other database). Default: every database the admin can connect to.
   */
  database?: string | undefined;
}

/** A user's binding as the database records it. */
export interface UserBinding {
  exists: boolean;
  /** The secret ARN the user is bound to; undefined when the user exists but credflow never bound it. */
  binding: string | undefined;
}

/** What adopting an existing user needs to know of it (src/lifecycle/adopt.ts). */
export interface AdoptionFacts {
  exists: boolean;
  /** The secret it is bound to, as bindingsOf reports it. */
  binding: string | undefined;
  /** PostgreSQL: the role has a comment that is not a credflow binding (adoption replaces it). */
  foreignNote?: true | undefined;
  /**
   * What it holds beyond database-level privileges on application databases: MySQL global
   * privileges, grants on system databases, roles; PostgreSQL SUPERUSER, CREATEROLE, CREATEDB,
   * REPLICATION, BYPASSRLS, membership in rds_* / pg_* roles. Empty for an application user.
   */
  elevated: string[];
  /** PostgreSQL: every role it is a member of, through any chain; MySQL: empty. */
  memberOf: string[];
  /** PostgreSQL: the roles granted to it directly; MySQL: empty. */
  directMemberOf: string[];
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
  /**
   * Logs in as the admin and sets another user's password (admin-single-user), after checking in
   * the same session that the user is bound to `binding` (else ValidationError, nothing changed).
   */
  setPassword(admin: Credentials, username: string, newPassword: string, binding: string): Promise<void>;
  /**
   * Creates a login user with the given database-level privileges (application databases only)
   * and binds it to `user.binding`.
   */
  createUser(admin: Credentials, user: NewUser): Promise<void>;
  /**
   * Makes `cloneName` an equivalent of `sourceName` with `password`: creates it when missing,
   * copies (or re-copies) its grants, sets the password. Both users must be bound to `binding`
   * (a clone it creates is bound to it); a user bound elsewhere or not at all is refused with
   * ValidationError before anything changes.
   */
  cloneUser(
    admin: Credentials,
    sourceName: string,
    cloneName: string,
    password: string,
    binding: string,
    options?: CloneOptions,
  ): Promise<void>;
  /** Whether each user exists and which secret it is bound to (one admin session). */
  bindingsOf(admin: Credentials, usernames: readonly string[]): Promise<Record<string, UserBinding>>;
  userExists(admin: Credentials, username: string): Promise<boolean>;
  listUsers(admin: Credentials): Promise<string[]>;
  /** Drops the user (and its binding); no error when it does not exist. */
  dropUser(admin: Credentials, username: string): Promise<void>;
  /**
   * The privileges credflow granted the user (directly or through a role it uses), normalised so
   * two users' lists compare equal when they hold the same (the username itself never appears in
   * the strings). Sorted. What others granted it is not listed (PostgreSQL: only grants whose
   * grantor is the admin, never PUBLIC's; MySQL: a user cannot grant without GRANT OPTION, which
   * credflow never gives), so another tenant's GRANT is not drift.
   */
  listGrants(admin: Credentials, username: string, scope?: GrantScope): Promise<string[]>;
  /**
   * listGrants for several users in one pass (one admin login, plus one per other database on
   * PostgreSQL): each name maps to its grants, or null when the user does not exist.
   */
  inspectUsers(
    admin: Credentials,
    usernames: readonly string[],
    scope?: GrantScope,
  ): Promise<Record<string, string[] | null>>;
  /**
   * Other accounts with the same user names (MySQL family: `'<name>'@'<host>'` for a host other
   * than '%'; credflow never creates them, and one keeps its own password through a rotation).
   * Each name maps to the other hosts it has, sorted. Undefined where accounts have no host
   * (PostgreSQL).
   */
  accountsElsewhere?(admin: Credentials, usernames: readonly string[]): Promise<Record<string, string[]>>;
  /** Validates a username for this engine; throws ValidationError with a clear reason. */
  validateUsername(username: string): void;
  /** Adoption (src/lifecycle/adopt.ts): facts about existing users, over one admin session. */
  adoptionFacts?(admin: Credentials, usernames: readonly string[]): Promise<Record<string, AdoptionFacts>>;
  /**
   * Adoption: binds existing users to `binding` as createUser does, in one admin session that
   * first checks each exists, holds nothing elevated and is unbound or bound to `binding` (else
   * ValidationError, nothing changed).
   */
  bindExisting?(admin: Credentials, usernames: readonly string[], binding: string): Promise<void>;
  /** Undoing adoption: removes the binding of each user bound to `binding`; others untouched. */
  unbindExisting?(admin: Credentials, usernames: readonly string[], binding: string): Promise<void>;
  /**
   * Logs in and reports the session: user, server version, whether TLS is in use. Optional so
   * test doubles need not implement it; both real engines do.
   */
  describeSession?(creds: Credentials): Promise<SessionInfo>;
}
