import { randomBytes } from 'node:crypto';

/** How long a login code works: long enough for a browser to start, short enough to be useless later. */
export const LOGIN_CODE_TTL_MS = 60_000;

/**
 * One-time login codes for the console. `credflow console --open` asks for one with the token
 * and hands the browser a URL holding the code, never the token (a browser's command line is
 * readable by every user in `ps`). The first visit redeems the code for the HttpOnly token
 * cookie; the code then works no more, and one never redeemed expires.
 */
export class LoginCodes {
  private readonly codes = new Map<string, number>();

  constructor(
    private readonly ttlMs: number = LOGIN_CODE_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new code, valid once within the TTL. */
  issue(): { code: string; expiresInSeconds: number } {
    this.sweep();
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, this.now() + this.ttlMs);
    return { code, expiresInSeconds: Math.round(this.ttlMs / 1000) };
  }

  /** True (once) for a code issued here and not expired; the code is spent either way. */
  redeem(code: string): boolean {
    const until = this.codes.get(code);
    this.codes.delete(code);
    return until !== undefined && this.now() <= until;
  }

  private sweep(): void {
    const now = this.now();
    for (const [code, until] of this.codes) if (until < now) this.codes.delete(code);
  }
}
