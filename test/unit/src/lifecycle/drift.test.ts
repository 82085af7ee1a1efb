import { formatDrift, nextDrift, parseDrift } from '../../../../src/lifecycle/drift';
import type { Check } from '../../../../src/rotation/strategies';

const T1 = new Date('2026-12-05T08:00:00.123Z');
const T2 = new Date('2026-12-07T12:00:00Z');
const check = (name: Check['check'], ok: boolean): Check => ({ check: name, ok, detail: '' });

describe('the drift tag verify records', () => {
  it('writes kinds in a fixed order and a date in seconds, with only characters a tag value allows', () => {
    const v = formatDrift({ kinds: ['clone', 'grants'], since: T1.toISOString() });
    expect(v).toBe('grants+clone 2026-12-05T08:00:00Z');
    expect(v).toMatch(/^[\p{L}\p{N}\s_.:/=+\-@]{1,256}$/u);
    expect(parseDrift(v)).toEqual({ kinds: ['grants', 'clone'], since: '2026-12-05T08:00:00.000Z' });
  });

  it('reads nothing from a value credflow does not write', () => {
    for (const v of [
      undefined,
      '',
      'grants',
      'grants 2026-13-45T00:00:00Z',
      'evil 2026-12-05T08:00:00Z',
      'grants+ 2026-12-05T08:00:00Z',
    ])
      expect(parseDrift(v)).toBeUndefined();
  });

  it('records a failed drift check from now, keeps the first date while drift remains, clears what passes', () => {
    const first = nextDrift(
      undefined,
      [check('grants-unchanged', false), check('current-logs-in', true)],
      T1,
    );
    expect(first).toEqual({ kinds: ['grants'], since: T1.toISOString() });
    // A clone appears later: the record grows, its date stays.
    const more = nextDrift(first, [check('grants-unchanged', false), check('no-clone', false)], T2);
    expect(more).toEqual({ kinds: ['grants', 'clone'], since: T1.toISOString() });
    // The grants are restored; the clone is still there.
    const less = nextDrift(more, [check('grants-unchanged', true), check('no-clone', false)], T2);
    expect(less).toEqual({ kinds: ['clone'], since: T1.toISOString() });
    expect(nextDrift(less, [check('no-clone', true)], T2)).toBeUndefined();
  });

  it('keeps what verify could not check this time (the master unusable)', () => {
    const recorded = { kinds: ['grants' as const], since: T1.toISOString() };
    expect(nextDrift(recorded, [check('current-logs-in', true), check('user-bound', true)], T2)).toEqual(
      recorded,
    );
    // A failed non-drift check records nothing.
    expect(nextDrift(undefined, [check('current-logs-in', false)], T2)).toBeUndefined();
    // Of two checks of one kind, one failing is drift.
    expect(
      nextDrift(undefined, [check('no-clone', true), check('clone-grants-equal', false)], T2)?.kinds,
    ).toEqual(['clone']);
  });
});
