/**
 * The local EventBridge answers as AWS does where it used to differ (issue 14), through the real
 * SDK: TestEventPattern (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html)
 * with AWS's wording for patterns it refuses, and PutEvents refusing the `aws.*` sources that only
 * AWS services may publish.
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { awsError, type Harness, startLocalCloud } from '../support/cloud';

let h: Harness;
let eb: EventBridgeClient;

beforeAll(async () => {
  h = await startLocalCloud();
  eb = new EventBridgeClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
});
afterAll(async () => {
  eb?.destroy();
  await h?.stop();
});

/** An event in the envelope TestEventPattern requires, with `detail` and overrides. */
function event(detail: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id: '7bf73129-1428-4cd3-a780-95db273d1602',
    'detail-type': 'Secrets Manager Secret Rotation',
    source: 'credflow.test',
    account: '000000000000',
    time: '2026-03-01T12:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
    ...extra,
  });
}

async function matches(pattern: unknown, ev: string): Promise<boolean> {
  const out = await eb.send(
    new TestEventPatternCommand({ EventPattern: JSON.stringify(pattern), Event: ev }),
  );
  return out.Result === true;
}

async function refused(pattern: unknown): Promise<string> {
  const e = await awsError(
    () => eb.send(new TestEventPatternCommand({ EventPattern: JSON.stringify(pattern), Event: event({}) })),
    'InvalidEventPatternException',
  );
  return e.message;
}

describe('TestEventPattern as AWS answers it', () => {
  // Event Ruler (EventBridge's matching engine) flattens field names with '.', so a dotted key and
  // the nested path are one field ("Content filtering in Amazon EventBridge event patterns" and
  // the Event Ruler README).
  it('"state.status" in a pattern is the nested path state -> status, and in an event too', async () => {
    const nested = event({ state: { status: 'FAILED' } });
    const dotted = event({ 'state.status': 'FAILED' });
    expect(await matches({ detail: { 'state.status': ['FAILED'] } }, nested)).toBe(true);
    expect(await matches({ 'detail.state.status': ['FAILED'] }, nested)).toBe(true);
    expect(await matches({ detail: { state: { status: ['FAILED'] } } }, dotted)).toBe(true);
    expect(await matches({ detail: { 'state.status': ['OK'] } }, nested)).toBe(false);
  });

  // Anything-but matching on prefix/suffix: an empty prefix or suffix would exclude every string;
  // EventBridge refuses it.
  it('refuses an empty anything-but prefix or suffix: "Null prefix/suffix not allowed"', async () => {
    for (const form of ['prefix', 'suffix']) {
      expect(await refused({ detail: { name: [{ 'anything-but': { [form]: '' } }] } })).toMatch(
        /Null prefix\/suffix not allowed/,
      );
    }
  });

  // "Wildcard matching ... EventBridge ... returns a 'Rule is too complex' error" for patterns
  // with too many wildcards and repeated sequences (Content filtering, "Wildcard matching").
  it('refuses an over-complex wildcard pattern: "Rule is too complex"', async () => {
    expect(await refused({ detail: { name: [{ wildcard: `${'*a'.repeat(60)}*` }] } })).toMatch(
      /Rule is too complex/,
    );
    // A usual wildcard is fine.
    expect(
      await matches({ detail: { host: [{ wildcard: '*.example.com' }] } }, event({ host: 'db.example.com' })),
    ).toBe(true);
  });

  // TestEventPattern, Event: "The event, in JSON format ... the following fields are mandatory:
  // id, account, source, time, region, resources, detail-type"; otherwise ValidationException.
  it('an event that is not a JSON object or lacks the required fields: "Parameter Event is not valid."', async () => {
    const whole = JSON.parse(event({})) as Record<string, unknown>;
    const { id: _id, ...withoutId } = whole;
    for (const bad of ['[]', '"text"', 'not json', JSON.stringify(withoutId)]) {
      const e = await awsError(
        () => eb.send(new TestEventPatternCommand({ EventPattern: '{"source":["x"]}', Event: bad })),
        'ValidationException',
      );
      expect(e.message).toBe('Parameter Event is not valid.');
    }
  });

  // The wording is Event Ruler's, which EventBridge returns after "Event pattern is not valid. Reason: ".
  it('refuses invalid content filters in AWS wording', async () => {
    expect(await refused({ d: [{ 'anything-but': { 'equals-ignore-case': 5 } }] })).toMatch(
      /Reason: Inside anything-but\/equals-ignore-case list, number\|start\|null\|boolean is not supported\./,
    );
    expect(await refused({ d: [{ prefix: 5 }] })).toMatch(/Reason: prefix match pattern must be a string/);
    expect(await refused({ d: [{ 'anything-but': { suffix: 5 } }] })).toMatch(
      /Reason: prefix\/suffix match pattern must be a string/,
    );
    expect(await refused({ d: [{ wildcard: 5 }] })).toMatch(
      /Reason: wildcard match pattern must be a string/,
    );
    expect(await refused({ d: [{ cidr: '10.0.0.0' }] })).toMatch(/Reason: Malformed CIDR, one '\/' required/);
    expect(await refused({ d: [{ cidr: 'bogus/8' }] })).toMatch(/Reason: Nonstandard IP address: bogus/);
    expect(await refused({ d: [{ cidr: '10.0.0.0/32' }] })).toMatch(/Event pattern is not valid/);
  });
});

describe('PutEvents and the sources of AWS services', () => {
  // PutEvents / PutEventsResultEntry: an entry whose Source starts with "aws." fails on its own
  // with NotAuthorizedForSourceException ("Not authorized for the source."); the rest go through.
  it('refuses a source starting aws. entry by entry (NotAuthorizedForSourceException) and delivers nothing for it', async () => {
    const got: unknown[] = [];
    h.cloud.lambdas.register('aws-source-sink', async (e: unknown) => {
      got.push(e);
      return null;
    });
    await eb.send(
      new PutRuleCommand({
        Name: 'fake-deletions',
        EventPattern: JSON.stringify({ source: ['aws.secretsmanager', 'credflow.test'] }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({
        Rule: 'fake-deletions',
        Targets: [{ Id: 'sink', Arn: h.cloud.lambdas.arn('aws-source-sink'), InputPath: '$.source' }],
      }),
    );
    const out = await eb.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'aws.secretsmanager',
            DetailType: 'AWS API Call via CloudTrail',
            Detail: JSON.stringify({ eventName: 'DeleteSecret', requestParameters: { secretId: 'x' } }),
          },
          { Source: 'credflow.test', DetailType: 't', Detail: '{}' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(1);
    expect(out.Entries?.[0]).toEqual({
      ErrorCode: 'NotAuthorizedForSourceException',
      ErrorMessage: 'Not authorized for the source.',
    });
    expect(out.Entries?.[1]?.EventId).toEqual(expect.any(String));
    // Entries are routed in order: once the second arrived, the first would have too.
    for (let i = 0; i < 200 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    await h.cloud.stepFunctions.awaitIdle();
    expect(got).toEqual(['credflow.test']);
  });
});
