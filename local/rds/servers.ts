/**
 * The database server processes behind the local RDS: one per instance (or per Aurora cluster,
 * shared by its instances), each in `<stateDir>/rds/<kind>-<id>`, always on its recorded port.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startDbServer } from '../dbserver/index';
import { freePort } from '../dbserver/process';
import { stopServerIn } from '../dbserver/runtime';
import { type CertificateAuthority, certificateValidTill } from '../dbserver/tls';
import type { RunningServer, ServerExit } from '../dbserver/types';
import { type DbRecord, ENGINES } from './records';

/**
 * The local RDS's certificate authority: what DescribeDBInstances calls the CA certificate
 * identifier, and where its bundle lives (`<stateDir>/rds-ca/rds-ca-bundle.pem`).
 */
export const RDS_CA_IDENTIFIER = 'rds-ca-credflow-local-ecc256';

export function rdsCaDir(stateDir: string): string {
  return path.join(stateDir, 'rds-ca');
}

/** The directory holding every instance's server directory. */
export function rdsDataRoot(stateDir: string): string {
  return path.join(stateDir, 'rds');
}

/**
 * Stops every database server still running on a data directory of this state dir (orphans a
 * killed cloud left behind). Each is checked by its pid file and /proc command line before it is
 * signalled. Returns the pids stopped.
 */
export async function stopOrphanServers(stateDir: string): Promise<number[]> {
  const root = rdsDataRoot(path.resolve(stateDir));
  if (!existsSync(root)) return [];
  const dirs = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(root, d.name));
  const stopped = await Promise.all(dirs.map((d) => stopServerIn(d)));
  return stopped.filter((p): p is number => p !== undefined);
}

export class RdsServers {
  private readonly running = new Map<string, RunningServer>();
  /** One operation (start, stop, reboot) at a time per server. */
  private readonly locks = new Map<string, Promise<unknown>>();
  readonly dataRoot: string;

  constructor(
    private readonly stateDir: string,
    /** Issues every server's certificate; undefined without openssl (no TLS then). */
    readonly ca: CertificateAuthority | undefined,
  ) {
    this.dataRoot = rdsDataRoot(stateDir);
  }

  /** When the certificate of `r`'s server expires, read from its files (the server may be stopped). */
  certificateValidTill(r: DbRecord): Date | undefined {
    return this.ca ? certificateValidTill(path.join(this.dataDirOf(r), 'tls', 'server.crt')) : undefined;
  }

  /** Clusters and their instances share the cluster's server. */
  keyOf(r: DbRecord): string {
    return r.clusterId ? `cluster/${r.clusterId}` : `${r.kind}/${r.id}`;
  }

  dataDirOf(r: DbRecord): string {
    return path.join(this.dataRoot, r.clusterId ? `cluster-${r.clusterId}` : `${r.kind}-${r.id}`);
  }

  get(r: DbRecord): RunningServer | undefined {
    return this.running.get(this.keyOf(r));
  }

  /** Runs `fn` once every earlier operation on the same server has settled. */
  exclusive<T>(r: DbRecord, fn: () => Promise<T>): Promise<T> {
    const key = this.keyOf(r);
    const before = this.locks.get(key) ?? Promise.resolve();
    const next = before.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return next;
  }

  /** A port no other database has and nothing listens on now, for an endpoint's first start. */
  async allocatePort(taken: ReadonlySet<number>): Promise<number> {
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      if (!taken.has(port)) return port;
    }
    throw new Error('could not find a free port not already recorded for another database');
  }

  /**
   * Starts (or adopts) the server of `owner` on `port`. PortInUseError when another process
   * holds it. The password is used on first start only.
   */
  async start(owner: DbRecord, port: number, masterPassword: () => string): Promise<RunningServer> {
    const running = this.get(owner);
    if (running) return running;
    this.prepareDirs();
    const e = ENGINES[owner.engine];
    if (!e) throw new Error(`unknown engine ${owner.engine}`);
    const server = await startDbServer({
      kind: e.server,
      dataDir: this.dataDirOf(owner),
      port,
      masterUsername: owner.masterUsername,
      masterPassword: masterPassword(),
      ...(owner.dbName ? { dbName: owner.dbName } : {}),
      ca: this.ca,
    });
    const key = this.keyOf(owner);
    this.running.set(key, server);
    // The watchdog: a server that exits while still ours (not through stop(), which forgets it
    // first) died (killed, crashed); whoever listens restarts it.
    void server.exited.then((exit) => {
      if (this.running.get(key) !== server) return;
      this.running.delete(key);
      this.onUnexpectedExit?.(owner, exit);
    });
    return server;
  }

  /** Told when a server exits without being stopped (the RDS service restarts it). */
  onUnexpectedExit: ((owner: DbRecord, exit: ServerExit) => void) | undefined;

  /** Stops the server of `owner`, whether this process started it or a killed one left it. */
  async stop(owner: DbRecord): Promise<void> {
    const key = this.keyOf(owner);
    const server = this.running.get(key);
    this.running.delete(key);
    if (server) await server.stop();
    await stopServerIn(this.dataDirOf(owner));
  }

  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((s) => s.stop()));
  }

  private prepareDirs(): void {
    mkdirSync(this.dataRoot, { recursive: true });
    // The servers run as their own OS users and must traverse the state dir to reach their data.
    for (const d of [this.stateDir, this.dataRoot]) {
      const mode = statSync(d).mode & 0o777;
      if ((mode & 0o001) === 0) chmodSync(d, mode | 0o711);
    }
  }
}
