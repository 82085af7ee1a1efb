import type { Migration, Store } from '../store/db';
import type { StageMap } from './labels';

export interface SecretRow {
  arn: string;
  name: string;
  description: string | null;
  kms_key_id: string | null;
  owning_service: string | null;
  created_ms: number;
  last_changed_ms: number;
  last_accessed_ms: number | null;
  last_rotated_ms: number | null;
  rotation_enabled: number;
  rotation_lambda_arn: string | null;
  rotation_rules: string | null;
  next_rotation_ms: number | null;
  deleted_ms: number | null;
  purge_ms: number | null;
  /** JSON: the secret's tags as the API lists them. */
  tags: string;
  /** 1 once tags were given or changed: AWS then lists `Tags` even when empty. */
  tags_set: number;
  /** The resource-based policy (PutResourcePolicy), as the caller sent it. */
  resource_policy: string | null;
}

export interface VersionRow {
  seq: number;
  secret_arn: string;
  version_id: string;
  created_ms: number;
  last_accessed_ms: number | null;
  kms_key_id: string;
  /** Null on RotateSecret's placeholder, which has no value yet. */
  kind: 'string' | 'binary' | null;
  ciphertext: Buffer | null;
}

/** What CreateSecret stores about a new secret. */
export type NewSecret = Pick<
  SecretRow,
  | 'arn'
  | 'name'
  | 'description'
  | 'kms_key_id'
  | 'owning_service'
  | 'created_ms'
  | 'rotation_rules'
  | 'next_rotation_ms'
  | 'tags'
  | 'tags_set'
>;

/** ListSecrets' SortBy values, as the column (or expression) each orders by. */
const SORT_EXPRESSIONS = {
  name: 'name',
  'created-date': 'created_ms',
  'last-changed-date': 'last_changed_ms',
  'last-accessed-date': 'COALESCE(last_accessed_ms, 0)',
} as const;
export type SecretSort = keyof typeof SORT_EXPRESSIONS;

const MIGRATIONS: Migration[] = [
  {
    id: '001-secrets',
    up: `
      CREATE TABLE sm_secrets (
        arn TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT,
        kms_key_id TEXT,
        owning_service TEXT,
        created_ms INTEGER NOT NULL,
        last_changed_ms INTEGER NOT NULL,
        last_accessed_ms INTEGER,
        last_rotated_ms INTEGER,
        rotation_enabled INTEGER NOT NULL DEFAULT 0,
        rotation_lambda_arn TEXT,
        rotation_rules TEXT,
        next_rotation_ms INTEGER,
        deleted_ms INTEGER,
        purge_ms INTEGER,
        tags TEXT NOT NULL DEFAULT '[]');
      CREATE INDEX sm_secrets_purge ON sm_secrets (purge_ms) WHERE purge_ms IS NOT NULL;
      CREATE TABLE sm_versions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        secret_arn TEXT NOT NULL REFERENCES sm_secrets (arn) ON DELETE CASCADE,
        version_id TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        last_accessed_ms INTEGER,
        kms_key_id TEXT NOT NULL,
        kind TEXT,
        ciphertext BLOB,
        UNIQUE (secret_arn, version_id));
      CREATE TABLE sm_stages (
        secret_arn TEXT NOT NULL REFERENCES sm_secrets (arn) ON DELETE CASCADE,
        stage TEXT NOT NULL,
        version_id TEXT NOT NULL,
        PRIMARY KEY (secret_arn, stage),
        FOREIGN KEY (secret_arn, version_id) REFERENCES sm_versions (secret_arn, version_id) ON DELETE CASCADE);`,
  },
  {
    id: '002-resource-policy-and-tag-state',
    up: `
      ALTER TABLE sm_secrets ADD COLUMN resource_policy TEXT;
      ALTER TABLE sm_secrets ADD COLUMN tags_set INTEGER NOT NULL DEFAULT 0;
      UPDATE sm_secrets SET tags_set = 1 WHERE tags <> '[]';`,
  },
];

/**
 * Secrets Manager's tables (secrets, their versions with sealed values, staging labels) and every
 * statement on them. Values arrive here already encrypted; nothing in this file sees plaintext.
 */
