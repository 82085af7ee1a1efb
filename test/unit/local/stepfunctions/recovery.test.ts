import { rerunName } from '../../../../local/stepfunctions/recovery';

describe('crash recovery names', () => {
  it('numbers reruns and stops after the limit', () => {
    expect(rerunName('fix')).toBe('fix-rerun-1');
    expect(rerunName('fix-rerun-1')).toBe('fix-rerun-2');
    expect(rerunName('fix-rerun-3')).toBeUndefined();
    expect(rerunName('fix-rerun-1', 1)).toBeUndefined();
    expect(rerunName('x'.repeat(80))).toHaveLength(80);
  });
});
