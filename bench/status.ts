/**
 * `credflow status` over a large fleet with AWS's quotas on: N secrets made quickly with rates off
 * (mostly healthy credflow secrets, some broken, failing, overdue, with an AWSPENDING, RDS-console
 * ones and plain ones), then the view read with rates on. Prints the time, ListSecrets pages and
 * the per-operation call counts, and extrapolates to 10,000 secrets from the page rate.
 *
 *   npm run build && BENCH_STATUS_SECRETS=2000 node dist/bench/status.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateSecretCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { LocalCloud } from '../local/cloud';
import { silentLogger } from '../local/log';
import { quotasOff } from '../local/quotas';
import { readAttention } from '../src/lifecycle/attention';

async function pool<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

/** What the i-th secret is: its name and tags, and whether it gets an AWSPENDING. */
function shape(i: number): { name: string; tags: Record<string, string>; pending: boolean } {
  const db = `bench-db-${i % 20}`;
  const managed = { 'credflow:managed': 'true', 'credflow:db': db, 'credflow:strategy': 'single-user' };
  if (i % 100 === 1)
    return {
      name: `credflow/${db}/broken-${i}`,
      tags: { ...managed, 'credflow:rotation-status': 'broken' },
      pending: false,
    };
  if (i % 100 === 2)
    return {
      name: `credflow/${db}/failing-${i}`,
      tags: { ...managed, 'credflow:rotation-status': 'rolled-back' },
      pending: false,
    };
  if (i % 100 === 3) return { name: `credflow/${db}/pending-${i}`, tags: managed, pending: true };
  if (i % 100 === 4)
    return {
      name: `credflow/${db}/overdue-${i}`,
      tags: managed,
      pending: false,
    };
  if (i % 100 === 5) return { name: `rds-db-credentials/${db}/legacy-${i}`, tags: {}, pending: false };
  if (i % 100 === 6) return { name: `app/other-${i}`, tags: {}, pending: false };
  return { name: `credflow/${db}/app-${i}`, tags: managed, pending: false };
}

async function main(): Promise<void> {
  const n = Number(process.env['BENCH_STATUS_SECRETS'] ?? 2000);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-bench-status-'));
  const quotas = quotasOff();
  const cloud = await LocalCloud.start({ stateDir, port: 0, logger: silentLogger, quotas });
  const sm = new SecretsManagerClient({ ...cloud.clientConfig(), maxAttempts: 10 });
  try {
    const t0 = Date.now();
    const all = Array.from({ length: n }, (_, i) => i);
    const overdue = all.filter((i) => i % 100 === 4);
    // The overdue ones are made 40 days ago (the cloud's clock), the rest now.
    cloud.secrets.setClock(() => new Date(Date.now() - 40 * 86_400_000));
    await pool(overdue, 16, (i) => make(i));
    cloud.secrets.setClock(() => new Date());
    await pool(
      all.filter((i) => i % 100 !== 4),
      16,
      (i) => make(i),
    );
    const setupS = (Date.now() - t0) / 1000;
    async function make(i: number): Promise<void> {
      const s = shape(i);
      const made = await sm.send(
        new CreateSecretCommand({
          Name: s.name,
          SecretString: JSON.stringify({
            engine: 'postgres',
            host: 'db.invalid',
            username: `u${i}`,
            password: 'x',
          }),
          Tags: Object.entries(s.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      if (s.pending)
        await sm.send(
          new PutSecretValueCommand({
            SecretId: made.ARN,
            SecretString: '{}',
            VersionStages: ['AWSPENDING'],
          }),
        );
    }

    // Measure as on AWS: every rate quota on.
    quotas.rates = true;
    quotas.limits = true;
    const before = new Map(cloud.secretsQuotas.calls);
    const t1 = Date.now();
    const view = await readAttention(sm);
    const ms = Date.now() - t1;
    const calls = [...cloud.secretsQuotas.calls]
      .map(([op, c]) => [op, c - (before.get(op) ?? 0)] as const)
      .filter(([, c]) => c > 0);
    // ListSecrets alone, the same pages: how much of the view is paging.
    const t2 = Date.now();
    let token: string | undefined;
    do {
      token = (
        await sm.send(
          new ListSecretsCommand({ MaxResults: 100, IncludePlannedDeletion: true, NextToken: token }),
        )
      ).NextToken;
    } while (token);
    const listMs = Date.now() - t2;
    const perPage = listMs / view.pages;
    const counts: Record<string, number> = {};
    for (const r of view.rows) counts[r.kind] = (counts[r.kind] ?? 0) + 1;
    console.log(
      `# credflow status over ${n} secrets, quotas on — ${new Date().toISOString()}, ${os.cpus().length} cores`,
    );
    console.log(`set-up (rates off): ${setupS.toFixed(1)} s`);
    console.log(
      `view: ${ms} ms, ${view.pages} ListSecrets pages, ${view.scanned} scanned; ListSecrets alone ${listMs} ms (${perPage.toFixed(0)} ms/page)`,
    );
    console.log(`calls: ${calls.map(([op, c]) => `${op} ${c}`).join(', ')}`);
    console.log(`rows: ${JSON.stringify(counts)}; healthy: ${JSON.stringify(view.healthy)}`);
    const pendingAt10k = Math.round(((counts['stuck'] ?? 0) + view.healthy.rotating) * (10_000 / n));
    console.log(
      `10,000 secrets: ListSecrets ~${((100 * perPage) / 1000).toFixed(1)} s (100 pages at this page rate; ListSecrets' 100/s quota allows 100 pages in 1 s, ListSecretVersionIds' 50/s quota ~${pendingAt10k} pending secrets in ${(pendingAt10k / 50).toFixed(1)} s)`,
    );
  } finally {
    sm.destroy();
    await cloud.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
