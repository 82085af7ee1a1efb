import { LocalCloudError } from '../errors';
import type { CertificateAuthority } from './tls';

/** A real database server process run on this machine for the local RDS and the tests. */
export type ServerKind = 'postgres' | 'mariadb';

export interface DbServerSpec {
  kind: ServerKind;
  /**
   * Own data directory; initialised on first start, reused on restart. For PostgreSQL it is
   * chowned to the `postgres` OS user when running as root, so every directory above it must be
   * traversable by that user (startDbServer says which one is not).
   */
  dataDir: string;
  /**
   * 0 or undefined: pick a free port (retried if another process takes it first). A fixed port
   * is never changed: if something else holds it, the start fails with PortInUseError.
   */
  port?: number | undefined;
  /**
   * RDS's rules: a letter, then letters, digits or underscores (at most 63). Used on first start
   * only; a restart keeps the user (and password) stored in the data directory.
   */
  masterUsername: string;
  /** Used on first start only (restart = same data, same password). */
  masterPassword: string;
  /** Initial database to create (optional); created on any start when missing. */
  dbName?: string | undefined;
  /** How long to wait for the server to accept connections. Default 60 s. */
  startTimeoutMs?: number | undefined;
  /**
   * The certificate authority that issues the server's certificate (the local RDS's own). Without
   * one the server's directory gets a CA of its own (`ca/`), named by `RunningServer.caBundle`.
   */
  ca?: CertificateAuthority | undefined;
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningServer {
  kind: ServerKind;
  host: string;
  port: number;
  pid: number;
  dataDir: string;
  /** True when this start created the data directory (first start). */
  initialised: boolean;
  /**
   * True when no new process was started: a server of this data directory left running by a
   * launcher that died (kill -9) answered on the requested port and was taken over.
   */
  adopted: boolean;
  /** True when the server offers TLS (a certificate its CA issued, made with `openssl`). */
  tls: boolean;
  /** The CA bundle its certificate verifies against; undefined without TLS. */
  caBundle: string | undefined;
  /** The unix socket the launcher itself uses for administration (root/peer authentication). */
  socketPath: string;
  /** The server's own log (stdout and stderr). */
  logFile: string;
  /** Settles when the process exits, whether through stop() or not. Never rejects. */
  readonly exited: Promise<ServerExit>;
  /**
   * Sets the master user's password over the local socket without knowing the old one, as
   * RDS's ModifyDBInstance MasterUserPassword does.
   */
  setMasterPassword(newPassword: string): Promise<void>;
  /**
   * A logical dump of one database (all databases when omitted) into `file`, made through the
   * admin socket identity (never the master), as RDS's own snapshot tooling is not the master.
   */
  dump(file: string, database?: string): Promise<void>;
  /** Stops the server cleanly and waits for the process to exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** The launcher could not find, initialise, start or stop a server. */
export class DbServerError extends LocalCloudError {
  override name = 'DbServerError' as const;
}

/** A fixed port is held by another process: the server was not started (and nothing moved). */
export class PortInUseError extends LocalCloudError {
  override name = 'PortInUseError' as const;
  constructor(readonly port: number) {
    super(
      `port ${port} on 127.0.0.1 is in use by another process; the server keeps its port and was not started`,
    );
  }
}
