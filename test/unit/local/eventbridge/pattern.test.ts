import {
  compilePattern,
  InvalidEventPatternError,
  matchesPattern,
  parsePatternJson,
  validatePattern,
} from '../../../../local/eventbridge/pattern';
import {
  ARRAYS,
  ASG_RESOURCES,
  AUTOSCALING_NULLS,
  COMPLEX,
  type DocCase,
  doc,
  EC2_PENDING,
  EC2_TERMINATED,
  FILTERING,
  itMatchesAsDocumented,
  matcherFor,
  NULLS,
  OR_NESTED,
  OR_NUMERIC,
  OR_SOURCE,
  PATTERNS,
  RULER_SAMPLE,
  SYNTAX,
  withDetail,
} from './doc-examples';

const CASES: DocCase[] = [
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
];

describe('the EventBridge pattern matcher, against the AWS documentation examples', () => {
  itMatchesAsDocumented(CASES);
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
