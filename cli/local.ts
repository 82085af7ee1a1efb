import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { ListStateMachinesCommand } from '@aws-sdk/client-sfn';
import { bootLocalCloud, caBundleLine, LOCAL_STAGE } from '../local/boot';
import { loadCatalog } from '../local/catalog';
import { readToken } from '../local/credentials';
import { portHolder, portIsFree, processArgs, processStartTicks, tail } from '../local/dbserver/process';
import { CA_BUNDLE_FILE } from '../local/dbserver/tls';
import { deployCatalog, stackRoles } from '../local/deploy';
import { loadStackIam } from '../local/iam/template';
import { quotasOff, quotasOn } from '../local/quotas';
import { rdsCaDir, stopOrphanServers } from '../local/rds/servers';
import { consoleUrl } from './console';
import {
  cloudAnswers,
  connect,
  ENDPOINT_FILE,
  type EndpointInfo,
  type GlobalOptions,
  notTheCloud,
  recordedLocalCloud,
  runningLocalCloud,
} from './context';
import { CliError, EXIT } from './errors';
import { bold, green, out, printJson, say } from './output';

function exportLines(info: EndpointInfo, stateDir: string): string {
  const c = JSON.parse(readFileSync(path.join(stateDir, 'credentials.json'), 'utf8')) as {
    accessKeyId: string;
    secretAccessKey: string;
  };
  return [
    `export AWS_ENDPOINT_URL=${info.endpoint}`,
    `export AWS_ACCESS_KEY_ID=${c.accessKeyId}`,
    `export AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`,
    `export AWS_REGION=${info.region}`,
    // boto3 and the AWS CLI read AWS_DEFAULT_REGION (and not AWS_REGION, in older releases).
    `export AWS_DEFAULT_REGION=${info.region}`,
    `export CREDFLOW_TOKEN=${readToken(stateDir)}`,
    ...caBundleLine(path.join(rdsCaDir(stateDir), CA_BUNDLE_FILE)),
  ].join('\n');
}

/**
 * Set in the environment of the process `up --detach` starts: its stdout goes to cloud.log, so
 * it must not print the export lines (the secret access key and the token would sit in a log).
 */
const DETACHED_CHILD = 'CREDFLOW_UP_DETACHED_CHILD';

