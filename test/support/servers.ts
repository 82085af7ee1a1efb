/**
 * One real PostgreSQL and one real MariaDB for a test suite, started by local/dbserver in a
 * temporary directory and removed again by stop(). Each has the database `appdb` and an admin
 * (the master user) whose password holds quotes, a backslash, `%` and a space on purpose. Their
 * certificates come from one CA of their own, which the test process trusts (`trust.ts`).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type RunningServer, startDbServer } from '../../local/dbserver';
import { ensureCertificateAuthority } from '../../local/dbserver/tls';
import type { Credentials } from '../../src/engines/types';
import { trustCa } from './trust';

export interface TestServer {
  server: RunningServer;
  /** The master user over TCP on 127.0.0.1; no dbname (engines use their default). */
  admin: Credentials;
}

export interface TestServers {
  postgres: TestServer;
  mysql: TestServer;
  /** Temporary directory holding both data directories. */
  dir: string;
  /** The CA both servers' certificates come from (trusted by this process). */
  caBundle: string;
  /** Stops both servers and removes their data. Safe to call twice. */
  stop(): Promise<void>;
}

export const TEST_DATABASE = 'appdb';
const ADMIN_USER = 'credflow_admin';
const ADMIN_PASSWORD = `Adm'in"\\ %pw-${process.pid}`;

/** Starts both servers in parallel (about a second each on first start). */
export async function startTestServers(): Promise<TestServers> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-db-'));
  // mkdtemp makes it 0700; PostgreSQL runs as the `postgres` OS user and must traverse it.
  chmodSync(dir, 0o711);
  // One CA for both servers, as the local RDS has one for all of its databases.
  const ca = await ensureCertificateAuthority(path.join(dir, 'ca'));
  if (!ca) throw new Error('openssl is needed for the test servers (their TLS certificates)');
  trustCa(ca.bundle);
  const start = (kind: 'postgres' | 'mariadb') =>
    startDbServer({
      kind,
      dataDir: path.join(dir, kind),
      masterUsername: ADMIN_USER,
      masterPassword: ADMIN_PASSWORD,
      dbName: TEST_DATABASE,
      ca,
    });
  const results = await Promise.allSettled([start('postgres'), start('mariadb')]);
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw failed.reason;
  }
  const [pg, maria] = started as [RunningServer, RunningServer];
  const admin = (s: RunningServer): Credentials => ({
    host: s.host,
    port: s.port,
    username: ADMIN_USER,
    password: ADMIN_PASSWORD,
  });
  let stopped = false;
  return {
    postgres: { server: pg, admin: admin(pg) },
    mysql: { server: maria, admin: admin(maria) },
    dir,
    caBundle: ca.bundle,
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all([pg.stop(), maria.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
