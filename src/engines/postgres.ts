/**
 * PostgreSQL (RDS postgres, aurora-postgresql) on pg. Every statement this project sends to a
 * PostgreSQL server is in this file.
 *
 * Queries take bind parameters. DDL cannot ($1 is not allowed in CREATE/ALTER ROLE), so role and
 * database names go through pg's escapeIdentifier and passwords through escapeLiteral (which
 * doubles quotes and switches to E'' with doubled backslashes when needed, whatever
 * standard_conforming_strings says). Note that a server logging DDL (log_statement = ddl/all)
 * writes such statements, password included, to its log, as with AWS's own rotation templates.
 */
import { Client, type ClientConfig, escapeIdentifier, escapeLiteral } from 'pg';
import {
  AuthenticationError,
  CredflowError,
  DatabaseError,
  NotFoundError,
  TransientError,
  ValidationError,
} from '../errors';
import {
  assertNotSystemAccount,
  checkApplicationDatabase,
  checkNameCommon,
  checkPassword,
  checkPrivileges,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_QUERY_TIMEOUT_MS,
  type EngineOptions,
  notBoundError,
  redact,
  tlsOptions,
  translateNodeError,
} from './common';
import type { Credentials, DatabaseEngine, NewUser, Privilege, SessionInfo, UserBinding } from './types';

/** NAMEDATALEN - 1: longer identifiers are silently truncated by the server, so refuse them. */
export const POSTGRES_MAX_NAME_BYTES = 63;

/** SQLSTATEs that mean "these credentials do not log in". */
const AUTH_STATES = new Set(['28P01', '28000']);
/** SQLSTATEs worth retrying: shutdown, startup, overload, conflicts, timeouts. */
const TRANSIENT_STATES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '53200',
  '53100',
  '40001',
  '40P01',
  '55P03',
  '57014',
]);
const TRANSIENT_MESSAGE = /connection terminated|timeout|connection ended|server closed the connection/i;

interface DriverError {
  code?: string;
  message?: string;
  severity?: string;
}

interface Session {
  client: Client;
  where: string;
  secrets: string[];
}

interface RoleRow {
  oid: number;
  rolcanlogin: boolean;
  rolsuper: boolean;
  rolcreatedb: boolean;
  rolcreaterole: boolean;
  rolconnlimit: number;
  /** The role's comment (pg_shdescription), where credflow records the binding. */
  comment: string | null;
}

/**
 * The binding lives in the role's comment: shared across databases like the role itself, and
 * only roles with CREATEROLE (the master) may set it, never the application user.
 */
const BINDING_PREFIX = 'credflow:secret=';

function bindingComment(binding: string): string {
  return `${BINDING_PREFIX}${binding}`;
}

function bindingOf(role: RoleRow): string | undefined {
  return role.comment?.startsWith(BINDING_PREFIX) ? role.comment.slice(BINDING_PREFIX.length) : undefined;
}

const ident = escapeIdentifier;

/** Schemas that belong to the system, not to applications. */
const USER_SCHEMAS = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'";

/**
 * Effective privileges of role $1 on every object of the current database, as
 * (kind, object, privilege). has_*_privilege follows role membership, so a clone that is a
 * member of its source sees exactly what the source sees. Default privileges count for the
 * roles whose privileges $1 uses; "(self)" stands for $1 so names never leak into the result.
 */
const OBJECT_PRIVILEGES_SQL = `
SELECT 'SCHEMA' AS kind, quote_ident(n.nspname) AS object, p.priv
FROM pg_namespace n CROSS JOIN unnest(ARRAY['USAGE', 'CREATE']) AS p(priv)
WHERE ${USER_SCHEMAS} AND has_schema_privilege($1, n.oid, p.priv)
UNION ALL
SELECT 'TABLE', quote_ident(n.nspname) || '.' || quote_ident(c.relname), p.priv
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_SCHEMAS} AND has_table_privilege($1, c.oid, p.priv)
UNION ALL
SELECT 'SEQUENCE', quote_ident(n.nspname) || '.' || quote_ident(c.relname), p.priv
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p(priv)
WHERE c.relkind = 'S' AND ${USER_SCHEMAS} AND has_sequence_privilege($1, c.oid, p.priv)
UNION ALL
SELECT 'DEFAULT ' || CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'
         WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
       coalesce(quote_ident(n.nspname), '*') || ' FOR ' ||
         CASE WHEN r.rolname = $1 THEN '(self)' ELSE quote_ident(r.rolname) END,
       a.privilege_type
FROM pg_default_acl d
JOIN pg_roles r ON r.oid = d.defaclrole
LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) AS a
WHERE a.grantee <> 0 AND pg_has_role($1, a.grantee, 'USAGE')`;

