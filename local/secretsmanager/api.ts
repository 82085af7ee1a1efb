import { z } from 'zod';
import { invalidParameter, invalidRequest, parseRequest, validationError } from '../http/errors';
import type { JsonService, RequestContext } from '../http/registry';
import { INVALID_NAME } from './secrets';
import type { SecretsManager } from './service';
import type { Caller } from './trail';

/** A secret's name (or, with `arn:`, its ARN) as any operation takes it; `!` for services' own (`rds!`). */
const SECRET_ID = /^[A-Za-z0-9/_+=.@!-]+$/;

/**
 * AWS refuses an id that cannot be a secret's name with ValidationException and its own wording,
 * whichever operation is called (not ResourceNotFoundException).
 */
function checkSecretId(id: string | undefined): void {
  if (id !== undefined && !id.startsWith('arn:') && !SECRET_ID.test(id)) throw validationError(INVALID_NAME);
}

/**
 * The operations that create a version need a ClientRequestToken. The SDKs and the CLI generate
 * one (`idempotencyToken`); a raw HTTP request must carry its own or AWS refuses it
 * (ClientRequestToken in the API reference of CreateSecret, PutSecretValue, UpdateSecret and
 * RotateSecret). An AWS service calling through its own SDK (the Step Functions integrations)
 * gets one generated, as there.
 */
function requireToken<T extends { ClientRequestToken?: string | undefined }>(
  input: T,
  ctx: RequestContext,
  refuse: (message: string) => Error = invalidRequest,
): T {
  if (input.ClientRequestToken !== undefined) return input;
  if (ctx.accessKeyId.endsWith('.amazonaws.com'))
    return { ...input, ClientRequestToken: crypto.randomUUID() };
  throw refuse('You must provide a ClientRequestToken value. We recommend a UUID-type value.');
}

/** Parses a request whose SecretId must also be a valid secret id. */
function parseWithId<S extends z.ZodType<{ SecretId?: string | undefined }>>(
  schema: S,
  input: unknown,
): z.output<S> {
  const parsed = parseRequest(schema, input);
  checkSecretId(parsed.SecretId);
  return parsed;
}

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
/** ListSecrets' (and BatchGetSecretValue's) filters. */
const listFilters = z
  .array(
    z.object({
      Key: z.enum(['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all']),
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
  .max(10);
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
    Filters: listFilters.optional(),
    SortOrder: z.enum(['asc', 'desc']).optional(),
    SortBy: z.enum(['created-date', 'last-accessed-date', 'last-changed-date', 'name']).optional(),
  }),
  BatchGetSecretValue: z.object({
    SecretIdList: z.array(secretId).min(1).max(20).optional(),
    Filters: listFilters.optional(),
    MaxResults: z.number().int().min(1).max(20).optional(),
    NextToken: z.string().min(1).max(4096).optional(),
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
  PutResourcePolicy: z.object({
    SecretId: secretId,
    ResourcePolicy: z.string().min(1).max(20480),
    BlockPublicPolicy: z.boolean().optional(),
  }),
  GetResourcePolicy: z.object({ SecretId: secretId }),
  DeleteResourcePolicy: z.object({ SecretId: secretId }),
  ValidateResourcePolicy: z.object({
    SecretId: secretId.optional(),
    ResourcePolicy: z.string().min(1).max(20480),
  }),
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
    // Secrets Manager's error shapes name their text `Message`; an SDK reads the modelled member.
    errorMessageMember: 'Message',
    operations: {
      CreateSecret: (input, ctx) => {
        const req = requireToken(parseRequest(schemas.CreateSecret, input), ctx);
        return sm.createSecret(req, caller(ctx));
      },
      GetSecretValue: (input) => sm.getSecretValue(parseWithId(schemas.GetSecretValue, input)),
      PutSecretValue: (input, ctx) =>
        sm.putSecretValue(requireToken(parseWithId(schemas.PutSecretValue, input), ctx), caller(ctx)),
      UpdateSecret: (input, ctx) =>
        sm.updateSecret(requireToken(parseWithId(schemas.UpdateSecret, input), ctx), caller(ctx)),
      UpdateSecretVersionStage: (input, ctx) =>
        sm.updateSecretVersionStage(parseWithId(schemas.UpdateSecretVersionStage, input), caller(ctx)),
      DescribeSecret: (input) => sm.describeSecret(parseWithId(schemas.DescribeSecret, input)),
      ListSecrets: (input) => sm.listSecrets(parseRequest(schemas.ListSecrets, input)),
      BatchGetSecretValue: (input, ctx) => {
        const req = parseRequest(schemas.BatchGetSecretValue, input);
        if ((req.SecretIdList === undefined) === (req.Filters === undefined))
          throw invalidParameter('Either SecretIdList or Filters must be specified, but not both.');
        if (req.Filters === undefined && (req.MaxResults !== undefined || req.NextToken !== undefined))
          throw invalidParameter('MaxResults and NextToken can only be specified with Filters.');
        for (const id of req.SecretIdList ?? []) checkSecretId(id);
        // Each secret is authorized as its own GetSecretValue (the API reference's required permissions).
        const denial = ctx.denial;
        return sm.batchGetSecretValue(req, denial && ((id) => denial('GetSecretValue', { SecretId: id })));
      },
      ListSecretVersionIds: (input) =>
        sm.listSecretVersionIds(parseWithId(schemas.ListSecretVersionIds, input)),
      DeleteSecret: (input, ctx) => sm.deleteSecret(parseWithId(schemas.DeleteSecret, input), caller(ctx)),
      RestoreSecret: (input, ctx) => sm.restoreSecret(parseWithId(schemas.RestoreSecret, input), caller(ctx)),
      // The same words as the others, but AWS, recorded, answers RotateSecret's missing token with
      // InvalidParameterException where CreateSecret, PutSecretValue and UpdateSecret answer
      // InvalidRequestException.
      RotateSecret: (input, ctx) =>
        sm.rotateSecret(
          requireToken(parseWithId(schemas.RotateSecret, input), ctx, invalidParameter),
          caller(ctx),
        ),
      CancelRotateSecret: (input, ctx) =>
        sm.cancelRotateSecret(parseWithId(schemas.CancelRotateSecret, input), caller(ctx)),
      GetRandomPassword: (input) => sm.getRandomPassword(parseRequest(schemas.GetRandomPassword, input)),
      TagResource: (input, ctx) => sm.tagResource(parseWithId(schemas.TagResource, input), caller(ctx)),
      UntagResource: (input, ctx) => sm.untagResource(parseWithId(schemas.UntagResource, input), caller(ctx)),
      PutResourcePolicy: (input, ctx) =>
        sm.putResourcePolicy(parseWithId(schemas.PutResourcePolicy, input), caller(ctx)),
      GetResourcePolicy: (input) => sm.getResourcePolicy(parseWithId(schemas.GetResourcePolicy, input)),
      DeleteResourcePolicy: (input, ctx) =>
        sm.deleteResourcePolicy(parseWithId(schemas.DeleteResourcePolicy, input), caller(ctx)),
      ValidateResourcePolicy: (input) =>
        sm.validateResourcePolicy(parseWithId(schemas.ValidateResourcePolicy, input)),
    },
  };
}
