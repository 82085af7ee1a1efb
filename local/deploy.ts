import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateStateMachineCommand,
  StateMachineAlreadyExists,
  TagResourceCommand,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand } from '@aws-sdk/client-sns';
import type { AwsClients } from '../src/aws/clients';
import type { Catalog, CatalogRule, CatalogStateMachine, ResolveContext } from './catalog';
import { ruleTargetRoleId, type StackIam } from './iam/template';

/** Where a deployment lands: the local cloud's region and account. */
export interface DeployTarget {
  region: string;
  accountId: string;
  stage: string;
  /** `aws` locally (the default), as in the commercial regions. */
  partition?: string;
}

/** The alerts topic's name; serverless.yml's `AlertsTopic` resource has the same. */
export function alertsTopicName(stage: string): string {
  return `credflow-${stage}-alerts`;
}

/**
 * ARNs of everything the catalog declares, computed the way AWS names them: a function by its
 * deployed name (`credflow-<stage>-<key>`), so ARNs copied from `serverless deploy` work here.
 */
export function resolveContext(catalog: Catalog, t: DeployTarget): ResolveContext {
  const partition = t.partition ?? 'aws';
  const pseudo: Record<string, string> = {
    'AWS::Partition': partition,
    'AWS::Region': t.region,
    'AWS::AccountId': t.accountId,
  };
  return {
    lambdaArn: (key) => {
      const name = catalog.functions.find((f) => f.key === key)?.name ?? `credflow-${t.stage}-${key}`;
      return `arn:${partition}:lambda:${t.region}:${t.accountId}:function:${name}`;
    },
    stateMachineArn: (id) => {
      const sm = catalog.stateMachines.find((m) => m.id === id);
      if (!sm) throw new Error(`serverless.yml has no state machine with id ${id}`);
      return `arn:${partition}:states:${t.region}:${t.accountId}:stateMachine:${sm.name}`;
    },
    resource: (id) => {
      if (id === 'AlertsTopic')
        return `arn:${partition}:sns:${t.region}:${t.accountId}:${alertsTopicName(t.stage)}`;
      throw new Error(`the local cloud cannot resolve resource ${id}`);
    },
    pseudoParameter: (name) => {
      const v = pseudo[name];
      if (v === undefined) throw new Error(`the local cloud cannot resolve pseudo parameter ${name}`);
      return v;
    },
  };
}

/**
 * A workflow's definition as the deployed state machine has it, resolved as serverless-step-functions
 * and CloudFormation resolve it: `{"Fn::GetAtt": ["setSecret", "Arn"]}` -> the function's ARN, and
 * the plugin's pseudo parameters `#{AWS::Partition}` (`arn:#{AWS::Partition}:states:::sns:publish`),
 * `#{AWS::Region}` and `#{AWS::AccountId}` -> the deployment's values.
 */
export function resolveDefinition(definition: unknown, ctx: ResolveContext): string {
  const text = JSON.stringify(definition, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const att = (v as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
      if (att && Object.keys(v).length === 1) return ctx.lambdaArn(att[0]);
    }
    return v;
  });
  return text.replace(/#\{([^}]+)\}/g, (_w, name: string) => ctx.pseudoParameter(name));
}

export interface DeployReport {
  stateMachines: string[];
  rules: string[];
  topics: string[];
}

/**
 * Deploys the catalog's state machines, rules and alerts topic through the AWS APIs (so the
 * same code serves `credflow up` in-process and `credflow deploy --local` against a running
 * cloud). Idempotent: existing state machines are updated, rules overwritten.
 */
/** The roles of the stack a state machine and its rules' targets run as (default: one stand-in role). */
export interface DeployRoles {
  machine(sm: CatalogStateMachine): string | undefined;
  target(sm: CatalogStateMachine, rule: CatalogRule): string | undefined;
}

/** The roles serverless.yml gives each state machine and its rules' targets (`<Machine>EventToStepFunctionsRole`, ...). */
export function stackRoles(stack: StackIam): DeployRoles {
  const roleArn = (id: string | undefined) => (id ? stack.roles.get(id)?.arn : undefined);
  return {
    machine: (sm) => roleArn(stack.stateMachineRoles.get(sm.key)),
    target: (sm, rule) => roleArn(ruleTargetRoleId(sm.id, rule.kind)),
  };
}

export async function deployCatalog(
  c: AwsClients,
  catalog: Catalog,
  t: DeployTarget,
  roles?: DeployRoles,
): Promise<DeployReport> {
  const ctx = resolveContext(catalog, t);
  const report: DeployReport = { stateMachines: [], rules: [], topics: [] };
  const topic = await c.sns.send(new CreateTopicCommand({ Name: alertsTopicName(t.stage) }));
  report.topics.push(topic.TopicArn ?? alertsTopicName(t.stage));
  const standIn = `arn:aws:iam::${t.accountId}:role/credflow-${t.stage}-local`;
  for (const sm of catalog.stateMachines) {
    const roleArn = roles?.machine(sm) ?? standIn;
    const definition = resolveDefinition(sm.definition, ctx);
    const arn = ctx.stateMachineArn(sm.id);
    const tags = Object.entries(sm.tags).map(([key, value]) => ({ key, value }));
    try {
      await c.sfn.send(new CreateStateMachineCommand({ name: sm.name, definition, roleArn, tags }));
    } catch (err) {
      if (!(err instanceof StateMachineAlreadyExists)) throw err;
      await c.sfn.send(new UpdateStateMachineCommand({ stateMachineArn: arn, definition, roleArn }));
    }
    // CreateStateMachine leaves an existing machine's tags alone: set them on every deployment.
    if (tags.length > 0) await c.sfn.send(new TagResourceCommand({ resourceArn: arn, tags }));
    report.stateMachines.push(arn);
    for (const rule of sm.rules) {
      await c.events.send(
        new PutRuleCommand({
          Name: rule.name,
          ...(rule.kind === 'pattern'
            ? { EventPattern: JSON.stringify(rule.pattern), State: 'ENABLED' }
            : { ScheduleExpression: rule.expression, State: rule.enabled ? 'ENABLED' : 'DISABLED' }),
          Description: `credflow: starts ${sm.name}`,
        }),
      );
      await c.events.send(
        new PutTargetsCommand({
          Rule: rule.name,
          Targets: [
            {
              Id: sm.key,
              Arn: arn,
              RoleArn: roles?.target(sm, rule) ?? standIn,
              ...(rule.kind === 'schedule' ? { Input: JSON.stringify(rule.input) } : {}),
            },
          ],
        }),
      );
      report.rules.push(rule.name);
    }
  }
  return report;
}
