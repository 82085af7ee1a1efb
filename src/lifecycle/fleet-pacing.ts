/**
 * How fast rotate-fleet may go. Secrets Manager allows 50 requests a second per account and
 * region for PutSecretValue, UpdateSecret and UpdateSecretVersionStage combined (not
 * adjustable), shared with every other writer there. A rotation makes WRITES_PER_ROTATION of
 * them, so a write budget of B writes/s allows B / WRITES_PER_ROTATION rotations/s. The fleet
 * gives each rotation a start time (a slot) at that rate, lets at most `concurrency` run at once
 * (enough for the rate at the latency it sees), halves its rate when rotations meet throttling
 * and grows back by a quarter of the budget per clean page. Pure: the clock is passed in.
 */

/**
 * Writes of one rotation in the regional write quota: createSecret's PutSecretValue (the
 * AWSPENDING version) and finishSecret's two UpdateSecretVersionStage (AWSCURRENT moved to the
 * new version, AWSPENDING taken off it). test/integration/rotation-calls checks the count.
 */
export const WRITES_PER_ROTATION = 3;

/** The regional quota those writes share (AWS's quota table). */
export const REGIONAL_WRITE_QUOTA = 50;

/** By default a fleet takes half of it, so applications and operators keep the other half. */
export const DEFAULT_WRITE_BUDGET = REGIONAL_WRITE_QUOTA / 2;

/** Slots may start this far behind the clock: a pause (between pages) is made up, one second's worth at most. */
const BURST_MS = 1000;
/** The latency assumed before any rotation has finished. */
const FIRST_LATENCY_MS = 2000;
/** Never slower than one rotation every ten seconds. */
const MIN_RATE = 0.1;

export interface Pacing {
  /** Rotations per second the write budget allows. */
  budgetRate: number;
  /** Rotations per second now (lower than the budget after throttling). */
  rate: number;
  /** Rotations in flight at most, now. */
  concurrency: number;
  /** The caller's cap on concurrency. */
  maxConcurrency: number;
  /** The next free start time (epoch ms). */
  nextSlotMs: number;
  /** A rotation's duration, smoothed over the pages so far. */
  latencyMs: number;
  /** How many times throttling made the fleet slow down. */
  backoffs: number;
}

/** Rotations in flight needed to keep `rate` at `latencyMs` each, with room for slow ones. */
export function concurrencyFor(rate: number, latencyMs: number, maxConcurrency: number): number {
  return Math.max(1, Math.min(maxConcurrency, Math.ceil(rate * (latencyMs / 1000) * 2) + 2));
}

/** The pacing of a new fleet run. */
export function initialPacing(writeBudget: number, maxConcurrency: number, nowMs: number): Pacing {
  const budgetRate = writeBudget / WRITES_PER_ROTATION;
  return {
    budgetRate,
    rate: budgetRate,
    concurrency: concurrencyFor(budgetRate, FIRST_LATENCY_MS, maxConcurrency),
    maxConcurrency,
    nextSlotMs: nowMs,
    latencyMs: FIRST_LATENCY_MS,
    backoffs: 0,
  };
}

/**
 * Start times for `n` rotations at the current rate, from the next free slot (or up to one
 * second behind the clock, as a token bucket would allow after a pause); the pacing moves on.
 */
export function planSlots(p: Pacing, n: number, nowMs: number): { slots: number[]; pacing: Pacing } {
  const interval = 1000 / p.rate;
  const first = Math.max(p.nextSlotMs, nowMs - BURST_MS);
  const slots = Array.from({ length: n }, (_, i) => Math.round(first + i * interval));
  return { slots, pacing: { ...p, nextSlotMs: first + n * interval } };
}

/** What a page of rotations reports back. */
export interface PageObservation {
  /** Requests throttled in the page's rotations (retried or fatal). */
  throttled: number;
  /** Durations of the rotations that finished (ms). */
  durationsMs: number[];
}

/**
 * After a page: throttling halves the rate (and pushes the next slot a second out); a clean page
 * adds a quarter of the budget back, up to the budget. Concurrency follows the rate and latency.
 */
export function adapt(p: Pacing, page: PageObservation, nowMs: number): Pacing {
  const durations = [...page.durationsMs].sort((a, b) => a - b);
  const p90 = durations[Math.min(durations.length - 1, Math.floor(durations.length * 0.9))];
  const latencyMs = p90 === undefined ? p.latencyMs : Math.round(0.5 * p.latencyMs + 0.5 * p90);
  const throttled = page.throttled > 0;
  const rate = throttled ? Math.max(MIN_RATE, p.rate / 2) : Math.min(p.budgetRate, p.rate + p.budgetRate / 4);
  return {
    ...p,
    rate,
    latencyMs,
    concurrency: concurrencyFor(rate, latencyMs, p.maxConcurrency),
    nextSlotMs: throttled ? Math.max(p.nextSlotMs, nowMs + 1000) : p.nextSlotMs,
    backoffs: p.backoffs + (throttled ? 1 : 0),
  };
}
