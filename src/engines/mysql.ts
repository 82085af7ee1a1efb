/**
 * MySQL and MariaDB (RDS mysql, mariadb, aurora-mysql) on mysql2. Every statement this project
 * sends to a MySQL-family server is in this file.
 *
 * Users are always `'<name>'@'%'`, as RDS creates them. Names and passwords reach SQL only
 * through mysql2's escaping (`?` placeholders, `escape`, `escapeId`), on a session whose
 * sql_mode has been cleared of NO_BACKSLASH_ESCAPES and ANSI_QUOTES so that escaping means what
 * it says.
 */
import { escapeId, escape as escapeValue } from 'mysql2';
import mysql, { type Connection, type ConnectionOptions, type RowDataPacket } from 'mysql2/promise';
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

/** MySQL 5.7.8+ and 8.x: 32 characters (MariaDB allows more; RDS MySQL does not). */
export const MYSQL_MAX_USERNAME = 32;
const MAX_DATABASE_NAME = 64;

/** mysql.user keeps names in utf8mb3: characters beyond the BMP (emoji, ...) cannot be stored. */
const ASTRAL = /[\u{10000}-\u{10FFFF}]/u;

/** Server errors that mean "these credentials do not log in". */
const AUTH_ERRNOS = new Set([
  1045, // ER_ACCESS_DENIED_ERROR
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1862, // ER_MUST_CHANGE_PASSWORD_LOGIN (expired)
  3118, // MySQL ER_ACCOUNT_HAS_BEEN_LOCKED
  4151, // MariaDB ER_ACCOUNT_HAS_BEEN_LOCKED
]);

/** Server and client errors that may pass on their own. */
const TRANSIENT_ERRNOS = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1053, // ER_SERVER_SHUTDOWN
  1077, // ER_NORMAL_SHUTDOWN
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1927, // ER_CONNECTION_KILLED
  2002, // CR_CONNECTION_ERROR
  2003, // CR_CONN_HOST_ERROR
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
]);
const TRANSIENT_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
]);

const GRANT_KEYWORD: Record<Privilege, string> = {
  SELECT: 'SELECT',
  INSERT: 'INSERT',
  UPDATE: 'UPDATE',
  DELETE: 'DELETE',
  CREATE: 'CREATE',
  ALL: 'ALL PRIVILEGES',
};

interface DriverError {
  code?: string;
  errno?: number;
  sqlState?: string;
  message?: string;
}

interface Session {
  conn: Connection;
  where: string;
  version: string;
  mariadb: boolean;
  /** Strings that must never appear in an error message from this session. */
  secrets: string[];
}

/**
 * Where the master records which secret each user belongs to. MariaDB has no user attributes
 * (MySQL 8's ATTRIBUTE is not portable), so a table in a database of credflow's own, which only
 * accounts with global privileges (the master) can write; application users never get grants
 * there (it is a system database for checkApplicationDatabase).
 */
const BINDINGS_DB = '_credflow';
const BINDINGS = `${escapeId(BINDINGS_DB)}.${escapeId('bindings')}`;
const CREATE_BINDINGS = `CREATE TABLE IF NOT EXISTS ${BINDINGS} (
  username VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
  secret_arn VARCHAR(2048) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  bound_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`;
/** ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE: nothing was ever bound on this server. */
const NO_BINDINGS_ERRNOS = new Set([1049, 1146]);

/** `'<name>'@'%'`, the only account shape this engine manages. */
function account(name: string): string {
  return `${escapeValue(name)}@'%'`;
}

/** How SHOW GRANTS prints an account: backtick-quoted, backticks doubled. */
function grantee(name: string): string {
  return `\`${name.replace(/`/g, '``')}\`@\`%\``;
}

/** `_` and `%` are wildcards in a database-level GRANT: escape them so `app_db` means only app_db. */
function grantDatabase(db: string): string {
  return escapeId(db.replace(/[\\_%]/g, '\\$&'), true);
}

/** One line of SHOW GRANTS, with the grantee and any authentication or TLS clause taken out. */
export interface ParsedGrant {
  /** DEFAULT ROLE stands for MariaDB's "SET DEFAULT ROLE <role> FOR <user>" line. */
  verb: 'GRANT' | 'REVOKE' | 'DEFAULT ROLE';
  /** Everything between the verb and TO/FROM: "SELECT, INSERT ON `db`.*", or a role list. */
  head: string;
  privileges: string[];
  /** Undefined for a role grant (GRANT `role` TO ...). */
  object?: string | undefined;
  /** WITH options: GRANT OPTION, ADMIN OPTION, resource limits. */
  options: string[];
}

