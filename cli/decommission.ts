import { createInterface } from 'node:readline/promises';
import { type DbKind, locateDatabase } from '../src/lifecycle/database';
import { finalSnapshotName } from '../src/lifecycle/decommission';
import { type ChildSecret, childSecrets } from '../src/lifecycle/users';
import { memoryLogger } from '../src/log';
import { type RunOptions, runCommand } from './commands';
import { connect, type GlobalOptions } from './context';
import { CliError, EXIT } from './errors';
import { bold, out, printJson, say } from './output';

export interface DecommissionOptions {
  finalSnapshot?: string;
  skipFinalSnapshot?: boolean;
  disableDeletionProtection?: boolean;
  recoveryWindow: number;
  yes?: boolean;
  dryRun?: boolean;
}

/** What `decommission` will delete: shown by --dry-run and before the typed confirmation. */
export interface DecommissionPlan {
  identifier: string;
  kind: DbKind;
  engine: string;
  deletionProtection: boolean;
  /** The final snapshot's identifier; null: none (--skip-final-snapshot). */
  finalSnapshot: string | null;
  childSecrets: { name: string; arn: string; alreadyScheduledForDeletion: boolean }[];
  recoveryWindowInDays: number;
}

function describePlan(p: DecommissionPlan): string[] {
  return [
    `database:          ${p.identifier} (${p.engine} ${p.kind})${p.deletionProtection ? ', deletion protection ON' : ''}`,
    `final snapshot:    ${p.finalSnapshot ?? 'none (--skip-final-snapshot)'}`,
    `child secrets:     ${p.childSecrets.length === 0 ? 'none' : `${p.childSecrets.length}, scheduled for deletion with a ${p.recoveryWindowInDays}-day recovery window`}`,
    ...p.childSecrets.map(
      (s) => `  ${s.name}${s.alreadyScheduledForDeletion ? ' (already scheduled for deletion)' : ''}`,
    ),
  ];
}

/**
 * The confirmation: the identifier typed back, read as one line from `input` (the terminal),
 * the question on `output`. Anything else is a no: an empty line, the input closing, Ctrl-C.
 */
export async function confirmTyped(
  identifier: string,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<boolean> {
  const rl = createInterface({ input, output });
  // The input ending, and Ctrl-C or Ctrl-D on a terminal, close the interface: a no. (The question
  // itself then rejects with an AbortError on a terminal, and never settles off one.)
  const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
  try {
    const typed = await Promise.race([
      rl.question(`Type the database identifier (${identifier}) to delete it: `),
      closed,
    ]);
    return typed.trim() === identifier;
  } finally {
    rl.close();
  }
}

/**
 * `decommission <db>`: asks before deleting (the identifier typed back on a terminal, else
 * --yes), keeps a final snapshot unless told to skip it, and refuses a protected database unless
 * told to turn the protection off. Every refusal changes nothing and exits 2.
 */
export async function decommission(
  g: GlobalOptions,
  db: string,
  o: DecommissionOptions,
  run: RunOptions,
): Promise<number> {
  if (o.finalSnapshot && o.skipFinalSnapshot) {
    throw new CliError(
      '--final-snapshot and --skip-final-snapshot exclude each other; nothing changed',
      'ValidationError',
      EXIT.usage,
    );
  }
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
  if (!o.dryRun && !o.yes && !interactive) {
    throw new CliError(
      `decommission deletes ${db}: confirm with --yes (no terminal to ask on; see what it deletes with --dry-run); nothing changed`,
      'ConfirmationRequired',
      EXIT.usage,
    );
  }
  const conn = connect(g);
  const deps = { secrets: conn.clients.secrets, rds: conn.clients.rds, logger: memoryLogger() };
  const found = await locateDatabase(deps, db);
  const children: ChildSecret[] = await childSecrets(deps, db, { includeScheduled: true });
  const plan: DecommissionPlan = {
    identifier: db,
    kind: found.kind,
    engine: found.engine,
    deletionProtection: found.deletionProtection,
    finalSnapshot: o.skipFinalSnapshot ? null : (o.finalSnapshot ?? finalSnapshotName(db)),
    childSecrets: children.map((c) => ({
      name: c.name,
      arn: c.arn,
      alreadyScheduledForDeletion: c.scheduledForDeletion,
    })),
    recoveryWindowInDays: o.recoveryWindow,
  };
  if (o.dryRun) {
    if (g.json) printJson({ dryRun: true, ...plan });
    else {
      out(`decommission ${db} would delete (dry run, nothing changed):`);
      for (const l of describePlan(plan)) out(`  ${l}`);
      if (plan.deletionProtection && !o.disableDeletionProtection)
        out('  refused as is: deletion protection is on (--disable-deletion-protection)');
    }
    return EXIT.ok;
  }
  if (plan.deletionProtection && !o.disableDeletionProtection) {
    throw new CliError(
      `${db} has deletion protection on: pass --disable-deletion-protection to delete it anyway; nothing changed`,
      'DeletionProtectionOn',
      EXIT.usage,
    );
  }
  if (!o.yes) {
    say(bold(`decommission ${db} deletes:`));
    for (const l of describePlan(plan)) say(`  ${l}`);
    if (!(await confirmTyped(db))) {
      throw new CliError(
        `the identifier typed was not ${db}; nothing changed`,
        'ConfirmationMismatch',
        EXIT.usage,
      );
    }
  } else if (!g.json) {
    for (const l of describePlan(plan)) say(l);
  }
  const local = conn.mode === 'local';
  const input = {
    identifier: db,
    kind: found.kind,
    recoveryWindowInDays: o.recoveryWindow,
    pollSeconds: local ? 1 : 15,
    ...(plan.finalSnapshot ? { finalSnapshotIdentifier: plan.finalSnapshot } : { skipFinalSnapshot: true }),
    ...(o.disableDeletionProtection ? { disableDeletionProtection: true } : {}),
  };
  return runCommand(g, 'decommission-database', input, run, 'decommission', (output) => {
    const r = output as { finalSnapshot?: string | null; deletedSecrets?: string[] } | null;
    const n = r?.deletedSecrets?.length ?? 0;
    return [
      `deleted ${db}${r?.finalSnapshot ? `; final snapshot ${r.finalSnapshot}` : '; no final snapshot'}`,
      `${n} child secret(s) scheduled for deletion${n ? `: ${r?.deletedSecrets?.join(', ')}` : ''}`,
    ];
  });
}
