/**
 * Where the master records which secret each user belongs to. MariaDB has no user attributes
 * (MySQL 8's ATTRIBUTE is not portable), so a table in a database of credflow's own, which only
 * accounts with global privileges (the master) can write; application users never get grants
 * there (it is a system database for checkApplicationDatabase). Statements valid on MySQL 8.0
 * and MariaDB 10.x alike.
 */
import type { CredflowError } from '../../errors';
import { escapeId } from './driver';

/** Runs one statement in a session of the engine, translating failures (see engine.ts `run`). */
export type Query = <T = unknown>(action: string, sql: string, values?: unknown[]) => Promise<T>;

const BINDINGS_DB = '_credflow';
/** The table, quoted by the driver (at first use: the driver loads then). */
const bindingsTable = () => `${escapeId(BINDINGS_DB)}.${escapeId('bindings')}`;
const createBindings = () => `CREATE TABLE IF NOT EXISTS ${bindingsTable()} (
  username VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
  secret_arn VARCHAR(2048) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  bound_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`;
/** ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE: nothing was ever bound on this server. */
const NO_BINDINGS_ERRNOS = new Set([1049, 1146]);

function errnoOf(err: unknown): number | undefined {
  return ((err as CredflowError).cause as { errno?: number } | undefined)?.errno;
}

/** The secret ARN `username` is bound to, or undefined. */
export async function bindingOf(query: Query, username: string): Promise<string | undefined> {
  try {
    const rows = await query<{ secret_arn: unknown }[]>(
      'read binding',
      `SELECT secret_arn FROM ${bindingsTable()} WHERE username = ?`,
      [username],
    );
    return rows[0] ? String(rows[0].secret_arn) : undefined;
  } catch (err) {
    const errno = errnoOf(err);
    if (errno !== undefined && NO_BINDINGS_ERRNOS.has(errno)) return undefined;
    throw err;
  }
}

/** Binds `username` to `binding` (creating the table on first use). */
export async function bind(query: Query, username: string, binding: string): Promise<void> {
  await query('create bindings', `CREATE DATABASE IF NOT EXISTS ${escapeId(BINDINGS_DB)}`);
  await query('create bindings', createBindings());
  await query(
    'bind user',
    `INSERT INTO ${bindingsTable()} (username, secret_arn) VALUES (?, ?) ON DUPLICATE KEY UPDATE secret_arn = ?`,
    [username, binding, binding],
  );
}

/** Removes `username`'s binding; nothing to do when none was ever recorded. */
export async function unbind(query: Query, username: string): Promise<void> {
  try {
    await query('unbind user', `DELETE FROM ${bindingsTable()} WHERE username = ?`, [username]);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === undefined || !NO_BINDINGS_ERRNOS.has(errno)) throw err;
  }
}
