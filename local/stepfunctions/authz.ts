/**
 * What each Step Functions call needs of IAM ("Actions, resources, and condition keys for AWS
 * Step Functions"): the action on the state machine's or the execution's ARN.
 */
import type { AuthzDescriber, AuthzNeed } from '../iam/gate';

const ON_MACHINE: Record<string, string> = {
  StartExecution: 'stateMachineArn',
  ListExecutions: 'stateMachineArn',
  DescribeStateMachine: 'stateMachineArn',
  UpdateStateMachine: 'stateMachineArn',
  DeleteStateMachine: 'stateMachineArn',
  DescribeExecution: 'executionArn',
  StopExecution: 'executionArn',
  GetExecutionHistory: 'executionArn',
  TagResource: 'resourceArn',
  UntagResource: 'resourceArn',
  ListTagsForResource: 'resourceArn',
};

/**
 * Passing a role to Step Functions (a machine's roleArn) is authorized as its own action: the
 * caller needs iam:PassRole on the role, with iam:PassedToService = states.amazonaws.com (IAM
 * User Guide, "Grant a user permissions to pass a role to an AWS service"; Step Functions
 * Developer Guide, "Creating granular permissions for non-admin users": CreateStateMachine and
 * UpdateStateMachine with a role need iam:PassRole on it).
 */
function passRole(roleArn: unknown): AuthzNeed[] {
  if (typeof roleArn !== 'string' || roleArn === '') return [];
  return [
    { action: 'iam:PassRole', resource: roleArn, context: { 'iam:PassedToService': 'states.amazonaws.com' } },
  ];
}

export function stepFunctionsAuthz(where: { region: string; accountId: string }): AuthzDescriber {
  return (op, input) => {
    if (op === 'ListStateMachines') return [{ action: 'states:ListStateMachines', resource: '*' }];
    if (op === 'CreateStateMachine')
      return [
        {
          action: 'states:CreateStateMachine',
          resource: `arn:aws:states:${where.region}:${where.accountId}:stateMachine:${String(input['name'] ?? '')}`,
        },
        ...passRole(input['roleArn']),
      ];
    const member = ON_MACHINE[op];
    if (!member) return undefined;
    const needs: AuthzNeed[] = [{ action: `states:${op}`, resource: String(input[member] ?? '') }];
    if (op === 'UpdateStateMachine') needs.push(...passRole(input['roleArn']));
    return needs;
  };
}
