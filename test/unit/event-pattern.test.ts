import {
  compilePattern,
  type EventMatcher,
  InvalidEventPatternError,
  matchesPattern,
  parsePatternJson,
  validatePattern,
} from '../../local/eventbridge/pattern';

// Pages of the Amazon EventBridge User Guide the cases come from.
const PATTERNS = 'Event patterns';
const SYNTAX = 'Event pattern syntax';
const ARRAYS = 'Arrays in event patterns';
const NULLS = 'Matching null values and empty strings';
const FILTERING = 'Content filtering in event patterns';
const OPERATORS = 'Comparison operators (summary table)';

// Events printed in the docs, verbatim apart from whitespace. The docs' exists example omits a comma
// after `"state": [...]`; it is added here so the text parses.
const EC2_TERMINATED = `{
  "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
  "detail": { "instance-id": "i-1234567890abcdef0", "state": "terminated" }
}`;
const EC2_PENDING = `{
  "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
  "detail": { "instance-id": "i-abcd1111", "state": "pending" }
}`;
const C_COUNT_OBJECT = `{
  "detail-type": [ "EC2 Instance State-change Notification" ],
  "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341" ],
  "detail": { "state": [ "initializing", "running" ], "c-count" : { "c1" : 100 } }
}`;
const NO_C_COUNT = `{
  "detail-type": [ "EC2 Instance State-change Notification" ],
  "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341" ],
  "detail": { "state": [ "initializing", "running" ] }
}`;
const ONLY_C_COUNT_OBJECT = `{
  "detail-type": [ "EC2 Instance State-change Notification" ],
  "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341" ],
  "detail": { "c-count" : { "c1" : 100 } }
}`;
const AUTOSCALING_NULLS = `{
  "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
  "detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling",
  "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
  "resources": [ ],
  "detail": { "eventVersion": "", "responseElements": null }
}`;
const ASG_RESOURCES = `{ "resources": [
  "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
  "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"
] }`;