export interface UpOptions {
  port: number;
  detach?: boolean;
  /** false: `--no-quotas` (AWS's quotas are on by default). */
  quotas?: boolean;
  /** false: `--no-iam` (every call is authorized against the stack's IAM by default). */
  iam?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The console's line (stderr, like the other progress; never into cloud.log: it holds the token). */
function sayConsole(endpoint: string, stateDir: string): void {
  say(`console: ${consoleUrl(endpoint, readToken(stateDir))}  (or \`credflow --local console\`)`);
}

/**
 * `credflow up`: the local cloud with serverless.yml deployed into it, and the servers of
 * existing DB instances restarted. Foreground by default (Ctrl-C stops it cleanly);
 * `--detach` leaves it running in the background and returns once it answers.
 */
export async function up(g: GlobalOptions, o: UpOptions): Promise<number> {
  const stateDir = path.resolve(g.stateDir);
  const recorded = recordedLocalCloud(stateDir);
  if (recorded) {
    const gone = notTheCloud(recorded);
    if (gone === undefined && (await cloudAnswers(stateDir, recorded))) {
      say(`the local cloud is already running (pid ${recorded.pid}) at ${recorded.endpoint}`);
      sayConsole(recorded.endpoint, stateDir);
      process.stdout.write(`${exportLines(recorded, stateDir)}\n`);
      return EXIT.ok;
    }
    if (gone === undefined) {
      // Alive and a credflow cloud of this state dir, but its endpoint does not answer it:
      // a second cloud on the same state would fight it over the store and the servers.
      throw new CliError(
        `pid ${recorded.pid} (${(processArgs(recorded.pid) ?? []).join(' ')}) is this state dir's cloud but does not answer at ${recorded.endpoint}; stop it (credflow down, or kill ${recorded.pid}) and run up again`,
        'LocalCloudUnresponsive',
      );
    }
    say(`the last local cloud of this state dir is not running (${gone}): starting a new one`);
    rmSync(path.join(stateDir, ENDPOINT_FILE), { force: true });
  }
  if (o.port !== 0 && !(await portIsFree(o.port))) throw portTaken(o.port);
  mkdirSync(path.dirname(stateDir), { recursive: true });
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  if (o.detach) {
    const logFile = path.join(stateDir, 'cloud.log');
    const log = openSync(logFile, 'a', 0o600);
    chmodSync(logFile, 0o600);
    const script = process.argv[1] ?? '';
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        script,
        'up',
        '--port',
        String(o.port),
        '--state-dir',
        stateDir,
        ...(o.quotas === false ? ['--no-quotas'] : []),
        ...(o.iam === false ? ['--no-iam'] : []),
      ],
      { detached: true, stdio: ['ignore', log, log], env: { ...process.env, [DETACHED_CHILD]: '1' } },
    );
    child.unref();
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const info = runningLocalCloud(stateDir);
      if (info && info.pid === child.pid) {
        say(
          green(`local cloud running (pid ${info.pid}) at ${info.endpoint}; logs in ${stateDir}/cloud.log`),
        );
        sayConsole(info.endpoint, stateDir);
        process.stdout.write(`${exportLines(info, stateDir)}\n`);
        return EXIT.ok;
      }
      if (child.exitCode !== null) break;
      await sleep(100);
    }
    if (o.port !== 0 && child.exitCode !== null && !(await portIsFree(o.port))) throw portTaken(o.port);
    const last = tail(logFile, 1500)
      .split('\n')
      .slice(-5)
      .map((l) => `  ${l}`)
      .join('\n');
    throw new CliError(
      `the local cloud did not start; see ${stateDir}/cloud.log${last ? `, which ends:\n${last}` : ''}`,
      'LocalCloudStartFailed',
    );
  }

  const cloud = await bootLocalCloud({
    stateDir,
    port: o.port,
    quotas: o.quotas === false ? quotasOff() : quotasOn(),
    iam: o.iam !== false,
  });
  // Listening for Ctrl-C / SIGTERM before anything says the cloud is up (the endpoint file, the
  // lines below): a signal sent on reading them finds the clean stop in place.
  const stopped = untilStopSignal();
  const info: EndpointInfo = {
    endpoint: cloud.endpoint,
    pid: process.pid,
    region: cloud.region,
    stage: LOCAL_STAGE,
    startedAt: new Date().toISOString(),
  };
  const pidStart = processStartTicks(process.pid);
  writeFileSync(
    path.join(stateDir, ENDPOINT_FILE),
    JSON.stringify(pidStart === undefined ? info : { ...info, pidStart }),
    { mode: 0o600 },
  );
  say(bold(`credflow local cloud at ${cloud.endpoint} (state in ${stateDir})`));
  say(
    o.quotas === false
      ? "AWS's quotas are off (--no-quotas)"
      : "AWS's quotas are on: Secrets Manager request rates (writes 50/s), 256 KiB payloads, 25,000 history events (--no-quotas turns them off)",
  );
  say(
    cloud.iam.enabled
      ? 'IAM is on: every call is authorized against the roles and policies serverless.yml deploys; the keys below are an administrator (--no-iam turns it off)'
      : 'IAM is off (--no-iam): every signed call is allowed',
  );
  const detachedChild = process.env[DETACHED_CHILD] === '1';
  delete process.env[DETACHED_CHILD];
  say(
    `deployed ${cloud.deployment.stateMachines.length} state machines, ${cloud.deployment.rules.length} rules` +
      (detachedChild ? '' : '; paste these lines (or eval "$(credflow up --detach)"):'),
  );
  if (!detachedChild) {
    sayConsole(info.endpoint, stateDir);
    process.stdout.write(`${exportLines(info, stateDir)}\n`);
  }
  await stopped;
  say('stopping: letting running work finish, then stopping database servers');
  await cloud.stop();
  rmSync(path.join(stateDir, ENDPOINT_FILE), { force: true });
  return EXIT.ok;
}

/** Resolves at the first SIGINT or SIGTERM (installed at once, synchronously). */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** The port `up` was asked for is taken: say by whom, when this user can see it. */
function portTaken(port: number): CliError {
  const holder = portHolder(port);
  const who =
    holder?.pid !== undefined
      ? `by pid ${holder.pid} (${holder.args || 'command line unreadable'})`
      : "by a process this user cannot see (another user's, or in another namespace)";
  return new CliError(
    `port ${port} on 127.0.0.1 is in use ${who}; stop it or choose another port (--port)`,
    'PortInUse',
  );
}

