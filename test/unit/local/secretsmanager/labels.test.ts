import { AwsError } from '../../../../local/http/errors';
import {
  attachStages,
  checkStageQuota,
  dropPendingOnManualChange,
  moveStage,
  stagesByVersion,
} from '../../../../local/secretsmanager/labels';

const m = (entries: Record<string, string>) => new Map(Object.entries(entries));
const byVersion = (map: ReadonlyMap<string, string>) => Object.fromEntries(stagesByVersion(map));
const ids = (...v: string[]) => new Set(v);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as AwsError).code;
  }
  return 'no error';
}

describe('attachStages (PutSecretValue, UpdateSecret)', () => {
  it('moves AWSCURRENT and makes the version it left AWSPREVIOUS', () => {
    const after = attachStages(m({ AWSCURRENT: 'v1' }), 'v2', ['AWSCURRENT']);
    expect(byVersion(after)).toEqual({ v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] });
  });

  it('takes AWSPREVIOUS off the version that had it', () => {
    const after = attachStages(m({ AWSCURRENT: 'v2', AWSPREVIOUS: 'v1' }), 'v3', ['AWSCURRENT']);
    expect(byVersion(after)).toEqual({ v2: ['AWSPREVIOUS'], v3: ['AWSCURRENT'] });
  });

  it('leaves AWSCURRENT alone when other labels are attached', () => {
    const after = attachStages(m({ AWSCURRENT: 'v1' }), 'v2', ['AWSPENDING']);
    expect(byVersion(after)).toEqual({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'] });
  });

  it('is a no-op for AWSCURRENT put on the version that has it', () => {
    const before = m({ AWSCURRENT: 'v1', AWSPREVIOUS: 'v0' });
    expect(byVersion(attachStages(before, 'v1', ['AWSCURRENT']))).toEqual(byVersion(before));
  });

  it('does not mutate its input', () => {
    const before = m({ AWSCURRENT: 'v1' });
    attachStages(before, 'v2', ['AWSCURRENT']);
    expect(before.get('AWSCURRENT')).toBe('v1');
  });
});

describe('dropPendingOnManualChange', () => {
  it('removes AWSPENDING left on the old current version without calling it abandoned', () => {
    const before = m({ AWSCURRENT: 'v2', AWSPENDING: 'v2', AWSPREVIOUS: 'v1' });
    const after = attachStages(before, 'v3', ['AWSCURRENT']);
    const r = dropPendingOnManualChange(before, after, 'v3');
    expect(byVersion(r.map)).toEqual({ v2: ['AWSPREVIOUS'], v3: ['AWSCURRENT'] });
    expect(r.abandoned).toBe(false);
  });

  it('reports an in-flight rotation as abandoned', () => {
    const before = m({ AWSCURRENT: 'v1', AWSPENDING: 'v2' });
    const r = dropPendingOnManualChange(before, attachStages(before, 'v3', ['AWSCURRENT']), 'v3');
    expect(byVersion(r.map)).toEqual({ v1: ['AWSPREVIOUS'], v3: ['AWSCURRENT'] });
    expect(r.abandoned).toBe(true);
  });

  it('keeps AWSPENDING the caller put on the new version itself', () => {
    const before = m({ AWSCURRENT: 'v1' });
    const after = attachStages(before, 'v2', ['AWSCURRENT', 'AWSPENDING']);
    expect(byVersion(dropPendingOnManualChange(before, after, 'v2').map)).toEqual({
      v1: ['AWSPREVIOUS'],
      v2: ['AWSCURRENT', 'AWSPENDING'],
    });
  });
});

describe('moveStage (UpdateSecretVersionStage)', () => {
  const all = ids('v1', 'v2', 'v3');

  it('moves AWSCURRENT with RemoveFromVersionId; AWSPREVIOUS follows', () => {
    const after = moveStage(m({ AWSCURRENT: 'v1', AWSPENDING: 'v2' }), all, {
      stage: 'AWSCURRENT',
      moveToVersionId: 'v2',
      removeFromVersionId: 'v1',
    });
    expect(byVersion(after)).toEqual({ v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT', 'AWSPENDING'] });
  });

  it('requires RemoveFromVersionId to move a label attached elsewhere', () => {
    const map = m({ AWSCURRENT: 'v1' });
    expect(codeOf(() => moveStage(map, all, { stage: 'AWSCURRENT', moveToVersionId: 'v2' }))).toBe(
      'InvalidParameterException',
    );
  });

  it('refuses a RemoveFromVersionId that does not hold the label', () => {
    const map = m({ AWSCURRENT: 'v1', custom: 'v2' });
    expect(
      codeOf(() =>
        moveStage(map, all, { stage: 'AWSCURRENT', moveToVersionId: 'v3', removeFromVersionId: 'v2' }),
      ),
    ).toBe('InvalidParameterException');
    expect(codeOf(() => moveStage(map, all, { stage: 'other', removeFromVersionId: 'v2' }))).toBe(
      'InvalidParameterException',
    );
  });

  it('attaches a label nobody has without RemoveFromVersionId', () => {
    expect(
      byVersion(moveStage(m({ AWSCURRENT: 'v1' }), all, { stage: 'blue', moveToVersionId: 'v2' })),
    ).toEqual({
      v1: ['AWSCURRENT'],
      v2: ['blue'],
    });
  });

  it('is a no-op to move a label onto the version that has it', () => {
    const map = m({ AWSCURRENT: 'v1', AWSPREVIOUS: 'v0' });
    expect(
      byVersion(moveStage(map, ids('v0', 'v1'), { stage: 'AWSCURRENT', moveToVersionId: 'v1' })),
    ).toEqual(byVersion(map));
  });

  it('removes a custom label, but never AWSCURRENT without a new home', () => {
    const map = m({ AWSCURRENT: 'v1', AWSPENDING: 'v2' });
    expect(byVersion(moveStage(map, all, { stage: 'AWSPENDING', removeFromVersionId: 'v2' }))).toEqual({
      v1: ['AWSCURRENT'],
    });
    expect(codeOf(() => moveStage(map, all, { stage: 'AWSCURRENT', removeFromVersionId: 'v1' }))).toBe(
      'InvalidParameterException',
    );
  });

  it('names an unknown target version, and needs at least one of the two ids', () => {
    const map = m({ AWSCURRENT: 'v1' });
    expect(
      codeOf(() =>
        moveStage(map, all, { stage: 'AWSCURRENT', moveToVersionId: 'nope', removeFromVersionId: 'v1' }),
      ),
    ).toBe('ResourceNotFoundException');
    expect(codeOf(() => moveStage(map, all, { stage: 'AWSCURRENT' }))).toBe('InvalidParameterException');
  });

  it('refuses more than 20 labels on one version', () => {
    const map = new Map<string, string>();
    for (let i = 0; i < 21; i++) map.set(`L${i}`, 'v1');
    expect(codeOf(() => checkStageQuota(map))).toBe('LimitExceededException');
    map.delete('L0');
    expect(() => checkStageQuota(map)).not.toThrow();
  });

  it('throws AwsError instances', () => {
    expect(() => moveStage(m({}), all, { stage: '' })).toThrow(AwsError);
  });
});