/** Finds `needle` outside quotes and parentheses; -1 when absent. */
function indexAtTopLevel(text: string, needle: string): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\' && quote === "'") i++;
      else if (ch === quote) quote = undefined; // a doubled quote re-opens on the next char
      continue;
    }
    if (ch === '`' || ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && text.startsWith(needle, i)) return i;
  }
  return -1;
}

function splitAtTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let rest = text;
  for (let i = indexAtTopLevel(rest, separator); i >= 0; i = indexAtTopLevel(rest, separator)) {
    parts.push(rest.slice(0, i).trim());
    rest = rest.slice(i + separator.length);
  }
  parts.push(rest.trim());
  return parts.filter((p) => p.length > 0);
}

const WITH_OPTION =
  'GRANT OPTION|ADMIN OPTION|MAX_QUERIES_PER_HOUR \\d+|MAX_UPDATES_PER_HOUR \\d+|MAX_CONNECTIONS_PER_HOUR \\d+|' +
  'MAX_USER_CONNECTIONS -?\\d+|MAX_STATEMENT_TIME \\d+(?:\\.\\d+)?';
const WITH_TAIL = new RegExp(` WITH ((?:${WITH_OPTION})(?: (?:${WITH_OPTION}))*)$`);
const ONE_OPTION = new RegExp(WITH_OPTION, 'g');

/**
 * Parses one SHOW GRANTS line for `name`@'%'. The grantee is located by the exact text the
 * server prints for it (not by splitting on " TO "), so object names containing " TO " or the
 * user's own name cannot confuse it; what follows it is reduced to whitelisted WITH options.
 */
export function parseGrantLine(line: string, name: string): ParsedGrant {
  const defaultRole = 'SET DEFAULT ROLE ';
  const forUser = ` FOR ${grantee(name)}`;
  if (line.startsWith(defaultRole) && line.endsWith(forUser)) {
    const role = line.slice(defaultRole.length, line.length - forUser.length);
    return { verb: 'DEFAULT ROLE', head: role, privileges: [role], options: [] };
  }
  const verb = line.startsWith('GRANT ') ? 'GRANT' : line.startsWith('REVOKE ') ? 'REVOKE' : undefined;
  const marker = `${verb === 'REVOKE' ? ' FROM ' : ' TO '}${grantee(name)}`;
  const at = verb ? line.lastIndexOf(marker) : -1;
  if (!verb || at < 0) {
    // The line may carry a password hash: describe it, do not quote it.
    throw new DatabaseError(`SHOW GRANTS for ${JSON.stringify(name)} returned a line of unexpected shape`);
  }
  const head = line.slice(verb.length + 1, at);
  const tail = line.slice(at + marker.length);
  const options = WITH_TAIL.exec(tail)?.[1]?.match(ONE_OPTION) ?? [];
  const on = indexAtTopLevel(head, ' ON ');
  if (on < 0) return { verb, head, privileges: splitAtTopLevel(head, ','), options };
  return {
    verb,
    head,
    privileges: splitAtTopLevel(head.slice(0, on), ','),
    object: head.slice(on + 4).trim(),
    options,
  };
}

/** The user-independent privilege strings of parsed grants (what listGrants compares). */
export function grantEntries(grants: readonly ParsedGrant[]): string[] {
  const out = new Set<string>();
  for (const g of grants) {
    if (g.verb === 'DEFAULT ROLE') {
      out.add(`DEFAULT ROLE ${g.head}`);
      continue;
    }
    const prefix = g.verb === 'REVOKE' ? 'REVOKE ' : '';
    if (g.object === undefined) {
      const admin = g.options.includes('ADMIN OPTION') ? ' WITH ADMIN OPTION' : '';
      for (const role of g.privileges) out.add(`${prefix}ROLE ${role}${admin}`);
      continue;
    }
    for (const p of g.privileges) if (p.toUpperCase() !== 'USAGE') out.add(`${prefix}${p} ON ${g.object}`);
    for (const o of g.options) {
      if (o === 'GRANT OPTION') out.add(`${prefix}GRANT OPTION ON ${g.object}`);
      else if (o !== 'ADMIN OPTION' && !/ 0$/.test(o)) out.add(`LIMIT ${o}`);
    }
  }
  return [...out].sort();
}

