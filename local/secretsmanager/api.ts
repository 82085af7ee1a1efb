import { z } from 'zod';
import { parseRequest } from '../http/errors';
import type { JsonService, RequestContext } from '../http/registry';
import type { SecretsManager } from './service';
import type { Caller } from './trail';

const secretId = z.string().min(1).max(2048);
const token = z.string().min(32).max(64);
const secretString = z.string().max(65536);
const secretBinary = z
  .string()
  .max(87384)
  .transform((b64) => new Uint8Array(Buffer.from(b64, 'base64')))
  .refine((bytes) => bytes.length <= 65536, 'Member must have length less than or equal to 65536');
const tag = z.object({ Key: z.string().min(1).max(128), Value: z.string().max(256).optional() });
const versionStages = z.array(z.string().min(1).max(256)).min(1).max(20);
const rotationRules = z.object({
  AutomaticallyAfterDays: z.number().int().min(1).max(1000).optional(),
  Duration: z.string().min(2).max(3).optional(),
  ScheduleExpression: z.string().min(1).max(256).optional(),
});

/** Request schemas: the API model's shapes and length limits. Unknown members are ignored, as AWS does. */
export const schemas = {
  CreateSecret: z.object({
    Name: z.string().min(1).max(512),
    ClientRequestToken: token.optional(),
    Description: z.string().max(2048).optional(),
    KmsKeyId: z.string().max(2048).optional(),
    SecretBinary: secretBinary.optional(),
    SecretString: secretString.optional(),
    Tags: z.array(tag).optional(),
    ForceOverwriteReplicaSecret: z.boolean().optional(),
  }),
  GetSecretValue: z.object({
    SecretId: secretId,
    VersionId: token.optional(),
    VersionStage: z.string().min(1).max(256).optional(),
  }),
  PutSecretValue: z.object({
    SecretId: secretId,
    ClientRequestToken: token.optional(),
    SecretBinary: secretBinary.optional(),
    SecretString: secretString.optional(),
    VersionStages: versionStages.optional(),
  }),
  UpdateSecret: z.object({
    SecretId: secretId,
    ClientRequestToken: token.optional(),
    Description: z.string().max(2048).optional(),
    KmsKeyId: z.string().max(2048).optional(),
    SecretBinary: secretBinary.optional(),
    SecretString: secretString.optional(),
  }),
  UpdateSecretVersionStage: z.object({
    SecretId: secretId,
    VersionStage: z.string().min(1).max(256),
    RemoveFromVersionId: token.optional(),
    MoveToVersionId: token.optional(),
  }),
  DescribeSecret: z.object({ SecretId: secretId }),
  ListSecrets: z.object({
    IncludePlannedDeletion: z.boolean().optional(),
    MaxResults: z.number().int().min(1).max(100).optional(),
    NextToken: z.string().min(1).max(4096).optional(),
    Filters: z
      .array(
        z.object({
          Key: z.enum([
            'description',
            'name',
            'tag-key',
            'tag-value',
            'primary-region',
            'owning-service',
            'all',
          ]),
          Values: z
            .array(
              z
                .string()
                .max(512)
                .regex(/^!?[a-zA-Z0-9 :_@/+=.\-!]*$/),
            )
            .min(1)
            .max(10),
        }),
      )
      .max(10)
      .optional(),
    SortOrder: z.enum(['asc', 'desc']).optional(),
    SortBy: z.enum(['created-date', 'last-accessed-date', 'last-changed-date', 'name']).optional(),
  }),
  ListSecretVersionIds: z.object({
    SecretId: secretId,
    MaxResults: z.number().int().min(1).max(100).optional(),
    NextToken: z.string().min(1).max(4096).optional(),
    IncludeDeprecated: z.boolean().optional(),
  }),
  DeleteSecret: z.object({
    SecretId: secretId,
    RecoveryWindowInDays: z.number().int().optional(),
    ForceDeleteWithoutRecovery: z.boolean().optional(),
  }),
  RestoreSecret: z.object({ SecretId: secretId }),
  RotateSecret: z.object({
    SecretId: secretId,
    ClientRequestToken: token.optional(),
    RotationLambdaARN: z.string().max(2048).optional(),
    RotationRules: rotationRules.optional(),
    RotateImmediately: z.boolean().optional(),
  }),
  CancelRotateSecret: z.object({ SecretId: secretId }),
  GetRandomPassword: z.object({
    PasswordLength: z.number().int().min(1).max(4096).optional(),
    ExcludeCharacters: z.string().max(4096).optional(),
    ExcludeNumbers: z.boolean().optional(),
    ExcludePunctuation: z.boolean().optional(),
    ExcludeUppercase: z.boolean().optional(),
    ExcludeLowercase: z.boolean().optional(),
    IncludeSpace: z.boolean().optional(),
    RequireEachIncludedType: z.boolean().optional(),
  }),
  TagResource: z.object({ SecretId: secretId, Tags: z.array(tag) }),
  UntagResource: z.object({ SecretId: secretId, TagKeys: z.array(z.string().min(1).max(128)) }),
};

