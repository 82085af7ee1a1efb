import path from 'node:path';
import { readToken } from '../local/credentials';
import { type Connection, connect, type GlobalOptions, runningLocalCloud } from './context';
import { CliError, EXIT } from './errors';
import { out, printJson, table } from './output';

export interface Alert {
  topicArn: string;
  subject?: string;
  message: string;
  time: string;
  /** SNS message attributes (severity, status, secretId on repair alerts). */
  attributes?: Record<string, string>;
}

/**
 * `credflow alerts`: what the repair and deletion workflows published to the alerts topic. On
 * AWS alerts go to the topic's subscribers (subscribe an e-mail or a chat hook to
 * credflow-<stage>-alerts); the local cloud keeps them and serves them here.
 */
export async function alerts(g: GlobalOptions): Promise<number> {
  const conn = connect(g);
  if (conn.mode !== 'local' || !conn.endpoint) {
    throw new CliError(
      `alerts on AWS are delivered to the SNS topic credflow-${conn.stage}-alerts: subscribe to it`,
      'NotLocal',
      EXIT.usage,
    );
  }
  const res = await fetch(`${conn.endpoint}/_credflow/alerts`, {
    headers: { authorization: `Bearer ${localToken(g, conn)}` },
  });
  if (!res.ok) throw new CliError(`the local cloud answered ${res.status}`, 'AlertsUnavailable');
  const list = (await res.json()) as Alert[];
  if (g.json) printJson(list);
  else if (list.length === 0) out('no alerts');
  else
    process.stdout.write(
      `${table(
        ['time', 'severity', 'subject', 'message'],
        list.map((a) => [a.time, a.attributes?.['severity'], a.subject, a.message]),
      )}\n`,
    );
  return EXIT.ok;
}

/**
 * The token of the cloud `conn` talks to: the state dir's with `--local`; else `CREDFLOW_TOKEN`
 * (which `eval "$(credflow up --detach)"` sets), or the state dir's when its running cloud is the
 * endpoint in use.
 */
export function localToken(g: GlobalOptions, conn: Connection): string {
  const stateDir = path.resolve(g.stateDir);
  const fromEnv = process.env['CREDFLOW_TOKEN'];
  if (!g.local && fromEnv) return fromEnv;
  if (g.local || runningLocalCloud(stateDir)?.endpoint === conn.endpoint) {
    try {
      return readToken(stateDir);
    } catch {
      // no token in that state dir: fall through to the usage error
    }
  }
  throw new CliError(
    'the local cloud wants the token `credflow up` printed: set CREDFLOW_TOKEN, or use --local with its --state-dir',
    'TokenMissing',
    EXIT.usage,
  );
}
