import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { SecretCredentials } from '../../src/client';
import { engineFor } from '../../src/engines';
import type { Credentials } from '../../src/engines/types';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { startTestServers, type TestServers } from '../support/servers';
import { createUserSecret } from '../support/user-secret';

let servers: TestServers;
let tc: TestCloud;

beforeAll(async () => {
  [servers, tc] = await Promise.all([startTestServers(), startTestCloud()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([servers?.stop(), tc?.stop()]);
});

const ENGINE = { postgres: 'postgres', mysql: 'mysql' } as const;

async function userSecret(family: 'postgres' | 'mysql', username: string): Promise<string> {
  const admin = servers[family].admin;
  const { arn } = await createUserSecret({
    secrets: tc.clients.secrets,
    engine: ENGINE[family],
    admin,
    masterName: `credflow/client/${family}/${username}/master`,
    name: `credflow/client/${family}/${username}`,
    username,
    password: 'Client-initial-pw-1',
    strategy: 'single-user',
  });
  return arn;
}

async function rotate(secretId: string): Promise<void> {
  await tc.clients.secrets.send(
    new RotateSecretCommand({
      SecretId: secretId,
      RotationLambdaARN: tc.rotationLambdaArn,
      RotateImmediately: true,
    }),
  );
  await tc.cloud.secrets.awaitIdle(secretId);
}

/** An application loop: log in and SELECT 1 every few ms until stopped; counts outcomes. */
function appLoop(login: () => Promise<void>) {
  const stats = { ok: 0, failed: 0 };
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        await login();
        stats.ok++;
      } catch {
        stats.failed++;
      }
      await new Promise((r) => setTimeout(r, 3));
    }
  })();
  return {
    stats,
    /** Resolves once `n` logins have succeeded (or the loop stopped). */
    atLeast: async (n: number) => {
      while (running && stats.ok < n) await new Promise((r) => setTimeout(r, 5));
    },
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe.each(['postgres', 'mysql'] as const)('the application helper on %s', (family) => {
  it('sees zero failed logins across 5 single-user rotations', async () => {
    const secretId = await userSecret(family, `app_helper_${family}`);
    const engine = engineFor(ENGINE[family]);
    const creds = new SecretCredentials({ secretId, client: tc.clients.secrets, ttlMs: 60_000 });
    const passwords = new Set<string>([(await creds.credentials()).password]);
    const loop = appLoop(() => creds.withCredentials((c: Credentials) => engine.testLogin(c)));
    for (let i = 0; i < 5; i++) {
      await rotate(secretId);
      passwords.add((await creds.secret(true)).password);
      // However loaded the machine, the application logs in a few times after each rotation.
      await loop.atLeast(loop.stats.ok + 3);
    }
    await loop.stop();
    expect(passwords.size).toBe(6);
    expect(loop.stats.failed).toBe(0);
    expect(loop.stats.ok).toBeGreaterThanOrEqual(15);
  });

  it('control: the same loop with cached credentials and no refresh fails after a rotation', async () => {
    const secretId = await userSecret(family, `app_plain_${family}`);
    const engine = engineFor(ENGINE[family]);
    const cached = await new SecretCredentials({ secretId, client: tc.clients.secrets }).credentials();
    const loop = appLoop(() => engine.testLogin(cached));
    await rotate(secretId);
    await new Promise((r) => setTimeout(r, 50));
    await loop.stop();
    expect(loop.stats.failed).toBeGreaterThan(0);
  });

  it('does not retry errors other than a refused login', async () => {
    const secretId = await userSecret(family, `app_other_${family}`);
    const creds = new SecretCredentials({ secretId, client: tc.clients.secrets });
    let calls = 0;
    await expect(
      creds.withCredentials(async () => {
        calls++;
        throw new Error('syntax error');
      }),
    ).rejects.toThrow('syntax error');
    expect(calls).toBe(1);
  });
});
