/**
 * The local cloud's logger: one JSON line per entry on stderr, silenced in tests. Callers pass
 * identifiers only; as a last line of defence any field whose name says it holds a secret value
 * is dropped before the line is written.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface LocalLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SECRET_FIELD =
  /secret(string|binary|value|accesskey)|password|plaintext|randompassword|sessiontoken|authorization|cookie/i;

export interface LoggerOptions {
  /** Lowest level written; default `CREDFLOW_LOG_LEVEL`, else `LOG_LEVEL`, else `info`. */
  level?: LogLevel;
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
}

function scrub(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (!SECRET_FIELD.test(k)) out[k] = v;
  return out;
}

export function createLogger(opts: LoggerOptions = {}): LocalLogger {
  // CREDFLOW_LOG_LEVEL, else the LOG_LEVEL the Lambda handlers' logger reads (Powertools-style upper case).
  const envLevel = (process.env['CREDFLOW_LOG_LEVEL'] ?? process.env['LOG_LEVEL'])?.toLowerCase() as
    | LogLevel
    | undefined;
  const level = opts.level ?? (envLevel && envLevel in ORDER ? envLevel : 'info');
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const at =
    (lvl: Exclude<LogLevel, 'silent'>) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (ORDER[lvl] < ORDER[level]) return;
      write(
        JSON.stringify({
          time: new Date().toISOString(),
          level: lvl,
          message,
          ...(fields ? scrub(fields) : {}),
        }),
      );
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: LocalLogger = createLogger({ level: 'silent' });

const REDACTED = '[redacted]';

/**
 * Wraps a logger so that none of `secrets` (the cloud's secret access key, its token) can reach
 * a line, whatever field or message carries it: a line that contains one, raw or JSON-escaped,
 * has every occurrence replaced. Secrets shorter than 8 characters are ignored (they would
 * match by chance).
 */
export function redactingLogger(logger: LocalLogger, secrets: readonly string[]): LocalLogger {
  const needles = secrets
    .filter((s) => s.length >= 8)
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
    .filter((s, i, all) => all.indexOf(s) === i);
  const clean = (text: string) => {
    let out = text;
    for (const n of needles) out = out.split(n).join(REDACTED);
    return out;
  };
  const at =
    (lvl: Exclude<LogLevel, 'silent'>) =>
    (message: string, fields?: Record<string, unknown>): void => {
      let json = '';
      try {
        json = fields ? JSON.stringify(fields) : '';
      } catch {
        // Not serialisable (a bigint): the writer would fail on it anyway; keep only the message.
        logger[lvl](clean(message));
        return;
      }
      if (!needles.some((n) => message.includes(n) || json.includes(n))) logger[lvl](message, fields);
      else
        logger[lvl](
          clean(message),
          fields ? (JSON.parse(clean(json)) as Record<string, unknown>) : undefined,
        );
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
