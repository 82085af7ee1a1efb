/**
 * Reading MySQL's answers: SHOW GRANTS lines parsed into user-independent entries (so a user and
 * its clone compare equal), the TLS requirement from mysql.user, server versions, and the error
 * numbers that mean "refused" or "try again".
 */
import type { RowDataPacket } from 'mysql2/promise';
import { DatabaseError } from '../../errors';
import { escapeValue } from './driver';

/** Server errors that mean "these credentials do not log in". */
export const AUTH_ERRNOS = new Set([
  1045, // ER_ACCESS_DENIED_ERROR
  // ER_DBACCESS_DENIED_ERROR: the password is right but the user may not use the database, as a
  // clone whose CREATE USER ran and whose GRANTs a crash cut off is: not a usable login, so
  // setSecret's rerun completes the clone and a repair rolls back, instead of failing for good.
  1044,
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1862, // ER_MUST_CHANGE_PASSWORD_LOGIN (expired)
  3118, // MySQL ER_ACCOUNT_HAS_BEEN_LOCKED
  4151, // MariaDB ER_ACCOUNT_HAS_BEEN_LOCKED
]);

/** Server and client errors that may pass on their own. */
export const TRANSIENT_ERRNOS = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1203, // ER_TOO_MANY_USER_CONNECTIONS: the user at max_user_connections (as PostgreSQL's 53300)
  1226, // ER_USER_LIMIT_REACHED: the account at its own MAX_USER_CONNECTIONS
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
export const TRANSIENT_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
]);

/** How SHOW GRANTS prints an account: backtick-quoted, backticks doubled. */
export function grantee(name: string): string {
  return `\`${name.replace(/`/g, '``')}\`@\`%\``;
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

export interface TlsRequirement {
  /** The REQUIRE clause body: NONE, SSL, X509 or ISSUER/SUBJECT/CIPHER with escaped literals. */
  clause: string;
}

export function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

export function requirementOf(row: RowDataPacket | undefined): TlsRequirement {
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
export function versionAtLeast(version: string, major: number, minor: number, patch: number): boolean {
  const [a = 0, b = 0, c = 0] = (/^(\d+)\.(\d+)\.(\d+)/.exec(version)?.slice(1) ?? []).map(Number);
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}
