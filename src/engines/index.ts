/**
 * Engine lookup: the secret's `engine` value (AWS's names, Aurora's included) to the one
 * implementation that speaks to that family of servers.
 */
import { ValidationError } from '../errors';
import { mysqlEngine } from './mysql';
import { postgresEngine } from './postgres';
import type { DatabaseEngine } from './types';

export { type EngineOptions, isLoopback } from './common';
export { MysqlEngine, mysqlEngine } from './mysql';
export { PostgresEngine, postgresEngine } from './postgres';
export type { Credentials, DatabaseEngine, EngineFamily, NewUser, Privilege, SessionInfo } from './types';

const FAMILIES: Record<string, DatabaseEngine> = {
  mysql: mysqlEngine,
  mariadb: mysqlEngine,
  'aurora-mysql': mysqlEngine,
  postgres: postgresEngine,
  'aurora-postgresql': postgresEngine,
  // As src/secret.ts reads it. (RDS once used "aurora" for Aurora MySQL 5.6, now retired.)
  aurora: postgresEngine,
};

/**
 * The engine for a secret's `engine` value: mysql, mariadb, aurora-mysql -> MySQL family;
 * postgres, aurora-postgresql, aurora -> PostgreSQL. Anything else: ValidationError.
 */
export function engineFor(engine: string): DatabaseEngine {
  const found = Object.hasOwn(FAMILIES, engine) ? FAMILIES[engine] : undefined;
  if (!found) {
    throw new ValidationError(
      `unknown database engine ${JSON.stringify(engine)}; expected one of ${Object.keys(FAMILIES).join(', ')}`,
    );
  }
  return found;
}
