import { progressWriter } from '../../../cli/fleet';
import type { FleetProgress } from '../../../src/lifecycle/fleet-progress';

const at = (rotated: number, etaSeconds?: number): FleetProgress => ({
  selected: 10,
  rotated,
  failed: 0,
  awaitingRetry: 0,
  inFlight: 2,
  remaining: 8 - rotated,
  etaSeconds,
  executionArn: 'arn:e',
  status: 'RUNNING',
});

describe('rotate-fleet progress output', () => {
  it('on a terminal rewrites one line in place, only when it changes, and ends it with a newline', () => {
    const out: string[] = [];
    const w = progressWriter(true, (s) => out.push(s));
    w.update(at(1, 30), 0);
    w.update(at(1, 30), 10);
    w.update(at(2, 20), 20);
    w.end();
    expect(out).toEqual([
      '\r\u001b[2K  rotated 1/10, failed 0, in flight 2, remaining 7, ETA 30s',
      '\r\u001b[2K  rotated 2/10, failed 0, in flight 2, remaining 6, ETA 20s',
      '\n',
    ]);
  });

  it('otherwise writes plain lines when the counts change, at most one per interval, and the last one at the end', () => {
    const out: string[] = [];
    const w = progressWriter(false, (s) => out.push(s), 5000);
    w.update(at(1, 30), 0);
    // Only the ETA moved: nothing new to say.
    w.update(at(1, 29), 6000);
    // Counts moved 5 s after the last line: written.
    w.update(at(2, 20), 7000);
    // Counts moved within the interval: held back, then written at the end.
    w.update(at(3, 10), 8000);
    w.update(at(4, 5), 9000);
    w.end();
    expect(out).toEqual([
      '  rotated 1/10, failed 0, in flight 2, remaining 7, ETA 30s\n',
      '  rotated 2/10, failed 0, in flight 2, remaining 6, ETA 20s\n',
      '  rotated 4/10, failed 0, in flight 2, remaining 4, ETA 5s\n',
    ]);
  });
});
