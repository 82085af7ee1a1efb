#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_CONNECTION_LIMIT, MAX_CONNECTION_LIMIT } from '../src/engines/common';
import { MAX_FLEET_CONCURRENCY, MAX_FLEET_CONCURRENCY_REASON } from '../src/lifecycle/fleet';
import { adopt } from './adopt';
import { alerts } from './alerts';
import { history, listExecutions, listSecrets, runCommand, watch } from './commands';
import { openConsole } from './console';
import type { GlobalOptions } from './context';
import { decommission } from './decommission';
import { demo } from './demo';
import { describeFailure, EXIT } from './errors';
import { rotateFleet } from './fleet';
import { addExamples, packageVersion } from './help';
import { createPrincipal } from './iam';
import { deployLocal, down, up } from './local';
import { say } from './output';
import { preflight } from './preflight';
import { status } from './status';
import { createUser } from './users';

// The SDK warns on every run that its 2027 releases need Node 22; the CLI's output is for people
// (the variable is read when the first client is made, after these imports).
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

/** A repeatable option's values, in order. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function int(name: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be ${min}..${max}`);
    return n;
  };
}

/** --max-concurrency: 1..40, with the reason (AWS's inline Map limit) when it is more. */
function maxConcurrencyArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`--max-concurrency must be 1..${MAX_FLEET_CONCURRENCY}`);
  if (n > MAX_FLEET_CONCURRENCY)
    throw new InvalidArgumentError(`--max-concurrency must be ${MAX_FLEET_CONCURRENCY_REASON}`);
  return n;
}

function tagArg(v: string): { key: string; value: string } {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected key=value');
  return { key: v.slice(0, eq), value: v.slice(eq + 1) };
}

const PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'ALL'];
function privileges(v: string): string[] {
  const list = v
    .split(',')
    .map((p) => p.trim().toUpperCase())
    .filter(Boolean);
  for (const p of list)
    if (!PRIVILEGES.includes(p))
      throw new InvalidArgumentError(`unknown privilege ${p}; one of ${PRIVILEGES.join(', ')}`);
  return list;
}

