/**
 * Real PostgreSQL and MariaDB server processes on 127.0.0.1, for the local RDS and the tests.
 * One call starts (and on first start initialises) a server in its own data directory.
 */
import { startMariadb } from './mariadb';
import { startPostgres } from './postgres';
import type { DbServerSpec, RunningServer } from './types';

export {
  findMariadbBinaries,
  findOpenssl,
  findPostgresBinaries,
  findServerBinaries,
  type MariadbBinaries,
  type PostgresBinaries,
  type ServerBinaries,
} from './binaries';
export {
  DbServerError,
  type DbServerSpec,
  type RunningServer,
  type ServerExit,
  type ServerKind,
} from './types';

/**
 * Starts a server and waits until it accepts connections. First start (no marker in the data
 * directory): initialises it with the master user (PostgreSQL: superuser from initdb, SCRAM for
 * TCP; MariaDB: `'<master>'@'%'` with ALL PRIVILEGES WITH GRANT OPTION, anonymous users
 * dropped). Later starts reuse the data: same users, same passwords. Listens on 127.0.0.1 only,
 * on `spec.port` or a free port; offers TLS with a self-signed certificate when `openssl` exists.
 * Throws DbServerError with the server's log tail when anything fails.
 */
export async function startDbServer(spec: DbServerSpec): Promise<RunningServer> {
  switch (spec.kind) {
    case 'postgres':
      return startPostgres(spec);
    case 'mariadb':
      return startMariadb(spec);
    default:
      throw new Error(`unknown server kind ${String((spec as { kind: unknown }).kind)}`);
  }
}
