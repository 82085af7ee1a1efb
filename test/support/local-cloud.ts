import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LocalCloud } from '../../local/cloud';
import { silentLogger } from '../../local/log';

export interface Harness {
  cloud: LocalCloud;
  sm: SecretsManagerClient;
  stateDir: string;
  stop(): Promise<void>;
}

/** A silent local cloud on a free port in a fresh temporary state dir, with a real SDK client. */
export async function startLocalCloud(): Promise<Harness> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-lc-'));
  const cloud = await LocalCloud.start({ stateDir, port: 0, logger: silentLogger });
  const sm = new SecretsManagerClient({ ...cloud.clientConfig(), maxAttempts: 1 });
  return {
    cloud,
    sm,
    stateDir,
    async stop() {
      sm.destroy();
      await cloud.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** A fresh ClientRequestToken (the API wants 32 to 64 characters). */
export function token(label = ''): string {
  return `${label}${crypto.randomUUID()}`.slice(0, 64);
}

/** Runs `fn`, expecting it to fail with the AWS error `name`; returns the error. */
export async function awsError(
  fn: () => Promise<unknown>,
  name: string,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await fn();
  } catch (err) {
    const e = err as Error;
    if (e.name !== name) throw new Error(`expected ${name}, got ${e.name}: ${e.message}`);
    return e;
  }
  throw new Error(`expected ${name}, but the call succeeded`);
}
