/**
 * The local console in a real browser (headless Debian Chromium): what the page shows is checked
 * against the cloud's own answers (ListSecrets, DescribeDBInstances, DescribeExecution, the
 * execution history, the alerts topic); it opens on what needs attention, the same rows as
 * `credflow status` reads, each linked to its secret's latest rotation and repair; executions are drawn as their graph with each state
 * coloured by how it ran, and a running one updates live; no response the page loads holds a
 * secret value; the token, loopback and Host rules hold. Screenshots go to test-artifacts/.
 */
import http from 'node:http';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  type SecretListEntry,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { Browser, Page } from 'playwright-core';
import { consoleUrl } from '../../cli/console';
import type { Connection } from '../../cli/context';
import { LOCAL_STAGE } from '../../local/boot';
import { alertsTopicName } from '../../local/deploy';
import { Principals } from '../../local/iam/principals';
import { readAttention } from '../../src/lifecycle/attention';
import { artifact, launchBrowser } from '../support/browser';
import { awsError, startTestCloud, type TestCloud } from '../support/cloud';
import { awaitExecution, connectionOf, current, run, succeed } from './support';

let tc: TestCloud;
let conn: Connection;
let browser: Browser;
let page: Page;
/** Every body the browser received from the cloud, for the secret-value scan. */
const bodies: { url: string; body: string }[] = [];

const ids: { app: string; ro: string; rotated: string; failed: string; repair: string; fleet: string } = {
  app: '',
  ro: '',
  rotated: '',
  failed: '',
  repair: '',
  fleet: '',
};
/** What the browser reported as an error: console.error lines (CSP violations among them) and page errors. */
const browserErrors: string[] = [];

beforeAll(async () => {
  tc = await startTestCloud();
  conn = connectionOf(tc);
  await succeed(conn, 'provision-database', { identifier: 'console-db', engine: 'postgres', pollSeconds: 1 });
  for (const [key, username, strategy] of [
    ['app', 'app', 'alternating-users'],
    ['ro', 'report', 'admin-single-user'],
  ] as const) {
    const out = await succeed(conn, 'create-database-user', {
      dbIdentifier: 'console-db',
      username,
      privileges: ['SELECT'],
      strategy,
    });
    ids[key] = String(out['secretArn']);
  }
  const rotated = await run(conn, 'rotate-secret', { secretId: ids.app });
  expect(rotated.status).toBe('SUCCEEDED');
  ids.rotated = rotated.executionArn;

  // A master secret that does not exist: setSecret fails, the failure rule rolls back and alerts.
  const good = await current(conn, ids.ro);
  await tc.clients.secrets.send(
    new PutSecretValueCommand({
      SecretId: ids.ro,
      SecretString: JSON.stringify({ ...good, masterarn: `${String(good.masterarn).slice(0, -6)}nope00` }),
    }),
  );
  const since = new Date();
  const failed = await run(conn, 'rotate-secret', { secretId: ids.ro });
  expect(failed.status).toBe('FAILED');
  ids.failed = failed.executionArn;
  const repair = await awaitExecution(conn, 'on-rotation-failure', since);
  expect(repair.status).toBe('SUCCEEDED');
  ids.repair = repair.executionArn ?? '';
  // A fleet run over the app user's secret only (the other one's master is broken on purpose).
  const fleet = await run(conn, 'rotate-fleet', { tag: { key: 'credflow:user', value: 'app' }, force: true });
  expect(fleet.status).toBe('SUCCEEDED');
  ids.fleet = fleet.executionArn;

  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') browserErrors.push(m.text());
  });
  page.on('pageerror', (e) => browserErrors.push(String(e)));
  page.on('response', async (r) => {
    if (!r.url().startsWith(tc.cloud.endpoint)) return;
    try {
      bodies.push({ url: r.url(), body: await r.text() });
    } catch {
      // a redirect has no body to read
    }
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await tc?.stop();
}, 60_000);

