/**
 * The state dir is the owner's alone (0700, every file 0600), also one made with looser modes
 * before; the only exception is the search bit PostgreSQL and MariaDB need to reach their data
 * (state dir and rds/ 0711). And nothing the cloud logs carries its secret key or its token.
 */

import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  CreateDBInstanceCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { LocalCloud } from '../../local/cloud';
import { createLogger, silentLogger } from '../../local/log';
import { engineFor } from '../../src/engines';
import { awsError } from '../support/cloud';
import { trusting } from '../support/trust';

interface Entry {
  rel: string;
  mode: string;
  kind: 'file' | 'dir';
}

/** Every file and directory under `root` (symlinks and sockets aside), modes in octal. */
function entries(root: string): Entry[] {
  const out: Entry[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    const rel = path.relative(root, p);
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    if (st.isDirectory()) {
      out.push({ rel, mode, kind: 'dir' });
      for (const name of readdirSync(p)) walk(path.join(p, name));
    } else if (st.isFile()) out.push({ rel, mode, kind: 'file' });
  };
  walk(root);
  return out;
}

const inServers = (rel: string) => rel === 'rds' || rel.startsWith(`rds${path.sep}`);

/**
 * Outside rds/: files 0600, directories 0700; rds/ 0711; the state dir 0700, or 0711 once a
 * database server has its directory in rds/.
 */
function expectOwnerOnly(stateDir: string): Entry[] {
  const all = entries(stateDir);
  const hasServers = all.some((e) => e.rel.startsWith(`rds${path.sep}`));
  for (const e of all.filter((x) => !inServers(x.rel) || x.rel === 'rds')) {
    const wanted =
      e.kind === 'file' ? '0600' : e.rel === 'rds' || (e.rel === '' && hasServers) ? '0711' : '0700';
    expect({ path: e.rel, mode: e.mode }).toEqual({ path: e.rel, mode: wanted });
  }
  return all;
}

/** Files under rds/ another OS user could open: readable or writable, every directory above searchable. */
function reachableByOthers(all: Entry[]): string[] {
  const modeOf = new Map(all.map((e) => [e.rel, Number.parseInt(e.mode, 8)]));
  return all
    .filter((e) => e.kind === 'file' && inServers(e.rel) && (modeOf.get(e.rel)! & 0o006) !== 0)
    .filter((e) => {
      for (let d = path.dirname(e.rel); d !== 'rds'; d = path.dirname(d)) {
        if ((modeOf.get(d)! & 0o001) === 0) return false;
      }
      return true;
    })
    .map((e) => e.rel);
}

let stateDir: string;
beforeEach(() => {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'credflow-modes-'));
  // mkdtemp makes it 0700; a database server running as its own OS user must pass through.
  chmodSync(parent, 0o711);
  stateDir = path.join(parent, 'state');
});
afterEach(() => {
  rmSync(path.dirname(stateDir), { recursive: true, force: true });
});

async function withCloud<T>(fn: (cloud: LocalCloud) => Promise<T>, logger = silentLogger): Promise<T> {
  const cloud = trusting(await LocalCloud.start({ stateDir, port: 0, logger }));
  try {
    return await fn(cloud);
  } finally {
    await cloud.stop();
  }
}

async function writeSomething(cloud: LocalCloud): Promise<void> {
  const sm = new SecretsManagerClient({ ...cloud.clientConfig(), maxAttempts: 1 });
  try {
    await sm.send(new CreateSecretCommand({ Name: `modes/${Date.now()}`, SecretString: '{"a":1}' }));
  } finally {
    sm.destroy();
  }
}

