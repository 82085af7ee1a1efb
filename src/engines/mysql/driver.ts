/**
 * mysql2, loaded at its first use rather than when the engine module is imported: a function
 * that never speaks MySQL (createSecret, finishSecret, the fleet's and the database tasks) starts
 * without it, on Lambda (a shorter cold start) as on the local cloud's function threads. The
 * escaping stays mysql2's own.
 */
import type * as Mysql2 from 'mysql2';
import type * as Mysql2Promise from 'mysql2/promise';

let loaded: typeof Mysql2 | undefined;
let loadedPromise: typeof Mysql2Promise | undefined;

function mysql2(): typeof Mysql2 {
  loaded ??= require('mysql2') as typeof Mysql2;
  return loaded;
}

/** mysql2's escapeId: a backquoted identifier (`forbidQualified` keeps dots inside the name). */
export const escapeId = (name: string, forbidQualified?: boolean): string =>
  mysql2().escapeId(name, forbidQualified);

/** mysql2's escape: a quoted literal. */
export const escapeValue = (value: Parameters<typeof Mysql2.escape>[0]): string => mysql2().escape(value);

/** mysql2/promise's createConnection. */
export function createConnection(
  options: Mysql2Promise.ConnectionOptions,
): Promise<Mysql2Promise.Connection> {
  loadedPromise ??= require('mysql2/promise') as typeof Mysql2Promise;
  return loadedPromise.createConnection(options);
}
