/** A real database server process run on this machine for the local RDS and the tests. */
export type ServerKind = 'postgres' | 'mariadb';

export interface DbServerSpec {
  kind: ServerKind;
  /** Own data directory; initialised on first start, reused on restart. */
  dataDir: string;
  /** 0 or undefined: pick a free port. */
  port?: number | undefined;
  masterUsername: string;
  masterPassword: string;
  /** Initial database to create (optional). */
  dbName?: string | undefined;
}

export interface RunningServer {
  kind: ServerKind;
  host: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Stops the server cleanly and waits for the process to exit. */
  stop(): Promise<void>;
}
