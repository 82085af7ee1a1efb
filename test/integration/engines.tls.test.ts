/**
 * TLS as the engines speak it to RDS, on the real test servers: the server's certificate is
 * verified on loopback exactly as off it (the servers' certificates come from a CA this process
 * trusts, as RDS's come from the RDS CA bundle), PostgreSQL takes TCP logins over TLS only (as RDS
 * for PostgreSQL 15 does), and the secret's `ssl` key decides as in AWS's rotation templates.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCertificateAuthority } from '../../local/dbserver/tls';
import { engineFor, MysqlEngine, PostgresEngine } from '../../src/engines';
import { tlsOptions } from '../../src/engines/common';
import { newClient } from '../../src/engines/postgres/driver';
import type { Credentials, DatabaseEngine, SessionInfo } from '../../src/engines/types';
import { AuthenticationError, DatabaseError } from '../../src/errors';
import { externalIPv4, type Proxy as NoTlsProxy, startNoTlsProxy } from '../support/no-tls-proxy';
import { rejection } from '../support/rejection';
import { startTestServers, type TestServers } from '../support/servers';
import { itWhen } from '../support/skip';
import type { Family } from '../support/sql';

let servers: TestServers;
let otherCaDir: string;
let otherCa: string;

beforeAll(async () => {
  servers = await startTestServers();
  otherCaDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-other-ca-'));
  const ca = await ensureCertificateAuthority(path.join(otherCaDir, 'ca'));
  if (!ca) throw new Error('openssl is needed');
  otherCa = ca.bundle;
}, 120_000);

afterAll(async () => {
  await servers?.stop();
  if (otherCaDir) rmSync(otherCaDir, { recursive: true, force: true });
});

describe.each<Family>(['postgres', 'mysql'])('%s engine TLS', (family) => {
  let engine: DatabaseEngine;
  const admin = (): Credentials => servers[family].admin;
  const describeSession = (c: Credentials): Promise<SessionInfo> => engine.describeSession!(c);

  beforeAll(() => {
    engine = engineFor(family === 'postgres' ? 'postgres' : 'mariadb');
  });

  /**
   * A login through the no-TLS proxy works, plain on the engine's side. (The proxy speaks TLS to
   * PostgreSQL itself, which takes nothing else, so there the server sees TLS; MariaDB sees none.)
   */
  async function expectPlainLogin(proxy: NoTlsProxy, c: Credentials): Promise<void> {
    const before = proxy.plainSessions;
    const info = await describeSession(c);
    expect(info.user).toMatch(/^credflow_admin/);
    expect(proxy.plainSessions).toBeGreaterThan(before);
    if (family === 'mysql') expect(info.tls).toBe(false);
  }

  it('uses TLS when the server offers it and ssl is unset, verifying its certificate', async () => {
    const info = await describeSession(admin());
    expect(info.tls).toBe(true);
    expect(info.cipher).toBeTruthy();
    expect((await describeSession({ ...admin(), ssl: true })).tls).toBe(true);
  });

  it('verifies the certificate on loopback as anywhere: a server whose CA is not trusted is refused, never retried in the clear', async () => {
    const ca = readFileSync(otherCa, 'utf8');
    const distrustful =
      family === 'postgres' ? new PostgresEngine({ tls: { ca } }) : new MysqlEngine({ tls: { ca } });
    for (const ssl of [undefined, true] as const) {
      const err = await rejection(distrustful.testLogin({ ...admin(), ...(ssl ? { ssl } : {}) }));
      expect(err).toBeInstanceOf(DatabaseError);
      expect(err.message).toMatch(/certificate did not verify/);
      expect(err.message).not.toContain(admin().password);
    }
  });

  if (family === 'postgres') {
    it('every session resolves names in pg_catalog only from its first statement, over TLS and through a proxy', async () => {
      const proxy = await startNoTlsProxy(family, admin());
      try {
        for (const [port, ssl] of [
          [admin().port, tlsOptions({})],
          [proxy.port, false],
        ] as const) {
          // The engine's own client (the one place it makes one), as it configures it.
          const client = newClient({ ...admin(), user: admin().username, port, database: 'postgres', ssl });
          await client.connect();
          try {
            const { rows } = await client.query(
              'SELECT pg_catalog.current_schemas(true)::text AS path, pg_catalog.current_setting($1) AS setting',
              ['search_path'],
            );
            expect(rows[0]).toEqual({ path: '{pg_catalog}', setting: 'pg_catalog,pg_temp' });
          } finally {
            await client.end();
          }
        }
      } finally {
        await proxy.close();
      }
    });

    // RDS for PostgreSQL 15 and later set rds.force_ssl to 1: a connection without TLS is refused
    // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html).
    it('RDS for PostgreSQL 15 forces SSL: ssl false is refused, as a TLS problem and not a wrong password', async () => {
      const err = await rejection(engine.testLogin({ ...admin(), ssl: false }));
      expect(err).toBeInstanceOf(DatabaseError);
      expect(err).not.toBeInstanceOf(AuthenticationError);
      expect(err.message).toMatch(/accepts only TLS connections.*ssl: false/);
    });
  } else {
    it('ssl false connects without TLS (MySQL and MariaDB on RDS accept plain connections)', async () => {
      expect((await describeSession({ ...admin(), ssl: false })).tls).toBe(false);
    });
  }

  it('falls back to plain on loopback when the server offers no TLS and ssl is unset; refuses when ssl is true', async () => {
    const proxy = await startNoTlsProxy(family, admin());
    try {
      const viaProxy = { ...admin(), port: proxy.port };
      await expectPlainLogin(proxy, viaProxy);
      const err = await rejection(engine.testLogin({ ...viaProxy, ssl: true }));
      expect(err).toBeInstanceOf(DatabaseError);
      expect(err.message).toMatch(/TLS is required/);
    } finally {
      await proxy.close();
    }
  });

  const external = externalIPv4();
  itWhen(
    external !== undefined,
    'this machine has no non-loopback IPv4 address to reach a "remote" server on',
  )(
    `off loopback (${external ?? 'no non-loopback IPv4 on this machine'}) refuses a server without TLS unless ssl is false`,
    async () => {
      const proxy = await startNoTlsProxy(family, admin(), external);
      try {
        const remote = { ...admin(), host: external as string, port: proxy.port };
        const err = await rejection(engine.testLogin(remote));
        expect(err).toBeInstanceOf(DatabaseError);
        expect(err.message).toMatch(/offers no TLS.*ssl: false/);
        expect(err.message).not.toContain(remote.password);
        // The secret's explicit choice still holds.
        await expectPlainLogin(proxy, { ...remote, ssl: false });
      } finally {
        await proxy.close();
      }
    },
  );
});
