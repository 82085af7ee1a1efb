/**
 * What each Step Functions call needs of IAM ("Actions, resources, and condition keys for AWS
 * Step Functions"): the action on the state machine's or the execution's ARN.
 */
import type { AuthzDescriber } from '../iam/gate';

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

export function stepFunctionsAuthz(where: { region: string; accountId: string }): AuthzDescriber {
  return (op, input) => {
    if (op === 'ListStateMachines') return [{ action: 'states:ListStateMachines', resource: '*' }];
    if (op === 'CreateStateMachine')
      return [
        {
          action: 'states:CreateStateMachine',
          resource: `arn:aws:states:${where.region}:${where.accountId}:stateMachine:${String(input['name'] ?? '')}`,
        },
      ];
    const member = ON_MACHINE[op];
    if (!member) return undefined;
    return [{ action: `states:${op}`, resource: String(input[member] ?? '') }];
  };
}
