import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';

/**
 * The logging surface the core depends on. Anything structural-compatible works (tests pass a
 * collecting logger). Callers pass identifiers only: never a password or a secret string.
 */
export interface Logger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

const SECRET_KEYS = /^(password|secretstring|secretbinary|masterpassword|masteruserpassword|newpassword)$/i;

/** Replaces the value of any key that names a secret, at any depth, with `[redacted]`. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/** Structured JSON logs (Powertools) with a last line of defence that redacts secret-named keys. */
export function createLogger(serviceName = 'credflow'): Logger {
  const inner = new PowertoolsLogger({
    serviceName,
    logLevel: (process.env['LOG_LEVEL'] as 'INFO') ?? 'INFO',
  });
  const wrap =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, extra?: Record<string, unknown>): void => {
      if (extra) inner[level](message, redact(extra) as Record<string, unknown>);
      else inner[level](message);
    };
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}

/** A logger that keeps lines in memory: for tests and for the local cloud's quiet mode. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string, extra?: Record<string, unknown>) => {
    lines.push(JSON.stringify({ level, message, ...(extra ?? {}) }));
  };
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}
