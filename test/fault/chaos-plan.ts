/**
 * The chaos test's randomness: one seed decides every round's plan (engines, strategies, native
 * or Step Functions rotations, when each starts, when the cloud is killed), so
 * CREDFLOW_CHAOS_SEED=<n> replays the same plan. Where exactly a kill lands in the code still
 * depends on how busy the machine is, which is the point of the test.
 */
import { seeded } from '../../local/stepfunctions/runner/random';
import type { StrategyName as Strategy } from '../../src/rotation/types';

/** The seedable generator the local Step Functions uses for seeded random numbers. */
export const prng = seeded;

export type ChaosEngine = 'postgres' | 'mysql';

export interface ChaosRotation {
  engine: ChaosEngine;
  strategy: Strategy;
  /** Secrets Manager's RotateSecret (the rotation Lambda, no execution) instead of rotate-secret. */
  native: boolean;
  /** When it starts, after the round begins. */
  startAfterMs: number;
}

/** A SIGKILL this long after the cloud's n-th Lambda call began (counting from its start). */
export interface Kill {
  afterCalls: number;
  delayMs: number;
}

export interface RoundPlan {
  round: number;
  rotations: ChaosRotation[];
  /** While the rotations run: about five Lambda calls each (four steps and the verify). */
  kill: Kill;
  /** After the restart, while it repairs (about two calls a repair), in half the rounds. */
  secondKill: Kill | undefined;
}

const STRATEGIES: Strategy[] = ['single-user', 'alternating-users', 'admin-single-user'];

/**
 * One rotation per strategy each round, the engines alternating so that every engine and
 * strategy pair comes up every two rounds; a quarter of them native rotations; half the rounds
 * kill the cloud a second time while it repairs. Kills are placed by Lambda calls, not by the
 * clock, so they spread over every step on a fast machine and a loaded one alike.
 */
export function roundPlan(seed: number, round: number, delayMs = 150): RoundPlan {
  const r = prng((seed ^ Math.imul(round + 1, 0x9e3779b1)) >>> 0);
  const int = (n: number) => Math.floor(r() * n);
  const rotations = STRATEGIES.map((strategy, i) => ({
    engine: ((round + i) % 2 === 0 ? 'postgres' : 'mysql') as ChaosEngine,
    strategy,
    native: r() < 0.25,
    startAfterMs: int(300),
  }));
  const kill = { afterCalls: int(16), delayMs: int(delayMs) };
  const secondKill = r() < 0.5 ? { afterCalls: int(7), delayMs: int(delayMs) } : undefined;
  return { round, rotations, kill, secondKill };
}
