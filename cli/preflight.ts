import { DescribeDBClustersCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import type { PreflightReport } from '../src/preflight/check';
import { type Connection, connect, type GlobalOptions } from './context';
import { CliError, EXIT } from './errors';
import { bold, dim, green, ms, out, printJson, red, say } from './output';
import { executionHistory, followExecution, startWorkflow } from './run';

export interface PreflightOptions {
  host?: string;
  port?: number;
  kind?: 'instance' | 'cluster';
}

/**
 * What the CLI can learn about the database from where it runs. Passed on as the workflow's
 * input, it lets the network hops run even when the functions' VPC cannot reach the RDS API
 * (the RDS hop still reports that). Best effort: any failure leaves the workflow to find out.
 */
async function describeFromHere(conn: Connection, id: string, kind: PreflightOptions['kind']) {
  try {
    if (kind !== 'cluster') {
      const out = await conn.clients.rds
        .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))
        .catch(() => undefined);
      const db = out?.DBInstances?.[0];
      if (db) {
        return {
          kind: 'instance' as const,
          ...(db.Engine ? { engine: db.Engine } : {}),
          ...(db.Endpoint?.Address ? { host: db.Endpoint.Address } : {}),
          ...(db.Endpoint?.Port ? { port: db.Endpoint.Port } : {}),
          ...(db.MasterUserSecret?.SecretArn ? { masterSecretArn: db.MasterUserSecret.SecretArn } : {}),
        };
      }
    }
    if (kind !== 'instance') {
      const out = await conn.clients.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
      const c = out.DBClusters?.[0];
      if (c) {
        return {
          kind: 'cluster' as const,
          ...(c.Engine ? { engine: c.Engine } : {}),
          ...(c.Endpoint ? { host: c.Endpoint } : {}),
          ...(c.Port ? { port: c.Port } : {}),
          ...(c.MasterUserSecret?.SecretArn ? { masterSecretArn: c.MasterUserSecret.SecretArn } : {}),
        };
      }
    }
  } catch {
    // Not visible from here either: the workflow's RDS hop will say why.
  }
  return {};
}

/** The CheckConnectivity Task's report, from the history (a failed preflight has no output). */
async function reportFromHistory(conn: Connection, arn: string): Promise<PreflightReport | undefined> {
  const events = await executionHistory(conn, arn);
  for (const e of events.reverse()) {
    const d = e.stateExitedEventDetails;
    if (d?.name === 'CheckConnectivity' && d.output) {
      return (JSON.parse(d.output) as { report?: PreflightReport }).report;
    }
  }
  return undefined;
}

function print(report: PreflightReport): void {
  const width = Math.max(...report.hops.map((h) => h.hop.length));
  for (const h of report.hops) {
    const mark = h.status === 'ok' ? green('✓') : h.status === 'failed' ? red('✗') : dim('-');
    const time = h.status === 'skipped' ? '' : ms(h.ms);
    out(`  ${mark} ${h.hop.padEnd(width)} ${dim(time.padStart(7))}  ${h.detail}`);
    if (h.fix) out(`    ${' '.repeat(width)}          fix: ${h.fix}`);
  }
}

/**
 * `preflight <db>`: runs check-connectivity (inside the VPC on AWS) and prints one verdict per
 * hop. Exit 0 when every hop passed, 1 when one failed.
 */
export async function preflight(g: GlobalOptions, id: string, o: PreflightOptions): Promise<number> {
  const conn = connect(g);
  const input = {
    identifier: id,
    ...(await describeFromHere(conn, id, o.kind)),
    ...(o.kind ? { kind: o.kind } : {}),
    ...(o.host ? { host: o.host } : {}),
    ...(o.port ? { port: o.port } : {}),
  };
  const arn = await startWorkflow(conn, 'check-connectivity', input);
  if (!g.json) say(bold(`preflight ${id}: ${dim(arn)}`));
  const r = await followExecution(conn, arn);
  const report =
    r.status === 'SUCCEEDED' ? (r.output as PreflightReport) : await reportFromHistory(conn, arn);
  if (!report) {
    // The Task itself failed (bad input, a Lambda error): no verdicts to show.
    const exit = r.error === 'ValidationError' ? EXIT.usage : EXIT.failed;
    throw new CliError(`check-connectivity ${r.status}: ${r.cause ?? ''}`, r.error ?? r.status, exit);
  }
  if (g.json) printJson(report);
  else {
    print(report);
    out(report.ok ? green(`preflight ${id}: every hop passed`) : red(`preflight ${id}: FAILED`));
  }
  return report.ok ? EXIT.ok : EXIT.failed;
}
