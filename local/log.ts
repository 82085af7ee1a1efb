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
const SECRET_FIELD = /secret(string|binary|value)|password|plaintext|randompassword/i;

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
