/**
 * MySQL and MariaDB (RDS mysql, mariadb, aurora-mysql) on mysql2. Every statement this project
 * sends to a MySQL-family server is in this folder (the bindings table in ./bindings.ts).
 *
 * Users are always `'<name>'@'%'`, as RDS creates them. Names and passwords reach SQL only
 * through mysql2's escaping (`?` placeholders, `escape`, `escapeId`), on a session whose
 * sql_mode has been cleared of NO_BACKSLASH_ESCAPES and ANSI_QUOTES so that escaping means what
 * it says.
 */
import type { Connection, ConnectionOptions, RowDataPacket } from 'mysql2/promise';
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
  Privilege,
  SessionInfo,
  UserBinding,
} from '../types';
import { adoptionFacts, bindUser, unbindUser } from './adoption';
import { bind, bindingOf, type Query, unbind } from './bindings';
import { createConnection, escapeId, escapeValue } from './driver';
import {
  AUTH_ERRNOS,
  grantEntries,
  type ParsedGrant,
  parseGrantLine,
  requirementOf,
  type TlsRequirement,
  TRANSIENT_CODES,
  TRANSIENT_ERRNOS,
  text,
  versionAtLeast,
} from './grants';

/** MySQL 5.7.8+ and 8.x: 32 characters (MariaDB allows more; RDS MySQL does not). */
export const MYSQL_MAX_USERNAME = 32;
const MAX_DATABASE_NAME = 64;

/** mysql.user keeps names in utf8mb3: characters beyond the BMP (emoji, ...) cannot be stored. */
const ASTRAL = /[\u{10000}-\u{10FFFF}]/u;

const GRANT_KEYWORD: Record<Privilege, string> = {
  SELECT: 'SELECT',
  INSERT: 'INSERT',
  UPDATE: 'UPDATE',
  DELETE: 'DELETE',
  CREATE: 'CREATE',
  ALL: 'ALL PRIVILEGES',
};

interface Session extends SessionBase {
  conn: Connection;
  version: string;
  mariadb: boolean;
}

/** `'<name>'@'%'`, the only account shape this engine manages. */
function account(name: string): string {
  return `${escapeValue(name)}@'%'`;
}

/** `_` and `%` are wildcards in a database-level GRANT: escape them so `app_db` means only app_db. */
/**
 * MariaDB writes `SET DEFAULT ROLE r FOR u`, MySQL 8 `SET DEFAULT ROLE r TO u`. Only MariaDB's
 * SHOW GRANTS lists default roles, so only it reaches these statements; the keyword keeps them
 * valid on both.
 */
function defaultRoleFor(s: { mariadb: boolean }): 'FOR' | 'TO' {
  return s.mariadb ? 'FOR' : 'TO';
}

function grantDatabase(db: string): string {
  return escapeId(db.replace(/[\\_%]/g, '\\$&'), true);
}

/** The MySQL-family implementation of DatabaseEngine. */
export class MysqlEngine extends SqlEngine<Session> implements DatabaseEngine {
  readonly family = 'mysql' as const;
  readonly maxUsernameLength = MYSQL_MAX_USERNAME;
  /** AWS's MySQL rotation templates exclude these from generated passwords. */
  readonly excludeCharacters = '/@"\'\\';
  protected readonly label = 'mysql';
  protected readonly escapes = [(v: string) => escapeValue(v).slice(1, -1)];

  /**
   * Accepts what `'<name>'@'%'` can hold and round-trip: 1-32 characters (MySQL's limit, which
   * RDS MySQL enforces; MariaDB would take more), any character of the Basic Multilingual Plane
   * including quotes, backticks, backslashes, `%`, `;` and inner spaces (they are escaped, never
   * interpreted). Refused: NUL and other control characters (they break logs and tooling),
   * leading or trailing whitespace (MySQL compares names with trailing spaces ignored, so
   * `'bob '` would collide with `'bob'`), characters beyond the BMP such as emoji (mysql.user
   * stores names as utf8mb3), and malformed Unicode.
   */
  validateUsername(username: string): void {
    const name = checkNameCommon('username', username);
    const length = [...name].length;
    if (length > MYSQL_MAX_USERNAME) {
      throw new ValidationError(
        `username ${JSON.stringify(name)} is ${length} characters; MySQL allows at most ${MYSQL_MAX_USERNAME}`,
      );
    }
    if (ASTRAL.test(name)) {
      throw new ValidationError(
        `username ${JSON.stringify(name)} has characters beyond the Basic Multilingual Plane (e.g. emoji), which mysql.user cannot store`,
      );
    }
  }

