import path from 'node:path';
import { loadCatalog, resolveEnvironment } from '../../../local/catalog';
import { alertsTopicName, resolveContext, resolveDefinition } from '../../../local/deploy';

const root = path.resolve(__dirname, '../../..');
const target = { region: 'us-east-1', accountId: '000000000000', stage: 'local' };

describe('serverless.yml as the catalog', () => {
  const catalog = loadCatalog(root, 'local');
  const ctx = resolveContext(catalog, target);

  it('names state machines per stage and keeps their logical ids', () => {
    const rs = catalog.stateMachines.find((m) => m.key === 'rotateSecret');
    expect(rs).toMatchObject({ id: 'RotateSecretStateMachine', name: 'credflow-local-rotate-secret' });
    expect(ctx.stateMachineArn('RotateSecretStateMachine')).toBe(
      'arn:aws:states:us-east-1:000000000000:stateMachine:credflow-local-rotate-secret',
    );
  });

  it('reads each rule: patterns from events/, schedules with their input', () => {
    const rules = catalog.stateMachines.flatMap((m) => m.rules.map((r) => ({ machine: m.key, ...r })));
    expect(
      rules
        .filter((r) => r.kind === 'pattern')
        .map((r) => r.machine)
        .sort(),
    ).toEqual(['onDeletion', 'onDeletion', 'onRotationFailure', 'onRotationFailure']);
    expect(rules.find((r) => r.kind === 'schedule')).toMatchObject({
      machine: 'rotateFleet',
      expression: 'rate(1 day)',
      input: { maxConcurrency: 25 },
    });
  });

  it('resolves Ref and Fn::GetAtt in function environments', () => {
    const env = (key: string) =>
      resolveEnvironment(catalog.functions.find((f) => f.key === key)?.environment ?? {}, ctx);
    expect(env('planFleetRotation')['ROTATE_SECRET_STATE_MACHINE_ARN']).toBe(
      ctx.stateMachineArn('RotateSecretStateMachine'),
    );
    expect(env('planFleetRotation')['ROTATE_FLEET_PAGE_STATE_MACHINE_ARN']).toBe(
      ctx.stateMachineArn('RotateFleetPageStateMachine'),
    );
    // Fn::GetAtt rotationLambda.Arn names the function as `serverless deploy` does: <service>-<stage>-<key>.
    expect(env('enableRotation')['ROTATION_LAMBDA_ARN']).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:credflow-local-rotationLambda',
    );
    expect(env('diagnoseRotation')['ALERT_TOPIC_ARN']).toBe(
      `arn:aws:sns:us-east-1:000000000000:${alertsTopicName('local')}`,
    );
    expect(() => resolveEnvironment({ X: { Ref: 'Nope' } }, ctx)).toThrow(/cannot resolve/);
  });

  it('replaces every Fn::GetAtt in a definition with a function ARN', () => {
    for (const sm of catalog.stateMachines) {
      const text = resolveDefinition(sm.definition, ctx);
      expect(text).not.toContain('Fn::GetAtt');
    }
  });

  it("builds the integrations' ARNs with the deployment's partition, as CloudFormation does", () => {
    const onFailure = catalog.stateMachines.find((m) => m.key === 'onRotationFailure');
    expect(JSON.stringify(onFailure?.definition)).toContain('"arn:#{AWS::Partition}:states:::sns:publish"');
    for (const sm of catalog.stateMachines) {
      const text = resolveDefinition(sm.definition, ctx);
      expect({ machine: sm.key, unresolved: text.match(/#\{[^}]*\}/g) }).toEqual({
        machine: sm.key,
        unresolved: null,
      });
    }
    expect(resolveDefinition(onFailure?.definition, ctx)).toContain('"arn:aws:states:::sns:publish"');
    const china = resolveContext(catalog, { ...target, region: 'cn-north-1', partition: 'aws-cn' });
    const text = resolveDefinition(onFailure?.definition, china);
    expect(text).toContain('"arn:aws-cn:states:::sns:publish"');
    expect(text).toContain(
      '"arn:aws-cn:lambda:cn-north-1:000000000000:function:credflow-local-diagnoseRotation"',
    );
    expect(() => resolveDefinition({ Resource: 'arn:#{AWS::Nope}:x' }, ctx)).toThrow(
      /pseudo parameter AWS::Nope/,
    );
  });
});
