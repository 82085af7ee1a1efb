/**
 * The start skeleton both server engines share: lay out the data directory, initialise it once
 * (the marker says it was), adopt or stop a server a killed launcher left behind, start on the
 * recorded port (or a free one, picking again if another process takes it first), create the
 * master as RDS has it, and hand back a RunningServer. An engine supplies only what differs:
 * its binaries, OS user, initialisation, command line and admin connection, and the SQL of its
 * master, databases, password changes and dumps.
 */
import {
  checkSpec,
  clearUnfinishedInit,
  type Layout,
  layoutFor,
  type Marker,
  makeDataDir,
  makeRunDir,
  readMarker,
  removeQuietly,
  writeMarker,
} from './layout';
import {
  adoptProcess,
  assertTraversable,
  chownTo,
  freePort,
  isOwnChild,
  isRoot,
  logSize,
  lookupOsUser,
  portIsFree,
  type RunAs,
  readSince,
  type SpawnedServer,
  spawnServer,
  waitUntilReady,
} from './process';
import {
  clearRuntime,
  liveServerOf,
  readRuntime,
  STOP_SIGNAL,
  stopLiveServer,
  writeRuntime,
} from './runtime';
import { ensureCertificateAuthority, ensureServerCertificate, type TlsFiles } from './tls';
import {
  DbServerError,
  type DbServerSpec,
  PortInUseError,
  type RunningServer,
  type ServerKind,
} from './types';

export const HOST = '127.0.0.1';

type ServerProcess = Omit<SpawnedServer, 'child'>;

/** Where a server of one start lives and who administers it. */
export interface ServerContext<B> {
  layout: Layout;
  runAs: RunAs;
  binaries: B;
  /** The identity the launcher administers as, over the unix socket without a password. */
  admin: string;
}

/** A launcher failure that may quote `secret` (a statement with a password): redacted. */
function adminFailure(what: string, secret: string, err: unknown): DbServerError {
  const message = String((err as Error)?.message ?? err)
    .split(secret)
    .join('[redacted]');
  return new DbServerError(`${what}: ${message}`);
}

export abstract class ServerLauncher<B, C> {
  abstract readonly kind: ServerKind;
  /** The engine's name in messages (`PostgreSQL`, `MariaDB`). */
  protected abstract readonly label: string;
  /** The OS user the server runs as when the launcher is root (as on RDS, never root itself). */
  protected abstract readonly osUser: string;
  /** What to do when that OS user does not exist. */
  protected abstract readonly osUserMissing: string;
  /** RDS's longest master username for the engine. */
  protected abstract readonly maxUsername: number;
  /** The longest unix socket name the server makes in its run directory. */
  protected abstract readonly socketName: string;
  /** How a failed admin login reads when the server is up (`could not log in as root`). */
  protected abstract readonly loginFailure: string;

  protected abstract findBinaries(): B;
  /** The identity the launcher administers as, given what the first start recorded. */
  protected abstract adminOf(marker: Marker | undefined): string;
  /** Whether a data/ directory without a marker is an unfinished first start of this engine. */
  protected abstract looksLikeOurs(entries: string[]): boolean;
  /** First start: creates the engine's own data in `layout.data`. */
  protected abstract initialise(ctx: ServerContext<B>): Promise<void>;
  /** Before the server starts (or after adopting it): what else the engine's directories need. */
  protected prepare(
    _ctx: ServerContext<B>,
    _start: { initialised: boolean; adopted: boolean; tls: boolean },
  ): void {}
  protected abstract executable(binaries: B): string;
  protected abstract serverArgs(layout: Layout, port: number, tls: TlsFiles | undefined): string[];
  protected abstract socketPath(layout: Layout, port: number): string;
  /** Opens an admin connection over the unix socket; throws the driver's own error. */
  protected abstract connectAdmin(ctx: ServerContext<B>, port: number): Promise<C>;
  /** Closes an admin connection; never throws. */
  protected abstract closeAdmin(connection: C): Promise<void>;
  /** A failed admin login that means "not accepting connections yet". */
  protected abstract notReadyYet(err: { code?: string; message?: string }): boolean;
  /** First start: the master as RDS has it, then a password login over TCP to prove it. */
  protected abstract createMaster(ctx: ServerContext<B>, port: number, spec: DbServerSpec): Promise<void>;
  /** `caBundle`: the CA the server's certificate verifies against, when it offers TLS. */
  protected abstract checkMasterLogin(
    port: number,
    spec: DbServerSpec,
    caBundle: string | undefined,
  ): Promise<void>;
  /** Creates the initial database when missing (any start). */
  protected abstract ensureDatabase(
    ctx: ServerContext<B>,
    port: number,
    dbName: string,
    master: string,
  ): Promise<void>;
  protected abstract changeMasterPassword(
    ctx: ServerContext<B>,
    port: number,
    master: string,
    password: string,
  ): Promise<void>;
  protected abstract dumpTo(
    ctx: ServerContext<B>,
    port: number,
    file: string,
    database?: string,
  ): Promise<void>;
  /** What the marker records beyond kind, master and time. */
  protected markerExtras(): Partial<Marker> {
    return {};
  }