  private validateDatabase(db: string): void {
    const name = checkApplicationDatabase(db);
    if ([...name].length > MAX_DATABASE_NAME) {
      throw new ValidationError(
        `database name ${JSON.stringify(name)} is longer than ${MAX_DATABASE_NAME} characters`,
      );
    }
  }

  async testLogin(creds: Credentials): Promise<void> {
    await this.withSession(creds, [creds.password], async (s) => {
      await this.run(s, 'SELECT 1', 'SELECT 1');
    });
  }

  /**
   * Which TLS (if any) and user a login ends up with: for checking the TLS preference. The
   * cipher comes from the session's own Ssl_cipher status.
   */
  async describeSession(creds: Credentials): Promise<SessionInfo> {
    return this.withSession(creds, [creds.password], async (s) => {
      const rows = await this.run<RowDataPacket[]>(s, 'describe session', 'SELECT CURRENT_USER() AS who');
      const status = await this.run<RowDataPacket[]>(
        s,
        'describe session',
        "SHOW SESSION STATUS LIKE 'Ssl_cipher'",
      );
      const cipher = text(status[0]?.['Value']);
      return {
        user: text(rows[0]?.['who']),
        serverVersion: s.version,
        tls: cipher.length > 0,
        cipher: cipher || undefined,
      };
    });
  }

