/**
 * What each Secrets Manager call needs of IAM, as AWS's service authorization reference lists it
 * ("Actions, resources, and condition keys for AWS Secrets Manager"): the action, the secret's ARN
 * (or `*`), and the condition keys credflow's policies use. The gate (local/iam/gate.ts) decides.
 */
import type { AuthzDescriber, AuthzNeed } from '../iam/gate';
import type { ContextValue } from '../iam/types';
import type { SecretsManager } from './service';

type Tag = { Key?: unknown; Value?: unknown };

function requestTags(tags: unknown): Record<string, ContextValue> {
  const list = Array.isArray(tags) ? (tags as Tag[]) : [];
  if (list.length === 0) return {};
  const out: Record<string, ContextValue> = { 'aws:TagKeys': list.map((t) => String(t.Key)) };
  for (const t of list) out[`aws:RequestTag/${String(t.Key)}`] = String(t.Value ?? '');
  return out;
}

/** Operations that take no secret. */
const UNSCOPED = new Set(['ListSecrets', 'GetRandomPassword']);
/** Operations on one secret (`SecretId`). */
const ON_SECRET = new Set([
  'CancelRotateSecret',
  'DeleteResourcePolicy',
  'DeleteSecret',
  'DescribeSecret',
  'GetResourcePolicy',
  'GetSecretValue',
  'ListSecretVersionIds',
  'PutResourcePolicy',
  'PutSecretValue',
  'RestoreSecret',
  'RotateSecret',
  'TagResource',
  'UntagResource',
  'UpdateSecret',
  'UpdateSecretVersionStage',
  'ValidateResourcePolicy',
]);

export function secretsManagerAuthz(
  sm: SecretsManager,
  where: { region: string; accountId: string },
): AuthzDescriber {
  const arnOfName = (name: string) =>
    `arn:aws:secretsmanager:${where.region}:${where.accountId}:secret:${name}`;
  return (op, input) => {
    if (UNSCOPED.has(op)) return [{ action: `secretsmanager:${op}`, resource: '*' }];
    if (op === 'BatchGetSecretValue') {
      // BatchGetSecretValue's API reference: secretsmanager:BatchGetSecretValue, ListSecrets too
      // with filters, and GetSecretValue on each secret, which the call itself asks for secret by
      // secret (a secret the caller may not read is reported in its Errors, not a failed call).
      const needs: AuthzNeed[] = [{ action: 'secretsmanager:BatchGetSecretValue', resource: '*' }];
      if (input['Filters'] !== undefined) needs.push({ action: 'secretsmanager:ListSecrets', resource: '*' });
      return needs;
    }
    if (op === 'CreateSecret') {
      const name = String(input['Name'] ?? '');
      // The new secret's ARN; its six random characters do not exist yet.
      const resource = `${arnOfName(name)}-??????`;
      const tags = requestTags(input['Tags']);
      const needs: AuthzNeed[] = [
        {
          action: 'secretsmanager:CreateSecret',
          resource,
          context: {
            'secretsmanager:Name': name,
            ...(input['KmsKeyId'] ? { 'secretsmanager:KmsKeyId': String(input['KmsKeyId']) } : {}),
            ...tags,
          },
        },
      ];
      // Tags given at creation are also a TagResource (the CreateSecret API reference, "Required
      // permissions": "If you include tags in the secret, you also need secretsmanager:TagResource"),
      // checked with the request's tags, so a Deny on TagResource by aws:TagKeys holds here too.
      if (tags['aws:TagKeys']) needs.push({ action: 'secretsmanager:TagResource', resource, context: tags });
      return needs;
    }
    if (!ON_SECRET.has(op)) return undefined;
    const id = typeof input['SecretId'] === 'string' ? input['SecretId'] : undefined;
    if (op === 'ValidateResourcePolicy' && !id) return [{ action: `secretsmanager:${op}`, resource: '*' }];
    const secret = sm.authzView(id);
    const resource = secret?.arn ?? (id?.startsWith('arn:') ? id : arnOfName(id ?? ''));
    const context: Record<string, ContextValue> = { 'secretsmanager:SecretId': resource };
    for (const t of secret?.tags ?? []) {
      context[`aws:ResourceTag/${t.Key}`] = t.Value;
      context[`secretsmanager:ResourceTag/${t.Key}`] = t.Value;
    }
    if (op === 'TagResource') Object.assign(context, requestTags(input['Tags']));
    if (op === 'UntagResource' && Array.isArray(input['TagKeys']))
      context['aws:TagKeys'] = (input['TagKeys'] as unknown[]).map(String);
    const needs: AuthzNeed[] = [
      { action: `secretsmanager:${op}`, resource, context, resourcePolicy: secret?.policy ?? undefined },
    ];
    if (op === 'RotateSecret') {
      // AWS authorizes RotateSecret twice: the secret, and the caller's right to invoke the
      // rotation function (the API reference: "lambda:InvokeFunction on the rotation function").
      const fn =
        typeof input['RotationLambdaARN'] === 'string'
          ? input['RotationLambdaARN']
          : secret?.rotationLambdaArn;
      if (fn) needs.push({ action: 'lambda:InvokeFunction', resource: fn });
      if (input['RotationLambdaARN'])
        context['secretsmanager:RotationLambdaARN'] = String(input['RotationLambdaARN']);
    }
    return needs;
  };
}
