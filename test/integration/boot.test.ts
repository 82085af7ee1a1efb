/**
 * Two local clouds, one after the other, in one process (the benchmark does this): the handlers
 * must call the cloud that is running now, not the one their clients were first built for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { bootLocalCloud } from '../../local/boot';
import { createClients } from '../../src/aws/clients';

jest.setTimeout(120_000);
process.env['CREDFLOW_LOG_LEVEL'] = 'error';
process.env['LOG_LEVEL'] = 'ERROR';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function boot() {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-boot-'));
  dirs.push(stateDir);
  return bootLocalCloud({ stateDir, port: 0 });
}

it('a second cloud in the same process gets handler calls, not the stopped first one', async () => {
  const first = await boot();
  const event = {
    executionName: 'boot-test',
    input: { tag: { key: 'team', value: 'boot-test' }, force: true },
  };
  await expect(first.lambdas.invoke('planFleetRotation', event)).resolves.toMatchObject({
    totals: { selected: 0 },
  });
  await first.stop();

  const second = await boot();
  try {
    expect(second.endpoint).not.toBe(first.endpoint);
    await createClients(second.clientConfig()).secrets.send(
      new CreateSecretCommand({
        Name: 'credflow/boot/one',
        SecretString: '{}',
        Tags: [{ Key: 'team', Value: 'boot-test' }],
      }),
    );
    await expect(second.lambdas.invoke('planFleetRotation', event)).resolves.toMatchObject({
      totals: { selected: 1 },
    });
  } finally {
    await second.stop();
  }
});

// `serverless deploy` names the functions credflow-<stage>-<key>; ARNs copied from its output, and
// those the workflows were deployed with, name the same functions locally.
it('registers the deployed function names, with the serverless keys as aliases', async () => {
  const cloud = await boot();
  try {
    const deployed = `arn:aws:lambda:${cloud.region}:${cloud.accountId}:function:credflow-local-planFleetRotation`;
    expect(cloud.lambdas.arn('planFleetRotation')).toBe(deployed);
    const event = {
      executionName: 'naming-test',
      input: { tag: { key: 'team', value: 'naming-test' }, force: true },
    };
    await expect(cloud.lambdas.invoke(deployed, event)).resolves.toMatchObject({ totals: { selected: 0 } });
    expect(cloud.lambdas.has('credflow-local-rotationLambda')).toBe(true);
  } finally {
    await cloud.stop();
  }
});
