/** AWS-shaped events the unit tests hand to rules and repair parsers. */
/** A Secrets Manager RotationFailed event as EventBridge delivers it. */
export const smRotationFailed = {
  version: '0',
  id: 'e1',
  'detail-type': 'AWS Service Event via CloudTrail',
  source: 'aws.secretsmanager',
  account: '000000000000',
  time: '2026-11-23T00:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: {
    eventSource: 'secretsmanager.amazonaws.com',
    eventName: 'RotationFailed',
    additionalEventData: {
      SecretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:credflow/app-AbCdEf',
    },
  },
};
/** A rotate-secret execution status change (FAILED unless `status` says otherwise). */
export const executionFailed = (error: string | undefined, status = 'FAILED') => ({
  version: '0',
  id: 'e2',
  'detail-type': 'Step Functions Execution Status Change',
  source: 'aws.states',
  account: '000000000000',
  time: '2026-11-23T00:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: {
    executionArn: 'arn:aws:states:us-east-1:000000000000:execution:credflow-local-rotate-secret:run-1',
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:credflow-local-rotate-secret',
    name: 'run-1',
    status,
    input: JSON.stringify({ secretId: 'credflow/db/app' }),
    ...(error ? { error, cause: 'boom' } : {}),
  },
});
