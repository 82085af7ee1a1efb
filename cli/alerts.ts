import type { GlobalOptions } from './context';
import { connect } from './context';
import { CliError, EXIT } from './errors';
import { printJson, say, table } from './output';

export interface Alert {
  topicArn: string;
  subject?: string;
  message: string;
  time: string;
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
  const res = await fetch(`${conn.endpoint}/_credflow/alerts`);
  if (!res.ok) throw new CliError(`the local cloud answered ${res.status}`, 'AlertsUnavailable');
  const list = (await res.json()) as Alert[];
  if (g.json) printJson(list);
  else if (list.length === 0) say('no alerts');
  else
    process.stdout.write(
      `${table(
        ['time', 'subject', 'message'],
        list.map((a) => [a.time, a.subject, a.message]),
      )}\n`,
    );
  return EXIT.ok;
}