function caller(ctx: RequestContext): Caller {
  return {
    requestId: ctx.requestId,
    accessKeyId: ctx.accessKeyId,
    sourceIp: ctx.sourceIp,
    userAgent: ctx.userAgent,
  };
}

/** Secrets Manager on AWS JSON 1.1 (`X-Amz-Target: secretsmanager.<Operation>`). */
export function secretsManagerJsonService(sm: SecretsManager): JsonService {
  return {
    protocol: 'json',
    targetPrefix: 'secretsmanager',
    signingName: 'secretsmanager',
    // A secret value is at most 65,536 bytes; JSON escapes can make a string six times longer.
    maxRequestBytes: 512 * 1024,
    jsonVersion: '1.1',
    operations: {
      CreateSecret: (input, ctx) => sm.createSecret(parseRequest(schemas.CreateSecret, input), caller(ctx)),
      GetSecretValue: (input) => sm.getSecretValue(parseRequest(schemas.GetSecretValue, input)),
      PutSecretValue: (input, ctx) =>
        sm.putSecretValue(parseRequest(schemas.PutSecretValue, input), caller(ctx)),
      UpdateSecret: (input, ctx) => sm.updateSecret(parseRequest(schemas.UpdateSecret, input), caller(ctx)),
      UpdateSecretVersionStage: (input, ctx) =>
        sm.updateSecretVersionStage(parseRequest(schemas.UpdateSecretVersionStage, input), caller(ctx)),
      DescribeSecret: (input) => sm.describeSecret(parseRequest(schemas.DescribeSecret, input)),
      ListSecrets: (input) => sm.listSecrets(parseRequest(schemas.ListSecrets, input)),
      ListSecretVersionIds: (input) =>
        sm.listSecretVersionIds(parseRequest(schemas.ListSecretVersionIds, input)),
      DeleteSecret: (input, ctx) => sm.deleteSecret(parseRequest(schemas.DeleteSecret, input), caller(ctx)),
      RestoreSecret: (input, ctx) =>
        sm.restoreSecret(parseRequest(schemas.RestoreSecret, input), caller(ctx)),
      RotateSecret: (input, ctx) => sm.rotateSecret(parseRequest(schemas.RotateSecret, input), caller(ctx)),
      CancelRotateSecret: (input, ctx) =>
        sm.cancelRotateSecret(parseRequest(schemas.CancelRotateSecret, input), caller(ctx)),
      GetRandomPassword: (input) => sm.getRandomPassword(parseRequest(schemas.GetRandomPassword, input)),
      TagResource: (input, ctx) => sm.tagResource(parseRequest(schemas.TagResource, input), caller(ctx)),
      UntagResource: (input, ctx) =>
        sm.untagResource(parseRequest(schemas.UntagResource, input), caller(ctx)),
    },
  };
}
