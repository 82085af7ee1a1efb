/**
 * Which of AWS's quotas the local cloud enforces. On by default (`credflow up`, the demo), as on
 * AWS, so a workflow that would break there breaks here first; `--no-quotas` turns both off. The
 * object is shared by the services and read on every call, so a benchmark may set up its data
 * with rates off and then measure with them on.
 */
export interface QuotaSettings {
  /** Request rates: Secrets Manager's token buckets per API group. */
  rates: boolean;
  /**
   * Sizes and counts: Step Functions payloads (256 KiB) and history (25,000 events), the
   * SecretString size (65,536 bytes) and versions per secret (about 100).
   */
  limits: boolean;
}

/** Every quota on, as AWS. */
export function quotasOn(): QuotaSettings {
  return { rates: true, limits: true };
}

/** `--no-quotas`. */
export function quotasOff(): QuotaSettings {
  return { rates: false, limits: false };
}

/**
 * A token bucket: `ratePerSecond` tokens a second, holding at most `burst` (one second's worth
 * by default, as AWS's per-second quotas allow). `take` spends one token or says no.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number = ratePerSecond,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
