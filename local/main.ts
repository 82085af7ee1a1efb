import { LocalCloud } from './cloud';
import { createLogger, type LogLevel } from './log';

export interface LocalCloudArgs {
  port: number;
  stateDir: string;
  region: string | undefined;
  logLevel: LogLevel | undefined;
}

/** Reads `--port N --state-dir DIR --region R --log-level L` (also `--x=value`). */
export function parseLocalCloudArgs(argv: readonly string[]): LocalCloudArgs {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument: ${arg}`);
    const eq = arg.indexOf('=');
    if (eq > 0) values.set(arg.slice(2, eq), arg.slice(eq + 1));
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new Error(`${arg} needs a value`);
      values.set(arg.slice(2), next);
      i++;
    }
  }
  for (const key of values.keys()) {
    if (!['port', 'state-dir', 'region', 'log-level'].includes(key))
      throw new Error(`unknown option --${key}`);
  }
  const port = Number(values.get('port') ?? '4566');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535`);
  return {
    port,
    stateDir: values.get('state-dir') ?? '.credflow',
    region: values.get('region'),
    logLevel: values.get('log-level') as LogLevel | undefined,
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
