import type { EngineName } from '../secret';

/** The hops of a preflight, in the order they run. */
export const HOPS = ['rds', 'secrets-manager', 'dns', 'tcp', 'tls', 'master-login'] as const;
export type HopName = (typeof HOPS)[number];

/** One hop's verdict: what was seen, and when it failed, what to change. */
export interface Hop {
  hop: HopName;
  status: 'ok' | 'failed' | 'skipped';
  /** How long the hop took. */
  ms: number;
  detail: string;
  fix?: string;
}

/** A hop's verdict before it is timed. */
export type Outcome = Omit<Hop, 'hop' | 'ms'>;

export const ok = (detail: string): Outcome => ({ status: 'ok', detail });
export const failed = (detail: string, fix?: string): Outcome => ({
  status: 'failed',
  detail,
  ...(fix ? { fix } : {}),
});
export const skipped = (detail: string): Outcome => ({ status: 'skipped', detail });

/** What the preflight answers: one verdict per hop, and whether credflow can work with the database. */
export interface PreflightReport {
  identifier: string;
  /** True when no hop failed and the master logged in. */
  ok: boolean;
  /** One line: every failed hop with its fix (the execution's Cause when it fails). */
  summary: string;
  endpoint?: { host: string; port: number };
  engine?: string;
  hops: Hop[];
}

/** Each hop's time budget, well under the function's timeout (45 s) even when all run out. */
export interface HopLimits {
  rds: number;
  secretsManager: number;
  dns: number;
  tcp: number;
  tls: number;
  login: number;
}

/** 32 s in all at worst. */
export const HOP_LIMITS: HopLimits = {
  rds: 6_000,
  secretsManager: 5_000,
  dns: 3_000,
  tcp: 3_000,
  tls: 5_000,
  login: 10_000,
};

/** What the hops learn about the database as they run; the master's password never leaves it. */
export interface Target {
  identifier: string;
  kind: 'instance' | 'cluster' | undefined;
  engine: EngineName | undefined;
  host: string | undefined;
  port: number | undefined;
  /** The port RDS describes, to tell a wrong port from a closed one. */
  describedPort: number | undefined;
  /** The database's status as RDS reports it. */
  status: string | undefined;
  masterSecretArn: string | undefined;
  master: { username: string; password: string; ssl: boolean | undefined } | undefined;
  /** The address DNS gave and TCP reached. */
  address: string | undefined;
}
