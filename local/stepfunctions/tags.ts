import type { Statement } from 'better-sqlite3';
import { AwsError } from '../http/errors';
import type { Migration, Store } from '../store/db';

/** A Step Functions tag, as the API spells it (lower-case members). */
export interface Tag {
  key: string;
  value: string;
}

/** Step Functions' limit of tags on one resource. */
const MAX_TAGS = 50;

export const TAGS_MIGRATION: Migration = {
  id: '002-tags',
  up: `CREATE TABLE sfn_tags (
    resource_arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key));`,
};

/** Tags on state machines: TagResource, UntagResource, ListTagsForResource and CreateStateMachine's `tags`. */
export class StateMachineTags {
  private readonly put: Statement;
  private readonly del: Statement;
  private readonly all: Statement;
  private readonly one: Statement;

  constructor(private readonly store: Store) {
    this.put = store.db.prepare(
      `INSERT INTO sfn_tags (resource_arn, key, value) VALUES (?, ?, ?)
       ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value`,
    );
    this.del = store.db.prepare('DELETE FROM sfn_tags WHERE resource_arn = ? AND key = ?');
    this.all = store.db.prepare('SELECT key, value FROM sfn_tags WHERE resource_arn = ? ORDER BY key');
    this.one = store.db.prepare('SELECT value FROM sfn_tags WHERE resource_arn = ? AND key = ?');
  }

  /** Adds or overwrites tags; more than 50 on the resource is `TooManyTags`, and nothing changes. */
  tag(arn: string, tags: readonly Tag[]): void {
    this.store.tx(() => {
      for (const t of tags) this.put.run(arn, t.key, t.value);
      if (this.list(arn).length > MAX_TAGS) {
        throw new AwsError('TooManyTags', `Too many tags: a resource holds at most ${MAX_TAGS}`);
      }
    });
  }

  untag(arn: string, keys: readonly string[]): void {
    this.store.tx(() => {
      for (const k of keys) this.del.run(arn, k);
    });
  }

  list(arn: string): Tag[] {
    return this.all.all(arn) as Tag[];
  }

  value(arn: string, key: string): string | undefined {
    return (this.one.get(arn, key) as { value: string } | undefined)?.value;
  }

  /** Forgets every tag of a deleted resource. */
  forget(arn: string): void {
    this.store.db.prepare('DELETE FROM sfn_tags WHERE resource_arn = ?').run(arn);
  }
}
