/**
 * What enforcing IAM adds to a call, end to end: two local clouds in this process, one with IAM on
 * and one with it off, take the same Secrets Manager calls (GetSecretValue, DescribeSecret and
 * PutSecretValue, the calls a rotation makes most) over the same secrets, interleaved call by call
 * and in alternating order, so that the machine's load falls on both alike. The caller on the
 * IAM cloud is a principal whose policy has the shape of the rotation role's (actions on
 * `credflow/*` under the `credflow:managed` tag condition), so every call is evaluated with a
 * condition on the secret's tags. Reports the per-call medians and their difference, and what
 * that difference adds to a rotation (calls per rotation from docs/fleets.md). Run alone with
 * `npm run bench -- iam-gate`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { LocalCloud } from '../local/cloud';
import { Principals } from '../local/iam/principals';
import type { PolicyDocument } from '../local/iam/types';
import { silentLogger } from '../local/log';
import { f1, pct } from './env';

/** Secrets Manager calls of one rotation (docs/fleets.md: single-user, the smallest count). */
const CALLS_PER_ROTATION = 21;

const POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
      ],
      Resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:credflow/*',
      Condition: { StringEquals: { 'aws:ResourceTag/credflow:managed': 'true' } },
    },
  ],
};

const OPERATIONS = ['GetSecretValue', 'DescribeSecret', 'PutSecretValue'] as const;
type Operation = (typeof OPERATIONS)[number];

function call(client: SecretsManagerClient, op: Operation, id: string, i: number): Promise<unknown> {
  if (op === 'GetSecretValue') return client.send(new GetSecretValueCommand({ SecretId: id }));
  if (op === 'DescribeSecret') return client.send(new DescribeSecretCommand({ SecretId: id }));
  return client.send(new PutSecretValueCommand({ SecretId: id, SecretString: `{"n":${i}}` }));
}

export async function benchIamGate(callsPerOperation: number, secrets = 100): Promise<void> {
  const dirs: string[] = [];
  const clouds: LocalCloud[] = [];
  try {
    const start = async (iam: boolean) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-bench-gate-'));
      dirs.push(dir);
      const cloud = await LocalCloud.start({
        stateDir: dir,
        port: 0,
        iam,
        quotas: { rates: false, limits: false },
        logger: silentLogger,
      });
      clouds.push(cloud);
      return { cloud, dir };
    };
    const on = await start(true);
    const off = await start(false);
    const admin = (c: LocalCloud) => new SecretsManagerClient({ ...c.clientConfig(), maxAttempts: 1 });
    const keys = Principals.create(on.dir, 'bench-rotation', { documents: [POLICY] });
    const clients = {
      on: new SecretsManagerClient({ ...on.cloud.clientConfig(), credentials: keys, maxAttempts: 1 }),
      off: new SecretsManagerClient({ ...off.cloud.clientConfig(), maxAttempts: 1 }),
    };
    const ids: string[] = [];
    for (let i = 0; i < secrets; i++) {
      const name = `credflow/bench/gate-${i}`;
      for (const c of [on.cloud, off.cloud])
        await admin(c).send(
          new CreateSecretCommand({
            Name: name,
            SecretString: '{"n":0}',
            Tags: [{ Key: 'credflow:managed', Value: 'true' }],
          }),
        );
      ids.push(name);
    }
    // Warm both: clients' connections, the compiled policies.
    for (const side of ['on', 'off'] as const)
      for (const op of OPERATIONS) await call(clients[side], op, ids[0] as string, 0);
    console.log(
      `\n## IAM enforcement per call (${callsPerOperation} calls per operation and side, interleaved, ${secrets} secrets)\n`,
    );
    console.log('| operation | IAM on ms (p50 / p95) | IAM off ms (p50 / p95) | added ms (p50) |');
    console.log('|---|---|---|---|');
    let added = 0;
    for (const op of OPERATIONS) {
      const times = { on: [] as number[], off: [] as number[] };
      for (let i = 0; i < callsPerOperation; i++) {
        const id = ids[i % ids.length] as string;
        const order = i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
        for (const side of order) {
          const t = process.hrtime.bigint();
          await call(clients[side], op, id, i);
          times[side].push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      }
      const delta = pct(times.on, 50) - pct(times.off, 50);
      added += delta / OPERATIONS.length;
      console.log(
        `| ${op} | ${pct(times.on, 50).toFixed(3)} / ${pct(times.on, 95).toFixed(3)} | ${pct(times.off, 50).toFixed(3)} / ${pct(times.off, 95).toFixed(3)} | ${delta.toFixed(3)} |`,
      );
    }
    const perRotation = added * CALLS_PER_ROTATION;
    console.log(
      `\nMean added per call ${(added * 1000).toFixed(0)} µs; x ${CALLS_PER_ROTATION} Secrets Manager calls a rotation = ${f1(perRotation)} ms a rotation.`,
    );
  } finally {
    for (const c of clouds) await c.stop().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