  private runAs(): RunAs {
    if (!isRoot()) return { groups: [] };
    const user = lookupOsUser(this.osUser);
    if (!user) throw new DbServerError(this.osUserMissing);
    return user;
  }

  /** Runs `fn` on a fresh admin connection, always closed afterwards. */
  protected async withAdmin<T>(ctx: ServerContext<B>, port: number, fn: (c: C) => Promise<T>): Promise<T> {
    const connection = await this.connectAdmin(ctx, port);
    try {
      return await fn(connection);
    } finally {
      await this.closeAdmin(connection);
    }
  }

  /** As `withAdmin`; a failure is a DbServerError saying `what`, with `secret` redacted. */
  protected async withAdminSafely<T>(
    ctx: ServerContext<B>,
    port: number,
    what: string,
    secret: string,
    fn: (c: C) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.withAdmin(ctx, port, fn);
    } catch (err) {
      throw adminFailure(what, secret, err);
    }
  }

  /** Ready when the admin can log in; "starting up" and a missing socket mean "not yet". */
  private async probe(ctx: ServerContext<B>, port: number): Promise<boolean> {
    try {
      await this.withAdmin(ctx, port, async () => undefined);
      return true;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (this.notReadyYet(e)) return false;
      throw new DbServerError(
        `${this.label} started but the launcher ${this.loginFailure}: ${e.message ?? String(err)}`,
      );
    }
  }

  /** Starts the server as `startDbServer` describes. */
  async start(spec: DbServerSpec): Promise<RunningServer> {
    checkSpec(spec, this.maxUsername);
    const binaries = this.findBinaries();
    const runAs = this.runAs();
    const layout = layoutFor(spec.dataDir, this.socketName);
    makeDataDir(layout);
    chownTo(runAs, layout.dataDir);
    assertTraversable(layout.dataDir, runAs, `${this.label} (OS user ${this.osUser})`);

    let marker = readMarker(layout, this.kind);
    const initialised = marker === undefined;
    const ctx: ServerContext<B> = { layout, runAs, binaries, admin: this.adminOf(marker) };
    const master = marker?.masterUsername ?? spec.masterUsername;
    let adopted: { proc: ServerProcess; port: number } | undefined;
    if (!marker) {
      clearUnfinishedInit(layout, (entries) => this.looksLikeOurs(entries));
      await this.initialise(ctx);
    } else {
      adopted = await this.takeOverLeftover(ctx, spec);
    }
    const ca = spec.ca ?? (await ensureCertificateAuthority(layout.caDir));
    const tls = ca ? await ensureServerCertificate(layout.tlsDir, runAs, ca) : undefined;
    const caBundle = tls ? ca?.bundle : undefined;
    this.prepare(ctx, { initialised, adopted: adopted !== undefined, tls: tls !== undefined });

    let proc: ServerProcess | undefined = adopted?.proc;
    let port = adopted?.port ?? 0;
    try {
      if (!adopted) {
        makeRunDir(layout);
        chownTo(runAs, layout.runDir);
        const started = await this.launch(ctx, spec, tls);
        proc = started.proc;
        port = started.port;
      }
      if (initialised) {
        await this.createMaster(ctx, port, spec);
        await this.checkMasterLogin(port, spec, caBundle);
      }
      if (spec.dbName) await this.ensureDatabase(ctx, port, spec.dbName, master);
      if (!marker) {
        marker = {
          kind: this.kind,
          masterUsername: spec.masterUsername,
          initialisedAt: new Date().toISOString(),
          ...this.markerExtras(),
        };
        writeMarker(layout, marker);
      }
    } catch (err) {
      await proc?.stop(5000);
      if (layout.runDirIsTemp) removeQuietly(layout.runDir);
      throw err;
    }

    const running = proc as ServerProcess;
    writeRuntime(layout, {
      pid: running.pid,
      port,
      runDir: layout.runDir,
      runDirIsTemp: layout.runDirIsTemp,
    });
    return {
      kind: this.kind,
      host: HOST,
      port,
      pid: running.pid,
      dataDir: layout.dataDir,
      initialised,
      adopted: adopted !== undefined,
      tls: tls !== undefined,
      caBundle,
      socketPath: this.socketPath(layout, port),
      logFile: layout.logFile,
      exited: running.exited,
      setMasterPassword: async (newPassword: string) => {
        if (newPassword.length === 0 || newPassword.includes('\0')) {
          throw new DbServerError('master password must be non-empty and contain no NUL');
        }
        await this.changeMasterPassword(ctx, port, master, newPassword);
      },
      dump: (file: string, database?: string) => this.dumpTo(ctx, port, file, database),
      async stop() {
        await running.stop();
        clearRuntime(layout);
        if (layout.runDirIsTemp) removeQuietly(layout.runDir);
      },
    };
  }

  /**
   * A server of this data directory still running without a launcher (the last one was killed):
   * adopted when it answers the admin socket on the port asked for, else stopped cleanly.
   */
  private async takeOverLeftover(
    ctx: ServerContext<B>,
    spec: DbServerSpec,
  ): Promise<{ proc: ServerProcess; port: number } | undefined> {
    const { layout } = ctx;
    const pid = liveServerOf(this.kind, layout);
    if (pid === undefined) return undefined;
    if (isOwnChild(pid)) {
      throw new DbServerError(`a ${this.label} server (pid ${pid}) is already running on ${layout.data}`);
    }
    const runtime = readRuntime(layout);
    if (runtime && runtime.pid === pid && (!spec.port || runtime.port === spec.port)) {
      const saved = { runDir: layout.runDir, runDirIsTemp: layout.runDirIsTemp };
      layout.runDir = runtime.runDir;
      layout.runDirIsTemp = runtime.runDirIsTemp;
      if (await this.probe(ctx, runtime.port).catch(() => false)) {
        return { proc: adoptProcess(pid, STOP_SIGNAL[this.kind]), port: runtime.port };
      }
      Object.assign(layout, saved);
    }
    await stopLiveServer(this.kind, layout, pid);
    return undefined;
  }

  /** Spawns the server and waits until the admin can log in. */
  private async launch(
    ctx: ServerContext<B>,
    spec: DbServerSpec,
    tls: TlsFiles | undefined,
  ): Promise<{ proc: SpawnedServer; port: number }> {
    const { layout } = ctx;
    const timeoutMs = spec.startTimeoutMs ?? 60_000;
    // A port we picked may be taken before the server binds it: pick again, a few times.
    for (let attempt = 1; ; attempt++) {
      const port = spec.port ? spec.port : await freePort();
      if (spec.port && !(await portIsFree(port))) throw new PortInUseError(port);
      const logStart = logSize(layout.logFile);
      const proc = await spawnServer(this.executable(ctx.binaries), this.serverArgs(layout, port, tls), {
        cwd: layout.dataDir,
        runAs: ctx.runAs,
        logFile: layout.logFile,
        stopSignal: STOP_SIGNAL[this.kind],
      });
      try {
        await waitUntilReady(() => this.probe(ctx, port), {
          exited: proc.exited,
          timeoutMs,
          what: `${this.label} on port ${port}`,
          logFile: layout.logFile,
        });
        return { proc, port };
      } catch (err) {
        await proc.stop(5000);
        const addressInUse = /already in use/i.test(readSince(layout.logFile, logStart));
        if (addressInUse && spec.port) throw new PortInUseError(port);
        if (spec.port || attempt >= 3 || !addressInUse) throw err;
      }
    }
  }
}
