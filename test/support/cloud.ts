/**
 * The local cloud for tests, in its two boot modes, each on a free port in a fresh temporary
 * state dir that stop() removes:
 * - `startLocalCloud`: the bare emulator (no credflow deployed), silent, with a Secrets Manager
 *   client; for the emulated services' own tests;
 * - `startTestCloud`: serverless.yml deployed into it (functions, state machines, rules), as
 *   `credflow up` does, with the workflow's own AWS clients.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { bootLocalCloud } from '../../local/boot';
import { LocalCloud } from '../../local/cloud';
import { silentLogger } from '../../local/log';
import type { QuotaSettings } from '../../local/quotas';
import { type AwsClients, createClients } from '../../src/aws/clients';
import { trustCa } from './trust';

interface Started {
  cloud: LocalCloud;
  stateDir: string;
  stop(): Promise<void>;
}

/**
 * Starts a cloud in a new temporary state dir with what a mode adds (`with`); stop() closes
 * those, stops the cloud and removes the dir.
 */
async function inTempStateDir<T extends object>(
  prefix: string,
  start: (stateDir: string) => Promise<LocalCloud>,
  extras: (cloud: LocalCloud) => { with: T; close?: () => void },
): Promise<Started & T> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const cloud = await start(stateDir);
  // Tests log in to the local RDS's databases as an application would: trusting its CA.
  if (cloud.rdsCaBundle) trustCa(cloud.rdsCaBundle);
  const more = extras(cloud);
  return {
    ...more.with,
    cloud,
    stateDir,
    async stop() {
      more.close?.();
      await cloud.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * The quotas a test cloud enforces unless a test asks otherwise: AWS's sizes and counts (no test
 * should ever reach them, so one that does has found a bug), but not request rates, since tests
 * set up data faster than an AWS account may. The quota tests and the fleet test turn rates on.
 */
export const TEST_QUOTAS: QuotaSettings = { rates: false, limits: true };

export interface Harness extends Started {
  sm: SecretsManagerClient;
}

/** The bare local cloud, silent, with a real Secrets Manager SDK client (no retries). */
export async function startLocalCloud(quotas: QuotaSettings = TEST_QUOTAS): Promise<Harness> {
  return inTempStateDir(
    'credflow-lc-',
    (stateDir) => LocalCloud.start({ stateDir, port: 0, logger: silentLogger, quotas: { ...quotas } }),
    (cloud) => {
      const sm = new SecretsManagerClient({ ...cloud.clientConfig(), maxAttempts: 1 });
      return { with: { sm }, close: () => sm.destroy() };
    },
  );
}

export interface TestCloud extends Started {
  clients: AwsClients;
  rotationLambdaArn: string;
}

/** The local cloud with serverless.yml deployed into it; handlers log warnings and errors only. */
export async function startTestCloud(
  quotas: QuotaSettings = TEST_QUOTAS,
  /** Where the functions run (boot's default: each on its own thread, as `credflow up` runs them). */
  handlers?: 'threads' | 'inline',
): Promise<TestCloud> {
  process.env['POWERTOOLS_LOG_LEVEL'] ??= 'WARN';
  process.env['LOG_LEVEL'] ??= 'WARN';
  return inTempStateDir(
    'credflow-cloud-',
    (stateDir) => bootLocalCloud({ stateDir, port: 0, quotas: { ...quotas }, handlers }),
    (cloud) => ({
      with: {
        clients: createClients(cloud.clientConfig()),
        rotationLambdaArn: cloud.lambdas.arn('rotationLambda'),
      },
    }),
  );
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
