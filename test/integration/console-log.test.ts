/**
 * A console left open polls the cloud every few seconds: its reads (marked in their User-Agent)
 * are logged at debug, every other call at info as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LocalCloud } from '../../local/cloud';
import { consoleClients } from '../../local/console/data';
import { createLogger } from '../../local/log';

it("logs the console's polling at debug and other calls at info", async () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-console-log-'));
  const lines: { level: string; message: string; call?: string }[] = [];
  const cloud = await LocalCloud.start({
    stateDir,
    port: 0,
    logger: createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l)) }),
  });
  try {
    await consoleClients(cloud.clientConfig()).secrets.send(new ListSecretsCommand({}));
    await new SecretsManagerClient(cloud.clientConfig()).send(new ListSecretsCommand({}));
    const requests = lines.filter((l) => l.message === 'request');
    expect(requests.map((r) => [r.level, r.call])).toEqual([
      ['debug', 'secretsmanager.ListSecrets'],
      ['info', 'secretsmanager.ListSecrets'],
    ]);
  } finally {
    await cloud.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
