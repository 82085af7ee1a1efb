/**
 * What a restart of the local cloud does with work a crash cut short: interrupted executions of
 * machines tagged as safe to rerun start again (bounded), events stored but never handed to the
 * rules go out again, and a redelivered event never starts its execution twice. The crash is
 * simulated by leaving rows as a kill -9 leaves them (stop() abandons running executions; an
 * event is stored without its delivery being recorded); test/fault/chaos.test.ts does it with
 * real SIGKILLs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListTagsForResourceCommand,
  SFNClient,
  StartExecutionCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-sfn';
import { LocalCloud } from '../../local/cloud';
import { EventLog } from '../../local/events/log';
import { silentLogger } from '../../local/log';
import { Store } from '../../local/store/db';
import { awsError } from '../support/cloud';
import { startCloudProcess } from '../support/cloud-process';
import { eventually } from '../support/eventually';

const role = 'arn:aws:iam::000000000000:role/r';
const RERUN = { rerunTag: 'test:rerun-interrupted' };
const waiting = JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 60, End: true } } });
const quick = JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } });

let dir: string;
let cloud: LocalCloud;
let sfn: SFNClient;

async function open(): Promise<void> {
  cloud = await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger });
  sfn = new SFNClient({ ...cloud.clientConfig(), maxAttempts: 1 });
}

/** Stops the cloud the way a crash leaves it: running executions stay RUNNING in the store. */
async function crash(): Promise<void> {
  sfn.destroy();
  await cloud.stop(10);
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-recovery-'));
  await open();
});

afterEach(async () => {
  sfn.destroy();
  await cloud.stop(10);
  rmSync(dir, { recursive: true, force: true });
});

async function machine(name: string, definition: string, tags: { key: string; value: string }[] = []) {
  const r = await sfn.send(new CreateStateMachineCommand({ name, roleArn: role, definition, tags }));
  return r.stateMachineArn as string;
}

async function executions(stateMachineArn: string) {
  return (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
}

describe('state machine tags', () => {
  it('CreateStateMachine, TagResource, UntagResource and ListTagsForResource keep them as AWS does', async () => {
    const arn = await machine('tagged', quick, [{ key: 'team', value: 'db' }]);
    await sfn.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'env', value: 'dev' }] }));
    await sfn.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'team', value: 'infra' }] }));
    const list = async () => (await sfn.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags;
    expect(await list()).toEqual([
      { key: 'env', value: 'dev' },
      { key: 'team', value: 'infra' },
    ]);
    await sfn.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['env'] }));
    expect(await list()).toEqual([{ key: 'team', value: 'infra' }]);
    // Creating the same machine again is idempotent and leaves its tags alone.
    await machine('tagged', quick, [{ key: 'other', value: 'x' }]);
    expect(await list()).toEqual([{ key: 'team', value: 'infra' }]);
  });

  it('refuses an unknown resource, a bad tag and more than 50 tags, changing nothing', async () => {
    const arn = await machine('limits', quick);
    await awsError(
      () => sfn.send(new ListTagsForResourceCommand({ resourceArn: `${arn}-missing` })),
      'ResourceNotFound',
    );
    await awsError(
      () => sfn.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'a', value: 'no<angle>' }] })),
      'ValidationException',
    );
    const many = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    await sfn.send(new TagResourceCommand({ resourceArn: arn, tags: many }));
    const more = Array.from({ length: 21 }, (_, i) => ({ key: `m${i}`, value: 'v' }));
    await awsError(() => sfn.send(new TagResourceCommand({ resourceArn: arn, tags: more })), 'TooManyTags');
    expect((await sfn.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toHaveLength(30);
  });
});

