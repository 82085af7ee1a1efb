import type { SecretListEntry } from '@aws-sdk/client-secrets-manager';
import {
  ATTENTION_KINDS,
  type ClassifyOptions,
  classifyAttention,
  classifySecret,
  isCredflowRotationFunction,
} from '../../../../src/lifecycle/attention';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const DAY = 86_400_000;
const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbC123`;
const OURS = 'arn:aws:lambda:us-east-1:123456789012:function:credflow-prod-rotationLambda';
const AWS_FN = 'arn:aws:lambda:us-east-1:123456789012:function:SecretsManagerRDSPostgreSQLRotationSingleUser';

/** A credflow secret created a day ago, rotated on credflow's function, nothing wrong. */
function managed(name: string, extra: Partial<SecretListEntry> = {}, tags: Record<string, string> = {}) {
  return {
    Name: name,
    CreatedDate: new Date(NOW - DAY),
    LastChangedDate: new Date(NOW - DAY),
    RotationEnabled: true,
    RotationLambdaARN: OURS,
    NextRotationDate: new Date(NOW + 29 * DAY),
    SecretVersionsToStages: { v1: ['AWSCURRENT'] },
    Tags: Object.entries({ 'credflow:managed': 'true', 'credflow:db': 'shop-db', ...tags }).map(
      ([Key, Value]) => ({
        Key,
        Value,
      }),
    ),
    ...extra,
    ARN: arn(name),
  } satisfies SecretListEntry & { ARN: string };
}

const opts = (o: Partial<ClassifyOptions> = {}): ClassifyOptions => ({
  now: NOW,
  stuckAfterMinutes: 30,
  maxAgeDays: 30,
  ...o,
});

const kindOf = (s: SecretListEntry, o?: Partial<ClassifyOptions>) => {
  const r = classifySecret(s, opts(o));
  return 'row' in r ? r.row.kind : `healthy:${r.healthy}`;
};

describe('what needs attention: each kind', () => {
  it('a secret with nothing wrong is counted healthy, not listed', () => {
    expect(kindOf(managed('credflow/shop-db/ok'))).toBe('healthy:ok');
  });

  it('broken: from the status tag the repair sets, or a live login check', () => {
    const tagged = managed('credflow/shop-db/b', {}, { 'credflow:rotation-status': 'broken' });
    const r = classifySecret(tagged, opts());
    expect('row' in r && r.row).toMatchObject({
      kind: 'broken',
      database: 'shop-db',
      look: 'credflow executions --secret credflow/shop-db/b',
      since: new Date(NOW - DAY).toISOString(),
    });
    const live = managed('credflow/shop-db/l');
    expect(kindOf(live, { observed: new Map([[live.ARN, { logsIn: false }]]) })).toBe('broken');
    // A live check that logs in overrides a stale tag.
    expect(kindOf(tagged, { observed: new Map([[tagged.ARN, { logsIn: true }]]) })).toBe('healthy:ok');
  });

  it('broken and failing say since when the repair recorded it, not since the last write to the secret', () => {
    const since = new Date(NOW - 3 * DAY).toISOString();
    // A later tag write (verify's drift tag, a last-rotated tag) moved LastChangedDate.
    const later = { LastChangedDate: new Date(NOW - 3_600_000) };
    for (const status of ['broken', 'rolled-back']) {
      const s = managed('credflow/shop-db/s', later, {
        'credflow:rotation-status': status,
        'credflow:rotation-status-since': since,
      });
      const r = classifySecret(s, opts());
      expect('row' in r && r.row.since).toBe(since);
    }
    // Anyone who may tag the secret can write anything there: what is not a date is not read.
    for (const junk of ['yesterday', '2026-13-45T99:00:00Z', '']) {
      const s = managed('credflow/shop-db/j', later, {
        'credflow:rotation-status': 'broken',
        'credflow:rotation-status-since': junk,
      });
      const r = classifySecret(s, opts());
      expect('row' in r && r.row.since).toBe(later.LastChangedDate.toISOString());
    }
  });

  it('failing: the last rotation failed and was rolled back or forward', () => {
    for (const v of ['rolled-back', 'rolled-forward']) {
      expect(kindOf(managed('credflow/shop-db/f', {}, { 'credflow:rotation-status': v }))).toBe('failing');
    }
    expect(kindOf(managed('credflow/shop-db/f', {}, { 'credflow:rotation-status': 'ok' }))).toBe(
      'healthy:ok',
    );
  });

  it('stuck: an AWSPENDING older than the threshold; younger is a rotation in flight', () => {
    const s = managed('credflow/shop-db/p', {
      SecretVersionsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] },
    });
    const old = new Map([[s.ARN, new Date(NOW - 31 * 60_000)]]);
    const young = new Map([[s.ARN, new Date(NOW - 29 * 60_000)]]);
    const r = classifySecret(s, opts({ pendingSince: old }));
    expect('row' in r && r.row).toMatchObject({
      kind: 'stuck',
      look: 'credflow reconcile',
      since: new Date(NOW - 31 * 60_000).toISOString(),
    });
    expect(kindOf(s, { pendingSince: young })).toBe('healthy:rotating');
    expect(kindOf(s, { pendingSince: young, stuckAfterMinutes: 10 })).toBe('stuck');
    // Not dated (ListSecretVersionIds not asked): not claimed stuck.
    expect(kindOf(s)).toBe('healthy:rotating');
  });

  it('overdue: past its next rotation, the schedule or the last rotation plus maxAgeDays', () => {
    const scheduled = managed('credflow/shop-db/o', { NextRotationDate: new Date(NOW - 2 * DAY) });
    const r = classifySecret(scheduled, opts());
    expect('row' in r && r.row).toMatchObject({
      kind: 'overdue',
      since: new Date(NOW - 2 * DAY).toISOString(),
      look: 'credflow rotate-now credflow/shop-db/o',
    });
    const unscheduled = managed('credflow/shop-db/u', {
      RotationEnabled: false,
      NextRotationDate: undefined,
      CreatedDate: new Date(NOW - 40 * DAY),
    });
    expect(kindOf(unscheduled)).toBe('overdue');
    expect(kindOf(unscheduled, { maxAgeDays: 60 })).toBe('healthy:ok');
  });

  it('drifted and unbound: only where a check reported them', () => {
    const s = managed('credflow/shop-db/d');
    expect(kindOf(s, { observed: new Map([[s.ARN, { drifted: true }]]) })).toBe('drifted');
    expect(kindOf(s, { observed: new Map([[s.ARN, { bound: false }]]) })).toBe('unbound');
    expect(kindOf(s, { observed: new Map([[s.ARN, { bound: true, drifted: false, logsIn: true }]]) })).toBe(
      'healthy:ok',
    );
  });

  it('drifted: from the drift tag verify records, since when verify first found it', () => {
    const s = managed('credflow/shop-db/g', {}, { 'credflow:drift': 'grants+clone 2026-12-05T08:00:00Z' });
    const r = classifySecret(s, opts());
    expect('row' in r && r.row).toMatchObject({
      kind: 'drifted',
      database: 'shop-db',
      since: '2026-12-05T08:00:00.000Z',
      detail: 'verify found the grants, clone different from the record',
      look: 'credflow verify credflow/shop-db/g',
    });
    // A tag credflow did not write is shown as such, its text never echoed, with no date.
    const odd = managed('credflow/shop-db/o', {}, { 'credflow:drift': '<b>hello</b> yesterday' });
    const o = classifySecret(odd, opts());
    expect('row' in o && o.row).toMatchObject({ kind: 'drifted', since: undefined });
    expect('row' in o && o.row.detail).not.toContain('hello');
  });

  it("unadopted: rotated by a function that is not credflow's, or an RDS console secret", () => {
    const aws = { Name: 'prod/shop-db/report', ARN: arn('prod/shop-db/report'), RotationLambdaARN: AWS_FN };
    const r = classifySecret(aws, opts({ knownDatabases: new Set(['shop-db']) }));
    expect('row' in r && r.row).toMatchObject({
      kind: 'unadopted',
      database: 'shop-db',
      look: 'credflow adopt prod/shop-db/report --dry-run',
    });
    expect(kindOf({ Name: 'rds-db-credentials/cluster-X/app', ARN: arn('x') })).toBe('unadopted');
    // Not database-shaped by its metadata: not ours to judge.
    expect(kindOf({ Name: 'stripe/api-key', ARN: arn('stripe/api-key') })).toBe('healthy:other');
    // Rotated by credflow's own function but untagged is not "rotated by someone else".
    expect(kindOf({ Name: 'x', ARN: arn('x'), RotationLambdaARN: OURS })).toBe('healthy:other');
    expect(isCredflowRotationFunction(`${OURS}:live`)).toBe(true);
    expect(isCredflowRotationFunction(AWS_FN)).toBe(false);
  });

  it('RDS master secrets and deleted secrets are counted apart', () => {
    expect(kindOf({ Name: 'rds!db-1', OwningService: 'rds' })).toBe('healthy:rdsMasters');
    expect(kindOf(managed('credflow/shop-db/gone', { DeletedDate: new Date(NOW) }))).toBe('healthy:deleted');
  });
});

describe('what needs attention: the order', () => {
  it('lists worst first, the oldest first within a kind, and keeps the milder kinds in `also`', () => {
    const stuck = managed('credflow/a/stuck', {
      SecretVersionsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] },
    });
    const both = managed('credflow/a/both', {}, { 'credflow:rotation-status': 'broken' });
    const entries: SecretListEntry[] = [
      {
        Name: 'legacy/shop-db/app',
        ARN: arn('legacy/shop-db/app'),
        RotationLambdaARN: AWS_FN,
        CreatedDate: new Date(NOW),
      },
      managed('credflow/a/overdue-new', { NextRotationDate: new Date(NOW - DAY) }),
      managed('credflow/a/overdue-old', { NextRotationDate: new Date(NOW - 5 * DAY) }),
      stuck,
      managed('credflow/a/failing', {}, { 'credflow:rotation-status': 'rolled-back' }),
      both,
      managed('credflow/a/fine'),
      { Name: 'rds!db-a', OwningService: 'rds' },
    ];
    const view = classifyAttention(entries, {
      ...opts(),
      pendingSince: new Map([[stuck.ARN, new Date(NOW - DAY)]]),
      observed: new Map([[both.ARN, { drifted: true }]]),
    });
    expect(view.rows.map((r) => r.secret)).toEqual([
      'credflow/a/both',
      'credflow/a/failing',
      'credflow/a/stuck',
      'credflow/a/overdue-old',
      'credflow/a/overdue-new',
      'legacy/shop-db/app',
    ]);
    expect(view.rows[0]?.also).toEqual(['drifted']);
    expect(view.rows.at(-1)?.database).toBe('shop-db');
    expect(view.healthy).toEqual({ ok: 1, rotating: 0, rdsMasters: 1, other: 0, deleted: 0 });
    expect(view.scanned).toBe(entries.length);
    expect(view.notes.join(' ')).toMatch(/unbound not checked/);
    expect([...ATTENTION_KINDS]).toEqual([
      'broken',
      'failing',
      'stuck',
      'overdue',
      'drifted',
      'unbound',
      'unadopted',
    ]);
  });
});
