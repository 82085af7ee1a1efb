import { parseArgs } from 'node:util';
import { LocalCloud } from './cloud';
import { createLogger, type LogLevel } from './log';
import { quotasOff, quotasOn } from './quotas';

export interface LocalCloudArgs {
  port: number;
  stateDir: string;
  region: string | undefined;
  logLevel: LogLevel | undefined;
  /** `--no-quotas`: none of AWS's quotas (default: all, as AWS). */
  quotas: boolean;
}

const OPTIONS = {
  port: { type: 'string', default: '4566' },
  'state-dir': { type: 'string', default: '.credflow' },
  region: { type: 'string' },
  'log-level': { type: 'string' },
  'no-quotas': { type: 'boolean' },
} as const;

/** Reads `--port N --state-dir DIR --region R --log-level L --no-quotas` (also `--x=value`). */
export function parseLocalCloudArgs(argv: readonly string[]): LocalCloudArgs {
  // Not strict: its errors would name options in parseArgs' words; these say what to fix.
  const { values, tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'positional') throw new Error(`unexpected argument: ${t.value}`);
    if (t.kind !== 'option') continue;
    if (!Object.hasOwn(OPTIONS, t.name)) throw new Error(`unknown option ${t.rawName}`);
    if (OPTIONS[t.name as keyof typeof OPTIONS].type === 'boolean') {
      if (t.value !== undefined) throw new Error(`${t.rawName} takes no value`);
      continue;
    }
    // A value that is the next option means this one was given none.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith('--')))
      throw new Error(`${t.rawName} needs a value`);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535`);
  return {
    port,
    stateDir: String(values['state-dir']),
    region: values.region as string | undefined,
    logLevel: values['log-level'] as LogLevel | undefined,
    quotas: values['no-quotas'] !== true,
  };
}

/** Starts the local cloud from command-line style arguments (the `credflow up` CLI uses this too). */
export async function startLocalCloudFromArgs(argv: readonly string[]): Promise<LocalCloud> {
  const args = parseLocalCloudArgs(argv);
  return LocalCloud.start({
    stateDir: args.stateDir,
    port: args.port,
    region: args.region,
    logger: createLogger(args.logLevel ? { level: args.logLevel } : {}),
    quotas: args.quotas ? quotasOn() : quotasOff(),
  });
}

/** The one stdout line a parent process waits for. */
export function readyLine(cloud: LocalCloud): string {
  return JSON.stringify({
    ready: true,
    endpoint: cloud.endpoint,
    port: cloud.port,
    region: cloud.region,
    stateDir: cloud.stateDir,
    accessKeyId: cloud.credentials.accessKeyId,
    secretAccessKey: cloud.credentials.secretAccessKey,
    token: cloud.token,
  });
}

if (require.main === module) {
  startLocalCloudFromArgs(process.argv.slice(2)).then(
    (cloud) => {
      process.stdout.write(`${readyLine(cloud)}\n`);
      const shutdown = () => {
        cloud.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    },
    (err: unknown) => {
      process.stderr.write(
        `credflow local cloud failed to start: ${(err as Error)?.message ?? String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