/**
 * `credflow down`: stops the cloud of a state dir (SIGTERM, then waits for it to exit), then every
 * database server of that state dir still running (orphans of a cloud killed with SIGKILL).
 */
export async function down(g: GlobalOptions): Promise<number> {
  const stateDir = path.resolve(g.stateDir);
  const info = runningLocalCloud(stateDir);
  if (!info) say('the local cloud is not running');
  else {
    process.kill(info.pid, 'SIGTERM');
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        process.kill(info.pid, 0);
      } catch {
        break;
      }
      if (Date.now() > deadline)
        throw new CliError(`pid ${info.pid} did not stop within 60 s`, 'LocalCloudStopTimeout');
      await sleep(100);
    }
    rmSync(path.join(stateDir, ENDPOINT_FILE), { force: true });
    say(green(`stopped (pid ${info.pid})`));
  }
  const orphans = await stopOrphanServers(stateDir);
  if (orphans.length > 0) {
    say(
      `stopped ${orphans.length} database server(s) left running by a killed cloud (pid ${orphans.join(', ')})`,
    );
  }
  return EXIT.ok;
}

/** `credflow status --cloud`: is the cloud up, and what is in it. */
export async function cloudStatus(g: GlobalOptions): Promise<number> {
  const stateDir = path.resolve(g.stateDir);
  const info = runningLocalCloud(stateDir);
  if (!info) {
    if (g.json) printJson({ running: false, stateDir });
    else out(`not running (state dir ${stateDir}); start it with \`credflow up\``);
    return EXIT.unreachable;
  }
  const summary = await cloudSummary(g, info, stateDir);
  if (g.json) printJson(summary);
  else {
    out(`running (pid ${info.pid}) at ${info.endpoint}, since ${info.startedAt}`);
    out(
      `${summary.stateMachines} state machines, ${summary.secrets} secrets, ${summary.databases.length} DB instances`,
    );
    for (const d of summary.databases) {
      out(`  ${d.identifier}  ${d.engine}  ${d.status}  ${d.endpoint ?? ''}`);
      if (d.problem) out(`    ${d.problem}`);
    }
  }
  return EXIT.ok;
}

/** What a running local cloud holds: its record, databases, state machines, secrets (first page). */
export async function cloudSummary(g: GlobalOptions, info: EndpointInfo, stateDir: string) {
  const conn = connect({ ...g, local: true });
  const [dbs, sms, secrets] = await Promise.all([
    conn.clients.rds.send(new DescribeDBInstancesCommand({})),
    conn.clients.sfn.send(new ListStateMachinesCommand({})),
    conn.clients.secrets.send(new ListSecretsCommand({ MaxResults: 100 })),
  ]);
  const summary = {
    running: true,
    ...info,
    stateDir,
    databases: (dbs.DBInstances ?? []).map((d) => ({
      identifier: d.DBInstanceIdentifier,
      engine: d.Engine,
      status: d.DBInstanceStatus,
      endpoint: d.Endpoint ? `${d.Endpoint.Address}:${d.Endpoint.Port}` : undefined,
      problem: d.StatusInfos?.find((i) => i.Normal === false)?.Message,
    })),
    stateMachines: (sms.stateMachines ?? []).length,
    secrets: (secrets.SecretList ?? []).length,
  };
  return summary;
}

/** `credflow deploy --local`: (re)loads serverless.yml's definitions into a running cloud. */
export async function deployLocal(g: GlobalOptions): Promise<number> {
  const conn = connect({ ...g, local: true });
  const catalog = loadCatalog(undefined, conn.stage);
  const target = { region: conn.region ?? 'us-east-1', accountId: '000000000000', stage: conn.stage };
  // Each machine and rule target runs as its own role of the stack, as `credflow up` deploys them
  // (Step Functions refuses a role it cannot assume).
  const report = await deployCatalog(
    conn.clients,
    catalog,
    target,
    stackRoles(loadStackIam(catalog.root, target)),
  );
  if (g.json) printJson(report);
  else out(`deployed ${report.stateMachines.length} state machines and ${report.rules.length} rules`);
  return EXIT.ok;
}
