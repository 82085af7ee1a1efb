/**
 * Raw SQL as any user, straight through the drivers: for tests that look behind the engine's
 * back (can this user INSERT? is the binding there?), so the engine under test never checks
 * itself.
 */
import mysql from 'mysql2/promise';
import { Client as PgClient } from 'pg';
import { tlsOptions } from '../../src/engines/common';
import type { Credentials } from '../../src/engines/types';

export type Family = 'postgres' | 'mysql';

/**
 * A PostgreSQL client (not yet connected) logging in as `creds`, to `creds.dbname` or `postgres`,
 * over TLS verified as the engines verify it: the servers take PostgreSQL logins over TLS only.
 */
export function pgClient(creds: Credentials, options?: string): PgClient {
  return new PgClient({
    host: creds.host,
    port: creds.port,
    user: creds.username,
    password: creds.password,
    database: creds.dbname ?? 'postgres',
    ssl: tlsOptions({}),
    ...(options ? { options } : {}),
  });
}

/** A MariaDB/MySQL connection as `creds`, to `creds.dbname` if it names one. */
export function mysqlConnection(creds: Credentials): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: creds.host,
    port: creds.port,
    user: creds.username,
    password: creds.password,
    ...(creds.dbname ? { database: creds.dbname } : {}),
  });
}

/** Runs `sql` (with `?` / `$1` parameters) as `creds`; resolves to the rows. */
export async function sqlAs(
  family: Family,
  creds: Credentials,
  sql: string,
  values: unknown[] = [],
): Promise<unknown[]> {
  if (family === 'postgres') {
    const c = pgClient(creds);
    await c.connect();
    try {
      return (await c.query(sql, values)).rows;
    } finally {
      await c.end();
    }
  }
  const c = await mysqlConnection(creds);
  try {
    const [rows] = await c.query(sql, values);
    return rows as unknown[];
  } finally {
    await c.end();
  }
}
