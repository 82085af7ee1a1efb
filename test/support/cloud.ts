import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootLocalCloud } from '../../local/boot';
import type { LocalCloud } from '../../local/cloud';
import { type AwsClients, createClients } from '../../src/aws/clients';

export interface TestCloud {
  cloud: LocalCloud;
  clients: AwsClients;
  rotationLambdaArn: string;
  stateDir: string;
  stop(): Promise<void>;
}

/** The local cloud on a free port in a temporary state dir, with serverless.yml deployed into it. */
export async function startTestCloud(): Promise<TestCloud> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-cloud-'));
  process.env['POWERTOOLS_LOG_LEVEL'] ??= 'WARN';
  process.env['LOG_LEVEL'] ??= 'WARN';
  const cloud = await bootLocalCloud({ stateDir, port: 0 });
  return {
    cloud,
    stateDir,
    clients: createClients(cloud.clientConfig()),
    rotationLambdaArn: cloud.lambdas.arn('rotationLambda'),
    async stop() {
      await cloud.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