const text = async (selector: string) => ((await page.locator(selector).first().textContent()) ?? '').trim();
const attr = (selector: string, name: string) => page.locator(selector).first().getAttribute(name);
const openExecution = async (arn: string) => {
  await page.goto(`${tc.cloud.endpoint}/_credflow/console/#/execution/${encodeURIComponent(arn)}`);
  await page.waitForSelector('#graph');
};

describe('the console in a browser', () => {
  it('opens with the token `credflow up` prints, which it trades for an HttpOnly cookie', async () => {
    await page.goto(consoleUrl(tc.cloud.endpoint, tc.cloud.token));
    await page.waitForSelector('#secrets table');
    expect(page.url()).toBe(`${tc.cloud.endpoint}/_credflow/console/`);
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: 'credflow_token', httpOnly: true, sameSite: 'Strict' });
    await page.screenshot({ path: artifact('console-overview.png'), fullPage: true });
  });

  it('lists the secrets the cloud holds, with strategy and status from their tags', async () => {
    const list = await tc.clients.secrets.send(new ListSecretsCommand({ MaxResults: 100 }));
    const shown = (
      await page
        .locator('[data-secret]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-secret')))
    ).sort();
    const tag = (s: SecretListEntry, k: string) => s.Tags?.find((t) => t.Key === k)?.Value;
    const expected = (list.SecretList ?? []).filter(
      (s) => tag(s, 'credflow:managed') === 'true' || s.OwningService === 'rds',
    );
    expect(shown).toEqual(expected.map((s) => s.Name).sort());
    for (const s of expected) {
      const row = `[data-secret="${s.Name}"]`;
      expect(await text(`${row} [data-col=strategy]`)).toBe(
        s.OwningService === 'rds' ? 'rds-managed' : (tag(s, 'credflow:strategy') ?? ''),
      );
    }
    expect(await text(`[data-secret="credflow/console-db/report"] [data-col=status]`)).toBe('rolled-back');
    expect(await text(`[data-secret="credflow/console-db/app"] [data-col=status]`)).toBe('ok');
    expect(await text(`[data-secret="credflow/console-db/app"] [data-col=user]`)).toBe('app');
  });

  it('shows the databases and recent executions as RDS and Step Functions describe them', async () => {
    const dbs = await tc.clients.rds.send(new DescribeDBInstancesCommand({}));
    expect(dbs.DBInstances?.map((d) => d.DBInstanceIdentifier)).toEqual(['console-db']);
    for (const d of dbs.DBInstances ?? [])
      expect(await text(`[data-database="${d.DBInstanceIdentifier}"] [data-col=status]`)).toBe(
        d.DBInstanceStatus,
      );
    for (const arn of [ids.rotated, ids.failed, ids.repair]) {
      const d = await tc.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      expect(await text(`[data-execution-row="${arn}"] [data-col=status]`)).toBe(d.status);
    }
  });

  it('names the secret each execution was for', async () => {
    expect(await text(`[data-execution-row="${ids.rotated}"] [data-col=for]`)).toBe(ids.app);
    expect(await text(`[data-execution-row="${ids.failed}"] [data-col=for]`)).toBe(ids.ro);
    // The repair was started by an EventBridge event: the secret is read out of it.
    expect(await text(`[data-execution-row="${ids.repair}"] [data-col=for]`)).toBe(ids.ro);
    // Each secret links to the latest execution that worked on it.
    expect(
      await attr('[data-secret="credflow/console-db/report"] [data-col=last-execution] a', 'data-execution'),
    ).toBe(ids.repair);
  });

  it("draws the fleet's progress bars under the console's own Content-Security-Policy", async () => {
    const row = `[data-fleet="${ids.fleet}"]`;
    expect(await text(`${row} [data-col=progress]`)).toBe('1 rotated, 0 failed, 0 in flight of 1');
    const widths = await page
      .locator(`${row} .progress span`)
      .evaluateAll((spans) => spans.map((sp) => sp.getBoundingClientRect().width));
    const total = await page.locator(`${row} .progress`).evaluate((p) => p.getBoundingClientRect().width);
    expect(total).toBeGreaterThan(0);
    // All rotated: the green segment fills the bar, the others are empty.
    expect(widths[0]).toBeCloseTo(total, 0);
    expect(widths.slice(1)).toEqual([0, 0]);
  });

  it('shows the alerts the repair published, newest first', async () => {
    const messages = tc.cloud.sns.messages();
    expect(messages.length).toBeGreaterThan(0);
    expect(await page.locator('[data-alert]').count()).toBe(Math.min(20, messages.length));
    expect(await text('[data-alert] td:nth-child(3)')).toBe(messages.at(-1)?.message);
    expect(await text('#alerts')).toContain('AWSPENDING was removed');
  });

  it('opens on what needs attention, as `credflow status` reads it: the failed rotation first, linked to it and its repair', async () => {
    await page.goto(`${tc.cloud.endpoint}/_credflow/console/`);
    await page.waitForSelector('#attention [data-attention]');
    // The page's first card.
    expect(await page.locator('#app > section').first().getAttribute('id')).toBe('attention');
    const view = await readAttention(tc.clients.secrets);
    const shown = await page
      .locator('[data-attention]')
      .evaluateAll((rows) =>
        rows.map((r) => [r.getAttribute('data-kind'), r.getAttribute('data-attention')]),
      );
    expect(shown).toEqual(view.rows.map((r) => [r.kind, r.secret]));
    const report = 'credflow/console-db/report';
    expect(shown[0]).toEqual(['failing', report]);
    const row = `[data-attention="${report}"]`;
    expect(await text(`${row} [data-col=what]`)).toBe('the last rotation failed and was rolled-back');
    expect(await text(`${row} [data-col=look]`)).toBe(`credflow executions --secret ${report}`);
    expect(await text(`${row} [data-col=database]`)).toBe('console-db');
    expect(await text(`${row} [data-col=since]`)).not.toBe('');
    expect(await attr(`${row} [data-col=rotation] a`, 'data-execution')).toBe(ids.failed);
    expect(await attr(`${row} [data-col=repair] a`, 'data-execution')).toBe(ids.repair);
    // The healthy counted as the CLI counts them: the app user's secret, the RDS master secret.
    const h = view.healthy;
    expect(h).toMatchObject({ ok: 1, rdsMasters: 1 });
    expect(await text('#healthy')).toBe(
      `healthy: ${h.ok} ok, ${h.rotating} rotating, ${h.rdsMasters} RDS master secret(s); ${h.other} other secret(s) not credflow's, ${h.deleted} scheduled for deletion`,
    );
    await page.screenshot({ path: artifact('console-attention.png'), fullPage: true });

    // The repair link opens the repair's page.
    await page.click(`${row} [data-col=repair] a`);
    await page.waitForSelector('#repair');
    expect(page.url()).toContain(encodeURIComponent(ids.repair));
  });

  it('draws a rotation as its graph: four steps and verify succeeded, its checks as verify reported them', async () => {
    await openExecution(ids.rotated);
    for (const s of [
      'CreateSecret',
      'SetSecret',
      'TestSecret',
      'FinishSecret',
      'VerifyRotation',
      'IsRotationVerified',
    ])
      expect(await attr(`[data-state="${s}"]`, 'data-status')).toBe('succeeded');
    expect(await attr('[data-state="PublishRotationFailed"]', 'data-status')).toBe('not-run');
    for (const s of ['CreateSecret', 'SetSecret', 'TestSecret', 'FinishSecret']) {
      expect(await attr(`[data-step="${s}"]`, 'data-status')).toBe('succeeded');
      expect(await text(`[data-step="${s}"]`)).toContain('applied');
    }
    // The verify checks as the VerifyRotation task returned them.
    const history = await tc.clients.sfn.send(
      new GetExecutionHistoryCommand({ executionArn: ids.rotated, maxResults: 1000 }),
    );
    const events = history.events ?? [];
    const at = events.findIndex((e) => e.stateEnteredEventDetails?.name === 'VerifyRotation');
    const out = events.slice(at).find((e) => e.type === 'LambdaFunctionSucceeded');
    const report = JSON.parse(out?.lambdaFunctionSucceededEventDetails?.output ?? '{}') as {
      checks: { check: string; ok: boolean }[];
    };
    expect(report.checks.length).toBeGreaterThan(2);
    const shown = await page
      .locator('[data-check]')
      .evaluateAll((li) =>
        li.map((x) => ({ check: x.getAttribute('data-check'), ok: x.getAttribute('data-ok') === 'true' })),
      );
    expect(shown).toEqual(report.checks.map((c) => ({ check: c.check, ok: c.ok })));
    // The history beside the graph has every event.
    expect(await page.locator('#history [data-event]').count()).toBe(events.length);
    await page.screenshot({ path: artifact('console-rotation.png'), fullPage: true });
  });

  it('draws a failed rotation: the failing step caught, the failure branch taken, the error shown', async () => {
    await openExecution(ids.failed);
    expect(await attr('[data-state="CreateSecret"]', 'data-status')).toBe('succeeded');
    expect(await attr('[data-state="SetSecret"]', 'data-status')).toBe('caught');
    expect(await attr('[data-state="TestSecret"]', 'data-status')).toBe('not-run');
    expect(await attr('[data-state="PublishRotationFailed"]', 'data-status')).toBe('succeeded');
    expect(await attr('[data-state="RotationFailed"]', 'data-status')).toBe('failed');
    expect(await attr('[data-step="SetSecret"]', 'data-status')).toBe('caught');
    // The path taken is drawn: out of SetSecret through its Catch, not out of the steps before it.
    expect(
      await page.locator('.edge.taken[data-from="SetSecret"][data-to="PublishRotationFailed"]').count(),
    ).toBe(1);
    expect(
      await page.locator('.edge.taken[data-from="CreateSecret"][data-to="PublishRotationFailed"]').count(),
    ).toBe(0);
    expect(await page.locator('.edge.taken[data-from="CreateSecret"][data-to="SetSecret"]').count()).toBe(1);
    const d = await tc.clients.sfn.send(new DescribeExecutionCommand({ executionArn: ids.failed }));
    expect(await text('#execution-error')).toContain(String(d.error));
    await page.screenshot({ path: artifact('console-failed-rotation.png'), fullPage: true });

    await openExecution(ids.repair);
    expect(await text('#repair')).toContain('roll-back');
    expect(await attr('[data-state="RollBackRotation"]', 'data-status')).toBe('succeeded');
    expect(await attr('[data-state="RollForwardRotation"]', 'data-status')).toBe('not-run');
  });

  it('links a repair to the rotation that failed, and a fleet to the executions it started', async () => {
    await openExecution(ids.repair);
    expect(await attr('#links [data-link="failed-rotation"] a', 'data-execution')).toBe(ids.failed);
    await openExecution(ids.fleet);
    const children = await page
      .locator('#links [data-link="child"] a')
      .evaluateAll((as) => as.map((a) => a.getAttribute('data-execution')));
    expect(children.length).toBeGreaterThan(0);
    for (const c of children) expect(c).toContain(':execution:credflow-');
  });

  it('shows a retried state and a running one, and follows the execution live until it ends', async () => {
    let calls = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const flaky = tc.cloud.lambdas.register('consoleFlaky', async () => {
      if (++calls === 1)
        throw Object.assign(new Error('the database did not answer'), { name: 'TransientError' });
      return { ok: true };
    });
    const gated = tc.cloud.lambdas.register('consoleGate', async () => {
      await gate;
      return { ok: true };
    });
    // The machine's role, as one would make it on AWS: it may invoke the two functions.
    Principals.create(
      tc.stateDir,
      'console-check',
      {
        role: true,
        documents: [
          {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [flaky, gated] }],
          },
        ],
      },
      tc.cloud.iam.principals.stack,
    );
    const machine = await tc.clients.sfn.send(
      new CreateStateMachineCommand({
        name: `credflow-${LOCAL_STAGE}-console-check`,
        roleArn: 'arn:aws:iam::000000000000:role/console-check',
        definition: JSON.stringify({
          StartAt: 'FlakyStep',
          States: {
            FlakyStep: {
              Type: 'Task',
              Resource: flaky,
              Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 2 }],
              Next: 'GatedStep',
            },
            GatedStep: { Type: 'Task', Resource: gated, End: true },
          },
        }),
      }),
    );
    const { executionArn } = await tc.clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn: machine.stateMachineArn, input: '{}' }),
    );
    await openExecution(executionArn as string);
    await page.waitForSelector('[data-state="GatedStep"][data-status="running"]', { timeout: 30_000 });
    expect(await attr('[data-state="FlakyStep"]', 'data-status')).toBe('retried');
    expect(await attr('#execution', 'data-status')).toBe('RUNNING');
    await page.screenshot({ path: artifact('console-running.png'), fullPage: true });

    release();
    // No reload: the page polls while the execution runs.
    await page.waitForSelector('#execution[data-status="SUCCEEDED"]', { timeout: 30_000 });
    expect(await attr('[data-state="GatedStep"]', 'data-status')).toBe('succeeded');
    const d = await tc.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(d.status).toBe('SUCCEEDED');
  });

  it('lists the policy log, denied first, filterable by principal, from the navigation', async () => {
    // An application that may read one secret only, made as `credflow iam create-principal` makes it.
    const keys = Principals.create(
      tc.stateDir,
      'console-reader',
      {
        documents: [
          {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ids.app }],
          },
        ],
      },
      tc.cloud.iam.principals.stack,
    );
    const reader = new SecretsManagerClient({
      endpoint: tc.cloud.endpoint,
      region: tc.cloud.region,
      credentials: keys,
      maxAttempts: 1,
    });
    await awsError(
      () => reader.send(new DescribeSecretCommand({ SecretId: ids.ro })),
      'AccessDeniedException',
    );
    await reader.send(new GetSecretValueCommand({ SecretId: ids.app }));
    const readerArn = `arn:aws:iam::${tc.cloud.accountId}:user/console-reader`;

    await page.goto(`${tc.cloud.endpoint}/_credflow/console/`);
    await page.waitForSelector('#secrets');
    await page.click('#nav-policy-log');
    await page.waitForSelector('#policy-log [data-decision]');
    // The denied call comes first, with who, what, on which resource, and that no statement allowed it.
    expect(await attr('[data-decision]', 'data-allowed')).toBe('false');
    expect(await text('[data-decision] [data-col="principal"]')).toBe(readerArn);
    expect(await text('[data-decision] [data-col="action"]')).toBe('secretsmanager:DescribeSecret');
    expect(await text('[data-decision] [data-col="resource"]')).toBe(ids.ro);
    expect(await text('[data-decision] [data-col="by"]')).toBe('no statement allows it');
    expect(await text('#policy-summary')).toMatch(/^\d+ decisions since the cloud started, [1-9]\d* denied/);
    // Denied rows all come before any allowed one.
    const allowed = await page
      .locator('[data-decision]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-allowed')));
    expect(allowed.indexOf('false')).toBe(0);
    if (allowed.includes('true')) expect(allowed.lastIndexOf('false')).toBeLessThan(allowed.indexOf('true'));

    // Filtered by the principal: its two calls only, the denied one first, the allowed read naming its statement.
    await page.fill('#principal-filter', 'user/console-reader');
    await page.press('#principal-filter', 'Enter');
    await page.waitForSelector('#policy-log[data-filter="user/console-reader"]');
    const rows = await page
      .locator('[data-decision]')
      .evaluateAll((trs) =>
        trs.map((r) => [
          r.getAttribute('data-allowed'),
          r.querySelector('[data-col="principal"]')?.textContent,
          r.querySelector('[data-col="action"]')?.textContent,
          r.querySelector('[data-col="by"]')?.textContent,
        ]),
      );
    expect(rows).toEqual([
      ['false', readerArn, 'secretsmanager:DescribeSecret', 'no statement allows it'],
      ['true', readerArn, 'secretsmanager:GetSecretValue', 'console-reader/inline-0 #0'],
    ]);
    await page.screenshot({ path: artifact('console-policy-log.png'), fullPage: true });
  });

  it('the browser reported no error (a CSP violation is one) on any page it opened', () => {
    expect(browserErrors).toEqual([]);
  });

  it('never received a secret value: every version of every secret checked against every response', async () => {
    // One more alert that names a secret, so the scan also covers the alerts view freshly.
    await tc.clients.sns.send(
      new PublishCommand({
        TopicArn: `arn:aws:sns:${tc.cloud.region}:${tc.cloud.accountId}:${alertsTopicName(LOCAL_STAGE)}`,
        Message: `console test: ${ids.app} checked`,
      }),
    );
    await page.goto(`${tc.cloud.endpoint}/_credflow/console/`);
    await page.waitForSelector('[data-alert]');
    const values: string[] = [];
    const list = await tc.clients.secrets.send(
      new ListSecretsCommand({ MaxResults: 100, IncludePlannedDeletion: true }),
    );
    for (const s of list.SecretList ?? []) {
      const versions = await tc.clients.secrets.send(
        new ListSecretVersionIdsCommand({ SecretId: s.ARN, IncludeDeprecated: true }),
      );
      for (const v of versions.Versions ?? []) {
        const got = await tc.clients.secrets.send(
          new GetSecretValueCommand({ SecretId: s.ARN, VersionId: v.VersionId }),
        );
        const password = (JSON.parse(got.SecretString ?? '{}') as { password?: string }).password;
        if (password) values.push(password, JSON.stringify(password).slice(1, -1));
      }
    }
    expect(values.length).toBeGreaterThanOrEqual(8);
    expect(bodies.length).toBeGreaterThan(10);
    expect(bodies.some((b) => b.url.includes('/api/execution'))).toBe(true);
    const dom = await page.content();
    for (const v of values) {
      for (const b of bodies) expect(b.body.includes(v) ? b.url : 'clean').toBe('clean');
      expect(dom.includes(v)).toBe(false);
    }
  });
});

