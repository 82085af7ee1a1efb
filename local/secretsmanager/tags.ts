/** A secret's tags: TagResource, UntagResource, and the checks CreateSecret shares. */
import type { Tag, TagResourceRequest, UntagResourceRequest } from '@aws-sdk/client-secrets-manager';
import { AwsError, invalidParameter } from '../http/errors';
import { findActive, type SecretsContext } from './context';
import type { Caller } from './trail';

const RESERVED = "Tag keys beginning with 'aws:' are reserved for AWS use.";

/** Tags as AWS checks them; `aws:` keys only for a service acting for itself. */
export function validTags(tags: readonly Tag[], caller: Caller): Tag[] {
  const seen = new Set<string>();
  for (const t of tags) {
    const key = t.Key ?? '';
    if (key.length < 1 || key.length > 128 || (t.Value ?? '').length > 256) {
      throw invalidParameter('Tag keys must be 1 to 128 characters and tag values at most 256 characters.');
    }
    if (!caller.service && key.toLowerCase().startsWith('aws:')) throw invalidParameter(RESERVED);
    if (seen.has(key)) throw invalidParameter(`Duplicate tag key: ${key}`);
    seen.add(key);
  }
  return tags.map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
}

/** Secrets Manager's quota: at most 50 tags on a secret. */
export function checkTagCount(tags: readonly Tag[]): void {
  if (tags.length > 50) {
    throw new AwsError(
      'LimitExceededException',
      'The request failed because it would exceed one of the Secrets Manager quotas: at most 50 tags.',
    );
  }
}

export function tagResource(
  ctx: SecretsContext,
  input: TagResourceRequest,
  caller: Caller,
): Record<string, never> {
  return ctx.db.tx(() => {
    const s = findActive(ctx, input.SecretId);
    const tags = JSON.parse(s.tags) as Tag[];
    for (const t of validTags(input.Tags ?? [], caller)) {
      const at = tags.findIndex((x) => x.Key === t.Key);
      if (at >= 0) tags[at] = t;
      else tags.push(t);
    }
    checkTagCount(tags);
    ctx.db.setTags(s.arn, JSON.stringify(tags), ctx.now());
    ctx.trail.apiEvent('TagResource', caller, input, {});
    return {};
  });
}

export function untagResource(
  ctx: SecretsContext,
  input: UntagResourceRequest,
  caller: Caller,
): Record<string, never> {
  return ctx.db.tx(() => {
    const s = findActive(ctx, input.SecretId);
    const drop = new Set(input.TagKeys ?? []);
    if (!caller.service && [...drop].some((k) => k.startsWith('aws:'))) throw invalidParameter(RESERVED);
    const tags = (JSON.parse(s.tags) as Tag[]).filter((t) => !drop.has(t.Key ?? ''));
    ctx.db.setTags(s.arn, JSON.stringify(tags), ctx.now());
    ctx.trail.apiEvent('UntagResource', caller, input, {});
    return {};
  });
}