/** Per-table privilege keywords for each requested privilege. */
const TABLE_PRIVILEGE: Partial<Record<Privilege, string>> = {
  SELECT: 'SELECT',
  INSERT: 'INSERT',
  UPDATE: 'UPDATE',
  DELETE: 'DELETE',
};

/** The PostgreSQL implementation of DatabaseEngine. */
export class PostgresEngine implements DatabaseEngine {
  readonly family = 'postgres' as const;
  readonly maxUsernameLength = POSTGRES_MAX_NAME_BYTES;
  /** AWS's PostgreSQL templates also exclude ':' (it would split .pgpass and URI fields). */
  readonly excludeCharacters = '/@"\'\\:';
  private readonly connectTimeoutMs: number;
  private readonly queryTimeoutMs: number;

  constructor(private readonly options: EngineOptions = {}) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  }

  /**
   * Accepts any role name up to 63 bytes of UTF-8 (the server would silently truncate a longer
   * one), including quotes, backslashes, `%`, `;`, inner spaces and non-ASCII letters: names are
   * always quoted. Refused: NUL and other control characters, leading or trailing whitespace,
   * malformed Unicode, names starting with `pg_` (reserved for system roles) and the reserved
   * names `public` and `none` (refused in any case, to avoid lookalikes).
   */
  validateUsername(username: string): void {
    const name = checkNameCommon('username', username);
    const bytes = Buffer.byteLength(name, 'utf8');
    if (bytes > POSTGRES_MAX_NAME_BYTES) {
      throw new ValidationError(
        `username ${JSON.stringify(name)} is ${bytes} bytes; PostgreSQL allows at most ${POSTGRES_MAX_NAME_BYTES}`,
      );
    }
    if (/^pg_/i.test(name))
      throw new ValidationError(`username ${JSON.stringify(name)}: names starting pg_ are reserved`);
    if (/^(public|none)$/i.test(name))
      throw new ValidationError(`username ${JSON.stringify(name)} is a reserved name`);
  }

  private validateDatabase(db: string): void {
    const name = checkApplicationDatabase(db);
    if (Buffer.byteLength(name, 'utf8') > POSTGRES_MAX_NAME_BYTES) {
      throw new ValidationError(
        `database name ${JSON.stringify(name)} is longer than ${POSTGRES_MAX_NAME_BYTES} bytes`,
      );
    }
  }

  async testLogin(creds: Credentials): Promise<void> {
    await this.withSession(creds, [creds.password], async (s) => {
      await this.run(s, 'SELECT 1', 'SELECT 1');
    });
  }

  /** Which TLS (if any) and role a login ends up with, from pg_stat_ssl for this backend. */
  async describeSession(creds: Credentials): Promise<SessionInfo> {
    return this.withSession(creds, [creds.password], async (s) => {
      const rows = await this.run<{
        who: string;
        version: string;
        ssl: boolean | null;
        cipher: string | null;
      }>(
        s,
        'describe session',
        `SELECT current_user AS who, current_setting('server_version') AS version, s.ssl, s.cipher
         FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`,
      );
      const row = rows[0];
      return {
        user: row?.who ?? '',
        serverVersion: row?.version ?? '',
        tls: row?.ssl === true,
        cipher: row?.cipher ?? undefined,
      };
    });
  }

  async changeOwnPassword(creds: Credentials, newPassword: string): Promise<void> {
    checkPassword(newPassword);
    await this.withSession(creds, [creds.password, newPassword], async (s) => {
      await this.run(s, 'ALTER USER', `ALTER USER CURRENT_USER WITH PASSWORD ${escapeLiteral(newPassword)}`);
    });
  }

  async setPassword(
    admin: Credentials,
    username: string,
    newPassword: string,
    binding: string,
  ): Promise<void> {
    this.validateManaged(admin, username);
    checkPassword(newPassword);
    await this.withSession(admin, [admin.password, newPassword], async (s) => {
      await this.boundRole(s, username, binding);
      await this.run(
        s,
        'ALTER ROLE',
        `ALTER ROLE ${ident(username)} WITH PASSWORD ${escapeLiteral(newPassword)}`,
      );
    });
  }

  /**
   * A LOGIN role with CONNECT on the database, USAGE on its schema public, the table privileges
   * on every existing table there and, through ALTER DEFAULT PRIVILEGES, on tables the admin
   * creates later. INSERT/UPDATE add USAGE on sequences (serial columns), SELECT adds SELECT on
   * them; CREATE means CREATE on schema public; ALL means all of these. The role is dropped again
   * if any grant fails.
   */
  async createUser(admin: Credentials, user: NewUser): Promise<void> {
    this.validateManaged(admin, user.username);
    checkPassword(user.password);
    this.validateDatabase(user.database);
    const privileges = checkPrivileges(user.privileges);
    const all = privileges.includes('ALL');
    const tablePrivileges = all
      ? ['ALL PRIVILEGES']
      : privileges.map((p) => TABLE_PRIVILEGE[p]).filter((k): k is string => k !== undefined);
    const sequencePrivileges = all
      ? ['ALL PRIVILEGES']
      : [
          ...(privileges.includes('INSERT') || privileges.includes('UPDATE') ? ['USAGE'] : []),
          ...(privileges.includes('SELECT') ? ['SELECT'] : []),
        ];
    const schemaPrivileges = all || privileges.includes('CREATE') ? ['USAGE', 'CREATE'] : ['USAGE'];
    const role = ident(user.username);

    await this.withSession(admin, [admin.password, user.password], async (s) => {
      if (await this.role(s, user.username))
        throw new DatabaseError(`role ${JSON.stringify(user.username)} already exists`);
      const db = await this.run(s, 'look up database', 'SELECT 1 FROM pg_database WHERE datname = $1', [
        user.database,
      ]);
      if (db.length === 0)
        throw new NotFoundError(`database ${JSON.stringify(user.database)} does not exist`);
      // Role and binding in one transaction: no moment exists where the role is there unbound.
      await this.run(s, 'BEGIN', 'BEGIN');
      await this.run(
        s,
        'CREATE ROLE',
        `CREATE ROLE ${role} WITH LOGIN PASSWORD ${escapeLiteral(user.password)}`,
      );
      await this.run(
        s,
        'COMMENT ON ROLE',
        `COMMENT ON ROLE ${role} IS ${escapeLiteral(bindingComment(user.binding))}`,
      );
      await this.run(s, 'COMMIT', 'COMMIT');
    });
    try {
      await this.withSession({ ...admin, dbname: user.database }, [admin.password], async (s) => {
        await this.run(s, 'BEGIN', 'BEGIN');
        await this.run(
          s,
          'GRANT',
          `GRANT ${all ? 'ALL PRIVILEGES' : 'CONNECT'} ON DATABASE ${ident(user.database)} TO ${role}`,
        );
        await this.run(s, 'GRANT', `GRANT ${schemaPrivileges.join(', ')} ON SCHEMA public TO ${role}`);
        if (tablePrivileges.length > 0) {
          const list = tablePrivileges.join(', ');
          await this.run(s, 'GRANT', `GRANT ${list} ON ALL TABLES IN SCHEMA public TO ${role}`);
          await this.run(
            s,
            'ALTER DEFAULT PRIVILEGES',
            `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ${list} ON TABLES TO ${role}`,
          );
        }
        if (sequencePrivileges.length > 0) {
          const list = sequencePrivileges.join(', ');
          await this.run(s, 'GRANT', `GRANT ${list} ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
          await this.run(
            s,
            'ALTER DEFAULT PRIVILEGES',
            `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ${list} ON SEQUENCES TO ${role}`,
          );
        }
        await this.run(s, 'COMMIT', 'COMMIT');
      });
    } catch (err) {
      await this.dropUser(admin, user.username).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Role membership, as AWS's PostgreSQL multi-user template does: the clone is a LOGIN role
   * with INHERIT that is granted the source role. Chosen over copying grants because PostgreSQL
   * privileges live in every database separately (tables, sequences, schemas, default
   * privileges, column and function grants, ownership): a copy would have to visit each
   * database and every object kind and would drift as soon as the source got a new grant, while
   * membership gives the clone exactly the source's privileges, now and later, in one GRANT.
   * Role attributes are not inherited, so CREATEDB, CREATEROLE and CONNECTION LIMIT are copied
   * (SUPERUSER never is).
   *
   * When the "clone" is the original and the source its `_clone` (the alternating strategy's
   * second turn), the source is already a member of it: granting back would be circular, and the
   * original already holds every privilege, so only the password and attributes are set.
   * Re-running re-syncs: missing membership is granted, other memberships of the clone revoked.
   */
  async cloneUser(
    admin: Credentials,
    sourceName: string,
    cloneName: string,
    password: string,
    binding: string,
  ): Promise<void> {
    this.validateManaged(admin, sourceName);
    this.validateManaged(admin, cloneName);
    checkPassword(password);
    if (sourceName === cloneName) throw new ValidationError('a user cannot be cloned onto itself');
    await this.withSession(admin, [admin.password, password], async (s) => {
      await this.run(s, 'BEGIN', 'BEGIN');
      const source = await this.boundRole(s, sourceName, binding);
      const existing = await this.role(s, cloneName);
      if (existing) this.assertBound(existing, cloneName, binding);
      const clone = ident(cloneName);
      const attributes = [
        'LOGIN',
        'INHERIT',
        source.rolcreatedb ? 'CREATEDB' : 'NOCREATEDB',
        source.rolcreaterole ? 'CREATEROLE' : 'NOCREATEROLE',
        `CONNECTION LIMIT ${Number(source.rolconnlimit)}`,
      ].join(' ');
      if (existing) {
        await this.run(
          s,
          'ALTER ROLE',
          `ALTER ROLE ${clone} WITH ${attributes} PASSWORD ${escapeLiteral(password)}`,
        );
      } else {
        await this.run(
          s,
          'CREATE ROLE',
          `CREATE ROLE ${clone} WITH ${attributes} PASSWORD ${escapeLiteral(password)}`,
        );
        await this.run(
          s,
          'COMMENT ON ROLE',
          `COMMENT ON ROLE ${clone} IS ${escapeLiteral(bindingComment(binding))}`,
        );
      }
      const [reverse] = await this.run<{ member: boolean }>(
        s,
        'check membership',
        "SELECT pg_has_role($1, $2, 'MEMBER') AS member",
        [sourceName, cloneName],
      );
      if (!reverse?.member) {
        const memberships = await this.run<{ rolname: string }>(
          s,
          'list memberships',
          `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
           JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
          [cloneName],
        );
        for (const m of memberships) {
          if (m.rolname !== sourceName)
            await this.run(s, 'REVOKE', `REVOKE ${ident(m.rolname)} FROM ${clone}`);
        }
        if (!memberships.some((m) => m.rolname === sourceName)) {
          await this.run(s, 'GRANT', `GRANT ${ident(sourceName)} TO ${clone}`);
        }
      }
      await this.run(s, 'COMMIT', 'COMMIT');
    });
  }

  async bindingsOf(admin: Credentials, usernames: readonly string[]): Promise<Record<string, UserBinding>> {
    for (const u of usernames) this.validateUsername(u);
    return this.withSession(admin, [admin.password], async (s) => {
      const out: Record<string, UserBinding> = {};
      for (const name of new Set(usernames)) {
        const role = await this.role(s, name);
        out[name] = { exists: role !== undefined, binding: role ? bindingOf(role) : undefined };
      }
      return out;
    });
  }

  async userExists(admin: Credentials, username: string): Promise<boolean> {
    this.validateUsername(username);
    return this.withSession(
      admin,
      [admin.password],
      async (s) => (await this.role(s, username)) !== undefined,
    );
  }

  /** Roles that can log in, system roles (pg_*) excepted. */
  async listUsers(admin: Credentials): Promise<string[]> {
    return this.withSession(admin, [admin.password], async (s) => {
      const rows = await this.run<{ rolname: string }>(
        s,
        'list users',
        "SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname NOT LIKE 'pg\\_%'",
      );
      return rows.map((r) => r.rolname).sort();
    });
  }

  /**
   * Drops the role after, in every database, handing what it owns to the admin (REASSIGN OWNED:
   * an application's tables survive their user) and revoking its privileges (DROP OWNED). No
   * error when the role does not exist.
   */
  async dropUser(admin: Credentials, username: string): Promise<void> {
    this.validateUsername(username);
    if (username === admin.username)
      throw new ValidationError('refusing to drop the user the admin logs in as');
    const target = ident(username);
    const databases = await this.withSession(admin, [admin.password], async (s) => {
      if (!(await this.role(s, username))) return undefined;
      // REASSIGN/DROP OWNED need the admin to hold the role's privileges; a superuser does.
      const [me] = await this.run<{ rolsuper: boolean; member: boolean }>(
        s,
        'check admin',
        "SELECT rolsuper, pg_has_role(current_user, $1, 'MEMBER') AS member FROM pg_roles WHERE rolname = current_user",
        [username],
      );
      if (!me?.rolsuper && !me?.member) await this.run(s, 'GRANT', `GRANT ${target} TO CURRENT_USER`);
      return this.connectableDatabases(s);
    });
    if (!databases) return;
    for (const dbname of databases) {
      await this.inDatabase(admin, dbname, async (s) => {
        await this.run(s, 'REASSIGN OWNED', `REASSIGN OWNED BY ${target} TO CURRENT_USER`);
        await this.run(s, 'DROP OWNED', `DROP OWNED BY ${target}`);
      });
    }
    await this.withSession(admin, [admin.password], async (s) => {
      await this.run(s, 'DROP ROLE', `DROP ROLE IF EXISTS ${target}`);
    });
  }

  /**
   * Effective privileges, role attributes and group memberships, following membership (so a
   * clone and its source compare equal), over every database the admin can connect to:
   * "ROLE CREATEDB", "MEMBER OF readers" (roles without LOGIN only), "DATABASE appdb: CONNECT",
   * "SCHEMA appdb.public: USAGE", "TABLE appdb.public.t: SELECT", "SEQUENCE ...", "DEFAULT
   * TABLES appdb.public FOR admin: SELECT". Column and function privileges are not listed.
   */
  async listGrants(admin: Credentials, username: string): Promise<string[]> {
    const grants = (await this.inspectUsers(admin, [username]))[username];
    if (!grants) throw new NotFoundError(`role ${JSON.stringify(username)} does not exist`);
    return grants;
  }

  /**
   * listGrants for several roles in one pass: one admin session per connectable database
   * (the first one reused), whatever the number of roles. null for a role that does not exist.
   */
  async inspectUsers(
    admin: Credentials,
    usernames: readonly string[],
  ): Promise<Record<string, string[] | null>> {
    for (const u of usernames) this.validateUsername(u);
    const names = [...new Set(usernames)];
    const entries = new Map<string, string[]>();
    const home = admin.dbname ?? 'postgres';
    const collect = async (s: Session, dbname: string) => {
      const [q] = await this.run<{ q: string }>(
        s,
        'quote name',
        'SELECT quote_ident(current_database()) AS q',
      );
      for (const [name, list] of entries) {
        const rows = await this.run<{ kind: string; object: string; priv: string }>(
          s,
          'list object privileges',
          OBJECT_PRIVILEGES_SQL,
          [name],
        );
        for (const r of rows) list.push(`${r.kind} ${q?.q ?? dbname}.${r.object}: ${r.priv}`);
      }
    };
    const databases = await this.withSession(admin, [admin.password], async (s) => {
      for (const name of names) {
        const role = await this.role(s, name);
        if (!role) continue;
        const list: string[] = [];
        entries.set(name, list);
        if (role.rolsuper) list.push('ROLE SUPERUSER');
        if (role.rolcreatedb) list.push('ROLE CREATEDB');
        if (role.rolcreaterole) list.push('ROLE CREATEROLE');
        if (Number(role.rolconnlimit) >= 0) list.push(`ROLE CONNECTION LIMIT ${role.rolconnlimit}`);
        const groups = await this.run<{ name: string }>(
          s,
          'list memberships',
          `SELECT quote_ident(g.rolname) AS name FROM pg_roles g
           WHERE NOT g.rolcanlogin AND g.rolname <> $1 AND pg_has_role($1, g.oid, 'USAGE')`,
          [name],
        );
        for (const g of groups) list.push(`MEMBER OF ${g.name}`);
        const dbPrivileges = await this.run<{ name: string; priv: string }>(
          s,
          'list database privileges',
          `SELECT quote_ident(d.datname) AS name, p.priv
           FROM pg_database d CROSS JOIN unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) AS p(priv)
           WHERE NOT d.datistemplate AND has_database_privilege($1, d.oid, p.priv)`,
          [name],
        );
        for (const d of dbPrivileges) list.push(`DATABASE ${d.name}: ${d.priv}`);
      }
      if (entries.size === 0) return [];
      const all = await this.connectableDatabases(s);
      // The session is already in its own database: read that one here, not over a new login.
      if (all.includes(home)) await collect(s, home);
      return all.filter((d) => d !== home);
    });
    for (const dbname of databases) await this.inDatabase(admin, dbname, (s) => collect(s, dbname));
    const out: Record<string, string[] | null> = {};
    for (const name of names) {
      const list = entries.get(name);
      out[name] = list ? [...new Set(list)].sort() : null;
    }
    return out;
  }

  // ---- sessions -------------------------------------------------------------------------------

  private async role(s: Session, name: string): Promise<RoleRow | undefined> {
    const rows = await this.run<RoleRow>(
      s,
      'look up role',
      `SELECT oid, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolconnlimit,
              shobj_description(oid, 'pg_authid') AS comment
       FROM pg_roles WHERE rolname = $1`,
      [name],
    );
    return rows[0];
  }

  /**
   * The checks made before any change to a user, without SQL: a valid name, not a system or RDS
   * account, not the admin itself.
   */
  private validateManaged(admin: Credentials, username: string): void {
    this.validateUsername(username);
    assertNotSystemAccount(username);
    if (username === admin.username) {
      throw new ValidationError(`username ${JSON.stringify(username)} is the admin's own account`);
    }
  }

  private assertBound(role: RoleRow, name: string, binding: string): void {
    // A superuser is never an application user, whatever its comment says.
    if (role.rolsuper || bindingOf(role) !== binding) throw notBoundError(name);
  }

  /** The role, checked to exist and to be bound to `binding`, in the session that will change it. */
  private async boundRole(s: Session, name: string, binding: string): Promise<RoleRow> {
    const role = await this.role(s, name);
    if (!role) throw new NotFoundError(`role ${JSON.stringify(name)} does not exist`);
    this.assertBound(role, name, binding);
    return role;
  }

  private async connectableDatabases(s: Session): Promise<string[]> {
    const rows = await this.run<{ datname: string }>(
      s,
      'list databases',
      `SELECT datname FROM pg_database
       WHERE datallowconn AND NOT datistemplate AND has_database_privilege(current_user, oid, 'CONNECT')
       ORDER BY datname`,
    );
    return rows.map((r) => r.datname);
  }

  /** Runs `fn` as the admin in another database; a database dropped meanwhile is skipped. */
  private async inDatabase(
    admin: Credentials,
    dbname: string,
    fn: (s: Session) => Promise<void>,
  ): Promise<void> {
    try {
      await this.withSession({ ...admin, dbname }, [admin.password], fn);
    } catch (err) {
      if (err instanceof DatabaseError && (err.cause as DriverError | undefined)?.code === '3D000') return;
      throw err;
    }
  }

  private async run<T = Record<string, unknown>>(
    s: Session,
    action: string,
    sql: string,
    values?: unknown[],
  ): Promise<T[]> {
    try {
      const result = await s.client.query(sql, values);
      return result.rows as T[];
    } catch (err) {
      throw this.translate(err, s.where, action, s.secrets);
    }
  }

  private config(creds: Credentials, ssl: boolean): ClientConfig {
    return {
      host: creds.host,
      port: creds.port,
      user: creds.username,
      password: creds.password,
      database: creds.dbname ?? 'postgres',
      ssl: ssl ? tlsOptions(creds.host, this.options) : false,
      connectionTimeoutMillis: this.connectTimeoutMs,
      query_timeout: this.queryTimeoutMs,
      statement_timeout: this.queryTimeoutMs,
      application_name: 'credflow',
    };
  }

  /**
   * Connects as AWS's templates do: `ssl` true requires TLS, false never uses it, undefined
   * tries TLS and falls back to plain only when the server answers that it has no TLS (a
   * certificate that fails to verify is an error, not a reason to drop encryption).
   */
  private async connect(creds: Credentials, secrets: string[]): Promise<Session> {
    const where = `postgres ${creds.host}:${creds.port}`;
    const open = async (tls: boolean) => {
      const client = new Client(this.config(creds, tls));
      client.on('error', () => {
        // A connection that dies between statements reports through the next query.
      });
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      return client;
    };
    try {
      if (creds.ssl === false) return { client: await open(false), where, secrets };
      try {
        return { client: await open(true), where, secrets };
      } catch (err) {
        const noTls = /does not support SSL/i.test((err as DriverError).message ?? '');
        if (!noTls) throw err;
        if (creds.ssl === true) {
          throw new DatabaseError(`${where}: TLS is required (ssl: true) but the server does not offer it`);
        }
        return { client: await open(false), where, secrets };
      }
    } catch (err) {
      throw this.translate(err, where, `log in as ${JSON.stringify(creds.username)}`, secrets);
    }
  }

  private async withSession<T>(
    creds: Credentials,
    secrets: string[],
    fn: (s: Session) => Promise<T>,
  ): Promise<T> {
    const session = await this.connect(creds, secrets);
    try {
      return await fn(session);
    } finally {
      await session.client.end().catch(() => undefined);
    }
  }

  private translate(err: unknown, where: string, action: string, secrets: readonly string[]): CredflowError {
    if (err instanceof CredflowError) return err;
    const e = (err ?? {}) as DriverError;
    const message = redact(typeof e.message === 'string' ? e.message : String(err), secrets, [
      (v) => escapeLiteral(v),
      (v) => v.replace(/'/g, "''"),
    ]);
    const code = e.code;
    const cause = { code };
    const detail = `${where}: ${action} failed: ${message}${code ? ` (${code})` : ''}`;
    if (code && AUTH_STATES.has(code)) return new AuthenticationError(detail, { cause });
    const network = translateNodeError(code, `${where}: ${action}`, message);
    if (network) return network;
    if (
      (code && (TRANSIENT_STATES.has(code) || code.startsWith('08'))) ||
      // Two GRANTs on one catalog row at once: PostgreSQL's internal "retry me" (XX000).
      (code === 'XX000' && /tuple concurrently (updated|deleted)/.test(message)) ||
      (!code && TRANSIENT_MESSAGE.test(message))
    ) {
      return new TransientError(detail, { cause });
    }
    if (code === '42601' && secrets.length > 1) {
      // A syntax error quotes a token of the statement; a session with a second secret sends a password.
      return new DatabaseError(`${where}: ${action} failed: SQL syntax error (statement withheld)`, {
        cause,
      });
    }
    return new DatabaseError(detail, { cause });
  }
}

/** The shared PostgreSQL engine with default timeouts. */
export const postgresEngine = new PostgresEngine();
