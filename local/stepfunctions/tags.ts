import { AwsError } from '../http/errors';
import type { StepFunctionsStore, Tag } from './store';

/** Step Functions' limit of tags on one resource. */
const MAX_TAGS = 50;

/** Adds or overwrites tags; more than 50 on the resource is `TooManyTags`, and nothing changes. */
export function tagMachine(db: StepFunctionsStore, arn: string, tags: readonly Tag[]): void {
  db.tx(() => {
    for (const t of tags) db.putTag(arn, t);
    if (db.tags(arn).length > MAX_TAGS) {
      throw new AwsError('TooManyTags', `Too many tags: a resource holds at most ${MAX_TAGS}`);
    }
  });
}

export function untagMachine(db: StepFunctionsStore, arn: string, keys: readonly string[]): void {
  db.tx(() => {
    for (const k of keys) db.deleteTag(arn, k);
  });
}