interface TlsRequirement {
  /** The REQUIRE clause body: NONE, SSL, X509 or ISSUER/SUBJECT/CIPHER with escaped literals. */
  clause: string;
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

function requirementOf(row: RowDataPacket | undefined): TlsRequirement {
  const type = text(row?.['ssl_type']).toUpperCase();
  if (type === 'ANY') return { clause: 'SSL' };
  if (type === 'X509') return { clause: 'X509' };
  if (type === 'SPECIFIED') {
    const parts = [
      ['ISSUER', text(row?.['x509_issuer'])],
      ['SUBJECT', text(row?.['x509_subject'])],
      ['CIPHER', text(row?.['ssl_cipher'])],
    ]
      .filter(([, v]) => v)
      .map(([k, v]) => `${k} ${escapeValue(v)}`);
    return { clause: parts.length > 0 ? parts.join(' AND ') : 'SSL' };
  }
  return { clause: 'NONE' };
}

/** Parses "8.0.36", "10.11.19-MariaDB-..." into comparable numbers. */
function versionAtLeast(version: string, major: number, minor: number, patch: number): boolean {
  const [a = 0, b = 0, c = 0] = (/^(\d+)\.(\d+)\.(\d+)/.exec(version)?.slice(1) ?? []).map(Number);
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}

/** The MySQL-family implementation of DatabaseEngine. */
export class MysqlEngine implements DatabaseEngine {
  readonly family = 'mysql' as const;
  readonly maxUsernameLength = MYSQL_MAX_USERNAME;
  /** AWS's MySQL rotation templates exclude these from generated passwords. */
  readonly excludeCharacters = '/@"\'\\';
  private readonly connectTimeoutMs: number;
  private readonly queryTimeoutMs: number;