/** Builds the program; exported so tests can inspect it. */
export function program(): Command {
  const p = new Command('credflow')
    .description('RDS / Aurora credential lifecycle on AWS Step Functions, or on the embedded local cloud')
    .option('--local', 'use the local cloud started by `credflow up` (see --state-dir)')
    .option('--state-dir <dir>', 'the local cloud state directory', '.credflow')
    .option('--endpoint-url <url>', 'AWS endpoint (default: AWS_ENDPOINT_URL, else AWS)')
    .option('--profile <name>', 'AWS profile')
    .option('--region <region>', 'AWS region')
    .option('--stage <stage>', 'deployment stage (state machines are credflow-<stage>-<workflow>)')
    .option('--json', 'machine-readable output on stdout')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();
  const g = (): GlobalOptions => p.opts<GlobalOptions>();
  const waitOpts = (c: Command) =>
    c
      .option('--no-wait', 'print the execution ARN and return')
      .option('--name <name>', 'execution name (idempotency key)');
  const run = (o: { wait: boolean; name?: string }) => ({
    wait: o.wait,
    ...(o.name ? { name: o.name } : {}),
  });
  let exit: number = EXIT.ok;
  const set = (n: number) => {
    exit = n;
  };

  p.command('up')
    .description('start the local cloud (serverless.yml deployed, DB servers restarted)')
    .addOption(
      new Option('--port <port>', 'port, 0 for any free one')
        .default(4566)
        .argParser(int('--port', 0, 65535)),
    )
    .option('--detach', 'run in the background')
    .option(
      '--no-quotas',
      "don't enforce AWS's quotas (Secrets Manager request rates, payload and history sizes)",
    )
    .option(
      '--no-iam',
      "don't authorize calls against the stack's IAM policies (every signed call is allowed)",
    )
    .action(async (o: { port: number; detach?: boolean; quotas: boolean; iam: boolean }) =>
      set(
        await up(g(), { port: o.port, quotas: o.quotas, iam: o.iam, ...(o.detach ? { detach: true } : {}) }),
      ),
    );
  p.command('iam')
    .description("the local cloud's IAM principals")
    .command('create-principal <name>')
    .description(
      'make an IAM user with its own policies; prints its keys (the local cloud accepts them at once)',
    )
    .option('--policy <file>', 'an IAM policy document (JSON) to attach inline; repeatable', collect, [])
    .option(
      '--managed <policy>',
      'a managed policy of the stack by logical id (e.g. ProtectCredflowBindingTagsPolicy); repeatable',
      collect,
      [],
    )
    .option('--role', 'make a role (for a state machine or a rule target to name), not a user with keys')
    .option(
      '--trust <service>',
      'a service principal the role trusts (states.amazonaws.com, events.amazonaws.com); repeatable; default both',
      collect,
      [],
    )
    .action(
      async (name: string, o: { policy: string[]; managed: string[]; role?: boolean; trust: string[] }) =>
        set(await createPrincipal(g(), name, o)),
    );
  p.command('down')
    .description('stop the local cloud cleanly')
    .action(async () => set(await down(g())));
  p.command('status')
    .description(
      'what needs attention first (broken, failing, stuck, overdue, unadopted secrets), for the local cloud or the deployed stack',
    )
    .option('--cloud', 'only the local cloud: is it running, what is in it')
    .option('--check-logins', "log in with each credflow secret's AWSCURRENT (reads its value)")
    .option(
      '--stuck-after-minutes <n>',
      "an AWSPENDING older than this is stuck (the reconciler's threshold)",
      int('--stuck-after-minutes', 0, 43_200),
    )
    .action(async (o: { cloud?: boolean; checkLogins?: boolean; stuckAfterMinutes?: number }) =>
      set(await status(g(), o)),
    );
  p.command('console')
    .description('the local web console: secrets, databases, executions as live graphs, alerts')
    .option('--open', 'open it in the default browser too')
    .action(async (o: { open?: boolean }) => set(await openConsole(g(), { open: o.open ?? false })));
  p.command('deploy')
    .description('load serverless.yml into the local cloud (AWS: use `serverless deploy`)')
    .option('--local', 'deploy into the local cloud')
    .action(async () => set(await deployLocal(g())));

  waitOpts(
    p
      .command('provision <identifier>')
      .description('provision-database: an instance or Aurora cluster with an RDS-managed master secret')
      .requiredOption('--engine <engine>', 'postgres, mysql, mariadb, aurora-postgresql, aurora-mysql')
      .option('--db-name <name>', 'initial database', 'appdb')
      .option('--master-username <name>', 'master user', 'dbadmin')
      .option('--instance-class <class>', 'instance class', 'db.t3.micro')
      .option('--kms-key-id <id>', 'KMS key for the master secret')
      .option('--deletion-protection', 'turn on deletion protection')
      .option('--db-subnet-group <name>', "the DB subnet group (the VPC's private subnets)")
      .option(
        '--vpc-security-group-ids <ids>',
        'comma-separated security groups of the database',
        (v: string) =>
          v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
      )
      .option('--publicly-accessible', 'give the database a public address (default: private)')
      .option('--poll-seconds <n>', 'status poll interval', int('--poll-seconds', 1, 300)),
  ).action(async (identifier: string, o: Record<string, unknown> & { wait: boolean; name?: string }) => {
    const input = {
      identifier,
      engine: o['engine'],
      dbName: o['dbName'],
      masterUsername: o['masterUsername'],
      instanceClass: o['instanceClass'],
      ...(o['kmsKeyId'] ? { kmsKeyId: o['kmsKeyId'] } : {}),
      ...(o['deletionProtection'] ? { deletionProtection: true } : {}),
      ...(o['dbSubnetGroup'] ? { dbSubnetGroupName: o['dbSubnetGroup'] } : {}),
      ...(o['vpcSecurityGroupIds'] ? { vpcSecurityGroupIds: o['vpcSecurityGroupIds'] } : {}),
      ...(o['publiclyAccessible'] ? { publiclyAccessible: true } : {}),
      pollSeconds: o['pollSeconds'] ?? (g().local || process.env['AWS_ENDPOINT_URL'] ? 1 : 15),
    };
    set(await runCommand(g(), 'provision-database', input, run(o)));
  });

  waitOpts(
    p
      .command('create-user <db> <username>')
      .description('create-database-user: a least-privilege user and its secret')
      .addOption(
        new Option('--privileges <list>', 'comma-separated: SELECT,INSERT,UPDATE,DELETE,CREATE,ALL')
          .argParser(privileges)
          .default(['SELECT'], 'SELECT'),
      )
      .option('--database <name>', 'database the grants apply to (default: the instance database)')
      .addOption(
        new Option('--strategy <strategy>', 'rotation strategy')
          .choices(['single-user', 'alternating-users', 'admin-single-user'])
          .default('alternating-users'),
      )
      .option('--secret-name <name>', 'secret name (default credflow/<db>/<username>)')
      .option(
        '--connection-limit <n>',
        `connections the user (and its clone) may hold at once (default ${DEFAULT_CONNECTION_LIMIT})`,
        int('--connection-limit', 1, MAX_CONNECTION_LIMIT),
      )
      .option(
        '--rotate-every <days>',
        'turn on scheduled rotation every N days',
        int('--rotate-every', 1, 1000),
      )
      .option('--protected', 'restore the secret if someone deletes it')
      .option(
        '--reconcile',
        "finish a create-user that was cut off: with --name <its execution name>, run over the user whose secret it made (default: refuse, nothing changed); keeps the secret's strategy unless --strategy is given",
      ),
  ).action(
    async (
      db: string,
      username: string,
      o: Record<string, unknown> & { wait: boolean; name?: string; reconcile?: boolean },
      cmd: Command,
    ) => {
      const input = {
        dbIdentifier: db,
        username,
        privileges: o['privileges'] as string[],
        strategy: o['strategy'] as string,
        ...(o['database'] ? { database: o['database'] as string } : {}),
        ...(o['secretName'] ? { secretName: o['secretName'] as string } : {}),
        ...(o['connectionLimit'] ? { connectionLimit: o['connectionLimit'] as number } : {}),
        ...(o['protected'] ? { protected: true } : {}),
        ...(o['rotateEvery'] ? { rotation: { automaticallyAfterDays: o['rotateEvery'] as number } } : {}),
      };
      set(
        await createUser(g(), input, {
          ...run(o),
          ...(o.reconcile ? { reconcile: true } : {}),
          strategyGiven: cmd.getOptionValueSource('strategy') !== 'default',
        }),
      );
    },
  );

  waitOpts(
    p
      .command('rotate-now <secret>')
      .description('rotate-secret now: createSecret, setSecret, testSecret, finishSecret, verify')
      .addOption(
        new Option('--strategy <strategy>', "override the secret's strategy tag").choices([
          'single-user',
          'alternating-users',
          'admin-single-user',
        ]),
      ),
  ).action(async (secret: string, o: { strategy?: string; wait: boolean; name?: string }) => {
    set(
      await runCommand(
        g(),
        'rotate-secret',
        { secretId: secret, ...(o.strategy ? { strategy: o.strategy } : {}) },
        run(o),
        'rotate-now',
      ),
    );
  });

  waitOpts(
    p
      .command('rotate-master <db>')
      .description('rotate-master-password: RDS rotates the managed master password now'),
  ).action(async (db: string, o: { wait: boolean; name?: string }) => {
    const local = g().local || process.env['AWS_ENDPOINT_URL'];
    set(
      await runCommand(
        g(),
        'rotate-master-password',
        { identifier: db, pollSeconds: local ? 1 : 10 },
        run(o),
      ),
    );
  });

  waitOpts(
    p
      .command('verify <secret>')
      .description('verify-credentials: logins, grants, clones as the strategy promises'),
  ).action(async (secret: string, o: { wait: boolean; name?: string }) =>
    set(await runCommand(g(), 'verify-credentials', { secretId: secret }, run(o))),
  );

  p.command('adopt [secret]')
    .description(
      "adopt-secrets: bring secrets AWS's rotation functions (or people) rotate under credflow; --dry-run reports first",
    )
    .option('--prefix <prefix>', 'every secret whose name starts with this')
    .option('--tag <key=value>', 'every secret with this tag', tagArg)
    .option('--dry-run', 'report the database, strategy, rotation, login and blockers; change nothing')
    .option('--undo', 'hand adopted secrets back to the rotation function they had')
    .addOption(
      new Option('--strategy <strategy>', 'for a secret with a masterarn and no _clone').choices([
        'alternating-users',
        'admin-single-user',
      ]),
    )
    .option('--master-secret-arn <arn>', "the database's master secret, when it is not RDS's managed one")
    .option(
      '--schedule <expression>',
      "rotate on this schedule (rate(N days) or cron(...)) instead of the one the secret has, e.g. your fleet's",
    )
    .action(
      async (
        secret: string | undefined,
        o: {
          schedule?: string;
          prefix?: string;
          tag?: { key: string; value: string };
          dryRun?: boolean;
          undo?: boolean;
          strategy?: 'alternating-users' | 'admin-single-user';
          masterSecretArn?: string;
        },
      ) => set(await adopt(g(), secret, o)),
    );

  p.command('preflight <db>')
    .description(
      'check-connectivity: RDS, Secrets Manager, DNS, TCP, TLS and the master login, from where the functions run',
    )
    .option('--host <host>', 'check this endpoint instead of the one RDS describes (a proxy, a DNS alias)')
    .option('--port <port>', 'check this port instead', int('--port', 1, 65535))
    .addOption(new Option('--kind <kind>', 'instance or Aurora cluster').choices(['instance', 'cluster']))
    .action(async (db: string, o: { host?: string; port?: number; kind?: 'instance' | 'cluster' }) =>
      set(await preflight(g(), db, o)),
    );

  waitOpts(
    p
      .command('decommission <db>')
      .description(
        'decommission-database: delete a database (final snapshot unless skipped) and schedule its user secrets for deletion; asks first',
      )
      .option('--final-snapshot <id>', 'name the final snapshot (default: <db>-final-<UTC yyyymmdd-hhmmss>)')
      .option('--skip-final-snapshot', 'delete without a final snapshot')
      .option(
        '--disable-deletion-protection',
        'turn deletion protection off if it is on (otherwise a protected database is refused)',
      )
      .option('--yes', 'do not ask for the identifier to be typed (needed when not on a terminal)')
      .option('--dry-run', 'print what would be deleted (database, snapshot, child secrets) and stop')
      .option(
        '--recovery-window <days>',
        "child secrets' recovery window",
        int('--recovery-window', 7, 30),
        7,
      ),
  ).action(
    async (
      db: string,
      o: {
        finalSnapshot?: string;
        skipFinalSnapshot?: boolean;
        disableDeletionProtection?: boolean;
        yes?: boolean;
        dryRun?: boolean;
        recoveryWindow: number;
        wait: boolean;
        name?: string;
      },
    ) => {
      set(
        await decommission(
          g(),
          db,
          {
            recoveryWindow: o.recoveryWindow,
            ...(o.finalSnapshot ? { finalSnapshot: o.finalSnapshot } : {}),
            ...(o.skipFinalSnapshot ? { skipFinalSnapshot: true } : {}),
            ...(o.disableDeletionProtection ? { disableDeletionProtection: true } : {}),
            ...(o.yes ? { yes: true } : {}),
            ...(o.dryRun ? { dryRun: true } : {}),
          },
          run(o),
        ),
      );
    },
  );

  waitOpts(
    p
      .command('rotate-fleet')
      .description(
        'rotate every due secret with a tag, paced to a Secrets Manager write budget; shows rotated, failed, in flight, remaining and an ETA',
      )
      .option('--tag <key=value>', 'select secrets by tag (default credflow:managed=true)', tagArg)
      .option(
        '--max-concurrency <n>',
        `rotations in flight at most (1..${MAX_FLEET_CONCURRENCY}: an inline Map runs at most ${MAX_FLEET_CONCURRENCY} at once on AWS)`,
        maxConcurrencyArg,
        25,
      )
      .option(
        '--write-budget <n>',
        'Secrets Manager writes/s this run may use (default 25: half the regional quota of 50; 3 writes per rotation)',
        int('--write-budget', 1, 10_000),
      )
      .option('--page-size <n>', 'secrets per page execution (default 100)', int('--page-size', 1, 100))
      .option('--force', 'rotate whether due or not'),
  ).action(
    async (o: {
      tag?: { key: string; value: string };
      maxConcurrency: number;
      writeBudget?: number;
      pageSize?: number;
      force?: boolean;
      wait: boolean;
      name?: string;
    }) => {
      set(
        await rotateFleet(
          g(),
          {
            ...(o.tag ? { tag: o.tag } : {}),
            maxConcurrency: o.maxConcurrency,
            ...(o.writeBudget ? { writeBudget: o.writeBudget } : {}),
            ...(o.pageSize ? { pageSize: o.pageSize } : {}),
            force: o.force ?? false,
          },
          run(o),
        ),
      );
    },
  );

  waitOpts(
    p
      .command('reconcile')
      .description('reconcile-rotations: repair every rotation whose AWSPENDING has waited too long')
      .option(
        '--older-than-minutes <n>',
        'an AWSPENDING older than this is stalled (default: the deployed threshold, 30)',
        int('--older-than-minutes', 0, 43_200),
      ),
  ).action(async (o: { olderThanMinutes?: number; wait: boolean; name?: string }) =>
    set(
      await runCommand(
        g(),
        'reconcile-rotations',
        o.olderThanMinutes === undefined ? {} : { olderThanMinutes: o.olderThanMinutes },
        run(o),
        'reconcile',
      ),
    ),
  );

  p.command('executions')
    .description('recent executions of the credflow workflows, with the secret or database each was for')
    .option('--workflow <name>', 'only this workflow')
    .option('--secret <name-or-arn>', "only this secret's executions (rotations, verifies, repairs)")
    .option('--limit <n>', 'how many', int('--limit', 1, 1000), 20)
    .action(async (o: { workflow?: string; secret?: string; limit: number }) =>
      set(await listExecutions(g(), o)),
    );
  p.command('history <execution>')
    .description('the states of one execution (name or ARN) with durations and errors')
    .action(async (ref: string) => set(await history(g(), ref)));
  p.command('watch <execution>')
    .description(
      'follow an execution (name or ARN) as the command that started it would: its states as they run, then its result',
    )
    .action(async (ref: string) => set(await watch(g(), ref)));
  p.command('secrets')
    .description("credflow's secrets: strategy, last and next rotation, status")
    .action(async () => set(await listSecrets(g())));
  p.command('alerts')
    .description('alerts published by the repair workflows (local cloud)')
    .action(async () => {
      set(await alerts(g()));
    });
  p.command('demo')
    .description('the whole lifecycle on the embedded local cloud with real PostgreSQL and MariaDB')
    .option('--keep', 'leave the local cloud and databases running at the end')
    .option('--no-quotas', "don't enforce AWS's quotas")
    .option('--no-iam', "don't authorize calls against the stack's IAM policies")
    .addOption(
      new Option('--port <port>', 'local cloud port (0: any free one)')
        .default(0)
        .argParser(int('--port', 0, 65535)),
    )
    .action(async (o: { keep?: boolean; port: number; quotas: boolean; iam: boolean }) => {
      set(await demo(g(), { keep: o.keep ?? false, port: o.port, quotas: o.quotas, iam: o.iam }));
    });

  addExamples(p);
  p.hook('postAction', () => {
    process.exitCode = exit;
  });
  return p;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const p = program();
  try {
    await p.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
      return EXIT.ok;
    if (e.code?.startsWith('commander.')) return EXIT.usage;
    const f = describeFailure(err);
    say(`credflow: ${f.line}`);
    return f.exit;
  }
}

if (require.main === module) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      say(`credflow: internal error: ${(err as Error)?.stack ?? String(err)}`);
      process.exit(EXIT.internal);
    },
  );
}