/** A raw request, so Host and cookies are exactly what the test says. */
function get(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(path, tc.cloud.endpoint);
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: url.port, path: url.pathname + url.search, headers }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('console access', () => {
  const host = () => `127.0.0.1:${new URL(tc.cloud.endpoint).port}`;

  it.each([
    '/_credflow/console/',
    '/_credflow/console/console.js',
    '/_credflow/console/api/overview',
    '/_credflow/console/api/policy-log',
  ])('%s: 401 without the token, 403 for a foreign Host even with it, 200 with it', async (path) => {
    expect((await get(path, { host: host() })).status).toBe(401);
    expect((await get(path, { host: host(), cookie: 'credflow_token=wrong' })).status).toBe(401);
    expect(
      (await get(path, { host: 'console.evil.example', authorization: `Bearer ${tc.cloud.token}` })).status,
    ).toBe(403);
    expect(
      (
        await get(path, {
          host: host(),
          origin: 'http://evil.example',
          cookie: `credflow_token=${tc.cloud.token}`,
        })
      ).status,
    ).toBe(403);
    expect((await get(path, { host: host(), cookie: `credflow_token=${tc.cloud.token}` })).status).toBe(200);
  });

  it('refuses anything that is not an execution ARN', async () => {
    const r = await get('/_credflow/console/api/execution?arn=..%2F..%2Fetc', {
      host: host(),
      authorization: `Bearer ${tc.cloud.token}`,
    });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ __type: 'ValidationError' });
  });

  it('refuses a policy log filter that is not a part of an ARN', async () => {
    const r = await get('/_credflow/console/api/policy-log?principal=%3Cscript%3E', {
      host: host(),
      authorization: `Bearer ${tc.cloud.token}`,
    });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ __type: 'ValidationError' });
  });
});
