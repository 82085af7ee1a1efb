import type { AdoptReport, AdoptRow } from '../src/lifecycle/adopt';
import { connect, type GlobalOptions } from './context';
import { CliError, EXIT } from './errors';
import { bold, dim, out, printJson, say, table } from './output';
import { executionHistory, followExecution, startWorkflow } from './run';

export interface AdoptOptions {
  prefix?: string;
  tag?: { key: string; value: string };
  dryRun?: boolean;
  undo?: boolean;
  strategy?: 'alternating-users' | 'admin-single-user';
  masterSecretArn?: string;
  schedule?: string;
}

interface AdoptOutput {
  reports: AdoptRow[];
  omitted: number;
  counts: Record<string, number>;
}

/** Every AdoptSecret report of the execution, from its history (the output keeps rows only). */
async function fullReports(conn: ReturnType<typeof connect>, arn: string): Promise<AdoptReport[]> {
  const reports: AdoptReport[] = [];
  for (const e of await executionHistory(conn, arn)) {
    const d = e.stateExitedEventDetails;
    if (d?.name === 'AdoptSecret' && d.output) reports.push(JSON.parse(d.output) as AdoptReport);
  }
  return reports;
}

const shortName = (r: AdoptRow) =>
  r.name ?? r.secretArn.replace(/^arn:[^:]*:secretsmanager:[^:]*:[^:]*:secret:/, '');

/**
 * `adopt <secret> | --prefix P | --tag K=V`: runs adopt-secrets and prints one line per secret
 * (secret, database, strategy, login, outcome, blockers); `--json` prints every full report.
 * Exit 0 when no secret was blocked or failed, 1 otherwise.
 */
export async function adopt(g: GlobalOptions, secret: string | undefined, o: AdoptOptions): Promise<number> {
  const chosen = [secret, o.prefix, o.tag].filter((x) => x !== undefined).length;
  if (chosen !== 1)
    throw new CliError('give one secret, or --prefix, or --tag', 'ValidationError', EXIT.usage);
  const conn = connect(g);
  const input = {
    ...(secret ? { secretId: secret } : {}),
    ...(o.prefix ? { prefix: o.prefix } : {}),
    ...(o.tag ? { tag: o.tag } : {}),
    dryRun: o.dryRun === true,
    undo: o.undo === true,
    ...(o.strategy ? { strategy: o.strategy } : {}),
    ...(o.masterSecretArn ? { masterSecretArn: o.masterSecretArn } : {}),
    ...(o.schedule ? { schedule: o.schedule } : {}),
  };
  const arn = await startWorkflow(conn, 'adopt-secrets', input);
  if (!g.json) say(bold(`adopt-secrets${o.dryRun ? ' (dry run)' : o.undo ? ' (undo)' : ''}: ${dim(arn)}`));
  const r = await followExecution(conn, arn);
  if (r.status !== 'SUCCEEDED') {
    const exit = r.error === 'ValidationError' ? EXIT.usage : EXIT.failed;
    throw new CliError(`adopt-secrets ${r.status}: ${r.cause ?? ''}`, r.error ?? r.status, exit);
  }
  const output = r.output as AdoptOutput;
  const blocked = output.reports.some((x) => x.blockers.length > 0 || x.outcome === 'failed');
  if (g.json) {
    printJson({ ...output, executionArn: arn, details: await fullReports(conn, arn) });
  } else {
    out(
      table(
        ['SECRET', 'DATABASE', 'STRATEGY', 'LOGIN', 'OUTCOME', 'BLOCKERS'],
        output.reports.map((x) => [
          shortName(x),
          x.database ?? '-',
          x.strategy ?? '-',
          x.loginOk === undefined ? '-' : x.loginOk ? 'ok' : 'REFUSED',
          x.outcome,
          x.outcome === 'failed' ? `${x.error ?? 'error'}` : x.blockers.map((b) => b.code).join(', ') || '-',
        ]),
      ),
    );
    for (const x of output.reports.filter((y) => y.blockers.length > 0)) {
      for (const b of x.blockers) say(dim(`  ${shortName(x)}: ${b.code}: ${b.detail}`));
    }
    if (output.omitted > 0) say(dim(`  ${output.omitted} more in the execution's history (${arn})`));
    say(
      Object.entries(output.counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ') || 'no secret selected',
    );
  }
  return blocked ? EXIT.failed : EXIT.ok;
}
