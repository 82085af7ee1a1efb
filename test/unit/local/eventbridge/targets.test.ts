import { readPath, targetExecutionName, transformInput } from '../../../../local/eventbridge/targets';

// The EC2 example event of AWS's "Amazon EventBridge input transformation" page.
const ec2Event = {
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '123456789012',
  time: '2015-11-11T21:29:54Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
  detail: { 'instance-id': 'i-0123456789', state: 'RUNNING' },
};
const paths = { instance: '$.detail.instance-id', state: '$.detail.state' };

describe('InputTransformer', () => {
  it('inserts values as JSON in a JSON template', () => {
    const out = transformInput(ec2Event, {
      InputPathsMap: paths,
      InputTemplate: '{"instance": <instance>, "state": [9, <state>, true], "Transformed": "Yes"}',
    });
    expect(JSON.parse(out)).toEqual({
      instance: 'i-0123456789',
      state: [9, 'RUNNING', true],
      Transformed: 'Yes',
    });
  });

  it('inserts text inside a JSON string, quotes escaped', () => {
    const out = transformInput(ec2Event, {
      InputPathsMap: paths,
      InputTemplate: '{"myInstance": <instance>, "myStatus": "<instance> is in state \\"<state>\\""}',
    });
    expect(JSON.parse(out)).toEqual({
      myInstance: 'i-0123456789',
      myStatus: 'i-0123456789 is in state "RUNNING"',
    });
  });

  it('fills a plain-text template with plain text', () => {
    expect(
      transformInput(ec2Event, { InputPathsMap: paths, InputTemplate: '<instance> is in state <state>' }),
    ).toBe('i-0123456789 is in state RUNNING');
    expect(
      JSON.parse(
        transformInput(ec2Event, {
          InputPathsMap: paths,
          InputTemplate: '"instance <instance> is in <state>"',
        }),
      ),
    ).toBe('instance i-0123456789 is in RUNNING');
  });

  it('knows the predefined variables', () => {
    const out = JSON.parse(
      transformInput(
        ec2Event,
        {
          InputTemplate:
            '{"rule": <aws.events.rule-name>, "arn": "<aws.events.rule-arn>", "envelope": <aws.events.event>, "whole": <aws.events.event.json>}',
        },
        { name: 'ec2-changes', arn: 'arn:aws:events:us-east-1:123456789012:rule/ec2-changes' },
      ),
    );
    expect(out.rule).toBe('ec2-changes');
    expect(out.arn).toBe('arn:aws:events:us-east-1:123456789012:rule/ec2-changes');
    expect(out.envelope).not.toHaveProperty('detail');
    expect(out.envelope.source).toBe('aws.ec2');
    expect(out.whole).toEqual(ec2Event);
  });

  it('gives nothing for a path the event lacks, and keeps undeclared placeholders', () => {
    const out = transformInput(ec2Event, {
      InputPathsMap: { gone: '$.detail.nope' },
      InputTemplate: '{"v": <gone>, "s": "x<gone>y", "keep": "<other>"}',
    });
    expect(JSON.parse(out)).toEqual({ v: null, s: 'xy', keep: '<other>' });
  });

  it('reads dotted paths with dashes and indexes', () => {
    expect(readPath(ec2Event, '$.detail.instance-id')).toBe('i-0123456789');
    expect(readPath(ec2Event, '$.resources[0]')).toBe(
      'arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111',
    );
    expect(readPath(ec2Event, '$')).toBe(ec2Event);
    expect(readPath(ec2Event, '$.detail.x.y')).toBeUndefined();
  });
});

describe('rule target executions', () => {
  it('names a rule target execution after the event, rule and target', () => {
    const a = targetExecutionName('event-1', 'rule', 'target');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(targetExecutionName('event-1', 'rule', 'target')).toBe(a);
    expect(targetExecutionName('event-2', 'rule', 'target')).not.toBe(a);
    expect(targetExecutionName('event-1', 'rule2', 'target')).not.toBe(a);
  });
});
