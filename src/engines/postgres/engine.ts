/**
 * PostgreSQL (RDS postgres, aurora-postgresql) on pg. Every statement this project sends to a
 * PostgreSQL server is in this folder (queries of the catalog in ./catalog.ts).
 *
 * Queries take bind parameters. DDL cannot ($1 is not allowed in CREATE/ALTER ROLE), so role and
 * database names go through pg's escapeIdentifier and passwords through escapeLiteral (which
 * doubles quotes and switches to E'' with doubled backslashes when needed, whatever
 * standard_conforming_strings says). Note that a server logging DDL (log_statement = ddl/all)
 * writes such statements, password included, to its log, as with AWS's own rotation templates.
 */
import type { Client, ClientConfig } from 'pg';
import { DatabaseError, NotFoundError, ValidationError } from '../../errors';
import { assertBindable } from '../adoption';
import { type DriverFailure, type FailureKind, type SessionBase, SqlEngine } from '../base';
import {
  checkApplicationDatabase,
  checkConnectionLimit,
  checkNameCommon,
  checkPassword,
  checkPrivileges,
  notBoundError,
  tlsOptions,
} from '../common';
import type {
  AdoptionFacts,
  CloneOptions,
  Credentials,
  DatabaseEngine,
  GrantScope,
  NewUser,
  SessionInfo,
  UserBinding,
} from '../types';
import { adoptionFacts, bindRole, unbindRole } from './adoption';
import {
  ADMIN_SQL,
  AUTH_STATES,
  bindingComment,
  bindingOf,
  CONNECTABLE_DATABASES_SQL,
  DATABASE_EXISTS_SQL,
  grantStatements,
  IS_MEMBER_SQL,
  LOGIN_ROLES_SQL,
  MEMBERSHIPS_SQL,
  OWNED_OBJECTS_SQL,
  OWNED_RELATIONS_SQL,
  type OwnedRelations,
  objectEntries,
  privilegeKeywords,
  type Query,
  RELATION_KINDS,
  ROLE_SQL,
  type RoleRow,
  roleEntries,
  SESSION_SQL,
  type SessionRow,
  TRANSIENT_MESSAGE,
  TRANSIENT_STATES,
} from './catalog';
import { escapeIdentifier, escapeLiteral, newClient } from './driver';

/** NAMEDATALEN - 1: longer identifiers are silently truncated by the server, so refuse them. */
export const POSTGRES_MAX_NAME_BYTES = 63;

const ident = escapeIdentifier;

/**
 * The attributes every role credflow creates gets, whatever any other role holds: a login that
 * inherits its grants (a clone uses its source's through membership) and may create no roles or
 * databases, bypass no row security and replicate nothing. The connection limit comes on top.
 */
export const FIXED_ATTRIBUTES = 'LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';
/** FIXED_ATTRIBUTES as a non-superuser admin may state them in ALTER ROLE (see cloneUser). */
const ALTERABLE_ATTRIBUTES = 'LOGIN INHERIT NOCREATEDB NOCREATEROLE';

interface Session extends SessionBase {
  client: Client;
}

