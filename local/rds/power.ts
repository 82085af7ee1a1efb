/**
 * Bringing database servers up and down as RDS does: on create, on the cloud's own start, and
 * through RebootDBInstance, StopDBInstance and StartDBInstance (and their cluster forms). An
 * endpoint never moves: a server always starts on its record's port; when another process holds
 * it, the database goes to `incompatible-network` and a later start retries.
 */
import { PortInUseError } from '../dbserver/types';
import type { EventLog } from '../events/log';
import type { LocalLogger } from '../log';
import type { DbKind, DbRecord } from './records';
import type { RdsServers } from './servers';
import type { RdsStore } from './store';

export interface PowerDeps {
  records: RdsStore;
  servers: RdsServers;
  events: EventLog;
  logger: LocalLogger;
  /** The master password, for a server's first start. */
  masterPassword(owner: DbRecord): string;
  /** Registers background work so awaitIdle() and stop() wait for it. */
  track<T>(p: Promise<T>): Promise<T>;
  /** True once the cloud is shutting down: no new server starts. */
  stopping(): boolean;
}

/** RDS's event ids for what this module does (instance / cluster). */
const EVENTS = {
  creation: { instance: 'RDS-EVENT-0005', cluster: 'RDS-EVENT-0170', message: 'created' },
  deletion: { instance: 'RDS-EVENT-0003', cluster: 'RDS-EVENT-0171', message: 'deleted' },
  restarted: { instance: 'RDS-EVENT-0006', cluster: 'RDS-EVENT-0151', message: 'restarted' },
  stopped: { instance: 'RDS-EVENT-0087', cluster: 'RDS-EVENT-0150', message: 'stopped' },
  started: { instance: 'RDS-EVENT-0088', cluster: 'RDS-EVENT-0151', message: 'started' },
} as const;
export type RdsEventKind = keyof typeof EVENTS;

const CATEGORY: Record<RdsEventKind, string> = {
  creation: 'creation',
  deletion: 'deletion',
  restarted: 'availability',
  stopped: 'notification',
  started: 'notification',
};

/** Statuses in which nothing should be running and nothing starts by itself. */
const AT_REST = new Set(['stopped', 'stopping']);

/** A server that dies more often than this within a minute is left `failed` (a crash loop). */
const MAX_DEATHS_PER_MINUTE = 5;
/** Restart attempts after one death (a PostgreSQL restart waits for its old backends to exit). */
const RESTART_ATTEMPTS = 5;

export class Power {
  /** When each owner's server died lately (epoch ms), for the crash-loop limit. */
  private readonly deaths = new Map<string, number[]>();

  constructor(private readonly d: PowerDeps) {}