describe('interrupted executions after a restart', () => {
  it('keep the history of what ran before a kill -9, closed by an ExecutionFailed naming the restart', async () => {
    // This test's cloud is another process, so the kill is a real SIGKILL with nothing flushed.
    sfn.destroy();
    await cloud.stop(10);
    const child = await startCloudProcess(dir);
    const remote = new SFNClient({ ...child.config, maxAttempts: 1 });
    let executionArn: string | undefined;
    try {
      const definition = JSON.stringify({
        StartAt: 'Prepare',
        States: {
          Prepare: { Type: 'Pass', Result: { step: 1 }, Next: 'Hold' },
          Hold: { Type: 'Wait', Seconds: 600, End: true },
        },
      });
      // That cloud deploys serverless.yml and enforces IAM: a role the stack made, which trusts
      // Step Functions (a made-up role would be refused, as on AWS).
      const stackRole = 'arn:aws:iam::000000000000:role/credflow-local-VerifyCredentialsStateMachineRole';
      const sm = await remote.send(
        new CreateStateMachineCommand({ name: 'cut', roleArn: stackRole, definition }),
      );
      ({ executionArn } = await remote.send(
        new StartExecutionCommand({ stateMachineArn: sm.stateMachineArn, name: 'cut-1', input: '{}' }),
      ));
      await eventually('the execution reached its Wait state', async () =>
        ((await remote.send(new GetExecutionHistoryCommand({ executionArn }))).events ?? []).some(
          (e) => e.type === 'WaitStateEntered',
        ),
      );
    } finally {
      remote.destroy();
      await child.crash();
    }
    await open();
    expect(cloud.stepFunctions.recoverInterrupted()).toBe(1);
    const events = (await sfn.send(new GetExecutionHistoryCommand({ executionArn }))).events ?? [];
    expect(events.map((e) => [e.id, e.previousEventId, e.type])).toEqual([
      [1, 0, 'ExecutionStarted'],
      [2, 0, 'PassStateEntered'],
      [3, 2, 'PassStateExited'],
      [4, 3, 'WaitStateEntered'],
      [5, 4, 'ExecutionFailed'],
    ]);
    expect(events[2]?.stateExitedEventDetails).toMatchObject({ name: 'Prepare', output: '{"step":1}' });
    expect(events[4]?.executionFailedEventDetails).toEqual({
      error: 'States.Runtime',
      cause: 'The local cloud stopped while this execution was running (local cloud restarted)',
    });
    // Stored with the stopped execution: the next start shows the same history.
    await crash();
    await open();
    const again = (await sfn.send(new GetExecutionHistoryCommand({ executionArn }))).events ?? [];
    expect(again.map((e) => e.type)).toEqual(events.map((e) => e.type));
  }, 120_000);

  it('reruns those of a tagged machine from the start with the same input, and only fails the others', async () => {
    const repair = await machine('repair', waiting, [{ key: RERUN.rerunTag, value: 'true' }]);
    const plain = await machine('plain', waiting);
    const a = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: repair, name: 'fix-1', input: '{"secretId":"s1"}' }),
    );
    const b = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: plain, name: 'other-1', input: '{}' }),
    );
    await crash();
    await open();
    expect(cloud.stepFunctions.recoverInterrupted(RERUN)).toBe(2);
    const first = await sfn.send(new DescribeExecutionCommand({ executionArn: a.executionArn }));
    expect(first).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
    expect(first.cause).toContain('started again as fix-1-rerun-1');
    const rerun = await sfn.send(
      new DescribeExecutionCommand({ executionArn: a.executionArn?.replace(/fix-1$/, 'fix-1-rerun-1') }),
    );
    expect(rerun).toMatchObject({ status: 'RUNNING', input: '{"secretId":"s1"}' });
    // The FAILED event still goes out, so rules on it (the rotate-secret failure rule) fire as before.
    const failed = cloud.events
      .list({ source: 'aws.states' })
      .filter((e) => e.detail['status'] === 'FAILED')
      .map((e) => e.detail['name']);
    expect(failed.sort()).toEqual(['fix-1', 'other-1']);
    expect((await executions(plain)).map((e) => [e.name, e.status])).toEqual([['other-1', 'FAILED']]);
    expect(
      (await sfn.send(new DescribeExecutionCommand({ executionArn: b.executionArn }))).cause,
    ).not.toContain('started again');
  });

  it('gives up after three reruns, so a run that kills the cloud every time cannot loop', async () => {
    const repair = await machine('repair', waiting, [{ key: RERUN.rerunTag, value: 'true' }]);
    await sfn.send(new StartExecutionCommand({ stateMachineArn: repair, name: 'fix-2' }));
    for (let attempt = 1; attempt <= 3; attempt++) {
      await crash();
      await open();
      cloud.stepFunctions.recoverInterrupted(RERUN);
      const running = (await executions(repair)).filter((e) => e.status === 'RUNNING').map((e) => e.name);
      expect(running).toEqual([`fix-2-rerun-${attempt}`]);
    }
    await crash();
    await open();
    expect(cloud.stepFunctions.recoverInterrupted(RERUN)).toBe(1);
    const all = await executions(repair);
    expect(all.filter((e) => e.status === 'RUNNING')).toEqual([]);
    expect(all).toHaveLength(4);
  });

  it('keeps an over-long name within 80 characters', async () => {
    const repair = await machine('repair', waiting, [{ key: RERUN.rerunTag, value: 'true' }]);
    const name = 'n'.repeat(80);
    await sfn.send(new StartExecutionCommand({ stateMachineArn: repair, name }));
    await crash();
    await open();
    cloud.stepFunctions.recoverInterrupted(RERUN);
    const rerun = (await executions(repair)).find((e) => e.status === 'RUNNING');
    expect(rerun?.name).toBe(`${'n'.repeat(72)}-rerun-1`);
  });
});

