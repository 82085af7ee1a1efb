import { z } from 'zod';
import { parseRequest } from '../http/errors';
import type { JsonService } from '../http/registry';
import type { EventBridge } from './service';

const target = z.object({
  Id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[.\-_A-Za-z0-9]+$/, 'Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+'),
  Arn: z.string().min(1),
  RoleArn: z.string().optional(),
  Input: z.string().optional(),
  InputPath: z.string().optional(),
  InputTransformer: z
    .object({ InputPathsMap: z.record(z.string(), z.string()).optional(), InputTemplate: z.string() })
    .optional(),
});

const schemas = {
  PutRule: z.object({
    Name: z.string().regex(/^[.\-_A-Za-z0-9]{1,64}$/),
    EventPattern: z.string().optional(),
    ScheduleExpression: z.string().optional(),
    State: z.enum(['ENABLED', 'DISABLED']).optional(),
    Description: z.string().optional(),
  }),
  Name: z.object({ Name: z.string().min(1) }),
  ListRules: z.object({ NamePrefix: z.string().optional() }),
  PutTargets: z.object({ Rule: z.string().min(1), Targets: z.array(target).min(1).max(10) }),
  Rule: z.object({ Rule: z.string().min(1) }),
  RemoveTargets: z.object({ Rule: z.string().min(1), Ids: z.array(z.string()).min(1) }),
  PutEvents: z.object({
    Entries: z
      .array(
        z.object({
          Source: z.string().optional(),
          DetailType: z.string().optional(),
          Detail: z.string().optional(),
          Resources: z.array(z.string()).optional(),
          EventBusName: z.string().optional(),
          Time: z.union([z.number(), z.string()]).optional(),
        }),
      )
      .min(1)
      .max(10),
  }),
  TestEventPattern: z.object({ EventPattern: z.string(), Event: z.string() }),
};

/** EventBridge's JSON 1.1 protocol (X-Amz-Target: AWSEvents.<Operation>). */
export function eventBridgeJsonService(eb: EventBridge): JsonService {
  return {
    protocol: 'json',
    targetPrefix: 'AWSEvents',
    signingName: 'events',
    // PutEvents entries total under 256 KB; escaped inside JSON strings they grow.
    maxRequestBytes: 1024 * 1024,
    jsonVersion: '1.1',
    operations: {
      PutRule: (i) => eb.putRule(parseRequest(schemas.PutRule, i) as never),
      DescribeRule: (i) => eb.describeRule(parseRequest(schemas.Name, i)),
      ListRules: (i) => eb.listRules(parseRequest(schemas.ListRules, i) as never),
      DeleteRule: (i) => eb.deleteRule(parseRequest(schemas.Name, i)),
      PutTargets: (i) => eb.putTargets(parseRequest(schemas.PutTargets, i) as never),
      ListTargetsByRule: (i) => eb.listTargetsByRule(parseRequest(schemas.Rule, i)),
      RemoveTargets: (i) => eb.removeTargets(parseRequest(schemas.RemoveTargets, i)),
      PutEvents: (i) => eb.putEvents(parseRequest(schemas.PutEvents, i) as never),
      TestEventPattern: (i) => eb.testEventPattern(parseRequest(schemas.TestEventPattern, i)),
    },
  };
}