  constructor(private readonly options: EngineOptions = {}) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  }

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
    await this.withSession(admin, [admin.password, newPassword], async (s) => {
      if (!(await this.exists(s, username)))
        throw new NotFoundError(`user ${JSON.stringify(username)}@'%' does not exist`);
      await this.assertBound(s, username, binding);
      await this.run(s, 'ALTER USER', `ALTER USER ${account(username)} IDENTIFIED BY ?`, [newPassword]);
    });
  }

  /**
   * `CREATE USER '<name>'@'%'` and one database-level GRANT on `<database>`.*; the user is dropped
   * again if the GRANT fails, so nothing half-made is left. The database need not exist yet.
   */
  async createUser(admin: Credentials, user: NewUser): Promise<void> {
    this.validateManaged(admin, user.username);
    checkPassword(user.password);
    this.validateDatabase(user.database);
    const privileges = checkPrivileges(user.privileges);
    const keywords = privileges.includes('ALL')
      ? ['ALL PRIVILEGES']
      : privileges.map((p) => GRANT_KEYWORD[p]);
    await this.withSession(admin, [admin.password, user.password], async (s) => {
      if (await this.exists(s, user.username)) {
        throw new DatabaseError(`user ${JSON.stringify(user.username)}@'%' already exists`);
      }
      // The binding first: a crash in between leaves a binding without a user, never a user
      // without its binding.
      await this.bind(s, user.username, user.binding);
      await this.run(s, 'CREATE USER', `CREATE USER ${account(user.username)} IDENTIFIED BY ?`, [
        user.password,
      ]);
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
        await this.unbind(s, user.username).catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Copies SHOW GRANTS of the source to the clone (grantee re-quoted by mysql2, authentication
   * and TLS clauses dropped from the copied lines) and the source's TLS requirement from
   * mysql.user (`ALTER USER ... REQUIRE`), then sets the clone's password. On an existing clone
   * whose grants differ, its privileges and roles are revoked first, so the result is an exact
   * copy. Not copied: default roles and MySQL 8 resource limits.
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
              await this.run(s, 'SET DEFAULT ROLE', `SET DEFAULT ROLE NONE FOR ${clone}`);
            }
          }
        }
      } else {
        await this.bind(s, cloneName, binding);
        await this.run(s, 'CREATE USER', `CREATE USER ${clone} IDENTIFIED BY ?`, [password]);
      }
      for (const g of sourceGrants) {
        if (g.verb === 'DEFAULT ROLE') {
          await this.run(s, 'SET DEFAULT ROLE', `SET DEFAULT ROLE ${g.head} FOR ${clone}`);
          continue;
        }
        const options = g.options.length > 0 ? ` WITH ${g.options.join(' ')}` : '';
        await this.run(
          s,
          g.verb,
          `${g.verb} ${g.head} ${g.verb === 'GRANT' ? 'TO' : 'FROM'} ${clone}${options}`,
        );
      }
      await this.run(s, 'ALTER USER', `ALTER USER ${clone} REQUIRE ${requirement.clause}`);
    });
  }

  async userExists(admin: Credentials, username: string): Promise<boolean> {
    this.validateUsername(username);
    return this.withSession(admin, [admin.password], (s) => this.exists(s, username));
  }

  /** Every `'<name>'@'%'` account (accounts bound to other hosts, like root@localhost, are not ours). */
  async listUsers(admin: Credentials): Promise<string[]> {
    return this.withSession(admin, [admin.password], async (s) => {
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
    await this.withSession(admin, [admin.password], async (s) => {
      await this.run(s, 'DROP USER', `DROP USER IF EXISTS ${account(username)}`);
      await this.unbind(s, username);
    });
  }

  /**
   * SHOW GRANTS reduced to one string per privilege and object ("SELECT ON `appdb`.*",
   * "GRANT OPTION ON ...", "ROLE `r`@`%`", "REQUIRE SSL"), without the grantee, without USAGE
   * (which every account has), sorted. Roles appear as role grants, not expanded.
   */
  async listGrants(admin: Credentials, username: string): Promise<string[]> {
    const grants = (await this.inspectUsers(admin, [username]))[username];
    if (!grants) throw new NotFoundError(`user ${JSON.stringify(username)}@'%' does not exist`);
    return grants;
  }

  /** listGrants for several users over one admin session; null for a user that does not exist. */
  async inspectUsers(
    admin: Credentials,
    usernames: readonly string[],
  ): Promise<Record<string, string[] | null>> {
    for (const u of usernames) this.validateUsername(u);
    return this.withSession(admin, [admin.password], async (s) => {
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

  async bindingsOf(admin: Credentials, usernames: readonly string[]): Promise<Record<string, UserBinding>> {
    for (const u of usernames) this.validateUsername(u);
    return this.withSession(admin, [admin.password], async (s) => {
      const out: Record<string, UserBinding> = {};
      for (const name of new Set(usernames)) {
        const exists = await this.exists(s, name);
        out[name] = { exists, binding: exists ? await this.bindingOf(s, name) : undefined };
      }
      return out;
    });
  }

  /** Name checks made before any SQL: valid, not a system or RDS account, not the admin itself. */
  private validateManaged(admin: Credentials, username: string): void {
    this.validateUsername(username);
    assertNotSystemAccount(username);
    if (username === admin.username) {
      throw new ValidationError(`username ${JSON.stringify(username)} is the admin's own account`);
    }
  }

  private async bindingOf(s: Session, username: string): Promise<string | undefined> {
    try {
      const rows = await this.run<RowDataPacket[]>(
        s,
        'read binding',
        `SELECT secret_arn FROM ${BINDINGS} WHERE username = ?`,
        [username],
      );
      return rows[0] ? text(rows[0]['secret_arn']) : undefined;
    } catch (err) {
      const errno = ((err as CredflowError).cause as { errno?: number } | undefined)?.errno;
      if (errno !== undefined && NO_BINDINGS_ERRNOS.has(errno)) return undefined;
      throw err;
    }
  }

  /** Refuses a user that is bound to another secret or to none, or that holds global privileges. */
  private async assertBound(s: Session, username: string, binding: string): Promise<void> {
    if ((await this.bindingOf(s, username)) !== binding) throw notBoundError(username);
    // An application user never holds privileges on *.*: a bound row cannot make an admin ours.
    const global = (await this.showGrants(s, username)).some(
      (g) => g.object === '*.*' && g.privileges.some((p) => p.toUpperCase() !== 'USAGE'),
    );
    if (global) throw notBoundError(username);
  }

  private async bind(s: Session, username: string, binding: string): Promise<void> {
    await this.run(s, 'create bindings', `CREATE DATABASE IF NOT EXISTS ${escapeId(BINDINGS_DB)}`);
    await this.run(s, 'create bindings', CREATE_BINDINGS);
    await this.run(
      s,
      'bind user',
      `INSERT INTO ${BINDINGS} (username, secret_arn) VALUES (?, ?) ON DUPLICATE KEY UPDATE secret_arn = ?`,
      [username, binding, binding],
    );
  }

  private async unbind(s: Session, username: string): Promise<void> {
    try {
      await this.run(s, 'unbind user', `DELETE FROM ${BINDINGS} WHERE username = ?`, [username]);
    } catch (err) {
      const errno = ((err as CredflowError).cause as { errno?: number } | undefined)?.errno;
      if (errno === undefined || !NO_BINDINGS_ERRNOS.has(errno)) throw err;
    }
  }

  // ---- sessions -------------------------------------------------------------------------------

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

  private async run<T = unknown>(s: Session, action: string, sql: string, values?: unknown[]): Promise<T> {
    try {
      const [rows] = await s.conn.query({ sql, timeout: this.queryTimeoutMs }, values);
      return rows as T;
    } catch (err) {
      throw this.translate(err, s.where, action, s.secrets);
    }
  }

  /**
   * Connects as AWS's templates do: `ssl` true requires TLS, false never uses it, undefined
   * tries TLS and falls back to plain only when the server does not offer TLS (a certificate
   * that fails to verify is an error, not a reason to drop encryption).
   */
  private async connect(creds: Credentials, secrets: string[]): Promise<Session> {
    const where = `mysql ${creds.host}:${creds.port}`;
    const base: ConnectionOptions = {
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
    };
    const open = async (tls: boolean) => {
      const conn = await mysql.createConnection(
        tls ? { ...base, ssl: tlsOptions(creds.host, this.options) } : base,
      );
      conn.on('error', () => {
        // A connection that dies between statements reports through the next query.
      });
      return conn;
    };
    let conn: Connection;
    try {
      if (creds.ssl === false) conn = await open(false);
      else {
        try {
          conn = await open(true);
        } catch (err) {
          if (creds.ssl !== undefined || (err as DriverError).code !== 'HANDSHAKE_NO_SSL_SUPPORT') throw err;
          conn = await open(false);
        }
      }
    } catch (err) {
      throw this.translate(err, where, `log in as ${JSON.stringify(creds.username)}`, secrets);
    }
    const session: Session = { conn, where, version: '', mariadb: false, secrets };
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

  private async withSession<T>(
    creds: Credentials,
    secrets: string[],
    fn: (s: Session) => Promise<T>,
  ): Promise<T> {
    const session = await this.connect(creds, secrets);
    try {
      return await fn(session);
    } finally {
      await close(session.conn);
    }
  }

  private translate(err: unknown, where: string, action: string, secrets: readonly string[]): CredflowError {
    if (err instanceof CredflowError) return err;
    const e = (err ?? {}) as DriverError;
    const message = redact(typeof e.message === 'string' ? e.message : String(err), secrets, [
      (v) => escapeValue(v).slice(1, -1),
    ]);
    const code = e.code;
    const errno = typeof e.errno === 'number' ? e.errno : undefined;
    const cause = { code, errno, sqlState: e.sqlState };
    const detail = `${where}: ${action} failed: ${message}${code ? ` (${code}${errno ? ` ${errno}` : ''})` : ''}`;
    if (errno !== undefined && AUTH_ERRNOS.has(errno)) return new AuthenticationError(detail, { cause });
    if (code === 'HANDSHAKE_NO_SSL_SUPPORT') {
      return new DatabaseError(`${where}: TLS is required (ssl: true) but the server does not offer it`, {
        cause,
      });
    }
    const network = translateNodeError(code, `${where}: ${action}`, message);
    if (network) return network;
    if ((code && TRANSIENT_CODES.has(code)) || (errno !== undefined && TRANSIENT_ERRNOS.has(errno))) {
      return new TransientError(detail, { cause });
    }
    if (errno === 1064 && secrets.length > 1) {
      // A syntax error quotes the statement; a session with a second secret sends a password.
      return new DatabaseError(`${where}: ${action} failed: SQL syntax error (statement withheld)`, {
        cause,
      });
    }
    return new DatabaseError(detail, { cause });
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