describe('events a crash kept from the rules', () => {
  async function ruleStarting(stateMachineArn: string): Promise<void> {
    cloud.eventBridge.putRule({ Name: 'r', EventPattern: JSON.stringify({ source: ['test.crash'] }) });
    cloud.eventBridge.putTargets({ Rule: 'r', Targets: [{ Id: 't', Arn: stateMachineArn }] });
  }

  it('are delivered on the next start, once, within 24 hours only', async () => {
    const target = await machine('target', quick);
    await ruleStarting(target);
    await crash();
    // What a kill -9 between storing and delivering leaves: the events, never handed over.
    const store = Store.open(dir);
    const log = new EventLog(store, { region: 'us-east-1', accountId: '000000000000' }, silentLogger);
    log.publish({ source: 'test.crash', 'detail-type': 'Lost', detail: { n: 1 } });
    log.publish({ source: 'test.crash', 'detail-type': 'Lost', detail: { n: 2 } });
    store.db
      .prepare('UPDATE events SET ingested_ms = ? WHERE body LIKE \'%"n":2%\'')
      .run(Date.now() - 25 * 3_600_000);
    store.close();
    await open();
    expect(await executions(target)).toEqual([]);
    expect(cloud.events.redeliverPending()).toBe(1);
    await eventually('the redelivered event started its execution', async () =>
      (await executions(target)).some((e) => e.status === 'SUCCEEDED'),
    );
    await cloud.events.awaitDrained();
    await cloud.stepFunctions.awaitIdle();
    const started = await executions(target);
    expect(started.map((e) => e.status)).toEqual(['SUCCEEDED']);
    const input = (await sfn.send(new DescribeExecutionCommand({ executionArn: started[0]?.executionArn })))
      .input;
    expect(JSON.parse(input ?? '{}').detail).toEqual({ n: 1 });
    // Delivered now: the next start has nothing to redeliver.
    await crash();
    await open();
    expect(cloud.events.redeliverPending()).toBe(0);
  });

  it('are kept for the next start when the cloud is stopping and cannot start their target', async () => {
    const target = await machine('target', quick);
    await ruleStarting(target);
    await cloud.stepFunctions.stop(10);
    cloud.events.publish({ source: 'test.crash', 'detail-type': 'DuringShutdown', detail: {} });
    // The delivery was tried (and refused: the cloud is stopping) before the crash.
    await cloud.events.awaitDrained();
    await crash();
    await open();
    expect(cloud.events.redeliverPending()).toBe(1);
    await eventually('the redelivered event started its execution', async () =>
      (await executions(target)).some((e) => e.status === 'SUCCEEDED'),
    );
    await cloud.events.awaitDrained();
    await cloud.stepFunctions.awaitIdle();
    expect((await executions(target)).map((e) => e.status)).toEqual(['SUCCEEDED']);
  });

  it('started their execution already if the crash came after the start: a redelivery starts nothing new', async () => {
    const target = await machine('target', waiting);
    await ruleStarting(target);
    const e = cloud.events.publish({ source: 'test.crash', 'detail-type': 'Once', detail: {} });
    await eventually('the event started its execution', async () => (await executions(target)).length > 0);
    await cloud.events.awaitDrained();
    expect(await executions(target)).toHaveLength(1);
    // The kill came before the delivery was recorded.
    cloud.store.db.prepare('UPDATE events SET delivered_ms = NULL WHERE id = ?').run(e.id);
    await crash();
    await open();
    cloud.stepFunctions.recoverInterrupted();
    expect(cloud.events.redeliverPending()).toBe(1);
    // Handed over again, and the rule's target refused the duplicate start.
    await cloud.events.awaitDrained();
    await cloud.stepFunctions.awaitIdle();
    const all = await executions(target);
    expect(all.map((x) => x.status)).toEqual(['FAILED']);
  });
});
