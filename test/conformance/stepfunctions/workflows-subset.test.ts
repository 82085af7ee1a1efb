/**
 * The guard over workflows/: every ASL feature a workflow uses must be one the local runner is
 * held to AWS's behaviour for, by a case of this conformance suite (or, for the service
 * integrations, the integration test named). A workflow that starts using anything else fails
 * here until a conformance case for it exists and the feature is added below.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCatalog } from '../../../local/catalog';
import { resolveContext, resolveDefinition } from '../../../local/deploy';
import { checkDefinition } from '../../../local/stepfunctions/runner/validate';
import { featuresOf } from './features';

const root = path.resolve(__dirname, '../../..');
const files = readdirSync(path.join(root, 'workflows')).filter((f) => f.endsWith('.asl.json'));

const JSONPATH = 'jsonpath.test.ts';
const JSONATA = 'jsonata.test.ts';
const VARIABLES = 'variables.test.ts';
const INTRINSICS = 'intrinsics.test.ts';
const ERRORS = 'errors-history.test.ts';

/** Feature -> the conformance file (or test) that holds the runner to AWS for it. */
const COVERED: Record<string, string> = {
  'QueryLanguage:JSONPath': JSONPATH,
  'QueryLanguage:JSONata': JSONATA,
  'top.TimeoutSeconds': JSONPATH,
  'Pass.Next': ERRORS,
  'Pass.End': ERRORS,
  'Pass.InputPath': JSONPATH,
  'Pass.Parameters': INTRINSICS,
  'Pass.Result': JSONPATH,
  'Pass.ResultPath': JSONPATH,
  'Pass.OutputPath': JSONPATH,
  'Pass.Assign': VARIABLES,
  'Pass.Output': JSONATA,
  'Task.Resource': JSONPATH,
  'Task.Next': JSONATA,
  'Task.End': JSONPATH,
  'Task.InputPath': JSONPATH,
  'Task.Parameters': JSONPATH,
  'Task.ResultSelector': JSONPATH,
  'Task.ResultPath': JSONPATH,
  'Task.OutputPath': JSONPATH,
  'Task.Arguments': JSONATA,
  'Task.Output': JSONATA,
  'Task.Assign': VARIABLES,
  'Task.Retry': JSONPATH,
  'Task.Catch': JSONPATH,
  'Task.TimeoutSeconds': 'test/integration/stepfunctions.test.ts (States.Timeout)',
  'Retry.ErrorEquals': JSONPATH,
  'Retry.IntervalSeconds': JSONPATH,
  'Retry.MaxAttempts': JSONPATH,
  'Retry.BackoffRate': JSONPATH,
  'Retry.MaxDelaySeconds': JSONPATH,
  'Retry.JitterStrategy': JSONPATH,
  'Catch.ErrorEquals': JSONPATH,
  'Catch.Next': JSONPATH,
  'Catch.ResultPath': JSONPATH,
  'Catch.Output': JSONATA,
  'Catch.Assign': VARIABLES,
  'Choice.Choices': JSONPATH,
  'Choice.Default': JSONPATH,
  'Choice.And': JSONPATH,
  'Choice.StringEquals': JSONPATH,
  'Choice.BooleanEquals': JSONPATH,
  'Choice.IsPresent': JSONPATH,
  'Choice.IsString': JSONPATH,
  'Choice.StringMatches': JSONPATH,
  'Choice.NumericGreaterThan': JSONPATH,
  'Choice.NumericGreaterThanEqualsPath': JSONPATH,
  'Choice.Condition': JSONATA,
  'Wait.Next': JSONPATH,
  'Wait.End': JSONPATH,
  'Wait.SecondsPath': JSONPATH,
  'Wait.Seconds': JSONPATH,
  'Wait.TimestampPath': JSONPATH,
  'Fail.Error': ERRORS,
  'Fail.Cause': JSONATA,
  'Fail.ErrorPath': INTRINSICS,
  'Fail.CausePath': INTRINSICS,
  'Map.Next': JSONPATH,
  'Map.End': JSONPATH,
  'Map.ItemProcessor': JSONPATH,
  'Map.ItemsPath': JSONPATH,
  'Map.ItemSelector': JSONPATH,
  'Map.MaxConcurrency': JSONPATH,
  'Map.MaxConcurrencyPath': JSONPATH,
  'Map.ResultPath': JSONPATH,
  'Map.Catch': ERRORS,
  'Map.Items': JSONATA,
  'Parallel.Branches': ERRORS,
  'Parallel.End': ERRORS,
  'Parallel.Catch': ERRORS,
  'intrinsic:States.Format': INTRINSICS,
  'intrinsic:States.MathAdd': INTRINSICS,
  'intrinsic:States.StringSplit': INTRINSICS,
  'intrinsic:States.MathRandom': INTRINSICS,
  'intrinsic:States.ArrayLength': INTRINSICS,
  'intrinsic:States.ArrayGetItem': INTRINSICS,
  'intrinsic:States.JsonToString': INTRINSICS,
  'intrinsic:States.StringToJson': INTRINSICS,
  'intrinsic:States.JsonMerge': INTRINSICS,
  'intrinsic:States.Array': INTRINSICS,
  'context:$$.Execution.Id': JSONPATH,
  'context:$$.Execution.StartTime': ERRORS,
  'context:$$.Execution.Name': ERRORS,
  'context:$$.Execution.Input': ERRORS,
  'context:$$.StateMachine.Name': ERRORS,
  'context:$$.StateMachine.Id': ERRORS,
  'context:$$.State.Name': ERRORS,
  'context:$$.State.EnteredTime': ERRORS,
  'context:$$.State.RetryCount': ERRORS,
  'context:$$.Map.Item.Value': JSONPATH,
  'context:$$.Map.Item.Index': JSONPATH,
  'variable:read': VARIABLES,
  'jsonata:expression': JSONATA,
  'jsonata:builtin': `${JSONATA} (the reference jsonata package)`,
  'jsonata:$partition': JSONATA,
  'jsonata:$range': JSONATA,
  'jsonata:$hash': JSONATA,
  'jsonata:$random': JSONATA,
  'jsonata:$uuid': JSONATA,
  'jsonata:$parse': JSONATA,
  'resource:lambda-function': JSONPATH,
  'resource:sns:publish': JSONPATH,
  'resource:events:putEvents': JSONPATH,
  'resource:states:startExecution.sync:2': 'test/integration/stepfunctions.test.ts (.sync:2)',
};

