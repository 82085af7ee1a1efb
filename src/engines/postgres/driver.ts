/**
 * pg, loaded at its first use rather than when the engine module is imported: a function that
 * never speaks PostgreSQL (createSecret, finishSecret, the fleet's and the database tasks) starts
 * without it, on Lambda (a shorter cold start) as on the local cloud's function threads. The
 * escaping stays pg's own.
 */
import type * as Pg from 'pg';

let loaded: typeof Pg | undefined;

function pg(): typeof Pg {
  loaded ??= require('pg') as typeof Pg;
  return loaded;
}

/** pg's escapeIdentifier: a double-quoted identifier. */
export const escapeIdentifier = (name: string): string => pg().escapeIdentifier(name);

/** pg's escapeLiteral: a single-quoted (E'' when needed) literal. */
export const escapeLiteral = (value: string): string => pg().escapeLiteral(value);

/** A new pg Client. */
export const newClient = (config: Pg.ClientConfig): Pg.Client => new (pg().Client)(config);