export class SecretsStore {
  constructor(private readonly store: Store) {
    store.migrate('secretsmanager', MIGRATIONS);
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  tx<T>(fn: () => T): T {
    return this.store.tx(fn);
  }

  // ------------------------------------------------------------------ secrets

  secret(arn: string): SecretRow | undefined {
    return this.store.sql('SELECT * FROM sm_secrets WHERE arn = ?').get(arn) as SecretRow | undefined;
  }

  secretNamed(name: string): SecretRow | undefined {
    return this.store.sql('SELECT * FROM sm_secrets WHERE name = ?').get(name) as SecretRow | undefined;
  }

  /** Secrets whose ARN is `partial` plus a hyphen and six random characters. */
  secretsByPartialArn(partial: string): SecretRow[] {
    return this.store
      .sql('SELECT * FROM sm_secrets WHERE length(arn) = ? AND substr(arn, 1, ?) = ?')
      .all(partial.length + 7, partial.length + 1, `${partial}-`) as SecretRow[];
  }

  /**
   * Secrets in ListSecrets' order (`sort`, then ARN, both ascending or both descending), from
   * just after the position `after` (a sort key and an ARN), read one row at a time: a page costs
   * the rows it reads, not the whole table.
   */
  *secretsInOrder(
    sort: SecretSort,
    descending: boolean,
    includeDeleted: boolean,
    after?: { key: string | number; arn: string },
  ): Generator<SecretRow & { sort_key: string | number }> {
    const expr = SORT_EXPRESSIONS[sort];
    const [cmp, dir] = descending ? ['<', 'DESC'] : ['>', 'ASC'];
    const text = `SELECT *, ${expr} AS sort_key FROM sm_secrets
       WHERE (? OR deleted_ms IS NULL)${after ? ` AND (${expr}, arn) ${cmp} (?, ?)` : ''}
       ORDER BY ${expr} ${dir}, arn ${dir}`;
    const params: unknown[] = [includeDeleted ? 1 : 0, ...(after ? [after.key, after.arn] : [])];
    yield* this.store.sql(text).iterate(...params) as IterableIterator<
      SecretRow & { sort_key: string | number }
    >;
  }

  /** A new secret: changed when created, rotation on when it has rules. */
  insertSecret(s: NewSecret): void {
    this.store
      .sql(
        `INSERT INTO sm_secrets (arn, name, description, kms_key_id, owning_service, created_ms, last_changed_ms,
           rotation_enabled, rotation_rules, next_rotation_ms, tags, tags_set) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        s.arn,
        s.name,
        s.description,
        s.kms_key_id,
        s.owning_service,
        s.created_ms,
        s.created_ms,
        s.rotation_rules ? 1 : 0,
        s.rotation_rules,
        s.next_rotation_ms,
        s.tags,
        s.tags_set,
      );
  }

  /** UpdateSecret's metadata: a null leaves the stored value as it is. */
  updateDescription(arn: string, description: string | null, kmsKeyId: string | null, now: number): void {
    this.store
      .sql(
        'UPDATE sm_secrets SET description = coalesce(?, description), kms_key_id = coalesce(?, kms_key_id), last_changed_ms = ? WHERE arn = ?',
      )
      .run(description, kmsKeyId, now, arn);
  }

  setTags(arn: string, tagsJson: string, now: number): void {
    this.store
      .sql('UPDATE sm_secrets SET tags = ?, tags_set = 1, last_changed_ms = ? WHERE arn = ?')
      .run(tagsJson, now, arn);
  }

  /** Attaches (or, with null, removes) the secret's resource-based policy. */
  setResourcePolicy(arn: string, policy: string | null, now: number): void {
    this.store
      .sql('UPDATE sm_secrets SET resource_policy = ?, last_changed_ms = ? WHERE arn = ?')
      .run(policy, now, arn);
  }

  touch(arn: string, now: number): void {
    this.store.sql('UPDATE sm_secrets SET last_changed_ms = ? WHERE arn = ?').run(now, arn);
  }

  secretAccessed(arn: string, day: number): void {
    this.store.sql('UPDATE sm_secrets SET last_accessed_ms = ? WHERE arn = ?').run(day, arn);
  }

  deleteSecret(arn: string): void {
    this.store.sql('DELETE FROM sm_secrets WHERE arn = ?').run(arn);
  }

  scheduleDeletion(arn: string, now: number, purgeMs: number): void {
    this.store
      .sql('UPDATE sm_secrets SET deleted_ms = ?, purge_ms = ?, last_changed_ms = ? WHERE arn = ?')
      .run(now, purgeMs, now, arn);
  }

  restore(arn: string, now: number): void {
    this.store
      .sql('UPDATE sm_secrets SET deleted_ms = NULL, purge_ms = NULL, last_changed_ms = ? WHERE arn = ?')
      .run(now, arn);
  }

  /** Removes secrets whose recovery window has passed. */
  purgeExpired(now: number): void {
    // Look before deleting, so a read-only call takes no write lock.
    if (
      this.store.sql('SELECT 1 FROM sm_secrets WHERE purge_ms IS NOT NULL AND purge_ms <= ? LIMIT 1').get(now)
    ) {
      this.store.sql('DELETE FROM sm_secrets WHERE purge_ms IS NOT NULL AND purge_ms <= ?').run(now);
    }
  }

  // ------------------------------------------------------------------ rotation

  enableRotation(
    arn: string,
    lambdaArn: string,
    rulesJson: string | null,
    nextRotationMs: number | null,
    now: number,
  ): void {
    this.store
      .sql(
        `UPDATE sm_secrets SET rotation_enabled = 1, rotation_lambda_arn = ?, rotation_rules = ?,
           next_rotation_ms = ?, last_changed_ms = ? WHERE arn = ?`,
      )
      .run(lambdaArn, rulesJson, nextRotationMs, now, arn);
  }

  disableRotation(arn: string, now: number): void {
    this.store
      .sql(
        'UPDATE sm_secrets SET rotation_enabled = 0, next_rotation_ms = NULL, last_changed_ms = ? WHERE arn = ?',
      )
      .run(now, arn);
  }

  rotated(arn: string, now: number, nextRotationMs: number | null): void {
    this.store
      .sql(
        'UPDATE sm_secrets SET last_rotated_ms = ?, last_changed_ms = ?, next_rotation_ms = ? WHERE arn = ?',
      )
      .run(now, now, nextRotationMs, arn);
  }

  // ------------------------------------------------------------------ versions

  version(arn: string, versionId: string): VersionRow | undefined {
    return this.store
      .sql('SELECT * FROM sm_versions WHERE secret_arn = ? AND version_id = ?')
      .get(arn, versionId) as VersionRow | undefined;
  }

  /** Every version of a secret, oldest first. */
  versions(arn: string): VersionRow[] {
    return this.store
      .sql('SELECT * FROM sm_versions WHERE secret_arn = ? ORDER BY seq')
      .all(arn) as VersionRow[];
  }

  versionIds(arn: string): Set<string> {
    const rows = this.store.sql('SELECT version_id FROM sm_versions WHERE secret_arn = ?').all(arn) as {
      version_id: string;
    }[];
    return new Set(rows.map((r) => r.version_id));
  }

  /** A new version; `kind` and `ciphertext` null make RotateSecret's placeholder. */
  insertVersion(
    arn: string,
    versionId: string,
    now: number,
    kmsKeyId: string,
    kind: VersionRow['kind'],
    ciphertext: Buffer | null,
  ): void {
    this.store
      .sql(
        'INSERT INTO sm_versions (secret_arn, version_id, created_ms, kms_key_id, kind, ciphertext) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(arn, versionId, now, kmsKeyId, kind, ciphertext);
  }

  /** Gives RotateSecret's placeholder its value. */
  fillVersion(seq: number, kind: 'string' | 'binary', ciphertext: Buffer, kmsKeyId: string): void {
    this.store
      .sql('UPDATE sm_versions SET kind = ?, ciphertext = ?, kms_key_id = ? WHERE seq = ?')
      .run(kind, ciphertext, kmsKeyId, seq);
  }

  /** Drops one version (RotateSecret's configuration test leaves nothing behind). */
  deleteVersion(arn: string, versionId: string): void {
    this.store.sql('DELETE FROM sm_versions WHERE secret_arn = ? AND version_id = ?').run(arn, versionId);
  }

  versionAccessed(seq: number, day: number): void {
    this.store.sql('UPDATE sm_versions SET last_accessed_ms = ? WHERE seq = ?').run(day, seq);
  }

  /**
   * Drops the oldest deprecated (unlabelled) versions beyond `keep`, only those created before
   * `createdBefore` (Secrets Manager keeps every version of the last 24 hours).
   */
  pruneVersions(arn: string, keep: number, createdBefore = Number.MAX_SAFE_INTEGER): void {
    const { n } = this.store.sql('SELECT count(*) AS n FROM sm_versions WHERE secret_arn = ?').get(arn) as {
      n: number;
    };
    if (n <= keep) return;
    this.store
      .sql(
        `DELETE FROM sm_versions WHERE seq IN (
           SELECT v.seq FROM sm_versions v WHERE v.secret_arn = ? AND v.created_ms < ?
             AND NOT EXISTS (SELECT 1 FROM sm_stages s WHERE s.secret_arn = v.secret_arn AND s.version_id = v.version_id)
           ORDER BY v.seq LIMIT ?)`,
      )
      .run(arn, createdBefore, n - keep);
  }

  /** How many versions a secret has, and how many of them pruneVersions may remove. */
  versionCounts(arn: string, createdBefore: number): { count: number; removable: number } {
    return this.store
      .sql(
        `SELECT count(*) AS count, coalesce(sum(CASE WHEN v.created_ms < ? AND NOT EXISTS (
           SELECT 1 FROM sm_stages s WHERE s.secret_arn = v.secret_arn AND s.version_id = v.version_id)
         THEN 1 ELSE 0 END), 0) AS removable FROM sm_versions v WHERE v.secret_arn = ?`,
      )
      .get(createdBefore, arn) as { count: number; removable: number };
  }

  // ------------------------------------------------------------------ staging labels

  stageMap(arn: string): Map<string, string> {
    const rows = this.store.sql('SELECT stage, version_id FROM sm_stages WHERE secret_arn = ?').all(arn) as {
      stage: string;
      version_id: string;
    }[];
    return new Map(rows.map((r) => [r.stage, r.version_id]));
  }

  writeStages(arn: string, map: StageMap): void {
    this.store.sql('DELETE FROM sm_stages WHERE secret_arn = ?').run(arn);
    const insert = this.store.sql('INSERT INTO sm_stages (secret_arn, stage, version_id) VALUES (?, ?, ?)');
    for (const [stage, versionId] of map) insert.run(arn, stage, versionId);
  }
}