/** The PostgreSQL implementation of DatabaseEngine. */
export class PostgresEngine extends SqlEngine<Session> implements DatabaseEngine {
  readonly family = 'postgres' as const;
  readonly maxUsernameLength = POSTGRES_MAX_NAME_BYTES;
  /** AWS's PostgreSQL templates also exclude ':' (it would split .pgpass and URI fields). */
  readonly excludeCharacters = '/@"\'\\:';
  protected readonly label = 'postgres';
  protected readonly escapes = [(v: string) => escapeLiteral(v), (v: string) => v.replace(/'/g, "''")];

  /**
   * Accepts any role name up to 63 bytes of UTF-8 (the server would silently truncate a longer
   * one), including quotes, backslashes, `%`, `;`, inner spaces and non-ASCII letters: names are
   * always quoted. Refused: NUL and other control characters, leading or trailing whitespace,
   * malformed Unicode, names starting with `pg_` (reserved for system roles) and the reserved
   * names `public` and `none` (refused in any case, to avoid lookalikes).
   */
  validateUsername(username: string): void {
    const name = checkNameCommon('username', username);
    // Stryker disable next-line StringLiteral: Buffer.byteLength counts in UTF-8 when the encoding is empty
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
    // Stryker disable next-line StringLiteral: Buffer.byteLength counts in UTF-8 when the encoding is empty
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
      const rows = await this.run<SessionRow>(s, 'describe session', SESSION_SQL);
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
    const keywords = privilegeKeywords(checkPrivileges(user.privileges));
    const limit = checkConnectionLimit(user.connectionLimit);
    const role = ident(user.username);

    await this.withSession(admin, [admin.password, user.password], async (s) => {
      if (await this.role(s, user.username))
        throw new DatabaseError(`role ${JSON.stringify(user.username)} already exists`);
      const db = await this.run(s, 'look up database', DATABASE_EXISTS_SQL, [user.database]);
      if (db.length === 0)
        throw new NotFoundError(`database ${JSON.stringify(user.database)} does not exist`);
      // Role and binding in one transaction: no moment exists where the role is there unbound.
      await this.run(s, 'BEGIN', 'BEGIN');
      await this.run(
        s,
        'CREATE ROLE',
        `CREATE ROLE ${role} WITH ${FIXED_ATTRIBUTES} CONNECTION LIMIT ${limit} PASSWORD ${escapeLiteral(user.password)}`,
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
        const owned: OwnedRelations = { TABLE: [], SEQUENCE: [] };
        for (const kind of ['TABLE', 'SEQUENCE'] as const) {
          const rows = await this.run<{ name: string }>(s, 'list owned relations', OWNED_RELATIONS_SQL, [
            RELATION_KINDS[kind],
          ]);
          owned[kind] = rows.map((r) => `public.${ident(r.name)}`);
        }
        for (const [action, sql] of grantStatements(role, ident(user.database), keywords, owned)) {
          await this.run(s, action, sql);
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
   * Role attributes are not inherited, and they are never copied from the source either (a user
   * that gained CREATEROLE must not pass it on to a role the master makes): the clone gets
   * credflow's fixed attributes (FIXED_ATTRIBUTES) and the connection limit of `options`.
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
    options: CloneOptions = {},
  ): Promise<void> {
    this.validateClone(admin, sourceName, cloneName, password);
    const limit = checkConnectionLimit(options.connectionLimit);
    await this.withSession(admin, [admin.password, password], async (s) => {
      await this.run(s, 'BEGIN', 'BEGIN');
      await this.boundRole(s, sourceName, binding);
      const existing = await this.role(s, cloneName);
      if (existing) this.assertBound(existing, cloneName, binding);
      const clone = ident(cloneName);
      if (existing) {
        // SUPERUSER, REPLICATION and BYPASSRLS only a superuser may name in ALTER ROLE, even to
        // turn them off; credflow never gives them and a role without them cannot take them.
        await this.run(
          s,
          'ALTER ROLE',
          `ALTER ROLE ${clone} WITH ${ALTERABLE_ATTRIBUTES} CONNECTION LIMIT ${limit} PASSWORD ${escapeLiteral(password)}`,
        );
      } else {
        await this.run(
          s,
          'CREATE ROLE',
          `CREATE ROLE ${clone} WITH ${FIXED_ATTRIBUTES} CONNECTION LIMIT ${limit} PASSWORD ${escapeLiteral(password)}`,
        );
        await this.run(
          s,
          'COMMENT ON ROLE',
          `COMMENT ON ROLE ${clone} IS ${escapeLiteral(bindingComment(binding))}`,
        );
      }
      const [reverse] = await this.run<{ member: boolean }>(s, 'check membership', IS_MEMBER_SQL, [
        sourceName,
        cloneName,
      ]);
      if (!reverse?.member) {
        const memberships = await this.run<{ rolname: string }>(s, 'list memberships', MEMBERSHIPS_SQL, [
          cloneName,
        ]);
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
      const rows = await this.run<{ rolname: string }>(s, 'list users', LOGIN_ROLES_SQL);
      return rows.map((r) => r.rolname).sort();
    });
  }

  /**
   * Drops a role that owns nothing, after revoking its privileges in every database (DROP OWNED).
   * A role that owns objects is refused (ValidationError): REASSIGN OWNED would hand its functions,
   * views and triggers to the admin, which would then run them with its rights. No error when the
   * role does not exist.
   */
  async dropUser(admin: Credentials, username: string): Promise<void> {
    this.validateUsername(username);
    if (username === admin.username)
      throw new ValidationError('refusing to drop the user the admin logs in as');
    const target = ident(username);
    const databases = await this.withSession(admin, [admin.password], async (s) => {
      if (!(await this.role(s, username))) return undefined;
      const [owned] = await this.run<{ n: number }>(s, 'count owned objects', OWNED_OBJECTS_SQL, [username]);
      if ((owned?.n ?? 0) > 0) {
        throw new ValidationError(
          `role ${JSON.stringify(username)} owns ${owned?.n} database objects; credflow drops only a role that owns nothing (handing them to the master would let the master run its code); nothing dropped`,
        );
      }
      // DROP OWNED (the grants made to it) needs the admin to hold the role's privileges.
      const [me] = await this.run<{ rolsuper: boolean; member: boolean }>(s, 'check admin', ADMIN_SQL, [
        username,
      ]);
      if (!me?.rolsuper && !me?.member) await this.run(s, 'GRANT', `GRANT ${target} TO CURRENT_USER`);
      return this.connectableDatabases(s);
    });
    if (!databases) return;
    for (const dbname of databases) {
      await this.inDatabase(admin, dbname, async (s) => {
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
  async listGrants(admin: Credentials, username: string, scope: GrantScope = {}): Promise<string[]> {
    const grants = (await this.inspectUsers(admin, [username], scope))[username];
    if (!grants) throw new NotFoundError(`role ${JSON.stringify(username)} does not exist`);
    return grants;
  }

  /**
   * listGrants for several roles in one pass: one admin session per connectable database
   * (the first one reused), whatever the number of roles; with `scope.database`, one session in
   * that database only. null for a role that does not exist.
   */
  async inspectUsers(
    admin: Credentials,
    usernames: readonly string[],
    scope: GrantScope = {},
  ): Promise<Record<string, string[] | null>> {
    for (const u of usernames) this.validateUsername(u);
    // Not checkApplicationDatabase: a secret made before `postgres` was refused may name it.
    if (scope.database !== undefined) checkNameCommon('database name', scope.database);
    const names = [...new Set(usernames)];
    const entries = new Map<string, string[]>();
    const home = scope.database ?? admin.dbname ?? 'postgres';
    const collect = (s: Session, dbname: string) => objectEntries(this.query(s), entries, dbname);
    const databases = await this.withSession({ ...admin, dbname: home }, [admin.password], async (s) => {
      for (const name of names) {
        const role = await this.role(s, name);
        if (!role) continue;
        entries.set(name, await roleEntries(this.query(s), role, name, scope.database));
      }
      if (entries.size === 0) return [];
      if (scope.database !== undefined) {
        await collect(s, home);
        return [];
      }
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

  async adoptionFacts(
    admin: Credentials,
    usernames: readonly string[],
  ): Promise<Record<string, AdoptionFacts>> {
    for (const u of usernames) this.validateUsername(u);
    return this.withSession(admin, [admin.password], async (s) => {
      const out: Record<string, AdoptionFacts> = {};
      for (const name of new Set(usernames)) out[name] = await adoptionFacts(this.query(s), name);
      return out;
    });
  }

  async bindExisting(admin: Credentials, usernames: readonly string[], binding: string): Promise<void> {
    for (const u of usernames) this.validateManaged(admin, u);
    await this.withSession(admin, [admin.password], async (s) => {
      await this.run(s, 'BEGIN', 'BEGIN');
      for (const name of usernames) {
        assertBindable(name, await adoptionFacts(this.query(s), name), binding);
        await bindRole(this.query(s), name, binding);
        // As create-user: every user credflow manages has its connection limit (a clone made later
        // gets the same, so the pair keeps equal attributes).
        await this.run(
          s,
          'ALTER ROLE',
          `ALTER ROLE ${ident(name)} CONNECTION LIMIT ${checkConnectionLimit(undefined)}`,
        );
      }
      await this.run(s, 'COMMIT', 'COMMIT');
    });
  }

  async unbindExisting(admin: Credentials, usernames: readonly string[], binding: string): Promise<void> {
    for (const u of usernames) this.validateManaged(admin, u);
    await this.withSession(admin, [admin.password], async (s) => {
      for (const name of usernames) {
        if ((await adoptionFacts(this.query(s), name)).binding === binding)
          await unbindRole(this.query(s), name);
      }
    });
  }

  // ---- sessions -------------------------------------------------------------------------------

  private async role(s: Session, name: string): Promise<RoleRow | undefined> {
    const rows = await this.run<RoleRow>(s, 'look up role', ROLE_SQL, [name]);
    return rows[0];
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
    const rows = await this.run<{ datname: string }>(s, 'list databases', CONNECTABLE_DATABASES_SQL);
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
      if (err instanceof DatabaseError && (err.cause as DriverFailure | undefined)?.code === '3D000') return;
      throw err;
    }
  }

  /** `run` bound to one session, for the catalog readers. */
  private query(s: Session): Query {
    return (action, sql, values) => this.run(s, action, sql, values);
  }

  private async run<T = Record<string, unknown>>(
    s: Session,
    action: string,
    sql: string,
    values?: unknown[],
  ): Promise<T[]> {
    this.sending(sql);
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
      ssl: ssl ? tlsOptions(this.options) : false,
      connectionTimeoutMillis: this.connectTimeoutMs,
      query_timeout: this.queryTimeoutMs,
      statement_timeout: this.queryTimeoutMs,
      application_name: 'credflow',
    };
  }

  protected async open(creds: Credentials, tls: boolean, base: SessionBase): Promise<Session> {
    const client = newClient(this.config(creds, tls));
    client.on('error', () => {
      // A connection that dies between statements reports through the next query.
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return { ...base, client };
  }

  protected async close(session: Session): Promise<void> {
    await session.client.end().catch(() => undefined);
  }

  protected classify(e: DriverFailure): FailureKind {
    const code = e.code;
    const message = e.message ?? '';
    // pg_hba has only `hostssl` lines for this client: not a password problem.
    if (/no pg_hba\.conf entry .*no encryption/.test(message)) return 'tls-only';
    if (code && AUTH_STATES.has(code)) return 'auth';
    if (/does not support SSL/i.test(message)) return 'no-tls';
    if (
      (code && (TRANSIENT_STATES.has(code) || code.startsWith('08'))) ||
      // Two GRANTs on one catalog row at once: PostgreSQL's internal "retry me" (XX000).
      (code === 'XX000' && /tuple concurrently (updated|deleted)/.test(message)) ||
      (!code && TRANSIENT_MESSAGE.test(message))
    ) {
      return 'transient';
    }
    return code === '42601' ? 'syntax' : undefined;
  }
}

/** The shared PostgreSQL engine with default timeouts. */
export const postgresEngine = new PostgresEngine();
