import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { Credentials } from '../engines/types';
import { AuthenticationError } from '../errors';
import { credentialsOf } from '../rotation/master';
import { type DbSecret, parseDbSecret } from '../secret';

/**
 * The application side of rotation. Applications read their database credentials from a secret
 * and keep them for a while; a single-user rotation changes the password on the server a moment
 * before AWSCURRENT moves (setSecret, then finishSecret), and an alternating rotation may be read
 * mid-way. `SecretCredentials` caches the secret and, when a login is refused, re-reads
 * AWSCURRENT and then AWSPENDING and retries once with each new candidate, so requests survive
 * rotations instead of failing.
 */
export interface SecretCredentialsOptions {
  secretId: string;
  /** Default: a client from the SDK's default chain (AWS_ENDPOINT_URL, region, credentials). */
  client?: SecretsManagerClient | undefined;
  /** How long a read secret is trusted without a failure. Default 5 minutes. */
  ttlMs?: number | undefined;
  /** Told about refreshes and retries (never the password). */
  onEvent?:
    | ((event: { type: 'refreshed' | 'retried' | 'gave-up'; stage?: string; reason?: string }) => void)
    | undefined;
}

const AUTH_CODES = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', '28P01', '28000']);

/** Whether an error means "these credentials do not log in" (ours, mysql2's or pg's). */
export function isAuthFailure(err: unknown): boolean {
  if (err instanceof AuthenticationError) return true;
  const e = err as { name?: string; code?: string | number; errno?: number };
  return e?.name === 'AuthenticationError' || AUTH_CODES.has(String(e?.code)) || e?.errno === 1045;
}

export class SecretCredentials {
  private readonly client: SecretsManagerClient;
  private readonly ttlMs: number;
  private cached: { secret: DbSecret; at: number } | undefined;
  private inflight: Promise<DbSecret> | undefined;

  constructor(private readonly opts: SecretCredentialsOptions) {
    this.client = opts.client ?? new SecretsManagerClient({});
    this.ttlMs = opts.ttlMs ?? 300_000;
  }

  private async read(stage: 'AWSCURRENT' | 'AWSPENDING'): Promise<DbSecret | undefined> {
    try {
      const v = await this.client.send(
        new GetSecretValueCommand({ SecretId: this.opts.secretId, VersionStage: stage }),
      );
      return parseDbSecret(v.SecretString, `${stage} of ${this.opts.secretId}`);
    } catch (err) {
      if (stage === 'AWSPENDING' && err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
  }

  /** AWSCURRENT, from the cache while fresh; concurrent callers share one read. */
  async secret(force = false): Promise<DbSecret> {
    if (!force && this.cached && Date.now() - this.cached.at < this.ttlMs) return this.cached.secret;
    this.inflight ??= this.read('AWSCURRENT')
      .then((s) => {
        if (!s) throw new Error(`${this.opts.secretId} has no AWSCURRENT value`);
        this.cached = { secret: s, at: Date.now() };
        this.opts.onEvent?.({ type: 'refreshed', stage: 'AWSCURRENT' });
        return s;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  /** Connection credentials for the drivers (host, port, username, password, dbname, ssl). */
  async credentials(): Promise<Credentials> {
    return credentialsOf(await this.secret());
  }

  /**
   * Runs `fn` with the credentials; on an authentication failure, re-reads AWSCURRENT, then
   * AWSPENDING, then AWSCURRENT again, and runs `fn` once with each candidate that differs from
   * what was tried. Any other error is thrown at once.
   */
  async withCredentials<T>(fn: (creds: Credentials) => Promise<T>): Promise<T> {
    const first = await this.secret();
    try {
      return await fn(credentialsOf(first));
    } catch (err) {
      if (!isAuthFailure(err)) throw err;
      const tried = new Set([`${first.username}\0${first.password}`]);
      let last: unknown = err;
      // AWSCURRENT a second time: finishSecret may move AWSCURRENT and drop AWSPENDING between
      // the first two reads (admin-single's last millisecond of lag). Unchanged values cost no login.
      for (const stage of ['AWSCURRENT', 'AWSPENDING', 'AWSCURRENT'] as const) {
        const candidate = stage === 'AWSCURRENT' ? await this.secret(true) : await this.read(stage);
        if (!candidate) continue;
        const key = `${candidate.username}\0${candidate.password}`;
        if (tried.has(key)) continue;
        tried.add(key);
        this.opts.onEvent?.({ type: 'retried', stage });
        try {
          const out = await fn(credentialsOf(candidate));
          // The server already has the pending password: use it until AWSCURRENT catches up.
          if (stage === 'AWSPENDING')
            this.cached = { secret: candidate, at: Date.now() - this.ttlMs + 5_000 };
          return out;
        } catch (retryErr) {
          if (!isAuthFailure(retryErr)) throw retryErr;
          last = retryErr;
        }
      }
      this.opts.onEvent?.({ type: 'gave-up', reason: (last as Error)?.name ?? 'error' });
      throw last;
    }
  }
}
