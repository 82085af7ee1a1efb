/**
 * The examples of the Amazon EventBridge User Guide the pattern tests run: each page's patterns
 * against the events it prints (verbatim apart from whitespace) or events made up for them.
 */
import {
  compilePattern,
  type EventMatcher,
  parsePatternJson,
  validatePattern,
} from '../../../../local/eventbridge/pattern';

// Pages of the Amazon EventBridge User Guide the cases come from.
export const PATTERNS = 'Event patterns';
export const SYNTAX = 'Event pattern syntax';
export const ARRAYS = 'Arrays in event patterns';
export const NULLS = 'Matching null values and empty strings';
export const FILTERING = 'Content filtering in event patterns';
export const OPERATORS = 'Comparison operators (summary table)';

// Events printed in the docs, verbatim apart from whitespace. The docs' exists example omits a comma
// after `"state": [...]`; it is added here so the text parses.
export const EC2_TERMINATED = `{
  "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
  "detail": { "instance-id": "i-1234567890abcdef0", "state": "terminated" }
}`;
export const EC2_PENDING = `{
  "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
  "detail": { "instance-id": "i-abcd1111", "state": "pending" }
}`;
export const C_COUNT_OBJECT = `{
  "detail-type": [ "EC2 Instance State-change Notification" ],
  "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341" ],
  "detail": { "state": [ "initializing", "running" ], "c-count" : { "c1" : 100 } }
}`;
export const NO_C_COUNT = `{
  "detail-type": [ "EC2 Instance State-change Notification" ],
  "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341" ],
  "detail": { "state": [ "initializing", "running" ] }
}`;
export const ONLY_C_COUNT_OBJECT = `{
  "detail-type": [ "EC2 Instance State-change Notification" ],
  "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341" ],
  "detail": { "c-count" : { "c1" : 100 } }
}`;
export const AUTOSCALING_NULLS = `{
  "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
  "detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling",
  "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
  "resources": [ ],
  "detail": { "eventVersion": "", "responseElements": null }
}`;
export const ASG_RESOURCES = `{ "resources": [
  "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
  "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"
] }`;

// The docs print these patterns without an event; the numeric and $or ones are checked against
// the sample event of Event Ruler's README (the engine behind EventBridge): c-count 5, d-count 3,
// x-limit 301.8, source-ip 10.0.0.33.
export const NUMERIC = `{ "detail": {
  "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ],
  "d-count": [ { "numeric": [ "<", 10 ] } ],
  "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ]
} }`;
export const COMPLEX = `{
  "time": [ { "prefix": "2017-10-02" } ],
  "detail": {
    "state": [ { "anything-but": "initializing" } ],
    "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ],
    "d-count": [ { "numeric": [ "<", 10 ] } ],
    "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ]
  }
}`;
export const OR_NUMERIC = `{ "detail": { "$or": [
  { "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ] },
  { "d-count": [ { "numeric": [ "<", 10 ] } ] },
  { "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ] }
] } }`;
export const OR_SOURCE = `{
  "source": [ "aws.cloudwatch" ],
  "$or": [
    { "metricName": [ "CPUUtilization", "ReadLatency" ] },
    { "namespace": [ "AWS/EC2", "AWS/ES" ] }
  ]
}`;
export const OR_NESTED = `{
  "source": [ "aws.cloudwatch" ],
  "$or": [
    { "metricName": [ "CPUUtilization", "ReadLatency" ] },
    {
      "metricType": [ "MetricType" ],
      "namespace": [ "AWS/EC2", "AWS/ES" ],
      "$or": [ { "metricId": [ 1234 ] }, { "spaceId": [ 1000 ] } ]
    },
    { "scope": [ "Service" ] }
  ]
}`;
export const RULER_SAMPLE = {
  time: '2017-10-02T16:24:49Z',
  detail: { 'c-count': 5, 'd-count': 3, 'x-limit': 301.8, 'source-ip': '10.0.0.33', state: 'running' },
};
export const withDetail = (changes: Record<string, unknown>) => ({
  ...RULER_SAMPLE,
  detail: { ...RULER_SAMPLE.detail, ...changes },
});

export interface DocCase {
  page: string;
  pattern: string;
  /** JSON text when the docs print the event, an object when we made it up for the pattern. */
  event: string | Record<string, unknown>;
  matches: boolean;
  why: string;
}

export const doc = (
  page: string,
  pattern: string,
  event: DocCase['event'],
  matches: boolean,
  why: string,
): DocCase => ({
  page,
  pattern,
  event,
  matches,
  why,
});

// Compile once per pattern text, the way PutRule stores a rule and PutEvents reuses it.
const compiled = new Map<string, EventMatcher>();
export function matcherFor(pattern: string): EventMatcher {
  let matcher = compiled.get(pattern);
  if (!matcher) {
    matcher = compilePattern(parsePatternJson(pattern));
    compiled.set(pattern, matcher);
  }
  return matcher;
}

/**
 * One test per documented case (the pattern, compiled as PutRule stores it, against the event),
 * and one that PutRule's validation accepts every pattern of them.
 */
export function itMatchesAsDocumented(cases: readonly DocCase[]): void {
  it('accepts every documented pattern', () => {
    for (const c of cases) expect(() => validatePattern(JSON.parse(c.pattern))).not.toThrow();
  });

  it.each(cases.map((c) => [`${c.page}: ${c.matches ? 'matches' : 'does not match'} ${c.why}`, c] as const))(
    '%s',
    (_title, c) => {
      const event = typeof c.event === 'string' ? JSON.parse(c.event) : c.event;
      expect(matcherFor(c.pattern)(event)).toBe(c.matches);
    },
  );
}