// The docs print these patterns without an event; the numeric and $or ones are checked against
// the sample event of Event Ruler's README (the engine behind EventBridge): c-count 5, d-count 3,
// x-limit 301.8, source-ip 10.0.0.33.
const NUMERIC = `{ "detail": {
  "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ],
  "d-count": [ { "numeric": [ "<", 10 ] } ],
  "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ]
} }`;
const COMPLEX = `{
  "time": [ { "prefix": "2017-10-02" } ],
  "detail": {
    "state": [ { "anything-but": "initializing" } ],
    "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ],
    "d-count": [ { "numeric": [ "<", 10 ] } ],
    "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ]
  }
}`;
const OR_NUMERIC = `{ "detail": { "$or": [
  { "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ] },
  { "d-count": [ { "numeric": [ "<", 10 ] } ] },
  { "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ] }
] } }`;
const OR_SOURCE = `{
  "source": [ "aws.cloudwatch" ],
  "$or": [
    { "metricName": [ "CPUUtilization", "ReadLatency" ] },
    { "namespace": [ "AWS/EC2", "AWS/ES" ] }
  ]
}`;
const OR_NESTED = `{
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
const RULER_SAMPLE = {
  time: '2017-10-02T16:24:49Z',
  detail: { 'c-count': 5, 'd-count': 3, 'x-limit': 301.8, 'source-ip': '10.0.0.33', state: 'running' },
};
const withDetail = (changes: Record<string, unknown>) => ({
  ...RULER_SAMPLE,
  detail: { ...RULER_SAMPLE.detail, ...changes },
});

interface DocCase {
  page: string;
  pattern: string;
  /** JSON text when the docs print the event, an object when we made it up for the pattern. */
  event: string | Record<string, unknown>;
  matches: boolean;
  why: string;
}

const doc = (
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

const DOC_CASES: DocCase[] = [
  // Event patterns: the EC2 instance-termination example
  doc(
    PATTERNS,
    `{ "source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], "detail": { "state": ["terminated"] } }`,
    EC2_TERMINATED,
    true,
    'the documented EC2 event',
  ),
  doc(
    PATTERNS,
    `{ "source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], "detail": { "state": ["terminated"] } }`,
    EC2_PENDING,
    false,
    'a pending instance',
  ),
  doc(SYNTAX, `{ "source": ["aws.ec2", "aws.fargate"] }`, EC2_TERMINATED, true, 'one of several values'),
  doc(SYNTAX, `{ "source": ["aws.ec2", "aws.fargate"] }`, { source: 'aws.s3' }, false, 'none of the values'),

  // Arrays
  doc(
    ARRAYS,
    `{ "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f", "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f" ] }`,
    ASG_RESOURCES,
    true,
    'an event array intersecting the pattern array',
  ),
  doc(
    ARRAYS,
    `{ "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f", "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f" ] }`,
    { resources: ['arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f'] },
    false,
    'a disjoint event array',
  ),

  // Null values and empty strings
  doc(NULLS, `{ "detail": { "eventVersion": [""] } }`, AUTOSCALING_NULLS, true, 'an empty string with [""]'),
  doc(NULLS, `{ "detail": { "responseElements": [null] } }`, AUTOSCALING_NULLS, true, 'null with [null]'),
  doc(
    NULLS,
    `{ "detail": { "eventVersion": [null] } }`,
    AUTOSCALING_NULLS,
    false,
    'an empty string with [null]',
  ),
  doc(NULLS, `{ "detail": { "responseElements": [""] } }`, AUTOSCALING_NULLS, false, 'null with [""]'),

  // Prefix
  doc(
    FILTERING,
    `{ "time": [ { "prefix": "2017-10-02" } ] }`,
    { time: '2017-10-02T18:43:48Z' },
    true,
    'prefix: "2017-10-02T18:43:48Z"',
  ),
  doc(FILTERING, `{ "time": [ { "prefix": "2017-10-02" } ] }`, EC2_TERMINATED, false, 'prefix: another day'),
  doc(
    FILTERING,
    `{ "detail": {"service" : [{ "prefix": { "equals-ignore-case": "EventB" }}]} }`,
    { detail: { service: 'EventBridge' } },
    true,
    'prefix ignoring case: EventBridge',
  ),
  doc(
    FILTERING,
    `{ "detail": {"service" : [{ "prefix": { "equals-ignore-case": "EventB" }}]} }`,
    { detail: { service: 'EVENTBRIDGE' } },
    true,
    'prefix ignoring case: EVENTBRIDGE',
  ),
  doc(
    FILTERING,
    `{ "detail": {"service" : [{ "prefix": { "equals-ignore-case": "EventB" }}]} }`,
    { detail: { service: 'Lambda' } },
    false,
    'prefix ignoring case: another service',
  ),

  // Suffix
  doc(
    FILTERING,
    `{ "FileName": [ { "suffix": ".png" } ] }`,
    { FileName: 'image.png' },
    true,
    'suffix: image.png',
  ),
  doc(
    FILTERING,
    `{ "FileName": [ { "suffix": ".png" } ] }`,
    { FileName: 'image.PNG' },
    false,
    'suffix is case-sensitive',
  ),
  doc(
    FILTERING,
    `{ "detail": {"FileName" : [{ "suffix": { "equals-ignore-case": ".png" }}]} }`,
    { detail: { FileName: 'image.PNG' } },
    true,
    'suffix ignoring case: image.PNG',
  ),
  doc(
    FILTERING,
    `{ "detail": {"FileName" : [{ "suffix": { "equals-ignore-case": ".png" }}]} }`,
    { detail: { FileName: 'image.jpg' } },
    false,
    'suffix ignoring case: image.jpg',
  ),

  // Anything-but
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": "initializing" } ] } }`,
    EC2_PENDING,
    true,
    'anything-but string: pending',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": "initializing" } ] } }`,
    { detail: { state: 'initializing' } },
    false,
    'anything-but string: the excluded value',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": "initializing" } ] } }`,
    { detail: { 'instance-id': 'i-abcd1111' } },
    false,
    'anything-but: the field is missing',
  ),
  doc(
    FILTERING,
    `{ "detail": { "x-limit": [ { "anything-but": 123 } ] } }`,
    { detail: { 'x-limit': 456 } },
    true,
    'anything-but number: 456',
  ),
  doc(
    FILTERING,
    `{ "detail": { "x-limit": [ { "anything-but": 123 } ] } }`,
    { detail: { 'x-limit': 123 } },
    false,
    'anything-but number: 123',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": [ "stopped", "overloaded" ] } ] } }`,
    { detail: { state: 'running' } },
    true,
    'anything-but string list: running',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": [ "stopped", "overloaded" ] } ] } }`,
    { detail: { state: 'overloaded' } },
    false,
    'anything-but string list: overloaded',
  ),
  doc(
    FILTERING,
    `{ "detail": { "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ] } }`,
    RULER_SAMPLE,
    true,
    'anything-but number list: 301.8',
  ),
  doc(
    FILTERING,
    `{ "detail": { "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ] } }`,
    withDetail({ 'x-limit': 200 }),
    false,
    'anything-but number list: 200',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": { "prefix": "init" } } ] } }`,
    RULER_SAMPLE,
    true,
    'anything-but prefix: running',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": { "prefix": "init" } } ] } }`,
    { detail: { state: 'initializing' } },
    false,
    'anything-but prefix: initializing',
  ),
  doc(
    FILTERING,
    `{ "detail": { "FileName": [ { "anything-but": { "suffix": ".txt" } } ] } }`,
    { detail: { FileName: 'photo.png' } },
    true,
    'anything-but suffix: photo.png',
  ),
  doc(
    FILTERING,
    `{ "detail": { "FileName": [ { "anything-but": { "suffix": ".txt" } } ] } }`,
    { detail: { FileName: 'notes.txt' } },
    false,
    'anything-but suffix: notes.txt',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": { "equals-ignore-case": "initializing" } } ] } }`,
    { detail: { state: 'INITIALIZING' } },
    false,
    'anything-but ignoring case: INITIALIZING',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": { "equals-ignore-case": "initializing" } } ] } }`,
    RULER_SAMPLE,
    true,
    'anything-but ignoring case: running',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": { "equals-ignore-case": ["Stopped", "OverLoaded"] } } ] } }`,
    { detail: { state: 'stopped' } },
    false,
    'anything-but ignoring case list: stopped',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "anything-but": { "equals-ignore-case": ["Stopped", "OverLoaded"] } } ] } }`,
    RULER_SAMPLE,
    true,
    'anything-but ignoring case list: running',
  ),
  doc(
    FILTERING,
    `{ "detail": { "FilePath": [ { "anything-but": { "wildcard": "*/lib/*" } } ] } }`,
    { detail: { FilePath: '/usr/lib/libc.so' } },
    false,
    'anything-but wildcard: a path through /lib/',
  ),
  doc(
    FILTERING,
    `{ "detail": { "FilePath": [ { "anything-but": { "wildcard": "*/lib/*" } } ] } }`,
    { detail: { FilePath: '/usr/bin/env' } },
    true,
    'anything-but wildcard: another path',
  ),
  doc(
    FILTERING,
    `{ "detail": { "FilePath": [ { "anything-but": { "wildcard": ["*/lib/*", "*/bin/*"] } } ] } }`,
    { detail: { FilePath: '/usr/bin/env' } },
    false,
    'anything-but wildcard list: /usr/bin/env',
  ),
  doc(
    FILTERING,
    `{ "detail": { "FilePath": [ { "anything-but": { "wildcard": ["*/lib/*", "*/bin/*"] } } ] } }`,
    { detail: { FilePath: '/etc/hosts' } },
    true,
    'anything-but wildcard list: /etc/hosts',
  ),

  // Numeric
  doc(FILTERING, NUMERIC, RULER_SAMPLE, true, 'numeric: every field within its range'),
  doc(FILTERING, NUMERIC, withDetail({ 'c-count': 0 }), false, 'numeric: c-count 0 is not > 0'),
  doc(FILTERING, NUMERIC, withDetail({ 'd-count': 10 }), false, 'numeric: d-count 10 is not < 10'),
  doc(
    FILTERING,
    NUMERIC,
    withDetail({ 'x-limit': '301.8' }),
    false,
    'numeric: a string is not a JSON number',
  ),
  doc(
    FILTERING,
    NUMERIC,
    withDetail({ 'c-count': 5.0, 'x-limit': 3.018e2 }),
    true,
    'numeric: 5.0 and 3.018e2 compared as numbers',
  ),

  // IP addresses
  doc(
    FILTERING,
    `{ "detail": { "sourceIPAddress": [ { "cidr": "10.0.0.0/24" } ] } }`,
    { detail: { sourceIPAddress: '10.0.0.255' } },
    true,
    'cidr: 10.0.0.255 is in 10.0.0.0/24',
  ),
  doc(
    FILTERING,
    `{ "detail": { "sourceIPAddress": [ { "cidr": "10.0.0.0/24" } ] } }`,
    { detail: { sourceIPAddress: '10.0.1.1' } },
    false,
    'cidr: 10.0.1.1 is outside',
  ),
  doc(
    FILTERING,
    `{ "detail": { "sourceIPAddress": [ { "cidr": "2001:db8::/64" } ] } }`,
    { detail: { sourceIPAddress: '2001:db8::1' } },
    true,
    'cidr IPv6: inside',
  ),
  doc(
    FILTERING,
    `{ "detail": { "sourceIPAddress": [ { "cidr": "2001:db8::/64" } ] } }`,
    { detail: { sourceIPAddress: '2001:db8:0:1::1' } },
    false,
    'cidr IPv6: next /64',
  ),

  // Exists
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "exists": true } ] } }`,
    EC2_PENDING,
    true,
    'exists true: detail.state is there',
  ),
  doc(
    FILTERING,
    `{ "detail": { "state": [ { "exists": true } ] } }`,
    ONLY_C_COUNT_OBJECT,
    false,
    'exists true: no detail.state',
  ),
  doc(
    FILTERING,
    `{ "detail": { "c-count": [ { "exists": false } ] } }`,
    NO_C_COUNT,
    true,
    'exists false: no detail.c-count',
  ),
  doc(
    FILTERING,
    `{ "detail": { "c-count": [ { "exists": false } ] } }`,
    C_COUNT_OBJECT,
    true,
    'exists false: c-count is not a leaf',
  ),
  doc(
    FILTERING,
    `{ "detail": { "c-count": [ { "exists": false } ] } }`,
    RULER_SAMPLE,
    false,
    'exists false: c-count is 5',
  ),

  // Equals-ignore-case
  doc(
    FILTERING,
    `{ "detail-type": [ { "equals-ignore-case": "ec2 instance state-change notification" } ] }`,
    EC2_TERMINATED,
    true,
    'equals-ignore-case: other casing',
  ),
  doc(
    FILTERING,
    `{ "detail-type": [ { "equals-ignore-case": "ec2 instance state-change notification" } ] }`,
    { 'detail-type': 'EC2 Spot Instance Interruption Warning' },
    false,
    'equals-ignore-case: other text',
  ),

  // Wildcard
  doc(
    FILTERING,
    `{ "EventBusArn": [ { "wildcard": "arn:aws:events:us-east-1:*:event-bus/*" } ] }`,
    { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/default' },
    true,
    'wildcard: any account, any bus',
  ),
  doc(
    FILTERING,
    `{ "EventBusArn": [ { "wildcard": "arn:aws:events:us-east-1:*:event-bus/*" } ] }`,
    { EventBusArn: 'arn:aws:events:us-west-2:123456789012:event-bus/default' },
    false,
    'wildcard: another region',
  ),
  doc(
    FILTERING,
    `{ "Title": [ { "wildcard": "Sale\\\\*" } ] }`,
    { Title: 'Sale*' },
    true,
    'wildcard: \\* is a literal star',
  ),
  doc(
    FILTERING,
    `{ "Title": [ { "wildcard": "Sale\\\\*" } ] }`,
    { Title: 'Sale now' },
    false,
    'wildcard: \\* matches nothing else',
  ),

  // Complex examples and $or
  doc(FILTERING, COMPLEX, RULER_SAMPLE, true, 'complex example: every condition holds'),
  doc(FILTERING, COMPLEX, withDetail({ state: 'initializing' }), false, 'complex example: state is excluded'),
  doc(FILTERING, OR_NUMERIC, withDetail({ 'c-count': 0, 'd-count': 20 }), true, '$or: only x-limit holds'),
  doc(
    FILTERING,
    OR_NUMERIC,
    withDetail({ 'c-count': 0, 'd-count': 20, 'x-limit': 100 }),
    false,
    '$or: no branch holds',
  ),
  doc(
    FILTERING,
    OR_SOURCE,
    { source: 'aws.cloudwatch', namespace: 'AWS/EC2' },
    true,
    '$or with a common field: namespace branch',
  ),
  doc(
    FILTERING,
    OR_SOURCE,
    { source: 'aws.cloudwatch', metricName: 'NetworkIn', namespace: 'AWS/Lambda' },
    false,
    '$or with a common field: neither branch',
  ),
  doc(
    FILTERING,
    OR_SOURCE,
    { source: 'aws.ec2', metricName: 'CPUUtilization' },
    false,
    '$or with a common field: the common field fails',
  ),
  doc(
    FILTERING,
    OR_NESTED,
    { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/ES', spaceId: 1000 },
    true,
    'nested $or: inner branch holds',
  ),
  doc(
    FILTERING,
    OR_NESTED,
    { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/ES', spaceId: 999 },
    false,
    'nested $or: inner branch fails',
  ),

  // The summary table of comparison operators
  doc(
    OPERATORS,
    `{ "Location": [ "New York" ], "Day": ["Monday"] }`,
    { Location: 'New York', Day: 'Monday' },
    true,
    'And: both fields',
  ),
  doc(
    OPERATORS,
    `{ "Location": [ "New York" ], "Day": ["Monday"] }`,
    { Location: 'New York', Day: 'Tuesday' },
    false,
    'And: one field only',
  ),
  doc(
    OPERATORS,
    `{ "PaymentType": [ "Credit", "Debit"] }`,
    { PaymentType: 'Debit' },
    true,
    'Or on values: Debit',
  ),
  doc(
    OPERATORS,
    `{ "PaymentType": [ "Credit", "Debit"] }`,
    { PaymentType: 'Cash' },
    false,
    'Or on values: Cash',
  ),
  doc(
    OPERATORS,
    `{ "$or": [ { "Location": [ "New York" ] }, { "Day": [ "Monday" ] } ] }`,
    { Location: 'Paris', Day: 'Monday' },
    true,
    'Or on fields: Monday in Paris',
  ),
  doc(
    OPERATORS,
    `{ "$or": [ { "Location": [ "New York" ] }, { "Day": [ "Monday" ] } ] }`,
    { Location: 'Paris', Day: 'Friday' },
    false,
    'Or on fields: neither',
  ),
  doc(OPERATORS, `{ "Name": [ "Alice" ] }`, { Name: 'alice' }, false, 'Equals is case-sensitive'),
  doc(
    OPERATORS,
    `{ "Name": [ { "equals-ignore-case": "alice" } ] }`,
    { Name: 'Alice' },
    true,
    'Equals (ignore case)',
  ),
  doc(OPERATORS, `{ "Price": [ 100 ] }`, { Price: 100 }, true, 'Numeric (equals): 100'),
  doc(OPERATORS, `{ "Price": [ 100 ] }`, { Price: '100' }, false, 'Numeric (equals): the string "100"'),
  doc(
    OPERATORS,
    `{ "Price": [ { "numeric": [ ">", 10, "<=", 20 ] } ] }`,
    { Price: 20 },
    true,
    'Numeric (range): 20 is <= 20',
  ),
  doc(
    OPERATORS,
    `{ "Price": [ { "numeric": [ ">", 10, "<=", 20 ] } ] }`,
    { Price: 10 },
    false,
    'Numeric (range): 10 is not > 10',
  ),
  doc(OPERATORS, `{ "UserID": [ null ] }`, { UserID: null }, true, 'Null: null'),
  doc(OPERATORS, `{ "UserID": [ null ] }`, {}, false, 'Null: a missing field is not null'),
  doc(OPERATORS, `{ "LastName": [""] }`, { LastName: '' }, true, 'Empty: ""'),
  doc(OPERATORS, `{ "LastName": [""] }`, { LastName: null }, false, 'Empty: null is not ""'),
  doc(
    OPERATORS,
    `{ "ProductName": [ { "exists": true } ] }`,
    { ProductName: 'Widget' },
    true,
    'Exists: present',
  ),
  doc(
    OPERATORS,
    `{ "ProductName": [ { "exists": false } ] }`,
    { Price: 100 },
    true,
    'Does not exist: absent',
  ),
  doc(
    OPERATORS,
    `{ "Weather": [ { "anything-but": [ "Raining" ] } ] }`,
    { Weather: 'Sunny' },
    true,
    'Not: Sunny',
  ),
  doc(
    OPERATORS,
    `{ "Weather": [ { "anything-but": [ "Raining" ] } ] }`,
    { Weather: 'Raining' },
    false,
    'Not: Raining',
  ),
  doc(
    OPERATORS,
    `{ "Region": [ {"prefix": "us-" } ] }`,
    { Region: 'us-east-1' },
    true,
    'Begins with: us-east-1',
  ),
  doc(
    OPERATORS,
    `{ "Region": [ { "anything-but": {"prefix": "us-" } } ] }`,
    { Region: 'eu-west-1' },
    true,
    'Anything-but (begins with): eu-west-1',
  ),
  doc(
    OPERATORS,
    `{ "Region": [ { "anything-but": {"prefix": "us-" } } ] }`,
    { Region: 'us-east-1' },
    false,
    'Anything-but (begins with): us-east-1',
  ),
  doc(
    OPERATORS,
    `{ "FileName": [ { "anything-but": { "suffix": ".png" } } ] }`,
    { FileName: 'image.png' },
    false,
    'Anything-but (ends with): image.png',
  ),
  doc(
    OPERATORS,
    `{"service" : [{ "prefix": { "equals-ignore-case": "eventb" }}]}`,
    { service: 'EventBridge' },
    true,
    'Begins with (ignore case)',
  ),
  doc(
    OPERATORS,
    `{"service" : [{ "suffix": { "equals-ignore-case": "tBridge" }}]}`,
    { service: 'EVENTBRIDGE' },
    true,
    'Ends with (ignore case)',
  ),
  doc(
    OPERATORS,
    `{ "FileName": [ { "wildcard": "dir/*.png" } ] }`,
    { FileName: 'dir/2024/photo.png' },
    true,
    'Wildcard: a .png under dir',
  ),
  doc(
    OPERATORS,
    `{ "FileName": [ { "wildcard": "dir/*.png" } ] }`,
    { FileName: 'other/photo.png' },
    false,
    'Wildcard: outside dir',
  ),
];

// Compile once per pattern text, the way PutRule stores a rule and PutEvents reuses it.
const compiled = new Map<string, EventMatcher>();
function matcherFor(pattern: string): EventMatcher {
  let matcher = compiled.get(pattern);
  if (!matcher) {
    matcher = compilePattern(parsePatternJson(pattern));
    compiled.set(pattern, matcher);
  }
  return matcher;
}

describe('the EventBridge pattern matcher, against the AWS documentation examples', () => {
  it.each(
    DOC_CASES.map((c) => [`${c.page}: ${c.matches ? 'matches' : 'does not match'} ${c.why}`, c] as const),
  )('%s', (_title, c) => {
    const event = typeof c.event === 'string' ? JSON.parse(c.event) : c.event;
    expect(matcherFor(c.pattern)(event)).toBe(c.matches);
  });
});

describe('credflow rules', () => {
  const ROTATION_FAILED = `{ "source": ["aws.secretsmanager"], "detail-type": ["AWS Service Event via CloudTrail"], "detail": { "eventName": ["RotationFailed"] } }`;
  const RDS_DELETED = `{ "source": ["aws.rds"], "detail-type": ["RDS DB Instance Event"], "detail": { "EventID": ["RDS-EVENT-0003"] } }`;
  const SFN_FAILED = `{ "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"], "detail": { "status": ["FAILED", "TIMED_OUT"], "stateMachineArn": [{ "suffix": "rotate-secret" }] } }`;

  const secretsManagerEvent = (eventName: string) => ({
    version: '0',
    id: '8e1d1c5a-6c1f-4a9e-9c2f-2b0e1f4a7d10',
    'detail-type': 'AWS Service Event via CloudTrail',
    source: 'aws.secretsmanager',
    account: '111122223333',
    time: '2025-03-04T05:06:07Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      eventVersion: '1.08',
      eventSource: 'secretsmanager.amazonaws.com',
      eventName,
      additionalEventData: { SecretId: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf' },
      readOnly: false,
    },
  });
  const rdsEvent = (eventId: string) => ({
    version: '0',
    id: '68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e',
    'detail-type': 'RDS DB Instance Event',
    source: 'aws.rds',
    account: '111122223333',
    time: '2025-03-04T05:06:07Z',
    region: 'us-east-1',
    resources: ['arn:aws:rds:us-east-1:111122223333:db:shop'],
    detail: {
      EventCategories: ['deletion'],
      SourceType: 'DB_INSTANCE',
      SourceIdentifier: 'shop',
      EventID: eventId,
    },
  });
  const executionEvent = (status: string, machine: string) => ({
    version: '0',
    id: '315c1398-40ff-a850-213b-158f73e60175',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '111122223333',
    time: '2025-03-04T05:06:07Z',
    region: 'us-east-1',
    resources: [`arn:aws:states:us-east-1:111122223333:execution:${machine}:run-1`],
    detail: {
      executionArn: `arn:aws:states:us-east-1:111122223333:execution:${machine}:run-1`,
      stateMachineArn: `arn:aws:states:us-east-1:111122223333:stateMachine:${machine}`,
      name: 'run-1',
      status,
    },
  });

  it.each([
    ['a rotation failure', ROTATION_FAILED, secretsManagerEvent('RotationFailed'), true],
    ['a rotation success', ROTATION_FAILED, secretsManagerEvent('RotationSucceeded'), false],
    [
      'a DeleteSecret API call (other detail-type)',
      ROTATION_FAILED,
      { ...secretsManagerEvent('RotationFailed'), 'detail-type': 'AWS API Call via CloudTrail' },
      false,
    ],
    ['a deleted DB instance', RDS_DELETED, rdsEvent('RDS-EVENT-0003'), true],
    ['a DB instance reboot', RDS_DELETED, rdsEvent('RDS-EVENT-0006'), false],
    [
      'a cluster event with the same id',
      RDS_DELETED,
      { ...rdsEvent('RDS-EVENT-0003'), 'detail-type': 'RDS DB Cluster Event' },
      false,
    ],
    [
      'a failed rotate-secret execution',
      SFN_FAILED,
      executionEvent('FAILED', 'credflow-dev-rotate-secret'),
      true,
    ],
    [
      'a timed-out rotate-secret execution',
      SFN_FAILED,
      executionEvent('TIMED_OUT', 'credflow-dev-rotate-secret'),
      true,
    ],
    [
      'a succeeded rotate-secret execution',
      SFN_FAILED,
      executionEvent('SUCCEEDED', 'credflow-dev-rotate-secret'),
      false,
    ],
    [
      'a failed execution of another machine',
      SFN_FAILED,
      executionEvent('FAILED', 'credflow-dev-rotate-secret-audit'),
      false,
    ],
  ] as const)('routes %s', (_what, pattern, event, expected) => {
    expect(matcherFor(pattern)(event)).toBe(expected);
  });
});

describe('matching details', () => {
  it('matches two fields only within the same element of an array of objects', () => {
    const pattern = { employees: { firstName: ['Anna'], lastName: ['Jones'] } };
    const event = {
      employees: [
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    };
    expect(matchesPattern(pattern, event)).toBe(false);
    expect(matchesPattern({ employees: { firstName: ['Anna'], lastName: ['Smith'] } }, event)).toBe(true);
  });

  it('treats an empty event array as no value: exists false matches, anything-but does not', () => {
    expect(matchesPattern({ resources: [{ exists: false }] }, { resources: [] })).toBe(true);
    expect(matchesPattern({ resources: [{ 'anything-but': 'x' }] }, { resources: [] })).toBe(false);
  });

  it('never reads inherited properties such as constructor or __proto__', () => {
    expect(matchesPattern({ constructor: [{ exists: true }] }, {})).toBe(false);
    expect(matchesPattern(parsePatternJson('{"__proto__": ["x"]}'), JSON.parse('{"__proto__": "x"}'))).toBe(
      true,
    );
  });

  it('matches an IP written as an exact string in any of its notations', () => {
    expect(matchesPattern({ ip: ['2001:db8::1'] }, { ip: '2001:DB8:0:0:0:0:0:1' })).toBe(true);
    expect(matchesPattern({ ip: ['10.0.0.1'] }, { ip: '10.0.0.2' })).toBe(false);
  });

  it('keeps wildcard matching linear on hostile input', () => {
    const matcher = compilePattern({ v: [{ wildcard: '*a*a*a*a*a*a*a*b*' }] });
    const started = performance.now();
    expect(matcher({ v: 'a'.repeat(50_000) })).toBe(false);
    expect(matcher({ v: `${'a'.repeat(50_000)}b` })).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('does not match events that are not objects', () => {
    const matcher = compilePattern({ source: [{ exists: false }] });
    expect(matcher(null)).toBe(false);
    expect(matcher([{}])).toBe(false);
    expect(matcher({})).toBe(true);
  });
});

describe('pattern validation', () => {
  it.each([
    ['a pattern that is an array', '[{"source": ["aws.ec2"]}]'],
    ['a pattern that is a string', '"aws.ec2"'],
    ['a null pattern', 'null'],
    ['an empty pattern', '{}'],
    ['an empty nested object', '{"detail": {}}'],
    ['a leaf that is not an array', '{"source": "aws.ec2"}'],
    ['a leaf that is a number', '{"detail": {"count": 5}}'],
    ['an operator object used as a leaf', '{"source": {"prefix": "aws."}}'],
    ['an empty array', '{"source": []}'],
    ['a nested array value', '{"source": [["aws.ec2"]]}'],
    ['an unknown operator', '{"source": [{"contains": "ec2"}]}'],
    ['an empty operator object', '{"source": [{}]}'],
    ['two operators in one object', '{"source": [{"prefix": "aws.", "suffix": "ec2"}]}'],
    ['a prefix that is not a string', '{"source": [{"prefix": 5}]}'],
    ['a prefix with an unknown inner operator', '{"source": [{"prefix": {"wildcard": "a*"}}]}'],
    ['numeric that is not an array', '{"n": [{"numeric": ">"}]}'],
    ['numeric with an unknown operator', '{"n": [{"numeric": ["!=", 5]}]}'],
    ['numeric with a string bound', '{"n": [{"numeric": ["<", "5"]}]}'],
    ['numeric with the upper bound first', '{"n": [{"numeric": ["<", 5, ">", 1]}]}'],
    ['numeric with two lower bounds', '{"n": [{"numeric": [">", 1, ">=", 5]}]}'],
    ['numeric with an empty range', '{"n": [{"numeric": [">", 10, "<", 5]}]}'],
    ['numeric with a missing bound', '{"n": [{"numeric": [">", 0, "<="]}]}'],
    ['numeric with too many terms', '{"n": [{"numeric": [">", 0, "<", 5, "<", 6]}]}'],
    ['numeric equals with extra terms', '{"n": [{"numeric": ["=", 5, "<", 6]}]}'],
    ['anything-but with mixed types', '{"s": [{"anything-but": ["stopped", 1]}]}'],
    ['anything-but with null', '{"s": [{"anything-but": null}]}'],
    ['anything-but with a boolean in its list', '{"s": [{"anything-but": ["a", true]}]}'],
    ['anything-but with an unsupported form', '{"s": [{"anything-but": {"numeric": [">", 1]}}]}'],
    ['anything-but prefix with a number', '{"s": [{"anything-but": {"prefix": 5}}]}'],
    ['anything-but with an empty list', '{"s": [{"anything-but": []}]}'],
    ['a wildcard with **', '{"f": [{"wildcard": "dir/**.png"}]}'],
    ['a wildcard escaping a plain letter', '{"f": [{"wildcard": "a\\\\b*"}]}'],
    ['a wildcard ending in a backslash', '{"f": [{"wildcard": "abc\\\\"}]}'],
    ['an anything-but wildcard with **', '{"f": [{"anything-but": {"wildcard": "**"}}]}'],
    ['a CIDR without a mask', '{"ip": [{"cidr": "10.0.0.0"}]}'],
    ['a CIDR mask too large', '{"ip": [{"cidr": "10.0.0.0/33"}]}'],
    ['a CIDR with a bad octet', '{"ip": [{"cidr": "10.0.0.256/24"}]}'],
    ['a CIDR that is a hostname', '{"ip": [{"cidr": "example.com/24"}]}'],
    ['a CIDR with a bad IPv6 address', '{"ip": [{"cidr": "2001:db8:::1/64"}]}'],
    ['exists that is not a boolean', '{"f": [{"exists": "yes"}]}'],
    ['$or that is not an array', '{"$or": {"a": ["1"]}}'],
    ['$or with one object', '{"$or": [{"a": ["1"]}]}'],
    ['$or with a non-object', '{"$or": [{"a": ["1"]}, ["b"]]}'],
    ['$or using an operator name as a field', '{"$or": [{"numeric": [1]}, {"prefix": ["a"]}]}'],
    ['an invalid sub-pattern inside $or', '{"detail": {"$or": [{"a": ["1"]}, {"b": []}]}}'],
    ['text that is not JSON', '{"source": ["aws.ec2"]'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePatternJson(text)).toThrow(InvalidEventPatternError);
  });

  it('accepts every documented pattern', () => {
    for (const c of DOC_CASES) expect(() => validatePattern(JSON.parse(c.pattern))).not.toThrow();
  });

  it('names the error for the Step Functions/API contract and says where the pattern is wrong', () => {
    let caught: unknown;
    try {
      validatePattern({ detail: { state: [] } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidEventPatternError);
    expect(caught).toMatchObject({
      name: 'InvalidEventPatternError',
      reason: 'Empty arrays are not allowed',
      path: 'detail.state',
    });
    expect((caught as Error).message).toMatch(
      /^Event pattern is not valid\. Reason: Empty arrays are not allowed/,
    );
  });

  it('rejects in compilePattern and matchesPattern too, before any event is seen', () => {
    expect(() => compilePattern({ source: 'aws.ec2' })).toThrow(InvalidEventPatternError);
    expect(() => matchesPattern({ n: [{ numeric: ['>', 5, '<', 5] }] }, { n: 5 })).toThrow(
      /Bottom must be less than top/,
    );
  });

  it('keeps the last of duplicate keys, as AWS documents', () => {
    const pattern = parsePatternJson(
      '{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}',
    );
    expect(matchesPattern(pattern, { detail: { location: 'eu-west' } })).toBe(true);
    expect(matchesPattern(pattern, { detail: { location: 'us-east' } })).toBe(false);
  });
});
