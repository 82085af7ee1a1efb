/**
 * The monitoring half of the offline package test (called from package.test.ts, which packages
 * once): state machine logging and X-Ray, function tracing, alarms on the alerts topic, the
 * dashboard, and tracing switched off per stage by the `tracing` param.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { Catalog } from '../../local/catalog';
import { METRICS } from '../../src/metrics';
import { osls } from './osls';

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  Condition?: string;
};
interface Template {
  Conditions: Record<string, unknown>;
  Resources: Record<string, Resource>;
}

const ALERTS = { Ref: 'AlertsTopic' };
/** Workflows whose failed executions page someone: rotations, their repair, the reconciler. */
const ALARMED_WORKFLOWS = ['rotateSecret', 'onRotationFailure', 'reconcileRotations'];

const logicalIdOf = (fnKey: string) => `${fnKey[0]!.toUpperCase()}${fnKey.slice(1)}LambdaFunction`;

/** The Powertools service a handler reports under: the first argument of its taskHandler(...). */
function serviceOf(catalog: Catalog, fnKey: string): string {
  const fn = catalog.functions.find((f) => f.key === fnKey);
  if (!fn) throw new Error(`serverless.yml has no function ${fnKey}`);
  const source = readFileSync(`${fn.modulePath}.ts`, 'utf8');
  const service = /taskHandler\(\s*'([\w-]+)'/.exec(source)?.[1];
  if (!service) throw new Error(`${fnKey}: no taskHandler service in ${fn.modulePath}.ts`);
  return service;
}

/** `logRetentionInDays`: the param the packaged template in `.serverless/` was made with. */
export function monitoringChecks(
  root: string,
  catalog: Catalog,
  stage: string,
  packagedWith: { logRetentionInDays: number },
): void {
  let template: Template;
  const resources = () => template.Resources;
  const of = (type: string) => Object.entries(resources()).filter(([, r]) => r.Type === type);
  const namespace = `credflow/${stage}`;

  beforeAll(() => {
    template = JSON.parse(
      readFileSync(path.join(root, '.serverless/cloudformation-template-update-stack.json'), 'utf8'),
    );
  });

  describe('monitoring (resources/monitoring.yml)', () => {
    it.each(catalog.stateMachines.map((m) => [m.key, m] as const))(
      'state machine %s logs errors without execution data and is traced',
      (_k, m) => {
        const sm = resources()[m.id] as Resource;
        expect(sm.Properties['LoggingConfiguration']).toEqual({
          Level: 'ERROR',
          IncludeExecutionData: false,
          Destinations: [
            { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['StateMachineLogGroup', 'Arn'] } } },
          ],
        });
        expect(sm.Properties['TracingConfiguration']).toEqual({ Enabled: true });
        // Its role may deliver logs and traces: inline (the roles the plugin makes) or through
        // StateMachineMonitoringPolicy (the roles serverless.yml declares).
        const roleId = (sm.Properties['RoleArn'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        const role = resources()[roleId] as Resource;
        const attached = ((role.Properties['ManagedPolicyArns'] as unknown[]) ?? []).flatMap((a) => {
          const ref = (a as { Ref?: string }).Ref;
          return ref ? [resources()[ref]?.Properties['PolicyDocument']] : [];
        });
        const granted = JSON.stringify([role.Properties['Policies'], attached]);
        expect(granted).toContain('logs:CreateLogDelivery');
        expect(granted).toContain('xray:PutTraceSegments');
      },
    );

    it('deploys everything resources/monitoring.yml declares (serverless.yml names each entry)', () => {
      const file = parse(readFileSync(path.join(root, 'resources/monitoring.yml'), 'utf8')) as {
        Conditions: Record<string, unknown>;
        Resources: Record<string, { Type: string }>;
      };
      for (const [id, r] of Object.entries(file.Resources)) expect(resources()[id]?.Type).toBe(r.Type);
      for (const id of Object.keys(file.Conditions)) expect(template.Conditions[id]).toBeDefined();
    });

    it('keeps the state machine logs in one log group with a retention', () => {
      const group = resources()['StateMachineLogGroup'];
      expect(group).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { LogGroupName: `/aws/vendedlogs/states/credflow-${stage}` },
      });
      // A --param arrives as a string ("7"), which CloudFormation takes as the number.
      expect(Number(group?.Properties['RetentionInDays'])).toBe(packagedWith.logRetentionInDays);
    });

    it('traces every function, whose role may write traces, and names the metrics namespace', () => {
      expect(template.Conditions['TracingEnabled']).toEqual({ 'Fn::Equals': ['true', 'true'] });
      for (const f of catalog.functions) {
        const fn = resources()[logicalIdOf(f.key)] as Resource;
        expect(fn.Properties['TracingConfig']).toEqual({ Mode: 'Active' });
        expect(fn.Properties['Environment']).toMatchObject({
          Variables: { POWERTOOLS_METRICS_NAMESPACE: namespace },
        });
        const roleId = (fn.Properties['Role'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        expect(resources()[roleId]?.Properties['ManagedPolicyArns']).toContainEqual({
          'Fn::If': [
            'TracingEnabled',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation substitutes it
            { 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess' },
            { Ref: 'AWS::NoValue' },
          ],
        });
      }
    });

    it.each(ALARMED_WORKFLOWS.filter((k) => catalog.stateMachines.some((m) => m.key === k)))(
      'alarms the alerts topic on any failed %s execution',
      (key) => {
        const id = catalog.stateMachines.find((m) => m.key === key)?.id;
        const alarm = of('AWS::CloudWatch::Alarm').find(
          ([, a]) =>
            a.Properties['MetricName'] === 'ExecutionsFailed' &&
            JSON.stringify(a.Properties['Dimensions']) ===
              JSON.stringify([{ Name: 'StateMachineArn', Value: { Ref: id } }]),
        );
        expect(alarm?.[1].Properties).toMatchObject({
          Namespace: 'AWS/States',
          Statistic: 'Sum',
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
          AlarmActions: [ALERTS],
        });
      },
    );

    it.each([
      ['SecretsBroken', 'rollBackRotation'],
      ['DriftDetected', 'verifyCredentials'],
      ['SecretsOverdue', 'planFleetRotation'],
    ])('alarms the alerts topic on %s, with the service of the handler that emits it', (metric, fnKey) => {
      const alarm = of('AWS::CloudWatch::Alarm').find(([, a]) => a.Properties['MetricName'] === metric);
      expect(alarm?.[1].Properties).toMatchObject({
        Namespace: namespace,
        Dimensions: [{ Name: 'service', Value: serviceOf(catalog, fnKey) }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [ALERTS],
      });
    });

    it('has a dashboard showing every metric the handlers emit and every alarm', () => {
      const dashboards = of('AWS::CloudWatch::Dashboard');
      expect(dashboards).toHaveLength(1);
      const body = (dashboards[0]![1].Properties['DashboardBody'] as { 'Fn::Sub': string })['Fn::Sub'];
      // Valid JSON once CloudFormation substitutes the ${...} references.
      const parsed = JSON.parse(body.replace(/\$\{[^}]+\}/g, 'x')) as { widgets: unknown[] };
      expect(parsed.widgets.length).toBeGreaterThan(3);
      for (const metric of Object.keys(METRICS)) expect(body).toMatch(new RegExp(`\\b${metric}\\b`));
      expect(body).toContain(namespace);
      for (const [id] of of('AWS::CloudWatch::Alarm')) expect(body).toContain(`\${${id}.Arn}`);
      const subs = [...body.matchAll(/\$\{([\w:.]+)\}/g)].map((m) => m[1]!.split('.')[0]!);
      for (const ref of subs) if (!ref.startsWith('AWS::')) expect(resources()[ref]).toBeDefined();
    });

    it('turns X-Ray off for a stage with --param="tracing=false"', async () => {
      const stdout = await osls(
        ['print', '--stage', stage, '--region', 'us-east-1', '--param=tracing=false', '--format', 'json'],
        120_000,
      );
      const printed = JSON.parse(stdout) as {
        provider: { tracing: { lambda: unknown } };
        stepFunctions: { stateMachines: Record<string, { tracingConfig?: { enabled: unknown } }> };
        resources: { Conditions: Record<string, unknown> };
      };
      // false: serverless sets no TracingConfig on any function.
      expect(printed.provider.tracing.lambda).toBe(false);
      for (const m of Object.values(printed.stepFunctions.stateMachines))
        expect(m.tracingConfig?.enabled).toBe(false);
      expect(printed.resources.Conditions['TracingEnabled']).toEqual({ 'Fn::Equals': ['false', 'true'] });
    });
  });
}
