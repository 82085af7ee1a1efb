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
  serverVersion,
} from './binaries';
export { stopServerIn } from './runtime';
export {
  DbServerError,
  type DbServerSpec,
  PortInUseError,
  type RunningServer,
  type ServerExit,
  type ServerKind,
} from './types';

/**
 * Starts a server and waits until it accepts connections. First start (no marker in the data
 * directory): initialises it with the master user as RDS has it (PostgreSQL: bootstrap superuser
 * `rdsadmin` for the launcher, the master a CREATEROLE/CREATEDB member of `rds_superuser`, SCRAM
 * for TCP; MariaDB: run as the `mysql` OS user, `'<master>'@'%'` with RDS's master privileges
 * WITH GRANT OPTION, secure_file_priv confined to the instance's `files/`). Later starts reuse
 * the data: same users, same passwords. A server of the same data directory left running by a
 * killed launcher is adopted when it answers on the port asked for, else stopped and started
 * again. Listens on 127.0.0.1 only, on `spec.port` (PortInUseError when another process holds
 * it) or a free port; offers TLS with a self-signed certificate when `openssl` exists. Throws
 * DbServerError with the server's log tail when anything else fails.
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