/** The definition as deployed: Fn::GetAtt and #{AWS::Partition} resolved, as the local cloud deploys it. */
const ctx = resolveContext(loadCatalog(root), {
  region: 'us-east-1',
  accountId: '000000000000',
  stage: 'local',
});
function resolved(definition: unknown): Record<string, unknown> {
  return JSON.parse(resolveDefinition(definition, ctx));
}

const uncovered = (definition: Record<string, unknown>) =>
  [...featuresOf(definition)].filter((f) => !(f in COVERED));

describe('the ASL the workflows use', () => {
  it.each(files)('%s uses only what the local runner executes as AWS does', (file) => {
    const definition = resolved(JSON.parse(readFileSync(path.join(root, 'workflows', file), 'utf8')));
    expect(checkDefinition(definition as never)).toEqual([]);
    expect(uncovered(definition)).toEqual([]);
  });

  it('names what a definition uses beyond the covered subset', () => {
    const definition = {
      StartAt: 'T',
      States: {
        T: {
          Type: 'Task',
          Resource: 'arn:aws:states:::sqs:sendMessage',
          HeartbeatSeconds: 5,
          Parameters: { 'id.$': 'States.UUID()', 'token.$': '$$.Task.Token' },
          Next: 'J',
        },
        J: { Type: 'Pass', QueryLanguage: 'JSONata', Output: '{% $eval("1") %}', End: true },
      },
    };
    expect(uncovered(definition).sort()).toEqual([
      'Task.HeartbeatSeconds',
      'context:$$.Task.Token',
      'intrinsic:States.UUID',
      'jsonata:$eval',
      'resource:sqs:sendMessage',
    ]);
    expect(checkDefinition(definition as never).map((d) => d.code)).toContain('UNSUPPORTED_FEATURE');
  });
});