  /**
   * The watchdog's answer to a server that exited without being stopped (killed, crashed): as
   * RDS restarts a failed database engine, the database and its instances show `rebooting`
   * (with the reason in StatusInfos) while the server starts again on the same port and data
   * directory, then `available` (event RDS-EVENT-0006, "DB instance restarted"). A server that
   * keeps dying is left `failed` until the next `credflow up`.
   */
  serverDied(owner: DbRecord, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (this.d.stopping()) return;
    const fresh = this.d.records.get(owner.kind, owner.id);
    if (!fresh || AT_REST.has(fresh.status) || fresh.status === 'deleting') return;
    const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code ?? 'unknown'}`;
    const key = `${owner.kind}/${owner.id}`;
    const now = Date.now();
    const recent = (this.deaths.get(key) ?? []).filter((t) => now - t < 60_000);
    recent.push(now);
    this.deaths.set(key, recent);
    const group = this.groupOf(fresh);
    if (recent.length > MAX_DEATHS_PER_MINUTE) {
      const message = `the database server process died ${recent.length} times within a minute (last: ${how}); not restarted again`;
      this.d.logger.error('rds: database server keeps dying; left failed', { id: owner.id, how });
      this.mark(group, 'failed', message);
      return;
    }
    const message = `the database server process exited unexpectedly (${how}); restarting it on port ${fresh.port}`;
    this.d.logger.error('rds: database server died; restarting it', { id: owner.id, how, port: fresh.port });
    this.mark(group, 'rebooting', message);
    this.d.track(this.restartAfterDeath(fresh, message));
  }

  private async restartAfterDeath(owner: DbRecord, message: string): Promise<void> {
    for (let attempt = 1; attempt <= RESTART_ATTEMPTS; attempt++) {
      await this.start(owner, 'restarted');
      const now = this.d.records.get(owner.kind, owner.id);
      if (now?.status !== 'failed' || this.d.stopping()) return;
      if (attempt < RESTART_ATTEMPTS) {
        this.mark(this.groupOf(now), 'rebooting', message);
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  }

  /** The record that owns the server: the cluster for an instance in one, else itself. */
  ownerOf(r: DbRecord): DbRecord {
    return r.clusterId ? this.d.records.find('cluster', r.clusterId) : r;
  }

  /** The records whose status follows one server: a cluster and its instances, or an instance. */
  groupOf(owner: DbRecord): DbRecord[] {
    if (owner.kind !== 'cluster') return [owner];
    return [owner, ...this.d.records.list('instance').filter((i) => i.clusterId === owner.id)];
  }

  private mark(records: readonly DbRecord[], status: string, statusMessage?: string): void {
    for (const r of records) {
      if (!this.d.records.get(r.kind, r.id)) continue;
      this.d.records.update(r.kind, r.id, { status, statusMessage });
    }
  }

  /** RDS's event for a database (EventBridge source aws.rds). */
  publish(r: DbRecord, kind: RdsEventKind): void {
    const cluster = r.kind === 'cluster';
    const e = EVENTS[kind];
    this.d.events.publish({
      source: 'aws.rds',
      'detail-type': cluster ? 'RDS DB Cluster Event' : 'RDS DB Instance Event',
      resources: [r.arn],
      detail: {
        EventCategories: [CATEGORY[kind]],
        SourceType: cluster ? 'CLUSTER' : 'DB_INSTANCE',
        SourceArn: r.arn,
        Date: new Date().toISOString(),
        Message: `DB ${cluster ? 'cluster' : 'instance'} ${e.message}`,
        SourceIdentifier: r.id,
        EventID: cluster ? e.cluster : e.instance,
      },
    });
  }

  /**
   * Starts the owner's server on its recorded port. The port is chosen only when the database
   * never had an endpoint (status creating): then a race for it may pick another; afterwards never.
   */
  private async startOwner(owner: DbRecord): Promise<void> {
    let current = owner;
    for (let attempt = 1; ; attempt++) {
      const movable = current.port === 0 || current.status === 'creating';
      if (current.port === 0) {
        const port = await this.d.servers.allocatePort(this.d.records.portsInUse());
        current = this.d.records.update(current.kind, current.id, { port });
      }
      try {
        await this.d.servers.start(current, current.port, () => this.d.masterPassword(current));
        return;
      } catch (err) {
        if (!(err instanceof PortInUseError) || !movable || attempt >= 3) throw err;
        current = this.d.records.update(current.kind, current.id, { port: 0 });
      }
    }
  }

  /**
   * Brings `r`'s server up (or finds it up) and marks `r` available; `incompatible-network` when
   * its port is held by another process, `failed` for anything else. Never throws.
   */
  async bringUp(r: DbRecord, event?: RdsEventKind): Promise<void> {
    try {
      const up = await this.d.servers.exclusive(this.ownerOf(r), async () => {
        const owner = this.ownerOf(r);
        if (this.d.stopping() || !this.d.records.get(r.kind, r.id)) return false;
        if (!this.d.servers.get(owner)) await this.startOwner(owner);
        return true;
      });
      if (!up || !this.d.records.get(r.kind, r.id)) return;
      const fresh = this.d.records.find(r.kind, r.id);
      const port = this.ownerOf(fresh).port;
      this.d.records.update(r.kind, r.id, {
        status: 'available',
        statusMessage: undefined,
        port,
        ...(fresh.secretStatus === 'creating' ? { secretStatus: 'active' as const } : {}),
      });
      if (event) this.publish(fresh, event);
      this.d.logger.info('rds: available', { kind: r.kind, id: r.id, port });
    } catch (err) {
      if (!this.d.records.get(r.kind, r.id)) return;
      const message = (err as Error).message;
      if (err instanceof PortInUseError) {
        this.d.logger.error('rds: endpoint port taken; the database keeps its port and is not started', {
          kind: r.kind,
          id: r.id,
          port: err.port,
          error: message,
        });
        this.mark([r], 'incompatible-network', message);
      } else {
        this.d.logger.error('rds: start failed', { kind: r.kind, id: r.id, error: message });
        this.mark([r], 'failed', message);
      }
    }
  }

  /** Stops the server of `owner` and marks it and its instances `stopped`. */
  async stop(owner: DbRecord, announce = true): Promise<void> {
    const group = this.groupOf(owner);
    try {
      await this.d.servers.exclusive(owner, () => this.d.servers.stop(owner));
      this.mark(group, 'stopped');
      if (announce) this.publish(owner, 'stopped');
      this.d.logger.info('rds: stopped', { kind: owner.kind, id: owner.id });
    } catch (err) {
      this.d.logger.error('rds: stop failed', { id: owner.id, error: (err as Error).message });
      this.mark(group, 'failed', (err as Error).message);
    }
  }

  /** Starts the server of `owner` again on its port; its instances follow. */
  async start(owner: DbRecord, event: RdsEventKind, announced: DbRecord = owner): Promise<void> {
    for (const r of this.groupOf(owner)) {
      const same = r.kind === announced.kind && r.id === announced.id;
      await this.bringUp(r, same ? event : undefined);
    }
  }

  /** Stops and starts the server of `r` (RebootDBInstance / RebootDBCluster). */
  async reboot(r: DbRecord): Promise<void> {
    const owner = this.ownerOf(r);
    try {
      await this.d.servers.exclusive(owner, () => this.d.servers.stop(owner));
    } catch (err) {
      this.d.logger.error('rds: reboot could not stop the server', {
        id: r.id,
        error: (err as Error).message,
      });
    }
    await this.start(owner, 'restarted', r);
  }

  /**
   * On the cloud's start: every database that should run comes back on its own port (adopting a
   * server a killed cloud left running), failed and incompatible-network ones included; stopped
   * ones stay stopped, with any leftover server of theirs stopped.
   */
  restartAll(finishDelete: (r: DbRecord) => Promise<void>): void {
    for (const kind of ['cluster', 'instance'] as DbKind[]) {
      for (const r of this.d.records.list(kind)) {
        if (r.status === 'deleting') {
          this.d.track(finishDelete(r));
        } else if (AT_REST.has(r.status)) {
          if (!r.clusterId) this.d.track(this.stop(r, false));
        } else {
          const status = r.status === 'creating' ? 'creating' : 'starting';
          this.d.records.update(kind, r.id, {
            status,
            ...(r.secretStatus === 'rotating' ? { secretStatus: 'active' as const } : {}),
          });
          this.d.track(this.bringUp(this.d.records.find(kind, r.id)));
        }
      }
    }
  }
}