  /**
   * MariaDB: `SET PASSWORD = PASSWORD(?)` (its ALTER USER needs the CREATE USER privilege even
   * for one's own account). MySQL 8: `ALTER USER CURRENT_USER() IDENTIFIED BY ? REPLACE ?`, the
   * REPLACE clause satisfying password_require_current when the server demands it.
   */
  async changeOwnPassword(creds: Credentials, newPassword: string): Promise<void> {
    checkPassword(newPassword);
    await this.withSession(creds, [creds.password, newPassword], async (s) => {
      if (s.mariadb) await this.run(s, 'SET PASSWORD', 'SET PASSWORD = PASSWORD(?)', [newPassword]);
      else if (versionAtLeast(s.version, 8, 0, 13)) {
        await this.run(s, 'ALTER USER', 'ALTER USER CURRENT_USER() IDENTIFIED BY ? REPLACE ?', [
          newPassword,
          creds.password,
        ]);
      } else await this.run(s, 'ALTER USER', 'ALTER USER CURRENT_USER() IDENTIFIED BY ?', [newPassword]);
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
    await this.asMaster(admin, [admin.password, newPassword], async (s) => {
      if (!(await this.exists(s, username)))
        throw new NotFoundError(`user ${JSON.stringify(username)}@'%' does not exist`);
      await this.assertBound(s, username, binding);
      await this.run(s, 'ALTER USER', `ALTER USER ${account(username)} IDENTIFIED BY ?`, [newPassword]);
    });
  }

  /**
   * `CREATE USER '<name>'@'%' ... WITH MAX_USER_CONNECTIONS <limit>` and one database-level
   * GRANT on `<database>`.*; the user is dropped again if the GRANT fails, so nothing half-made is
   * left. The database need not exist yet.
   */
  async createUser(admin: Credentials, user: NewUser): Promise<void> {
    this.validateManaged(admin, user.username);
    checkPassword(user.password);
    this.validateDatabase(user.database);
    const privileges = checkPrivileges(user.privileges);
    const limit = checkConnectionLimit(user.connectionLimit);
    const keywords = privileges.includes('ALL')
      ? ['ALL PRIVILEGES']
      : privileges.map((p) => GRANT_KEYWORD[p]);
    await this.asMaster(admin, [admin.password, user.password], async (s) => {
      if (await this.exists(s, user.username)) {
        throw new DatabaseError(`user ${JSON.stringify(user.username)}@'%' already exists`);
      }
      // The binding first: a crash in between leaves a binding without a user, never a user
      // without its binding.
      await bind(this.query(s), user.username, user.binding);
      await this.run(
        s,
        'CREATE USER',
        `CREATE USER ${account(user.username)} IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS ${limit}`,
        [user.password],
      );
      try {
        await this.run(
          s,
          'GRANT',
          `GRANT ${keywords.join(', ')} ON ${grantDatabase(user.database)}.* TO ${account(user.username)}`,
        );
      } catch (err) {
        await this.run(s, 'DROP USER', `DROP USER IF EXISTS ${account(user.username)}`).catch(
          () => undefined,
        );
        await unbind(this.query(s), user.username).catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Copies SHOW GRANTS of the source to the clone (grantee re-quoted by mysql2, authentication
   * and TLS clauses dropped from the copied lines) and the source's TLS requirement from
   * mysql.user (`ALTER USER ... REQUIRE`), then sets the clone's password. On an existing clone
   * whose grants differ, its privileges and roles are revoked first, so the result is an exact
   * copy. Not copied: default roles and resource limits; the clone's MAX_USER_CONNECTIONS is
   * credflow's own (`options`), never the source's.
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
    await this.asMaster(admin, [admin.password, password], async (s) => {
      if (!(await this.exists(s, sourceName))) {
        throw new NotFoundError(`user ${JSON.stringify(sourceName)}@'%' does not exist`);
      }
      await this.assertBound(s, sourceName, binding);
      const cloneExists = await this.exists(s, cloneName);
      if (cloneExists) await this.assertBound(s, cloneName, binding);
      const sourceGrants = await this.showGrants(s, sourceName);
      const requirement = await this.tlsRequirement(s, sourceName);
      const clone = account(cloneName);
      if (cloneExists) {
        await this.run(s, 'ALTER USER', `ALTER USER ${clone} IDENTIFIED BY ?`, [password]);
        const cloneGrants = await this.showGrants(s, cloneName);
        if (grantEntries(cloneGrants).join('\n') !== grantEntries(sourceGrants).join('\n')) {
          await this.run(s, 'REVOKE', `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${clone}`);
          for (const g of cloneGrants) {
            if (g.verb === 'GRANT' && g.object === undefined) {
              await this.run(s, 'REVOKE role', `REVOKE ${g.head} FROM ${clone}`);
            } else if (g.verb === 'DEFAULT ROLE') {
              await this.run(s, 'SET DEFAULT ROLE', `SET DEFAULT ROLE NONE ${defaultRoleFor(s)} ${clone}`);
            }
          }
        }
      } else {
        await bind(this.query(s), cloneName, binding);
        await this.run(s, 'CREATE USER', `CREATE USER ${clone} IDENTIFIED BY ?`, [password]);
      }
      for (const g of sourceGrants) {
        if (g.verb === 'DEFAULT ROLE') {
          await this.run(s, 'SET DEFAULT ROLE', `SET DEFAULT ROLE ${g.head} ${defaultRoleFor(s)} ${clone}`);
          continue;
        }
        const options = g.options.length > 0 ? ` WITH ${g.options.join(' ')}` : '';
        await this.run(
          s,
          g.verb,
          `${g.verb} ${g.head} ${g.verb === 'GRANT' ? 'TO' : 'FROM'} ${clone}${options}`,
        );
      }
      await this.run(
        s,
        'ALTER USER',
        `ALTER USER ${clone} REQUIRE ${requirement.clause} WITH MAX_USER_CONNECTIONS ${limit}`,
      );
    });
  }

  async userExists(admin: Credentials, username: string): Promise<boolean> {
    this.validateUsername(username);
    return this.asMaster(admin, [admin.password], (s) => this.exists(s, username));
  }

  /** Every `'<name>'@'%'` account (accounts bound to other hosts, like root@localhost, are not ours). */
  async listUsers(admin: Credentials): Promise<string[]> {
    return this.asMaster(admin, [admin.password], async (s) => {
      const rows = await this.run<RowDataPacket[]>(
        s,
        'list users',
        "SELECT User AS name FROM mysql.user WHERE Host = '%' AND User <> ''",
      );
      return rows.map((r) => text(r['name'])).sort();
    });
  }

  /** Drops `'<name>'@'%'`; no error when it does not exist (dropping is idempotent). */
  async dropUser(admin: Credentials, username: string): Promise<void> {
    this.validateUsername(username);
    if (username === admin.username)
      throw new ValidationError('refusing to drop the user the admin logs in as');
    await this.asMaster(admin, [admin.password], async (s) => {
      await this.run(s, 'DROP USER', `DROP USER IF EXISTS ${account(username)}`);
      await unbind(this.query(s), username);
    });
  }

  /**
   * SHOW GRANTS reduced to one string per privilege and object ("SELECT ON `appdb`.*",
   * "GRANT OPTION ON ...", "ROLE `r`@`%`", "REQUIRE SSL"), without the grantee, without USAGE
   * (which every account has), sorted. Roles appear as role grants, not expanded.
   */
  async listGrants(admin: Credentials, username: string, _scope?: GrantScope): Promise<string[]> {
    const grants = (await this.inspectUsers(admin, [username]))[username];
    if (!grants) throw new NotFoundError(`user ${JSON.stringify(username)}@'%' does not exist`);
    return grants;
  }

  /**
   * listGrants for several users over one admin session; null for a user that does not exist. The
   * scope changes nothing here: a MySQL user's grants are all credflow's (no user can grant
   * without GRANT OPTION, which credflow never gives).
   */
  async inspectUsers(
    admin: Credentials,
    usernames: readonly string[],
    _scope?: GrantScope,
  ): Promise<Record<string, string[] | null>> {
    for (const u of usernames) this.validateUsername(u);
    return this.asMaster(admin, [admin.password], async (s) => {
      const out: Record<string, string[] | null> = {};
      for (const username of new Set(usernames)) {
        if (!(await this.exists(s, username))) {
          out[username] = null;
          continue;
        }
        const entries = grantEntries(await this.showGrants(s, username));
        const requirement = await this.tlsRequirement(s, username);
        if (requirement.clause !== 'NONE') entries.push(`REQUIRE ${requirement.clause}`);
        out[username] = entries.sort();
      }
      return out;
    });
  }

  /** Accounts `'<name>'@'<host>'` for a host other than '%' (see DatabaseEngine.accountsElsewhere). */
  async accountsElsewhere(
    admin: Credentials,
    usernames: readonly string[],
  ): Promise<Record<string, string[]>> {
    for (const u of usernames) this.validateUsername(u);
    return this.asMaster(admin, [admin.password], async (s) => {
      const out: Record<string, string[]> = {};
      for (const name of new Set(usernames)) {
        const rows = await this.run<RowDataPacket[]>(
          s,
          'look up other accounts',
          "SELECT Host AS host FROM mysql.user WHERE User = ? AND Host <> '%' ORDER BY Host",
          [name],
        );
        out[name] = rows.map((r) => text(r['host']));
      }
      return out;
    });
  }

  async bindingsOf(admin: Credentials, usernames: readonly string[]): Promise<Record<string, UserBinding>> {
    for (const u of usernames) this.validateUsername(u);
    return this.asMaster(admin, [admin.password], async (s) => {
      const out: Record<string, UserBinding> = {};
      for (const name of new Set(usernames)) {
        const exists = await this.exists(s, name);
        out[name] = { exists, binding: exists ? await bindingOf(this.query(s), name) : undefined };
      }
      return out;
    });
  }

  /**
   * A session as the master with no default database, whatever database the master secret names.
   * Every table the master's statements use is qualified (mysql.user, _credflow.bindings) and the
   * functions they call are the server's own (VERSION(), CURRENT_USER(): a native function always
   * wins over a stored one of the same name), so nothing they name can resolve to a routine, view
   * or table in a database an application user writes (a user with ALL on its database may
   * create any of these there).
   */
  private asMaster<T>(
    admin: Credentials,
    secrets: readonly string[],
    fn: (s: Session) => Promise<T>,
  ): Promise<T> {
    return this.withSession({ ...admin, dbname: undefined }, secrets, fn);
  }

  async adoptionFacts(
    admin: Credentials,
    usernames: readonly string[],
  ): Promise<Record<string, AdoptionFacts>> {
    for (const u of usernames) this.validateUsername(u);
    return this.asMaster(admin, [admin.password], async (s) => {
      const out: Record<string, AdoptionFacts> = {};
      for (const name of new Set(usernames)) out[name] = await this.facts(s, name);
      return out;
    });
  }

  async bindExisting(admin: Credentials, usernames: readonly string[], binding: string): Promise<void> {
    for (const u of usernames) this.validateManaged(admin, u);
    await this.asMaster(admin, [admin.password], async (s) => {
      for (const name of usernames) assertBindable(name, await this.facts(s, name), binding);
      for (const name of usernames) {
        await bindUser(this.query(s), name, binding);
        // As create-user: every user credflow manages has its connection limit.
        await this.run(
          s,
          'ALTER USER',
          `ALTER USER ${account(name)} WITH MAX_USER_CONNECTIONS ${checkConnectionLimit(undefined)}`,
        );
      }
    });
  }

  async unbindExisting(admin: Credentials, usernames: readonly string[], binding: string): Promise<void> {
    for (const u of usernames) this.validateManaged(admin, u);
    await this.asMaster(admin, [admin.password], async (s) => {
      for (const name of usernames) {
        if ((await bindingOf(this.query(s), name)) === binding) await unbindUser(this.query(s), name);
      }
    });
  }

  private async facts(s: Session, name: string): Promise<AdoptionFacts> {
    const grants = (await this.exists(s, name)) ? await this.showGrants(s, name) : undefined;
    return adoptionFacts(this.query(s), name, grants);
  }

  /** Refuses a user that is bound to another secret or to none, or that holds global privileges. */
  private async assertBound(s: Session, username: string, binding: string): Promise<void> {
    if ((await bindingOf(this.query(s), username)) !== binding) throw notBoundError(username);
    // An application user never holds privileges on *.*: a bound row cannot make an admin ours.
    const global = (await this.showGrants(s, username)).some(
      // Stryker disable next-line MethodExpression: the server prints USAGE only alone (it means no privilege) and never an empty list, so privileges.some and .every agree on every line it prints
      (g) => g.object === '*.*' && g.privileges.some((p) => p.toUpperCase() !== 'USAGE'),
    );
    if (global) throw notBoundError(username);
  }

  private async exists(s: Session, username: string): Promise<boolean> {
    const rows = await this.run<RowDataPacket[]>(
      s,
      'look up user',
      "SELECT 1 AS found FROM mysql.user WHERE User = ? AND Host = '%'",
      [username],
    );
    return rows.length > 0;
  }

  private async showGrants(s: Session, username: string): Promise<ParsedGrant[]> {
    const rows = await this.run<RowDataPacket[]>(s, 'SHOW GRANTS', `SHOW GRANTS FOR ${account(username)}`);
    return rows.map((r) => parseGrantLine(text(Object.values(r)[0]), username));
  }

  private async tlsRequirement(s: Session, username: string): Promise<TlsRequirement> {
    const rows = await this.run<RowDataPacket[]>(
      s,
      'read TLS requirement',
      "SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject FROM mysql.user WHERE User = ? AND Host = '%'",
      [username],
    );
    return requirementOf(rows[0]);
  }

  /** `run` bound to one session, for the bindings table. */
  private query(s: Session): Query {
    return (action, sql, values) => this.run(s, action, sql, values);
  }

  private async run<T = unknown>(s: Session, action: string, sql: string, values?: unknown[]): Promise<T> {
    this.sending(sql);
    try {
      const [rows] = await s.conn.query({ sql, timeout: this.queryTimeoutMs }, values);
      return rows as T;
    } catch (err) {
      throw this.translate(err, s.where, action, s.secrets);
    }
  }

  protected async open(creds: Credentials, tls: boolean, base: SessionBase): Promise<Session> {
    const options: ConnectionOptions = {
      host: creds.host,
      port: creds.port,
      user: creds.username,
      password: creds.password,
      ...(creds.dbname ? { database: creds.dbname } : {}),
      connectTimeout: this.connectTimeoutMs,
      charset: 'UTF8MB4_UNICODE_CI',
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
      ...(tls ? { ssl: tlsOptions(this.options) } : {}),
    };
    const conn = await createConnection(options);
    conn.on('error', () => {
      // A connection that dies between statements reports through the next query.
    });
    const session: Session = { ...base, conn, version: '', mariadb: false };
    try {
      const rows = await this.run<RowDataPacket[]>(
        session,
        'prepare session',
        'SELECT @@SESSION.sql_mode AS mode, VERSION() AS version',
      );
      session.version = text(rows[0]?.['version']);
      session.mariadb = /mariadb/i.test(session.version);
      const modes = text(rows[0]?.['mode']).split(',');
      const unsafe = new Set(['NO_BACKSLASH_ESCAPES', 'ANSI_QUOTES', 'ANSI']);
      if (modes.some((m) => unsafe.has(m))) {
        // mysql2 escapes with backslashes and quotes identifiers with backticks: make both hold.
        await this.run(session, 'prepare session', 'SET SESSION sql_mode = ?', [
          modes.filter((m) => !unsafe.has(m)).join(','),
        ]);
      }
    } catch (err) {
      await close(conn);
      throw err;
    }
    return session;
  }

  protected async close(session: Session): Promise<void> {
    await close(session.conn);
  }

  protected classify(e: DriverFailure): FailureKind {
    const errno = typeof e.errno === 'number' ? e.errno : undefined;
    if (errno !== undefined && AUTH_ERRNOS.has(errno)) return 'auth';
    if (e.code === 'HANDSHAKE_NO_SSL_SUPPORT') return 'no-tls';
    if ((e.code && TRANSIENT_CODES.has(e.code)) || (errno !== undefined && TRANSIENT_ERRNOS.has(errno))) {
      return 'transient';
    }
    return errno === 1064 ? 'syntax' : undefined;
  }
}

/** Ends a connection politely, but never waits on a dead one. */
async function close(conn: Connection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = conn.end().then(
    () => true,
    () => false,
  );
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), 1000);
  });
  const ok = await Promise.race([ended, timedOut]);
  clearTimeout(timer);
  if (!ok) conn.destroy();
}

/** The shared MySQL-family engine with default timeouts. */
export const mysqlEngine = new MysqlEngine();