describe('state dir modes', () => {
  it('a new state dir: 0700, and every file 0600 (store with its WAL and SHM, keys, credentials, token)', async () => {
    await withCloud(async (cloud) => {
      await writeSomething(cloud);
      const names = expectOwnerOnly(stateDir).map((e) => e.rel);
      expect(names).toEqual(
        expect.arrayContaining([
          'credflow.db',
          'credflow.db-wal',
          'credflow.db-shm',
          'root.key',
          'credentials.json',
          'token',
        ]),
      );
    });
  });

  it('a state dir left with loose modes is tightened at start, before anything reads it', async () => {
    await withCloud(writeSomething);
    const loosen = (p: string) => {
      const st = lstatSync(p);
      chmodSync(p, st.isDirectory() ? 0o777 : 0o666);
      if (st.isDirectory()) for (const n of readdirSync(p)) loosen(path.join(p, n));
    };
    mkdirSync(path.join(stateDir, 'snapshots', 'old'), { recursive: true });
    writeFileSync(path.join(stateDir, 'snapshots', 'old', 'db.sql'), '-- dump');
    writeFileSync(path.join(stateDir, 'cloud.log'), '');
    loosen(stateDir);
    await withCloud(async (cloud) => {
      const all = expectOwnerOnly(stateDir);
      expect(all.map((e) => e.rel)).toEqual(
        expect.arrayContaining(['cloud.log', path.join('snapshots', 'old', 'db.sql'), 'credflow.db-wal']),
      );
      // and the cloud still reads what it wrote before
      const sm = new SecretsManagerClient({ ...cloud.clientConfig(), maxAttempts: 1 });
      expect((await sm.send(new ListSecretsCommand({}))).SecretList).toHaveLength(1);
      sm.destroy();
    });
  });

  it('with database servers: only the search bit on the way to their data; both engines restart with it', async () => {
    const engines = { pg: 'postgres', my: 'mysql' } as const;
    await withCloud(async (cloud) => {
      const rds = new RDSClient({ ...cloud.clientConfig(), maxAttempts: 1 });
      try {
        for (const [id, engine] of Object.entries(engines)) {
          await rds.send(
            new CreateDBInstanceCommand({
              DBInstanceIdentifier: id,
              Engine: engine,
              DBInstanceClass: 'db.t3.micro',
              MasterUsername: 'dbadmin',
              ManageMasterUserPassword: true,
            }),
          );
        }
        for (const id of Object.keys(engines))
          await cloud.rds.waitForStatus('instance', id, 'available', 60_000);
        const running = expectOwnerOnly(stateDir);
        // While a server runs, its own files have the modes it gives them; none is reachable by others.
        expect(reachableByOthers(running)).toEqual([]);
        await rds.send(
          new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'pg', FinalDBSnapshotIdentifier: 'pg-final' }),
        );
        await waitGone(rds, 'pg');
      } finally {
        rds.destroy();
      }
    });
    // Stopped: every file the owner's alone, the dump too; no directory listable by others.
    const stopped = expectOwnerOnly(stateDir);
    expect(stopped.map((e) => e.rel)).toContain(path.join('snapshots', 'pg-final.sql'));
    for (const e of stopped.filter((x) => inServers(x.rel))) {
      const mode = Number.parseInt(e.mode, 8);
      const loose = e.kind === 'file' ? mode & 0o077 : mode & 0o066;
      expect({ path: e.rel, loose }).toEqual({ path: e.rel, loose: 0 });
    }
    await withCloud(async (cloud) => {
      await cloud.rds.waitForStatus('instance', 'my', 'available', 60_000);
      const rds = new RDSClient({ ...cloud.clientConfig(), maxAttempts: 1 });
      const sm = new SecretsManagerClient({ ...cloud.clientConfig(), maxAttempts: 1 });
      try {
        const d = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'my' })))
          .DBInstances![0]!;
        const v = JSON.parse(
          (await sm.send(new GetSecretValueCommand({ SecretId: d.MasterUserSecret!.SecretArn! })))
            .SecretString!,
        );
        await engineFor('mysql').testLogin({
          host: d.Endpoint!.Address!,
          port: d.Endpoint!.Port!,
          username: v.username,
          password: v.password,
        });
      } finally {
        rds.destroy();
        sm.destroy();
      }
    });
  });
});

async function waitGone(rds: RDSClient, id: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const gone = await rds
      .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))
      .then(() => false)
      .catch((e: Error) => e.name === 'DBInstanceNotFoundFault');
    if (gone) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${id} was not deleted`);
}

describe('logs', () => {
  it('no line the cloud writes carries its secret access key or its token, whatever it is asked', async () => {
    const lines: string[] = [];
    await withCloud(
      async (cloud) => {
        const { secretAccessKey, accessKeyId } = cloud.credentials;
        const config = cloud.clientConfig();
        const sm = new SecretsManagerClient({ ...config, maxAttempts: 1 });
        const wrongKey = new SecretsManagerClient({
          ...config,
          credentials: { accessKeyId, secretAccessKey: `${secretAccessKey}x` },
          maxAttempts: 1,
        });
        try {
          await sm.send(new CreateSecretCommand({ Name: 'logs/a', SecretString: secretAccessKey }));
          await sm.send(new GetSecretValueCommand({ SecretId: 'logs/a' }));
          await awsError(
            () => sm.send(new GetSecretValueCommand({ SecretId: secretAccessKey })),
            'ResourceNotFoundException',
          );
          await awsError(() => wrongKey.send(new ListSecretsCommand({})), 'InvalidSignatureException');
          await fetch(`${cloud.endpoint}/_credflow/alerts?credflow_token=${cloud.token}`);
          await fetch(`${cloud.endpoint}/_credflow/alerts`, {
            headers: { authorization: `Bearer ${cloud.token}x` },
          });
          await getWithHost(cloud, `${cloud.token}.example`);
          // Defence in depth: a field that carries one by mistake is redacted too.
          cloud.logger.warn(`oops ${cloud.token}`, { detail: { key: secretAccessKey } });
        } finally {
          sm.destroy();
          wrongKey.destroy();
        }
        return { secretAccessKey, token: cloud.token };
      },
      createLogger({ level: 'debug', write: (l) => lines.push(l) }),
    ).then(({ secretAccessKey, token }) => {
      expect(lines.length).toBeGreaterThan(8);
      expect(lines.some((l) => l.includes('oops [redacted]') && l.includes('"key":"[redacted]"'))).toBe(true);
      for (const l of lines) {
        expect(l).not.toContain(secretAccessKey);
        expect(l).not.toContain(token);
      }
    });
  });
});

function getWithHost(cloud: LocalCloud, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(`${cloud.endpoint}/_credflow/alerts`);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, headers: { host }, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
