import { z } from 'zod';
import { parseRequest } from '../http/errors';
import type { JsonService } from '../http/registry';
import type { StepFunctions } from './service';

const arn = z.string().min(1).max(2048);
// Step Functions' tag limits: keys 1-128 and values 0-256 characters of letters, digits, spaces and _.:/=+-@.
const tagText = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const tag = z.object({
  key: z.string().min(1).max(128).regex(tagText),
  value: z.string().max(256).regex(tagText),
});

const schemas = {
  CreateStateMachine: z.object({
    name: z.string().min(1).max(80),
    definition: z.string().min(1).max(1_048_576),
    roleArn: arn,
    type: z.enum(['STANDARD', 'EXPRESS']).optional(),
    tags: z.array(tag).max(50).optional(),
  }),
  UpdateStateMachine: z.object({
    stateMachineArn: arn,
    definition: z.string().optional(),
    roleArn: arn.optional(),
  }),
  DescribeStateMachine: z.object({ stateMachineArn: arn }),
  DeleteStateMachine: z.object({ stateMachineArn: arn }),
  ListStateMachines: z.object({
    maxResults: z.number().int().min(0).max(1000).optional(),
    nextToken: z.string().optional(),
  }),
  StartExecution: z.object({
    stateMachineArn: arn,
    name: z.string().min(1).max(80).optional(),
    input: z.string().max(262_144).optional(),
  }),
  DescribeExecution: z.object({ executionArn: arn }),
  GetExecutionHistory: z.object({
    executionArn: arn,
    maxResults: z.number().int().min(0).max(1000).optional(),
    nextToken: z.string().optional(),
    reverseOrder: z.boolean().optional(),
  }),
  ListExecutions: z.object({
    stateMachineArn: arn,
    statusFilter: z
      .enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'])
      .optional(),
    maxResults: z.number().int().min(0).max(1000).optional(),
    nextToken: z.string().optional(),
  }),
  TagResource: z.object({ resourceArn: arn, tags: z.array(tag).max(50) }),
  UntagResource: z.object({ resourceArn: arn, tagKeys: z.array(z.string().min(1).max(128)).max(50) }),
  ListTagsForResource: z.object({ resourceArn: arn }),
  StopExecution: z.object({
    executionArn: arn,
    error: z.string().max(256).optional(),
    cause: z.string().max(32768).optional(),
  }),
};

/** Step Functions' JSON 1.0 protocol (X-Amz-Target: AWSStepFunctions.<Operation>). */
export function stepFunctionsJsonService(sfn: StepFunctions): JsonService {
  return {
    protocol: 'json',
    targetPrefix: 'AWSStepFunctions',
    signingName: 'states',
    // Step Functions' quota: "Maximum request size: 1 MB per request" (inputs are 256 KiB).
    maxRequestBytes: 1024 * 1024,
    jsonVersion: '1.0',
    operations: {
      CreateStateMachine: (i) => sfn.createStateMachine(parseRequest(schemas.CreateStateMachine, i) as never),
      UpdateStateMachine: (i) => sfn.updateStateMachine(parseRequest(schemas.UpdateStateMachine, i) as never),
      DescribeStateMachine: (i) => sfn.describeStateMachine(parseRequest(schemas.DescribeStateMachine, i)),
      DeleteStateMachine: (i) => sfn.deleteStateMachine(parseRequest(schemas.DeleteStateMachine, i)),
      ListStateMachines: (i) => sfn.listStateMachines(parseRequest(schemas.ListStateMachines, i) as never),
      StartExecution: (i) => sfn.startExecution(parseRequest(schemas.StartExecution, i) as never),
      DescribeExecution: (i) => sfn.describeExecution(parseRequest(schemas.DescribeExecution, i)),
      GetExecutionHistory: (i) =>
        sfn.getExecutionHistory(parseRequest(schemas.GetExecutionHistory, i) as never),
      ListExecutions: (i) => sfn.listExecutions(parseRequest(schemas.ListExecutions, i) as never),
      StopExecution: (i) => sfn.stopExecution(parseRequest(schemas.StopExecution, i) as never),
      TagResource: (i) => sfn.tagResource(parseRequest(schemas.TagResource, i)),
      UntagResource: (i) => sfn.untagResource(parseRequest(schemas.UntagResource, i)),
      ListTagsForResource: (i) => sfn.listTagsForResource(parseRequest(schemas.ListTagsForResource, i)),
    },
  };
}
