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

/**
 * The startup option every session credflow opens carries: names resolve in pg_catalog and, for
 * relations only, the session's own pg_temp (listed last so it never comes first; PostgreSQL
 * never looks there for functions or operators). The default path ("$user", public) holds
 * schemas a database user may create in: there, a function or operator that matches a call's
 * argument types better than pg_catalog's (`public.quote_ident(name)`, `<>(oid, integer)`) would
 * run as whoever sent the call, the master included. A startup option rather than a SET after
 * connecting: it holds from the first statement, and no error or retry path can skip it.
 */
export const SESSION_OPTIONS = '-c search_path=pg_catalog,pg_temp';

/** A new pg Client whose session resolves names only in pg_catalog (SESSION_OPTIONS). */
export const newClient = (config: Pg.ClientConfig): Pg.Client =>
  new (pg().Client)({ ...config, options: SESSION_OPTIONS });
